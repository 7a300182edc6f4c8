//! Schedules on the team's clock: a day, week or month at a time of day,
//! and the latest slot that has fallen due (report mailings; later the
//! proactive schedules).

use chrono::{Datelike, NaiveTime, Weekday};

use super::period::{self, Range};
use crate::clock::{date_of, day_number, Zone};

/// How often a schedule comes round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Every {
    Day,
    Week,
    Month,
}

impl Every {
    pub fn parse(s: &str) -> std::result::Result<Every, String> {
        match s {
            "day" | "daily" => Ok(Every::Day),
            "week" | "weekly" => Ok(Every::Week),
            "month" | "monthly" => Ok(Every::Month),
            other => Err(format!("`{other}` is not day, week or month")),
        }
    }
}

/// `HH:MM` on a wall clock.
pub fn parse_at(s: &str) -> std::result::Result<NaiveTime, String> {
    NaiveTime::parse_from_str(s.trim(), "%H:%M")
        .map_err(|_| format!("`{s}` is not a time of day such as 07:00"))
}

/// The latest slot of a schedule at or before `now`: the day it belongs
/// to (the team's) and the instant it fell due.
pub fn last_slot(every: Every, at: NaiveTime, zone: Zone, starts: Weekday, now: i64) -> (i32, i64) {
    let today = zone.day(now);
    let start_of = |day: i32| -> i32 {
        let d = date_of(day);
        match every {
            Every::Day => day,
            Every::Week => {
                let back =
                    (7 + d.weekday().num_days_from_monday() - starts.num_days_from_monday()) % 7;
                day - back as i32
            }
            Every::Month => day_number(d.with_day(1).unwrap_or(d)),
        }
    };
    let mut slot = start_of(today);
    let due = |day: i32| zone.at(date_of(day), at);
    if due(slot) > now {
        // This one is still to come: the one before.
        slot = start_of(slot - 1);
    }
    (slot, due(slot))
}

/// A `--period` word, or `last:4w` for `--last 4w`.
pub fn parse_range(spec: &str, today: i32, starts: Weekday) -> std::result::Result<Range, String> {
    match spec.strip_prefix("last:") {
        Some(span) => period::parse_last(span, today, starts),
        None => period::parse_period(spec, today, starts),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(zone: Zone, y: i32, mo: u32, d: u32, h: u32, mi: u32) -> i64 {
        zone.at(
            chrono::NaiveDate::from_ymd_opt(y, mo, d).unwrap(),
            NaiveTime::from_hms_opt(h, mi, 0).unwrap(),
        )
    }

    fn day(s: &str) -> i32 {
        day_number(chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap())
    }

    #[test]
    fn slots_fall_on_the_team_clock() {
        let z = Zone::parse("Europe/Berlin").unwrap();
        let seven = parse_at("07:00").unwrap();
        // Wednesday 2 December 2026, 06:59 and 07:00 Berlin.
        let before = ts(z, 2026, 12, 2, 6, 59);
        let after = ts(z, 2026, 12, 2, 7, 0);
        assert_eq!(
            last_slot(Every::Day, seven, z, Weekday::Mon, before).0,
            day("2026-12-01")
        );
        let (d, due) = last_slot(Every::Day, seven, z, Weekday::Mon, after);
        assert_eq!((d, due), (day("2026-12-02"), after));
        // Weekly on Mondays: 30 November; on Sundays: 29 November.
        assert_eq!(
            last_slot(Every::Week, seven, z, Weekday::Mon, after).0,
            day("2026-11-30")
        );
        assert_eq!(
            last_slot(Every::Week, seven, z, Weekday::Sun, after).0,
            day("2026-11-29")
        );
        // Monday 30 November at 06:00 is before that week's slot.
        let monday_early = ts(z, 2026, 11, 30, 6, 0);
        assert_eq!(
            last_slot(Every::Week, seven, z, Weekday::Mon, monday_early).0,
            day("2026-11-23")
        );
        // Monthly: 1 December 07:00, or 1 November before it.
        assert_eq!(
            last_slot(Every::Month, seven, z, Weekday::Mon, after).0,
            day("2026-12-01")
        );
        let first_early = ts(z, 2026, 12, 1, 6, 0);
        assert_eq!(
            last_slot(Every::Month, seven, z, Weekday::Mon, first_early).0,
            day("2026-11-01")
        );
    }

    #[test]
    fn a_slot_on_a_dst_day_is_at_the_wall_clock_hour() {
        // Berlin springs forward on 29 March 2026: 07:00 is 05:00 UTC.
        let z = Zone::parse("Europe/Berlin").unwrap();
        let seven = parse_at("07:00").unwrap();
        let noon = ts(z, 2026, 3, 29, 12, 0);
        let (_, due) = last_slot(Every::Day, seven, z, Weekday::Mon, noon);
        assert_eq!(due, 1_774_760_400);
    }
}
