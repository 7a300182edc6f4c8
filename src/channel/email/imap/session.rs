//! An IMAP session: the connection (TLS as configured, within timeouts),
//! login, the server's words for its refusals, and the one-shot commands
//! the outbox uses (APPEND to Sent, SEARCH for a Message-ID).

use super::*;

pub(super) trait Stream: AsyncRead + AsyncWrite + Unpin + Send + fmt::Debug {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + fmt::Debug> Stream for T {}
pub(super) type Conn = Box<dyn Stream>;

/// The TLS handshake, within the command timeout: a server that accepts
/// the connection and then says nothing must not hang the poller.
pub(super) async fn tls_wrap(cfg: &ImapConfig, tcp: TcpStream) -> Result<Conn, String> {
    let handshake = crate::channel::email::tls::wrap(&cfg.host, cfg.ca_file.as_deref(), tcp);
    match tokio::time::timeout(Duration::from_secs(cfg.timeout), handshake).await {
        Ok(tls) => Ok(Box::new(tls?)),
        Err(_) => Err(format!("TLS handshake: no answer within {} s", cfg.timeout)),
    }
}

pub(super) async fn timed<T, E: fmt::Display>(
    secs: u64,
    what: &str,
    f: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, String> {
    match tokio::time::timeout(Duration::from_secs(secs), f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(format!("{what}: {}", server_words(&e.to_string()))),
        Err(_) => Err(format!("{what}: no answer within {secs} s")),
    }
}

pub(super) type Session = async_imap::Session<Conn>;

/// async-imap reports a server's NO or BAD with Rust's debug form of the
/// response (`no response: code: None, info: Some("[AUTHENTICATIONFAILED]
/// Authentication failed.")`). This turns it into the server's own words:
/// `the server said NO: [AUTHENTICATIONFAILED] Authentication failed.`.
/// Other errors pass unchanged.
pub fn server_words(text: &str) -> String {
    let (verdict, rest) = if let Some(r) = text.strip_prefix("no response: ") {
        ("NO", r)
    } else if let Some(r) = text.strip_prefix("bad response: ") {
        ("BAD", r)
    } else {
        return text.to_string();
    };
    // Every quoted string in the debug text, unescaped: the server's words.
    let mut words = Vec::new();
    let mut chars = rest.chars();
    while let Some(c) = chars.next() {
        if c != '"' {
            continue;
        }
        let mut w = String::new();
        while let Some(c) = chars.next() {
            match c {
                '\\' => {
                    if let Some(n) = chars.next() {
                        w.push(n);
                    }
                }
                '"' => break,
                c => w.push(c),
            }
        }
        if !w.trim().is_empty() {
            words.push(w);
        }
    }
    if words.is_empty() {
        format!("the server said {verdict}")
    } else {
        format!("the server said {verdict}: {}", words.join(" "))
    }
}

/// A mapper from a message to this account's error at `step`.
pub(super) fn fail(acct: &Account, step: &'static str) -> impl Fn(String) -> PollError {
    let account = acct.name.clone();
    move |message| PollError {
        account: account.clone(),
        step,
        message,
    }
}

pub(super) async fn connect(
    acct: &Account,
    cfg: &ImapConfig,
    password: &str,
) -> Result<Session, PollError> {
    let err = |step| fail(acct, step);
    let addr = format!("{}:{}", cfg.host, cfg.port());
    let tcp = timed(cfg.timeout, &addr, TcpStream::connect(&addr))
        .await
        .map_err(err("connect"))?;
    let stream: Conn = match cfg.tls {
        TlsMode::Implicit => tls_wrap(cfg, tcp).await.map_err(err("tls"))?,
        TlsMode::None => Box::new(tcp),
        TlsMode::Starttls => {
            let mut plain = async_imap::Client::new(tcp);
            timed(cfg.timeout, "greeting", async {
                plain.read_response().await.map(|_| ())
            })
            .await
            .map_err(err("connect"))?;
            timed(
                cfg.timeout,
                "STARTTLS",
                plain.run_command_and_check_ok("STARTTLS", None),
            )
            .await
            .map_err(err("starttls"))?;
            tls_wrap(cfg, plain.into_inner())
                .await
                .map_err(err("tls"))?
        }
    };
    let mut client = async_imap::Client::new(stream);
    if cfg.tls != TlsMode::Starttls {
        timed(cfg.timeout, "greeting", async {
            client.read_response().await.map(|_| ())
        })
        .await
        .map_err(err("connect"))?;
    }
    match tokio::time::timeout(
        Duration::from_secs(cfg.timeout),
        client.login(&cfg.user, password),
    )
    .await
    {
        Ok(Ok(s)) => Ok(s),
        // The server's words, never the password.
        Ok(Err((e, _))) => Err(err("login")(format!(
            "{} refused: {}",
            cfg.user,
            server_words(&e.to_string())
        ))),
        Err(_) => Err(err("login")(format!("no answer within {} s", cfg.timeout))),
    }
}

/// Appends sent messages to `mailbox` (created when missing), flagged \Seen.
pub async fn append(acct: &Account, mailbox: &str, messages: &[Vec<u8>]) -> Result<(), PollError> {
    let err = |step| fail(acct, step);
    let cfg = acct
        .imap
        .as_ref()
        .ok_or_else(|| err("append")("no [accounts.imap] to copy sent mail to".into()))?;
    let password = cfg.password().await.map_err(err("password"))?;
    let mut session = connect(acct, cfg, &password).await?;
    let mut created = false;
    for m in messages {
        let r = timed(
            cfg.timeout,
            "APPEND",
            session.append(mailbox, Some("(\\Seen)"), None, m),
        )
        .await;
        if r.is_err() && !created {
            // Most servers refuse APPEND to a missing mailbox ([TRYCREATE]).
            created = true;
            let _ = timed(cfg.timeout, "CREATE", session.create(mailbox)).await;
            timed(
                cfg.timeout,
                "APPEND",
                session.append(mailbox, Some("(\\Seen)"), None, m),
            )
            .await
            .map_err(err("append"))?;
        } else {
            r.map_err(err("append"))?;
        }
    }
    let _ = tokio::time::timeout(Duration::from_secs(cfg.timeout), session.logout()).await;
    Ok(())
}

/// The mailboxes of the account that hold a message with this
/// Message-ID (searched with `UID SEARCH HEADER Message-ID`), among
/// `mailboxes`; a mailbox that does not exist is skipped.
pub async fn find_message_id(
    acct: &Account,
    mailboxes: &[String],
    message_id: &str,
) -> Result<Vec<String>, PollError> {
    let err = |step| fail(acct, step);
    let cfg = acct
        .imap
        .as_ref()
        .ok_or_else(|| err("search")("no [accounts.imap] to search".into()))?;
    let password = cfg.password().await.map_err(err("password"))?;
    let mut session = connect(acct, cfg, &password).await?;
    // The id is ours (echodesk.N.N.hex@domain), but quote it as IMAP does.
    let quoted = format!(
        "\"<{}>\"",
        message_id.replace('\\', "\\\\").replace('"', "\\\"")
    );
    let mut found = Vec::new();
    for mb in mailboxes {
        if timed(cfg.timeout, "EXAMINE", session.examine(mb))
            .await
            .is_err()
        {
            continue;
        }
        let hits = timed(
            cfg.timeout,
            "UID SEARCH",
            session.uid_search(format!("HEADER Message-ID {quoted}")),
        )
        .await
        .map_err(err("search"))?;
        if !hits.is_empty() {
            found.push(mb.clone());
        }
    }
    let _ = tokio::time::timeout(Duration::from_secs(cfg.timeout), session.logout()).await;
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_reads_as_the_servers_words() {
        assert_eq!(
            server_words(
                r#"no response: code: None, info: Some("[AUTHENTICATIONFAILED] Authentication failed.")"#
            ),
            "the server said NO: [AUTHENTICATIONFAILED] Authentication failed."
        );
        assert_eq!(
            server_words(r#"bad response: code: None, info: Some("Say \"hi\" first")"#),
            "the server said BAD: Say \"hi\" first"
        );
        assert_eq!(
            server_words("bad response: outcome: Bad"),
            "the server said BAD"
        );
        assert_eq!(server_words("connection lost"), "connection lost");
    }
}
