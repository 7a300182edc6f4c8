//! Mail out: building replies (and faxes, which leave as mail to an
//! email-to-fax gateway), the SMTP lanes that send them, the ledger that
//! claims and records, and the copies to the Sent mailbox.

use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, Message, MultiPart, SinglePart};
use lettre::transport::smtp::client::AsyncSmtpConnection;

use super::*;
use crate::channel::email::account::{Account, SmtpConfig};
use crate::channel::email::smtp;

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
    let token = crate::digest::sha256_hex(
        format!("{}:{}:{}", item.id, item.message_id, crate::model::now()).as_bytes(),
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
    // "Re:" only on an answer: a first message (a notice to customers, a
    // report to a manager) goes out under its own subject.
    let mut subject = if item.parent.is_none() || base.to_lowercase().starts_with("re:") {
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

/// SMTP sessions per account working at once.
const LANES: usize = 4;

/// A session idle longer than this is checked with NOOP before use.
const IDLE_CHECK: Duration = Duration::from_secs(10);

/// An open SMTP session kept between messages and passes.
pub(super) struct Session {
    pub(super) conn: AsyncSmtpConnection,
    used: Instant,
}

/// A lane's request to the ledger: record my last result, give me the
/// next entry to send (or `None`: stop).
pub(super) struct Ask {
    account: String,
    done: Option<(OutboxItem, Message, Outcome)>,
    reply: tokio::sync::oneshot::Sender<Option<(OutboxItem, Prepared)>>,
}

/// A built message and its Message-ID.
type Prepared = (Message, String);

/// SMTP through one account: replies, or faxes as mail to the account's
/// email-to-fax gateway. Holds at most one session.
pub(super) struct Smtp<'c> {
    config: &'c Config,
    acct: &'c Account,
    smtp: &'c SmtpConfig,
    fax: bool,
    session: Option<Session>,
}

impl<'c> Smtp<'c> {
    fn new(config: &'c Config, acct: &'c Account, channel: &str) -> Option<Smtp<'c>> {
        Some(Smtp {
            config,
            acct,
            smtp: acct.smtp.as_ref()?,
            fax: channel == "fax",
            session: None,
        })
    }
}

impl Transport for Smtp<'_> {
    type Prepared = Prepared;

    fn prepare(&self, item: &OutboxItem) -> Result<Prepared, String> {
        if self.fax {
            crate::channel::fax::outbound::build(
                item,
                self.acct,
                &self.config.default_region,
                &self.config.subject_tag,
            )
        } else {
            build_message(item, self.acct, self.config)
        }
    }

    /// Opens the session when needed (checking one idle for a while with
    /// NOOP); after anything but a 2xx the session may be mid-transaction,
    /// so it is dropped.
    async fn send(&mut self, (message, _): &Prepared, _: &OutboxItem) -> Outcome {
        if let Some(s) = self.session.as_mut() {
            if s.used.elapsed() > IDLE_CHECK && !s.conn.test_connected().await {
                self.session = None;
            }
        }
        if self.session.is_none() {
            match smtp::connect(self.smtp).await {
                Ok(conn) => {
                    self.session = Some(Session {
                        conn,
                        used: Instant::now(),
                    })
                }
                Err(e) => {
                    return Outcome::Retry {
                        reason: e.message,
                        after: None,
                        unreachable: true,
                    }
                }
            }
        }
        let Some(s) = self.session.as_mut() else {
            return Outcome::retry("no session");
        };
        let outcome = smtp::SendError::outcome(smtp::send(self.smtp, &mut s.conn, message).await);
        s.used = Instant::now();
        if !outcome.is_sent() {
            self.session = None;
        }
        outcome
    }
}

/// Builds a claimed entry's message and records its Message-ID before it
/// leaves, so an answer that arrives at once still threads. `Err` is why
/// it can never be sent as it is.
fn prepare(
    tx: &crate::store::Tx<'_>,
    transport: Option<&Smtp<'_>>,
    account: &str,
    item: &mut OutboxItem,
) -> crate::Result<Result<Prepared, String>> {
    item.account = Some(account.to_string());
    let Some(transport) = transport else {
        return Ok(Err(format!("account `{account}` is no longer configured")));
    };
    Ok(match transport.prepare(item) {
        Ok((m, id)) => {
            tx.set_message_id(item.message_id, &id)?;
            Ok((m, id))
        }
        Err(e) => Err(e),
    })
}

/// One SMTP session's worth of sending: asks the ledger for an entry,
/// sends it, hands back the result with the next request. If the server
/// cannot be reached, says so on `unreachable` (the ledger then stops
/// giving it work, leaving the rest of the queue unclaimed). Returns the
/// session if it is still good.
async fn lane(
    mut transport: Smtp<'_>,
    asks: tokio::sync::mpsc::UnboundedSender<Ask>,
    unreachable: tokio::sync::mpsc::UnboundedSender<(String, String)>,
) -> Option<(String, Session)> {
    let account = transport.acct.name.clone();
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
        let Ok(Some((item, prepared))) = answer.await else {
            break;
        };
        let outcome = transport.send(&prepared, &item).await;
        if let Outcome::Retry {
            reason,
            unreachable: true,
            ..
        } = &outcome
        {
            let _ = unreachable.send((account.clone(), reason.clone()));
        }
        done = Some((item, prepared.0, outcome));
    }
    transport.session.map(|s| (account, s))
}

impl Sender {
    /// The account an entry leaves through, decided before it is claimed.
    pub(super) fn mail_account(&self, channel: &str, wrote_to: Option<&str>) -> Option<&Account> {
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

    pub(super) async fn send_mail_channel(
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
                        record_in(&tx, &item, Outcome::Permanent(why.into()), report)?;
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
    pub(super) async fn send_round(
        &mut self,
        store: &mut Store,
        channel: &str,
        mut queues: HashMap<String, std::collections::VecDeque<i64>>,
        report: &mut SendReport,
    ) -> crate::Result<HashMap<String, Vec<Vec<u8>>>> {
        let (ask_tx, mut ask_rx) = tokio::sync::mpsc::unbounded_channel::<Ask>();
        let (fail_tx, mut fail_rx) = tokio::sync::mpsc::unbounded_channel::<(String, String)>();
        let mut lanes = Vec::new();
        // One transport per account builds the messages (in the ledger);
        // each lane has its own, with its session.
        let mut builders: HashMap<String, Smtp<'_>> = HashMap::new();
        for (name, ids) in &queues {
            let Some(acct) = self.config.account(name) else {
                continue;
            };
            let Some(builder) = Smtp::new(&self.config, acct, channel) else {
                continue;
            };
            builders.insert(name.clone(), builder);
            let pool = self.idle.entry(name.clone()).or_default();
            for _ in 0..LANES.min(ids.len()) {
                let Some(mut transport) = Smtp::new(&self.config, acct, channel) else {
                    continue;
                };
                transport.session = pool.pop();
                lanes.push(lane(transport, ask_tx.clone(), fail_tx.clone()));
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
                        if outcome.is_sent() && wants_copy.contains(&ask.account) {
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
                            let builder = builders.get(&ask.account);
                            match prepare(&tx, builder, &ask.account, &mut item)? {
                                Ok(m) => {
                                    next = Some((item, m));
                                    break;
                                }
                                Err(e) => record_in(&tx, &item, Outcome::Permanent(e), report)?,
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

    /// Appends what was sent to each account's Sent mailbox, when one is
    /// configured. A failed copy is reported, never a reason to resend.
    pub(super) async fn copy_to_sent(
        &self,
        copies: HashMap<String, Vec<Vec<u8>>>,
        report: &mut SendReport,
    ) {
        for (name, msgs) in copies {
            let Some(acct) = self.config.account(&name) else {
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
