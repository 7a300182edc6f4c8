//! Email account configuration: `[[accounts]]` in the config file.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::channel::secret::Secret;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    /// TLS from the first byte (IMAPS, port 993).
    #[default]
    Implicit,
    /// Plain connection upgraded with STARTTLS (port 143).
    Starttls,
    /// No TLS: only to loopback, or with `allow_insecure = true`.
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum PostAction {
    /// Leave the message as it is on the server.
    #[default]
    None,
    /// Mark it \Seen.
    Seen,
    /// Move it to `move_to`.
    Move,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImapConfig {
    pub host: String,
    /// Default: 993 for implicit TLS, 143 otherwise.
    pub port: Option<u16>,
    #[serde(default)]
    pub tls: TlsMode,
    pub user: String,
    /// A command whose first line of output is the password (e.g. `pass show mail/support`).
    pub password_command: Option<String>,
    /// An environment variable holding the password.
    pub password_env: Option<String>,
    #[serde(default = "inbox")]
    pub mailboxes: Vec<String>,
    /// Seconds between polls in `echodesk daemon`.
    #[serde(default = "sixty")]
    pub poll_interval: u64,
    /// Extra CA certificate (PEM) to trust, for self-signed servers.
    pub ca_file: Option<PathBuf>,
    #[serde(default)]
    pub allow_insecure: bool,
    #[serde(default)]
    pub post_action: PostAction,
    pub move_to: Option<String>,
    /// Mailbox that gets a copy of every reply sent (e.g. "Sent"); none by default.
    pub sent_mailbox: Option<String>,
    /// The SMTP server itself files every message it accepts in
    /// `sent_mailbox` (as Gmail and some submission services do). echodesk
    /// then makes no copy of its own, and `outbox resolve` may treat a
    /// reply that is not there as never sent.
    #[serde(default)]
    pub server_saves_sent: bool,
    /// Wait for new mail with IMAP IDLE when the server offers it (the
    /// daemon; `poll_interval` still bounds each wait).
    #[serde(default = "yes")]
    pub idle: bool,
    /// Messages fetched and committed per batch.
    #[serde(default = "two_hundred")]
    pub batch: usize,
    /// Seconds a single IMAP command may take.
    #[serde(default = "sixty")]
    pub timeout: u64,
}

fn inbox() -> Vec<String> {
    vec!["INBOX".into()]
}
fn yes() -> bool {
    true
}
fn sixty() -> u64 {
    60
}
fn two_hundred() -> usize {
    200
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Account {
    /// Short name: recorded on every message and cursor of the account.
    pub name: String,
    /// The support address replies come from.
    pub address: String,
    pub display_name: Option<String>,
    pub imap: Option<ImapConfig>,
    pub smtp: Option<SmtpConfig>,
    /// A fax-to-email mailbox: mail here is read with this fax profile.
    pub fax: Option<crate::channel::fax::FaxConfig>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    pub host: String,
    /// Default: 465 for implicit TLS, 587 for STARTTLS, 25 without TLS.
    pub port: Option<u16>,
    #[serde(default)]
    pub tls: TlsMode,
    /// Without a user, mail is sent without authentication (local relays).
    pub user: Option<String>,
    pub password_command: Option<String>,
    pub password_env: Option<String>,
    pub ca_file: Option<PathBuf>,
    #[serde(default)]
    pub allow_insecure: bool,
    #[serde(default = "sixty")]
    pub timeout: u64,
}

impl SmtpConfig {
    pub fn port(&self) -> u16 {
        self.port.unwrap_or(match self.tls {
            TlsMode::Implicit => 465,
            TlsMode::Starttls => 587,
            TlsMode::None => 25,
        })
    }

    pub fn check(&self) -> Result<(), String> {
        check_host("smtp.host", &self.host)?;
        if self.tls == TlsMode::None && !is_loopback(&self.host) && !self.allow_insecure {
            return Err(format!(
                "smtp.tls = \"none\" sends mail in clear to {}; use implicit or starttls, or set allow_insecure = true",
                self.host
            ));
        }
        self.secret().check(self.user.is_some())
    }

    pub async fn password(&self) -> Result<Option<String>, String> {
        if self.user.is_none() {
            return Ok(None);
        }
        self.secret().read_async(self.timeout).await.map(Some)
    }

    fn secret(&self) -> Secret {
        Secret::new(
            "smtp.password_command",
            "smtp.password_env",
            self.password_command.clone(),
            self.password_env.clone(),
        )
    }
}

/// Whether `host` (a name or an address, IPv6 with or without brackets)
/// is this machine: `localhost` or a loopback address.
pub fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<std::net::IpAddr>() {
        return ip.is_loopback();
    }
    match url::Host::parse(host) {
        Ok(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Ok(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Ok(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Err(_) => false,
    }
}

/// A host name or address as the config gives it: nothing else (no port,
/// user, path or scheme hidden in it).
pub fn check_host(key: &str, host: &str) -> Result<(), String> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if bare.parse::<std::net::IpAddr>().is_ok() {
        return Ok(());
    }
    match url::Host::parse(host) {
        Ok(url::Host::Domain(_)) if !host.is_empty() => Ok(()),
        Ok(_) => Ok(()),
        Err(e) => Err(format!(
            "{key} `{host}` is not a host name or address ({e}); give the port with `port`"
        )),
    }
}

/// An http(s) URL in the config, read by a URL parser (so the host it
/// names is the host it reaches): https, or plain http to loopback only
/// unless `allow_insecure`; no user or password in it.
pub fn check_url(key: &str, text: &str, allow_insecure: bool) -> Result<url::Url, String> {
    let u = url::Url::parse(text).map_err(|e| format!("{key} `{text}` is not a URL: {e}"))?;
    if !u.username().is_empty() || u.password().is_some() {
        return Err(format!(
            "{key} `{text}` carries a user name or password; credentials go in their own keys"
        ));
    }
    let Some(host) = u.host_str() else {
        return Err(format!("{key} `{text}` names no host"));
    };
    match u.scheme() {
        "https" => {}
        "http" if is_loopback(host) || allow_insecure => {}
        "http" => {
            return Err(format!(
                "{key} `{text}` is plain http to {host}; use https, or set allow_insecure = true"
            ))
        }
        other => {
            return Err(format!(
                "{key} `{text}` must be an https:// URL, not {other}://"
            ))
        }
    }
    if u.query().is_some() || u.fragment().is_some() {
        return Err(format!("{key} `{text}` must not have a query or fragment"));
    }
    Ok(u)
}

impl ImapConfig {
    pub fn port(&self) -> u16 {
        self.port.unwrap_or(match self.tls {
            TlsMode::Implicit => 993,
            _ => 143,
        })
    }

    /// Problems a config file must not get past, as `key: why`.
    pub fn check(&self) -> Result<(), String> {
        check_host("imap.host", &self.host)?;
        if self.tls == TlsMode::None && !is_loopback(&self.host) && !self.allow_insecure {
            return Err(format!(
                "imap.tls = \"none\" sends the password in clear to {}; use implicit or starttls, or set allow_insecure = true",
                self.host
            ));
        }
        self.secret().check(true)?;
        if self.post_action == PostAction::Move && self.move_to.as_deref().is_none_or(str::is_empty)
        {
            return Err("imap.post_action = \"move\" needs imap.move_to".into());
        }
        if self.mailboxes.is_empty() {
            return Err("imap.mailboxes is empty".into());
        }
        if self.batch == 0 {
            return Err("imap.batch must be at least 1".into());
        }
        Ok(())
    }

    /// The password, from the command or the environment. Error messages
    /// never include what the command printed.
    pub async fn password(&self) -> Result<String, String> {
        self.secret().read_async(self.timeout).await
    }

    fn secret(&self) -> Secret {
        Secret::new(
            "imap.password_command",
            "imap.password_env",
            self.password_command.clone(),
            self.password_env.clone(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(host: &str, tls: TlsMode) -> ImapConfig {
        ImapConfig {
            host: host.into(),
            port: None,
            tls,
            user: "u".into(),
            password_command: Some("echo secret".into()),
            password_env: None,
            mailboxes: inbox(),
            poll_interval: 60,
            ca_file: None,
            allow_insecure: false,
            post_action: PostAction::None,
            move_to: None,
            sent_mailbox: None,
            server_saves_sent: false,
            idle: true,
            batch: 200,
            timeout: 60,
        }
    }

    #[test]
    fn urls_are_parsed_and_the_real_host_decides() {
        assert!(check_url("base_url", "http://127.0.0.1:8080/", false).is_ok());
        assert!(check_url("base_url", "http://[::1]:8080", false).is_ok());
        assert!(check_url("base_url", "https://api.twilio.com", false).is_ok());
        // The host is example.invalid, whatever comes before the @.
        let e = check_url("base_url", "http://127.0.0.1:1@example.invalid/", false).unwrap_err();
        assert!(e.contains("user name or password"), "{e}");
        let e = check_url("base_url", "http://localhost.example.invalid/", false).unwrap_err();
        assert!(e.contains("plain http to localhost.example.invalid"), "{e}");
        let e = check_url("base_url", "http://127.0.0.1.example.invalid/", false).unwrap_err();
        assert!(e.contains("plain http"), "{e}");
        assert!(check_url("base_url", "ftp://127.0.0.1/", false).is_err());
        assert!(check_url("base_url", "http://example.invalid/", true).is_ok());
        assert!(check_host("imap.host", "mail.example.com").is_ok());
        assert!(check_host("imap.host", "::1").is_ok());
        assert!(check_host("imap.host", "127.0.0.1:1@example.invalid").is_err());
        assert!(check_host("imap.host", "host/path").is_err());
        assert!(is_loopback("127.1") && is_loopback("LOCALHOST") && is_loopback("[::1]"));
        assert!(!is_loopback("127.0.0.1.example.invalid"));
    }

    #[test]
    fn plaintext_only_to_loopback() {
        assert!(cfg("127.0.0.1", TlsMode::None).check().is_ok());
        assert!(cfg("localhost", TlsMode::None).check().is_ok());
        assert!(cfg("mail.example.com", TlsMode::None)
            .check()
            .unwrap_err()
            .contains("allow_insecure"));
        let mut c = cfg("mail.example.com", TlsMode::None);
        c.allow_insecure = true;
        assert!(c.check().is_ok());
        assert_eq!(cfg("h", TlsMode::Implicit).port(), 993);
        assert_eq!(cfg("h", TlsMode::Starttls).port(), 143);
    }

    fn block<T>(f: impl std::future::Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn password_sources() {
        assert_eq!(
            block(cfg("h", TlsMode::Implicit).password()).unwrap(),
            "secret"
        );
        let mut c = cfg("h", TlsMode::Implicit);
        c.password_command = Some("echo hunter2; exit 3".into());
        let e = block(c.password()).unwrap_err();
        assert!(!e.contains("hunter2"), "{e}");
        assert!(e.contains("imap.password_command failed"), "{e}");
        c.password_command = None;
        c.password_env = Some("ECHODESK_TEST_NO_SUCH_VAR".into());
        assert!(block(c.password())
            .unwrap_err()
            .contains("ECHODESK_TEST_NO_SUCH_VAR"));
        c.password_command = Some("x".into());
        assert!(c.check().unwrap_err().contains("not both"));
    }

    /// A password command that hangs (and a child it started) is stopped
    /// at the section's timeout, and the runtime's thread stays free.
    #[test]
    fn a_hanging_password_command_is_stopped() {
        let mut c = cfg("h", TlsMode::Implicit);
        c.password_env = None;
        c.password_command = Some("sleep 300 & sleep 300".into());
        c.timeout = 1;
        let t = std::time::Instant::now();
        let ticks = block(async {
            let ticker = async {
                let mut n = 0;
                loop {
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    n += 1;
                    if n > 1000 {
                        break n;
                    }
                }
            };
            tokio::select! {
                r = c.password() => {
                    let e = r.unwrap_err();
                    assert!(e.contains("did not finish within 1 s"), "{e}");
                    0
                }
                n = ticker => n,
            }
        });
        assert_eq!(ticks, 0);
        assert!(
            t.elapsed() < std::time::Duration::from_secs(5),
            "{:?}",
            t.elapsed()
        );
    }
}
