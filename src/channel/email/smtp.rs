//! SMTP connections for the outbox worker. lettre speaks the protocol; the
//! socket is opened here so that it has TCP_NODELAY: lettre writes a
//! message's body and its closing dot as two writes, and with Nagle's
//! algorithm on, the second waits for the server's delayed ACK — about
//! 40 ms per message on loopback.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use lettre::transport::smtp::authentication::{Credentials, DEFAULT_MECHANISMS};
use lettre::transport::smtp::client::{AsyncSmtpConnection, Certificate, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use super::account::{SmtpConfig, TlsMode};

/// Why a send did not happen (or may not have): `permanent` ones are not
/// retried; `unknown` ones may have reached the server and are never
/// retried by themselves.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct SendError {
    pub permanent: bool,
    pub unknown: bool,
    pub message: String,
}

impl SendError {
    pub fn transient(message: impl Into<String>) -> Self {
        SendError {
            permanent: false,
            unknown: false,
            message: message.into(),
        }
    }

    /// A send's result as the outbox records it.
    pub fn outcome(r: Result<String, SendError>) -> crate::outbound::Outcome {
        use crate::outbound::Outcome;
        match r {
            Ok(reply) => Outcome::sent(reply),
            Err(e) if e.unknown => Outcome::Unknown(e.message),
            Err(e) if e.permanent => Outcome::Permanent(e.message),
            Err(e) => Outcome::retry(e.message),
        }
    }

    pub fn permanent(message: impl Into<String>) -> Self {
        SendError {
            permanent: true,
            unknown: false,
            message: message.into(),
        }
    }

    pub fn unknown(message: impl Into<String>) -> Self {
        SendError {
            permanent: false,
            unknown: true,
            message: message.into(),
        }
    }

    /// An error while opening or preparing a session (greeting, EHLO,
    /// STARTTLS, AUTH). Never permanent for the message: a server that is
    /// busy, misconfigured or refuses our login says nothing about the
    /// reply, which waits with backoff until the session works.
    fn session(host: &str, e: &lettre::transport::smtp::Error) -> Self {
        SendError::transient(format!("{host}: {}", describe(e)))
    }

    /// An error in the mail transaction itself (MAIL, RCPT, DATA). Only a
    /// 55x reply refuses this message for good (no such mailbox, policy,
    /// size, transaction failed); other 5xx codes are about the command
    /// sequence or the session, and a retry on a fresh one may succeed.
    fn transaction(host: &str, e: &lettre::transport::smtp::Error) -> Self {
        let refused =
            e.is_permanent() && e.status().is_some_and(|c| c.to_string().starts_with("55"));
        SendError {
            permanent: refused,
            unknown: false,
            message: format!("{host}: {}", describe(e)),
        }
    }
}

/// An implicit-TLS stream in the shape lettre takes.
#[derive(Debug)]
struct Tls(tokio_rustls::client::TlsStream<TcpStream>);

impl AsyncRead for Tls {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for Tls {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

impl lettre::transport::smtp::client::AsyncTokioStream for Tls {
    fn peer_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.0.get_ref().0.peer_addr()
    }
}

fn starttls_params(smtp: &SmtpConfig) -> Result<TlsParameters, SendError> {
    let mut params = TlsParameters::builder(smtp.host.clone());
    if let Some(path) = &smtp.ca_file {
        let pem = std::fs::read(path)
            .map_err(|e| SendError::transient(format!("ca_file {}: {e}", path.display())))?;
        let cert = Certificate::from_pem(&pem)
            .map_err(|e| SendError::transient(format!("ca_file {}: {e}", path.display())))?;
        params = params.add_root_certificate(cert);
    }
    params
        .build_rustls()
        .map_err(|e| SendError::transient(format!("TLS setup: {e}")))
}

/// Opens an SMTP session: connect, greeting and EHLO, TLS as configured,
/// and login when a user is set; all within the configured timeout.
pub async fn connect(smtp: &SmtpConfig) -> Result<AsyncSmtpConnection, SendError> {
    let limit = Duration::from_secs(smtp.timeout);
    match tokio::time::timeout(limit, open(smtp)).await {
        Ok(r) => r,
        Err(_) => Err(SendError::transient(format!(
            "{}:{}: no answer within {} s",
            smtp.host,
            smtp.port(),
            smtp.timeout
        ))),
    }
}

async fn open(smtp: &SmtpConfig) -> Result<AsyncSmtpConnection, SendError> {
    let addr = format!("{}:{}", smtp.host, smtp.port());
    let tcp = TcpStream::connect(&addr)
        .await
        .map_err(|e| SendError::transient(format!("{addr}: {e}")))?;
    tcp.set_nodelay(true)
        .map_err(|e| SendError::transient(format!("{addr}: {e}")))?;
    let hello = ClientId::default();
    let lettre_err = |e: lettre::transport::smtp::Error| SendError::session(&smtp.host, &e);
    let mut conn = match smtp.tls {
        TlsMode::Implicit => {
            let tls = super::tls::wrap(&smtp.host, smtp.ca_file.as_deref(), tcp)
                .await
                .map_err(SendError::transient)?;
            AsyncSmtpConnection::connect_with_transport(Box::new(Tls(tls)), &hello)
                .await
                .map_err(lettre_err)?
        }
        TlsMode::Starttls => {
            let mut c = AsyncSmtpConnection::connect_with_transport(Box::new(tcp), &hello)
                .await
                .map_err(lettre_err)?;
            c.starttls(starttls_params(smtp)?, &hello)
                .await
                .map_err(lettre_err)?;
            c
        }
        TlsMode::None => AsyncSmtpConnection::connect_with_transport(Box::new(tcp), &hello)
            .await
            .map_err(lettre_err)?,
    };
    if let (Some(user), Some(pw)) = (
        &smtp.user,
        smtp.password().await.map_err(SendError::transient)?,
    ) {
        conn.auth(DEFAULT_MECHANISMS, &Credentials::new(user.clone(), pw))
            .await
            .map_err(|e| {
                // The server's words, never the password.
                SendError::session(&smtp.host, &e)
            })?;
    }
    Ok(conn)
}

/// How far a mail transaction got: a failure before the content was
/// handed over leaves nothing on the server; one after it (no reply to
/// the final dot, a dropped connection, a timeout) may have been accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Envelope,
    Content,
}

/// Sends one message over an open session, as MAIL, RCPT, DATA and the
/// content, each checked. On an error the session may be unusable: check
/// [`AsyncSmtpConnection::has_broken`]. A failure once the content is on
/// its way is [`SendError::unknown`]: the server may have it, so it must
/// not be sent again without looking.
pub async fn send(
    smtp: &SmtpConfig,
    conn: &mut AsyncSmtpConnection,
    message: &lettre::Message,
) -> Result<String, SendError> {
    use lettre::transport::smtp::commands::{Data, Mail, Rcpt};
    use lettre::transport::smtp::extension::{Extension, MailBodyParameter, MailParameter};
    let bytes = message.formatted();
    let envelope = message.envelope();
    let limit = Duration::from_secs(smtp.timeout);
    let host = smtp.host.as_str();
    let mut phase = Phase::Envelope;
    let transaction = async {
        let mut options = Vec::new();
        let non_ascii = envelope
            .from()
            .into_iter()
            .chain(envelope.to())
            .any(|a| !a.to_string().is_ascii());
        if non_ascii {
            if !conn.server_info().supports_feature(Extension::SmtpUtfEight) {
                return Err(SendError::permanent(format!(
                    "{host}: the address is not ASCII and the server does not offer SMTPUTF8"
                )));
            }
            options.push(MailParameter::SmtpUtfEight);
        }
        if !bytes.is_ascii() {
            if !conn.server_info().supports_feature(Extension::EightBitMime) {
                return Err(SendError::transient(format!(
                    "{host}: the server does not offer 8BITMIME for this message"
                )));
            }
            options.push(MailParameter::Body(MailBodyParameter::EightBitMime));
        }
        let step = |e: lettre::transport::smtp::Error| SendError::transaction(host, &e);
        conn.command(Mail::new(envelope.from().cloned(), options))
            .await
            .map_err(step)?;
        for to in envelope.to() {
            conn.command(Rcpt::new(to.clone(), vec![]))
                .await
                .map_err(step)?;
        }
        conn.command(Data).await.map_err(step)?;
        phase = Phase::Content;
        match conn.message(&bytes).await {
            Ok(resp) => Ok(format!(
                "{} {}",
                resp.code(),
                resp.message().collect::<Vec<_>>().join(" ")
            )),
            // The server's answer to the content: it decided.
            Err(e) if e.status().is_some() => Err(step(e)),
            Err(e) => Err(SendError::unknown(format!(
                "{host}: the connection failed after the message was handed over ({}); it may have arrived",
                describe(&e)
            ))),
        }
    };
    let r = tokio::time::timeout(limit, transaction).await;
    match r {
        Ok(r) => r,
        Err(_) if phase == Phase::Content => Err(SendError::unknown(format!(
            "{host}: no answer within {} s after the message was handed over; it may have arrived",
            smtp.timeout
        ))),
        Err(_) => Err(SendError::transient(format!(
            "{host}: no answer within {} s",
            smtp.timeout
        ))),
    }
}

/// lettre's error as a sentence: its own text, then each cause (an I/O
/// error's words, a TLS alert), never Rust's debug form.
fn describe(e: &lettre::transport::smtp::Error) -> String {
    let mut text = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        let t = c.to_string();
        if !text.contains(&t) {
            text.push_str(": ");
            text.push_str(&t);
        }
        cause = c.source();
    }
    text
}
