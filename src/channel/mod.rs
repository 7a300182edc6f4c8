//! Channels: how messages come in from and go out to the outside.
//! A channel only produces [`crate::inbound::Inbound`] values; what they mean
//! is decided by [`crate::ingest`].

pub mod email;
pub mod fax;
pub mod sms;
