//! `echodesk report`: the team's figures for a period as a table, JSON or
//! CSV; `report export` one row per ticket; `report rebuild`.

use std::io::Write as _;

use anyhow::Context as _;
use chrono::Weekday;
use clap::{Args, Subcommand};

use super::output::{self, say};
use super::Ctx;
use crate::clock::Zone;
use crate::kpi::{self, Group, Report, Request, Row};
use crate::present::{duration, fit};
use crate::report::dist::BAND_LABELS;
use crate::report::figures::Status;
use crate::report::period::{self, By, Range};
use crate::report::What;
use crate::store::{RollupState, Store};

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ReportArgs {
    #[command(subcommand)]
    pub cmd: Option<ReportCmd>,
    #[command(flatten)]
    pub period: PeriodArgs,
    /// Intervals: day, week, month or total
    #[arg(long, default_value = "week")]
    pub by: String,
    /// Rows per channel, agent, priority, tag, state or policy (SLA)
    #[arg(long, default_value = "all")]
    pub group: String,
    /// Only the tickets this query matches (the query language of `list`)
    #[arg(long, short)]
    pub query: Option<String>,
    /// Also the previous period of the same length, for comparison
    #[arg(long)]
    pub compare: bool,
    /// CSV for spreadsheets: one row per interval and group, then totals
    #[arg(long, conflicts_with = "json")]
    pub csv: bool,
    /// Mail the report (the table, and the CSV attached) to ADDRESS through
    /// the outbox; repeat for more addresses
    #[arg(long, value_name = "ADDRESS", conflicts_with = "csv")]
    pub mail_to: Vec<String>,
}

#[derive(Debug, Args, Clone, Default)]
pub struct PeriodArgs {
    /// 2026-11, 2026-W47, 2026, 2026-11-05, last-week, this-month, …
    #[arg(long, conflicts_with_all = ["last", "from"])]
    pub period: Option<String>,
    /// The last N days, weeks, months or years, this one included: 30d, 4w, 3m, 1y
    #[arg(long, conflicts_with = "from")]
    pub last: Option<String>,
    /// First day (YYYY-MM-DD, the team's time zone)
    #[arg(long, requires = "to")]
    pub from: Option<String>,
    /// Last day, included
    #[arg(long, requires = "from")]
    pub to: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum ReportCmd {
    /// One row per ticket: its times and computed figures (CSV, or JSON lines with --json)
    Export {
        /// The tickets to export (the query language of `list`); all when absent
        #[arg(long, short)]
        query: Option<String>,
        /// CSV (the default without --json)
        #[arg(long)]
        csv: bool,
    },
    /// Recompute every ticket's figures and the daily rollups from the history
    Rebuild,
}

/// The days asked for; `--last 4w` when nothing is.
pub fn range(p: &PeriodArgs, today: i32, starts: Weekday) -> anyhow::Result<Range> {
    let r = match (&p.period, &p.last, &p.from, &p.to) {
        (Some(s), _, _, _) => period::parse_period(s, today, starts),
        (_, Some(s), _, _) => period::parse_last(s, today, starts),
        (_, _, Some(f), Some(t)) => {
            let (first, last) = (period::parse_date(f), period::parse_date(t));
            match (first, last) {
                (Ok(first), Ok(last)) if last < first => {
                    Err(format!("--to {t} is before --from {f}"))
                }
                (Ok(first), Ok(last)) if last - first > 3660 => {
                    Err("a report covers at most ten years".to_string())
                }
                (Ok(first), Ok(last)) => Ok(Range { first, last }),
                (Err(e), _) | (_, Err(e)) => Err(e),
            }
        }
        _ => period::parse_last("4w", today, starts),
    };
    r.map_err(anyhow::Error::msg)
}

/// Rebuilds the rollups when they were kept for another zone or
/// definitions, saying so on standard error.
fn current(store: &mut Store) -> anyhow::Result<()> {
    if let RollupState::Stale { reason } = store.rollup_state()? {
        eprintln!("echodesk: building the report figures ({reason}) …");
        let n = store.rebuild_reports()?;
        eprintln!("echodesk: report figures built for {n} tickets");
    }
    Ok(())
}

pub fn run(ctx: &Ctx, a: ReportArgs) -> anyhow::Result<()> {
    match a.cmd {
        Some(ReportCmd::Rebuild) => {
            let mut store = ctx.open()?;
            let n = store.rebuild_reports()?;
            if ctx.json {
                return output::json(&serde_json::json!({ "tickets": n }));
            }
            say(&format!(
                "report figures rebuilt for {n} tickets ({})",
                ctx.config.team_zone().name()
            ));
            Ok(())
        }
        Some(ReportCmd::Export { query, csv: _ }) => export(ctx, query.as_deref()),
        None => report(ctx, &a),
    }
}

fn report(ctx: &Ctx, a: &ReportArgs) -> anyhow::Result<()> {
    let zone = ctx.config.team_zone();
    let (targets, near, starts) = ctx.config.report_settings().map_err(anyhow::Error::msg)?;
    let sctx = ctx.search_ctx();
    let today = zone.day(sctx.now);
    let query = a
        .query
        .as_ref()
        .map(|q| crate::query::parse(q).map(|p| (q.clone(), p)))
        .transpose()?;
    let req = Request {
        range: range(&a.period, today, starts)?,
        by: By::parse(&a.by).map_err(anyhow::Error::msg)?,
        group: Group::parse(&a.group).map_err(anyhow::Error::msg)?,
        query,
        compare: a.compare,
        week_starts: starts,
        targets,
        near,
        live: true,
    };
    let mut store = ctx.open()?;
    current(&mut store)?;
    let r = kpi::build(&store, &req, &sctx)?;
    if !a.mail_to.is_empty() {
        return mail(ctx, &mut store, &r, &a.mail_to);
    }
    if ctx.json {
        return output::json(&r);
    }
    if a.csv {
        return write_csv(&r);
    }
    print!("{}", render(&r));
    Ok(())
}

/// Queues the report for each address as team mail (all or none), for
/// the outbox to send: the table as the text, the CSV attached.
fn mail(ctx: &Ctx, store: &mut Store, r: &Report, to: &[String]) -> anyhow::Result<()> {
    let mut csv = csv::Writer::from_writer(Vec::new());
    csv.write_record(CSV_HEADER)?;
    for row in r.rows.iter().chain(&r.totals) {
        csv.write_record(csv_row(row))?;
    }
    let csv = csv.into_inner().context("writing the CSV")?;
    let grouping = if r.group == "all" {
        String::new()
    } else {
        format!(", per {}", r.group)
    };
    let subject = format!(
        "echodesk report {} to {} (by {}{grouping})",
        r.from, r.to, r.by
    );
    let file = format!("echodesk-report-{}-{}.csv", r.from, r.to);
    let body = format!(
        "{}\nThe figures are attached as {file}, one row per {} and group.\n\
         Definitions: docs/reports.md. Sent by echodesk for {}.\n",
        render(r),
        r.by,
        ctx.agent
    );
    let attachments = vec![(file, "text/csv; charset=utf-8".to_string(), csv)];
    let tags = vec!["report".to_string()];
    let tx = store.transaction()?;
    let mut queued = Vec::new();
    for address in to {
        let q = tx.queue_team_mail(
            &crate::store::TeamMail {
                to: address,
                subject: &subject,
                body: &body,
                attachments: &attachments,
                tags: &tags,
            },
            &ctx.agent,
        )?;
        queued.push((address, q));
    }
    tx.commit()?;
    if ctx.json {
        let list: Vec<_> = queued
            .iter()
            .map(|(to, q)| serde_json::json!({"to": to, "ticket": q.ticket, "message": q.message}))
            .collect();
        return output::json(&serde_json::json!({ "queued": list }));
    }
    for (address, q) in &queued {
        say(&format!(
            "report for {} queued as ticket #{} (internal); the outbox sends it: `echodesk outbox send`, or the daemon",
            crate::sanitize::line(address),
            q.ticket
        ));
    }
    Ok(())
}

/// A spreadsheet reads `=`, `+`, `-` and `@` at the start of a cell as a
/// formula: text from outside (tags, agent names) gets a quote first.
fn cell(s: &str) -> String {
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

const CSV_HEADER: &[&str] = &[
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
];

fn csv_row(r: &Row) -> Vec<String> {
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
    v
}

fn write_csv(r: &Report) -> anyhow::Result<()> {
    let mut w = csv::Writer::from_writer(std::io::stdout().lock());
    w.write_record(CSV_HEADER)?;
    for row in r.rows.iter().chain(&r.totals) {
        w.write_record(csv_row(row))?;
    }
    finish(w)
}

fn finish<W: std::io::Write>(mut w: csv::Writer<W>) -> anyhow::Result<()> {
    match w.flush() {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        r => r.context("writing CSV"),
    }
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

/// The ticket export: one row per matching ticket, streamed.
fn export(ctx: &Ctx, query: Option<&str>) -> anyhow::Result<()> {
    let mut store = ctx.open()?;
    current(&mut store)?;
    let zone = ctx.config.team_zone();
    let q = crate::query::parse(query.unwrap_or(""))?;
    let ids = store.search_ids(&q, &ctx.search_ctx(), usize::MAX >> 1)?;
    let stdout = std::io::stdout();
    let mut csv = (!ctx.json).then(|| csv::Writer::from_writer(stdout.lock()));
    if let Some(w) = csv.as_mut() {
        w.write_record(EXPORT_HEADER)?;
    }
    for chunk in ids.chunks(2000) {
        let facts = store.facts_of(chunk)?;
        for (id, _, f) in facts {
            // Every customer ticket has a fact (created, or spam); team
            // mail has none and is not the team's work.
            if f.is_empty() {
                continue;
            }
            let t = store.ticket_summary(id)?;
            let row = ExportRow::of(&t, &f, zone);
            match csv.as_mut() {
                Some(w) => w.write_record(row.cells())?,
                None => {
                    let mut out = std::io::stdout().lock();
                    let line = crate::sanitize::json(&row, false)?;
                    if let Err(e) = writeln!(out, "{line}") {
                        if e.kind() == std::io::ErrorKind::BrokenPipe {
                            std::process::exit(0);
                        }
                        return Err(e.into());
                    }
                }
            }
        }
    }
    if let Some(w) = csv {
        finish(w)?;
    }
    Ok(())
}

const EXPORT_HEADER: &[&str] = &[
    "id",
    "channel",
    "state",
    "priority",
    "assignee",
    "customer",
    "subject",
    "tags",
    "created",
    "first_response",
    "solved",
    "reopens",
    "solves",
    "replies_first_cycle",
    "frt_s",
    "frt_bh_s",
    "frt_sla",
    "resolution_s",
    "resolution_bh_s",
    "resolution_sla",
];

#[derive(serde::Serialize)]
struct ExportRow {
    id: i64,
    channel: String,
    state: String,
    priority: String,
    assignee: String,
    customer: String,
    subject: String,
    tags: String,
    created: String,
    first_response: String,
    solved: String,
    reopens: i64,
    solves: i64,
    replies_first_cycle: Option<u32>,
    frt_s: Option<i64>,
    frt_bh_s: Option<i64>,
    frt_sla: String,
    resolution_s: Option<i64>,
    resolution_bh_s: Option<i64>,
    resolution_sla: String,
}

fn iso(zone: Zone, ts: Option<i64>) -> String {
    let Some(ts) = ts else { return String::new() };
    let off = zone.offset_at(ts);
    let local = zone.local(ts);
    let sign = if off < 0 { '-' } else { '+' };
    let off = off.abs();
    format!(
        "{}{sign}{:02}:{:02}",
        local.format("%Y-%m-%dT%H:%M:%S"),
        off / 3600,
        off % 3600 / 60
    )
}

impl ExportRow {
    fn of(t: &crate::model::TicketSummary, facts: &[crate::report::Fact], zone: Zone) -> ExportRow {
        let sla = |s: Option<bool>| match s {
            Some(true) => "met".to_string(),
            Some(false) => "breached".to_string(),
            None => String::new(),
        };
        let frt = facts.iter().find_map(|f| match &f.what {
            What::FirstResponse {
                secs,
                business,
                sla,
            } => Some((*secs, *business, *sla)),
            _ => None,
        });
        let res = facts.iter().find_map(|f| match &f.what {
            What::Solved {
                secs,
                business,
                replies,
                sla,
            } => Some((*secs, *business, *replies, *sla)),
            _ => None,
        });
        let count = |p: fn(&What) -> bool| facts.iter().filter(|f| p(&f.what)).count() as i64;
        ExportRow {
            id: t.id,
            channel: t.channel.as_str().into(),
            state: t.state.clone(),
            priority: t.priority.as_str().into(),
            assignee: t.assignee.clone().unwrap_or_default(),
            customer: t.customer_name.clone(),
            subject: t.subject.clone(),
            tags: t.tags.join(" "),
            created: iso(zone, Some(t.created_at)),
            first_response: iso(zone, t.first_response_at),
            solved: iso(zone, t.solved_at),
            reopens: count(|w| matches!(w, What::Reopened)),
            solves: count(|w| matches!(w, What::Solved { .. })),
            replies_first_cycle: res.map(|r| r.2),
            frt_s: frt.map(|f| f.0),
            frt_bh_s: frt.map(|f| f.1),
            frt_sla: sla(frt.and_then(|f| f.2)),
            resolution_s: res.map(|r| r.0),
            resolution_bh_s: res.map(|r| r.1),
            resolution_sla: sla(res.and_then(|r| r.3)),
        }
    }

    fn cells(&self) -> Vec<String> {
        let n = |v: Option<i64>| v.map(|x| x.to_string()).unwrap_or_default();
        vec![
            self.id.to_string(),
            self.channel.clone(),
            cell(&self.state),
            self.priority.clone(),
            cell(&self.assignee),
            cell(&self.customer),
            cell(&self.subject),
            cell(&self.tags),
            self.created.clone(),
            self.first_response.clone(),
            self.solved.clone(),
            self.reopens.to_string(),
            self.solves.to_string(),
            self.replies_first_cycle
                .map(|r| r.to_string())
                .unwrap_or_default(),
            n(self.frt_s),
            n(self.frt_bh_s),
            self.frt_sla.clone(),
            n(self.resolution_s),
            n(self.resolution_bh_s),
            self.resolution_sla.clone(),
        ]
    }
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

    #[test]
    fn export_times_carry_the_zone_offset() {
        let z = Zone::parse("Europe/Berlin").unwrap();
        assert_eq!(iso(z, Some(1_793_692_800)), "2026-11-03T09:00:00+01:00");
        // Summer time: +02:00.
        assert_eq!(
            iso(z, Some(1_793_692_800 - 100 * 86_400)),
            "2026-07-26T10:00:00+02:00"
        );
        assert_eq!(iso(z, None), "");
    }
}
