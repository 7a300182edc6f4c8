//! Team mail: a message to a colleague (a manager who reads the weekly
//! report by mail) that leaves through the outbox like a reply, so it is
//! retried, survives a crash and is never sent twice. It is kept as an
//! internal ticket with the colleague as its contact: their answer threads
//! back into it and reaches the queue, and the reports do not count it.

use rusqlite::params;

use super::messages::NewAttachment;
use super::Tx;
use crate::error::Result;
use crate::identity;
use crate::model::{Channel, IdentityKind};

pub struct TeamMail<'a> {
    pub to: &'a str,
    pub subject: &'a str,
    pub body: &'a str,
    /// (file name, content type, bytes).
    pub attachments: &'a [(String, String, Vec<u8>)],
    pub tags: &'a [String],
}

/// Where a queued team mail is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct QueuedMail {
    pub ticket: i64,
    pub message: i64,
}

impl Tx<'_> {
    /// Queues `m` on a new internal ticket, left in the solved state: a
    /// reply to it reopens it like any other.
    pub fn queue_team_mail(&self, m: &TeamMail<'_>, agent: &str) -> Result<QueuedMail> {
        let address = identity::normalise_email(m.to)?;
        let contact = match self.find_identity(IdentityKind::Email, &address)? {
            Some(c) => c,
            None => self.create_customer(&address, &[(IdentityKind::Email, &address)])?,
        };
        let at = self.now();
        let wf = &self.settings().workflow;
        self.tx
            .prepare_cached(
                "INSERT INTO tickets (subject, state, channel, customer_id, created_at, updated_at,
                 internal) VALUES (?, ?, 'email', ?, ?, ?, 1)",
            )?
            .execute(params![m.subject, wf.initial, contact, at, at])?;
        let ticket = self.tx.last_insert_rowid();
        self.mark_created(ticket);
        self.event(Some(ticket), agent, "created", None, Some(&wf.initial))?;
        let message = self.queue_reply(ticket, m.body, agent, Some(Channel::Email))?;
        for (filename, content_type, data) in m.attachments {
            self.attach(
                message,
                &NewAttachment {
                    filename,
                    content_type,
                    data,
                },
            )?;
        }
        if !m.tags.is_empty() {
            self.tag(ticket, m.tags, &[], agent, None)?;
        }
        let state = self.ticket_state(ticket)?.0;
        let solved = wf.solved_state.clone();
        self.apply_state(ticket, &state, &solved, agent)?;
        Ok(QueuedMail { ticket, message })
    }
}
