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
        None => today - chrono::Duration::days(i64::from(acct.history_days)),
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
    let r = match acct.kind {
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
