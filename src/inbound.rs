//! What every channel hands to ingest: one message from outside, already
//! decoded, with the identity it came from; and the [`Sink`] a channel
//! hands its batches to, so that channels produce and never store.

use serde::Serialize;

use crate::model::{AutoKind, Channel};

/// Where a channel keeps its place (a mailbox's UIDs, a gateway's day):
/// moved in the same commit as the messages it covers, so a crash stores
/// both or neither.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub account: String,
    pub scope: String,
    pub value: String,
}

impl Cursor {
    pub fn new(account: &str, scope: &str, value: impl Into<String>) -> Cursor {
        Cursor {
            account: account.to_string(),
            scope: scope.to_string(),
            value: value.into(),
        }
    }
}

/// What one batch (or a run of them) did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Tally {
    pub fetched: u64,
    pub created: u64,
    pub threaded: u64,
    pub duplicates: u64,
    /// Filed with a parse problem recorded on the message.
    pub with_errors: u64,
}

impl std::ops::AddAssign for Tally {
    fn add_assign(&mut self, t: Tally) {
        self.fetched += t.fetched;
        self.created += t.created;
        self.threaded += t.threaded;
        self.duplicates += t.duplicates;
        self.with_errors += t.with_errors;
    }
}

/// The store refused or could not be reached; the words are the store's.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct SinkError(pub String);

/// What a channel hands its batches to. The core implements it (in
/// `intake`): a channel reads its cursors and reports its polls here, and
/// never sees the store. `commit` may run elsewhere while the channel
/// fetches its next batch: a poller that awaits it together with the next
/// fetch overlaps the two.
#[allow(async_fn_in_trait)] // used on one thread (the daemon's LocalSet)
pub trait Sink {
    /// The region for national phone and fax numbers (E.164 parsing).
    fn region(&self) -> &str;
    /// The value `cursor` last committed for this account and scope.
    async fn cursor(&mut self, account: &str, scope: &str) -> Result<Option<String>, SinkError>;
    /// Whether a message with this provider id is stored for the account.
    async fn known(&mut self, account: &str, provider_id: &str) -> Result<bool, SinkError>;
    /// Files the batch and moves the cursors, in one transaction.
    async fn commit(
        &mut self,
        batch: Vec<Inbound>,
        cursors: Vec<Cursor>,
    ) -> Result<Tally, SinkError>;
    /// Notes a poll's outcome for `echodesk status`; bookkeeping that
    /// never fails the poll.
    async fn record_poll(&mut self, account: &str, scope: &str, outcome: Result<u64, String>);
}

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
