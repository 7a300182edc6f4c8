//! The outbox worker: the only code that sends. Each entry is claimed
//! (marked `sending` for this sender, committed) only when its send
//! begins, and its result is committed as soon as it is known: a 2xx →
//! sent; a 4xx, a timeout or a session problem → queued again with
//! exponential backoff; a 55x refusal of the message → failed, with the
//! server's words on the ticket. A crash therefore leaves at most one
//! entry per session `sending`, and the next sender marks exactly those
//! `unknown`. A sender holds a lease while it works (see
//! `store::sender_lease`), so two senders at once never take each other's
//! entries for interrupted ones.
//!
//! Here: the sender, its pass, outcomes and how they are recorded. `mail`
//! sends mail and faxes over SMTP lanes; `text` sends SMS through the
//! account's gateway; `resolve` settles entries whose fate is unknown.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::channel::sms::Gateway;
use crate::config::Config;
use crate::outbound::{OutboxItem, Outcome, Transport};
use crate::store::Store;

mod mail;
pub mod resolve;
mod text;

pub use mail::build_message;
use mail::Session;

#[derive(Debug, Default, Clone, Serialize)]
pub struct SendReport {
    pub sent: u64,
    pub retrying: u64,
    pub failed: u64,
    pub recovered_unknown: u64,
    /// Sends of this pass whose connection failed after the message was
    /// handed over: now `unknown`.
    pub interrupted: u64,
    /// Entries `unknown` in the store after the pass (any sender's).
    pub unknown: u64,
    pub copied_to_sent: u64,
    pub copy_errors: Vec<String>,
    /// SMS delivery reports fetched, and how many of them changed.
    pub deliveries_checked: u64,
    pub deliveries_changed: u64,
    /// The backoff in force (first, longest wait in seconds).
    #[serde(skip)]
    pub retry: (i64, i64),
}

/// Seconds to wait before attempt `n + 1` after `n` failed attempts:
/// `first`, doubling, at most `max` (`[outbox] retry_first`, `retry_max`).
pub fn backoff(attempts: i64, (first, max): (i64, i64)) -> i64 {
    (first << attempts.clamp(0, 20)).min(max)
}

/// Candidate entries read per round.
const ROUND: usize = 256;
/// How often a working sender renews its lease.
const HEARTBEAT: Duration = Duration::from_secs(20);
/// Longest pause for an account whose server could not be reached.
const ACCOUNT_BACKOFF_CAP: Duration = Duration::from_secs(300);

/// An account whose server could not be reached: skipped until `until`.
struct Down {
    until: Instant,
    failures: u32,
}

/// Sends due outbox entries. Keeps its SMTP sessions open across passes,
/// so the daemon reuses them instead of dialling for every message, and
/// works up to [`LANES`] sessions per account at once.
pub struct Sender {
    config: Config,
    /// Names this sender in the entries it claims and in its lease.
    owner: String,
    idle: HashMap<String, Vec<Session>>,
    /// Each SMS account's gateway, made at its first send.
    gateways: HashMap<String, Gateway>,
    stop: Arc<AtomicBool>,
    down: HashMap<String, Down>,
}

impl Sender {
    pub fn new(config: &Config) -> Sender {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        Sender {
            config: config.clone(),
            owner: format!("{}-{:x}", std::process::id(), nanos & 0xffff_ffff_ffff),
            idle: HashMap::new(),
            gateways: HashMap::new(),
            stop: Arc::new(AtomicBool::new(false)),
            down: HashMap::new(),
        }
    }

    /// Set it and the current pass ends after the messages on the wire.
    pub fn stop_flag(&self) -> Arc<AtomicBool> {
        self.stop.clone()
    }

    /// Says goodbye (QUIT) on the sessions kept open and gives up the
    /// sender's lease.
    pub async fn close(&mut self, store: &mut Store) {
        for (_, sessions) in self.idle.drain() {
            for mut s in sessions {
                let _ = tokio::time::timeout(Duration::from_secs(5), s.conn.quit()).await;
            }
        }
        if let Ok(tx) = store.transaction() {
            if tx.sender_gone(&self.owner).is_ok() {
                let _ = tx.commit();
            }
        }
    }

    fn is_down(&self, account: &str) -> bool {
        self.down
            .get(account)
            .is_some_and(|d| d.until > Instant::now())
    }

    fn mark_down(&mut self, account: &str) {
        let d = self.down.entry(account.to_string()).or_insert(Down {
            until: Instant::now(),
            failures: 0,
        });
        d.failures += 1;
        let (first, max) = self.config.outbox.retry_seconds();
        let first = first.clamp(1, 5) as u64;
        let cap = ACCOUNT_BACKOFF_CAP.min(Duration::from_secs(max as u64));
        let wait = Duration::from_secs(first << d.failures.min(6)).min(cap);
        d.until = Instant::now() + wait;
    }

    /// One pass: renew this sender's lease, recover entries of senders
    /// that are gone, then send everything due.
    pub async fn send_due(&mut self, store: &mut Store) -> crate::Result<SendReport> {
        let mut report = SendReport {
            retry: self.config.outbox.retry_seconds(),
            ..SendReport::default()
        };
        {
            let tx = store.transaction()?;
            tx.sender_heartbeat(&self.owner)?;
            report.recovered_unknown = tx.recover_interrupted()? as u64;
            tx.commit()?;
        }
        // Email, and faxes (which leave as email to an email-to-fax gateway).
        for channel in ["email", "fax"] {
            self.send_mail_channel(store, channel, &mut report).await?;
        }
        self.send_sms_due(store, &mut report).await?;
        self.check_deliveries(store, &mut report).await?;
        report.unknown = store.outbox_unknown()?;
        Ok(report)
    }
}

fn record_in(
    tx: &crate::store::Tx<'_>,
    item: &OutboxItem,
    outcome: Outcome,
    report: &mut SendReport,
) -> crate::Result<()> {
    match outcome {
        Outcome::Sent { reference, .. } => {
            tx.mark_sent(item, &reference)?;
            report.sent += 1;
        }
        Outcome::Retry { reason, after, .. } => {
            tracing::info!(
                outbox = item.id,
                ticket = item.ticket_id,
                "will retry: {reason}"
            );
            let wait = after.unwrap_or_else(|| backoff(item.attempts, report.retry));
            tx.mark_retry(item, tx.now() + wait, &reason)?;
            report.retrying += 1;
        }
        Outcome::Permanent(e) => {
            tracing::warn!(outbox = item.id, ticket = item.ticket_id, "failed: {e}");
            tx.mark_failed(item, &e)?;
            report.failed += 1;
        }
        Outcome::Unknown(e) => {
            tracing::warn!(
                outbox = item.id,
                ticket = item.ticket_id,
                "fate unknown: {e}"
            );
            tx.mark_unknown(item, &e)?;
            report.interrupted += 1;
        }
    }
    Ok(())
}

/// One pass with a fresh sender (`echodesk outbox send`).
pub async fn send_due(store: &mut Store, config: &Config) -> crate::Result<SendReport> {
    let mut sender = Sender::new(config);
    let r = sender.send_due(store).await;
    sender.close(store).await;
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_caps() {
        let d = (30, 3600);
        assert_eq!(backoff(0, d), 30);
        assert_eq!(backoff(1, d), 60);
        assert!(backoff(5, d) > backoff(4, d));
        assert_eq!(backoff(50, d), 3600);
        assert_eq!(backoff(3, (1, 4)), 4);
    }
}
