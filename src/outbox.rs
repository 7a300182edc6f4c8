//! The outbox worker: the only code that sends. It claims due entries
//! (marking them `sending` in a committed transaction first), sends each,
//! and records the result: 2xx → sent; 4xx or a connection problem → queued
//! again with exponential backoff; 5xx → failed, with the server's words on
//! the ticket. Email only for now; SMS and fax entries wait for their
//! channels.

use std::time::Duration;

use lettre::message::{Mailbox, Message};
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
        .message_id(Some(format!("<{message_id}>")))
        .header(lettre::message::header::ContentType::TEXT_PLAIN);
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
    let msg = b
        .body(item.body.clone())
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

/// One pass: recover interrupted sends, then send everything due.
pub async fn send_due(store: &mut Store, config: &Config) -> crate::Result<SendReport> {
    let mut report = SendReport::default();
    {
        let tx = store.transaction()?;
        report.recovered_unknown = tx.recover_interrupted()? as u64;
        tx.commit()?;
    }
    loop {
        let items = {
            let tx = store.transaction()?;
            let items = tx.claim_due("email", 50)?;
            tx.commit()?;
            items
        };
        if items.is_empty() {
            break;
        }
        for item in items {
            let outcome = send_one(store, config, &item).await;
            let tx = store.transaction()?;
            match outcome {
                Ok(reply) => {
                    tx.mark_sent(&item, &reply)?;
                    report.sent += 1;
                }
                Err((true, e)) => {
                    tx.mark_retry(&item, tx.now() + backoff(item.attempts), &e)?;
                    report.retrying += 1;
                }
                Err((false, e)) => {
                    tx.mark_failed(&item, &e)?;
                    report.failed += 1;
                }
            }
            tx.commit()?;
        }
    }
    Ok(report)
}

/// Ok(server reply) or Err((retry?, what happened)).
async fn send_one(
    store: &mut Store,
    config: &Config,
    item: &OutboxItem,
) -> Result<String, (bool, String)> {
    let acct = account_for(item, config).ok_or((
        false,
        "no account with [accounts.smtp] to send from".to_string(),
    ))?;
    let smtp = acct.smtp.as_ref().ok_or((false, "no smtp".to_string()))?;
    let (msg, message_id) = build_message(item, acct, config).map_err(|e| (false, e))?;
    // The Message-ID is stored before the message leaves, so an answer
    // that arrives at once still threads.
    {
        let tx = store.transaction().map_err(|e| (true, e.to_string()))?;
        tx.set_message_id(item.message_id, &message_id)
            .map_err(|e| (true, e.to_string()))?;
        tx.commit().map_err(|e| (true, e.to_string()))?;
    }
    let transport = transport(smtp).map_err(|e| (true, e))?;
    match transport.send(msg).await {
        Ok(resp) => Ok(format!(
            "{} {}",
            resp.code(),
            resp.message().collect::<Vec<_>>().join(" ")
        )),
        Err(e) if e.is_permanent() => Err((false, format!("{}: {e}", smtp.host))),
        Err(e) => Err((true, format!("{}: {e}", smtp.host))),
    }
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
