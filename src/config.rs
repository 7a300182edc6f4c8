//! The TOML configuration: where it lives, what it holds, and errors that
//! name the file, line and key.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::workflow::Workflow;

mod sections;
pub use sections::{
    AssetsConfig, BulkConfig, Criterion, DaemonConfig, OutboxConfig, ReportConfig, ReportMail,
    ReviewConfig, SurveyConfig,
};

pub use crate::error::ConfigError;

/// A saved query shown as a view in the queue.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct View {
    pub name: String,
    pub query: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The agent name used for assignments and the audit log; `$USER` when unset.
    pub agent: Option<String>,
    /// Region for reading national phone and fax numbers (ISO 3166 code).
    pub default_region: String,
    /// The SQLite database file; the XDG data path when unset.
    pub database: Option<PathBuf>,
    /// How a ticket id is written into outgoing subjects and recognised in
    /// incoming ones; `{id}` stands for the number.
    pub subject_tag: String,
    pub workflow: Workflow,
    pub views: Vec<View>,
    /// TUI theme: dark, light, high-contrast, monochrome, or a file path.
    pub theme: String,
    /// Command that opens a file (`{file}`, or the path appended):
    /// `echodesk attachment open`.
    pub viewer: String,
    /// Directory of canned answers (one Markdown file each); the XDG data
    /// path's `canned/` when unset.
    pub canned_dir: Option<PathBuf>,
    /// Agent signature for canned answers; `{agent}` is the agent's name.
    pub signature: String,
    /// TUI key overrides: action name → keys (see `echodesk` then `?`).
    pub keys: std::collections::BTreeMap<String, Vec<String>>,
    /// Email accounts, fax-to-email mailboxes among them (`[accounts.fax]`).
    pub accounts: Vec<crate::channel::email::account::Account>,
    /// SMS gateway accounts.
    pub sms: Vec<crate::channel::sms::account::SmsAccount>,
    /// `echodesk daemon`: log file and level, outbox check interval.
    pub daemon: DaemonConfig,
    /// How the outbox waits between tries of a send that did not go.
    pub outbox: OutboxConfig,
    /// `echodesk bulk` and `echodesk send`.
    pub bulk: BulkConfig,
    /// Automation rules, tried in order for every customer message.
    pub rules: Vec<crate::rules::Rule>,
    /// At most one automatic reply per customer within this time (e.g. 24h).
    pub auto_reply_period: String,
    /// A text (SMS, fax) to a ticket solved longer ago than this opens a
    /// new ticket instead of reopening it.
    pub reopen_window: String,
    /// SLA policies, first match wins (by priority and channel).
    pub sla: Vec<crate::sla::Policy>,
    /// The hours SLA policies with `business_hours = true` count.
    pub business_hours: crate::sla::BusinessHours,
    /// The team's time zone (IANA name): business hours, report days and
    /// weeks, snooze times, and the times people read.
    pub time_zone: String,
    /// This agent's own zone for the times they read and type, when it is
    /// not the team's.
    pub my_time_zone: Option<String>,
    /// `echodesk report`: KPI targets and the week's first day.
    pub report: ReportConfig,
    /// Satisfaction surveys after a solve.
    pub survey: SurveyConfig,
    /// Quality review: the rubric sampled tickets are scored on.
    pub review: ReviewConfig,
    /// Custom fields of customers, organisations, assets and tickets.
    #[serde(rename = "field")]
    pub fields: Vec<crate::fields::FieldDef>,
    /// `[assets]`: how serial numbers are recognised in messages.
    pub assets: AssetsConfig,
    /// Proactive care: messages sent on a schedule (`[[schedule]]`).
    #[serde(rename = "schedule")]
    pub schedules: Vec<crate::schedule::Schedule>,
    /// `[care]`: what holds for every schedule.
    pub care: crate::schedule::CareConfig,
    /// The customer's-voice digest mailed on a schedule (`[[digest]]`).
    #[serde(rename = "digest")]
    pub digests: Vec<crate::schedule::DigestMail>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            agent: None,
            default_region: crate::store::DEFAULT_REGION.into(),
            database: None,
            subject_tag: crate::store::DEFAULT_SUBJECT_TAG.into(),
            workflow: Workflow::default(),
            views: default_views(),
            theme: "dark".into(),
            viewer: "xdg-open".into(),
            canned_dir: None,
            signature: "— {agent}".into(),
            keys: Default::default(),
            accounts: Vec::new(),
            sms: Vec::new(),
            daemon: DaemonConfig::default(),
            outbox: OutboxConfig::default(),
            bulk: BulkConfig::default(),
            rules: Vec::new(),
            auto_reply_period: "24h".into(),
            reopen_window: "7d".into(),
            sla: Vec::new(),
            business_hours: Default::default(),
            time_zone: "UTC".into(),
            my_time_zone: None,
            report: ReportConfig::default(),
            survey: SurveyConfig::default(),
            review: ReviewConfig::default(),
            fields: Vec::new(),
            assets: AssetsConfig::default(),
            schedules: Vec::new(),
            care: crate::schedule::CareConfig::default(),
            digests: Vec::new(),
        }
    }
}

impl Config {
    /// The `[[accounts]]` entry of this name.
    pub fn account(&self, name: &str) -> Option<&crate::channel::email::account::Account> {
        self.accounts.iter().find(|a| a.name == name)
    }

    /// The `[[sms]]` entry of this name.
    pub fn sms_account(&self, name: &str) -> Option<&crate::channel::sms::account::SmsAccount> {
        self.sms.iter().find(|a| a.name == name)
    }

    /// `[report]`: the targets, how near counts as near (a share), and the
    /// week's first day; errors name the key.
    pub fn report_settings(
        &self,
    ) -> Result<(Vec<crate::report::figures::Target>, f64, chrono::Weekday), String> {
        let mut targets = Vec::new();
        for (k, v) in &self.report.targets {
            targets.push(
                crate::report::figures::Target::parse(k, v)
                    .map_err(|e| format!("report.targets: {e}"))?,
            );
        }
        let near = self
            .report
            .near
            .trim()
            .strip_suffix('%')
            .and_then(|n| n.trim().parse::<f64>().ok())
            .filter(|n| (0.0..=100.0).contains(n))
            .ok_or_else(|| {
                format!(
                    "key `report.near`: `{}` is not a share like 10%",
                    self.report.near
                )
            })?;
        let week = crate::report::period::parse_weekday(&self.report.week_starts)
            .map_err(|e| format!("key `report.week_starts`: {e}"))?;
        Ok((targets, near / 100.0, week))
    }

    /// The team's zone (checked when the config was loaded).
    pub fn team_zone(&self) -> crate::clock::Zone {
        crate::clock::Zone::parse(&self.time_zone).unwrap_or_default()
    }

    /// The zone this agent reads times in: their own, or the team's.
    pub fn my_zone(&self) -> crate::clock::Zone {
        self.my_time_zone
            .as_deref()
            .and_then(|z| crate::clock::Zone::parse(z).ok())
            .unwrap_or_else(|| self.team_zone())
    }

    /// What the automation rules need of the config.
    pub fn rules_setup(&self) -> crate::rules::Setup<'_> {
        crate::rules::Setup {
            rules: &self.rules,
            workflow: &self.workflow,
            canned_dir: self.canned_path(),
            auto_reply_period: &self.auto_reply_period,
            signature: &self.signature,
            subject_tag: &self.subject_tag,
        }
    }
}

/// What the store needs of the config; the store does not read the config.
impl From<&Config> for crate::store::Settings {
    fn from(c: &Config) -> Self {
        crate::store::Settings {
            workflow: c.workflow.clone(),
            default_region: c.default_region.clone(),
            subject_tag: c.subject_tag.clone(),
            // Checked when the config was loaded.
            sla: crate::sla::Sla::new(&c.sla, &c.business_hours, c.team_zone()).unwrap_or_default(),
            zone: c.team_zone(),
            keep_reports: true,
            reopen_window: crate::query::parse_duration(&c.reopen_window).unwrap_or(7 * 86_400),
            sms_to_short_codes: c.sms.iter().any(|a| a.reply_to_short_codes),
            survey: c.survey.scale(),
            // Both checked when the config was loaded.
            fields: crate::fields::Fields::new(c.fields.clone()).unwrap_or_default(),
            serial_pattern: c.serial_pattern().ok().flatten(),
        }
    }
}

fn default_views() -> Vec<View> {
    [
        ("Open", "is:open -is:snoozed"),
        ("Mine", "assignee:me is:open -is:snoozed"),
        ("Unassigned", "is:unassigned is:open -is:snoozed"),
        ("Waiting", "state:pending"),
        ("Email", "channel:email is:open -is:snoozed"),
        ("SMS", "channel:sms is:open -is:snoozed"),
        ("Fax", "channel:fax is:open -is:snoozed"),
        ("Solved", "state:solved"),
        ("Snoozed", "is:snoozed sort:created-asc"),
    ]
    .into_iter()
    .map(|(n, q)| View {
        name: n.into(),
        query: q.into(),
    })
    .collect()
}

/// The commented template `echodesk init` writes.
pub const TEMPLATE: &str = include_str!("config_template.toml");

impl Config {
    /// Parses `text` as read from `path`, with errors naming both.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let cfg: Config = toml::from_str(text).map_err(|e| located(text, path, &e))?;
        cfg.validate(path)?;
        Ok(cfg)
    }

    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|cause| ConfigError::Io {
            path: path.into(),
            cause,
        })?;
        Config::parse(&text, path)
    }

    /// `[assets] serial_pattern`, compiled (bounded in size: it runs on
    /// every message).
    pub fn serial_pattern(&self) -> Result<Option<regex::Regex>, String> {
        self.assets
            .serial_pattern
            .as_deref()
            .map(|p| {
                regex::RegexBuilder::new(p)
                    .size_limit(1 << 20)
                    .build()
                    .map_err(|e| format!("key `assets.serial_pattern`: {e}"))
            })
            .transpose()
    }

    fn validate(&self, path: &Path) -> Result<(), ConfigError> {
        let invalid = |message: String| ConfigError::Invalid {
            path: path.into(),
            message,
        };
        let fields =
            crate::fields::Fields::new(self.fields.clone()).map_err(|e| invalid(e.to_string()))?;
        let mut schedules = std::collections::HashSet::new();
        for sc in &self.schedules {
            if !schedules.insert(sc.name.as_str()) {
                return Err(invalid(format!(
                    "schedule: the name `{}` is used twice",
                    sc.name
                )));
            }
            sc.check(&fields)
                .map_err(|e| invalid(format!("schedule `{}`: {e}", sc.name)))?;
        }
        let mut digests = std::collections::HashSet::new();
        for d in &self.digests {
            if !digests.insert(d.name.as_str()) {
                return Err(invalid(format!(
                    "digest: the name `{}` is used twice",
                    d.name
                )));
            }
            d.check()
                .map_err(|e| invalid(format!("digest `{}`: {e}", d.name)))?;
        }
        if let Some(f) = &self.care.opt_out_field {
            match fields.get(crate::fields::Entity::Customer, f) {
                Some(d) if d.kind == crate::fields::Kind::YesNo => {}
                _ => {
                    return Err(invalid(format!(
                        "care.opt_out_field: `{f}` is not a declared yes/no customer field"
                    )))
                }
            }
        }
        self.serial_pattern().map_err(invalid)?;
        self.workflow
            .validate()
            .map_err(|e| invalid(e.to_string()))?;
        if self
            .default_region
            .parse::<phonenumber::country::Id>()
            .is_err()
        {
            return Err(invalid(format!(
                "key `default_region`: `{}` is not an ISO 3166 region code such as US, DE or JP",
                self.default_region
            )));
        }
        if !self.subject_tag.contains("{id}") {
            return Err(invalid(format!(
                "key `subject_tag`: `{}` must contain {{id}}",
                self.subject_tag
            )));
        }
        let mut names = std::collections::HashSet::new();
        for a in &self.accounts {
            if !names.insert(a.name.as_str()) {
                return Err(invalid(format!(
                    "accounts: the name `{}` is used twice",
                    a.name
                )));
            }
            if let Some(imap) = &a.imap {
                imap.check()
                    .map_err(|e| invalid(format!("account `{}`: {e}", a.name)))?;
            }
            if let Some(smtp) = &a.smtp {
                smtp.check()
                    .map_err(|e| invalid(format!("account `{}`: {e}", a.name)))?;
            }
            if let Some(fax) = &a.fax {
                crate::channel::fax::Profile::from_config(fax)
                    .map_err(|e| invalid(format!("account `{}`: fax: {e}", a.name)))?;
            }
        }
        for (key, v) in [
            ("outbox.retry_first", &self.outbox.retry_first),
            ("outbox.retry_max", &self.outbox.retry_max),
        ] {
            if crate::query::parse_duration(v).is_err() {
                return Err(invalid(format!(
                    "key `{key}`: `{v}` is not a duration such as 30s, 5m or 1h"
                )));
            }
        }
        if !["error", "warn", "info", "debug", "trace"].contains(&self.daemon.log_level.as_str()) {
            return Err(invalid(format!(
                "key `daemon.log_level`: `{}` is not one of error, warn, info, debug, trace",
                self.daemon.log_level
            )));
        }
        crate::query::parse_duration(&self.reopen_window)
            .map_err(|e| invalid(format!("key `reopen_window`: {e}")))?;
        crate::query::parse_duration(&self.auto_reply_period)
            .map_err(|e| invalid(format!("key `auto_reply_period`: {e}")))?;
        let mut rule_names = std::collections::HashSet::new();
        for r in &self.rules {
            if !rule_names.insert(r.name.as_str()) {
                return Err(invalid(format!(
                    "rules: the name `{}` is used twice",
                    r.name
                )));
            }
            r.check(&self.workflow)
                .map_err(|e| invalid(format!("rule `{}`: {e}", r.name)))?;
        }
        crate::clock::Zone::parse(&self.time_zone)
            .map_err(|e| invalid(format!("key `time_zone`: {e}")))?;
        if let Some(z) = &self.my_time_zone {
            crate::clock::Zone::parse(z)
                .map_err(|e| invalid(format!("key `my_time_zone`: {e}")))?;
        }
        crate::sla::Sla::new(&self.sla, &self.business_hours, self.team_zone()).map_err(invalid)?;
        if self.bulk.chunk == 0 {
            return Err(invalid("key `bulk.chunk`: must be at least 1".into()));
        }
        if self.daemon.outbox_interval == 0 {
            return Err(invalid(
                "key `daemon.outbox_interval`: must be at least 1 second".into(),
            ));
        }
        for a in &self.sms {
            if !names.insert(a.name.as_str()) {
                return Err(invalid(format!(
                    "the account name `{}` is used twice",
                    a.name
                )));
            }
            a.check()
                .map_err(|e| invalid(format!("sms account `{}`: {e}", a.name)))?;
        }
        for v in &self.views {
            crate::query::parse(&v.query)
                .map_err(|e| invalid(format!("view `{}`: query `{}`: {e}", v.name, v.query)))?;
        }
        self.report_settings().map_err(invalid)?;
        self.survey.check().map_err(invalid)?;
        self.review.check().map_err(invalid)?;
        let mut mailings = std::collections::HashSet::new();
        for m in &self.report.mail {
            if !mailings.insert(m.name.as_str()) {
                return Err(invalid(format!(
                    "report.mail: the name `{}` is used twice",
                    m.name
                )));
            }
            m.check()
                .map_err(|e| invalid(format!("report.mail `{}`: {e}", m.name)))?;
        }
        Ok(())
    }

    /// Where canned answers live.
    pub fn canned_path(&self) -> PathBuf {
        self.canned_dir.clone().unwrap_or_else(|| {
            Paths::xdg()
                .map(|p| p.data_dir.join("canned"))
                .unwrap_or_else(|_| PathBuf::from("canned"))
        })
    }

    /// The agent this process acts as: config, then `$USER`, then "agent".
    pub fn agent_name(&self) -> String {
        self.agent
            .clone()
            .or_else(|| std::env::var("USER").ok().filter(|u| !u.is_empty()))
            .unwrap_or_else(|| "agent".into())
    }
}

fn located(text: &str, path: &Path, e: &toml::de::Error) -> ConfigError {
    let (line, column, line_text) = match e.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let line_start = before.rfind('\n').map_or(0, |i| i + 1);
            let column = before[line_start..].chars().count() + 1;
            let line_text = text[line_start..].lines().next().unwrap_or("");
            (line, column, line_text)
        }
        None => (1, 1, ""),
    };
    let message = e.message().trim().to_string();
    let key = key_in_message(&message)
        .or_else(|| {
            line_text
                .split_once('=')
                .map(|(k, _)| k.trim().trim_matches('"').to_string())
        })
        .filter(|k| !k.is_empty())
        .unwrap_or_else(|| line_text.trim().to_string());
    ConfigError::Parse {
        path: path.into(),
        line,
        column,
        key,
        message,
    }
}

fn key_in_message(msg: &str) -> Option<String> {
    let rest = msg.strip_prefix("unknown field `")?;
    Some(rest.split('`').next()?.to_string())
}

/// Where the config and data live when nothing overrides them.
pub struct Paths {
    pub config_file: PathBuf,
    pub data_dir: PathBuf,
    pub state_dir: PathBuf,
}

impl Paths {
    pub fn xdg() -> Result<Paths, ConfigError> {
        use etcetera::BaseStrategy;
        let base = etcetera::choose_base_strategy().map_err(|_| ConfigError::NoHome)?;
        Ok(Paths {
            config_file: base.config_dir().join("echodesk").join("config.toml"),
            data_dir: base.data_dir().join("echodesk"),
            state_dir: base
                .state_dir()
                .unwrap_or_else(|| base.data_dir())
                .join("echodesk"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stores_defaults_are_the_empty_configs() {
        let from = crate::store::Settings::from(&Config::default());
        let own = crate::store::Settings::default();
        assert_eq!(from.workflow, own.workflow);
        assert_eq!(from.default_region, own.default_region);
        assert_eq!(from.subject_tag, own.subject_tag);
        assert_eq!(from.reopen_window, own.reopen_window);
        assert_eq!(from.sms_to_short_codes, own.sms_to_short_codes);
    }

    fn parse(s: &str) -> Result<Config, ConfigError> {
        Config::parse(s, Path::new("/etc/echodesk.toml"))
    }

    #[test]
    fn template_parses_to_defaults() {
        let cfg = parse(TEMPLATE).unwrap();
        assert_eq!(cfg.workflow, Workflow::default());
        assert_eq!(cfg.default_region, "US");
    }

    #[test]
    fn unknown_key_names_file_line_and_key() {
        let err = parse("default_region = \"DE\"\n\n[workflow]\nstatez = []\n").unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("/etc/echodesk.toml:4:"), "{msg}");
        assert!(msg.contains("`statez`"), "{msg}");
    }

    #[test]
    fn bad_value_names_key() {
        let err = parse("agent = 42\n").unwrap_err().to_string();
        assert!(err.contains(":1:") && err.contains("`agent`"), "{err}");
    }

    #[test]
    fn bad_region_and_view_are_reported() {
        let err = parse("default_region = \"Mars\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("default_region"), "{err}");
        let err = parse("[[views]]\nname = \"x\"\nquery = \"bogus:1\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("view `x`") && err.contains("bogus"), "{err}");
    }

    #[test]
    fn workflow_errors_are_reported() {
        let err = parse("[workflow]\ninitial = \"limbo\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("limbo"), "{err}");
    }
}
