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

impl Inbound {
    /// The message reduced to what cannot fail to store: its ids, its text
    /// (up to 1 MiB) and its raw bytes, from nobody in particular, with
    /// `why` as its error. For a message whose filing failed.
    pub fn kept_raw(&self, why: &str) -> Inbound {
        let mut body = self.body_text.clone();
        if body.len() > 1 << 20 {
            let mut cut = 1 << 20;
            while !body.is_char_boundary(cut) {
                cut -= 1;
            }
            body.truncate(cut);
        }
        Inbound {
            channel: self.channel,
            account: self.account.clone(),
            provider_id: self.provider_id.clone(),
            message_id: None,
            refs: Vec::new(),
            from_addr: String::new(),
            from_name: Some(format!(
                "{} (as received)",
                self.from_addr.chars().take(200).collect::<String>()
            )),
            to_addr: self.to_addr.chars().take(200).collect(),
            subject: self.subject.chars().take(300).collect(),
            body_text: body,
            body_html: None,
            received_at: self.received_at,
            auto_kind: self.auto_kind,
            attachments: Vec::new(),
            parse_error: Some(match &self.parse_error {
                Some(e) => format!("{why}; {e}"),
                None => why.to_string(),
            }),
            raw: self.raw.clone(),
        }
    }
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
