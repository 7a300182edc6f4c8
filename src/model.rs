//! Plain data: what a ticket, a message, a customer and an identity are.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

macro_rules! string_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident => $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "kebab-case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $s),+ }
            }
            pub fn parse(s: &str) -> Option<Self> {
                let lower = s.to_ascii_lowercase();
                match lower.as_str() { $($s => Some($name::$variant),)+ _ => None }
            }
            pub fn names() -> String {
                [$($s),+].join(", ")
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self> {
                $name::parse(s).ok_or_else(|| Error::invalid(
                    stringify!($name), s, format!("expected one of {}", $name::names())))
            }
        }
    };
}

string_enum!(
    /// The medium a message travelled over.
    Channel { Email => "email", Fax => "fax", Sms => "sms" }
);

string_enum!(
    /// Inbound from a customer, outbound from an agent, or an internal note.
    Direction { In => "in", Out => "out", Note => "note" }
);

string_enum!(
    /// Ticket priority; the discriminant order is the sort order.
    Priority { Low => "low", Normal => "normal", High => "high", Urgent => "urgent" }
);

string_enum!(
    /// What kind of address a customer identity is.
    IdentityKind { Email => "email", Phone => "phone", Fax => "fax" }
);

string_enum!(
    /// Machine-generated mail that must never be answered automatically.
    AutoKind { AutoReply => "auto-reply", Bounce => "bounce", Bulk => "bulk" }
);

impl Priority {
    pub fn rank(self) -> i64 {
        match self {
            Priority::Low => 0,
            Priority::Normal => 1,
            Priority::High => 2,
            Priority::Urgent => 3,
        }
    }
    pub fn from_rank(r: i64) -> Priority {
        match r {
            i64::MIN..=0 => Priority::Low,
            1 => Priority::Normal,
            2 => Priority::High,
            _ => Priority::Urgent,
        }
    }
}

impl Channel {
    /// The identity kind a sender on this channel is known by.
    pub fn identity_kind(self) -> IdentityKind {
        match self {
            Channel::Email => IdentityKind::Email,
            Channel::Fax => IdentityKind::Fax,
            Channel::Sms => IdentityKind::Phone,
        }
    }
}

/// A ticket row as the queue shows it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TicketSummary {
    pub id: i64,
    pub subject: String,
    pub state: String,
    pub priority: Priority,
    pub channel: Channel,
    pub customer_id: i64,
    pub customer_name: String,
    pub assignee: Option<String>,
    pub tags: Vec<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub first_response_at: Option<i64>,
    pub solved_at: Option<i64>,
    pub message_count: i64,
    pub version: i64,
    /// SLA deadlines from the ticket's policy, if one applies.
    pub first_response_due: Option<i64>,
    pub resolution_due: Option<i64>,
}

impl TicketSummary {
    /// The next SLA deadline still to meet: the first response while there
    /// is none, the resolution while unsolved.
    pub fn next_due(&self) -> Option<i64> {
        let fr = self
            .first_response_due
            .filter(|_| self.first_response_at.is_none());
        let res = self.resolution_due.filter(|_| self.solved_at.is_none());
        match (fr, res) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The earliest SLA deadline missed (met late, or overdue at `now`).
    pub fn missed(&self, now: i64) -> Option<i64> {
        let late = |due: Option<i64>, done: Option<i64>| due.filter(|d| done.unwrap_or(now) > *d);
        match (
            late(self.first_response_due, self.first_response_at),
            late(self.resolution_due, self.solved_at),
        ) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Whether a target was missed (or is overdue at `now`).
    pub fn breached(&self, now: i64) -> bool {
        self.missed(now).is_some()
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Attachment {
    pub id: i64,
    pub filename: String,
    pub content_type: String,
    pub size: i64,
    pub sha256: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Message {
    pub id: i64,
    pub ticket_id: i64,
    pub direction: Direction,
    pub channel: Channel,
    pub account: String,
    pub provider_id: Option<String>,
    pub message_id: Option<String>,
    pub from_addr: String,
    pub from_name: Option<String>,
    pub to_addr: String,
    pub subject: String,
    pub body_text: String,
    pub body_html: Option<String>,
    pub received_at: i64,
    pub author: Option<String>,
    pub auto_kind: Option<AutoKind>,
    pub parse_error: Option<String>,
    pub attachments: Vec<Attachment>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Identity {
    pub kind: IdentityKind,
    pub value: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Customer {
    pub id: i64,
    pub name: String,
    pub created_at: i64,
    pub identities: Vec<Identity>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Event {
    pub id: i64,
    pub ticket_id: Option<i64>,
    pub at: i64,
    pub agent: String,
    pub kind: String,
    pub old: Option<String>,
    pub new: Option<String>,
    /// The automation rule that made the change, if one did.
    pub rule: Option<String>,
}

/// A whole ticket: summary, conversation, customer and history.
#[derive(Debug, Clone, Serialize)]
pub struct TicketDetail {
    #[serde(flatten)]
    pub summary: TicketSummary,
    pub linked_ticket_id: Option<i64>,
    pub customer: Customer,
    pub messages: Vec<Message>,
    pub events: Vec<Event>,
}

/// Seconds since the epoch, UTC: the one clock for stored times.
pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}
