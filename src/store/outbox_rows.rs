//! The outbox as people and the sender read it: rows, their events and
//! bodies, and texts whose delivery report is still open.

use rusqlite::{params, OptionalExtension};

use super::{OutboxRow, Store, Tx};
use crate::error::Result;

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

    /// The account of the customer's latest message with a Message-ID:
    /// the one an email reply threads to and leaves through.
    pub fn reply_parent_account(&self, ticket: i64) -> Result<Option<String>> {
        Ok(self
            .tx
            .prepare_cached(
                "SELECT account FROM messages WHERE ticket_id = ? AND direction = 'in'
                 AND message_id IS NOT NULL ORDER BY received_at DESC, id DESC LIMIT 1",
            )?
            .query_row([ticket], |r| r.get(0))
            .optional()?)
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

/// Sent texts whose delivery is open (`outbox_awaiting` in the schema
/// holds exactly these rows).
pub(super) const AWAITING_SQL: &str =
    "SELECT id, ticket_id, account, provider_ref, delivery FROM outbox
    WHERE channel = 'sms' AND status = 'sent' AND provider_ref IS NOT NULL
    AND coalesce(delivery, '') NOT IN ('delivered', 'undelivered', 'failed', 'read')
    ORDER BY id LIMIT ?";

impl Store {
    /// Sent SMS entries whose delivery is still open, oldest first.
    pub fn awaiting_delivery(&self, limit: usize) -> Result<Vec<AwaitingDelivery>> {
        let rows = self
            .conn
            .prepare_cached(AWAITING_SQL)?
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

    /// The events of an entry's ticket about sending (for `outbox show`).
    pub fn outbox_events(&self, row: &OutboxRow) -> Result<Vec<crate::model::Event>> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT id, ticket_id, at, agent, kind, old, new, rule FROM events
                 WHERE ticket_id = ? AND kind IN ('sent', 'sent-late', 'send-failed', 'send-unknown',
                   'outbox-retry', 'outbox-cancelled', 'outbox-resolved', 'delivery-failed')
                 ORDER BY id",
            )?
            .query_map([row.ticket_id], |r| {
                Ok(crate::model::Event {
                    id: r.get(0)?,
                    ticket_id: r.get(1)?,
                    at: r.get(2)?,
                    agent: r.get(3)?,
                    kind: r.get(4)?,
                    old: r.get(5)?,
                    new: r.get(6)?,
                    rule: r.get(7)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?)
    }

    /// A message's text.
    pub fn message_body(&self, message: i64) -> Result<Option<String>> {
        Ok(self
            .conn
            .prepare_cached("SELECT body_text FROM messages WHERE id = ?")?
            .query_row([message], |r| r.get(0))
            .optional()?
            .flatten())
    }

    /// The Message-ID an outgoing message was (or was to be) sent with.
    pub fn sent_message_id(&self, message: i64) -> Result<Option<String>> {
        Ok(self
            .conn
            .prepare_cached("SELECT message_id FROM messages WHERE id = ?")?
            .query_row([message], |r| r.get(0))
            .optional()?
            .flatten())
    }

    /// Entries whose send was interrupted and is not resolved yet.
    pub fn outbox_unknown(&self) -> Result<u64> {
        Ok(self.conn.query_row(
            "SELECT count(*) FROM outbox WHERE status = 'unknown'",
            [],
            |r| r.get::<_, i64>(0),
        )? as u64)
    }

    pub fn outbox_rows(&self, all: bool) -> Result<Vec<OutboxRow>> {
        let filter = if all { "" } else { "WHERE status != 'sent'" };
        let sql = format!("{OUTBOX_COLUMNS} {filter} ORDER BY id");
        let rows = self
            .conn
            .prepare(&sql)?
            .query_map([], outbox_row)?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    /// One entry, whatever its state.
    pub fn outbox_row(&self, id: i64) -> Result<Option<OutboxRow>> {
        Ok(self
            .conn
            .prepare_cached(&format!("{OUTBOX_COLUMNS} WHERE id = ?"))?
            .query_row([id], outbox_row)
            .optional()?)
    }

    /// The entries of one ticket, oldest first.
    pub fn ticket_outbox(&self, ticket: i64) -> Result<Vec<OutboxRow>> {
        Ok(self
            .conn
            .prepare_cached(&format!("{OUTBOX_COLUMNS} WHERE ticket_id = ? ORDER BY id"))?
            .query_map([ticket], outbox_row)?
            .collect::<rusqlite::Result<_>>()?)
    }
}

pub(super) const OUTBOX_COLUMNS: &str = "SELECT id, ticket_id, message_id, channel, recipient, status, attempts,
    next_attempt_at, last_error, updated_at, delivery, delivery_detail, provider_ref, account, claimed_at
    FROM outbox";

pub(super) fn outbox_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<OutboxRow> {
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
        provider_ref: r.get(12)?,
        account: r.get(13)?,
        claimed_at: r.get(14)?,
    })
}
