//! `echodesk outbox resolve`: settles entries a crash left `unknown` by
//! looking where the provider keeps its own record, instead of asking an
//! agent to guess.
//!
//! - Email and fax: the Message-ID was recorded before the send began, so
//!   the account's Sent mailbox (and its other mailboxes, for copies the
//!   sender keeps) is searched for it. Found: sent. Not found: only proof
//!   when the server itself files what it accepts (`server_saves_sent`);
//!   echodesk's own copy is made after the send, so a crash in between
//!   leaves none.
//! - Twilio: the gateway lists every message it accepted. A message from
//!   our number to the recipient since the day of the claim with the same
//!   body is the one; none means it never reached the gateway.
//! - smstools and Gammu: the spool and the database are local, written in
//!   one atomic step; the file or row named after the entry decides.

use serde::Serialize;

use crate::channel::sms::Gateway;
use crate::config::Config;
use crate::outbound::{Probe, Transport};
use crate::store::{OutboxRow, Store, Verdict};

/// One entry's finding.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub id: i64,
    pub ticket_id: i64,
    #[serde(flatten)]
    pub verdict: Verdict,
    /// How it was decided, in words (also in the ticket's event).
    pub how: String,
    /// Whether the store was changed.
    pub applied: bool,
}

/// Looks up `ids` (all unknown entries when empty) and, unless `dry_run`,
/// records what was found.
pub async fn resolve(
    store: &mut Store,
    config: &Config,
    ids: &[i64],
    dry_run: bool,
    agent: &str,
) -> crate::Result<Vec<Finding>> {
    let rows: Vec<OutboxRow> = if ids.is_empty() {
        store
            .outbox_rows(false)?
            .into_iter()
            .filter(|r| r.status == "unknown")
            .collect()
    } else {
        let mut out = Vec::new();
        for id in ids {
            let row = store.outbox_row(*id)?.ok_or_else(|| {
                crate::Error::invalid("outbox entry", id.to_string(), "no such entry")
            })?;
            if row.status != "unknown" {
                return Err(crate::Error::invalid(
                    "outbox entry",
                    id.to_string(),
                    format!("it is {}, not unknown", row.status),
                ));
            }
            out.push(row);
        }
        out
    };
    let mut findings = Vec::with_capacity(rows.len());
    for row in rows {
        let (verdict, how) = match row.channel.as_str() {
            "email" | "fax" => by_mailbox(store, config, &row).await?,
            "sms" => by_gateway(store, config, &row).await?,
            other => (
                Verdict::Unsure,
                format!("no way to look up a {other} entry"),
            ),
        };
        let applied = if dry_run || verdict == Verdict::Unsure {
            false
        } else {
            let tx = store.transaction()?;
            let done = tx.resolve_outbox(row.id, &verdict, &how, agent)?;
            tx.commit()?;
            done
        };
        findings.push(Finding {
            id: row.id,
            ticket_id: row.ticket_id,
            verdict,
            how,
            applied,
        });
    }
    Ok(findings)
}

async fn by_mailbox(
    store: &Store,
    config: &Config,
    row: &OutboxRow,
) -> crate::Result<(Verdict, String)> {
    let Some(mid) = store.sent_message_id(row.message_id)? else {
        return Ok((
            Verdict::NotSent,
            "it never got a Message-ID, which is recorded before a send begins".into(),
        ));
    };
    let Some(acct) = config
        .account(&row.account)
        .or_else(|| config.accounts.iter().find(|a| a.smtp.is_some()))
    else {
        return Ok((
            Verdict::Unsure,
            format!("account `{}` is not configured", row.account),
        ));
    };
    let Some(imap) = &acct.imap else {
        return Ok((
            Verdict::Unsure,
            format!("account `{}` has no [accounts.imap] to search", acct.name),
        ));
    };
    let mut mailboxes: Vec<String> = imap.sent_mailbox.iter().cloned().collect();
    for m in &imap.mailboxes {
        if !mailboxes.contains(m) {
            mailboxes.push(m.clone());
        }
    }
    let found = match crate::channel::email::imap::find_message_id(acct, &mailboxes, &mid).await {
        Ok(f) => f,
        Err(e) => return Ok((Verdict::Unsure, format!("searching failed: {e}"))),
    };
    if let Some(mb) = found.first() {
        return Ok((
            Verdict::Sent(None),
            format!("Message-ID <{mid}> found in {mb}"),
        ));
    }
    let searched = mailboxes.join(", ");
    match (&imap.sent_mailbox, imap.server_saves_sent) {
        (Some(sent), true) => Ok((
            Verdict::NotSent,
            format!("Message-ID <{mid}> is not in {sent}, where the server files everything it accepts"),
        )),
        _ => Ok((
            Verdict::Unsure,
            format!(
                "Message-ID <{mid}> is not in {searched}; echodesk copies a reply to Sent after the send, so that is no proof (set server_saves_sent if the server files sent mail itself)"
            ),
        )),
    }
}

async fn by_gateway(
    store: &Store,
    config: &Config,
    row: &OutboxRow,
) -> crate::Result<(Verdict, String)> {
    let Some(acct) = config
        .sms_account(&row.account)
        .or_else(|| config.sms.first())
    else {
        return Ok((
            Verdict::Unsure,
            format!("[[sms]] account `{}` is not configured", row.account),
        ));
    };
    let body = store.message_body(row.message_id)?.unwrap_or_default();
    let probe = Probe {
        outbox_id: row.id,
        recipient: &row.recipient,
        body: &body,
        since: row.claimed_at.unwrap_or(row.updated_at),
    };
    Ok(Gateway::new(acct).look_for(&probe).await)
}
