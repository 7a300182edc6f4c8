//! Who else hears about a ticket: another department it was forwarded to
//! (a side conversation, continued in the same thread by a follow-up),
//! and followers — agents and outside addresses that get its changes.

use crate::error::Result;
use crate::store::Store;

/// What a forward queued.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Forwarded {
    pub side_conversation: i64,
    pub message: i64,
    pub to: String,
    /// The ticket had a side conversation with `to` already: this mail
    /// continues it (what is new since the last one, same thread).
    pub follow_up: bool,
}

/// Forwards `ticket` to `to`: the whole conversation the first time, and
/// afterwards a follow-up with what came since, so the department reads
/// one thread.
pub fn forward(
    store: &mut Store,
    ticket: i64,
    to: &str,
    note: Option<&str>,
    agent: &str,
    now: i64,
) -> Result<Forwarded> {
    forward_as(store, ticket, to, note, agent, now, |_| Ok(()))
}

fn forward_with(
    store: &mut Store,
    ticket: i64,
    to: &str,
    note: Option<&str>,
    now: i64,
    also: impl FnOnce(&crate::store::Tx<'_>) -> Result<()>,
) -> Result<Forwarded> {
    forward_as(store, ticket, to, note, FOLLOW_AUTHOR, now, also)
}

/// The forward, and `also` in the same transaction.
fn forward_as(
    store: &mut Store,
    ticket: i64,
    to: &str,
    note: Option<&str>,
    agent: &str,
    now: i64,
    also: impl FnOnce(&crate::store::Tx<'_>) -> Result<()>,
) -> Result<Forwarded> {
    let to = store.check_forward_address(to)?;
    let t = store.ticket(ticket)?;
    let earlier = store.side_conversation_with(ticket, &to)?;
    let tx = store.transaction()?;
    let (side, message, follow_up) = match earlier {
        None => {
            let (subject, body) = crate::transcript::forward(&t, note, agent, now);
            let (side, message) = tx.queue_forward(ticket, &to, &subject, &body, agent)?;
            (side, message, false)
        }
        Some(th) => {
            let since = (th.last_message, th.last_at);
            let body = crate::transcript::follow_up(&t, since, note, agent, now);
            let message =
                tx.queue_follow_up(ticket, &to, &th.subject, &body, agent, th.last_message)?;
            (th.side.id, message, true)
        }
    };
    also(&tx)?;
    tx.commit()?;
    Ok(Forwarded {
        side_conversation: side,
        message,
        to,
        follow_up,
    })
}

/// One update sent to an outside follower.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Told {
    pub ticket: i64,
    pub follower: String,
    pub changes: usize,
    pub message: i64,
    pub follow_up: bool,
}

/// The author of the updates followers are sent.
pub const FOLLOW_AUTHOR: &str = "echodesk";

/// Sends every outside follower what changed on their ticket since their
/// last update: the changes (who moved it where), then the new messages,
/// in the ticket's side conversation with them — the first one carries
/// the conversation so far, later ones continue the thread, and their
/// answers come back as internal notes. Each follower's update and its
/// mark are one transaction, so a crash sends nothing twice.
pub fn notify(store: &mut Store, dry_run: bool, now: i64) -> Result<Vec<Told>> {
    let mut told = Vec::new();
    for u in store.followers_to_tell()? {
        let changes = store.changes_to_tell(&u)?;
        let mut text = format!(
            "You follow ticket #{} (reply to this mail to write to the team).",
            u.ticket
        );
        if !changes.is_empty() {
            text.push_str("\n\nChanges:");
            for e in &changes {
                text.push_str(&format!("\n  {}", change_line(e)));
            }
        }
        if dry_run {
            told.push(Told {
                ticket: u.ticket,
                follower: u.follower.clone(),
                changes: changes.len(),
                message: 0,
                follow_up: store
                    .side_conversation_with(u.ticket, &u.follower)?
                    .is_some(),
            });
            continue;
        }
        let f = forward_with(store, u.ticket, &u.follower, Some(&text), now, |tx| {
            tx.mark_follower_told(u.ticket, &u.follower)
        })?;
        told.push(Told {
            ticket: u.ticket,
            follower: u.follower,
            changes: changes.len(),
            message: f.message,
            follow_up: f.follow_up,
        });
    }
    Ok(told)
}

/// `2026-12-02 10:14 alice: state new → pending`.
fn change_line(e: &crate::model::Event) -> String {
    let what = match (&e.old, &e.new) {
        (Some(o), Some(n)) => format!("{} {o} → {n}", e.kind),
        (None, Some(n)) => format!("{} {n}", e.kind),
        (Some(o), None) => format!("{} {o} → none", e.kind),
        (None, None) => e.kind.clone(),
    };
    crate::sanitize::line(&format!(
        "{} {}: {what}",
        crate::present::datetime(e.at),
        e.rule.as_deref().map_or(e.agent.as_str(), |r| r)
    ))
}
