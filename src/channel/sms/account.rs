//! SMS gateway accounts: `[[sms]]` in the config file.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::channel::secret::Secret;

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

/// An `[[sms]]` account: what every kind has, and its gateway's own
/// settings, typed by `kind`. Read through [`RawSmsAccount`] (the table as
/// written, unknown keys refused), then checked: a key that belongs to
/// another kind is an error that names it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawSmsAccount", into = "RawSmsAccount")]
pub struct SmsAccount {
    pub name: String,
    /// Our number in E.164: what customers text, and the sender of replies.
    pub number: String,
    pub gateway: GatewayConfig,
    /// Seconds between polls in the daemon.
    pub poll_interval: u64,
    /// Seconds a request may take.
    pub timeout: u64,
    /// A longer reply is refused with an error naming its segment count.
    pub max_segments: usize,
    /// Queue replies to senders that are not phone numbers (see
    /// [`RawSmsAccount::reply_to_short_codes`]).
    pub reply_to_short_codes: bool,
}

/// Each kind's own settings.
#[derive(Debug, Clone, PartialEq)]
pub enum GatewayConfig {
    Twilio(TwilioConfig),
    Smstools {
        /// The spool root with incoming/, outgoing/, sent/, failed/.
        spool: PathBuf,
        processed_dir: Option<PathBuf>,
    },
    Gammu {
        /// The SMSD SQLite database.
        database: PathBuf,
    },
}

/// A Twilio-compatible REST gateway.
#[derive(Debug, Clone, PartialEq)]
pub struct TwilioConfig {
    pub account_sid: String,
    pub messaging_service_sid: Option<String>,
    pub token: Secret,
    pub base_url: String,
    pub allow_insecure: bool,
    pub ca_file: Option<PathBuf>,
    pub history_days: u32,
}

/// `[[sms]]` as written in the file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSmsAccount {
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

impl TryFrom<RawSmsAccount> for SmsAccount {
    type Error = String;

    fn try_from(r: RawSmsAccount) -> Result<SmsAccount, String> {
        if !r.number.starts_with('+') || !r.number[1..].chars().all(|c| c.is_ascii_digit()) {
            return Err(format!(
                "number `{}` must be E.164, like +15005550006",
                r.number
            ));
        }
        if r.max_segments == 0 {
            return Err("max_segments must be at least 1".into());
        }
        let kind = r.kind;
        // Keys of another kind: a mix-up worth saying, not ignoring.
        let foreign = |keys: &[(&str, bool)]| -> Result<(), String> {
            match keys.iter().find(|(_, set)| *set) {
                Some((key, _)) => Err(format!(
                    "`{key}` does not apply to kind = \"{}\"",
                    kind.as_str()
                )),
                None => Ok(()),
            }
        };
        let twilio_keys = [
            ("account_sid", r.account_sid.is_some()),
            ("messaging_service_sid", r.messaging_service_sid.is_some()),
            ("token_command", r.token_command.is_some()),
            ("token_env", r.token_env.is_some()),
            ("ca_file", r.ca_file.is_some()),
        ];
        let spool_keys = [
            ("spool", r.spool.is_some()),
            ("processed_dir", r.processed_dir.is_some()),
        ];
        let gammu_keys = [("database", r.database.is_some())];
        let gateway = match kind {
            Kind::Twilio => {
                foreign(&spool_keys)?;
                foreign(&gammu_keys)?;
                let account_sid = r
                    .account_sid
                    .clone()
                    .ok_or("kind = \"twilio\" needs account_sid")?;
                let token = Secret::new(
                    "token_command",
                    "token_env",
                    r.token_command.clone(),
                    r.token_env.clone(),
                );
                token.check(true)?;
                crate::channel::email::account::check_url(
                    "base_url",
                    &r.base_url,
                    r.allow_insecure,
                )?;
                GatewayConfig::Twilio(TwilioConfig {
                    account_sid,
                    messaging_service_sid: r.messaging_service_sid.clone(),
                    token,
                    base_url: r.base_url.clone(),
                    allow_insecure: r.allow_insecure,
                    ca_file: r.ca_file.clone(),
                    history_days: r.history_days,
                })
            }
            Kind::Smstools => {
                foreign(&twilio_keys)?;
                foreign(&gammu_keys)?;
                GatewayConfig::Smstools {
                    spool: r.spool.clone().ok_or(
                        "kind = \"smstools\" needs spool (the directory with incoming/ and outgoing/)",
                    )?,
                    processed_dir: r.processed_dir.clone(),
                }
            }
            Kind::Gammu => {
                foreign(&twilio_keys)?;
                foreign(&spool_keys)?;
                GatewayConfig::Gammu {
                    database: r
                        .database
                        .clone()
                        .ok_or("kind = \"gammu\" needs database (Gammu SMSD's SQLite file)")?,
                }
            }
        };
        Ok(SmsAccount {
            name: r.name,
            number: r.number,
            gateway,
            poll_interval: r.poll_interval,
            timeout: r.timeout,
            max_segments: r.max_segments,
            reply_to_short_codes: r.reply_to_short_codes,
        })
    }
}

impl From<SmsAccount> for RawSmsAccount {
    fn from(a: SmsAccount) -> RawSmsAccount {
        let mut r = RawSmsAccount {
            name: a.name,
            kind: a.gateway.kind(),
            number: a.number,
            messaging_service_sid: None,
            account_sid: None,
            token_command: None,
            token_env: None,
            base_url: twilio_base(),
            allow_insecure: false,
            ca_file: None,
            spool: None,
            processed_dir: None,
            database: None,
            poll_interval: a.poll_interval,
            timeout: a.timeout,
            history_days: one(),
            max_segments: a.max_segments,
            reply_to_short_codes: a.reply_to_short_codes,
        };
        match a.gateway {
            GatewayConfig::Twilio(t) => {
                r.account_sid = Some(t.account_sid);
                r.messaging_service_sid = t.messaging_service_sid;
                r.token_command = t.token.command;
                r.token_env = t.token.env;
                r.base_url = t.base_url;
                r.allow_insecure = t.allow_insecure;
                r.ca_file = t.ca_file;
                r.history_days = t.history_days;
            }
            GatewayConfig::Smstools {
                spool,
                processed_dir,
            } => {
                r.spool = Some(spool);
                r.processed_dir = processed_dir;
            }
            GatewayConfig::Gammu { database } => r.database = Some(database),
        }
        r
    }
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Twilio => "twilio",
            Kind::Smstools => "smstools",
            Kind::Gammu => "gammu",
        }
    }
}

impl GatewayConfig {
    pub fn kind(&self) -> Kind {
        match self {
            GatewayConfig::Twilio(_) => Kind::Twilio,
            GatewayConfig::Smstools { .. } => Kind::Smstools,
            GatewayConfig::Gammu { .. } => Kind::Gammu,
        }
    }
}

impl SmsAccount {
    /// Checked when read ([`TryFrom<RawSmsAccount>`]); kept for callers
    /// that validate a whole config.
    pub fn check(&self) -> Result<(), String> {
        Ok(())
    }

    pub fn kind(&self) -> Kind {
        self.gateway.kind()
    }

    pub fn twilio(&self) -> Option<&TwilioConfig> {
        match &self.gateway {
            GatewayConfig::Twilio(t) => Some(t),
            _ => None,
        }
    }

    pub fn spool(&self) -> Option<&PathBuf> {
        match &self.gateway {
            GatewayConfig::Smstools { spool, .. } => Some(spool),
            _ => None,
        }
    }

    pub fn processed(&self) -> Option<PathBuf> {
        match &self.gateway {
            GatewayConfig::Smstools {
                spool,
                processed_dir,
            } => Some(
                processed_dir
                    .clone()
                    .unwrap_or_else(|| spool.join("processed")),
            ),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(extra: &str) -> Result<SmsAccount, String> {
        let text = format!("name = \"t\"\nnumber = \"+15005550006\"\n{extra}");
        toml::from_str::<SmsAccount>(&text).map_err(|e| e.to_string())
    }

    #[test]
    fn each_kind_reads_into_its_own_settings() {
        let a = read("kind = \"twilio\"\naccount_sid = \"AC1\"\ntoken_env = \"TW\"\n").unwrap();
        let t = a.twilio().expect("twilio settings");
        assert_eq!(t.account_sid, "AC1");
        assert_eq!(t.token.env.as_deref(), Some("TW"));
        let a = read("kind = \"smstools\"\nspool = \"/var/spool/sms\"\n").unwrap();
        assert_eq!(
            a.processed(),
            Some(PathBuf::from("/var/spool/sms/processed"))
        );
        let a = read("kind = \"gammu\"\ndatabase = \"/var/lib/smsd.db\"\n").unwrap();
        assert_eq!(a.kind(), Kind::Gammu);
        // And back to the table as written.
        let back = RawSmsAccount::from(a);
        assert_eq!(back.database, Some(PathBuf::from("/var/lib/smsd.db")));
        assert_eq!(back.kind, Kind::Gammu);
    }

    #[test]
    fn a_key_of_another_kind_or_a_missing_one_is_named() {
        let e =
            read("kind = \"twilio\"\naccount_sid = \"AC1\"\ntoken_env = \"TW\"\nspool = \"/x\"\n")
                .unwrap_err();
        assert!(
            e.contains("`spool` does not apply to kind = \"twilio\""),
            "{e}"
        );
        let e = read("kind = \"gammu\"\n").unwrap_err();
        assert!(e.contains("needs database"), "{e}");
        let e = read("kind = \"smstools\"\nspool = \"/x\"\ntoken_env = \"TW\"\n").unwrap_err();
        assert!(e.contains("`token_env` does not apply"), "{e}");
        let e = read("kind = \"twilio\"\naccount_sid = \"AC1\"\n").unwrap_err();
        assert!(e.contains("token_command or token_env"), "{e}");
    }
}
