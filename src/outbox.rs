//! The outbox worker: the only code that sends. It claims due entries
//! (marking them `sending` in a committed transaction first), sends each,
//! and records the result: 2xx → sent; 4xx or a connection problem → queued
//! again with exponential backoff; 5xx → failed, with the server's words on
//! the ticket. Email only for now; SMS and fax entries wait for their
//! channels.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, Message, MultiPart, SinglePart};
use lettre::transport::smtp::client::AsyncSmtpConnection;
use serde::Serialize;

use crate::channel::email::account::{Account, SmtpConfig};
use crate::channel::email::smtp;
use crate::channel::sms::twilio::Twilio;
use crate::channel::sms::SmsError;
use crate::config::Config;
use crate::store::{OutboxItem, Store};

#[derive(Debug, Default, Clone, Serialize)]
pub struct SendReport {
    pub sent: u64,
    pub retrying: u64,
    pub failed: u64,
    pub recovered_unknown: u64,
    pub copied_to_sent: u64,
    pub copy_errors: Vec<String>,
    /// SMS delivery reports fetched, and how many of them changed.
    pub deliveries_checked: u64,
    pub deliveries_changed: u64,
}

/// Seconds to wait before attempt `n + 1` after `n` failed attempts.
pub fn backoff(attempts: i64) -> i64 {
    (30i64 << attempts.clamp(0, 10)).min(3600)
}

/// `Auto-Submitted: auto-replied` (RFC 3834), on replies sent by rules, so
/// that other systems do not answer them.
#[derive(Debug, Clone, Copy)]
struct AutoSubmitted;

impl lettre::message::header::Header for AutoSubmitted {
    fn name() -> lettre::message::header::HeaderName {
        lettre::message::header::HeaderName::new_from_ascii_str("Auto-Submitted")
    }

    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(AutoSubmitted)
    }

    fn display(&self) -> lettre::message::header::HeaderValue {
        lettre::message::header::HeaderValue::new(Self::name(), "auto-replied".into())
    }
}

/// The RFC 5322 message for a reply, and the Message-ID it carries.
pub fn build_message(
    item: &OutboxItem,
    acct: &Account,
    config: &Config,
) -> Result<(Message, String), String> {
    let domain = acct
        .address
        .rsplit_once('@')
        .map_or("localhost", |(_, d)| d);
    let token = crate::store::sha256_hex(
        format!("{}:{}:{}", item.id, item.message_id, crate::store::now()).as_bytes(),
    );
    let message_id = format!(
        "echodesk.{}.{}.{}@{}",
        item.ticket_id,
        item.message_id,
        &token[..12],
        domain
    );
    let tag = config
        .subject_tag
        .replace("{id}", &item.ticket_id.to_string());
    let base = item.ticket_subject.trim();
    let mut subject = if base.to_lowercase().starts_with("re:") {
        base.to_string()
    } else {
        format!("Re: {base}")
    };
    if !subject.contains(&tag) {
        subject = format!("{subject} {tag}");
    }
    let from: Mailbox = match &acct.display_name {
        Some(n) => format!("{n} <{}>", acct.address),
        None => acct.address.clone(),
    }
    .parse()
    .map_err(|e| format!("account `{}` address: {e}", acct.name))?;
    let to: Mailbox = item
        .recipient
        .parse()
        .map_err(|e| format!("recipient {}: {e}", item.recipient))?;
    let mut b = Message::builder()
        .from(from)
        .to(to)
        .subject(subject)
        .message_id(Some(format!("<{message_id}>")));
    if item.automatic {
        b = b.header(AutoSubmitted);
    }
    if let Some((parent, refs)) = &item.parent {
        b = b.in_reply_to(format!("<{parent}>"));
        let mut all: Vec<String> = refs
            .iter()
            .filter(|r| !r.is_empty())
            .map(|r| format!("<{r}>"))
            .collect();
        all.push(format!("<{parent}>"));
        b = b.references(all.join(" "));
    }
    let msg = if item.attachments.is_empty() {
        b.header(lettre::message::header::ContentType::TEXT_PLAIN)
            .body(item.body.clone())
    } else {
        let mut parts = MultiPart::mixed().singlepart(SinglePart::plain(item.body.clone()));
        for (name, ctype, data) in &item.attachments {
            let ctype = ContentType::parse(ctype)
                .unwrap_or_else(|_| ContentType::parse("application/octet-stream").expect("valid"));
            parts = parts.singlepart(Attachment::new(name.clone()).body(data.clone(), ctype));
        }
        b.multipart(parts)
    }
    .map_err(|e| format!("building the message: {e}"))?;
    Ok((msg, message_id))
}

fn account_for<'a>(item: &OutboxItem, config: &'a Config) -> Option<&'a Account> {
    let with_smtp = |a: &&Account| a.smtp.is_some();
    item.account
        .as_deref()
        .and_then(|n| {
            config
                .accounts
                .iter()
                .filter(with_smtp)
                .find(|a| a.name == n)
        })
        .or_else(|| config.accounts.iter().find(with_smtp))
}

/// Entries claimed per round; small enough that a shutdown waits little.
const CLAIM: usize = 64;
/// SMTP sessions per account working at once.
const LANES: usize = 4;
/// A session idle longer than this is checked with NOOP before use.
const IDLE_CHECK: Duration = Duration::from_secs(10);

/// An open SMTP session kept between messages and passes.
struct Session {
    conn: AsyncSmtpConnection,
    used: Instant,
}

/// Sends due outbox entries. Keeps its SMTP sessions open across passes,
/// so the daemon reuses them instead of dialling for every message, and
/// works up to [`LANES`] sessions per account at once.
pub struct Sender {
    config: Config,
    idle: HashMap<String, Vec<Session>>,
    twilio: HashMap<String, Twilio>,
    stop: Arc<AtomicBool>,
    recovered: bool,
}

/// A claimed entry made ready to go: its message, or why it cannot be.
struct Prepared {
    item: OutboxItem,
    account: Option<String>,
    message: Result<Message, String>,
}

type Outcome = Result<String, (bool, String)>;

impl Sender {
    pub fn new(config: &Config) -> Sender {
        Sender {
            config: config.clone(),
            idle: HashMap::new(),
            twilio: HashMap::new(),
            stop: Arc::new(AtomicBool::new(false)),
            recovered: false,
        }
    }

    /// Set it and the current pass ends after the messages on the wire.
    pub fn stop_flag(&self) -> Arc<AtomicBool> {
        self.stop.clone()
    }

    /// Says goodbye (QUIT) on the sessions kept open.
    pub async fn close(&mut self) {
        for (_, sessions) in self.idle.drain() {
            for mut s in sessions {
                let _ = tokio::time::timeout(Duration::from_secs(5), s.conn.quit()).await;
            }
        }
    }

    /// One pass: recover sends a crash interrupted (on the first pass),
    /// then send everything due.
    pub async fn send_due(&mut self, store: &mut Store) -> crate::Result<SendReport> {
        let mut report = SendReport::default();
        if !self.recovered {
            let tx = store.transaction()?;
            report.recovered_unknown = tx.recover_interrupted()? as u64;
            tx.commit()?;
            self.recovered = true;
        }
        // Email, and faxes (which leave as email to an email-to-fax gateway).
        for channel in ["email", "fax"] {
            self.send_mail_channel(store, channel, &mut report).await?;
        }
        self.send_sms_due(store, &mut report).await?;
        self.check_deliveries(store, &mut report).await?;
        Ok(report)
    }

    async fn send_mail_channel(
        &mut self,
        store: &mut Store,
        channel: &str,
        report: &mut SendReport,
    ) -> crate::Result<()> {
        while !self.stop.load(Ordering::Relaxed) {
            let items = {
                let tx = store.transaction()?;
                let mut items = tx.claim_due(channel, CLAIM)?;
                if channel == "fax" {
                    for it in &mut items {
                        it.account = tx.inbound_account(it.ticket_id)?;
                    }
                }
                tx.commit()?;
                items
            };
            if items.is_empty() {
                break;
            }
            let mut by_account: HashMap<String, Vec<(OutboxItem, Message)>> = HashMap::new();
            let prepared = if channel == "fax" {
                self.prepare_faxes(store, items)?
            } else {
                self.prepare(store, items)?
            };
            for p in prepared {
                match (p.message, p.account) {
                    (Ok(m), Some(a)) => by_account.entry(a).or_default().push((p.item, m)),
                    (Err(e), _) => record(store, &p.item, Err((false, e)), report)?,
                    (Ok(_), None) => record(
                        store,
                        &p.item,
                        Err((false, "no account to send from".into())),
                        report,
                    )?,
                }
            }
            let copies = self.send_batch(store, by_account, report).await?;
            self.copy_to_sent(copies, report).await;
        }
        Ok(())
    }

    /// Renders each fax reply to PDF and wraps it in a mail to the fax
    /// account's email-to-fax gateway.
    fn prepare_faxes(
        &self,
        store: &mut Store,
        items: Vec<OutboxItem>,
    ) -> crate::Result<Vec<Prepared>> {
        let tx = store.transaction()?;
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            let with_fax = |a: &&Account| {
                a.fax.as_ref().is_some_and(|f| f.send_to.is_some()) && a.smtp.is_some()
            };
            let acct = item
                .account
                .as_deref()
                .and_then(|n| {
                    self.config
                        .accounts
                        .iter()
                        .filter(with_fax)
                        .find(|a| a.name == n)
                })
                .or_else(|| self.config.accounts.iter().find(with_fax));
            let message = match acct {
                None => Err(
                    "no account with [accounts.fax] send_to and [accounts.smtp] to fax from"
                        .to_string(),
                ),
                Some(a) => {
                    crate::channel::fax::outbound::build(&item, a, &self.config).map(|(m, id)| {
                        let _ = tx.set_message_id(item.message_id, &id);
                        m
                    })
                }
            };
            out.push(Prepared {
                account: acct.map(|a| a.name.clone()),
                item,
                message,
            });
        }
        tx.commit()?;
        Ok(out)
    }

    async fn send_sms_due(
        &mut self,
        store: &mut Store,
        report: &mut SendReport,
    ) -> crate::Result<()> {
        while !self.stop.load(Ordering::Relaxed) {
            let items = {
                let tx = store.transaction()?;
                let mut items = tx.claim_due("sms", CLAIM)?;
                for it in &mut items {
                    let wrote_to = tx.inbound_account(it.ticket_id)?;
                    it.account =
                        crate::channel::sms::account_for(&self.config.sms, wrote_to.as_deref())
                            .map(|a| a.name.clone());
                }
                tx.commit()?;
                items
            };
            if items.is_empty() {
                break;
            }
            for item in items {
                let outcome = self.send_sms(&item).await;
                let tx = store.transaction()?;
                match outcome {
                    Ok((sid, status)) => {
                        record_in(&tx, &item, Ok(sid), report)?;
                        tx.set_delivery(item.id, &status, None)?;
                    }
                    Err(e) => record_in(&tx, &item, Err(e), report)?,
                }
                tx.commit()?;
            }
        }
        Ok(())
    }

    fn twilio(
        &mut self,
        acct: &crate::channel::sms::account::SmsAccount,
    ) -> Result<&Twilio, SmsError> {
        if !self.twilio.contains_key(&acct.name) {
            let t = Twilio::new(acct)?;
            self.twilio.insert(acct.name.clone(), t);
        }
        self.twilio
            .get(&acct.name)
            .ok_or_else(|| SmsError::new(&acct.name, "setup", "no client", true))
    }

    /// Ok((message SID, gateway status)) or Err((retry?, what happened)).
    async fn send_sms(&mut self, item: &OutboxItem) -> Result<(String, String), (bool, String)> {
        use crate::channel::sms::account::Kind;
        let acct = item
            .account
            .as_deref()
            .and_then(|n| self.config.sms.iter().find(|a| a.name == n))
            .cloned()
            .ok_or((false, "no [[sms]] account to send from".to_string()))?;
        crate::channel::sms::check_length(&acct, &item.body).map_err(|e| (false, e))?;
        match acct.kind {
            Kind::Twilio => {
                let api = self
                    .twilio(&acct)
                    .map_err(|e| (e.transient, e.to_string()))?;
                let m = api
                    .send(&item.recipient, &item.body)
                    .await
                    .map_err(|e| (e.transient, e.to_string()))?;
                Ok((m.sid, m.status))
            }
            Kind::Smstools => crate::channel::sms::smstools::send(&acct, item)
                .map(|name| (name, "queued".to_string()))
                .map_err(|e| (e.transient, e.to_string())),
            Kind::Gammu => crate::channel::sms::gammu::send(&acct, item)
                .map(|id| (id, "queued".to_string()))
                .map_err(|e| (e.transient, e.to_string())),
        }
    }

    /// Asks the gateways what became of sent texts whose delivery is open.
    async fn check_deliveries(
        &mut self,
        store: &mut Store,
        report: &mut SendReport,
    ) -> crate::Result<()> {
        use crate::channel::sms::account::Kind;
        let waiting = store.awaiting_delivery(200)?;
        for w in waiting {
            let Some(acct) = self
                .config
                .sms
                .iter()
                .find(|a| a.name == w.account)
                .cloned()
            else {
                continue;
            };
            let found = match acct.kind {
                Kind::Twilio => {
                    let Ok(api) = self.twilio(&acct) else {
                        continue;
                    };
                    match api.fetch(&w.provider_ref).await {
                        Ok(m) => Some((
                            m.status,
                            m.error_code.map(|c| {
                                format!("error {c}: {}", m.error_message.unwrap_or_default())
                            }),
                        )),
                        Err(e) => {
                            tracing::info!("delivery of outbox {}: {e}", w.outbox_id);
                            None
                        }
                    }
                }
                Kind::Smstools => crate::channel::sms::smstools::delivery(&acct, &w.provider_ref),
                Kind::Gammu => crate::channel::sms::gammu::delivery(&acct, &w.provider_ref),
            };
            report.deliveries_checked += 1;
            if let Some((status, detail)) = found {
                if w.delivery.as_deref() != Some(status.as_str()) {
                    let tx = store.transaction()?;
                    tx.set_delivery(w.outbox_id, &status, detail.as_deref())?;
                    tx.commit()?;
                    report.deliveries_changed += 1;
                }
            }
        }
        Ok(())
    }

    /// Sends a claimed batch over up to [`LANES`] sessions per account,
    /// recording each result as it comes. Returns what to copy to Sent.
    async fn send_batch(
        &mut self,
        store: &mut Store,
        by_account: HashMap<String, Vec<(OutboxItem, Message)>>,
        report: &mut SendReport,
    ) -> crate::Result<HashMap<String, Vec<Vec<u8>>>> {
        let (tx, mut rx) =
            tokio::sync::mpsc::unbounded_channel::<(String, OutboxItem, Message, Outcome)>();
        let mut lanes = Vec::new();
        for (name, items) in by_account {
            let Some(smtp) = self
                .config
                .accounts
                .iter()
                .find(|a| a.name == name)
                .and_then(|a| a.smtp.clone())
            else {
                continue;
            };
            let n = LANES.min(items.len());
            let mut queues: Vec<Vec<(OutboxItem, Message)>> = (0..n).map(|_| Vec::new()).collect();
            for (i, it) in items.into_iter().enumerate() {
                queues[i % n].push(it);
            }
            let pool = self.idle.entry(name.clone()).or_default();
            for queue in queues {
                let session = pool.pop();
                lanes.push(lane(name.clone(), smtp.clone(), session, queue, tx.clone()));
            }
        }
        drop(tx);
        let mut copies: HashMap<String, Vec<Vec<u8>>> = HashMap::new();
        let wants_copy: std::collections::HashSet<String> = self
            .config
            .accounts
            .iter()
            .filter(|a| a.imap.as_ref().is_some_and(|i| i.sent_mailbox.is_some()))
            .map(|a| a.name.clone())
            .collect();
        let recorder = async {
            // Results that arrive together commit together: one transaction
            // per wake-up rather than per message.
            while let Some(first) = rx.recv().await {
                let mut batch = vec![first];
                while batch.len() < 64 {
                    match rx.try_recv() {
                        Ok(r) => batch.push(r),
                        Err(_) => break,
                    }
                }
                let tx = store.transaction()?;
                for (name, item, message, outcome) in batch {
                    if outcome.is_ok() && wants_copy.contains(&name) {
                        copies.entry(name).or_default().push(message.formatted());
                    }
                    record_in(&tx, &item, outcome, report)?;
                }
                tx.commit()?;
            }
            Ok::<(), crate::Error>(())
        };
        let (kept, recorded) = tokio::join!(futures::future::join_all(lanes), recorder);
        for (name, session) in kept.into_iter().flatten() {
            self.idle.entry(name).or_default().push(session);
        }
        recorded?;
        Ok(copies)
    }

    /// Builds each entry's message and records its Message-ID before it
    /// leaves, so an answer that arrives at once still threads.
    fn prepare(&self, store: &mut Store, items: Vec<OutboxItem>) -> crate::Result<Vec<Prepared>> {
        let tx = store.transaction()?;
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            let acct = account_for(&item, &self.config);
            let message = match acct {
                None => Err("no account with [accounts.smtp] to send from".to_string()),
                Some(a) => build_message(&item, a, &self.config),
            };
            let message = match message {
                Ok((m, id)) => {
                    tx.set_message_id(item.message_id, &id)?;
                    Ok(m)
                }
                Err(e) => Err(e),
            };
            out.push(Prepared {
                account: acct.map(|a| a.name.clone()),
                item,
                message,
            });
        }
        tx.commit()?;
        Ok(out)
    }

    /// Appends what was sent to each account's Sent mailbox, when one is
    /// configured. A failed copy is reported, never a reason to resend.
    async fn copy_to_sent(&self, copies: HashMap<String, Vec<Vec<u8>>>, report: &mut SendReport) {
        for (name, msgs) in copies {
            let Some(acct) = self.config.accounts.iter().find(|a| a.name == name) else {
                continue;
            };
            let Some(mailbox) = acct.imap.as_ref().and_then(|i| i.sent_mailbox.clone()) else {
                continue;
            };
            match crate::channel::email::imap::append(acct, &mailbox, &msgs).await {
                Ok(()) => report.copied_to_sent += msgs.len() as u64,
                Err(e) => {
                    tracing::warn!("copy to {mailbox}: {e}");
                    report.copy_errors.push(e.to_string());
                }
            }
        }
    }
}

/// Sends a queue of messages one after another over one session, opening
/// it when needed; hands back the session if it is still good.
async fn lane(
    account: String,
    smtp: SmtpConfig,
    mut session: Option<Session>,
    queue: Vec<(OutboxItem, Message)>,
    out: tokio::sync::mpsc::UnboundedSender<(String, OutboxItem, Message, Outcome)>,
) -> Option<(String, Session)> {
    for (item, message) in queue {
        if let Some(s) = session.as_mut() {
            if s.used.elapsed() > IDLE_CHECK && !s.conn.test_connected().await {
                session = None;
            }
        }
        if session.is_none() {
            match smtp::connect(&smtp).await {
                Ok(conn) => {
                    session = Some(Session {
                        conn,
                        used: Instant::now(),
                    })
                }
                Err(e) => {
                    let _ = out.send((
                        account.clone(),
                        item,
                        message,
                        Err((!e.permanent, e.message)),
                    ));
                    continue;
                }
            }
        }
        let Some(s) = session.as_mut() else { continue };
        let outcome = smtp::send(&smtp, &mut s.conn, &message).await;
        s.used = Instant::now();
        if outcome.is_err() && s.conn.has_broken() {
            session = None;
        }
        let outcome = outcome.map_err(|e| (!e.permanent, e.message));
        if outcome.is_err() {
            // After a refusal the session may be mid-transaction.
            session = None;
        }
        let _ = out.send((account.clone(), item, message, outcome));
    }
    session.map(|s| (account, s))
}

fn record(
    store: &mut Store,
    item: &OutboxItem,
    outcome: Outcome,
    report: &mut SendReport,
) -> crate::Result<()> {
    let tx = store.transaction()?;
    record_in(&tx, item, outcome, report)?;
    tx.commit()
}

fn record_in(
    tx: &crate::store::Tx<'_>,
    item: &OutboxItem,
    outcome: Outcome,
    report: &mut SendReport,
) -> crate::Result<()> {
    match outcome {
        Ok(reply) => {
            tx.mark_sent(item, &reply)?;
            report.sent += 1;
        }
        Err((true, e)) => {
            tracing::info!(outbox = item.id, ticket = item.ticket_id, "will retry: {e}");
            tx.mark_retry(item, tx.now() + backoff(item.attempts), &e)?;
            report.retrying += 1;
        }
        Err((false, e)) => {
            tracing::warn!(outbox = item.id, ticket = item.ticket_id, "failed: {e}");
            tx.mark_failed(item, &e)?;
            report.failed += 1;
        }
    }
    Ok(())
}

/// One pass with a fresh sender (`echodesk outbox send`).
pub async fn send_due(store: &mut Store, config: &Config) -> crate::Result<SendReport> {
    let mut sender = Sender::new(config);
    let r = sender.send_due(store).await;
    sender.close().await;
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_caps() {
        assert_eq!(backoff(0), 30);
        assert_eq!(backoff(1), 60);
        assert!(backoff(5) > backoff(4));
        assert_eq!(backoff(50), 3600);
    }
}
