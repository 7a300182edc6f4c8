//! SLA policies: first-response and resolution targets per priority and
//! channel, optionally counted in business hours only. A ticket's deadlines
//! are computed when it is created and again when its priority changes,
//! and stored on the ticket, so `is:breached` and `sla:<2h` are plain
//! column comparisons.

use chrono::Datelike;
use serde::{Deserialize, Serialize};

use crate::clock::Zone;
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
    /// A fixed offset from UTC, e.g. "+01:00", for configs written before
    /// `time_zone`; unset, the hours are the team's `time_zone`'s.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub utc_offset: Option<String>,
}

impl Default for BusinessHours {
    fn default() -> Self {
        BusinessHours {
            days: ["mon", "tue", "wed", "thu", "fri"]
                .map(String::from)
                .to_vec(),
            start: "09:00".into(),
            end: "17:00".into(),
            utc_offset: None,
        }
    }
}

/// Policies and business hours, checked and ready to compute deadlines.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sla {
    policies: Vec<(Policy, Option<i64>, Option<i64>)>,
    hours: Hours,
}

/// Business hours on the team's wall clock.
#[derive(Debug, Clone, PartialEq)]
pub struct Hours {
    days: [bool; 7],
    start: u32,
    end: u32,
    zone: Zone,
}

impl Default for Hours {
    fn default() -> Self {
        Hours::new(&BusinessHours::default(), Zone::default()).unwrap_or(Hours {
            days: [true, true, true, true, true, false, false],
            start: 9 * 60,
            end: 17 * 60,
            zone: Zone::default(),
        })
    }
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

/// At most a couple of years of days: bounded even for odd configs.
const MAX_DAYS: i32 = 800;

impl Hours {
    /// `zone` is the team's; `utc_offset`, when the config still has it,
    /// wins.
    pub fn new(b: &BusinessHours, zone: Zone) -> Result<Hours, String> {
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
        let zone = match &b.utc_offset {
            Some(o) => Zone::Fixed(
                o.parse()
                    .map_err(|_| format!("`{o}` is not a UTC offset like +01:00"))?,
            ),
            None => zone,
        };
        Ok(Hours {
            days,
            start,
            end,
            zone,
        })
    }

    /// The open interval of local day `day`, if the team works that day.
    fn window(&self, day: i32) -> Option<(i64, i64)> {
        let date = crate::clock::date_of(day);
        if !self.days[date.weekday().num_days_from_monday() as usize] {
            return None;
        }
        let at = |m: u32| {
            if m >= 24 * 60 {
                self.zone.day_start(day + 1)
            } else {
                let t = chrono::NaiveTime::from_hms_opt(m / 60, m % 60, 0).unwrap_or_default();
                self.zone.at(date, t)
            }
        };
        Some((at(self.start), at(self.end)))
    }

    /// `from` plus `secs` of business time.
    pub fn add(&self, from: i64, secs: i64) -> i64 {
        let mut left = secs;
        let first = self.zone.day(from);
        for day in first..first + MAX_DAYS {
            if let Some((open, close)) = self.window(day) {
                if from < close {
                    let begin = from.max(open);
                    let avail = close - begin;
                    if left <= avail {
                        return begin + left;
                    }
                    left -= avail;
                }
            }
        }
        self.zone.day_start(first + MAX_DAYS) + left
    }

    /// Business seconds between `from` and `to` (0 when `to` is earlier).
    pub fn between(&self, from: i64, to: i64) -> i64 {
        if to <= from {
            return 0;
        }
        let (first, last) = (self.zone.day(from), self.zone.day(to));
        // Beyond the bound, the rest counts as calendar time: odd data
        // must not stall a report.
        let last_counted = last.min(first + MAX_DAYS);
        let mut total = 0;
        for day in first..=last_counted {
            if let Some((open, close)) = self.window(day) {
                let (a, b) = (from.max(open), to.min(close));
                if b > a {
                    total += b - a;
                }
            }
        }
        if last > last_counted {
            total += to - self.zone.day_start(last_counted + 1);
        }
        total
    }
}

impl Sla {
    pub fn new(policies: &[Policy], hours: &BusinessHours, zone: Zone) -> Result<Sla, String> {
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
        let hours = Hours::new(hours, zone)?;
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
        let add = |secs: i64| {
            if p.business_hours {
                self.hours.add(created, secs)
            } else {
                created + secs
            }
        };
        Some((p.name.clone(), fr.map(add), res.map(add)))
    }

    /// The team's business hours (reports count business time in them).
    pub fn hours(&self) -> &Hours {
        &self.hours
    }

    /// The policy named `name`, with its targets in seconds.
    pub fn policy(&self, name: &str) -> Option<(&Policy, Option<i64>, Option<i64>)> {
        self.policies
            .iter()
            .find(|(p, _, _)| p.name == name)
            .map(|(p, a, b)| (p, *a, *b))
    }

    pub fn policies(&self) -> impl Iterator<Item = &Policy> {
        self.policies.iter().map(|(p, _, _)| p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

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
            Zone::default(),
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
        let sla = Sla::new(
            &[policy("bh", &[], "4h", true)],
            &BusinessHours::default(),
            Zone::default(),
        )
        .unwrap();
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
        assert!(
            Sla::new(&[policy("bh", &[], "4h", true)], &bad, Zone::default())
                .unwrap_err()
                .contains("before")
        );
    }

    /// Berlin, the week of the autumn change (Sunday 2026-10-25): on
    /// Friday 09:00–17:00 is 07:00–15:00 UTC, on Monday 08:00–16:00 UTC.
    #[test]
    fn business_hours_follow_the_team_zone_across_dst() {
        let zone = Zone::parse("Europe/Berlin").unwrap();
        let h = Hours::new(&BusinessHours::default(), zone).unwrap();
        let utc = |d, hh| {
            chrono::Utc
                .with_ymd_and_hms(2026, 10, d, hh, 0, 0)
                .unwrap()
                .timestamp()
        };
        // Friday 16:00 CEST + 2 h: one on Friday, one from Monday 09:00 CET.
        assert_eq!(h.add(utc(23, 14), 2 * 3600), utc(26, 9));
        // Between: one hour on Friday, one on Monday.
        assert_eq!(h.between(utc(23, 14), utc(26, 9)), 2 * 3600);
        // Nothing over the weekend.
        assert_eq!(h.between(utc(24, 0), utc(26, 0)), 0);
        // A whole week is five eight-hour days, DST or not.
        assert_eq!(h.between(utc(19, 0), utc(26, 0)), 5 * 8 * 3600);
        // Backwards is nothing.
        assert_eq!(h.between(utc(26, 9), utc(23, 14)), 0);
    }

    #[test]
    fn a_utc_offset_still_wins_over_the_zone() {
        let b = BusinessHours {
            utc_offset: Some("+01:00".into()),
            ..Default::default()
        };
        let h = Hours::new(&b, Zone::parse("Asia/Tokyo").unwrap()).unwrap();
        let mon = chrono::Utc
            .with_ymd_and_hms(2026, 11, 23, 8, 0, 0)
            .unwrap()
            .timestamp();
        assert_eq!(h.add(mon, 3600), mon + 3600);
    }
}
