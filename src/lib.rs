//! echodesk: a terminal omnichannel support inbox.
//!
//! Data flows one way: channels produce [`inbound::Inbound`] values,
//! [`ingest`] decides what they mean and writes them to the [`store`], and
//! front ends ([`cli`]) read the store and write intents back to it.

pub mod bulk;
pub mod canned;
pub mod care;
pub mod change;
pub mod channel;
pub mod cli;
pub mod clock;
pub mod config;
pub mod crm;
pub mod csat;
pub mod daemon;
pub mod demo;
pub mod digest;
pub mod error;
pub mod export;
pub mod fields;
pub mod follow;
pub mod identity;
pub mod import;
pub mod inbound;
pub mod ingest;
pub mod intake;
pub mod isolate;
pub mod kpi;
pub mod mailing;
pub mod model;
pub mod outbound;
pub mod outbox;
pub mod present;
pub mod query;
pub mod report;
pub mod review;
pub mod rules;
pub mod sanitize;
pub mod schedule;
pub mod shell;
pub mod sla;
pub mod store;
pub mod survey;
pub mod tables;
pub mod transcript;
pub mod tui;
pub mod voice;
pub mod workflow;

pub use error::{Error, Result};
