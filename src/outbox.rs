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

pub mod resolve;

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

/// Candidate entries read per round.
const ROUND: usize = 256;
/// SMTP sessions per account working at once.
const LANES: usize = 4;
/// A session idle longer than this is checked with NOOP before use.
const IDLE_CHECK: Duration = Duration::from_secs(10);
/// How often a working sender renews its lease.
const HEARTBEAT: Duration = Duration::from_secs(20);
/// Longest pause for an account whose server could not be reached.
const ACCOUNT_BACKOFF_CAP: Duration = Duration::from_secs(300);

/// An open SMTP session kept between messages and passes.
struct Session {
    conn: AsyncSmtpConnection,
    used: Instant,
}

/// What became of one send.
#[derive(Debug, Clone)]
enum Outcome {
    /// Accepted; the provider's reply or reference.
    Sent(String),
    /// Not now: try again after a backoff.
    Retry(String),
    /// Refused for good.
    Failed(String),
    /// The connection failed after the message was handed over: it may
    /// have arrived, so it waits for `outbox resolve` or an agent.
    Unknown(String),
}

impl Outcome {
    fn from_smtp(r: Result<String, smtp::SendError>) -> Outcome {
        match r {
            Ok(reply) => Outcome::Sent(reply),
            Err(e) if e.unknown => Outcome::Unknown(e.message),
            Err(e) if e.permanent => Outcome::Failed(e.message),
            Err(e) => Outcome::Retry(e.message),
        }
    }

    fn from_sms(r: Result<(String, String), SmsError>) -> Outcome {
        match r {
            Ok((sid, _)) => Outcome::Sent(sid),
            Err(e) if e.unknown => Outcome::Unknown(e.to_string()),
            Err(e) if e.transient => Outcome::Retry(e.to_string()),
            Err(e) => Outcome::Failed(e.to_string()),
        }
    }
}

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
    twilio: HashMap<String, Twilio>,
    stop: Arc<AtomicBool>,
    down: HashMap<String, Down>,
}

/// A lane's request to the ledger: record my last result, give me the
/// next entry to send (or `None`: stop).
struct Ask {
    account: String,
    done: Option<(OutboxItem, Message, Outcome)>,
    reply: tokio::sync::oneshot::Sender<Option<(OutboxItem, Message)>>,
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
            twilio: HashMap::new(),
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

    /// The account an entry leaves through, decided before it is claimed.
    fn mail_account(&self, channel: &str, wrote_to: Option<&str>) -> Option<&Account> {
        let usable = |a: &&Account| {
            a.smtp.is_some()
                && (channel != "fax" || a.fax.as_ref().is_some_and(|f| f.send_to.is_some()))
        };
        wrote_to
            .and_then(|n| {
                self.config
                    .accounts
                    .iter()
                    .filter(usable)
                    .find(|a| a.name == n)
            })
            .or_else(|| self.config.accounts.iter().find(usable))
    }

    async fn send_mail_channel(
        &mut self,
        store: &mut Store,
        channel: &str,
        report: &mut SendReport,
    ) -> crate::Result<()> {
        while !self.stop.load(Ordering::Relaxed) {
            // Candidates by account; nothing is claimed yet.
            let mut queues: HashMap<String, std::collections::VecDeque<i64>> = HashMap::new();
            let mut orphans = Vec::new();
            {
                let tx = store.transaction()?;
                for (id, ticket) in tx.due_ids(channel, ROUND)? {
                    let wrote_to = if channel == "fax" {
                        tx.inbound_account(ticket)?
                    } else {
                        tx.reply_parent_account(ticket)?
                    };
                    match self.mail_account(channel, wrote_to.as_deref()) {
                        Some(a) if self.is_down(&a.name) => {}
                        Some(a) => queues.entry(a.name.clone()).or_default().push_back(id),
                        None => orphans.push(id),
                    }
                }
                let why = if channel == "fax" {
                    "no account with [accounts.fax] send_to and [accounts.smtp] to fax from"
                } else {
                    "no account with [accounts.smtp] to send from"
                };
                for id in orphans {
                    if let Some(item) = tx.claim(id, &self.owner)? {
                        record_in(&tx, &item, Outcome::Failed(why.into()), report)?;
                    }
                }
                tx.commit()?;
            }
            if queues.is_empty() {
                break;
            }
            let copies = self.send_round(store, channel, queues, report).await?;
            self.copy_to_sent(copies, report).await;
        }
        Ok(())
    }

    /// Works the candidate queues with up to [`LANES`] sessions per
    /// account. The ledger (the only user of the store here) claims each
    /// entry when a lane asks for work and records each result, batching
    /// what arrives together into one transaction.
    async fn send_round(
        &mut self,
        store: &mut Store,
        channel: &str,
        mut queues: HashMap<String, std::collections::VecDeque<i64>>,
        report: &mut SendReport,
    ) -> crate::Result<HashMap<String, Vec<Vec<u8>>>> {
        let (ask_tx, mut ask_rx) = tokio::sync::mpsc::unbounded_channel::<Ask>();
        let (fail_tx, mut fail_rx) = tokio::sync::mpsc::unbounded_channel::<(String, String)>();
        let mut lanes = Vec::new();
        for (name, ids) in &queues {
            let Some(smtp) = self
                .config
                .accounts
                .iter()
                .find(|a| a.name == *name)
                .and_then(|a| a.smtp.clone())
            else {
                continue;
            };
            let pool = self.idle.entry(name.clone()).or_default();
            for _ in 0..LANES.min(ids.len()) {
                lanes.push(lane(
                    name.clone(),
                    smtp.clone(),
                    pool.pop(),
                    ask_tx.clone(),
                    fail_tx.clone(),
                ));
            }
        }
        drop(ask_tx);
        drop(fail_tx);
        let wants_copy: std::collections::HashSet<String> = self
            .config
            .accounts
            .iter()
            .filter(|a| {
                a.imap
                    .as_ref()
                    .is_some_and(|i| i.sent_mailbox.is_some() && !i.server_saves_sent)
            })
            .map(|a| a.name.clone())
            .collect();
        let mut copies: HashMap<String, Vec<Vec<u8>>> = HashMap::new();
        let config = &self.config;
        let owner = self.owner.clone();
        let stop = self.stop.clone();
        let mut unreachable: HashMap<String, String> = HashMap::new();
        let ledger = async {
            let mut beat = tokio::time::interval(HEARTBEAT);
            beat.tick().await;
            loop {
                let first = tokio::select! {
                    a = ask_rx.recv() => match a { Some(a) => a, None => break },
                    _ = beat.tick() => {
                        let tx = store.transaction()?;
                        tx.sender_heartbeat(&owner)?;
                        tx.commit()?;
                        continue;
                    }
                };
                while let Ok((name, why)) = fail_rx.try_recv() {
                    unreachable.insert(name, why);
                }
                let mut batch = vec![first];
                while batch.len() < 64 {
                    match ask_rx.try_recv() {
                        Ok(a) => batch.push(a),
                        Err(_) => break,
                    }
                }
                let tx = store.transaction()?;
                let mut replies = Vec::with_capacity(batch.len());
                for ask in batch {
                    if let Some((item, message, outcome)) = ask.done {
                        if matches!(outcome, Outcome::Sent(_)) && wants_copy.contains(&ask.account)
                        {
                            copies
                                .entry(ask.account.clone())
                                .or_default()
                                .push(message.formatted());
                        }
                        record_in(&tx, &item, outcome, report)?;
                    }
                    let mut next = None;
                    let stopping =
                        stop.load(Ordering::Relaxed) || unreachable.contains_key(&ask.account);
                    let queue = queues.get_mut(&ask.account);
                    if let (false, Some(queue)) = (stopping, queue) {
                        while let Some(id) = queue.pop_front() {
                            let Some(mut item) = tx.claim(id, &owner)? else {
                                continue;
                            };
                            match prepare(&tx, config, channel, &ask.account, &mut item)? {
                                Ok(m) => {
                                    next = Some((item, m));
                                    break;
                                }
                                Err(e) => record_in(&tx, &item, Outcome::Failed(e), report)?,
                            }
                        }
                    }
                    replies.push((ask.reply, next));
                }
                tx.commit()?;
                for (reply, next) in replies {
                    if let Err(Some((item, _))) = reply.send(next) {
                        // The lane is gone (it cannot be, short of a
                        // panic): give the entry back rather than strand it.
                        let tx = store.transaction()?;
                        tx.mark_retry(&item, tx.now(), "not sent: its session ended")?;
                        tx.commit()?;
                    }
                }
            }
            Ok::<(), crate::Error>(())
        };
        let (kept, recorded) = tokio::join!(futures::future::join_all(lanes), ledger);
        for (name, session) in kept.into_iter().flatten() {
            self.idle.entry(name).or_default().push(session);
        }
        recorded?;
        for (name, why) in &unreachable {
            self.mark_down(name);
            store.record_poll(name, crate::store::SEND_STATUS, Err(why));
        }
        for name in queues.keys().filter(|n| !unreachable.contains_key(*n)) {
            self.down.remove(name);
            store.record_poll(name, crate::store::SEND_STATUS, Ok(0));
        }
        Ok(copies)
    }

    async fn send_sms_due(
        &mut self,
        store: &mut Store,
        report: &mut SendReport,
    ) -> crate::Result<()> {
        let mut last_beat = Instant::now();
        'rounds: while !self.stop.load(Ordering::Relaxed) {
            let candidates = {
                let tx = store.transaction()?;
                let mut out = Vec::new();
                for (id, ticket) in tx.due_ids("sms", ROUND)? {
                    let wrote_to = tx.inbound_account(ticket)?;
                    let acct =
                        crate::channel::sms::account_for(&self.config.sms, wrote_to.as_deref())
                            .map(|a| a.name.clone());
                    if !acct.as_deref().is_some_and(|a| self.is_down(a)) {
                        out.push((id, acct));
                    }
                }
                tx.commit()?;
                out
            };
            if candidates.is_empty() {
                break;
            }
            for (id, account) in candidates {
                if self.stop.load(Ordering::Relaxed) {
                    break 'rounds;
                }
                if account.as_deref().is_some_and(|a| self.is_down(a)) {
                    continue;
                }
                let item = {
                    let tx = store.transaction()?;
                    if last_beat.elapsed() > HEARTBEAT {
                        tx.sender_heartbeat(&self.owner)?;
                        last_beat = Instant::now();
                    }
                    let item = tx.claim(id, &self.owner)?;
                    tx.commit()?;
                    item
                };
                let Some(mut item) = item else { continue };
                item.account.clone_from(&account);
                let result = self.send_sms(&item).await;
                let unreachable = match &result {
                    Err(e) if e.transient => Some(e.to_string()),
                    _ => None,
                };
                let status = result.as_ref().ok().map(|(_, st)| st.clone());
                let tx = store.transaction()?;
                record_in(&tx, &item, Outcome::from_sms(result), report)?;
                if let Some(st) = status {
                    tx.set_delivery(item.id, &st, None)?;
                }
                tx.commit()?;
                if let Some(a) = &account {
                    match &unreachable {
                        Some(why) => {
                            self.mark_down(a);
                            store.record_poll(a, crate::store::SEND_STATUS, Err(why));
                        }
                        None => {
                            self.down.remove(a);
                            store.record_poll(a, crate::store::SEND_STATUS, Ok(0));
                        }
                    }
                }
            }
        }
        Ok(())
    }

    async fn twilio(
        &mut self,
        acct: &crate::channel::sms::account::SmsAccount,
    ) -> Result<&Twilio, SmsError> {
        if !self.twilio.contains_key(&acct.name) {
            let t = Twilio::new(acct).await?;
            self.twilio.insert(acct.name.clone(), t);
        }
        self.twilio
            .get(&acct.name)
            .ok_or_else(|| SmsError::new(&acct.name, "setup", "no client", true))
    }

    /// The message SID (or spool name) and the gateway's status.
    async fn send_sms(&mut self, item: &OutboxItem) -> Result<(String, String), SmsError> {
        use crate::channel::sms::account::Kind;
        let acct = item
            .account
            .as_deref()
            .and_then(|n| self.config.sms.iter().find(|a| a.name == n))
            .cloned()
            .ok_or_else(|| SmsError::new("", "send", "no [[sms]] account to send from", false))?;
        crate::channel::sms::check_length(&acct, &item.body)
            .map_err(|e| SmsError::new(&acct.name, "send", &e, false))?;
        match acct.kind {
            Kind::Twilio => {
                let m = self
                    .twilio(&acct)
                    .await?
                    .send(&item.recipient, &item.body)
                    .await?;
                Ok((m.sid, m.status))
            }
            Kind::Smstools => crate::channel::sms::smstools::send(&acct, item)
                .map(|name| (name, "queued".to_string())),
            Kind::Gammu => {
                crate::channel::sms::gammu::send(&acct, item).map(|id| (id, "queued".to_string()))
            }
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
                    let Ok(api) = self.twilio(&acct).await else {
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

/// Builds a claimed entry's message and records its Message-ID before it
/// leaves, so an answer that arrives at once still threads. `Err` is why
/// it can never be sent as it is.
fn prepare(
    tx: &crate::store::Tx<'_>,
    config: &Config,
    channel: &str,
    account: &str,
    item: &mut OutboxItem,
) -> crate::Result<Result<Message, String>> {
    item.account = Some(account.to_string());
    let Some(acct) = config.accounts.iter().find(|a| a.name == account) else {
        return Ok(Err(format!("account `{account}` is no longer configured")));
    };
    let built = if channel == "fax" {
        crate::channel::fax::outbound::build(
            item,
            acct,
            &config.default_region,
            &config.subject_tag,
        )
    } else {
        build_message(item, acct, config)
    };
    Ok(match built {
        Ok((m, id)) => {
            tx.set_message_id(item.message_id, &id)?;
            Ok(m)
        }
        Err(e) => Err(e),
    })
}

/// One SMTP session's worth of sending: asks the ledger for an entry,
/// sends it, hands back the result with the next request. Opens the
/// session when needed; if the server cannot be reached, says so on
/// `unreachable` and stops, leaving the rest of the queue unclaimed.
/// Returns the session if it is still good.
async fn lane(
    account: String,
    smtp: SmtpConfig,
    mut session: Option<Session>,
    asks: tokio::sync::mpsc::UnboundedSender<Ask>,
    unreachable: tokio::sync::mpsc::UnboundedSender<(String, String)>,
) -> Option<(String, Session)> {
    let mut done = None;
    loop {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let ask = Ask {
            account: account.clone(),
            done: done.take(),
            reply,
        };
        if asks.send(ask).is_err() {
            break;
        }
        let Ok(Some((item, message))) = answer.await else {
            break;
        };
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
                    let _ = unreachable.send((account.clone(), e.message.clone()));
                    done = Some((item, message, Outcome::Retry(e.message)));
                    continue;
                }
            }
        }
        let Some(s) = session.as_mut() else { continue };
        let outcome = Outcome::from_smtp(smtp::send(&smtp, &mut s.conn, &message).await);
        s.used = Instant::now();
        if !matches!(outcome, Outcome::Sent(_)) {
            // After a refusal or a timeout the session may be mid-transaction.
            session = None;
        }
        done = Some((item, message, outcome));
    }
    session.map(|s| (account, s))
}

fn record_in(
    tx: &crate::store::Tx<'_>,
    item: &OutboxItem,
    outcome: Outcome,
    report: &mut SendReport,
) -> crate::Result<()> {
    match outcome {
        Outcome::Sent(reply) => {
            tx.mark_sent(item, &reply)?;
            report.sent += 1;
        }
        Outcome::Retry(e) => {
            tracing::info!(outbox = item.id, ticket = item.ticket_id, "will retry: {e}");
            tx.mark_retry(item, tx.now() + backoff(item.attempts, report.retry), &e)?;
            report.retrying += 1;
        }
        Outcome::Failed(e) => {
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
