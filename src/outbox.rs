//! The outbox worker: the only code that sends. It claims due entries
//! (marking them `sending` in a committed transaction first), sends each,
//! and records the result: 2xx → sent; 4xx or a connection problem → queued
//! again with exponential backoff; 5xx → failed, with the server's words on
//! the ticket. Email only for now; SMS and fax entries wait for their
//! channels.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;

use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, Message, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use serde::Serialize;

use crate::channel::email::account::{Account, SmtpConfig, TlsMode};
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
}

/// Seconds to wait before attempt `n + 1` after `n` failed attempts.
pub fn backoff(attempts: i64) -> i64 {
    (30i64 << attempts.clamp(0, 10)).min(3600)
}

fn transport(smtp: &SmtpConfig) -> Result<AsyncSmtpTransport<Tokio1Executor>, String> {
    let mut params = TlsParameters::builder(smtp.host.clone());
    if let Some(path) = &smtp.ca_file {
        let pem = std::fs::read(path).map_err(|e| format!("ca_file {}: {e}", path.display()))?;
        let cert =
            Certificate::from_pem(&pem).map_err(|e| format!("ca_file {}: {e}", path.display()))?;
        params = params.add_root_certificate(cert);
    }
    let params = params
        .build_rustls()
        .map_err(|e| format!("TLS setup: {e}"))?;
    let tls = match smtp.tls {
        TlsMode::Implicit => Tls::Wrapper(params),
        TlsMode::Starttls => Tls::Required(params),
        TlsMode::None => Tls::None,
    };
    let mut b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(smtp.host.clone())
        .port(smtp.port())
        .tls(tls)
        .timeout(Some(Duration::from_secs(smtp.timeout)));
    if let (Some(user), Some(pw)) = (&smtp.user, smtp.password()?) {
        b = b.credentials(Credentials::new(user.clone(), pw));
    }
    Ok(b.build())
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
const CLAIM: usize = 32;
/// Messages on the wire at once (over the transport's pooled connections).
const IN_FLIGHT: usize = 4;

/// Sends due outbox entries. Keeps one pooled SMTP transport per account
/// across passes, so the daemon reuses connections instead of dialling for
/// every message.
pub struct Sender {
    config: Config,
    transports: HashMap<String, AsyncSmtpTransport<Tokio1Executor>>,
    stop: Arc<AtomicBool>,
}

/// A claimed entry made ready to go: its message, or why it cannot be.
struct Prepared {
    item: OutboxItem,
    account: Option<String>,
    message: Result<Message, String>,
}

impl Sender {
    pub fn new(config: &Config) -> Sender {
        Sender {
            config: config.clone(),
            transports: HashMap::new(),
            stop: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Set it and the current pass ends after the messages on the wire.
    pub fn stop_flag(&self) -> Arc<AtomicBool> {
        self.stop.clone()
    }

    fn transport(&mut self, acct: &Account) -> Result<AsyncSmtpTransport<Tokio1Executor>, String> {
        if let Some(t) = self.transports.get(&acct.name) {
            return Ok(t.clone());
        }
        let smtp = acct
            .smtp
            .as_ref()
            .ok_or_else(|| format!("account `{}` has no [accounts.smtp]", acct.name))?;
        let t = transport(smtp)?;
        self.transports.insert(acct.name.clone(), t.clone());
        Ok(t)
    }

    /// One pass: recover interrupted sends, then send everything due.
    pub async fn send_due(&mut self, store: &mut Store) -> crate::Result<SendReport> {
        let mut report = SendReport::default();
        {
            let tx = store.transaction()?;
            report.recovered_unknown = tx.recover_interrupted()? as u64;
            tx.commit()?;
        }
        while !self.stop.load(Ordering::Relaxed) {
            let items = {
                let tx = store.transaction()?;
                let items = tx.claim_due("email", CLAIM)?;
                tx.commit()?;
                items
            };
            if items.is_empty() {
                break;
            }
            let prepared = self.prepare(store, items)?;
            let mut copies: HashMap<String, Vec<Vec<u8>>> = HashMap::new();
            let mut jobs = Vec::new();
            for p in prepared {
                let transport = match (&p.message, p.account.as_ref()) {
                    (Ok(_), Some(name)) => {
                        let acct = self
                            .config
                            .accounts
                            .iter()
                            .find(|a| &a.name == name)
                            .cloned();
                        match acct.map(|a| self.transport(&a)) {
                            Some(Ok(t)) => Some(t),
                            Some(Err(e)) => {
                                record(store, &p.item, Err((true, e)), &mut report)?;
                                continue;
                            }
                            None => None,
                        }
                    }
                    _ => None,
                };
                jobs.push((p, transport));
            }
            let mut results = futures::stream::iter(jobs.into_iter().map(|(p, t)| async move {
                let outcome = match (&p.message, t) {
                    (Err(e), _) => Err((false, e.clone())),
                    (Ok(_), None) => Err((false, "no account to send from".to_string())),
                    (Ok(m), Some(t)) => match t.send(m.clone()).await {
                        Ok(resp) => Ok(format!(
                            "{} {}",
                            resp.code(),
                            resp.message().collect::<Vec<_>>().join(" ")
                        )),
                        Err(e) if e.is_permanent() => Err((false, e.to_string())),
                        Err(e) => Err((true, e.to_string())),
                    },
                };
                (p, outcome)
            }))
            .buffer_unordered(IN_FLIGHT);
            while let Some((p, outcome)) = results.next().await {
                if outcome.is_ok() {
                    if let (Some(name), Ok(m)) = (&p.account, &p.message) {
                        copies.entry(name.clone()).or_default().push(m.formatted());
                    }
                }
                record(store, &p.item, outcome, &mut report)?;
            }
            drop(results);
            self.copy_to_sent(copies, &mut report).await;
        }
        Ok(report)
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

fn record(
    store: &mut Store,
    item: &OutboxItem,
    outcome: Result<String, (bool, String)>,
    report: &mut SendReport,
) -> crate::Result<()> {
    let tx = store.transaction()?;
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
    tx.commit()
}

/// One pass with a fresh sender (`echodesk outbox send`).
pub async fn send_due(store: &mut Store, config: &Config) -> crate::Result<SendReport> {
    Sender::new(config).send_due(store).await
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
