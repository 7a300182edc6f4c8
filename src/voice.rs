//! The customer's voice for the team meeting and for other departments:
//! a digest of what customers wrote about in a period, against the period
//! before it — counts by tag and channel, the fastest-growing topics, a
//! few of the customers' own words each — as text, JSON, a TUI screen or
//! team mail (by hand, or on a `[[digest]]` schedule the daemon runs).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::model::{Channel, Direction};
use crate::query::{Filter, Query, Term, When};
use crate::store::{SearchContext, Store, TeamMail, Tx};

/// What a digest is over.
#[derive(Debug, Clone)]
pub struct Request {
    /// The query text (shown) and the query.
    pub query: (String, Query),
    /// The period: `[from, to)` in Unix seconds; the previous one is as
    /// long and ends where this starts.
    pub from: i64,
    pub to: i64,
    /// Verbatim examples per growing topic.
    pub examples: usize,
    /// Growing topics shown.
    pub topics: usize,
}

impl Request {
    /// `--last 1w` (any duration of the query language) ending `now`.
    pub fn last(query: &str, last: &str, now: i64) -> Result<Request> {
        let q = crate::query::parse(query).map_err(|e| Error::Other(e.to_string()))?;
        let secs =
            crate::query::parse_duration(last).map_err(|e| Error::invalid("--last", last, e))?;
        if secs <= 0 {
            return Err(Error::invalid(
                "--last",
                last,
                "a period such as 1d, 1w or 30d",
            ));
        }
        Ok(Request {
            query: (query.to_string(), q),
            from: now - secs,
            to: now,
            examples: 3,
            topics: 5,
        })
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Row {
    pub name: String,
    pub now: i64,
    pub before: i64,
    /// now − before.
    pub change: i64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Example {
    pub ticket: i64,
    pub at: i64,
    pub channel: Channel,
    pub customer: String,
    /// The start of the customer's first message, as they wrote it.
    pub text: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Topic {
    pub tag: String,
    pub now: i64,
    pub before: i64,
    pub examples: Vec<Example>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Digest {
    pub query: String,
    pub from: i64,
    pub to: i64,
    pub previous_from: i64,
    pub tickets: Row,
    pub by_tag: Vec<Row>,
    pub by_channel: Vec<Row>,
    /// Tags with more tickets than before, most added first.
    pub growing: Vec<Topic>,
}

/// The query with `created-after:from created-before:to` added.
fn within(q: &Query, from: i64, to: i64) -> Query {
    let mut q = q.clone();
    q.terms.push(Term {
        negated: false,
        filter: Filter::CreatedAfter(When::At(from)),
    });
    q.terms.push(Term {
        negated: false,
        filter: Filter::CreatedBefore(When::At(to)),
    });
    q
}

/// Which tags a digest counts: those the query's positive `tag:` terms
/// name (a `*` ends a prefix), or every tag when it names none.
fn counted(q: &Query) -> impl Fn(&str) -> bool + '_ {
    let wanted: Vec<&str> = q
        .terms
        .iter()
        .filter(|t| !t.negated)
        .filter_map(|t| match &t.filter {
            Filter::Tag(tag) => Some(tag.as_str()),
            _ => None,
        })
        .collect();
    move |tag: &str| {
        wanted.is_empty()
            || wanted.iter().any(|w| match w.strip_suffix('*') {
                Some(prefix) => tag.starts_with(prefix),
                None => tag == *w,
            })
    }
}

pub fn build(store: &Store, req: &Request, ctx: &SearchContext) -> Result<Digest> {
    let q = &req.query.1;
    let span = req.to - req.from;
    // The period includes its last second: a ticket opened "now" counts.
    let now_ids = store.search_ids(&within(q, req.from, req.to + 1), ctx, usize::MAX >> 1)?;
    let before_ids =
        store.search_ids(&within(q, req.from - span, req.from), ctx, usize::MAX >> 1)?;
    let keep = counted(q);
    let mut tags: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    let mut channels: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    // Newest first, per tag: the examples' candidates.
    let mut recent: BTreeMap<String, Vec<(i64, i64)>> = BTreeMap::new();
    for (ids, now) in [(&now_ids, true), (&before_ids, false)] {
        for &id in ids {
            let t = store.ticket_summary(id)?;
            let bump = |m: &mut BTreeMap<String, (i64, i64)>, k: &str| {
                let e = m.entry(k.to_string()).or_default();
                if now {
                    e.0 += 1
                } else {
                    e.1 += 1
                }
            };
            bump(&mut channels, crate::present::channel_label(t.channel));
            for tag in t.tags.iter().filter(|t| keep(t)) {
                bump(&mut tags, tag);
                if now {
                    recent
                        .entry(tag.clone())
                        .or_default()
                        .push((t.created_at, id));
                }
            }
        }
    }
    let rows = |m: BTreeMap<String, (i64, i64)>| -> Vec<Row> {
        let mut v: Vec<Row> = m
            .into_iter()
            .map(|(name, (now, before))| Row {
                name,
                now,
                before,
                change: now - before,
            })
            .collect();
        v.sort_by(|a, b| b.now.cmp(&a.now).then(a.name.cmp(&b.name)));
        v
    };
    let by_tag = rows(tags);
    let mut growing: Vec<&Row> = by_tag.iter().filter(|r| r.change > 0).collect();
    growing.sort_by(|a, b| {
        b.change
            .cmp(&a.change)
            .then(b.now.cmp(&a.now))
            .then(a.name.cmp(&b.name))
    });
    let mut topics = Vec::new();
    for r in growing.into_iter().take(req.topics) {
        let mut c = recent.remove(&r.name).unwrap_or_default();
        c.sort_by(|a, b| b.cmp(a));
        let mut examples = Vec::new();
        for (_, id) in c.into_iter().take(req.examples) {
            if let Some(e) = example(store, id)? {
                examples.push(e);
            }
        }
        topics.push(Topic {
            tag: r.name.clone(),
            now: r.now,
            before: r.before,
            examples,
        });
    }
    let (n, b) = (now_ids.len() as i64, before_ids.len() as i64);
    Ok(Digest {
        query: req.query.0.clone(),
        from: req.from,
        to: req.to,
        previous_from: req.from - span,
        tickets: Row {
            name: "tickets".into(),
            now: n,
            before: b,
            change: n - b,
        },
        by_tag,
        by_channel: rows(channels),
        growing: topics,
    })
}

/// Characters of a customer's words an example keeps.
const EXAMPLE_CHARS: usize = 240;

fn example(store: &Store, ticket: i64) -> Result<Option<Example>> {
    let t = store.ticket_summary(ticket)?;
    let first = store
        .messages(ticket)?
        .into_iter()
        .find(|m| m.direction == Direction::In);
    let Some(m) = first else { return Ok(None) };
    // The customer's own words: the lines they wrote, not a quote.
    let words: Vec<&str> = m
        .body_text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('>'))
        .collect();
    let joined = words.join(" ");
    let mut text: String = joined.chars().take(EXAMPLE_CHARS).collect();
    if joined.chars().count() > EXAMPLE_CHARS {
        text.push('…');
    }
    Ok(Some(Example {
        ticket,
        at: m.received_at,
        channel: m.channel,
        customer: t.customer_name,
        text,
    }))
}

/// The digest as plain text: the terminal, mail and the TUI screen.
pub fn render(d: &Digest) -> String {
    use std::fmt::Write;
    let line = crate::sanitize::line;
    let date = |t: i64| crate::present::datetime(t);
    let mut out = String::new();
    let q = if d.query.trim().is_empty() {
        "every ticket".to_string()
    } else {
        line(&d.query)
    };
    let _ = writeln!(
        out,
        "Digest: {q}\n{} – {}, against {} – {}\n",
        date(d.from),
        date(d.to),
        date(d.previous_from),
        date(d.from)
    );
    let sign = |n: i64| {
        if n > 0 {
            format!("+{n}")
        } else {
            n.to_string()
        }
    };
    let _ = writeln!(
        out,
        "Tickets: {} (before: {}, {})\n",
        d.tickets.now,
        d.tickets.before,
        sign(d.tickets.change)
    );
    for (title, rows) in [("By tag", &d.by_tag), ("By channel", &d.by_channel)] {
        if rows.is_empty() {
            continue;
        }
        let _ = writeln!(
            out,
            "{title:<32} {:>6} {:>7} {:>7}",
            "now", "before", "change"
        );
        for r in rows {
            let _ = writeln!(
                out,
                "{} {:>6} {:>7} {:>7}",
                crate::present::fit(&r.name, 32),
                r.now,
                r.before,
                sign(r.change)
            );
        }
        out.push('\n');
    }
    if d.growing.is_empty() {
        let _ = writeln!(out, "No topic grew against the period before.");
    } else {
        let _ = writeln!(out, "Growing fastest");
    }
    for t in &d.growing {
        let _ = writeln!(
            out,
            "\n{}: {} ticket{} (before: {}, {})",
            line(&t.tag),
            t.now,
            if t.now == 1 { "" } else { "s" },
            t.before,
            sign(t.now - t.before)
        );
        for e in &t.examples {
            let _ = writeln!(
                out,
                "  #{} {} {} {}: \u{201c}{}\u{201d}",
                e.ticket,
                date(e.at),
                crate::present::channel_label(e.channel),
                line(&e.customer),
                line(&e.text)
            );
        }
    }
    out
}

/// Queues the digest to each address as team mail (all or none).
pub fn queue(tx: &Tx<'_>, d: &Digest, to: &[String], agent: &str) -> Result<Vec<i64>> {
    let subject = format!(
        "echodesk digest: {} ({} – {})",
        if d.query.trim().is_empty() {
            "every ticket".to_string()
        } else {
            crate::sanitize::line(&d.query)
        },
        crate::present::datetime(d.from),
        crate::present::datetime(d.to)
    );
    let body = render(d);
    let tags = vec!["digest".to_string()];
    to.iter()
        .map(|address| {
            tx.queue_team_mail(
                &TeamMail {
                    to: address,
                    subject: &subject,
                    body: &body,
                    attachments: &[],
                    tags: &tags,
                },
                agent,
            )
            .map(|q| q.ticket)
        })
        .collect()
}

/// The cursor each `[[digest]]`'s last mailed slot is kept under.
const CURSOR: &str = "digest";

#[derive(Debug, Clone, Serialize)]
pub struct Mailed {
    pub digest: String,
    pub slot: String,
    pub to: Vec<String>,
    pub tickets: Vec<i64>,
}

/// Mails every `[[digest]]` whose latest slot has come and was not
/// mailed; each slot once, recorded with the mail in one transaction.
pub fn run_due(
    store: &mut Store,
    config: &Config,
    ctx: &SearchContext,
    agent: &str,
) -> (Vec<Mailed>, Vec<(String, Error)>) {
    let mut done = Vec::new();
    let mut errors = Vec::new();
    for d in &config.digests {
        match run_one(store, config, ctx, agent, d) {
            Ok(Some(m)) => done.push(m),
            Ok(None) => {}
            Err(e) => errors.push((d.name.clone(), e)),
        }
    }
    (done, errors)
}

fn run_one(
    store: &mut Store,
    config: &Config,
    ctx: &SearchContext,
    agent: &str,
    d: &crate::schedule::DigestMail,
) -> Result<Option<Mailed>> {
    let when = d.when().map_err(Error::Other)?;
    let starts = config.report_settings().map_err(Error::Other)?.2;
    let zone = store.settings().zone;
    let Some((due, slot)) = when.last(zone, starts, ctx.now) else {
        return Ok(None);
    };
    let tickets = store.once_per_slot(
        (CURSOR, &d.name),
        &slot,
        |store| {
            // The period ends at the slot, not whenever the daemon got to it.
            let mut req = Request::last(&d.query, &d.last, due)?;
            req.examples = d.examples;
            build(store, &req, ctx)
        },
        |tx, digest| queue(tx, &digest, &d.to, agent),
    )?;
    Ok(tickets.map(|tickets| Mailed {
        digest: d.name.clone(),
        slot,
        to: d.to.clone(),
        tickets,
    }))
}
