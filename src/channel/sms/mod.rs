//! SMS: gateway accounts, Twilio's REST API, segment arithmetic, and the
//! poll and send passes that connect them to ingest and the outbox.

pub mod account;
pub mod gammu;
pub mod segments;
pub mod smstools;
pub mod twilio;

use serde::Serialize;

use crate::inbound::{Cursor, Inbound, InboundAttachment, Sink, SinkError, Tally};
use crate::model::Channel;
use crate::outbound::{Delivery, OutboxItem, Outcome, Probe, Transport, Verdict};
use account::{Kind, SmsAccount};

/// What went wrong, naming the account and the step; `transient` errors
/// are worth retrying.
#[derive(Debug, Clone, thiserror::Error)]
#[error("sms account `{account}`: {step}: {message}")]
pub struct SmsError {
    pub account: String,
    pub step: &'static str,
    pub message: String,
    pub transient: bool,
    /// A send that may have reached the gateway: never repeated by itself.
    pub unknown: bool,
}

impl SmsError {
    pub fn new(
        account: &str,
        step: &'static str,
        message: impl Into<String>,
        transient: bool,
    ) -> Self {
        SmsError {
            account: account.to_string(),
            step,
            message: message.into(),
            transient,
            unknown: false,
        }
    }

    /// A send whose fate the gateway did not tell.
    pub fn unknown(account: &str, step: &'static str, message: impl Into<String>) -> Self {
        SmsError {
            unknown: true,
            ..SmsError::new(account, step, message, false)
        }
    }
}

impl SmsError {
    /// A failed send as the outbox records it: a gateway that could not be
    /// reached (or answered 429/5xx) pauses the account and is retried.
    pub fn outcome(self) -> Outcome {
        let text = self.to_string();
        if self.unknown {
            Outcome::Unknown(text)
        } else if self.transient {
            Outcome::Retry {
                reason: text,
                after: None,
                unreachable: true,
            }
        } else {
            Outcome::Permanent(text)
        }
    }
}

/// An `[[sms]]` account's gateway: the one place that knows which kind it
/// is. The Twilio client is made at the first send (its secret is read
/// then) and kept.
pub enum Gateway {
    Twilio {
        acct: SmsAccount,
        api: Option<Box<twilio::Twilio>>,
    },
    Smstools(SmsAccount),
    Gammu(SmsAccount),
}

impl Gateway {
    pub fn new(acct: &SmsAccount) -> Gateway {
        match acct.kind() {
            Kind::Twilio => Gateway::Twilio {
                acct: acct.clone(),
                api: None,
            },
            Kind::Smstools => Gateway::Smstools(acct.clone()),
            Kind::Gammu => Gateway::Gammu(acct.clone()),
        }
    }

    pub fn account(&self) -> &SmsAccount {
        match self {
            Gateway::Twilio { acct, .. } | Gateway::Smstools(acct) | Gateway::Gammu(acct) => acct,
        }
    }

    async fn api(acct: &SmsAccount, api: &mut Option<Box<twilio::Twilio>>) -> Result<(), SmsError> {
        if api.is_none() {
            *api = Some(Box::new(twilio::Twilio::new(acct).await?));
        }
        Ok(())
    }
}

impl Transport for Gateway {
    /// A text is sent as it is stored; preparing only checks its length.
    type Prepared = ();

    fn prepare(&self, item: &OutboxItem) -> Result<(), String> {
        check_length(self.account(), &item.body).map(|_| ())
    }

    async fn send(&mut self, _: &(), item: &OutboxItem) -> Outcome {
        let queued = |reference: String| Outcome::Sent {
            reference,
            status: Some("queued".into()),
        };
        let sent = match self {
            Gateway::Twilio { acct, api } => match Gateway::api(acct, api).await {
                Err(e) => Err(e),
                Ok(()) => match api.as_ref() {
                    Some(api) => {
                        api.send(&item.recipient, &item.body)
                            .await
                            .map(|m| Outcome::Sent {
                                reference: m.sid,
                                status: Some(m.status),
                            })
                    }
                    None => Err(SmsError::new(&acct.name, "setup", "no client", true)),
                },
            },
            Gateway::Smstools(acct) => smstools::send(acct, item).map(queued),
            Gateway::Gammu(acct) => gammu::send(acct, item).map(queued),
        };
        sent.unwrap_or_else(SmsError::outcome)
    }

    async fn delivery(&mut self, reference: &str) -> Option<Delivery> {
        let (status, detail) = match self {
            Gateway::Twilio { acct, api } => {
                Gateway::api(acct, api).await.ok()?;
                match api.as_ref()?.fetch(reference).await {
                    Ok(m) => (
                        m.status,
                        m.error_code
                            .map(|c| format!("error {c}: {}", m.error_message.unwrap_or_default())),
                    ),
                    Err(e) => {
                        tracing::info!("delivery of {reference}: {e}");
                        return None;
                    }
                }
            }
            Gateway::Smstools(acct) => smstools::delivery(acct, reference)?,
            Gateway::Gammu(acct) => gammu::delivery(acct, reference)?,
        };
        Some(Delivery { status, detail })
    }

    async fn look_for(&mut self, probe: &Probe<'_>) -> (Verdict, String) {
        match self {
            Gateway::Twilio { acct, api } => {
                let day = chrono::DateTime::from_timestamp(probe.since, 0)
                    .map(|d| d.date_naive())
                    .unwrap_or_else(|| chrono::Utc::now().date_naive());
                // Twilio filters by whole GMT days: from the day before.
                let day = day.pred_opt().unwrap_or(day);
                if let Err(e) = Gateway::api(acct, api).await {
                    return (Verdict::Unsure, e.to_string());
                }
                let Some(client) = api.as_ref() else {
                    return (Verdict::Unsure, "no client".into());
                };
                let sent = match client.sent_to(probe.recipient, day).await {
                    Ok(s) => s,
                    Err(e) => return (Verdict::Unsure, format!("listing failed: {e}")),
                };
                let ours = sent
                    .iter()
                    .find(|m| m.body.as_deref().map(str::trim) == Some(probe.body.trim()));
                match ours {
                    Some(m) => (
                        Verdict::Sent(Some(m.sid.clone())),
                        format!(
                            "the gateway lists {} from {} to {} with this text",
                            m.sid, acct.number, probe.recipient
                        ),
                    ),
                    None => (
                        Verdict::NotSent,
                        format!(
                            "the gateway lists no message from {} to {} with this text since {day}",
                            acct.number, probe.recipient
                        ),
                    ),
                }
            }
            Gateway::Smstools(acct) => match smstools::find_sent(acct, probe.outbox_id) {
                Some(place) => (
                    Verdict::Sent(Some(smstools::file_name(probe.outbox_id))),
                    format!("its spool file is in {place}"),
                ),
                None => (
                    Verdict::NotSent,
                    "no spool file of it in outgoing, checked, sent or failed".into(),
                ),
            },
            Gateway::Gammu(_) => (
                Verdict::Unsure,
                "Gammu's tables do not name the entry; check `gammu-smsd-monitor` or its sentitems"
                    .into(),
            ),
        }
    }
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct PollReport {
    pub account: String,
    pub fetched: u64,
    pub created: u64,
    pub threaded: u64,
    pub duplicates: u64,
}

impl PollReport {
    pub(crate) fn add(&mut self, t: Tally) {
        self.fetched += t.fetched;
        self.created += t.created;
        self.threaded += t.threaded;
        self.duplicates += t.duplicates;
    }
}

/// The cursor: the GMT day of the newest message stored.
const CURSOR: &str = "twilio:newest-day";

/// One pass over a Twilio account: every inbound message since the day
/// before the cursor, stored in one transaction with the moved cursor.
pub async fn poll_twilio(sink: &mut impl Sink, acct: &SmsAccount) -> Result<PollReport, SmsError> {
    let api = twilio::Twilio::new(acct).await?;
    let err = |step: &'static str| move |e: SinkError| SmsError::new(&acct.name, step, e.0, true);
    let cursor = sink
        .cursor(&acct.name, CURSOR)
        .await
        .map_err(err("store"))?;
    let today = chrono::Utc::now().date_naive();
    // From the day before the cursor (the API filters by whole GMT days);
    // the first time, `history_days` back.
    let since = match cursor
        .as_deref()
        .and_then(|c| chrono::NaiveDate::parse_from_str(c, "%Y-%m-%d").ok())
    {
        Some(day) => day.pred_opt().unwrap_or(day),
        None => {
            today - chrono::Duration::days(i64::from(acct.twilio().map_or(1, |t| t.history_days)))
        }
    };
    let msgs = api.inbound_since(since).await?;
    let mut report = PollReport {
        account: acct.name.clone(),
        ..Default::default()
    };
    // Media first (network), then one transaction for the lot.
    let mut inbound = Vec::with_capacity(msgs.len());
    let mut newest = since;
    for m in &msgs {
        if sink.known(&acct.name, &m.sid).await.map_err(err("store"))? {
            // Listed again (the API filters by whole days): fetched, and
            // already stored.
            report.fetched += 1;
            report.duplicates += 1;
            continue;
        }
        inbound.push(m.clone());
    }
    let mut parsed = Vec::with_capacity(inbound.len());
    for m in inbound {
        let at = m.sent_at().unwrap_or_else(crate::model::now);
        if let Some(d) = chrono::DateTime::from_timestamp(at, 0).map(|d| d.date_naive()) {
            newest = newest.max(d);
        }
        let attachments = if m.media_count() > 0 {
            api.media(&m.sid)
                .await?
                .into_iter()
                .map(|(ctype, data, sid)| InboundAttachment {
                    filename: format!("{sid}.{}", extension(&ctype)),
                    content_type: ctype,
                    data,
                })
                .collect()
        } else {
            Vec::new()
        };
        parsed.push(text_message(
            acct,
            &m.sid,
            m.from.as_deref().unwrap_or(""),
            m.body.as_deref().unwrap_or(""),
            at,
            attachments,
        ));
    }
    let keep = cursor
        .as_deref()
        .and_then(|c| chrono::NaiveDate::parse_from_str(c, "%Y-%m-%d").ok());
    let day = keep.map_or(newest, |k| k.max(newest));
    let cursor = Cursor::new(&acct.name, CURSOR, day.format("%Y-%m-%d").to_string());
    let t = sink
        .commit(parsed, vec![cursor])
        .await
        .map_err(err("store"))?;
    report.add(t);
    Ok(report)
}

/// An inbound text as ingest takes it. Empty texts are kept (as such):
/// customers send them by mistake, and MMS may carry only media.
pub fn text_message(
    acct: &SmsAccount,
    provider_id: &str,
    from: &str,
    body: &str,
    at: i64,
    attachments: Vec<InboundAttachment>,
) -> Inbound {
    let body_text = if body.trim().is_empty() && attachments.is_empty() {
        "(empty message)".to_string()
    } else {
        body.to_string()
    };
    Inbound {
        channel: Channel::Sms,
        account: acct.name.clone(),
        provider_id: provider_id.to_string(),
        message_id: None,
        refs: Vec::new(),
        from_addr: from.to_string(),
        from_name: None,
        to_addr: acct.number.clone(),
        subject: String::new(),
        body_text,
        body_html: None,
        received_at: at,
        auto_kind: None,
        attachments,
        parse_error: None,
        raw: None,
    }
}

fn extension(ctype: &str) -> &'static str {
    match ctype {
        "image/jpeg" => "jpg",
        "image/png" => "png",
        "image/gif" => "gif",
        "application/pdf" => "pdf",
        "video/mp4" => "mp4",
        "audio/mpeg" => "mp3",
        "text/vcard" | "text/x-vcard" => "vcf",
        _ => "bin",
    }
}

/// Refuses a text longer than the account allows, naming the count.
pub fn check_length(acct: &SmsAccount, text: &str) -> Result<segments::Segments, String> {
    let s = segments::count(text);
    if s.segments > acct.max_segments {
        return Err(format!(
            "the text needs {s}: more than max_segments = {} of SMS account `{}`; shorten it",
            acct.max_segments, acct.name
        ));
    }
    Ok(s)
}

/// The SMS account a reply goes out through: the one the customer wrote
/// to, else the first configured.
pub fn account_for<'a>(
    accounts: &'a [SmsAccount],
    wrote_to: Option<&str>,
) -> Option<&'a SmsAccount> {
    wrote_to
        .and_then(|n| accounts.iter().find(|a| a.name == n))
        .or_else(|| accounts.first())
}

/// One pass over an SMS account of any kind; status kept for `status`.
pub async fn poll_account(sink: &mut impl Sink, acct: &SmsAccount) -> Result<PollReport, SmsError> {
    let r = match acct.kind() {
        Kind::Twilio => poll_twilio(sink, acct).await,
        Kind::Smstools => smstools::poll(sink, acct).await,
        Kind::Gammu => gammu::poll(sink, acct).await,
    };
    let outcome = match &r {
        Ok(rep) => Ok(rep.fetched),
        Err(e) => Err(e.to_string()),
    };
    sink.record_poll(&acct.name, "status", outcome).await;
    r
}
