//! Printing: aligned tables for people, JSON for scripts. Everything from
//! outside passes through `sanitize` before it reaches a terminal.

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use crate::model::{Channel, TicketSummary};
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

pub fn datetime(ts: i64) -> String {
    chrono::DateTime::from_timestamp(ts, 0)
        .map(|d| d.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_else(|| ts.to_string())
}

pub fn channel_label(c: Channel) -> &'static str {
    match c {
        Channel::Email => "mail",
        Channel::Fax => "fax",
        Channel::Sms => "sms",
    }
}

pub fn ticket_table(rows: &[TicketSummary], now: i64) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "{:>6}  {}  {}  {}  {}  {}  {:>4}  {}\n",
        "ID",
        fit("STATE", 8),
        fit("PRI", 6),
        fit("CH", 4),
        fit("CUSTOMER", 18),
        fit("SUBJECT", 40),
        "AGE",
        "ASSIGNEE"
    ));
    for t in rows {
        out.push_str(&format!(
            "{:>6}  {}  {}  {}  {}  {}  {:>4}  {}\n",
            t.id,
            fit(&t.state, 8),
            fit(t.priority.as_str(), 6),
            fit(channel_label(t.channel), 4),
            fit(&t.customer_name, 18),
            fit(&t.subject, 40),
            age(now, t.updated_at),
            sanitize::line(t.assignee.as_deref().unwrap_or("-")),
        ));
    }
    out
}

pub fn json<T: serde::Serialize>(v: &T) -> anyhow::Result<()> {
    say(&crate::sanitize::json(v, true)?);
    Ok(())
}

/// Prints a line to standard output. A reader that went away (`| head`)
/// ends the process quietly, as it would any Unix tool, also in the
/// commands that ignore SIGPIPE for the sake of their network sockets.
pub fn say(line: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if let Err(e) = writeln!(out, "{line}").and_then(|()| out.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
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
    fn ages() {
        assert_eq!(age(100, 100), "0s");
        assert_eq!(age(7200, 0), "2h");
        assert_eq!(age(3 * 86_400, 0), "3d");
    }
}
