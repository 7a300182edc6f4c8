//! A report as people and spreadsheets read it: the text table (80
//! columns, one section per subject) for the terminal and for mail, and
//! the CSV rows. The CLI prints them; report mailings send them.

use crate::kpi::{Report, Row};
use crate::present::{duration, fit};
use crate::report::dist::BAND_LABELS;
use crate::report::figures::Status;

/// The CSV of a report: the header, one row per interval and group, then
/// the totals.
pub fn csv(r: &Report) -> Result<Vec<u8>, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(CSV_HEADER)?;
    for row in r.rows.iter().chain(&r.totals) {
        w.write_record(csv_row(row))?;
    }
    w.into_inner().map_err(|e| csv::Error::from(e.into_error()))
}

/// A spreadsheet reads `=`, `+`, `-` and `@` at the start of a cell as a
/// formula: text from outside (tags, agent names) gets a quote first.
pub fn cell(s: &str) -> String {
    let s = crate::sanitize::line(s);
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) && s != "-" {
        format!("'{s}")
    } else {
        s
    }
}

fn opt_secs(v: Option<i64>) -> String {
    v.map(|s| s.to_string()).unwrap_or_default()
}

fn opt_share(v: Option<f64>) -> String {
    v.map(|s| format!("{s:.4}")).unwrap_or_default()
}

pub const CSV_HEADER: &[&str] = &[
    "interval",
    "from",
    "to",
    "group",
    "created",
    "solved",
    "reopened",
    "closed",
    "merged",
    "spam",
    "backlog",
    "messages_in",
    "messages_out",
    "notes",
    "frt_n",
    "frt_mean_s",
    "frt_median_s",
    "frt_p90_s",
    "frt_bh_mean_s",
    "frt_bh_median_s",
    "frt_bh_p90_s",
    "frt_lt_1h",
    "frt_1h_4h",
    "frt_4h_8h",
    "frt_8h_24h",
    "frt_ge_24h",
    "resolution_n",
    "resolution_mean_s",
    "resolution_median_s",
    "resolution_p90_s",
    "resolution_bh_median_s",
    "resolution_bh_p90_s",
    "one_touch_rate",
    "reopen_rate",
    "replies_per_ticket",
    "frt_sla_met",
    "frt_sla_breached",
    "resolution_sla_met",
    "resolution_sla_breached",
    "surveys_sent",
    "surveys_answered",
    "survey_response_rate",
    "rating_average",
    "csat",
];

pub fn csv_row(r: &Row) -> Vec<String> {
    let f = &r.figures;
    let mut v = vec![
        cell(&r.interval),
        r.from.clone(),
        r.to.clone(),
        cell(&r.group),
    ];
    for n in [
        f.created,
        f.solved,
        f.reopened,
        f.closed,
        f.merged,
        f.spam,
        f.backlog,
        f.messages_in,
        f.messages_out,
        f.notes,
        f.first_response.n,
    ] {
        v.push(n.to_string());
    }
    let fr = &f.first_response;
    let fb = &f.first_response_business;
    for s in [fr.mean, fr.median, fr.p90, fb.mean, fb.median, fb.p90] {
        v.push(opt_secs(s));
    }
    v.extend(fr.bands.iter().map(|b| b.to_string()));
    v.push(f.resolution.n.to_string());
    for s in [
        f.resolution.mean,
        f.resolution.median,
        f.resolution.p90,
        f.resolution_business.median,
        f.resolution_business.p90,
    ] {
        v.push(opt_secs(s));
    }
    for s in [f.one_touch_rate, f.reopen_rate, f.replies_per_ticket] {
        v.push(opt_share(s));
    }
    for n in [
        f.first_response_sla.met,
        f.first_response_sla.breached,
        f.resolution_sla.met,
        f.resolution_sla.breached,
    ] {
        v.push(n.to_string());
    }
    let sat = &f.satisfaction;
    v.push(sat.sent.to_string());
    v.push(sat.answered.to_string());
    for s in [sat.response_rate, sat.average, sat.csat] {
        v.push(opt_share(s));
    }
    v
}

fn d(v: Option<i64>) -> String {
    v.map(duration).unwrap_or_else(|| "-".into())
}

fn pct(v: Option<f64>) -> String {
    v.map(|s| format!("{:.0}%", s * 100.0))
        .unwrap_or_else(|| "-".into())
}

/// The report for people: one section per subject, 80 columns wide.
pub fn render(r: &Report) -> String {
    let mut out = String::new();
    let mut line = |s: String| {
        out.push_str(s.trim_end());
        out.push('\n');
    };
    let scope = match (&r.query, r.matched) {
        (Some(q), Some(n)) => format!(" · query {} ({n} tickets)", crate::sanitize::line(q)),
        _ => String::new(),
    };
    line(format!(
        "Report {} – {} · {} · by {}{}",
        r.from, r.to, r.zone, r.by, scope
    ));
    let grouped = r.group != "all";
    let all: Vec<&Row> = r.rows.iter().chain(r.totals.iter()).collect();
    let label = |row: &Row| {
        let iv = if row.interval == "total" {
            "total".to_string()
        } else {
            row.interval.clone()
        };
        if grouped {
            format!("{} {}", fit(&iv, 10), fit(&row.group, 10))
        } else {
            fit(&iv, 21)
        }
    };
    // The section's name on a line of its own, then the column heads.
    let head = |title: &str| {
        let cols = if grouped {
            format!("{} {}", fit("", 10), fit(&r.group, 10))
        } else {
            fit("", 21)
        };
        format!("{title}\n{cols}")
    };
    line(String::new());
    line(format!(
        "{} {:>7} {:>7} {:>6} {:>6} {:>7} {:>6} {:>6} {:>5}",
        head("VOLUME"),
        "created",
        "solved",
        "reopen",
        "closed",
        "backlog",
        "in",
        "out",
        "notes"
    ));
    for row in &all {
        let f = &row.figures;
        line(format!(
            "{} {:>7} {:>7} {:>6} {:>6} {:>7} {:>6} {:>6} {:>5}",
            label(row),
            f.created,
            f.solved,
            f.reopened,
            f.closed,
            f.backlog,
            f.messages_in,
            f.messages_out,
            f.notes
        ));
    }
    line(String::new());
    line(format!(
        "{} {:>5} {:>7} {:>7} {:>7} │ {:>7} {:>7}",
        head("FIRST REPLY"),
        "n",
        "median",
        "p90",
        "mean",
        "bh med",
        "bh p90"
    ));
    for row in &all {
        let (f, b) = (
            &row.figures.first_response,
            &row.figures.first_response_business,
        );
        line(format!(
            "{} {:>5} {:>7} {:>7} {:>7} │ {:>7} {:>7}",
            label(row),
            f.n,
            d(f.median),
            d(f.p90),
            d(f.mean),
            d(b.median),
            d(b.p90)
        ));
    }
    line(String::new());
    line(format!(
        "{} {:>6} {:>6} {:>6} {:>6} {:>6}",
        head("FIRST REPLY IN"),
        BAND_LABELS[0],
        BAND_LABELS[1],
        BAND_LABELS[2],
        BAND_LABELS[3],
        BAND_LABELS[4]
    ));
    for row in &all {
        let b = row.figures.first_response.bands;
        line(format!(
            "{} {:>6} {:>6} {:>6} {:>6} {:>6}",
            label(row),
            b[0],
            b[1],
            b[2],
            b[3],
            b[4]
        ));
    }
    line(String::new());
    line(format!(
        "{} {:>5} {:>7} {:>7} {:>7} {:>6} {:>6} {:>7}",
        head("RESOLUTION"),
        "n",
        "median",
        "p90",
        "bh med",
        "1-touch",
        "reopen",
        "replies"
    ));
    for row in &all {
        let f = &row.figures;
        line(format!(
            "{} {:>5} {:>7} {:>7} {:>7} {:>6} {:>6} {:>7}",
            label(row),
            f.resolution.n,
            d(f.resolution.median),
            d(f.resolution.p90),
            d(f.resolution_business.median),
            pct(f.one_touch_rate),
            pct(f.reopen_rate),
            f.replies_per_ticket
                .map(|v| format!("{v:.1}"))
                .unwrap_or_else(|| "-".into()),
        ));
    }
    let any_sla = all.iter().any(|r| {
        let f = &r.figures;
        f.first_response_sla.met
            + f.first_response_sla.breached
            + f.resolution_sla.met
            + f.resolution_sla.breached
            > 0
    });
    if any_sla || !r.open_breaches.is_empty() {
        line(String::new());
        line(format!(
            "{} {:>6} {:>8} {:>5} │ {:>6} {:>8} {:>5}",
            head("SLA"),
            "frt ok",
            "late",
            "met",
            "res ok",
            "late",
            "met"
        ));
        for row in &all {
            let (a, b) = (&row.figures.first_response_sla, &row.figures.resolution_sla);
            line(format!(
                "{} {:>6} {:>8} {:>5} │ {:>6} {:>8} {:>5}",
                label(row),
                a.met,
                a.breached,
                pct(a.rate),
                b.met,
                b.breached,
                pct(b.rate)
            ));
        }
        for b in &r.open_breaches {
            let whose = if b.policy == "all" {
                String::new()
            } else {
                format!(" ({})", crate::sanitize::line(&b.policy))
            };
            line(format!(
                "open now and past target{whose}: {} without a first reply, {} unsolved",
                b.first_response, b.resolution
            ));
        }
    }
    if all.iter().any(|r| r.figures.satisfaction.sent > 0) {
        line(String::new());
        line(format!(
            "{} {:>6} {:>8} {:>9} {:>7} {:>6}",
            head("SATISFACTION"),
            "sent",
            "answered",
            "response",
            "average",
            "CSAT"
        ));
        for row in &all {
            let s = &row.figures.satisfaction;
            line(format!(
                "{} {:>6} {:>8} {:>9} {:>7} {:>6}",
                label(row),
                s.sent,
                s.answered,
                pct(s.response_rate),
                s.average
                    .map(|v| format!("{v:.2}"))
                    .unwrap_or_else(|| "-".into()),
                pct(s.csat)
            ));
        }
    }
    line(String::new());
    line(format!("BUSIEST HOURS (messages in, {})", r.zone));
    line(format!("     {}", "0     6     12    18    "));
    let max = r.heatmap.iter().flatten().copied().max().unwrap_or(0);
    for (i, day) in ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
        .iter()
        .enumerate()
    {
        let cells: String = r.heatmap[i].iter().map(|&n| shade(n, max)).collect();
        let total: i64 = r.heatmap[i].iter().sum();
        line(format!("{day}  {cells}  {total}"));
    }
    if !r.workload.is_empty() {
        line(String::new());
        line("OPEN NOW BY ASSIGNEE".into());
        let parts: Vec<String> = r
            .workload
            .iter()
            .map(|(a, n)| {
                let who = if a.is_empty() {
                    "(unassigned)".to_string()
                } else {
                    crate::sanitize::line(a)
                };
                format!("{who} {n}")
            })
            .collect();
        line(format!("  {}", parts.join(" · ")));
    }
    if !r.kpis.is_empty() {
        line(String::new());
        line(format!(
            "{} {:>10} {:>10} {:>8}{}",
            fit("TARGETS", 30),
            "actual",
            "",
            "",
            if r.previous.is_some() {
                "   previous"
            } else {
                ""
            }
        ));
        for k in &r.kpis {
            let show = |v: Option<f64>| crate::report::figures::show(v, k.unit);
            let mark = match k.status {
                Status::Met => "met",
                Status::Near => "near",
                Status::Missed => "MISSED",
                Status::NoData => "no data",
            };
            let prev = if r.previous.is_some() {
                format!("   {}", show(k.previous))
            } else {
                String::new()
            };
            line(format!(
                "{} {:>10} {:>10}{}",
                fit(&format!("{} {}", k.kpi, k.target), 30),
                show(k.actual),
                mark,
                prev
            ));
        }
    }
    if let Some(prev) = &r.previous {
        if let Some(p) = prev.last() {
            let now = r.totals.last().map(|t| &t.figures);
            line(String::new());
            line(format!("PREVIOUS PERIOD {} – {}", p.from, p.to));
            let f = &p.figures;
            let delta = |a: i64, b: i64| {
                let dlt = a - b;
                if dlt >= 0 {
                    format!("+{dlt}")
                } else {
                    dlt.to_string()
                }
            };
            if let Some(n) = now {
                line(format!(
                    "  created {} ({}) · solved {} ({}) · first reply median {} (now {}) · p90 {} (now {})",
                    f.created, delta(n.created, f.created), f.solved, delta(n.solved, f.solved),
                    d(f.first_response.median), d(n.first_response.median),
                    d(f.first_response.p90), d(n.first_response.p90)
                ));
            }
        }
    }
    out
}

fn shade(n: i64, max: i64) -> char {
    if n <= 0 || max <= 0 {
        return '·';
    }
    let levels = ['░', '▒', '▓', '█'];
    let i = ((n * 4 - 1) / max).clamp(0, 3) as usize;
    levels[i]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_cells_are_defused() {
        assert_eq!(cell("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(cell("-"), "-");
        assert_eq!(cell("billing"), "billing");
        assert!(!cell("a\x1b[31mb").contains('\x1b'));
    }
}
