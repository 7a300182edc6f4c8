//! The durable send queue. Rows go `queued → sending → sent | failed`, with
//! retries back to `queued`. A row found in `sending` when a worker starts
//! was interrupted mid-send: it becomes `unknown` (the customer may or may
//! not have it) and is only sent again on purpose.

use rusqlite::{params, OptionalExtension};
use serde::Serialize;

use super::Tx;
use crate::error::{Error, Result};

pub use crate::outbound::{OutboxItem, Verdict};

#[derive(Debug, Clone, Serialize)]
pub struct OutboxRow {
    pub id: i64,
    pub ticket_id: i64,
    pub message_id: i64,
    pub channel: String,
    pub recipient: String,
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub last_error: Option<String>,
    pub updated_at: i64,
    /// SMS: what the gateway reports (queued, sent, delivered, undelivered, failed).
    pub delivery: Option<String>,
    pub delivery_detail: Option<String>,
    /// What the provider called it: the SMTP server's reply, the Twilio
    /// message SID, the spool file or Gammu id.
    pub provider_ref: Option<String>,
    pub account: String,
    /// When the last send began (the window `outbox resolve` searches).
    pub claimed_at: Option<i64>,
}

/// The lease a sender holds while it works; recovery leaves the entries
/// of a sender whose lease is live alone.
pub fn sender_lease(owner: &str) -> String {
    format!("sender:{owner}")
}

/// Seconds a sender's lease lives without a heartbeat.
pub const SENDER_TTL: i64 = 90;

/// Due entries of a channel (see `outbox_due` in the schema).
pub(super) const DUE_SQL: &str = "SELECT id, ticket_id FROM outbox
    WHERE status = 'queued' AND channel = ? AND next_attempt_at <= ?
    ORDER BY next_attempt_at, id LIMIT ?";

impl Tx<'_> {
    /// Due `queued` rows of a channel, oldest due first: candidates only,
    /// nothing is claimed (see [`Tx::claim`]).
    pub fn due_ids(&self, channel: &str, limit: usize) -> Result<Vec<(i64, i64)>> {
        Ok(self
            .tx
            .prepare_cached(DUE_SQL)?
            .query_map(params![channel, self.now(), limit as i64], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?
            .collect::<rusqlite::Result<_>>()?)
    }

    /// Marks one due entry `sending` for `owner`, right before its send
    /// begins, and returns what the send needs; `None` if another sender
    /// took it first or it is no longer queued.
    pub fn claim(&self, id: i64, owner: &str) -> Result<Option<OutboxItem>> {
        let now = self.now();
        let n = self
            .tx
            .prepare_cached(
                "UPDATE outbox SET status = 'sending', attempts = attempts + 1, claim_owner = ?,
               claimed_at = ?, updated_at = ?
             WHERE id = ? AND status = 'queued' AND next_attempt_at <= ?",
            )?
            .execute(params![owner, now, now, id, now])?;
        if n == 0 {
            return Ok(None);
        }
        let (mut item, own_subject) = self.tx.prepare_cached("SELECT o.id, o.message_id, o.ticket_id, o.channel, o.recipient, o.attempts, m.body_text,
               coalesce(o.subject, t.subject), coalesce(m.author, '') LIKE 'rule:%', o.subject IS NOT NULL
             FROM outbox o JOIN messages m ON m.id = o.message_id JOIN tickets t ON t.id = o.ticket_id
             WHERE o.id = ?")?.query_row(
            [id],
            |r| {
                Ok((OutboxItem {
                    id: r.get(0)?,
                    message_id: r.get(1)?,
                    ticket_id: r.get(2)?,
                    channel: r.get(3)?,
                    recipient: r.get(4)?,
                    attempts: r.get(5)?,
                    body: r.get::<_, Option<String>>(6)?.unwrap_or_default(),
                    ticket_subject: r.get(7)?,
                    account: None,
                    parent: None,
                    attachments: Vec::new(),
                    automatic: r.get(8)?,
                    owner: owner.to_string(),
                }, r.get::<_, bool>(9)?))
            },
        )?;
        let parent: Option<(String, Option<String>, String)> = self
            .tx
            .prepare_cached(
                "SELECT account, refs, message_id FROM messages WHERE ticket_id = ? AND direction = 'in'
                 AND message_id IS NOT NULL ORDER BY received_at DESC, id DESC LIMIT 1",
            )?
            .query_row([item.ticket_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()?;
        item.attachments = self.attachment_files(item.message_id)?;
        // A message with a subject of its own (a forward to another
        // department) starts its own thread, or answers in it: under the
        // department's last answer or our last mail to them.
        let split = |refs: Option<String>| -> Vec<String> {
            refs.map(|r| r.split(' ').map(str::to_string).collect())
                .unwrap_or_default()
        };
        if own_subject {
            let side: Option<(Option<String>, String)> = self
                .tx
                .prepare_cached(
                    "SELECT m.refs, m.message_id FROM messages m
                     WHERE m.ticket_id = ?1 AND m.id < ?2 AND m.direction = 'note'
                       AND m.message_id IS NOT NULL
                       AND (m.from_addr = ?3 OR m.id IN (SELECT message_id FROM outbox
                            WHERE recipient = ?3 AND subject IS NOT NULL AND status = 'sent'))
                     ORDER BY m.id DESC LIMIT 1",
                )?
                .query_row(
                    params![item.ticket_id, item.message_id, item.recipient],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            if let Some((refs, mid)) = side {
                item.parent = Some((mid, split(refs)));
            }
        } else if let Some((account, refs, mid)) = parent {
            item.account = Some(account);
            item.parent = Some((mid, split(refs)));
        }
        Ok(Some(item))
    }

    /// Claims up to `limit` due entries at once. Only for tests and tools
    /// that simulate a sender: the worker claims one entry per send.
    pub fn claim_due(&self, channel: &str, limit: usize, owner: &str) -> Result<Vec<OutboxItem>> {
        let mut out = Vec::new();
        for (id, _) in self.due_ids(channel, limit)? {
            out.extend(self.claim(id, owner)?);
        }
        Ok(out)
    }

    /// Takes or renews a sender's lease inside this transaction.
    pub fn sender_heartbeat(&self, owner: &str) -> Result<()> {
        let now = self.now();
        self.tx
            .prepare_cached(
                "INSERT INTO leases (name, holder, pid, host, acquired_at, expires_at)
             VALUES (?, ?, ?, ?, ?, ?)
             ON CONFLICT (name) DO UPDATE SET expires_at = excluded.expires_at",
            )?
            .execute(params![
                sender_lease(owner),
                owner,
                i64::from(std::process::id()),
                super::lease::hostname(),
                now,
                now + SENDER_TTL
            ])?;
        Ok(())
    }

    /// Ends a sender's lease (its entries, if any are left `sending`, are
    /// then recovered as unknown by the next sender).
    pub fn sender_gone(&self, owner: &str) -> Result<()> {
        self.tx
            .prepare_cached("DELETE FROM leases WHERE name = ?")?
            .execute([sender_lease(owner)])?;
        Ok(())
    }

    /// Records the Message-ID an outgoing message is sent with, so the
    /// customer's answer threads back.
    pub fn set_message_id(&self, message: i64, message_id: &str) -> Result<()> {
        self.tx
            .prepare_cached("UPDATE messages SET message_id = ?, mid_key = ? WHERE id = ?")?
            .execute(params![
                message_id,
                super::messages::lookup_key(message_id),
                message
            ])?;
        Ok(())
    }

    /// Records a send the server accepted. If this sender was presumed
    /// gone meanwhile (its entry made `unknown`, or queued again by an
    /// agent), the send still happened: the entry becomes `sent`, so that
    /// nobody sends it a second time, and the ticket says how.
    pub fn mark_sent(&self, item: &OutboxItem, server_reply: &str) -> Result<()> {
        let n = self.tx.prepare_cached("UPDATE outbox SET status = 'sent', last_error = NULL, provider_ref = ?, updated_at = ?,
             account = coalesce(?, account), claim_owner = NULL
             WHERE id = ? AND status = 'sending' AND claim_owner = ?")?.execute(
            params![server_reply, self.now(), item.account, item.id, item.owner],
        )?;
        if n == 0 {
            let was: Option<String> = self
                .tx
                .query_row("SELECT status FROM outbox WHERE id = ?", [item.id], |r| {
                    r.get(0)
                })
                .optional()?;
            if matches!(
                was.as_deref(),
                Some("unknown" | "queued" | "failed" | "cancelled")
            ) {
                self.tx.prepare_cached("UPDATE outbox SET status = 'sent', last_error = NULL, provider_ref = ?, updated_at = ?,
                     account = coalesce(?, account), claim_owner = NULL WHERE id = ?")?.execute(
                    params![server_reply, self.now(), item.account, item.id],
                )?;
            }
            self.event(
                Some(item.ticket_id),
                "outbox",
                "sent-late",
                was.as_deref(),
                Some(&format!(
                    "{}: its sender was presumed gone, but the server accepted it",
                    item.message_id
                )),
            )?;
            return Ok(());
        }
        self.event(
            Some(item.ticket_id),
            "outbox",
            "sent",
            None,
            Some(&item.message_id.to_string()),
        )
    }

    /// Whether this sender still holds the entry (nobody recovered it).
    fn still_ours(&self, item: &OutboxItem) -> Result<bool> {
        Ok(self
            .tx
            .query_row(
                "SELECT status = 'sending' AND claim_owner IS ? FROM outbox WHERE id = ?",
                params![item.owner, item.id],
                |r| r.get(0),
            )
            .optional()?
            .unwrap_or(false))
    }

    /// A transient failure: queued again for `next_at`. Left alone if the
    /// entry is no longer this sender's (it was recovered as unknown).
    pub fn mark_retry(&self, item: &OutboxItem, next_at: i64, error: &str) -> Result<()> {
        if !self.still_ours(item)? {
            return Ok(());
        }
        self.tx.prepare_cached("UPDATE outbox SET status = 'queued', next_attempt_at = ?, last_error = ?, updated_at = ?,
             claim_owner = NULL WHERE id = ?")?.execute(
            params![next_at, error, self.now(), item.id],
        )?;
        Ok(())
    }

    /// A permanent failure, with the server's words on the ticket.
    pub fn mark_failed(&self, item: &OutboxItem, error: &str) -> Result<()> {
        if !self.still_ours(item)? {
            return Ok(());
        }
        self.tx.prepare_cached("UPDATE outbox SET status = 'failed', last_error = ?, updated_at = ?, claim_owner = NULL
             WHERE id = ?")?.execute(
            params![error, self.now(), item.id],
        )?;
        self.event(
            Some(item.ticket_id),
            "outbox",
            "send-failed",
            None,
            Some(error),
        )
    }

    /// The send may or may not have arrived (the connection failed after
    /// the message was handed over): `unknown`, like an interrupted one.
    pub fn mark_unknown(&self, item: &OutboxItem, error: &str) -> Result<()> {
        if !self.still_ours(item)? {
            return Ok(());
        }
        self.tx.prepare_cached("UPDATE outbox SET status = 'unknown', last_error = ?, updated_at = ?, claim_owner = NULL
             WHERE id = ?")?.execute(
            params![
                format!("{error}: check whether it arrived (`echodesk outbox resolve`), then retry or cancel"),
                self.now(),
                item.id
            ],
        )?;
        self.event(
            Some(item.ticket_id),
            "outbox",
            "send-unknown",
            None,
            Some(&item.id.to_string()),
        )
    }

    /// Rows left in `sending` by a sender that is gone (its lease expired
    /// or was never taken): `unknown`, visible on the ticket, never sent
    /// again by themselves. A live sender's entries are left alone.
    pub fn recover_interrupted(&self) -> Result<usize> {
        // A sender on this host whose process is gone (killed, crashed)
        // holds its lease no longer: no need to wait for it to expire.
        let here = super::lease::hostname();
        let leases: Vec<(String, i64, String)> = self
            .tx
            .prepare(
                "SELECT name, pid, host FROM leases WHERE name LIKE 'sender:%' AND expires_at > ?",
            )?
            .query_map([self.now()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<rusqlite::Result<_>>()?;
        for (name, pid, host) in leases {
            if host == here && !super::lease::process_alive(pid) {
                self.tx
                    .prepare_cached("DELETE FROM leases WHERE name = ?")?
                    .execute([&name])?;
            }
        }
        let ids: Vec<(i64, i64)> = self
            .tx
            .prepare(
                "SELECT id, ticket_id FROM outbox o WHERE status = 'sending' AND NOT EXISTS (
                   SELECT 1 FROM leases l WHERE l.name = 'sender:' || o.claim_owner AND l.expires_at > ?)",
            )?
            .query_map([self.now()], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        for (id, ticket) in &ids {
            self.tx.prepare_cached("UPDATE outbox SET status = 'unknown', last_error = 'interrupted while sending: check whether it arrived (`echodesk outbox resolve`), then retry or cancel', updated_at = ? WHERE id = ?")?.execute(
                params![self.now(), id],
            )?;
            self.event(
                Some(*ticket),
                "outbox",
                "send-unknown",
                None,
                Some(&id.to_string()),
            )?;
        }
        // Expired sender leases are of no further use.
        self.tx
            .prepare_cached("DELETE FROM leases WHERE name LIKE 'sender:%' AND expires_at <= ?")?
            .execute([self.now()])?;
        Ok(ids.len())
    }

    /// An entry's state and ticket, or an error naming the missing entry.
    fn entry_status(&self, id: i64) -> Result<(String, i64)> {
        self.tx
            .prepare_cached("SELECT status, ticket_id FROM outbox WHERE id = ?")?
            .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?
            .ok_or_else(|| Error::invalid("outbox entry", id.to_string(), "no such entry"))
    }

    /// Puts a failed, unknown or waiting row back in the queue, due now.
    pub fn retry_outbox(&self, id: i64, agent: &str) -> Result<()> {
        let (status, ticket) = self.entry_status(id)?;
        if status == "sent" || status == "sending" {
            return Err(Error::invalid(
                "outbox entry",
                id.to_string(),
                format!("it is {status}"),
            ));
        }
        self.tx.prepare_cached("UPDATE outbox SET status = 'queued', next_attempt_at = ?, updated_at = ? WHERE id = ?")?.execute(
            params![self.now(), self.now(), id],
        )?;
        self.event(
            Some(ticket),
            agent,
            "outbox-retry",
            Some(&status),
            Some("queued"),
        )
    }
}

impl Tx<'_> {
    /// Withdraws a queued, failed or unknown entry: it will not be sent.
    /// The reply stays in the ticket's history, marked cancelled.
    pub fn cancel_outbox(&self, id: i64, agent: &str) -> Result<()> {
        let (status, ticket) = self.entry_status(id)?;
        if !matches!(status.as_str(), "queued" | "failed" | "unknown") {
            return Err(Error::invalid(
                "outbox entry",
                id.to_string(),
                match status.as_str() {
                    "sending" => "it is being sent right now".to_string(),
                    other => format!("it is {other}"),
                },
            ));
        }
        self.tx.prepare_cached("UPDATE outbox SET status = 'cancelled', claim_owner = NULL, updated_at = ? WHERE id = ?")?.execute(
            params![self.now(), id],
        )?;
        self.event(
            Some(ticket),
            agent,
            "outbox-cancelled",
            Some(&status),
            Some("cancelled"),
        )
    }
}

impl Tx<'_> {
    /// Settles an unknown entry by what the provider's records say, with an
    /// event saying how it was decided. Anything not `unknown` any more is
    /// left alone.
    pub fn resolve_outbox(
        &self,
        id: i64,
        verdict: &Verdict,
        how: &str,
        agent: &str,
    ) -> Result<bool> {
        let ticket: Option<i64> = self
            .tx
            .query_row(
                "SELECT ticket_id FROM outbox WHERE id = ? AND status = 'unknown'",
                [id],
                |r| r.get(0),
            )
            .optional()?;
        let Some(ticket) = ticket else {
            return Ok(false);
        };
        let now = self.now();
        match verdict {
            Verdict::Sent(reference) => {
                self.tx.prepare_cached("UPDATE outbox SET status = 'sent', provider_ref = coalesce(?, provider_ref),
                     last_error = NULL, updated_at = ? WHERE id = ?")?.execute(
                    params![reference, now, id],
                )?;
            }
            Verdict::NotSent => {
                self.tx
                    .prepare_cached(
                        "UPDATE outbox SET status = 'queued', next_attempt_at = ?, updated_at = ?,
                     last_error = ? WHERE id = ?",
                    )?
                    .execute(params![
                        now,
                        now,
                        format!("resolved as not sent: {how}"),
                        id
                    ])?;
            }
            Verdict::Unsure => return Ok(false),
        }
        self.event(
            Some(ticket),
            agent,
            "outbox-resolved",
            Some("unknown"),
            Some(&format!("{id}: {}: {how}", verdict.as_str())),
        )?;
        Ok(true)
    }
}
