//! What every channel hands to ingest: one message from outside, already
//! decoded, with the identity it came from.

use crate::model::{AutoKind, Channel};

#[derive(Debug, Clone, PartialEq)]
pub struct InboundAttachment {
    pub filename: String,
    pub content_type: String,
    pub data: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Inbound {
    pub channel: Channel,
    /// The configured account (mailbox, SMS number, import) it came through.
    pub account: String,
    /// Unique per account: IMAP UIDVALIDITY/UID, SMS SID, a content hash...
    pub provider_id: String,
    /// RFC 5322 Message-ID without angle brackets.
    pub message_id: Option<String>,
    /// Message-IDs this answers, oldest first; the last is the direct parent.
    pub refs: Vec<String>,
    /// Sender address or number as given; ingest normalises it.
    pub from_addr: String,
    pub from_name: Option<String>,
    pub to_addr: String,
    pub subject: String,
    pub body_text: String,
    pub body_html: Option<String>,
    pub received_at: i64,
    pub auto_kind: Option<AutoKind>,
    pub attachments: Vec<InboundAttachment>,
    /// What could not be understood; the message is still stored.
    pub parse_error: Option<String>,
    /// Original bytes, kept when something could not be parsed.
    pub raw: Option<Vec<u8>>,
}

#[cfg(test)]
impl Inbound {
    /// A plain email on account `test` for unit tests; Message-ID
    /// `{provider_id}@test`, body "hello", received at 1000.
    pub(crate) fn test_email(provider_id: &str, from: &str, subject: &str) -> Inbound {
        Inbound {
            channel: Channel::Email,
            account: "test".into(),
            provider_id: provider_id.into(),
            message_id: Some(format!("{provider_id}@test")),
            refs: vec![],
            from_addr: from.into(),
            from_name: None,
            to_addr: "support@x".into(),
            subject: subject.into(),
            body_text: "hello".into(),
            body_html: None,
            received_at: 1_000,
            auto_kind: None,
            attachments: vec![],
            parse_error: None,
            raw: None,
        }
    }
}
