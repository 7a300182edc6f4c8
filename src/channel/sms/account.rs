//! SMS gateway accounts: `[[sms]]` in the config file.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Twilio's REST API (2010-04-01), or a provider that speaks it.
    Twilio,
    /// smstools (smsd) spool directories on this machine.
    Smstools,
    /// Gammu SMSD with its SQL backend (an SQLite database).
    Gammu,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmsAccount {
    /// Short name, recorded on every message of the account.
    pub name: String,
    pub kind: Kind,
    /// Our number in E.164: what customers text, and the sender of replies.
    pub number: String,
    /// Twilio: send through a Messaging Service instead of `number`.
    pub messaging_service_sid: Option<String>,
    /// Twilio: the account SID (user name for Basic auth).
    pub account_sid: Option<String>,
    /// Twilio: a command printing the auth token, or an environment variable.
    pub token_command: Option<String>,
    pub token_env: Option<String>,
    /// Twilio-compatible providers and tests point this elsewhere.
    #[serde(default = "twilio_base")]
    pub base_url: String,
    /// Plain http to a host other than loopback.
    #[serde(default)]
    pub allow_insecure: bool,
    /// Extra CA certificate (PEM) to trust.
    pub ca_file: Option<PathBuf>,
    /// smstools: the spool root with incoming/, outgoing/, sent/, failed/.
    pub spool: Option<PathBuf>,
    /// smstools: where read incoming files go [default: spool/processed].
    pub processed_dir: Option<PathBuf>,
    /// gammu: the SMSD SQLite database.
    pub database: Option<PathBuf>,
    /// Seconds between polls in the daemon.
    #[serde(default = "thirty")]
    pub poll_interval: u64,
    /// Seconds a request may take.
    #[serde(default = "thirty")]
    pub timeout: u64,
    /// Twilio: how many days back the very first poll reaches.
    #[serde(default = "one")]
    pub history_days: u32,
    /// A longer reply is refused with an error naming its segment count.
    #[serde(default = "four")]
    pub max_segments: usize,
    /// Queue replies to senders that are not phone numbers (alphanumeric
    /// sender ids such as `ACME`, short codes such as `72345`). Most
    /// gateways cannot deliver to them, so they are refused by default.
    #[serde(default)]
    pub reply_to_short_codes: bool,
}

fn twilio_base() -> String {
    "https://api.twilio.com".into()
}
fn thirty() -> u64 {
    30
}
fn one() -> u32 {
    1
}
fn four() -> usize {
    4
}

impl SmsAccount {
    pub fn check(&self) -> Result<(), String> {
        if !self.number.starts_with('+') || !self.number[1..].chars().all(|c| c.is_ascii_digit()) {
            return Err(format!(
                "number `{}` must be E.164, like +15005550006",
                self.number
            ));
        }
        match self.kind {
            Kind::Twilio => {
                if self.account_sid.is_none() {
                    return Err("kind = \"twilio\" needs account_sid".into());
                }
                match (&self.token_command, &self.token_env) {
                    (None, None) => return Err("twilio: set token_command or token_env".into()),
                    (Some(_), Some(_)) => {
                        return Err("twilio: set token_command or token_env, not both".into())
                    }
                    _ => {}
                }
                crate::channel::email::account::check_url(
                    "base_url",
                    &self.base_url,
                    self.allow_insecure,
                )?;
            }
            Kind::Gammu => {
                if self.database.is_none() {
                    return Err("kind = \"gammu\" needs database (Gammu SMSD's SQLite file)".into());
                }
            }
            Kind::Smstools => {
                if self.spool.is_none() {
                    return Err("kind = \"smstools\" needs spool (the directory with incoming/ and outgoing/)".into());
                }
            }
        }
        if self.max_segments == 0 {
            return Err("max_segments must be at least 1".into());
        }
        Ok(())
    }

    pub async fn token(&self) -> Result<String, String> {
        crate::channel::email::account::secret_async(
            "token_command",
            self.token_command.clone(),
            self.token_env.clone(),
            self.timeout,
        )
        .await
    }

    pub fn processed(&self) -> Option<PathBuf> {
        self.processed_dir
            .clone()
            .or_else(|| self.spool.as_ref().map(|s| s.join("processed")))
    }
}
