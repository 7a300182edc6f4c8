//! Channels: how messages come in from and go out to the outside.
//! A channel produces [`crate::inbound::Inbound`] values and hands them to
//! a [`crate::inbound::Sink`]; what they mean is decided by ingest, in the
//! core. Going out, each way implements [`crate::outbound::Transport`].

pub mod email;
pub mod fax;
pub mod secret;
pub mod sms;
