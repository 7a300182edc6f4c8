//! Printing: aligned tables for people, JSON for scripts. Everything from
//! outside passes through `sanitize` before it reaches a terminal.

use crate::model::TicketSummary;
pub use crate::present::{age, channel_label, datetime, fit};
use crate::sanitize;

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
