//! Satisfaction surveys and opt-outs: which solved tickets are due a
//! survey, the survey queued on the ticket's thread, the answer recorded
//! against it, and the numbers that said STOP.

use rusqlite::{params, OptionalExtension};

use super::{Store, Tx};
use crate::error::Result;
use crate::model::{Channel, Direction, IdentityKind};

/// The author of survey messages: automation, so neither a reply in the
/// reports nor something rules answer.
pub const SURVEY_AUTHOR: &str = "rule:survey";

/// A survey as stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Survey {
    pub id: i64,
    pub ticket: i64,
    pub customer: i64,
    pub channel: Channel,
    #[serde(skip)]
    pub token: String,
    /// Who solved the ticket when the survey went out.
    pub agent: Option<String>,
    pub sent_at: i64,
    pub expires_at: i64,
    pub rating: Option<u8>,
    pub comment: Option<String>,
    pub answered_at: Option<i64>,
}

const SURVEY_COLUMNS: &str =
    "id, ticket_id, customer_id, channel, token, agent, sent_at, expires_at,
    rating, comment, answered_at";

fn survey_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Survey> {
    let channel: String = r.get(3)?;
    Ok(Survey {
        id: r.get(0)?,
        ticket: r.get(1)?,
        customer: r.get(2)?,
        channel: Channel::parse(&channel).unwrap_or(Channel::Email),
        token: r.get(4)?,
        agent: r.get(5)?,
        sent_at: r.get(6)?,
        expires_at: r.get(7)?,
        rating: r.get(8)?,
        comment: r.get(9)?,
        answered_at: r.get(10)?,
    })
}

/// A solved ticket that may be surveyed, before the per-customer rules.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub ticket: i64,
    pub customer: i64,
    pub channel: Channel,
    pub subject: String,
    pub customer_name: String,
}

/// What a survey needs to be queued.
pub struct NewSurvey<'a> {
    pub ticket: i64,
    pub customer: i64,
    pub channel: Channel,
    pub body: &'a str,
    pub token: &'a str,
    pub agent: Option<&'a str>,
    pub expires_at: i64,
}

fn candidates(
    conn: &rusqlite::Connection,
    solved_state: &str,
    from: i64,
    to: i64,
) -> Result<Vec<Candidate>> {
    let mut stmt = conn.prepare_cached(
        "SELECT t.id, t.customer_id, t.channel, t.subject, c.name
         FROM tickets t INDEXED BY tickets_solved JOIN customers c ON c.id = t.customer_id
         WHERE t.solved_at IS NOT NULL AND t.solved_at BETWEEN ?1 AND ?2 AND t.state = ?3
           AND t.internal = 0
           AND NOT EXISTS (SELECT 1 FROM surveys s WHERE s.ticket_id = t.id)
           AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.ticket_id = t.id
                           AND m.direction = 'in' AND m.auto_kind IS NOT NULL)
         ORDER BY t.solved_at, t.id",
    )?;
    let rows = stmt.query_map(params![from, to, solved_state], |r| {
        let ch: String = r.get(2)?;
        Ok(Candidate {
            ticket: r.get(0)?,
            customer: r.get(1)?,
            channel: Channel::parse(&ch).unwrap_or(Channel::Email),
            subject: r.get(3)?,
            customer_name: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

fn opted_out(conn: &rusqlite::Connection, kind: IdentityKind, value: &str) -> Result<bool> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM opt_outs WHERE kind = ? AND value = ?")?
        .query_row(params![kind.as_str(), value], |_| Ok(()))
        .optional()?
        .is_some())
}

impl Store {
    /// Tickets in the solved state, solved between `from` and `to`, with
    /// no survey yet, not internal and with no automatic customer mail.
    pub fn survey_candidates(&self, from: i64, to: i64) -> Result<Vec<Candidate>> {
        candidates(&self.conn, &self.settings.workflow.solved_state, from, to)
    }

    /// Has this address or number asked for no more surveys or notices?
    pub fn is_opted_out(&self, kind: IdentityKind, value: &str) -> Result<bool> {
        opted_out(&self.conn, kind, value)
    }

    /// The survey of a ticket, if it had one.
    pub fn ticket_survey(&self, ticket: i64) -> Result<Option<Survey>> {
        Ok(self
            .conn
            .prepare_cached(&format!(
                "SELECT {SURVEY_COLUMNS} FROM surveys WHERE ticket_id = ?"
            ))?
            .query_row([ticket], survey_row)
            .optional()?)
    }

    /// Surveys sent in `from..to` (Unix seconds), oldest first.
    pub fn surveys_sent(&self, from: i64, to: i64) -> Result<Vec<Survey>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {SURVEY_COLUMNS} FROM surveys WHERE sent_at >= ? AND sent_at < ? ORDER BY sent_at, id"
        ))?;
        let rows = stmt.query_map([from, to], survey_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The customer's surveys, newest first.
    pub fn customer_surveys(&self, customer: i64) -> Result<Vec<Survey>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {SURVEY_COLUMNS} FROM surveys WHERE customer_id = ? ORDER BY sent_at DESC, id DESC"
        ))?;
        let rows = stmt.query_map([customer], survey_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

impl Tx<'_> {
    /// See [`Store::is_opted_out`].
    pub fn is_opted_out(&self, kind: IdentityKind, value: &str) -> Result<bool> {
        opted_out(&self.tx, kind, value)
    }

    /// When the ticket was solved (if it is solved or closed now).
    pub fn ticket_solved_at(&self, ticket: i64) -> Result<Option<i64>> {
        Ok(self
            .tx
            .prepare_cached("SELECT solved_at FROM tickets WHERE id = ?")?
            .query_row([ticket], |r| r.get(0))
            .optional()?
            .flatten())
    }

    pub fn ticket_customer(&self, ticket: i64) -> Result<i64> {
        self.tx
            .prepare_cached("SELECT customer_id FROM tickets WHERE id = ?")?
            .query_row([ticket], |r| r.get(0))
            .optional()?
            .ok_or(crate::error::Error::TicketNotFound(ticket))
    }

    /// Did the customer get a survey after `since`?
    pub fn surveyed_since(&self, customer: i64, since: i64) -> Result<bool> {
        Ok(self
            .tx
            .prepare_cached("SELECT 1 FROM surveys WHERE customer_id = ? AND sent_at > ? LIMIT 1")?
            .query_row([customer, since], |_| Ok(()))
            .optional()?
            .is_some())
    }

    /// The agent whose change last put the ticket in the solved state.
    pub fn solver(&self, ticket: i64) -> Result<Option<String>> {
        Ok(self
            .tx
            .prepare_cached(
                "SELECT agent FROM events WHERE ticket_id = ? AND kind = 'state' AND new = ?
                 ORDER BY id DESC LIMIT 1",
            )?
            .query_row(params![ticket, self.settings.workflow.solved_state], |r| {
                r.get(0)
            })
            .optional()?)
    }

    /// Queues the survey on the ticket's thread (its outbox entry like a
    /// reply's, but no workflow step: the ticket stays solved) and records
    /// it. Returns the survey id.
    pub fn queue_survey(&self, s: &NewSurvey<'_>) -> Result<i64> {
        let at = self.now();
        let (channel, recipient) = self.reply_recipient(s.ticket, Some(s.channel))?;
        let message =
            self.add_agent_message(s.ticket, Direction::Out, s.body, SURVEY_AUTHOR, at)?;
        self.tx
            .prepare_cached(
                "INSERT INTO outbox (message_id, ticket_id, channel, account, recipient, status,
                 next_attempt_at, created_at, updated_at) VALUES (?, ?, ?, '', ?, 'queued', ?, ?, ?)",
            )?
            .execute(params![message, s.ticket, channel.as_str(), recipient, at, at, at])?;
        let id = self.insert_survey(s, channel, message, at)?;
        self.event(Some(s.ticket), SURVEY_AUTHOR, "survey", None, Some("sent"))?;
        Ok(id)
    }

    fn insert_survey(
        &self,
        s: &NewSurvey<'_>,
        channel: Channel,
        message: i64,
        sent_at: i64,
    ) -> Result<i64> {
        self.tx
            .prepare_cached(
                "INSERT INTO surveys (ticket_id, customer_id, channel, token, agent, message_id,
                 sent_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            )?
            .execute(params![
                s.ticket,
                s.customer,
                channel.as_str(),
                s.token,
                s.agent,
                message,
                sent_at,
                s.expires_at
            ])?;
        Ok(self.tx.last_insert_rowid())
    }

    /// Records a survey sent in the past, and its answer if it had one,
    /// without the outbox (the demo's history; surveys sent elsewhere).
    pub fn add_past_survey(
        &self,
        s: &NewSurvey<'_>,
        sent_at: i64,
        answer: Option<(u8, &str, i64)>,
    ) -> Result<i64> {
        let message =
            self.add_agent_message(s.ticket, Direction::Out, s.body, SURVEY_AUTHOR, sent_at)?;
        let id = self.insert_survey(s, s.channel, message, sent_at)?;
        if let Some((rating, comment, at)) = answer {
            let text = if comment.is_empty() {
                rating.to_string()
            } else {
                format!("{rating} {comment}")
            };
            let reply = self.add_customer_text(s.ticket, &text, at)?;
            let survey = self.survey_by_token(s.token)?.ok_or_else(|| {
                crate::error::Error::Other("the survey just stored is gone".into())
            })?;
            self.record_answer(&survey, rating, comment, reply, at)?;
        }
        Ok(id)
    }

    /// A customer's text on a ticket, from their address on its channel
    /// (a past survey's answer).
    fn add_customer_text(&self, ticket: i64, body: &str, at: i64) -> Result<i64> {
        let (channel, subject, customer): (String, String, i64) = self.tx.query_row(
            "SELECT channel, subject, customer_id FROM tickets WHERE id = ?",
            [ticket],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        let channel = Channel::parse(&channel).unwrap_or(Channel::Email);
        let from: String = self
            .tx
            .prepare_cached(
                "SELECT value FROM identities WHERE customer_id = ? AND kind = ? LIMIT 1",
            )?
            .query_row(params![customer, channel.identity_kind().as_str()], |r| {
                r.get(0)
            })
            .optional()?
            .unwrap_or_default();
        let provider = format!("survey-answer:{ticket}:{at}");
        let id = self.insert_message(&super::NewMessage {
            ticket_id: ticket,
            direction: Direction::In,
            channel,
            account: "local",
            provider_id: Some(&provider),
            message_id: None,
            refs: &[],
            from_addr: &from,
            from_name: None,
            to_addr: "",
            subject: &subject,
            body_text: body,
            body_html: None,
            received_at: at,
            author: None,
            auto_kind: None,
            parse_error: None,
            raw: None,
            attachments: &[],
        })?;
        self.touch(ticket, at)?;
        Ok(id)
    }

    /// The survey this token belongs to.
    pub fn survey_by_token(&self, token: &str) -> Result<Option<Survey>> {
        Ok(self
            .tx
            .prepare_cached(&format!(
                "SELECT {SURVEY_COLUMNS} FROM surveys WHERE token = ?"
            ))?
            .query_row([token], survey_row)
            .optional()?)
    }

    /// The customer's surveys an answer received at `at` can still be
    /// for (sent before it, window not over), newest first.
    pub fn open_surveys(&self, customer: i64, at: i64) -> Result<Vec<Survey>> {
        // A customer's clock may run a little behind ours.
        let skew = 600;
        let mut stmt = self.tx.prepare_cached(&format!(
            "SELECT {SURVEY_COLUMNS} FROM surveys
             WHERE customer_id = ? AND sent_at <= ? AND expires_at >= ?
             ORDER BY sent_at DESC, id DESC LIMIT 8"
        ))?;
        let rows = stmt.query_map(params![customer, at + skew, at], survey_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Records an answer (a later one within the window replaces it).
    pub fn record_answer(
        &self,
        survey: &Survey,
        rating: u8,
        comment: &str,
        message: i64,
        at: i64,
    ) -> Result<()> {
        self.tx
            .prepare_cached(
                "UPDATE surveys SET rating = ?, comment = ?, answered_at = ?, answer_message_id = ?
                 WHERE id = ?",
            )?
            .execute(params![
                rating,
                (!comment.is_empty()).then_some(comment),
                at,
                message,
                survey.id
            ])?;
        let old = survey.rating.map(|r| r.to_string());
        self.event(
            Some(survey.ticket),
            "customer",
            "rating",
            old.as_deref(),
            Some(&rating.to_string()),
        )?;
        self.mark_dirty(survey.ticket);
        Ok(())
    }

    /// Records that `value` asked for no more surveys or notices (or,
    /// `stop` false, asked for them again).
    pub fn set_opt_out(
        &self,
        kind: IdentityKind,
        value: &str,
        stop: bool,
        reason: &str,
    ) -> Result<()> {
        if stop {
            self.tx
                .prepare_cached(
                    "INSERT INTO opt_outs (kind, value, at, reason) VALUES (?, ?, ?, ?)
                     ON CONFLICT (kind, value) DO UPDATE SET at = excluded.at, reason = excluded.reason",
                )?
                .execute(params![kind.as_str(), value, self.now(), reason])?;
        } else {
            self.tx
                .prepare_cached("DELETE FROM opt_outs WHERE kind = ? AND value = ?")?
                .execute(params![kind.as_str(), value])?;
        }
        Ok(())
    }
}
