//! The durable send queue. Rows go `queued → sending → sent | failed`, with
//! retries back to `queued`. A row found in `sending` when a worker starts
//! was interrupted mid-send: it becomes `unknown` (the customer may or may
//! not have it) and is only sent again on purpose.

use rusqlite::{params, OptionalExtension};
use serde::Serialize;

use super::{Store, Tx};
use crate::error::{Error, Result};

/// Everything a sender needs for one queued message.
#[derive(Debug, Clone)]
pub struct OutboxItem {
    pub id: i64,
    pub message_id: i64,
    pub ticket_id: i64,
    pub channel: String,
    pub recipient: String,
    pub attempts: i64,
    pub body: String,
    pub ticket_subject: String,
    /// The account the customer last wrote to, if any.
    pub account: Option<String>,
    /// Message-ID, References of the customer's latest message.
    pub parent: Option<(String, Vec<String>)>,
    /// (file name, content type, bytes) to send with the text.
    pub attachments: Vec<(String, String, Vec<u8>)>,
    /// Written by an automation rule: sent as `Auto-Submitted: auto-replied`.
    pub automatic: bool,
}

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
}

impl Tx<'_> {
    /// Due `queued` rows of a channel, marked `sending` in this transaction.
    pub fn claim_due(&self, channel: &str, limit: usize) -> Result<Vec<OutboxItem>> {
        let now = self.now();
        let ids: Vec<i64> = self
            .tx
            .prepare_cached(
                "SELECT id FROM outbox WHERE status = 'queued' AND channel = ? AND next_attempt_at <= ?
                 ORDER BY next_attempt_at, id LIMIT ?",
            )?
            .query_map(params![channel, now, limit as i64], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        let mut items = Vec::new();
        for id in ids {
            self.tx.execute(
                "UPDATE outbox SET status = 'sending', attempts = attempts + 1, updated_at = ? WHERE id = ?",
                params![now, id],
            )?;
            let item = self.tx.query_row(
                "SELECT o.id, o.message_id, o.ticket_id, o.channel, o.recipient, o.attempts, m.body_text, t.subject,
                   coalesce(m.author, '') LIKE 'rule:%'
                 FROM outbox o JOIN messages m ON m.id = o.message_id JOIN tickets t ON t.id = o.ticket_id
                 WHERE o.id = ?",
                [id],
                |r| {
                    Ok(OutboxItem {
                        id: r.get(0)?,
                        message_id: r.get(1)?,
                        ticket_id: r.get(2)?,
                        channel: r.get(3)?,
                        recipient: r.get(4)?,
                        attempts: r.get(5)?,
                        body: r.get(6)?,
                        ticket_subject: r.get(7)?,
                        account: None,
                        parent: None,
                        attachments: Vec::new(),
                        automatic: r.get(8)?,
                    })
                },
            )?;
            let parent: Option<(String, Option<String>, String)> = self
                .tx
                .query_row(
                    "SELECT account, refs, message_id FROM messages WHERE ticket_id = ? AND direction = 'in'
                     AND message_id IS NOT NULL ORDER BY received_at DESC, id DESC LIMIT 1",
                    [item.ticket_id],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?;
            let mut item = item;
            item.attachments = self.attachment_files(item.message_id)?;
            if let Some((account, refs, mid)) = parent {
                item.account = Some(account);
                let refs = refs
                    .map(|r| r.split(' ').map(str::to_string).collect())
                    .unwrap_or_default();
                item.parent = Some((mid, refs));
            }
            items.push(item);
        }
        Ok(items)
    }

    /// Records the Message-ID an outgoing message is sent with, so the
    /// customer's answer threads back.
    pub fn set_message_id(&self, message: i64, message_id: &str) -> Result<()> {
        self.tx.execute(
            "UPDATE messages SET message_id = ?, mid_key = ? WHERE id = ?",
            params![message_id, super::messages::lookup_key(message_id), message],
        )?;
        Ok(())
    }

    pub fn mark_sent(&self, item: &OutboxItem, server_reply: &str) -> Result<()> {
        self.tx.execute(
            "UPDATE outbox SET status = 'sent', last_error = NULL, provider_ref = ?, updated_at = ?,
             account = coalesce(?, account) WHERE id = ?",
            params![server_reply, self.now(), item.account, item.id],
        )?;
        self.event(
            Some(item.ticket_id),
            "outbox",
            "sent",
            None,
            Some(&item.message_id.to_string()),
        )
    }

    pub fn mark_retry(&self, item: &OutboxItem, next_at: i64, error: &str) -> Result<()> {
        self.tx.execute(
            "UPDATE outbox SET status = 'queued', next_attempt_at = ?, last_error = ?, updated_at = ? WHERE id = ?",
            params![next_at, error, self.now(), item.id],
        )?;
        Ok(())
    }

    pub fn mark_failed(&self, item: &OutboxItem, error: &str) -> Result<()> {
        self.tx.execute(
            "UPDATE outbox SET status = 'failed', last_error = ?, updated_at = ? WHERE id = ?",
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

    /// Rows left in `sending` by a worker that died: `unknown`, visible on
    /// the ticket, never sent again by themselves.
    pub fn recover_interrupted(&self) -> Result<usize> {
        let ids: Vec<(i64, i64)> = self
            .tx
            .prepare("SELECT id, ticket_id FROM outbox WHERE status = 'sending'")?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        for (id, ticket) in &ids {
            self.tx.execute(
                "UPDATE outbox SET status = 'unknown', last_error = 'interrupted while sending: check whether it arrived, then retry or cancel', updated_at = ? WHERE id = ?",
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
        Ok(ids.len())
    }

    /// Puts a failed, unknown or waiting row back in the queue, due now.
    pub fn retry_outbox(&self, id: i64, agent: &str) -> Result<()> {
        let row: Option<(String, i64)> = self
            .tx
            .query_row(
                "SELECT status, ticket_id FROM outbox WHERE id = ?",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let (status, ticket) =
            row.ok_or_else(|| Error::invalid("outbox entry", id.to_string(), "no such entry"))?;
        if status == "sent" || status == "sending" {
            return Err(Error::invalid(
                "outbox entry",
                id.to_string(),
                format!("it is {status}"),
            ));
        }
        self.tx.execute(
            "UPDATE outbox SET status = 'queued', next_attempt_at = ?, updated_at = ? WHERE id = ?",
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

/// A sent SMS whose delivery is not final yet.
#[derive(Debug, Clone)]
pub struct AwaitingDelivery {
    pub outbox_id: i64,
    pub ticket_id: i64,
    pub account: String,
    pub provider_ref: String,
    pub delivery: Option<String>,
}

impl Tx<'_> {
    /// Records the gateway's delivery state; a failure also goes on the
    /// ticket as an event.
    pub fn set_delivery(&self, outbox_id: i64, delivery: &str, detail: Option<&str>) -> Result<()> {
        let (ticket, old): (i64, Option<String>) = self.tx.query_row(
            "SELECT ticket_id, delivery FROM outbox WHERE id = ?",
            [outbox_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        if old.as_deref() == Some(delivery) {
            return Ok(());
        }
        self.tx.execute(
            "UPDATE outbox SET delivery = ?, delivery_detail = ?, updated_at = ? WHERE id = ?",
            params![delivery, detail, self.now(), outbox_id],
        )?;
        if matches!(delivery, "failed" | "undelivered") {
            self.event(
                Some(ticket),
                "gateway",
                "delivery-failed",
                old.as_deref(),
                Some(&format!("{delivery}: {}", detail.unwrap_or(""))),
            )?;
        }
        Ok(())
    }

    /// The SMS account the customer last wrote to on this ticket.
    pub fn inbound_account(&self, ticket: i64) -> Result<Option<String>> {
        Ok(self
            .tx
            .prepare_cached(
                "SELECT account FROM messages WHERE ticket_id = ? AND direction = 'in'
                 ORDER BY received_at DESC, id DESC LIMIT 1",
            )?
            .query_row([ticket], |r| r.get(0))
            .optional()?)
    }
}

impl Store {
    /// Sent SMS entries whose delivery is still open, oldest first.
    pub fn awaiting_delivery(&self, limit: usize) -> Result<Vec<AwaitingDelivery>> {
        let rows = self
            .conn
            .prepare_cached(
                "SELECT id, ticket_id, account, provider_ref, delivery FROM outbox
                 WHERE channel = 'sms' AND status = 'sent' AND provider_ref IS NOT NULL
                 AND coalesce(delivery, '') NOT IN ('delivered', 'undelivered', 'failed', 'read')
                 ORDER BY id LIMIT ?",
            )?
            .query_map([limit as i64], |r| {
                Ok(AwaitingDelivery {
                    outbox_id: r.get(0)?,
                    ticket_id: r.get(1)?,
                    account: r.get(2)?,
                    provider_ref: r.get(3)?,
                    delivery: r.get(4)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    pub fn outbox_rows(&self, all: bool) -> Result<Vec<OutboxRow>> {
        let sql = if all {
            "SELECT id, ticket_id, message_id, channel, recipient, status, attempts, next_attempt_at, last_error, updated_at, delivery, delivery_detail FROM outbox ORDER BY id"
        } else {
            "SELECT id, ticket_id, message_id, channel, recipient, status, attempts, next_attempt_at, last_error, updated_at, delivery, delivery_detail FROM outbox WHERE status != 'sent' ORDER BY id"
        };
        let rows = self
            .conn
            .prepare(sql)?
            .query_map([], |r| {
                Ok(OutboxRow {
                    id: r.get(0)?,
                    ticket_id: r.get(1)?,
                    message_id: r.get(2)?,
                    channel: r.get(3)?,
                    recipient: r.get(4)?,
                    status: r.get(5)?,
                    attempts: r.get(6)?,
                    next_attempt_at: r.get(7)?,
                    last_error: r.get(8)?,
                    updated_at: r.get(9)?,
                    delivery: r.get(10)?,
                    delivery_detail: r.get(11)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }
}
