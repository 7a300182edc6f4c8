//! What the config declares to happen on a schedule — proactive-care
//! messages (`[[schedule]]`, `[care]`; `care` runs them) and digests
//! (`[[digest]]`; `voice` mails them) — and when each comes round.

pub mod when;

use serde::{Deserialize, Serialize};

use crate::change::Change;
use crate::fields::Entity;
use crate::model::Channel;
pub use when::When;

/// `[[schedule]]` in the config (docs/care.md).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    pub name: String,
    /// daily, weekly or monthly, at `at` (HH:MM, the team's clock).
    pub every: Option<String>,
    pub at: Option<String>,
    /// Or five cron fields on the team's clock: `0 8 * * mon-fri`.
    pub cron: Option<String>,
    /// Who: a query over customers and their assets
    /// (`asset.service_due<7d`, `customer.tier:gold`, `org:acme`, `tag:x`).
    pub who: String,
    /// The canned answer sent (name or shortcut), with its channel variants.
    pub canned: String,
    /// `preferred` (the customer's channel, else email, SMS, fax), or
    /// email, sms or fax.
    #[serde(default = "preferred")]
    pub channel: String,
    /// What makes a message once-only: `customer`, `asset`, `slot`, `day`,
    /// `week`, `month`, `year`, `asset.NAME`, `customer.NAME`.
    pub once: Vec<String>,
    /// Add the message to the customer's newest open ticket, when they
    /// have one, instead of opening an outbound ticket.
    #[serde(default)]
    pub on_open_ticket: bool,
    /// The new ticket's subject [default: the canned answer's title].
    pub subject: Option<String>,
    /// Tags on the ticket the message goes out on.
    #[serde(default)]
    pub tags: Vec<String>,
    /// A schedule can be switched off without deleting it.
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn preferred() -> String {
    "preferred".into()
}

fn yes() -> bool {
    true
}

/// `[care]`: what holds for every schedule.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct CareConfig {
    /// A declared yes/no customer field: customers with `yes` get no
    /// scheduled message (besides numbers that texted STOP).
    pub opt_out_field: Option<String>,
}

const ONCE_PARTS: &str =
    "customer, asset, slot, day, week, month, year, asset.NAME or customer.NAME";

impl Schedule {
    pub fn when(&self) -> std::result::Result<When, String> {
        When::parse(
            self.every.as_deref(),
            self.at.as_deref(),
            self.cron.as_deref(),
        )
    }

    pub fn channel(&self) -> std::result::Result<Option<Channel>, String> {
        match self.channel.as_str() {
            "preferred" | "auto" => Ok(None),
            c => Channel::parse(c)
                .map(Some)
                .ok_or_else(|| format!("key `channel`: `{c}` is not preferred, email, sms or fax")),
        }
    }

    pub fn agent(&self) -> String {
        format!("schedule:{}", self.name)
    }

    /// What the config loader checks: everything but the canned answer,
    /// which is read when the schedule runs.
    pub fn check(&self, fields: &crate::fields::Fields) -> std::result::Result<(), String> {
        if self.name.trim().is_empty() || self.name.contains(':') {
            return Err("key `name`: a name without `:`".into());
        }
        self.when()?;
        crate::query::parse(&self.who).map_err(|e| format!("key `who`: `{}`: {e}", self.who))?;
        self.channel()?;
        if self.canned.trim().is_empty() {
            return Err("key `canned`: name the canned answer to send".into());
        }
        if self.once.is_empty() {
            return Err(format!(
                "key `once`: say what makes a message once-only, e.g. [\"customer\", \"asset\", \"asset.service_due\"] or [\"customer\", \"month\"] ({ONCE_PARTS})"
            ));
        }
        for p in &self.once {
            match p.as_str() {
                "customer" | "asset" | "slot" | "day" | "week" | "month" | "year" => {}
                other => {
                    let (e, n) = other.split_once('.').ok_or_else(|| {
                        format!("key `once`: `{other}` is not one of {ONCE_PARTS}")
                    })?;
                    let entity = match e {
                        "asset" => Entity::Asset,
                        "customer" => Entity::Customer,
                        _ => {
                            return Err(format!("key `once`: `{other}` is not one of {ONCE_PARTS}"))
                        }
                    };
                    if builtin(entity, n).is_none() {
                        fields
                            .def(entity, n)
                            .map_err(|e| format!("key `once`: {e}"))?;
                    }
                }
            }
        }
        if !self.tags.is_empty() {
            let words: Vec<String> = self.tags.iter().map(|t| format!("+{t}")).collect();
            Change::tags(&words).map_err(|e| format!("key `tags`: {e}"))?;
        }
        Ok(())
    }
}

/// Built-in attributes a once-key may name.
fn builtin(entity: Entity, name: &str) -> Option<()> {
    match (entity, name) {
        (Entity::Asset, "model" | "serial" | "purchased" | "warranty_until" | "location")
        | (Entity::Customer, "name" | "external_id") => Some(()),
        _ => None,
    }
}

/// `[[digest]]`: the customer's-voice digest mailed on a schedule.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DigestMail {
    pub name: String,
    /// Team addresses it goes to.
    pub to: Vec<String>,
    pub every: Option<String>,
    pub at: Option<String>,
    pub cron: Option<String>,
    /// Which tickets (the query language); `tag:product/*` counts the
    /// tags under `product/`.
    #[serde(default)]
    pub query: String,
    /// The period, ending at the slot [default: 1w].
    #[serde(default = "week")]
    pub last: String,
    /// Verbatim examples per growing topic [default: 3].
    #[serde(default = "three")]
    pub examples: usize,
}

fn week() -> String {
    "1w".into()
}

fn three() -> usize {
    3
}

impl DigestMail {
    pub fn when(&self) -> std::result::Result<When, String> {
        When::parse(
            self.every.as_deref(),
            self.at.as_deref(),
            self.cron.as_deref(),
        )
    }

    pub fn check(&self) -> std::result::Result<(), String> {
        if self.to.is_empty() {
            return Err("key `to`: give at least one address".into());
        }
        for a in &self.to {
            crate::identity::normalise_email(a).map_err(|e| format!("key `to`: {e}"))?;
        }
        self.when()?;
        crate::query::parse(&self.query).map_err(|e| format!("key `query`: {e}"))?;
        crate::query::parse_duration(&self.last).map_err(|e| format!("key `last`: {e}"))?;
        Ok(())
    }
}
