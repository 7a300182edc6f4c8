//! Email: MIME parsing now; IMAP polling and SMTP sending build on it.

pub mod charset;
pub mod mime;
