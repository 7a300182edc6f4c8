//! IMAP polling: new mail in the configured mailboxes becomes tickets.
//!
//! Per mailbox the store keeps `UIDVALIDITY:last UID` (a cursor). A poll
//! fetches only newer UIDs, in batches, handed to a [`Sink`] with the
//! advanced cursor; only after a batch's commit is the post-action (mark
//! seen / move) sent to the server, and a second cursor (`post:MAILBOX`)
//! records how far that got. A crash (or a refusal) between the commit
//! and the post-action repeats the post-action, never the ingest; a
//! crash before the commit fetches the batch again, and dedupe (provider id
//! `UIDVALIDITY:UID`, then Message-ID per account) stores nothing twice.
//! When UIDVALIDITY changes the mailbox is scanned again from UID 1, with
//! the same dedupe.

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use futures::TryStreamExt;
use serde::Serialize;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use super::account::{Account, ImapConfig, PostAction, TlsMode};
use super::mime;
use crate::inbound::{Cursor, Inbound, Sink, Tally};

mod mailbox;
mod session;

pub use mailbox::MAX_MESSAGE_BYTES;
use mailbox::*;
use session::*;
pub use session::{append, find_message_id, server_words};

/// What went wrong, with the account and the step in the message.
#[derive(Debug, thiserror::Error)]
#[error("account `{account}`: {step}: {message}")]
pub struct PollError {
    pub account: String,
    pub step: &'static str,
    pub message: String,
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct MailboxReport {
    pub mailbox: String,
    pub uid_validity: u32,
    pub fetched: u64,
    pub created: u64,
    pub threaded: u64,
    pub duplicates: u64,
    pub with_errors: u64,
    pub rescanned: bool,
    /// UIDNEXT when the pass selected the mailbox.
    pub uid_next: u32,
}

/// What ended a [`Poller::wait`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    /// The server announced a change during IDLE.
    Announced,
    /// The wait ran its full length (IDLE or plain sleep).
    TimedOut,
}

/// An account's poller: keeps its IMAP session between passes, so the
/// daemon logs in once and waits with IDLE where the server offers it.
/// Any error drops the session; the next pass connects afresh.
pub struct Poller {
    acct: Account,
    session: Option<Session>,
    can_idle: bool,
    /// (UIDVALIDITY, UIDNEXT) of the first mailbox at the last pass.
    seen: Option<(u32, u32)>,
}

impl Poller {
    pub fn new(acct: &Account) -> Poller {
        Poller {
            acct: acct.clone(),
            session: None,
            can_idle: false,
            seen: None,
        }
    }

    pub fn account(&self) -> &Account {
        &self.acct
    }

    /// Whether the last session offered IDLE (and the config allows it).
    pub fn uses_idle(&self) -> bool {
        self.can_idle
    }

    async fn ensure_session(&mut self, cfg: &ImapConfig) -> Result<(), PollError> {
        if self.session.is_some() {
            return Ok(());
        }
        let password = cfg.password().await.map_err(fail(&self.acct, "password"))?;
        let mut session = connect(&self.acct, cfg, &password).await?;
        let caps = timed(cfg.timeout, "CAPABILITY", session.capabilities())
            .await
            .map_err(fail(&self.acct, "capability"))?;
        self.can_idle = cfg.idle && caps.has_str("IDLE");
        self.session = Some(session);
        Ok(())
    }

    /// A mailbox's pass, for `echodesk status`.
    async fn note(&self, sink: &mut impl Sink, mailbox: &str, outcome: Result<u64, String>) {
        sink.record_poll(&self.acct.name, &format!("status:{mailbox}"), outcome)
            .await;
    }

    /// One pass over every mailbox of the account.
    pub async fn poll(&mut self, sink: &mut impl Sink) -> Result<Vec<MailboxReport>, PollError> {
        let Some(cfg) = self.acct.imap.clone() else {
            return Ok(Vec::new());
        };
        if let Err(e) = self.ensure_session(&cfg).await {
            for mailbox in &cfg.mailboxes {
                self.note(sink, mailbox, Err(e.to_string())).await;
            }
            return Err(e);
        }
        let mut reports = Vec::new();
        for mailbox in &cfg.mailboxes {
            let Some(session) = self.session.as_mut() else {
                break;
            };
            match poll_mailbox(sink, &self.acct, &cfg, session, mailbox).await {
                Ok(r) => {
                    if reports.is_empty() {
                        self.seen = Some((r.uid_validity, r.uid_next));
                    }
                    self.note(sink, mailbox, Ok(r.fetched)).await;
                    reports.push(r);
                }
                Err(e) => {
                    // The connection state is unknown now: start over next time.
                    self.session = None;
                    self.note(sink, mailbox, Err(e.to_string())).await;
                    return Err(e);
                }
            }
        }
        Ok(reports)
    }

    /// Waits up to `max` for new mail: with IDLE on the first mailbox when
    /// the server offers it, else by sleeping.
    pub async fn wait(&mut self, max: Duration) -> Result<Wake, PollError> {
        let cfg = match &self.acct.imap {
            Some(c) if self.can_idle => c.clone(),
            _ => {
                tokio::time::sleep(max).await;
                return Ok(Wake::TimedOut);
            }
        };
        let (Some(session), Some(mailbox)) = (self.session.take(), cfg.mailboxes.first()) else {
            tokio::time::sleep(max).await;
            return Ok(Wake::TimedOut);
        };
        let err = |step| fail(&self.acct, step);
        let mut session = session;
        let selected = timed(cfg.timeout, mailbox, session.select(mailbox))
            .await
            .map_err(err("select"))?;
        // Mail that arrived between the pass and this SELECT is not
        // announced by IDLE: look at UIDNEXT first.
        if let (Some((validity, seen_next)), Some(next)) = (self.seen, selected.uid_next) {
            if selected.uid_validity != Some(validity) || next != seen_next {
                self.session = Some(session);
                return Ok(Wake::Announced);
            }
        }
        let mut handle = session.idle();
        timed(cfg.timeout, "IDLE", handle.init())
            .await
            .map_err(err("idle"))?;
        let wake = {
            let (fut, _stop) = handle.wait_with_timeout(max);
            // The server's keepalives reset the library's timer; this bounds
            // the whole wait.
            match tokio::time::timeout(max + Duration::from_secs(1), fut).await {
                Ok(Ok(async_imap::extensions::idle::IdleResponse::NewData(_))) => Wake::Announced,
                Ok(Ok(_)) | Err(_) => Wake::TimedOut,
                Ok(Err(e)) => return Err(err("idle")(server_words(&e.to_string()))),
            }
        };
        let session = timed(cfg.timeout, "DONE", handle.done())
            .await
            .map_err(err("idle"))?;
        self.session = Some(session);
        Ok(wake)
    }

    pub async fn logout(&mut self) {
        if let (Some(mut s), Some(cfg)) = (self.session.take(), self.acct.imap.as_ref()) {
            let _ = tokio::time::timeout(Duration::from_secs(cfg.timeout), s.logout()).await;
        }
    }
}

/// One pass over every mailbox of the account, on a fresh connection.
pub async fn poll_account(
    sink: &mut impl Sink,
    acct: &Account,
) -> Result<Vec<MailboxReport>, PollError> {
    let mut poller = Poller::new(acct);
    let r = poller.poll(sink).await;
    poller.logout().await;
    r
}
