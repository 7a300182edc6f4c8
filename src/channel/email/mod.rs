//! Email: MIME parsing now; IMAP polling and SMTP sending build on it.

pub mod account;
pub mod charset;
pub mod imap;
pub mod mime;
