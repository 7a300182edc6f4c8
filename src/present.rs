//! How values look to people, in the CLI's tables and the TUI alike: ages,
//! times, sizes, channel names, and text cut to a number of columns.

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use crate::model::Channel;
use crate::sanitize;

/// Cuts `s` to `width` terminal columns (CJK counts two), with an ellipsis.
pub fn fit(s: &str, width: usize) -> String {
    let s = sanitize::line(s);
    if s.width() <= width {
        let pad = width - s.width();
        return format!("{s}{}", " ".repeat(pad));
    }
    let mut out = String::new();
    let mut w = 0;
    for c in s.chars() {
        let cw = c.width().unwrap_or(0);
        if w + cw + 1 > width {
            break;
        }
        out.push(c);
        w += cw;
    }
    out.push('…');
    w += 1;
    out.push_str(&" ".repeat(width.saturating_sub(w)));
    out
}

/// "3m", "5h", "2d", "7w": how long ago.
pub fn age(now: i64, then: i64) -> String {
    let d = (now - then).max(0);
    match d {
        0..=59 => format!("{d}s"),
        60..=3599 => format!("{}m", d / 60),
        3600..=86_399 => format!("{}h", d / 3600),
        86_400..=1_209_599 => format!("{}d", d / 86_400),
        _ => format!("{}w", d / 604_800),
    }
}

/// A duration for reports: "0m", "45m", "3h05m", "2d17h".
pub fn duration(secs: i64) -> String {
    let s = secs.max(0);
    match s {
        0..=3599 => format!("{}m", s / 60),
        3600..=86_399 => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d{:02}h", s / 86_400, s % 86_400 / 3600),
    }
}

/// "2026-11-30 14:05" on the reader's wall clock (`clock::local`).
pub fn datetime(ts: i64) -> String {
    if chrono::DateTime::from_timestamp(ts, 0).is_none() {
        return ts.to_string();
    }
    crate::clock::local()
        .local(ts)
        .format("%Y-%m-%d %H:%M")
        .to_string()
}

pub fn channel_label(c: Channel) -> &'static str {
    match c {
        Channel::Email => "mail",
        Channel::Fax => "fax",
        Channel::Sms => "sms",
    }
}

/// "512 bytes", "12 KB", "3.4 MB".
pub fn size(n: usize) -> String {
    match n {
        n if n >= 1 << 20 => format!("{:.1} MB", n as f64 / f64::from(1 << 20)),
        n if n >= 1 << 10 => format!("{} KB", n >> 10),
        n => format!("{n} bytes"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_counts_display_width() {
        assert_eq!(fit("退款申请", 6).width(), 6);
        assert_eq!(fit("ab", 4), "ab  ");
        assert_eq!(fit("abcdef", 4), "abc…");
        assert!(!fit("a\x1b[31mb", 10).contains('\x1b'));
    }

    #[test]
    fn durations_read_at_a_glance() {
        assert_eq!(duration(59), "0m");
        assert_eq!(duration(45 * 60), "45m");
        assert_eq!(duration(3 * 3600 + 5 * 60), "3h05m");
        assert_eq!(duration(2 * 86_400 + 17 * 3600 + 30 * 60), "2d17h");
    }

    #[test]
    fn sizes() {
        assert_eq!(size(512), "512 bytes");
        assert_eq!(size(12 << 10), "12 KB");
        assert_eq!(size(60 << 20), "60.0 MB");
    }

    #[test]
    fn ages() {
        assert_eq!(age(100, 100), "0s");
        assert_eq!(age(7200, 0), "2h");
        assert_eq!(age(3 * 86_400, 0), "3d");
    }
}
