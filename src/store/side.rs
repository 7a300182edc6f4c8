//! Side conversations: a ticket's conversation forwarded to another
//! department (R&D, sales, quality). The forward is an internal note on
//! the ticket with an outbox entry to the department's address; their
//! answer threads back into the ticket as an internal note, never seen by
//! the customer and never counted as the customer's.

use rusqlite::{params, OptionalExtension};
use serde::Serialize;

use super::{Store, Tx};
use crate::error::{Error, Result};
use crate::identity;
use crate::model::Direction;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SideConversation {
    pub id: i64,
    pub ticket_id: i64,
    /// The department's address.
    pub to: String,
    pub agent: String,
    pub created_at: i64,
    /// The forward's note.
    pub message_id: i64,
    /// Answers from the department so far.
    pub replies: i64,
}

/// A side conversation as a follow-up continues it.
#[derive(Debug, Clone, PartialEq)]
pub struct SideThread {
    pub side: SideConversation,
    pub subject: String,
    /// The last mail of it: its note, and when it was queued.
    pub last_message: i64,
    pub last_at: i64,
}

impl Tx<'_> {
    /// Queues `body` (the agent's note and the transcript) to `to` as a
    /// side conversation of `ticket`, with the ticket's files. Returns
    /// (side conversation, note message).
    pub fn queue_forward(
        &self,
        ticket: i64,
        to: &str,
        subject: &str,
        body: &str,
        agent: &str,
    ) -> Result<(i64, i64)> {
        let to = identity::normalise_email(to)?;
        let at = self.now();
        let note = self.queue_side_mail(ticket, &to, subject, body, agent, i64::MIN)?;
        self.tx
            .prepare_cached(
                "INSERT INTO side_conversations (ticket_id, to_addr, message_id, agent, created_at)
                 VALUES (?, ?, ?, ?, ?)",
            )?
            .execute(params![ticket, to, note, agent, at])?;
        let side = self.tx.last_insert_rowid();
        self.event(Some(ticket), agent, "forwarded", None, Some(&to))?;
        Ok((side, note))
    }

    /// Queues a follow-up in the side conversation to `to`: same subject,
    /// threaded under the conversation's last mail (outbox claim), with the
    /// customer's files from messages after the message `since`. Returns
    /// the note message.
    pub fn queue_follow_up(
        &self,
        ticket: i64,
        to: &str,
        subject: &str,
        body: &str,
        agent: &str,
        since: i64,
    ) -> Result<i64> {
        let to = identity::normalise_email(to)?;
        let note = self.queue_side_mail(ticket, &to, subject, body, agent, since)?;
        self.event(Some(ticket), agent, "forward-follow-up", None, Some(&to))?;
        Ok(note)
    }

    /// The note that records what left, its files (stored once: only the
    /// rows are new) and its outbox entry under the side conversation's
    /// own subject.
    fn queue_side_mail(
        &self,
        ticket: i64,
        to: &str,
        subject: &str,
        body: &str,
        agent: &str,
        since: i64,
    ) -> Result<i64> {
        let at = self.now();
        let note = self.add_agent_message(ticket, Direction::Note, body, agent, at)?;
        self.tx
            .prepare_cached(
                "INSERT INTO attachments (message_id, filename, content_type, size, sha256)
                 SELECT ?1, a.filename, a.content_type, a.size, a.sha256 FROM attachments a
                 JOIN messages m ON m.id = a.message_id
                 WHERE m.ticket_id = ?2 AND m.direction != 'note' AND m.id > ?3
                 ORDER BY a.id",
            )?
            .execute(params![note, ticket, since])?;
        self.tx
            .prepare_cached(
                "INSERT INTO outbox (message_id, ticket_id, channel, account, recipient, status,
                 next_attempt_at, created_at, updated_at, subject)
                 VALUES (?, ?, 'email', '', ?, 'queued', ?, ?, ?, ?)",
            )?
            .execute(params![note, ticket, to, at, at, at, subject])?;
        Ok(note)
    }

    /// The ticket whose side conversation this mail answers: it threads
    /// into the ticket (by reference or subject tag) and comes from the
    /// address the conversation went to.
    pub fn side_conversation_of(
        &self,
        refs: &[String],
        tagged: Option<i64>,
        from: &str,
    ) -> Result<Option<i64>> {
        let Ok(from) = identity::normalise_email(from) else {
            return Ok(None);
        };
        let mut candidates = Vec::new();
        if let Some(t) = self.ticket_by_message_ids(refs)? {
            candidates.push(t);
        }
        candidates.extend(tagged);
        for t in candidates {
            let known = self
                .tx
                .prepare_cached(
                    "SELECT 1 FROM side_conversations WHERE ticket_id = ? AND to_addr = ? LIMIT 1",
                )?
                .query_row(params![t, from], |_| Ok(()))
                .optional()?
                .is_some();
            if known {
                return Ok(Some(t));
            }
        }
        Ok(None)
    }

    /// A merge takes the other tickets' side conversations along.
    pub(super) fn move_side_conversations(&self, into: i64, from: i64) -> Result<()> {
        self.tx
            .prepare_cached("UPDATE side_conversations SET ticket_id = ? WHERE ticket_id = ?")?
            .execute(params![into, from])?;
        Ok(())
    }
}

impl Store {
    pub fn side_conversations(&self, ticket: i64) -> Result<Vec<SideConversation>> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT s.id, s.ticket_id, s.to_addr, s.agent, s.created_at, s.message_id,
                   (SELECT count(*) FROM messages m WHERE m.ticket_id = s.ticket_id
                      AND m.direction = 'note' AND m.from_addr = s.to_addr AND m.account != 'local')
                 FROM side_conversations s WHERE s.ticket_id = ? ORDER BY s.id",
            )?
            .query_map([ticket], |r| {
                Ok(SideConversation {
                    id: r.get(0)?,
                    ticket_id: r.get(1)?,
                    to: r.get(2)?,
                    agent: r.get(3)?,
                    created_at: r.get(4)?,
                    message_id: r.get(5)?,
                    replies: r.get(6)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?)
    }

    /// The side conversation of `ticket` with `to`, if there is one: its
    /// subject, and the last mail of it (its note, and when it was queued).
    /// Messages after that note are what a follow-up carries: by id, since
    /// a mail's Date header may say any time.
    pub fn side_conversation_with(&self, ticket: i64, to: &str) -> Result<Option<SideThread>> {
        let Some(side) = self
            .side_conversations(ticket)?
            .into_iter()
            .find(|s| s.to == to)
        else {
            return Ok(None);
        };
        let subject: Option<String> = self
            .conn
            .prepare_cached("SELECT subject FROM outbox WHERE message_id = ? LIMIT 1")?
            .query_row([side.message_id], |r| r.get(0))
            .optional()?
            .flatten();
        let last: Option<(i64, i64)> = self
            .conn
            .prepare_cached(
                "SELECT o.message_id, o.created_at FROM outbox o JOIN messages m ON m.id = o.message_id
                 WHERE m.ticket_id = ? AND o.recipient = ? AND o.subject IS NOT NULL
                 ORDER BY o.message_id DESC LIMIT 1",
            )?
            .query_row(params![ticket, to], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        let subject = subject.unwrap_or_else(|| "Fwd: ticket".into());
        let (last_message, last_at) = last.unwrap_or((side.message_id, side.created_at));
        Ok(Some(SideThread {
            side,
            subject,
            last_message,
            last_at,
        }))
    }

    /// Checks an address a forward would go to.
    pub fn check_forward_address(&self, to: &str) -> Result<String> {
        identity::normalise_email(to)
            .map_err(|e| Error::invalid("--to", crate::sanitize::line(to), e.to_string()))
    }
}
