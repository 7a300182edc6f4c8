//! The team's clock: where a local day begins and ends, which weekday and
//! hour an instant falls on, and local times turned back into instants —
//! all in an IANA zone, so that a day across a DST change has 23 or 25
//! hours and "09:00" means nine on the wall clock the team reads.
//!
//! Instants stay Unix seconds everywhere else; only what a person reads or
//! types goes through a [`Zone`].

use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone, Timelike};

/// A time zone: an IANA name, or a fixed offset from UTC (the older
/// `business_hours.utc_offset`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Zone {
    Iana(chrono_tz::Tz),
    Fixed(chrono::FixedOffset),
}

impl Default for Zone {
    fn default() -> Self {
        Zone::Iana(chrono_tz::UTC)
    }
}

/// The zone people read and type times in: the agent's (`my_time_zone`,
/// else the team's). A front end sets it once from the config at start,
/// as a shell's `TZ` is set; until then, and in tests, it is UTC.
static LOCAL: std::sync::RwLock<Option<Zone>> = std::sync::RwLock::new(None);

pub fn set_local(zone: Zone) {
    let mut g = LOCAL.write().unwrap_or_else(|p| p.into_inner());
    *g = Some(zone);
}

/// See [`set_local`].
pub fn local() -> Zone {
    LOCAL
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .unwrap_or_default()
}

/// Days from 1970-01-01 to `d`: rollups key days by this number.
pub fn day_number(d: NaiveDate) -> i32 {
    (d - NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default()).num_days() as i32
}

/// The date `n` days after 1970-01-01.
pub fn date_of(n: i32) -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1)
        .unwrap_or_default()
        .checked_add_signed(chrono::Duration::days(i64::from(n)))
        .unwrap_or_default()
}

impl Zone {
    /// "Asia/Shanghai", "UTC", or an offset such as "+08:00".
    pub fn parse(s: &str) -> Result<Zone, String> {
        let s = s.trim();
        if let Ok(tz) = s.parse::<chrono_tz::Tz>() {
            return Ok(Zone::Iana(tz));
        }
        if s.starts_with(['+', '-']) {
            if let Ok(off) = s.parse::<chrono::FixedOffset>() {
                return Ok(Zone::Fixed(off));
            }
        }
        Err(format!(
            "`{}` is not a time zone; use an IANA name such as \"Europe/Berlin\", \
             \"Asia/Shanghai\" or \"UTC\"",
            crate::sanitize::line(s)
        ))
    }

    /// The name as the config spells it.
    pub fn name(&self) -> String {
        match self {
            Zone::Iana(tz) => tz.name().to_string(),
            Zone::Fixed(off) => off.to_string(),
        }
    }

    /// Seconds east of UTC at instant `ts`.
    pub fn offset_at(&self, ts: i64) -> i32 {
        let utc = chrono::DateTime::from_timestamp(ts, 0).unwrap_or_default();
        match self {
            Zone::Iana(tz) => tz
                .offset_from_utc_datetime(&utc.naive_utc())
                .fix()
                .local_minus_utc(),
            Zone::Fixed(off) => off.local_minus_utc(),
        }
    }

    /// The wall-clock time at instant `ts`.
    pub fn local(&self, ts: i64) -> NaiveDateTime {
        let utc = chrono::DateTime::from_timestamp(ts, 0).unwrap_or_default();
        utc.naive_utc() + chrono::Duration::seconds(i64::from(self.offset_at(ts)))
    }

    /// The local date's day number (see [`day_number`]).
    pub fn day(&self, ts: i64) -> i32 {
        day_number(self.local(ts).date())
    }

    /// (weekday from Monday = 0, hour 0–23) on the wall clock.
    pub fn weekday_hour(&self, ts: i64) -> (u8, u8) {
        let l = self.local(ts);
        (l.weekday().num_days_from_monday() as u8, l.hour() as u8)
    }

    /// The instant the wall clock shows `date` `time`. A time the clocks
    /// skip (spring forward) is the first instant after the gap; a time
    /// they show twice (fall back) is the first of the two.
    pub fn at(&self, date: NaiveDate, time: NaiveTime) -> i64 {
        let naive = date.and_time(time);
        match self {
            Zone::Fixed(off) => naive.and_utc().timestamp() - i64::from(off.local_minus_utc()),
            Zone::Iana(tz) => {
                // A gap is at most a few hours: walk forward to its end.
                for step in 0..(6 * 60) {
                    let t = naive + chrono::Duration::minutes(step);
                    if let Some(d) = tz.from_local_datetime(&t).earliest() {
                        return if step == 0 {
                            d.timestamp()
                        } else {
                            // Gaps end on a whole minute: its first second.
                            d.timestamp() - i64::from(t.second())
                        };
                    }
                }
                naive.and_utc().timestamp()
            }
        }
    }

    /// The first instant of the local day numbered `day`.
    pub fn day_start(&self, day: i32) -> i64 {
        self.at(date_of(day), NaiveTime::MIN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> i64 {
        chrono::Utc
            .with_ymd_and_hms(y, mo, d, h, mi, 0)
            .unwrap()
            .timestamp()
    }

    #[test]
    fn names_parse_and_bad_ones_say_what_to_write() {
        assert_eq!(
            Zone::parse("Asia/Shanghai").unwrap().name(),
            "Asia/Shanghai"
        );
        assert_eq!(Zone::parse("+01:00").unwrap().name(), "+01:00");
        let e = Zone::parse("Mars/Olympus").unwrap_err();
        assert!(e.contains("Mars/Olympus") && e.contains("IANA"), "{e}");
    }

    /// Berlin springs forward on 2026-03-29 (02:00 → 03:00) and falls back
    /// on 2026-10-25 (03:00 → 02:00): those local days have 23 and 25 hours.
    #[test]
    fn days_across_dst_changes_have_23_and_25_hours() {
        let z = Zone::parse("Europe/Berlin").unwrap();
        let spring = day_number(NaiveDate::from_ymd_opt(2026, 3, 29).unwrap());
        assert_eq!(z.day_start(spring + 1) - z.day_start(spring), 23 * 3600);
        let autumn = day_number(NaiveDate::from_ymd_opt(2026, 10, 25).unwrap());
        assert_eq!(z.day_start(autumn + 1) - z.day_start(autumn), 25 * 3600);
        // 23:30 UTC on 28 March is already the 29th in Berlin (UTC+1).
        assert_eq!(z.day(utc(2026, 3, 28, 23, 30)), spring);
        // The hour after the change reads 03:xx.
        assert_eq!(z.weekday_hour(utc(2026, 3, 29, 1, 30)), (6, 3));
        // 02:30 does not exist that day: it means 03:00 CEST.
        let gap = z.at(
            NaiveDate::from_ymd_opt(2026, 3, 29).unwrap(),
            NaiveTime::from_hms_opt(2, 30, 0).unwrap(),
        );
        assert_eq!(gap, utc(2026, 3, 29, 1, 0));
        // 02:30 happens twice in October: the first (CEST) is taken.
        let twice = z.at(
            NaiveDate::from_ymd_opt(2026, 10, 25).unwrap(),
            NaiveTime::from_hms_opt(2, 30, 0).unwrap(),
        );
        assert_eq!(twice, utc(2026, 10, 25, 0, 30));
    }

    #[test]
    fn shanghai_has_no_dst_and_starts_its_day_at_16_utc() {
        let z = Zone::parse("Asia/Shanghai").unwrap();
        let d = day_number(NaiveDate::from_ymd_opt(2026, 11, 2).unwrap());
        assert_eq!(z.day_start(d), utc(2026, 11, 1, 16, 0));
        assert_eq!(z.weekday_hour(utc(2026, 11, 1, 16, 0)), (0, 0));
    }
}
