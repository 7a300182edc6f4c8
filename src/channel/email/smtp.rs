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

/// Why a send did not happen; `permanent` ones are not retried.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct SendError {
    pub permanent: bool,
    pub message: String,
}

impl SendError {
    pub fn transient(message: impl Into<String>) -> Self {
        SendError {
            permanent: false,
            message: message.into(),
        }
    }

    pub fn permanent(message: impl Into<String>) -> Self {
        SendError {
            permanent: true,
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
    if let (Some(user), Some(pw)) = (&smtp.user, smtp.password().map_err(SendError::transient)?) {
        conn.auth(DEFAULT_MECHANISMS, &Credentials::new(user.clone(), pw))
            .await
            .map_err(|e| {
                // The server's words, never the password.
                SendError::session(&smtp.host, &e)
            })?;
    }
    Ok(conn)
}

/// Sends one message over an open session. On an error the session may be
/// unusable: check [`AsyncSmtpConnection::has_broken`].
pub async fn send(
    smtp: &SmtpConfig,
    conn: &mut AsyncSmtpConnection,
    message: &lettre::Message,
) -> Result<String, SendError> {
    let bytes = message.formatted();
    let limit = Duration::from_secs(smtp.timeout);
    match tokio::time::timeout(limit, conn.send(message.envelope(), &bytes)).await {
        Ok(Ok(resp)) => Ok(format!(
            "{} {}",
            resp.code(),
            resp.message().collect::<Vec<_>>().join(" ")
        )),
        Ok(Err(e)) => Err(SendError::transaction(&smtp.host, &e)),
        Err(_) => Err(SendError::transient(format!(
            "{}: no answer within {} s",
            smtp.host, smtp.timeout
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
