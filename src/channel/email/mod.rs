//! Email: MIME parsing, IMAP polling, SMTP connections, TLS.

pub mod account;
pub mod charset;
pub mod html;
pub mod imap;
pub mod mime;
pub mod smtp;
pub mod tls;
