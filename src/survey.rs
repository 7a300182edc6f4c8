//! Sending satisfaction surveys: which solved tickets are due one (after
//! `[survey] delay`, at most one per customer per `once_per`, never to a
//! number or address that opted out), the text on the ticket's channel —
//! `mailto:` links carrying a one-time token by email, "Reply 1-5" by SMS
//! — queued on the ticket's thread for the outbox. Answers are read by
//! ingest (`csat` and `store::surveys`).

use std::collections::HashSet;
use std::io::Read as _;

use serde::Serialize;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::model::{Channel, IdentityKind};
use crate::store::{Candidate, NewSurvey, SearchContext, Store, Tx};

/// How long after `delay` a solved ticket may still get its survey (a
/// daemon that was down catches up; turning surveys on does not survey
/// the whole history).
pub const GRACE: i64 = 3 * 86_400;

/// One ticket looked at.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Outcome {
    pub ticket: i64,
    pub customer: i64,
    pub channel: Channel,
    /// `queued` (or `due` in a dry run), or `skipped`.
    pub status: &'static str,
    /// Why it was skipped.
    pub reason: Option<String>,
    pub agent: Option<String>,
    pub survey: Option<i64>,
}

/// A one-time token: 16 random bytes as hex.
fn token() -> String {
    let mut b = [0u8; 16];
    let random = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut b));
    if random.is_err() {
        // No /dev/urandom: time and process, hashed; still unguessable
        // enough for a survey link, and unique.
        let seed = format!("{:?}{}", std::time::SystemTime::now(), std::process::id());
        return crate::digest::sha256_hex(seed.as_bytes())[..32].to_string();
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// RFC 6068 wants `mailto:` fields percent-encoded (a `+` is not a space).
fn percent(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The address answers go to: the account the customer wrote to.
fn answer_address<'c>(tx: &Tx<'_>, config: &'c Config, ticket: i64) -> Result<Option<&'c str>> {
    let wrote_to = tx.inbound_account(ticket)?;
    let acct = config
        .accounts
        .iter()
        .find(|a| Some(&a.name) == wrote_to.as_ref())
        .or_else(|| config.accounts.iter().find(|a| a.smtp.is_some()));
    Ok(acct.map(|a| a.address.as_str()))
}

/// The survey's text for this ticket and channel.
pub fn text(
    config: &Config,
    c: &Candidate,
    channel: Channel,
    token: &str,
    reply_to: Option<&str>,
) -> String {
    let s = &config.survey;
    let label = |r: u8| {
        s.labels
            .get(usize::from(r) - 1)
            .cloned()
            .unwrap_or_default()
    };
    let choices = match channel {
        Channel::Sms => format!("1-{}", s.scale),
        _ => (1..=s.scale)
            .rev()
            .map(|r| {
                let link = reply_to
                    .map(|a| {
                        format!(
                            "  <mailto:{a}?subject={}>",
                            percent(&format!("{r} [csat:{token}]"))
                        )
                    })
                    .unwrap_or_default();
                format!("  {r}  {}{link}", label(r))
            })
            .collect::<Vec<_>>()
            .join("\n"),
    };
    let first_name = c
        .customer_name
        .split_whitespace()
        .next()
        .filter(|n| !n.starts_with('+') && !n.contains('@'))
        .unwrap_or("")
        .to_string();
    let template = match channel {
        Channel::Sms => &s.sms_text,
        _ => &s.email_text,
    };
    let customer = if first_name.is_empty() {
        "there".to_string()
    } else {
        first_name
    };
    template
        .replace("{customer}", &crate::sanitize::line(&customer))
        .replace("{ticket}", &c.ticket.to_string())
        .replace("{subject}", &crate::sanitize::line(&c.subject))
        .replace("{question}", &s.question)
        .replace("{scale}", &s.scale.to_string())
        .replace("{choices}", &choices)
}

/// Queues (or with `dry_run`, lists) the surveys due at `ctx.now`.
pub fn send_due(
    store: &mut Store,
    config: &Config,
    ctx: &SearchContext,
    dry_run: bool,
) -> Result<Vec<Outcome>> {
    let s = &config.survey;
    if !s.enabled {
        return Err(Error::Other(
            "surveys are off: set `enabled = true` under [survey] (docs/surveys.md)".into(),
        ));
    }
    let dur = |v: &str| crate::query::parse_duration(v).map_err(|e| Error::Other(e.to_string()));
    let (delay, window, once_per) = (dur(&s.delay)?, dur(&s.window)?, dur(&s.once_per)?);
    let to = ctx.now - delay;
    let mut due = store.survey_candidates(to - GRACE, to)?;
    due.retain(|c| s.channels.contains(&c.channel));
    if !s.query.trim().is_empty() {
        let q = crate::query::parse(&s.query).map_err(|e| Error::Other(e.to_string()))?;
        let wanted: HashSet<i64> = store
            .search_ids(&q, ctx, usize::MAX >> 1)?
            .into_iter()
            .collect();
        due.retain(|c| wanted.contains(&c.ticket));
    }
    let mut out = Vec::new();
    let mut surveyed: HashSet<i64> = HashSet::new();
    let tx = store.transaction()?;
    for c in &due {
        let mut o = Outcome {
            ticket: c.ticket,
            customer: c.customer,
            channel: c.channel,
            status: "skipped",
            reason: None,
            agent: None,
            survey: None,
        };
        let why = if surveyed.contains(&c.customer)
            || tx.surveyed_since(c.customer, ctx.now - once_per)?
        {
            Some(format!("the customer had a survey within {}", s.once_per))
        } else {
            match tx.reply_recipient(c.ticket, Some(c.channel)) {
                Err(e) => Some(e.to_string()),
                Ok((ch, to)) => {
                    let kind = match ch {
                        Channel::Email => IdentityKind::Email,
                        _ => IdentityKind::Phone,
                    };
                    tx.is_opted_out(kind, &to)?
                        .then(|| format!("{to} opted out of surveys and notices"))
                }
            }
        };
        if let Some(why) = why {
            o.reason = Some(why);
            out.push(o);
            continue;
        }
        o.agent = tx.solver(c.ticket)?;
        surveyed.insert(c.customer);
        if dry_run {
            o.status = "due";
            out.push(o);
            continue;
        }
        let token = token();
        let reply_to = answer_address(&tx, config, c.ticket)?;
        let body = text(config, c, c.channel, &token, reply_to);
        let id = tx.attempt(|tx| {
            tx.queue_survey(&NewSurvey {
                ticket: c.ticket,
                customer: c.customer,
                channel: c.channel,
                body: &body,
                token: &token,
                agent: o.agent.as_deref(),
                expires_at: tx.now() + window,
            })
        });
        match id {
            Ok(id) => {
                o.status = "queued";
                o.survey = Some(id);
            }
            Err(e) => o.reason = Some(e.to_string()),
        }
        out.push(o);
    }
    if dry_run {
        drop(tx);
    } else {
        tx.commit()?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mailto_fields_are_percent_encoded() {
        assert_eq!(percent("5 [csat:ab12]"), "5%20%5Bcsat%3Aab12%5D");
        assert_eq!(percent("满意"), "%E6%BB%A1%E6%84%8F");
    }

    #[test]
    fn tokens_are_long_and_differ() {
        let (a, b) = (token(), token());
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
        assert!(crate::csat::token_in(&format!("[csat:{a}]")).is_some());
    }

    #[test]
    fn the_texts_carry_links_or_the_range() {
        let config = Config::default();
        let c = Candidate {
            ticket: 12,
            customer: 3,
            channel: Channel::Email,
            subject: "Broken kettle".into(),
            customer_name: "Carol Customer".into(),
        };
        let mail = text(
            &config,
            &c,
            Channel::Email,
            "0123456789abcdef",
            Some("support@example.test"),
        );
        assert!(mail.starts_with("Hello Carol,"), "{mail}");
        assert!(mail.contains("ticket #12"), "{mail}");
        assert!(
            mail.contains("5  very satisfied  <mailto:support@example.test?subject=5%20%5Bcsat%3A0123456789abcdef%5D>"),
            "{mail}"
        );
        let sms = text(&config, &c, Channel::Sms, "t", None);
        assert!(sms.contains("Reply 1-5"), "{sms}");
        assert!(sms.contains("STOP"), "{sms}");
    }
}
