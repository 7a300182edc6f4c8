//! What leaves: the queued message a sender takes, the [`Transport`] every
//! way out implements (SMTP mail, email-to-fax, Twilio, smstools, Gammu),
//! and the typed [`Outcome`] of one send. The outbox claims an entry,
//! routes it to its transport and records the outcome; only the transport
//! knows its protocol.

use serde::Serialize;

/// Everything a sender needs for one queued message.
#[derive(Debug, Clone)]
pub struct OutboxItem {
    pub id: i64,
    pub message_id: i64,
    pub ticket_id: i64,
    pub channel: String,
    pub recipient: String,
    pub attempts: i64,
    pub body: String,
    pub ticket_subject: String,
    /// The account the customer last wrote to, if any.
    pub account: Option<String>,
    /// Message-ID, References of the customer's latest message.
    pub parent: Option<(String, Vec<String>)>,
    /// (file name, content type, bytes) to send with the text.
    pub attachments: Vec<(String, String, Vec<u8>)>,
    /// Written by an automation rule: sent as `Auto-Submitted: auto-replied`.
    pub automatic: bool,
    /// The sender that claimed it (see `store::sender_lease`).
    pub owner: String,
}

/// What became of one send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Accepted: the provider's reference (the SMTP reply, a message SID, a
    /// spool name) and its first delivery status, when it gives one.
    Sent {
        reference: String,
        status: Option<String>,
    },
    /// Not now: again after `after` seconds (the sender's backoff when
    /// `None`). `unreachable`: the account's server could not be reached
    /// at all, so the sender pauses the whole account.
    Retry {
        reason: String,
        after: Option<i64>,
        unreachable: bool,
    },
    /// Refused for good, with the provider's words.
    Permanent(String),
    /// The connection failed after the message was handed over: it may
    /// have arrived, so it is never repeated by itself.
    Unknown(String),
}

impl Outcome {
    pub fn sent(reference: impl Into<String>) -> Outcome {
        Outcome::Sent {
            reference: reference.into(),
            status: None,
        }
    }

    pub fn retry(reason: impl Into<String>) -> Outcome {
        Outcome::Retry {
            reason: reason.into(),
            after: None,
            unreachable: false,
        }
    }

    pub fn is_sent(&self) -> bool {
        matches!(self, Outcome::Sent { .. })
    }
}

/// A provider's word on a sent message's delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub status: String,
    pub detail: Option<String>,
}

/// What a provider's records can tell about an entry whose send was
/// interrupted (`outbox resolve`).
#[derive(Debug, Clone)]
pub struct Probe<'a> {
    pub outbox_id: i64,
    pub recipient: &'a str,
    pub body: &'a str,
    /// When the send began (the claim), seconds since the epoch.
    pub since: i64,
}

/// What `outbox resolve` found out about an unknown entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "verdict", content = "reference")]
pub enum Verdict {
    /// The provider has it: it was sent (with the provider's reference).
    Sent(Option<String>),
    /// The provider's record is complete and it is not there: safe to send.
    NotSent,
    /// No way to tell; it stays unknown for an agent to decide.
    Unsure,
}

impl Verdict {
    pub fn as_str(&self) -> &'static str {
        match self {
            Verdict::Sent(_) => "sent",
            Verdict::NotSent => "not sent: queued again",
            Verdict::Unsure => "still unknown",
        }
    }
}

/// One way out. `prepare` builds what will be sent (the mail with its
/// Message-ID, the checked text) before the entry's send begins; `send`
/// hands it over; `delivery` and `look_for` ask the provider afterwards.
#[allow(async_fn_in_trait)] // used on one thread (the daemon's LocalSet)
pub trait Transport {
    /// What `send` takes.
    type Prepared;
    /// `Err` is why it can never be sent as it is (recorded as failed).
    fn prepare(&self, item: &OutboxItem) -> Result<Self::Prepared, String>;
    async fn send(&mut self, prepared: &Self::Prepared, item: &OutboxItem) -> Outcome;
    /// What the provider says became of a message sent with `reference`;
    /// `None` when it does not say (yet).
    async fn delivery(&mut self, _reference: &str) -> Option<Delivery> {
        None
    }
    /// Whether the provider's own records hold an interrupted send, and
    /// how that was decided.
    async fn look_for(&mut self, _probe: &Probe<'_>) -> (Verdict, String) {
        (
            Verdict::Unsure,
            "this transport keeps no record to look in".into(),
        )
    }
}
