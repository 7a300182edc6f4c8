//! The config's smaller sections: assets, quality review, surveys,
//! scheduled reports, bulk jobs, the outbox's retries and the daemon.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// `[assets]` (docs/customers.md).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct AssetsConfig {
    /// A regular expression that finds serial numbers in a message's
    /// subject and text; its first group, if it has one, is the serial.
    /// A ticket without an asset is linked to the asset whose serial
    /// number a message names.
    pub serial_pattern: Option<String>,
}

/// `[review]`: the rubric of quality review (docs/surveys.md, Quality
/// review).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ReviewConfig {
    pub criteria: Vec<Criterion>,
}

/// One line of the rubric: scored 1..=scale, counted `weight` times.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Criterion {
    pub name: String,
    #[serde(default)]
    pub label: String,
    #[serde(default = "five")]
    pub scale: u8,
    #[serde(default = "one_f")]
    pub weight: f64,
}

fn five() -> u8 {
    5
}

fn one_f() -> f64 {
    1.0
}

impl Default for ReviewConfig {
    fn default() -> Self {
        let c = |name: &str, label: &str, weight: f64| Criterion {
            name: name.into(),
            label: label.into(),
            scale: 5,
            weight,
        };
        ReviewConfig {
            criteria: vec![
                c("greeting", "Greeting and closing", 1.0),
                c("correctness", "The answer is right", 2.0),
                c("tone", "Tone and clarity", 1.0),
                c("resolution", "Solved, not just answered", 2.0),
                c("follow-up", "Followed up as promised", 1.0),
            ],
        }
    }
}

impl ReviewConfig {
    pub(super) fn check(&self) -> Result<(), String> {
        if self.criteria.is_empty() {
            return Err("key `review.criteria`: give at least one criterion".into());
        }
        let mut names = std::collections::HashSet::new();
        for c in &self.criteria {
            let ok_name = !c.name.is_empty()
                && c.name
                    .chars()
                    .all(|ch| ch.is_alphanumeric() || ch == '-' || ch == '_');
            if !ok_name {
                return Err(format!(
                    "review criterion `{}`: a name is letters, digits, - and _",
                    c.name
                ));
            }
            if !names.insert(c.name.as_str()) {
                return Err(format!("review criterion `{}` is named twice", c.name));
            }
            if !(2..=10).contains(&c.scale) {
                return Err(format!(
                    "review criterion `{}`: scale {} is not between 2 and 10",
                    c.name, c.scale
                ));
            }
            if !(c.weight > 0.0 && c.weight.is_finite()) {
                return Err(format!(
                    "review criterion `{}`: weight {} must be above 0",
                    c.name, c.weight
                ));
            }
        }
        Ok(())
    }
}

/// `[survey]`: which solved tickets get a satisfaction survey, when, and
/// how answers are read (docs/surveys.md).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SurveyConfig {
    pub enabled: bool,
    /// Only tickets this query matches (beside the rules every survey
    /// follows: solved, not spam, not internal, not automatic).
    pub query: String,
    /// How long after the solve the survey goes out.
    pub delay: String,
    /// How long an answer counts as one.
    pub window: String,
    /// At most one survey per customer within this time.
    pub once_per: String,
    /// Channels surveyed (email and SMS; fax tickets never are).
    pub channels: Vec<crate::model::Channel>,
    /// Ratings run 1..=scale.
    pub scale: u8,
    pub question: String,
    /// One label per rating, from 1 up.
    pub labels: Vec<String>,
    /// Words that mean a rating ("非常满意" = 5).
    pub words: std::collections::BTreeMap<String, u8>,
    /// The email survey; {customer}, {ticket}, {subject}, {question},
    /// {scale}, {choices} are filled in.
    pub email_text: String,
    /// The SMS survey; the same fields, {choices} as "1-5".
    pub sms_text: String,
}

impl Default for SurveyConfig {
    fn default() -> Self {
        SurveyConfig {
            enabled: false,
            query: String::new(),
            delay: "24h".into(),
            window: "14d".into(),
            once_per: "30d".into(),
            channels: vec![crate::model::Channel::Email, crate::model::Channel::Sms],
            scale: 5,
            question: "How satisfied are you with how we handled your request?".into(),
            labels: [
                "very dissatisfied",
                "dissatisfied",
                "neither",
                "satisfied",
                "very satisfied",
            ]
            .map(String::from)
            .to_vec(),
            words: Default::default(),
            email_text: "Hello {customer},\n\nyour request \"{subject}\" (ticket #{ticket}) is solved. {question}\n\n\
                Reply to this message with a number from 1 to {scale}, and a comment if you like, or pick one:\n\n\
                {choices}\n\nThank you!\n"
                .into(),
            sms_text: "{question} Reply {choices}, and a comment if you like. Reply STOP to opt out.".into(),
        }
    }
}

impl SurveyConfig {
    pub(super) fn check(&self) -> Result<(), String> {
        for (key, v) in [
            ("delay", &self.delay),
            ("window", &self.window),
            ("once_per", &self.once_per),
        ] {
            crate::query::parse_duration(v).map_err(|e| format!("key `survey.{key}`: {e}"))?;
        }
        if !(2..=10).contains(&self.scale) {
            return Err(format!(
                "key `survey.scale`: {} is not between 2 and 10",
                self.scale
            ));
        }
        if !self.labels.is_empty() && self.labels.len() != usize::from(self.scale) {
            return Err(format!(
                "key `survey.labels`: {} labels for a scale of {}",
                self.labels.len(),
                self.scale
            ));
        }
        for (w, r) in &self.words {
            if *r < 1 || *r > self.scale {
                return Err(format!(
                    "key `survey.words`: `{w}` = {r} is not on the scale 1 to {}",
                    self.scale
                ));
            }
        }
        crate::query::parse(&self.query).map_err(|e| format!("key `survey.query`: {e}"))?;
        if self.channels.contains(&crate::model::Channel::Fax) {
            return Err("key `survey.channels`: faxes are not surveyed; email and sms".into());
        }
        Ok(())
    }

    /// How answers are read.
    pub fn scale(&self) -> crate::csat::Scale {
        crate::csat::Scale {
            max: self.scale,
            words: self.words.clone(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ReportConfig {
    /// KPI name → target, e.g. `frt_p90 = "<= 4h"`, `reopen_rate = "<= 5%"`.
    pub targets: std::collections::BTreeMap<String, String>,
    /// How close to a target counts as "near", as a share of it.
    pub near: String,
    /// The first day of a report week.
    pub week_starts: String,
    /// Reports the daemon mails on a schedule (`[[report.mail]]`).
    pub mail: Vec<ReportMail>,
}

impl Default for ReportConfig {
    fn default() -> Self {
        ReportConfig {
            targets: Default::default(),
            near: "10%".into(),
            week_starts: "mon".into(),
            mail: Vec::new(),
        }
    }
}

/// A report mailed on a schedule: `every` day, week or month at `at` on
/// the team's clock, covering `period` (by default the day, week or month
/// just ended).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ReportMail {
    pub name: String,
    pub to: Vec<String>,
    /// day, week or month.
    pub every: String,
    /// HH:MM on the team's clock [default: 07:00].
    #[serde(default = "seven")]
    pub at: String,
    /// A `--period` word or `last:4w` [default: yesterday, last-week or
    /// last-month, after `every`].
    pub period: Option<String>,
    /// day, week, month or total [default: day; week for a monthly one].
    pub by: Option<String>,
    #[serde(default = "all_groups")]
    pub group: String,
    pub query: Option<String>,
}

impl ReportMail {
    pub(super) fn check(&self) -> Result<(), String> {
        if self.to.is_empty() {
            return Err("key `to`: give at least one address".into());
        }
        for a in &self.to {
            crate::identity::normalise_email(a).map_err(|e| format!("key `to`: {e}"))?;
        }
        crate::report::schedule::Every::parse(&self.every)
            .map_err(|e| format!("key `every`: {e}"))?;
        crate::report::schedule::parse_at(&self.at).map_err(|e| format!("key `at`: {e}"))?;
        if let Some(p) = &self.period {
            crate::report::schedule::parse_range(p, 20_000, chrono::Weekday::Mon)
                .map_err(|e| format!("key `period`: {e}"))?;
        }
        if let Some(b) = &self.by {
            crate::report::period::By::parse(b).map_err(|e| format!("key `by`: {e}"))?;
        }
        crate::kpi::Group::parse(&self.group).map_err(|e| format!("key `group`: {e}"))?;
        if let Some(q) = &self.query {
            crate::query::parse(q).map_err(|e| format!("key `query`: {e}"))?;
        }
        Ok(())
    }
}

fn seven() -> String {
    "07:00".into()
}

fn all_groups() -> String {
    "all".into()
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct BulkConfig {
    /// Messages per minute per channel (email, sms, fax); absent or 0:
    /// no limit. Entries are queued with due times spaced to fit.
    pub rate_per_minute: std::collections::BTreeMap<crate::model::Channel, u32>,
    /// Targets per transaction.
    pub chunk: usize,
}

impl Default for BulkConfig {
    fn default() -> Self {
        BulkConfig {
            rate_per_minute: Default::default(),
            chunk: 200,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct OutboxConfig {
    /// The wait after a send's first failure (it doubles each time).
    pub retry_first: String,
    /// The longest wait between tries.
    pub retry_max: String,
}

impl Default for OutboxConfig {
    fn default() -> Self {
        OutboxConfig {
            retry_first: "30s".into(),
            retry_max: "1h".into(),
        }
    }
}

impl OutboxConfig {
    /// (first, longest) wait in seconds; checked when the config loads.
    pub fn retry_seconds(&self) -> (i64, i64) {
        let first = crate::query::parse_duration(&self.retry_first).unwrap_or(30);
        let max = crate::query::parse_duration(&self.retry_max).unwrap_or(3600);
        (first.max(1), max.max(first.max(1)))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DaemonConfig {
    /// Log file; `-` for standard error (systemd's journal). Default:
    /// `daemon.log` in the XDG state directory.
    pub log_file: Option<PathBuf>,
    /// error, warn, info, debug or trace.
    pub log_level: String,
    /// Seconds between looks at the outbox for replies to send.
    pub outbox_interval: u64,
}

impl Default for DaemonConfig {
    fn default() -> Self {
        DaemonConfig {
            log_file: None,
            log_level: "info".into(),
            outbox_interval: 2,
        }
    }
}
