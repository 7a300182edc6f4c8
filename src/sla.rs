//! SLA policies: first-response and resolution targets per priority and
//! channel, optionally counted in business hours only. A ticket's deadlines
//! are computed when it is created and again when its priority changes,
//! and stored on the ticket, so `is:breached` and `sla:<2h` are plain
//! column comparisons.

use chrono::{Datelike, Duration, TimeZone, Timelike};
use serde::{Deserialize, Serialize};

use crate::model::{Channel, Priority};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    pub name: String,
    /// Priorities it covers; empty: all.
    #[serde(default)]
    pub priorities: Vec<Priority>,
    /// Channels it covers; empty: all.
    #[serde(default)]
    pub channels: Vec<Channel>,
    /// Time to the first agent reply, e.g. "4h".
    pub first_response: Option<String>,
    /// Time to solved, e.g. "3d".
    pub resolution: Option<String>,
    /// Count only `[business_hours]`.
    #[serde(default)]
    pub business_hours: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BusinessHours {
    pub days: Vec<String>,
    pub start: String,
    pub end: String,
    /// The team's offset from UTC, e.g. "+01:00".
    pub utc_offset: String,
}

impl Default for BusinessHours {
    fn default() -> Self {
        BusinessHours {
            days: ["mon", "tue", "wed", "thu", "fri"]
                .map(String::from)
                .to_vec(),
            start: "09:00".into(),
            end: "17:00".into(),
            utc_offset: "+00:00".into(),
        }
    }
}

/// Policies and business hours, checked and ready to compute deadlines.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sla {
    policies: Vec<(Policy, Option<i64>, Option<i64>)>,
    hours: Option<Hours>,
}

#[derive(Debug, Clone, PartialEq)]
struct Hours {
    days: [bool; 7],
    start: u32,
    end: u32,
    offset: chrono::FixedOffset,
}

fn minutes(s: &str) -> Result<u32, String> {
    let (h, m) = s
        .split_once(':')
        .ok_or_else(|| format!("`{s}` is not a time like 09:00"))?;
    let (h, m): (u32, u32) = (
        h.parse()
            .map_err(|_| format!("`{s}` is not a time like 09:00"))?,
        m.parse()
            .map_err(|_| format!("`{s}` is not a time like 09:00"))?,
    );
    if h > 24 || m > 59 || h * 60 + m > 24 * 60 {
        return Err(format!("`{s}` is not a time of day"));
    }
    Ok(h * 60 + m)
}

impl Hours {
    fn new(b: &BusinessHours) -> Result<Hours, String> {
        let names = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
        let mut days = [false; 7];
        for d in &b.days {
            let i = names
                .iter()
                .position(|n| d.eq_ignore_ascii_case(n))
                .ok_or_else(|| format!("`{d}` is not a day; use mon, tue, … sun"))?;
            days[i] = true;
        }
        if !days.contains(&true) {
            return Err("business_hours.days is empty".into());
        }
        let (start, end) = (minutes(&b.start)?, minutes(&b.end)?);
        if end <= start {
            return Err(format!(
                "business hours end ({}) before they start ({})",
                b.end, b.start
            ));
        }
        let offset: chrono::FixedOffset = b
            .utc_offset
            .parse()
            .map_err(|_| format!("`{}` is not a UTC offset like +01:00", b.utc_offset))?;
        Ok(Hours {
            days,
            start,
            end,
            offset,
        })
    }

    /// `from` plus `secs` of business time.
    fn add(&self, from: i64, secs: i64) -> i64 {
        let Some(mut t) = self.offset.timestamp_opt(from, 0).single() else {
            return from + secs;
        };
        let mut left = secs;
        // At most a couple of years of days: bounded even for odd configs.
        for _ in 0..800 {
            let day_start = t
                .with_hour(0)
                .and_then(|d| d.with_minute(0))
                .and_then(|d| d.with_second(0))
                .unwrap_or(t);
            let open = day_start + Duration::minutes(i64::from(self.start));
            let close = day_start + Duration::minutes(i64::from(self.end));
            let weekday = t.weekday().num_days_from_monday() as usize;
            if self.days[weekday] && t < close {
                let begin = t.max(open);
                let avail = (close - begin).num_seconds();
                if left <= avail {
                    return (begin + Duration::seconds(left)).timestamp();
                }
                left -= avail;
            }
            t = day_start + Duration::days(1);
        }
        t.timestamp() + left
    }
}

impl Sla {
    pub fn new(policies: &[Policy], hours: &BusinessHours) -> Result<Sla, String> {
        let parse = |s: &Option<String>, what: &str, name: &str| {
            s.as_deref()
                .map(crate::query::parse_duration)
                .transpose()
                .map_err(|e| format!("sla `{name}`: {what}: {e}"))
        };
        let mut out = Vec::new();
        for p in policies {
            let fr = parse(&p.first_response, "first_response", &p.name)?;
            let res = parse(&p.resolution, "resolution", &p.name)?;
            if fr.is_none() && res.is_none() {
                return Err(format!(
                    "sla `{}`: give first_response or resolution",
                    p.name
                ));
            }
            out.push((p.clone(), fr, res));
        }
        let hours = if policies.iter().any(|p| p.business_hours) {
            Some(Hours::new(hours)?)
        } else {
            None
        };
        Ok(Sla {
            policies: out,
            hours,
        })
    }

    /// (policy, first-response due, resolution due) for a ticket created at
    /// `created` with this priority and channel: the first policy that fits.
    pub fn deadlines(
        &self,
        priority: Priority,
        channel: Channel,
        created: i64,
    ) -> Option<(String, Option<i64>, Option<i64>)> {
        let (p, fr, res) = self.policies.iter().find(|(p, _, _)| {
            (p.priorities.is_empty() || p.priorities.contains(&priority))
                && (p.channels.is_empty() || p.channels.contains(&channel))
        })?;
        let add = |secs: i64| match (&self.hours, p.business_hours) {
            (Some(h), true) => h.add(created, secs),
            _ => created + secs,
        };
        Some((p.name.clone(), fr.map(add), res.map(add)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(name: &str, prios: &[Priority], fr: &str, bh: bool) -> Policy {
        Policy {
            name: name.into(),
            priorities: prios.to_vec(),
            channels: vec![],
            first_response: Some(fr.into()),
            resolution: Some("2d".into()),
            business_hours: bh,
        }
    }

    #[test]
    fn the_first_fitting_policy_sets_the_deadlines() {
        let sla = Sla::new(
            &[
                policy("urgent", &[Priority::Urgent], "1h", false),
                policy("rest", &[], "8h", false),
            ],
            &BusinessHours::default(),
        )
        .unwrap();
        let (name, fr, res) = sla
            .deadlines(Priority::Urgent, Channel::Email, 1000)
            .unwrap();
        assert_eq!(
            (name.as_str(), fr, res),
            ("urgent", Some(4600), Some(1000 + 2 * 86_400))
        );
        assert_eq!(
            sla.deadlines(Priority::Low, Channel::Sms, 0).unwrap().1,
            Some(8 * 3600)
        );
    }

    #[test]
    fn business_hours_skip_nights_and_weekends() {
        let sla = Sla::new(&[policy("bh", &[], "4h", true)], &BusinessHours::default()).unwrap();
        // Friday 2026-11-20 15:00 UTC + 4 business hours = Monday 11:00.
        let fri = chrono::Utc
            .with_ymd_and_hms(2026, 11, 20, 15, 0, 0)
            .unwrap()
            .timestamp();
        let mon = chrono::Utc
            .with_ymd_and_hms(2026, 11, 23, 11, 0, 0)
            .unwrap()
            .timestamp();
        assert_eq!(
            sla.deadlines(Priority::Normal, Channel::Email, fri)
                .unwrap()
                .1,
            Some(mon)
        );
        // Saturday night counts from Monday 09:00.
        let sat = chrono::Utc
            .with_ymd_and_hms(2026, 11, 21, 22, 0, 0)
            .unwrap()
            .timestamp();
        let mon13 = chrono::Utc
            .with_ymd_and_hms(2026, 11, 23, 13, 0, 0)
            .unwrap()
            .timestamp();
        assert_eq!(
            sla.deadlines(Priority::Normal, Channel::Email, sat)
                .unwrap()
                .1,
            Some(mon13)
        );
    }

    #[test]
    fn bad_hours_are_reported() {
        let bad = BusinessHours {
            end: "08:00".into(),
            ..Default::default()
        };
        assert!(Sla::new(&[policy("bh", &[], "4h", true)], &bad)
            .unwrap_err()
            .contains("before"));
    }
}
