//! When a schedule comes round: every day, week or month at a time of day
//! on the team's clock, or a five-field cron expression read on the same
//! clock. What a run needs is the latest slot at or before now: its
//! instant, and a name for it that a restart computes the same.

use chrono::{Datelike, NaiveDate, NaiveTime, Timelike, Weekday};

use crate::clock::{date_of, Zone};
use crate::report::schedule::{last_slot, parse_at, Every};

#[derive(Debug, Clone, PartialEq)]
pub enum When {
    Every { every: Every, at: NaiveTime },
    Cron(Cron),
}

impl When {
    /// `every = "daily"` with `at`, or `cron`: exactly one of them.
    pub fn parse(
        every: Option<&str>,
        at: Option<&str>,
        cron: Option<&str>,
    ) -> Result<When, String> {
        match (every, cron) {
            (Some(e), None) => Ok(When::Every {
                every: Every::parse(e)?,
                at: parse_at(at.unwrap_or("08:00"))?,
            }),
            (None, Some(c)) if at.is_none() => Ok(When::Cron(Cron::parse(c)?)),
            (None, Some(_)) => {
                Err("`at` goes with `every`; a cron expression has its own time".into())
            }
            (Some(_), Some(_)) => Err("give `every` (with `at`) or `cron`, not both".into()),
            (None, None) => {
                Err("give `every = \"daily\"` (weekly, monthly) with `at`, or `cron`".into())
            }
        }
    }

    /// The latest slot at or before `now`: when it fell due, and its name
    /// (`2026-12-02T08:00` on the team's clock). `None` if a cron
    /// expression has not matched in eight years (31 February).
    pub fn last(&self, zone: Zone, starts: Weekday, now: i64) -> Option<(i64, String)> {
        let due = match self {
            When::Every { every, at } => last_slot(*every, *at, zone, starts, now).1,
            When::Cron(c) => c.last(zone, now)?,
        };
        Some((due, zone.local(due).format("%Y-%m-%dT%H:%M").to_string()))
    }
}

/// `minute hour day-of-month month day-of-week`, each `*`, a number or
/// name, a range `a-b`, a step `*/n` or `a-b/n`, or a list of these. As
/// in cron, when both day fields are restricted a day matching either runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Cron {
    minutes: u64,
    hours: u32,
    days: u32,
    months: u16,
    weekdays: u8,
    any_day: bool,
    any_weekday: bool,
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const DAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

/// One field as a bit set over `lo..=hi`.
fn field(text: &str, lo: u32, hi: u32, names: &[&str], what: &str) -> Result<u64, String> {
    let bad = |why: &str| format!("cron {what} `{text}`: {why}");
    let value = |s: &str| -> Result<u32, String> {
        let s = s.to_ascii_lowercase();
        if let Some(i) = names.iter().position(|n| *n == s) {
            return Ok(i as u32 + if names.len() == 12 { 1 } else { 0 });
        }
        let n: u32 = s.parse().map_err(|_| bad("not a number"))?;
        // Sunday may be written 7.
        let n = if names.len() == 7 && n == 7 { 0 } else { n };
        if n < lo || n > hi {
            return Err(bad(&format!("outside {lo}-{hi}")));
        }
        Ok(n)
    };
    let mut bits = 0u64;
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (
                r,
                s.parse::<u32>()
                    .ok()
                    .filter(|s| *s > 0)
                    .ok_or_else(|| bad("a step is a number from 1"))?,
            ),
            None => (part, 1),
        };
        let (from, to) = match range {
            "*" => (lo, hi),
            r => match r.split_once('-') {
                Some((a, b)) => (value(a)?, value(b)?),
                None if step > 1 => (value(r)?, hi),
                None => {
                    let v = value(r)?;
                    (v, v)
                }
            },
        };
        if from > to {
            return Err(bad("a range runs low to high"));
        }
        let mut v = from;
        while v <= to {
            bits |= 1 << v;
            v += step;
        }
    }
    Ok(bits)
}

impl Cron {
    pub fn parse(s: &str) -> Result<Cron, String> {
        let parts: Vec<&str> = s.split_whitespace().collect();
        let [mi, h, dom, mo, dow] = parts[..] else {
            return Err(format!(
                "cron `{s}`: five fields (minute hour day month weekday), e.g. `0 8 * * mon-fri`"
            ));
        };
        Ok(Cron {
            minutes: field(mi, 0, 59, &[], "minute")?,
            hours: field(h, 0, 23, &[], "hour")? as u32,
            days: field(dom, 1, 31, &[], "day of month")? as u32,
            months: field(mo, 1, 12, &MONTHS, "month")? as u16,
            weekdays: field(dow, 0, 7, &DAYS, "weekday")? as u8,
            any_day: dom == "*",
            any_weekday: dow == "*",
        })
    }

    fn day_matches(&self, d: NaiveDate) -> bool {
        if self.months & (1 << d.month()) == 0 {
            return false;
        }
        let dom = self.days & (1 << d.day()) != 0;
        let dow = self.weekdays & (1 << d.weekday().num_days_from_sunday()) != 0;
        match (self.any_day, self.any_weekday) {
            (true, true) => true,
            (false, true) => dom,
            (true, false) => dow,
            (false, false) => dom || dow,
        }
    }

    /// The latest matching minute at or before `now` on `zone`'s clock.
    fn last(&self, zone: Zone, now: i64) -> Option<i64> {
        let local = zone.local(now);
        let today = zone.day(now);
        for back in 0..(366 * 8) {
            let date = date_of(today - back);
            if !self.day_matches(date) {
                continue;
            }
            for h in (0..24u32).rev() {
                if self.hours & (1 << h) == 0 {
                    continue;
                }
                if back == 0 && h > local.hour() {
                    continue;
                }
                for m in (0..60u32).rev() {
                    if self.minutes & (1 << m) == 0 {
                        continue;
                    }
                    let time = NaiveTime::from_hms_opt(h, m, 0)?;
                    let at = zone.at(date, time);
                    if at <= now {
                        return Some(at);
                    }
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(zone: Zone, s: &str) -> i64 {
        let dt = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap();
        zone.at(dt.date(), dt.time())
    }

    #[test]
    fn cron_finds_the_latest_slot_on_the_team_clock() {
        let z = Zone::parse("Europe/Berlin").unwrap();
        let weekdays = When::parse(None, None, Some("30 8 * * mon-fri")).unwrap();
        // Saturday 2026-12-05 10:00: the last slot was Friday's.
        let (due, name) = weekdays
            .last(z, Weekday::Mon, ts(z, "2026-12-05 10:00"))
            .unwrap();
        assert_eq!(name, "2026-12-04T08:30");
        assert_eq!(due, ts(z, "2026-12-04 08:30"));
        // Friday 08:29: Thursday's; 08:30 exactly: today's.
        let at = |s: &str| weekdays.last(z, Weekday::Mon, ts(z, s)).unwrap().1;
        assert_eq!(at("2026-12-04 08:29"), "2026-12-03T08:30");
        assert_eq!(at("2026-12-04 08:30"), "2026-12-04T08:30");
        let steps = Cron::parse("*/15 9-17 1,15 jan-mar,dec *").unwrap();
        assert_eq!(
            steps.last(z, ts(z, "2026-12-15 12:07")),
            Some(ts(z, "2026-12-15 12:00"))
        );
        // Both day fields: either matches (the 1st, or any Sunday).
        let either = Cron::parse("0 6 1 * 0").unwrap();
        assert_eq!(
            either.last(z, ts(z, "2026-12-02 07:00")),
            Some(ts(z, "2026-12-01 06:00"))
        );
        assert_eq!(
            either.last(z, ts(z, "2026-12-07 07:00")),
            Some(ts(z, "2026-12-06 06:00"))
        );
        assert!(Cron::parse("0 8 31 2 *")
            .unwrap()
            .last(z, ts(z, "2026-12-02 07:00"))
            .is_none());
        for bad in [
            "0 8 * *",
            "61 8 * * *",
            "0 8 * * fri-mon",
            "0 8 */0 * *",
            "x 8 * * *",
        ] {
            assert!(Cron::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn every_uses_the_report_schedules_slots() {
        let z = Zone::parse("UTC").unwrap();
        let daily = When::parse(Some("daily"), Some("07:00"), None).unwrap();
        let (_, name) = daily
            .last(z, Weekday::Mon, ts(z, "2026-12-02 06:59"))
            .unwrap();
        assert_eq!(name, "2026-12-01T07:00");
        assert!(When::parse(Some("daily"), None, Some("0 7 * * *")).is_err());
        assert!(When::parse(None, Some("07:00"), Some("0 7 * * *")).is_err());
        assert!(When::parse(None, None, None).is_err());
    }
}
