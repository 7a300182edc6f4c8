//! Followers of a ticket: an agent (by name), who finds the ticket with
//! `follower:me`, or an outside address (sales, a reseller), who is sent
//! the ticket's changes through its side conversation. Each row keeps how
//! far the updates sent reach, as event and message ids.

use rusqlite::{params, OptionalExtension};
use serde::Serialize;

use super::{Store, Tx};
use crate::error::{Error, Result};
use crate::identity;
use crate::model::Event;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Follower {
    /// An agent's name, or an address (lower-case).
    pub follower: String,
    pub added_by: String,
    pub created_at: i64,
}

impl Follower {
    pub fn is_address(&self) -> bool {
        self.follower.contains('@')
    }
}

/// Changes a follower is told about: the ones that move a ticket on.
const TOLD: &str = "('state', 'assignee', 'priority', 'merged', 'merged-into')";

/// An agent's name as written, or an address normalised.
pub fn follower_name(raw: &str) -> Result<String> {
    let raw = raw.trim();
    if raw.contains('@') {
        return identity::normalise_email(raw)
            .map_err(|e| Error::invalid("follower", crate::sanitize::line(raw), e.to_string()));
    }
    if raw.is_empty() || raw.chars().any(char::is_control) {
        return Err(Error::invalid(
            "follower",
            crate::sanitize::line(raw),
            "an agent's name or an email address",
        ));
    }
    Ok(raw.to_string())
}

/// A follower with changes they have not been sent.
#[derive(Debug, Clone, PartialEq)]
pub struct Unsent {
    pub ticket: i64,
    pub follower: String,
    pub seen_event: i64,
}

impl Tx<'_> {
    /// `who` follows `ticket` from now on (earlier changes are not sent).
    /// Returns whether they did not already.
    pub fn follow(&self, ticket: i64, who: &str, agent: &str) -> Result<bool> {
        let who = follower_name(who)?;
        self.ticket_state(ticket)?;
        let n = self
            .tx
            .prepare_cached(
                "INSERT OR IGNORE INTO followers
                   (ticket_id, follower, added_by, created_at, seen_event, seen_message)
                 VALUES (?1, ?2, ?3, ?4, (SELECT coalesce(max(id), 0) FROM events),
                   (SELECT coalesce(max(id), 0) FROM messages WHERE ticket_id = ?1))",
            )?
            .execute(params![ticket, who, agent, self.now()])?;
        if n > 0 {
            self.event(Some(ticket), agent, "follower", None, Some(&who))?;
        }
        Ok(n > 0)
    }

    pub fn unfollow(&self, ticket: i64, who: &str, agent: &str) -> Result<bool> {
        let who = follower_name(who)?;
        let n = self
            .tx
            .prepare_cached(
                "DELETE FROM followers WHERE ticket_id = ? AND follower = ? COLLATE NOCASE",
            )?
            .execute(params![ticket, who])?;
        if n > 0 {
            self.event(Some(ticket), agent, "follower", Some(&who), None)?;
        }
        Ok(n > 0)
    }

    /// The follower has been sent (or, an agent, has seen) everything on
    /// the ticket up to now. Writes nothing when that is so already, so
    /// an agent's screen that reloads does not wake the others'.
    pub fn mark_follower_told(&self, ticket: i64, who: &str) -> Result<()> {
        self.tx
            .prepare_cached(
                "WITH now(e, m) AS (SELECT (SELECT coalesce(max(id), 0) FROM events),
                   (SELECT coalesce(max(id), 0) FROM messages WHERE ticket_id = ?1))
                 UPDATE followers SET seen_event = (SELECT e FROM now),
                   seen_message = (SELECT m FROM now)
                 WHERE ticket_id = ?1 AND follower = ?2
                   AND (seen_event != (SELECT e FROM now) OR seen_message != (SELECT m FROM now))",
            )?
            .execute(params![ticket, who])?;
        Ok(())
    }

    /// A merge takes the other ticket's followers along.
    pub(super) fn move_followers(&self, into: i64, from: i64) -> Result<()> {
        self.tx
            .prepare_cached(
                "INSERT OR IGNORE INTO followers
                   (ticket_id, follower, added_by, created_at, seen_event, seen_message)
                 SELECT ?1, follower, added_by, created_at, seen_event, seen_message
                 FROM followers WHERE ticket_id = ?2",
            )?
            .execute(params![into, from])?;
        self.tx
            .prepare_cached("DELETE FROM followers WHERE ticket_id = ?")?
            .execute([from])?;
        Ok(())
    }
}

impl Store {
    pub fn followers(&self, ticket: i64) -> Result<Vec<Follower>> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT follower, added_by, created_at FROM followers WHERE ticket_id = ?
                 ORDER BY created_at, follower",
            )?
            .query_map([ticket], |r| {
                Ok(Follower {
                    follower: r.get(0)?,
                    added_by: r.get(1)?,
                    created_at: r.get(2)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?)
    }

    /// Outside followers with something new on their ticket: a message
    /// (not an internal note, not their own) or a change that moves it on
    /// made by someone else.
    pub fn followers_to_tell(&self) -> Result<Vec<Unsent>> {
        Ok(self
            .conn
            .prepare_cached(&format!(
                "SELECT f.ticket_id, f.follower, f.seen_event FROM followers f
                 WHERE f.follower LIKE '%@%' AND (
                   EXISTS (SELECT 1 FROM messages m WHERE m.ticket_id = f.ticket_id
                     AND m.id > f.seen_message AND m.direction != 'note' AND m.from_addr != f.follower)
                   OR EXISTS (SELECT 1 FROM events e WHERE e.ticket_id = f.ticket_id
                     AND e.id > f.seen_event AND e.kind IN {TOLD} AND e.agent != f.follower))
                 ORDER BY f.ticket_id, f.follower"
            ))?
            .query_map([], |r| {
                Ok(Unsent {
                    ticket: r.get(0)?,
                    follower: r.get(1)?,
                    seen_event: r.get(2)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?)
    }

    /// Tickets `agent` follows with something new since they last opened
    /// them: a message or note by someone else, or a change that moves
    /// the ticket on made by someone else.
    pub fn followed_news(&self, agent: &str) -> Result<Vec<i64>> {
        Ok(self
            .conn
            .prepare_cached(&format!(
                "SELECT f.ticket_id FROM followers f WHERE f.follower = ?1 AND (
                   EXISTS (SELECT 1 FROM messages m WHERE m.ticket_id = f.ticket_id
                     AND m.id > f.seen_message AND coalesce(m.author, '') != ?1)
                   OR EXISTS (SELECT 1 FROM events e WHERE e.ticket_id = f.ticket_id
                     AND e.id > f.seen_event AND e.kind IN {TOLD} AND e.agent != ?1))
                 ORDER BY f.ticket_id"
            ))?
            .query_map([agent], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?)
    }

    /// The changes after `seen_event` a follower is told about.
    pub fn changes_to_tell(&self, u: &Unsent) -> Result<Vec<Event>> {
        Ok(self
            .events(u.ticket)?
            .into_iter()
            .filter(|e| e.id > u.seen_event && e.agent != u.follower)
            .filter(|e| TOLD.contains(&format!("'{}'", e.kind)))
            .collect())
    }
}

impl Tx<'_> {
    /// Whether `who` follows `ticket`.
    pub fn follows(&self, ticket: i64, who: &str) -> Result<bool> {
        Ok(self
            .tx
            .prepare_cached(
                "SELECT 1 FROM followers WHERE ticket_id = ? AND follower = ? COLLATE NOCASE",
            )?
            .query_row(params![ticket, who], |_| Ok(()))
            .optional()?
            .is_some())
    }
}
