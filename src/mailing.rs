//! Report mailings: a report queued as team mail (the text table, the CSV
//! attached) for `report --mail-to`, and the schedules of `[[report.mail]]`
//! that the daemon runs — each slot (a day, week or month at its hour on
//! the team's clock) mailed once, recorded in the transaction that queues
//! it, so a restart or a crash neither skips nor repeats one.

use crate::clock::date_of;
use crate::config::{Config, ReportMail};
use crate::error::{Error, Result};
use crate::kpi::{self, Group, Report, Request};
use crate::report::period::By;
use crate::report::schedule::{last_slot, parse_at, parse_range, Every};
use crate::store::{QueuedMail, SearchContext, Store, TeamMail, Tx};

/// What a schedule reports on for the slot of `slot_day`: its `period`
/// (read as on that day), or the day, week or month just ended.
pub fn request_for(m: &ReportMail, config: &Config, slot_day: i32) -> Result<Request> {
    let (targets, near, starts) = config.report_settings().map_err(Error::Other)?;
    let every = Every::parse(&m.every).map_err(Error::Other)?;
    let spec = m.period.clone().unwrap_or_else(|| {
        match every {
            Every::Day => "yesterday",
            Every::Week => "last-week",
            Every::Month => "last-month",
        }
        .to_string()
    });
    let range = parse_range(&spec, slot_day, starts).map_err(Error::Other)?;
    let by = match &m.by {
        Some(b) => By::parse(b).map_err(Error::Other)?,
        None if every == Every::Month => By::Week,
        None => By::Day,
    };
    let query = match &m.query {
        Some(q) => Some((
            q.clone(),
            crate::query::parse(q).map_err(|e| Error::Other(e.to_string()))?,
        )),
        None => None,
    };
    Ok(Request {
        range,
        by,
        group: Group::parse(&m.group).map_err(Error::Other)?,
        query,
        compare: true,
        week_starts: starts,
        targets,
        near,
        live: true,
    })
}

/// Queues `r` for each address as team mail, in `tx`: all or none.
pub fn queue(tx: &Tx<'_>, r: &Report, to: &[String], agent: &str) -> Result<Vec<QueuedMail>> {
    let csv = crate::tables::csv(r).map_err(|e| Error::Other(format!("writing the CSV: {e}")))?;
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
         Definitions: docs/reports.md. Sent by echodesk for {agent}.\n",
        crate::tables::render(r),
        r.by,
    );
    let attachments = vec![(file, "text/csv; charset=utf-8".to_string(), csv)];
    let tags = vec!["report".to_string()];
    to.iter()
        .map(|address| {
            tx.queue_team_mail(
                &TeamMail {
                    to: address,
                    subject: &subject,
                    body: &body,
                    attachments: &attachments,
                    tags: &tags,
                },
                agent,
            )
        })
        .collect()
}

/// The cursor a schedule's last mailed slot is kept under.
const CURSOR: &str = "report-mail";

/// One schedule's slot that was (or, in a dry run, would be) mailed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Mailed {
    pub schedule: String,
    /// The slot's day, YYYY-MM-DD on the team's clock.
    pub slot: String,
    pub from: String,
    pub to: String,
    pub recipients: Vec<String>,
    /// The internal tickets queued (none in a dry run).
    pub tickets: Vec<i64>,
}

/// Mails every schedule whose latest slot (at `ctx.now`) has not been
/// mailed yet, or with `dry_run` says which it would. A schedule that
/// fails (its report, an address) is returned with its error and tried
/// again next time; the others go on.
pub fn run_due(
    store: &mut Store,
    config: &Config,
    ctx: &SearchContext,
    agent: &str,
    dry_run: bool,
) -> (Vec<Mailed>, Vec<(String, Error)>) {
    let mut done = Vec::new();
    let mut errors = Vec::new();
    for m in &config.report.mail {
        match run_one(store, config, ctx, agent, m, dry_run) {
            Ok(Some(d)) => done.push(d),
            Ok(None) => {}
            Err(e) => errors.push((m.name.clone(), e)),
        }
    }
    (done, errors)
}

fn run_one(
    store: &mut Store,
    config: &Config,
    ctx: &SearchContext,
    agent: &str,
    m: &ReportMail,
    dry_run: bool,
) -> Result<Option<Mailed>> {
    let (_, _, starts) = config.report_settings().map_err(Error::Other)?;
    let every = Every::parse(&m.every).map_err(Error::Other)?;
    let at = parse_at(&m.at).map_err(Error::Other)?;
    let zone = store.settings().zone;
    let (slot, _) = last_slot(every, at, zone, starts, ctx.now);
    let label = date_of(slot).format("%Y-%m-%d").to_string();
    if store.cursor(CURSOR, &m.name)?.as_deref() == Some(label.as_str()) {
        return Ok(None);
    }
    let req = request_for(m, config, slot)?;
    let fmt = |d: i32| date_of(d).format("%Y-%m-%d").to_string();
    let mut mailed = Mailed {
        schedule: m.name.clone(),
        slot: label.clone(),
        from: fmt(req.range.first),
        to: fmt(req.range.last),
        recipients: m.to.clone(),
        tickets: Vec::new(),
    };
    if dry_run {
        return Ok(Some(mailed));
    }
    let queued = store.once_per_slot(
        (CURSOR, &m.name),
        &label,
        |store| {
            if let crate::store::RollupState::Stale { .. } = store.rollup_state()? {
                store.rebuild_reports()?;
            }
            kpi::build(store, &req, ctx)
        },
        |tx, report| queue(tx, &report, &m.to, agent),
    )?;
    Ok(queued.map(|q| {
        mailed.tickets = q.iter().map(|q| q.ticket).collect();
        mailed
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> i32 {
        crate::clock::day_number(chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap())
    }

    #[test]
    fn the_default_period_is_the_one_just_ended() {
        let config = Config::default();
        let m = ReportMail {
            name: "w".into(),
            to: vec!["a@example.test".into()],
            every: "week".into(),
            at: "07:00".into(),
            period: None,
            by: None,
            group: "channel".into(),
            query: None,
        };
        let r = request_for(&m, &config, day("2026-11-30")).unwrap();
        assert_eq!(
            (r.range.first, r.range.last),
            (day("2026-11-23"), day("2026-11-29"))
        );
        assert_eq!(r.by, By::Day);
        let monthly = ReportMail {
            every: "month".into(),
            ..m
        };
        let r = request_for(&monthly, &config, day("2026-12-01")).unwrap();
        assert_eq!(
            (r.range.first, r.range.last),
            (day("2026-11-01"), day("2026-11-30"))
        );
        assert_eq!(r.by, By::Week);
    }
}
