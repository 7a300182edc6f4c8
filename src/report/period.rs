//! The periods people ask about — `2026-11`, `2026-W47`, `last-week`,
//! `--last 4w`, `--from … --to …` — as ranges of the team's days, and
//! their split into days, weeks or months.

use chrono::{Datelike, NaiveDate, Weekday};

use crate::clock::{date_of, day_number};

/// Local days, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    pub first: i32,
    pub last: i32,
}

impl Range {
    pub fn days(&self) -> i32 {
        self.last - self.first + 1
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum By {
    Day,
    Week,
    Month,
    /// The whole range as one interval.
    Total,
}

impl By {
    pub fn parse(s: &str) -> Result<By, String> {
        match s {
            "day" => Ok(By::Day),
            "week" => Ok(By::Week),
            "month" => Ok(By::Month),
            "total" | "none" => Ok(By::Total),
            _ => Err(format!(
                "`{}` is not an interval; use day, week, month or total",
                crate::sanitize::line(s)
            )),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interval {
    pub range: Range,
    pub label: String,
}

pub fn parse_weekday(s: &str) -> Result<Weekday, String> {
    s.parse::<Weekday>().map_err(|_| {
        format!(
            "`{}` is not a weekday; use mon … sun",
            crate::sanitize::line(s)
        )
    })
}

pub fn parse_date(s: &str) -> Result<i32, String> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .map(day_number)
        .map_err(|_| {
            format!(
                "`{}` is not a date like 2026-11-30",
                crate::sanitize::line(s)
            )
        })
}

fn week_start(day: i32, starts: Weekday) -> i32 {
    let wd = date_of(day).weekday();
    let back = (7 + wd.num_days_from_monday() as i32 - starts.num_days_from_monday() as i32) % 7;
    day - back
}

fn month_start(day: i32) -> i32 {
    day_number(date_of(day).with_day(1).unwrap_or_default())
}

fn add_months(day: i32, n: i32) -> i32 {
    let d = date_of(day);
    let total = d.year() * 12 + d.month0() as i32 + n;
    let (y, m) = (total.div_euclid(12), total.rem_euclid(12) as u32 + 1);
    day_number(NaiveDate::from_ymd_opt(y, m, 1).unwrap_or_default())
}

/// `2026`, `2026-11`, `2026-11-05`, `2026-W47`, or `today`, `yesterday`,
/// `this-week`, `last-week`, `this-month`, `last-month`, `this-year`,
/// `last-year`; `today` is the team's day now.
pub fn parse_period(s: &str, today: i32, starts: Weekday) -> Result<Range, String> {
    let s = s.trim();
    let week = |d: i32| {
        let f = week_start(d, starts);
        Range {
            first: f,
            last: f + 6,
        }
    };
    let month = |d: i32| {
        let f = month_start(d);
        Range {
            first: f,
            last: add_months(f, 1) - 1,
        }
    };
    let year = |y: i32| -> Result<Range, String> {
        let f = NaiveDate::from_ymd_opt(y, 1, 1).ok_or("no such year")?;
        let l = NaiveDate::from_ymd_opt(y, 12, 31).ok_or("no such year")?;
        Ok(Range {
            first: day_number(f),
            last: day_number(l),
        })
    };
    let this_year = date_of(today).year();
    match s {
        "today" => {
            return Ok(Range {
                first: today,
                last: today,
            })
        }
        "yesterday" => {
            return Ok(Range {
                first: today - 1,
                last: today - 1,
            })
        }
        "this-week" => return Ok(week(today)),
        "last-week" => return Ok(week(today - 7)),
        "this-month" => return Ok(month(today)),
        "last-month" => return Ok(month(month_start(today) - 1)),
        "this-year" => return year(this_year),
        "last-year" => return year(this_year - 1),
        _ => {}
    }
    let bad = || {
        format!(
            "`{}` is not a period; use 2026, 2026-11, 2026-W47, 2026-11-05, \
             last-week, this-month, …",
            crate::sanitize::line(s)
        )
    };
    if let Some((y, w)) = s.split_once("-W") {
        let (y, w): (i32, u32) = (y.parse().map_err(|_| bad())?, w.parse().map_err(|_| bad())?);
        let monday = NaiveDate::from_isoywd_opt(y, w, Weekday::Mon).ok_or_else(bad)?;
        let f = day_number(monday);
        return Ok(Range {
            first: f,
            last: f + 6,
        });
    }
    match s.len() {
        4 => year(s.parse().map_err(|_| bad())?),
        7 => {
            let d = NaiveDate::parse_from_str(&format!("{s}-01"), "%Y-%m-%d").map_err(|_| bad())?;
            Ok(month(day_number(d)))
        }
        10 => {
            let d = parse_date(s).map_err(|_| bad())?;
            Ok(Range { first: d, last: d })
        }
        _ => Err(bad()),
    }
}

/// `4w`, `30d`, `3m`, `1y`: that many whole days, weeks, months or years
/// ending with the current one (so this week so far is the last of `4w`).
pub fn parse_last(s: &str, today: i32, starts: Weekday) -> Result<Range, String> {
    let s = s.trim();
    let bad = || {
        format!(
            "`{}` is not a span like 30d, 4w, 3m or 1y",
            crate::sanitize::line(s)
        )
    };
    let (n, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?);
    let n: i32 = n.parse().map_err(|_| bad())?;
    if !(1..=1000).contains(&n) {
        return Err(bad());
    }
    let first = match unit {
        "d" => today - (n - 1),
        "w" => week_start(today, starts) - 7 * (n - 1),
        "m" => add_months(month_start(today), -(n - 1)),
        "y" => day_number(
            NaiveDate::from_ymd_opt(date_of(today).year() - (n - 1), 1, 1).ok_or_else(bad)?,
        ),
        _ => return Err(bad()),
    };
    Ok(Range { first, last: today })
}

/// The range of the same length just before `r`; a range of whole months
/// steps back by as many months.
pub fn previous(r: Range) -> Range {
    let whole_months = month_start(r.first) == r.first && add_months(r.last + 1, 0) == r.last + 1;
    if whole_months {
        let a = date_of(r.first);
        let b = date_of(r.last + 1);
        let months = (b.year() - a.year()) * 12 + b.month0() as i32 - a.month0() as i32;
        return Range {
            first: add_months(r.first, -months),
            last: r.first - 1,
        };
    }
    Range {
        first: r.first - r.days(),
        last: r.first - 1,
    }
}

fn label(first: i32, by: By, starts: Weekday) -> String {
    let d = date_of(first);
    match by {
        By::Day => d.format("%Y-%m-%d").to_string(),
        By::Week if starts == Weekday::Mon => {
            let w = d.iso_week();
            format!("{}-W{:02}", w.year(), w.week())
        }
        By::Week => format!("wk {}", d.format("%Y-%m-%d")),
        By::Month => d.format("%Y-%m").to_string(),
        By::Total => String::new(),
    }
}

/// `r` cut into intervals; the first and last may be parts of a week or
/// month, and keep its label.
pub fn intervals(r: Range, by: By, starts: Weekday) -> Vec<Interval> {
    if by == By::Total || r.last < r.first {
        return vec![Interval {
            range: r,
            label: format!(
                "{} – {}",
                date_of(r.first).format("%Y-%m-%d"),
                date_of(r.last).format("%Y-%m-%d")
            ),
        }];
    }
    let mut out = Vec::new();
    let mut at = r.first;
    while at <= r.last {
        let (start, next) = match by {
            By::Day => (at, at + 1),
            By::Week => {
                let s = week_start(at, starts);
                (s, s + 7)
            }
            By::Month | By::Total => {
                let s = month_start(at);
                (s, add_months(s, 1))
            }
        };
        out.push(Interval {
            range: Range {
                first: at,
                last: (next - 1).min(r.last),
            },
            label: label(start, by, starts),
        });
        at = next;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> i32 {
        parse_date(s).unwrap()
    }

    #[test]
    fn periods_name_the_days_people_mean() {
        let today = d("2026-12-01"); // a Tuesday
        let mon = Weekday::Mon;
        let r = |s| parse_period(s, today, mon).unwrap();
        assert_eq!(
            r("2026-11"),
            Range {
                first: d("2026-11-01"),
                last: d("2026-11-30")
            }
        );
        assert_eq!(
            r("2026-W47"),
            Range {
                first: d("2026-11-16"),
                last: d("2026-11-22")
            }
        );
        assert_eq!(
            r("last-week"),
            Range {
                first: d("2026-11-23"),
                last: d("2026-11-29")
            }
        );
        assert_eq!(r("last-month"), r("2026-11"));
        assert_eq!(r("2026").days(), 365);
        let sun = parse_period("this-week", today, Weekday::Sun).unwrap();
        assert_eq!(sun.first, d("2026-11-29"));
        assert!(parse_period("2026-13", today, mon)
            .unwrap_err()
            .contains("2026-13"));
        let last = parse_last("4w", today, mon).unwrap();
        assert_eq!(
            last,
            Range {
                first: d("2026-11-09"),
                last: today
            }
        );
        assert_eq!(parse_last("3m", today, mon).unwrap().first, d("2026-10-01"));
        assert_eq!(parse_last("1y", today, mon).unwrap().first, d("2026-01-01"));
        assert!(parse_last("4x", today, mon).is_err());
    }

    #[test]
    fn intervals_cut_at_week_and_month_edges() {
        let r = Range {
            first: d("2026-11-25"),
            last: d("2026-12-03"),
        };
        let w = intervals(r, By::Week, Weekday::Mon);
        assert_eq!(w.len(), 2);
        assert_eq!(w[0].label, "2026-W48");
        assert_eq!(w[0].range.last, d("2026-11-29"));
        assert_eq!(
            w[1].range,
            Range {
                first: d("2026-11-30"),
                last: d("2026-12-03")
            }
        );
        let m = intervals(r, By::Month, Weekday::Mon);
        assert_eq!(
            m.iter().map(|i| i.label.as_str()).collect::<Vec<_>>(),
            ["2026-11", "2026-12"]
        );
        assert_eq!(intervals(r, By::Day, Weekday::Mon).len(), 9);
    }

    #[test]
    fn the_previous_period_of_a_month_is_the_month_before() {
        let nov = Range {
            first: d("2026-11-01"),
            last: d("2026-11-30"),
        };
        assert_eq!(
            previous(nov),
            Range {
                first: d("2026-10-01"),
                last: d("2026-10-31")
            }
        );
        let mar = Range {
            first: d("2026-03-01"),
            last: d("2026-03-31"),
        };
        assert_eq!(previous(mar).first, d("2026-02-01"));
        let wk = Range {
            first: d("2026-11-16"),
            last: d("2026-11-22"),
        };
        assert_eq!(
            previous(wk),
            Range {
                first: d("2026-11-09"),
                last: d("2026-11-15")
            }
        );
    }
}
