//! `echodesk report`: the team's figures for a period as a table, JSON or
//! CSV; `report export` one row per ticket; `report rebuild`.

use std::io::Write as _;

use anyhow::Context as _;
use chrono::Weekday;
use clap::{Args, Subcommand};

use super::output::{self, say};
use super::Ctx;
use crate::clock::Zone;
use crate::kpi::{self, Group, Report, Request};
use crate::report::period::{self, By, Range};
use crate::report::What;
use crate::store::{RollupState, Store};
use crate::tables::cell;

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
    /// Rows per channel, agent, priority, tag, state, policy (SLA), account,
    /// org (the customer's organisation) or model (the ticket's asset)
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
    /// Mail the scheduled reports ([[report.mail]]) whose time has come and
    /// that were not mailed yet (the daemon does this by itself; this is for cron)
    MailDue {
        /// Say which would be mailed, and for which days; queue nothing
        #[arg(long)]
        dry_run: bool,
        /// As if it were this time on the team's clock ("2026-12-07 07:05"), to check a schedule
        #[arg(long, value_name = "TIME")]
        now: Option<String>,
    },
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
        Some(ReportCmd::MailDue { dry_run, now }) => mail_due(ctx, dry_run, now.as_deref()),
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
    print!("{}", crate::tables::render(&r));
    Ok(())
}

/// The scheduled mailings that are due, queued (or listed).
fn mail_due(ctx: &Ctx, dry_run: bool, now: Option<&str>) -> anyhow::Result<()> {
    let sctx = ctx.search_ctx_at(now)?;
    if ctx.config.report.mail.is_empty() {
        anyhow::bail!("no [[report.mail]] schedule in the config (docs/reports.md, By mail)");
    }
    let mut store = ctx.open()?;
    let (done, errors) =
        crate::mailing::run_due(&mut store, &ctx.config, &sctx, &ctx.agent, dry_run);
    if ctx.json {
        output::json(&serde_json::json!({
            "dry_run": dry_run,
            "mailed": done,
            "errors": errors.iter().map(|(n, e)| serde_json::json!({"schedule": n, "error": e.to_string()})).collect::<Vec<_>>(),
        }))?;
    } else {
        for d in &done {
            let what = if dry_run { "would mail" } else { "mailed" };
            say(&format!(
                "{}: {what} {} – {} to {} (slot {})",
                crate::sanitize::line(&d.schedule),
                d.from,
                d.to,
                crate::sanitize::line(&d.recipients.join(", ")),
                d.slot
            ));
        }
        if done.is_empty() && errors.is_empty() {
            say("nothing due: every schedule's latest slot is mailed");
        }
    }
    for (name, e) in &errors {
        eprintln!(
            "echodesk: report.mail `{}`: {}",
            crate::sanitize::line(name),
            crate::sanitize::line(&e.to_string())
        );
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(anyhow::anyhow!("{} schedule(s) failed", errors.len()))
    }
}

/// Queues the report for each address as team mail (all or none), for
/// the outbox to send: the table as the text, the CSV attached.
fn mail(ctx: &Ctx, store: &mut Store, r: &Report, to: &[String]) -> anyhow::Result<()> {
    let tx = store.transaction()?;
    let queued = crate::mailing::queue(&tx, r, to, &ctx.agent)?;
    tx.commit()?;
    if ctx.json {
        let list: Vec<_> = to
            .iter()
            .zip(&queued)
            .map(|(to, q)| serde_json::json!({"to": to, "ticket": q.ticket, "message": q.message}))
            .collect();
        return output::json(&serde_json::json!({ "queued": list }));
    }
    for (address, q) in to.iter().zip(&queued) {
        say(&format!(
            "report for {} queued as ticket #{} (internal); the outbox sends it: `echodesk outbox send`, or the daemon",
            crate::sanitize::line(address),
            q.ticket
        ));
    }
    Ok(())
}

fn write_csv(r: &Report) -> anyhow::Result<()> {
    let mut w = csv::Writer::from_writer(std::io::stdout().lock());
    w.write_record(crate::tables::CSV_HEADER)?;
    for row in r.rows.iter().chain(&r.totals) {
        w.write_record(crate::tables::csv_row(row))?;
    }
    finish(w)
}

fn finish<W: std::io::Write>(mut w: csv::Writer<W>) -> anyhow::Result<()> {
    match w.flush() {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        r => r.context("writing CSV"),
    }
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
