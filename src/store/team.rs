//! What several agents on one database need from each other: who is
//! looking at or replying to which ticket, the agents there are, and the
//! health of the outbox.

use rusqlite::params;

use super::{now, Settings, Store, Tx};
use crate::error::{Error, Result};
use crate::model::{Channel, Direction, IdentityKind};

/// Presence older than this is stale (the agent closed their terminal).
pub const PRESENCE_TTL: i64 = 30;

/// The cursor scope where the outbox notes how sending through an
/// account last went (`Store::record_poll`'s shape).
pub const SEND_STATUS: &str = "send-status";

/// What waits in the outbox and what is wrong with sending, for `status`
/// and the TUI's status bar.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct OutboxHealth {
    /// Queued or being sent.
    pub queued: i64,
    pub failed: i64,
    /// Interrupted or lost after hand-over: it may have arrived.
    pub unknown: i64,
    /// Accounts whose last send attempt failed to reach the server, with
    /// the error.
    pub troubles: Vec<(String, String)>,
}

impl Store {
    /// Notes a poll of `account`/`scope` for `echodesk status`: how many
    /// messages it fetched, or the error that stopped it. Bookkeeping: a
    /// failure to record is not a reason to fail the poll.
    pub fn record_poll(
        &mut self,
        account: &str,
        scope: &str,
        outcome: std::result::Result<u64, &str>,
    ) {
        let Ok(tx) = self.transaction() else { return };
        let mut st: serde_json::Value = tx
            .cursor(account, scope)
            .ok()
            .flatten()
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or_else(|| serde_json::json!({ "fetched_total": 0 }));
        st["last_poll"] = now().into();
        match outcome {
            Ok(fetched) => {
                st["fetched_total"] = (st["fetched_total"].as_u64().unwrap_or(0) + fetched).into();
                st["last_error"] = serde_json::Value::Null;
                st["last_success"] = now().into();
            }
            Err(e) => st["last_error"] = e.into(),
        }
        let _ = tx.set_cursor(account, scope, &st.to_string());
        let _ = tx.commit();
    }

    /// Records what this agent is doing; the TUI calls it on every tick.
    pub fn touch_presence(&self, agent: &str, ticket: Option<i64>, activity: &str) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO presence (agent, ticket_id, activity, heartbeat_at) VALUES (?, ?, ?, ?)
                 ON CONFLICT (agent) DO UPDATE SET ticket_id = excluded.ticket_id,
                 activity = excluded.activity, heartbeat_at = excluded.heartbeat_at",
            )?
            .execute(params![agent, ticket, activity, now()])?;
        Ok(())
    }

    /// Other agents active on a ticket: (agent, activity).
    pub fn presence(&self, ticket: i64, me: &str) -> Result<Vec<(String, String)>> {
        let rows = self
            .conn
            .prepare_cached(
                "SELECT agent, activity FROM presence WHERE ticket_id = ? AND agent != ?
                 AND heartbeat_at >= ? ORDER BY agent",
            )?
            .query_map(params![ticket, me, now() - PRESENCE_TTL], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    /// Every name tickets are assigned to.
    pub fn agents(&self) -> Result<Vec<String>> {
        let rows = self
            .conn
            .prepare_cached("SELECT DISTINCT assignee FROM tickets WHERE assignee IS NOT NULL ORDER BY assignee")?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    /// (waiting to be sent, failed or unknown) outbox entries.
    pub fn outbox_health(&self) -> Result<OutboxHealth> {
        let (queued, failed, unknown) = self.conn.query_row(
            "SELECT (SELECT count(*) FROM outbox WHERE status = 'queued')
                    + (SELECT count(*) FROM outbox WHERE status = 'sending'),
                    (SELECT count(*) FROM outbox WHERE status = 'failed'),
                    (SELECT count(*) FROM outbox WHERE status = 'unknown')",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        let mut troubles = Vec::new();
        let mut st = self.conn.prepare_cached(
            "SELECT account, value FROM cursors WHERE scope = ? ORDER BY account",
        )?;
        let rows = st.query_map([SEND_STATUS], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })?;
        for row in rows {
            let (account, value) = row?;
            let v: serde_json::Value = serde_json::from_str(&value).unwrap_or_default();
            if let Some(e) = v["last_error"].as_str() {
                troubles.push((account, e.to_string()));
            }
        }
        Ok(OutboxHealth {
            queued,
            failed,
            unknown,
            troubles,
        })
    }

    /// Changes made through this connection (with `data_version`, which
    /// counts other connections' commits, it tells when to redraw).
    pub fn total_changes(&self) -> u64 {
        self.conn.total_changes()
    }
}

/// The channel and address a reply to `ticket` goes to: `channel`, or
/// else the ticket's, and the customer's first identity of its kind (for
/// SMS and fax, a phone or fax number will do).
/// A text can only go to a phone number: an alphanumeric sender id
/// (`ACME`) or a short code (`72345`) cannot receive one on most gateways.
pub(crate) fn textable(
    ticket: i64,
    (channel, to): &(Channel, String),
    settings: &Settings,
) -> Result<()> {
    if *channel != Channel::Sms || settings.sms_to_short_codes {
        return Ok(());
    }
    let digits = to.strip_prefix('+').unwrap_or("");
    if (8..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(());
    }
    let what = if to.chars().any(|c| c.is_alphabetic()) {
        "an alphanumeric sender id"
    } else {
        "a short code, not a phone number"
    };
    Err(Error::invalid(
        "reply",
        format!("#{ticket}"),
        format!(
            "the customer wrote from `{to}`, {what}: a text to it cannot be delivered (set reply_to_short_codes = true on the [[sms]] account if your gateway can)"
        ),
    ))
}

fn recipient(
    conn: &rusqlite::Connection,
    ticket: i64,
    channel: Option<Channel>,
) -> Result<(Channel, String)> {
    let (tch, customer): (String, i64) = conn
        .prepare_cached("SELECT channel, customer_id FROM tickets WHERE id = ?")?
        .query_row([ticket], |r| Ok((r.get(0)?, r.get(1)?)))
        .map_err(|e| match e {
            rusqlite::Error::QueryReturnedNoRows => Error::TicketNotFound(ticket),
            e => e.into(),
        })?;
    let channel = channel.unwrap_or(Channel::parse(&tch).unwrap_or(Channel::Email));
    let kind = channel.identity_kind();
    let kinds: &[IdentityKind] = match kind {
        IdentityKind::Email => &[IdentityKind::Email],
        _ => &[kind, IdentityKind::Phone, IdentityKind::Fax],
    };
    for k in kinds {
        let found: Option<String> = conn
            .prepare_cached(
                "SELECT value FROM identities WHERE customer_id = ? AND kind = ? ORDER BY id LIMIT 1",
            )?
            .query_row(params![customer, k.as_str()], |r| r.get(0))
            .ok();
        if let Some(r) = found {
            return Ok((channel, r));
        }
    }
    Err(Error::invalid(
        "reply",
        format!("#{ticket}"),
        format!("the customer has no {kind} address"),
    ))
}

impl Store {
    /// The channel and address a reply to `ticket` would go to.
    pub fn reply_recipient(
        &self,
        ticket: i64,
        channel: Option<Channel>,
    ) -> Result<(Channel, String)> {
        let r = recipient(&self.conn, ticket, channel)?;
        textable(ticket, &r, &self.settings)?;
        Ok(r)
    }
}

impl Tx<'_> {
    /// Queues a reply: the outbound message and its outbox entry commit with
    /// the ticket's automatic transition, in this transaction. The outbox
    /// worker (the only sender) picks it up. `channel` defaults to the
    /// ticket's. Returns the message id.
    pub fn queue_reply(
        &self,
        ticket: i64,
        body: &str,
        agent: &str,
        channel: Option<Channel>,
    ) -> Result<i64> {
        self.queue_reply_at(ticket, body, agent, channel, None)
    }

    /// See [`Store::reply_recipient`].
    pub fn reply_recipient(
        &self,
        ticket: i64,
        channel: Option<Channel>,
    ) -> Result<(Channel, String)> {
        let r = recipient(&self.tx, ticket, channel)?;
        textable(ticket, &r, self.settings())?;
        Ok(r)
    }

    /// [`Tx::queue_reply`], due at `due` (rate-limited bulk sends) or now.
    pub fn queue_reply_at(
        &self,
        ticket: i64,
        body: &str,
        agent: &str,
        channel: Option<Channel>,
        due: Option<i64>,
    ) -> Result<i64> {
        let state = self.ticket_state(ticket)?.0;
        let (channel, recipient) = self.reply_recipient(ticket, channel)?;
        let at = self.now();
        let message = self.add_agent_message(ticket, Direction::Out, body, agent, at)?;
        self.tx
            .prepare_cached(
                "INSERT INTO outbox (message_id, ticket_id, channel, account, recipient, status,
                 next_attempt_at, created_at, updated_at) VALUES (?, ?, ?, '', ?, 'queued', ?, ?, ?)",
            )?
            .execute(params![message, ticket, channel.as_str(), recipient, due.unwrap_or(at).max(at), at, at])?;
        if let Some(to) = self.settings().workflow.on_agent_reply(&state) {
            let to = to.to_string();
            self.apply_state(ticket, &state, &to, agent)?;
        }
        Ok(message)
    }
}
