//! SMS: segment arithmetic now; gateways (Twilio-compatible REST, smstools
//! spool, Gammu SQL) build on it.

pub mod segments;
