//! Ticket commands: list, views, show, state, assign, tag, priority, note.

use std::path::PathBuf;

use clap::Args;
use serde::Serialize;

use super::output;
use super::{read_body, ticket_id, Ctx};
use crate::change::{Applied, Change};
use crate::error::Error;
use crate::model::Direction;
use crate::query;
use crate::sanitize;
use crate::store::PageCursor;

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Query in the search language, e.g. "state:open tag:billing refund"
    #[arg(short, long, default_value = "", allow_hyphen_values = true)]
    pub query: String,
    /// Use a saved view's query (by name, case-insensitive)
    #[arg(long, conflicts_with = "query")]
    pub view: Option<String>,
    /// Tickets per page
    #[arg(short = 'n', long, default_value_t = 50)]
    pub limit: usize,
    /// Continue after this cursor (the `next_cursor` of the previous page)
    #[arg(long)]
    pub after: Option<String>,
    /// Print the ids only, one per line (for pipelines)
    #[arg(long)]
    pub ids: bool,
    /// Every matching ticket, not one page (with --ids or --json, for pipelines)
    #[arg(long, conflicts_with = "after")]
    pub all: bool,
}

#[derive(Serialize)]
struct ListOut<'a> {
    query: &'a str,
    sort: &'static str,
    total: i64,
    #[serde(flatten)]
    page: crate::store::Page,
}

pub fn list(ctx: &Ctx, a: &ListArgs) -> anyhow::Result<()> {
    let store = ctx.open()?;
    let q_text = match &a.view {
        Some(name) => ctx
            .config
            .views
            .iter()
            .find(|v| v.name.eq_ignore_ascii_case(name))
            .map(|v| v.query.clone())
            .ok_or_else(|| {
                let names: Vec<_> = ctx.config.views.iter().map(|v| v.name.as_str()).collect();
                Error::invalid("view", name, format!("known views: {}", names.join(", ")))
            })?,
        None => a.query.clone(),
    };
    let q = query::parse(&q_text)?;
    let sctx = ctx.search_ctx();
    let after: Option<PageCursor> = a.after.as_deref().map(str::parse).transpose()?;
    let mut page = store.search(&q, &sctx, after.as_ref(), a.limit)?;
    if a.all {
        while let Some(next) = page.next_cursor.take() {
            let more = store.search(&q, &sctx, Some(&next), 1000)?;
            page.tickets.extend(more.tickets);
            page.next_cursor = more.next_cursor;
        }
    }
    if a.ids {
        for t in &page.tickets {
            println!("{}", t.id);
        }
        return Ok(());
    }
    let total = store.count(&q, &sctx)?;
    if ctx.json {
        return output::json(&ListOut {
            query: &q_text,
            sort: q.sort.as_str(),
            total,
            page,
        });
    }
    print!("{}", output::ticket_table(&page.tickets, sctx.now));
    let more = match &page.next_cursor {
        Some(c) => format!(" — more with --after {c}"),
        None => String::new(),
    };
    println!("{} of {} tickets{more}", page.tickets.len(), total);
    Ok(())
}

#[derive(Serialize)]
struct ViewOut {
    name: String,
    query: String,
    count: i64,
}

pub fn views(ctx: &Ctx) -> anyhow::Result<()> {
    let store = ctx.open()?;
    let sctx = ctx.search_ctx();
    let mut out = Vec::new();
    for v in &ctx.config.views {
        let count = store.count(&query::parse(&v.query)?, &sctx)?;
        out.push(ViewOut {
            name: v.name.clone(),
            query: v.query.clone(),
            count,
        });
    }
    if ctx.json {
        return output::json(&out);
    }
    for (i, v) in out.iter().enumerate() {
        println!(
            "{:>2}  {}  {:>7}  {}",
            i + 1,
            output::fit(&v.name, 12),
            v.count,
            v.query
        );
    }
    Ok(())
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// Ticket id (12 or #12)
    pub id: String,
}

pub fn show(ctx: &Ctx, a: &ShowArgs) -> anyhow::Result<()> {
    let store = ctx.open()?;
    let t = store.ticket(ticket_id(&a.id)?)?;
    let survey = store.ticket_survey(t.summary.id)?;
    let asset = store
        .ticket_asset(t.summary.id)?
        .map(|a| store.asset(a))
        .transpose()?;
    let ticket_fields = store.fields_of(crate::fields::Entity::Ticket, t.summary.id)?;
    let sides = store.side_conversations(t.summary.id)?;
    let followers = store.followers(t.summary.id)?;
    if ctx.json {
        let mut v = serde_json::to_value(&t)?;
        if let Some(o) = v.as_object_mut() {
            o.insert("side_conversations".into(), serde_json::to_value(&sides)?);
            o.insert("followers".into(), serde_json::to_value(&followers)?);
            o.insert("survey".into(), serde_json::to_value(&survey)?);
            o.insert("asset".into(), serde_json::to_value(&asset)?);
            o.insert("fields".into(), super::records::fields_json(&ticket_fields));
        }
        return output::json(&v);
    }
    let text = crate::transcript::render(&t, crate::store::now());
    output::say(text.trim_end_matches('\n'));
    if let Some(a) = &asset {
        output::say(&format!(
            "\nabout asset {}",
            super::records::asset_line(&store, a)?
        ));
    }
    super::records::print_fields(&ticket_fields);
    if !followers.is_empty() {
        let names: Vec<String> = followers
            .iter()
            .map(|f| crate::sanitize::line(&f.follower))
            .collect();
        output::say(&format!("\nfollowed by {}", names.join(", ")));
    }
    for sc in &sides {
        output::say(&format!(
            "\nforwarded to {} by {} {} · {} answer{} (internal notes)",
            crate::sanitize::line(&sc.to),
            crate::sanitize::line(&sc.agent),
            crate::present::datetime(sc.created_at),
            sc.replies,
            if sc.replies == 1 { "" } else { "s" }
        ));
    }
    if let Some(s) = survey {
        let answer = match (s.rating, &s.comment) {
            (Some(r), Some(c)) => format!("rated {r}: {}", crate::sanitize::line(c)),
            (Some(r), None) => format!("rated {r}"),
            (None, _) => "no answer yet".into(),
        };
        output::say(&format!(
            "\nsurvey sent {} by {} (solved by {}): {answer}",
            crate::present::datetime(s.sent_at),
            s.channel,
            crate::sanitize::line(s.agent.as_deref().unwrap_or("-"))
        ));
    }
    Ok(())
}

/// Splits `ID... LAST` positional arguments.
fn ids_and_last(args: &[String], what: &str) -> anyhow::Result<(Vec<i64>, String)> {
    let Some((last, ids)) = args.split_last() else {
        anyhow::bail!("expected one or more ticket ids followed by {what}");
    };
    if ids.is_empty() {
        anyhow::bail!("expected one or more ticket ids before {what} `{last}`");
    }
    let ids = ids
        .iter()
        .map(|s| ticket_id(s))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((ids, last.clone()))
}

#[derive(Debug, Args)]
pub struct StateArgs {
    /// Ticket ids, then the new state
    #[arg(required = true, num_args = 2.., value_name = "ID... STATE")]
    pub args: Vec<String>,
}

#[derive(Debug, Args)]
pub struct AssignArgs {
    /// Ticket ids, then an agent name, `me` or `none`
    #[arg(required = true, num_args = 2.., value_name = "ID... AGENT")]
    pub args: Vec<String>,
}

#[derive(Debug, Args)]
pub struct PriorityArgs {
    /// Ticket ids, then low, normal, high or urgent
    #[arg(required = true, num_args = 2.., value_name = "ID... PRIORITY")]
    pub args: Vec<String>,
}

#[derive(Debug, Args)]
pub struct TagArgs {
    /// Ticket ids, then +tag to add and -tag to remove (a bare tag adds)
    #[arg(required = true, num_args = 2.., allow_hyphen_values = true, value_name = "ID... +TAG|-TAG")]
    pub args: Vec<String>,
}

fn print_changes(ctx: &Ctx, changes: &[Applied]) -> anyhow::Result<()> {
    if ctx.json {
        return output::json(&serde_json::json!({ "changes": changes }));
    }
    for c in changes {
        let old = sanitize::line(c.old.as_deref().unwrap_or("-"));
        let new = sanitize::line(c.new.as_deref().unwrap_or("-"));
        let what = c.field;
        if c.changed {
            output::say(&format!("#{}: {what} {old} → {new}", c.ticket));
        } else {
            output::say(&format!("#{}: {what} already {new}", c.ticket));
        }
    }
    Ok(())
}

/// Applies one change to every ticket in one transaction.
fn change_all(ctx: &Ctx, ids: &[i64], change: &Change) -> anyhow::Result<Vec<Applied>> {
    let mut store = ctx.open()?;
    let targets: Vec<(i64, Option<i64>)> = ids.iter().map(|id| (*id, None)).collect();
    Ok(crate::change::apply_all(
        &mut store, &targets, change, &ctx.agent,
    )?)
}

pub fn state(ctx: &Ctx, a: &StateArgs) -> anyhow::Result<()> {
    let (ids, to) = ids_and_last(&a.args, "a state")?;
    let changes = change_all(ctx, &ids, &Change::State(to.to_lowercase()))?;
    print_changes(ctx, &changes)
}

pub fn assign(ctx: &Ctx, a: &AssignArgs) -> anyhow::Result<()> {
    let (ids, who) = ids_and_last(&a.args, "an agent")?;
    let changes = change_all(ctx, &ids, &Change::assignee(&who, &ctx.agent))?;
    print_changes(ctx, &changes)
}

pub fn priority(ctx: &Ctx, a: &PriorityArgs) -> anyhow::Result<()> {
    let (ids, p) = ids_and_last(&a.args, "a priority")?;
    let changes = change_all(ctx, &ids, &Change::Priority(p.parse()?))?;
    print_changes(ctx, &changes)
}

#[derive(Serialize)]
struct TagOut {
    ticket: i64,
    tags: Vec<String>,
}

pub fn tag(ctx: &Ctx, a: &TagArgs) -> anyhow::Result<()> {
    let split = a
        .args
        .iter()
        .position(|s| ticket_id(s).is_err())
        .unwrap_or(a.args.len());
    let (ids, ops) = a.args.split_at(split);
    if ids.is_empty() || ops.is_empty() {
        anyhow::bail!("expected ticket ids followed by +tag or -tag");
    }
    let ids = ids
        .iter()
        .map(|s| ticket_id(s))
        .collect::<Result<Vec<_>, _>>()?;
    let change = Change::tags(ops)?;
    let mut store = ctx.open()?;
    let tx = store.transaction()?;
    let mut out = Vec::new();
    for id in ids {
        change.apply(&tx, id, None, &ctx.agent)?;
        let tags = tx.tag(id, &[], &[], &ctx.agent, None)?;
        out.push(TagOut { ticket: id, tags });
    }
    tx.commit()?;
    if ctx.json {
        return output::json(&serde_json::json!({ "tickets": out }));
    }
    for t in out {
        println!(
            "#{}: tags {}",
            t.ticket,
            if t.tags.is_empty() {
                "-".into()
            } else {
                t.tags.join(", ")
            }
        );
    }
    Ok(())
}

#[derive(Debug, Args)]
pub struct NoteArgs {
    /// Ticket id
    pub id: String,
    /// File holding the note's text, or - for standard input
    #[arg(long, value_name = "FILE")]
    pub body_file: PathBuf,
}

pub fn note(ctx: &Ctx, a: &NoteArgs) -> anyhow::Result<()> {
    let id = ticket_id(&a.id)?;
    let body = read_body(&a.body_file)?;
    if body.trim().is_empty() {
        return Err(Error::invalid("note", "", "the note is empty").into());
    }
    let mut store = ctx.open()?;
    let tx = store.transaction()?;
    let msg = tx.add_agent_message(id, Direction::Note, &body, &ctx.agent, crate::store::now())?;
    tx.commit()?;
    if ctx.json {
        return output::json(&serde_json::json!({ "ticket": id, "message": msg }));
    }
    println!("#{id}: note added");
    Ok(())
}

#[derive(Debug, Args)]
pub struct ForwardArgs {
    /// Ticket id
    pub id: String,
    /// The department's address (R&D, sales, quality)
    #[arg(long)]
    pub to: String,
    /// What you ask of them, above the conversation
    #[arg(long)]
    pub note: Option<String>,
}

/// Forwards the ticket's conversation (customer messages and replies, not
/// internal notes, with their files) to another department; their answer
/// threads back as an internal note.
pub fn forward(ctx: &Ctx, a: &ForwardArgs) -> anyhow::Result<()> {
    let id = ticket_id(&a.id)?;
    let mut store = ctx.open()?;
    let f = crate::follow::forward(
        &mut store,
        id,
        &a.to,
        a.note.as_deref(),
        &ctx.agent,
        crate::store::now(),
    )?;
    if ctx.json {
        return output::json(&serde_json::json!({
            "ticket": id, "side_conversation": f.side_conversation, "message": f.message,
            "to": f.to, "follow_up": f.follow_up,
        }));
    }
    let what = if f.follow_up {
        "follow-up to"
    } else {
        "forwarded to"
    };
    output::say(&format!(
        "#{id}: {what} {} (queued; their answer comes back as an internal note)",
        crate::sanitize::line(&f.to)
    ));
    Ok(())
}

#[derive(Debug, Args)]
pub struct FollowArgs {
    /// Ticket id
    pub id: String,
    /// Agents (by name) or email addresses; none: you
    pub who: Vec<String>,
}

pub fn follow(ctx: &Ctx, a: &FollowArgs, on: bool) -> anyhow::Result<()> {
    let id = ticket_id(&a.id)?;
    let who = if a.who.is_empty() {
        vec![ctx.agent.clone()]
    } else {
        a.who.clone()
    };
    let names = who
        .iter()
        .map(|w| crate::store::follower_name(w))
        .collect::<Result<Vec<_>, _>>()?;
    let mut store = ctx.open()?;
    let tx = store.transaction()?;
    let mut changed = Vec::new();
    for w in &names {
        let did = if on {
            tx.follow(id, w, &ctx.agent)?
        } else {
            tx.unfollow(id, w, &ctx.agent)?
        };
        if did {
            changed.push(w.clone());
        }
    }
    tx.commit()?;
    if ctx.json {
        return output::json(&serde_json::json!({
            "ticket": id, "changed": changed, "followers": store.followers(id)?,
        }));
    }
    let verb = if on { "follows" } else { "no longer follows" };
    for w in &names {
        let note = if changed.contains(w) {
            ""
        } else {
            " (already)"
        };
        output::say(&format!("#{id}: {} {verb}{note}", crate::sanitize::line(w)));
    }
    Ok(())
}

#[derive(Debug, clap::Subcommand)]
pub enum FollowersCmd {
    /// Who follows the ticket
    List {
        /// Ticket id
        id: String,
    },
    /// Queue each outside follower's update now (the daemon does this every minute)
    Notify {
        /// Say who would be told what, and queue nothing
        #[arg(long = "dry-run")]
        dry_run: bool,
    },
}

pub fn followers(ctx: &Ctx, cmd: FollowersCmd) -> anyhow::Result<()> {
    let mut store = ctx.open()?;
    match cmd {
        FollowersCmd::List { id } => {
            let id = ticket_id(&id)?;
            store.ticket_summary(id)?;
            let list = store.followers(id)?;
            if ctx.json {
                return output::json(&list);
            }
            for f in &list {
                println!(
                    "{:<32} {}  added by {} {}",
                    crate::sanitize::line(&f.follower),
                    if f.is_address() { "mailed" } else { "agent " },
                    crate::sanitize::line(&f.added_by),
                    crate::present::datetime(f.created_at)
                );
            }
            Ok(())
        }
        FollowersCmd::Notify { dry_run } => {
            let told = crate::follow::notify(&mut store, dry_run, crate::store::now())?;
            if ctx.json {
                return output::json(&serde_json::json!({ "dry_run": dry_run, "told": told }));
            }
            let verb = if dry_run { "would be told" } else { "told" };
            for t in &told {
                println!(
                    "#{} {} {verb}: {} change{}{}",
                    t.ticket,
                    crate::sanitize::line(&t.follower),
                    t.changes,
                    if t.changes == 1 { "" } else { "s" },
                    if t.follow_up {
                        ""
                    } else {
                        " and the conversation so far"
                    }
                );
            }
            if told.is_empty() {
                println!("no follower has anything new");
            }
            Ok(())
        }
    }
}

#[derive(Debug, Args)]
pub struct SnoozeArgs {
    /// Ticket ids, then until when: 4h, 2d, tomorrow, 2026-12-01, 2026-12-01T14:00, or `none` to wake
    #[arg(required = true, num_args = 2.., value_name = "ID... UNTIL")]
    pub args: Vec<String>,
}

pub fn snooze(ctx: &Ctx, a: &SnoozeArgs) -> anyhow::Result<()> {
    let (ids, until) = ids_and_last(&a.args, "a time")?;
    let change = Change::snooze(&until, crate::store::now())?;
    let changes = change_all(ctx, &ids, &change)?;
    print_changes(ctx, &changes)
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The ticket that stays
    pub into: String,
    /// Tickets folded into it (closed and linked to it)
    #[arg(required = true)]
    pub others: Vec<String>,
}

pub fn merge(ctx: &Ctx, a: &MergeArgs) -> anyhow::Result<()> {
    let into = ticket_id(&a.into)?;
    let others = a
        .others
        .iter()
        .map(|s| ticket_id(s))
        .collect::<Result<Vec<_>, _>>()?;
    let mut store = ctx.open()?;
    let moved = crate::change::merge(&mut store, into, &others, &ctx.agent)?;
    if ctx.json {
        return output::json(
            &serde_json::json!({ "into": into, "merged": others, "messages_moved": moved }),
        );
    }
    println!(
        "merged {} into #{into}: {moved} messages moved",
        others.len()
    );
    Ok(())
}
