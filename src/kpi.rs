//! A report as front ends show it: the store's rollups (or, for a query,
//! the matching tickets' stored facts) summed by interval and group, the
//! backlog carried through, the weekday × hour heatmap, each agent's open
//! load, the SLA breaches still open, and the KPI targets judged.

use std::collections::HashMap;

use chrono::{Datelike, Weekday};
use serde::Serialize;

use crate::clock::date_of;
use crate::error::{Error, Result};
use crate::query::Query;
pub use crate::report::figures::OpenBreaches;
use crate::report::figures::{Figures, Satisfaction, Status, Target};
use crate::report::period::{intervals, previous, By, Interval, Range};
use crate::report::{Counters, Key, Sum};
use crate::store::{Label, SearchContext, Store};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Group {
    All,
    Channel,
    Agent,
    Priority,
    Tag,
    State,
    /// The ticket's SLA policy.
    Policy,
    /// The account the customer first wrote to.
    Account,
    /// The customer's organisation.
    Org,
    /// The model of the asset the ticket is about.
    Model,
}

impl Group {
    pub fn parse(s: &str) -> std::result::Result<Group, String> {
        Ok(match s {
            "all" | "none" => Group::All,
            "channel" => Group::Channel,
            "agent" => Group::Agent,
            "priority" => Group::Priority,
            "tag" => Group::Tag,
            "state" => Group::State,
            "policy" => Group::Policy,
            "account" => Group::Account,
            "org" | "organisation" | "organization" => Group::Org,
            "model" | "asset" => Group::Model,
            _ => {
                return Err(format!(
                    "`{}` is not a grouping; use channel, agent, priority, tag, state, policy, account, org or model",
                    crate::sanitize::line(s)
                ))
            }
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Group::All => "all",
            Group::Channel => "channel",
            Group::Agent => "agent",
            Group::Priority => "priority",
            Group::Tag => "tag",
            Group::State => "state",
            Group::Policy => "policy",
            Group::Account => "account",
            Group::Org => "org",
            Group::Model => "model",
        }
    }

    /// The per-ticket label a grouping outside the rollups reads.
    fn label(self) -> Option<Label> {
        Some(match self {
            Group::Tag => Label::Tag,
            Group::State => Label::State,
            Group::Policy => Label::Policy,
            Group::Account => Label::Account,
            Group::Org => Label::Org,
            Group::Model => Label::Model,
            Group::All | Group::Channel | Group::Agent | Group::Priority => return None,
        })
    }

    /// Groups the rollups are kept by; the others need each ticket.
    fn in_rollups(self) -> bool {
        matches!(
            self,
            Group::All | Group::Channel | Group::Agent | Group::Priority
        )
    }
}

/// What to report on.
#[derive(Debug, Clone)]
pub struct Request {
    pub range: Range,
    pub by: By,
    pub group: Group,
    pub query: Option<(String, Query)>,
    pub compare: bool,
    pub week_starts: Weekday,
    pub targets: Vec<Target>,
    /// How close counts as near a target (a share of it).
    pub near: f64,
    /// Also the figures of this moment: the SLA breaches still open.
    pub live: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub interval: String,
    pub from: String,
    pub to: String,
    pub group: String,
    #[serde(flatten)]
    pub figures: Figures,
}

#[derive(Debug, Clone, Serialize)]
pub struct Judged {
    pub kpi: String,
    pub target: String,
    pub actual: Option<f64>,
    pub unit: &'static str,
    pub status: Status,
    /// The same KPI in the previous period, with `--compare`.
    pub previous: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub zone: String,
    pub from: String,
    pub to: String,
    pub by: String,
    pub group: String,
    pub query: Option<String>,
    /// Tickets the query matched (reports over a query only).
    pub matched: Option<usize>,
    /// One row per interval and group, in order.
    pub rows: Vec<Row>,
    /// One row per group over the whole period, then "all".
    pub totals: Vec<Row>,
    /// The previous period's totals, with `--compare`.
    pub previous: Option<Vec<Row>>,
    /// Messages in: `heatmap[weekday from Monday][hour]` on the team's clock.
    pub heatmap: [[i64; 24]; 7],
    /// Open tickets per assignee at the end of the period ("" unassigned).
    pub workload: Vec<(String, i64)>,
    pub open_breaches: Vec<OpenBreaches>,
    pub kpis: Vec<Judged>,
}

/// Label of a rollup key's group.
fn group_label(g: Group, key: &Key) -> &str {
    match g {
        Group::Channel => key.channel.as_str(),
        Group::Agent if key.agent.is_empty() => "-",
        Group::Agent => &key.agent,
        Group::Priority => key.priority.as_str(),
        Group::All
        | Group::Tag
        | Group::State
        | Group::Policy
        | Group::Account
        | Group::Org
        | Group::Model => "all",
    }
}

/// `map[key] += v`, allocating the key only when it is new.
fn bump(map: &mut HashMap<String, i64>, key: &str, v: i64) {
    match map.get_mut(key) {
        Some(n) => *n += v,
        None => {
            map.insert(key.to_string(), v);
        }
    }
}

/// What one source (rollup rows or tickets' facts) hands the summing:
/// counters by key, plus labels for groups kept outside the key.
struct Contribution<'a> {
    key: &'a Key,
    counters: &'a Counters,
    labels: &'a [String],
}

#[derive(Default)]
struct Sums {
    intervals: usize,
    /// group → counters per interval.
    cells: HashMap<String, Vec<Sum>>,
    /// group → backlog carried into the period.
    base: HashMap<String, i64>,
    /// assignee → open tickets at the end of the period.
    load: HashMap<String, i64>,
    heat: [[i64; 24]; 7],
}

impl Sums {
    fn add(
        &mut self,
        c: Contribution<'_>,
        range: Range,
        index: &dyn Fn(i32) -> usize,
        group: Group,
    ) {
        let day = c.key.day;
        if day > range.last {
            return;
        }
        let one = [group_label(group, c.key)];
        let many: Vec<&str>;
        let labels: &[&str] = if group.in_rollups() {
            &one
        } else {
            many = c.labels.iter().map(String::as_str).collect();
            &many
        };
        bump(&mut self.load, &c.key.agent, c.counters.backlog);
        if day < range.first {
            for l in labels {
                bump(&mut self.base, l, c.counters.backlog);
            }
            return;
        }
        let i = index(day);
        for l in labels {
            let cells = match self.cells.get_mut(*l) {
                Some(v) => v,
                None => self
                    .cells
                    .entry(l.to_string())
                    .or_insert_with(|| vec![Sum::default(); self.intervals]),
            };
            if let Some(cell) = cells.get_mut(i) {
                cell.add(c.counters);
            }
        }
        let wd = date_of(day).weekday().num_days_from_monday() as usize;
        for (h, n) in c.counters.in_hours.iter().enumerate() {
            self.heat[wd][h] += n;
        }
    }
}

pub fn build(store: &Store, req: &Request, ctx: &SearchContext) -> Result<Report> {
    let ivs = intervals(req.range, req.by, req.week_starts);
    let (rows, totals, sums, matched) = period(store, req, &ivs, ctx)?;
    let prev = if req.compare {
        let p = previous(req.range);
        let pivs = intervals(p, By::Total, req.week_starts);
        let preq = Request {
            range: p,
            by: By::Total,
            live: false,
            ..req.clone()
        };
        Some(period(store, &preq, &pivs, ctx)?.1)
    } else {
        None
    };
    let mut workload: Vec<(String, i64)> = sums.load.into_iter().filter(|(_, n)| *n != 0).collect();
    workload.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let overall = totals.last().map(|r| &r.figures);
    let prev_overall = prev.as_ref().and_then(|p| p.last()).map(|r| &r.figures);
    let kpis = req
        .targets
        .iter()
        .map(|t| {
            let actual = overall.and_then(|f| f.kpi(&t.kpi)).flatten();
            Judged {
                kpi: t.kpi.clone(),
                target: t.text.clone(),
                actual,
                unit: t.unit,
                status: t.judge(actual, req.near),
                previous: prev_overall.and_then(|f| f.kpi(&t.kpi)).flatten(),
            }
        })
        .collect();
    let fmt = |d: i32| date_of(d).format("%Y-%m-%d").to_string();
    Ok(Report {
        zone: store.settings().zone.name(),
        from: fmt(req.range.first),
        to: fmt(req.range.last),
        by: match req.by {
            By::Day => "day",
            By::Week => "week",
            By::Month => "month",
            By::Total => "total",
        }
        .into(),
        group: req.group.as_str().into(),
        query: req.query.as_ref().map(|(s, _)| s.clone()),
        matched,
        rows,
        totals,
        previous: prev,
        heatmap: sums.heat,
        workload,
        open_breaches: if req.live && req.group == Group::Policy {
            store.open_breaches_by_policy(ctx.now)?
        } else if req.live {
            store.open_breaches(ctx.now)?
        } else {
            Vec::new()
        },
        kpis,
    })
}

type Period = (Vec<Row>, Vec<Row>, Sums, Option<usize>);

type Satisfactions = (
    HashMap<(usize, String), Satisfaction>,
    HashMap<String, Satisfaction>,
    Satisfaction,
);

/// The surveys sent in the period, by (interval, group), by group, and in
/// all (each survey once, also when its ticket has two tags).
fn satisfaction(
    store: &Store,
    req: &Request,
    index: &dyn Fn(i32) -> usize,
    only: Option<&std::collections::HashSet<i64>>,
) -> Result<Satisfactions> {
    let zone = store.settings().zone;
    let max = store.settings().survey.max;
    let from = zone.day_start(req.range.first);
    let to = zone.day_start(req.range.last + 1);
    let surveys: Vec<_> = store
        .surveys_sent(from, to)?
        .into_iter()
        .filter(|s| only.is_none_or(|o| o.contains(&s.ticket)))
        .collect();
    let label = req.group.label();
    let ids: Vec<i64> = surveys.iter().map(|s| s.ticket).collect();
    let labels = match label {
        Some(l) => store.ticket_labels(&ids, l)?,
        None => HashMap::new(),
    };
    let mut cells: HashMap<(usize, String), Satisfaction> = HashMap::new();
    let mut by_group: HashMap<String, Satisfaction> = HashMap::new();
    let mut whole = Satisfaction::default();
    for s in &surveys {
        let groups: Vec<String> = match req.group {
            Group::All => vec!["all".into()],
            Group::Channel => vec![s.channel.as_str().into()],
            Group::Agent => vec![s.agent.clone().unwrap_or_else(|| "-".into())],
            Group::Priority => vec![store.ticket_summary(s.ticket)?.priority.as_str().into()],
            _ => labels
                .get(&s.ticket)
                .cloned()
                .unwrap_or_else(|| vec!["-".into()]),
        };
        let i = index(zone.day(s.sent_at));
        whole.add(s.rating, max);
        for g in groups {
            cells.entry((i, g.clone())).or_default().add(s.rating, max);
            by_group.entry(g).or_default().add(s.rating, max);
        }
    }
    Ok((cells, by_group, whole))
}

fn period(store: &Store, req: &Request, ivs: &[Interval], ctx: &SearchContext) -> Result<Period> {
    let first = req.range.first;
    // Day → interval, by a table over the period's days.
    let mut table = vec![0usize; req.range.days().max(0) as usize];
    for (i, iv) in ivs.iter().enumerate() {
        for d in iv.range.first..=iv.range.last {
            if let Some(slot) = table.get_mut((d - first) as usize) {
                *slot = i;
            }
        }
    }
    let index = |d: i32| -> usize { table.get((d - first) as usize).copied().unwrap_or(0) };
    let mut sums = Sums {
        intervals: ivs.len(),
        ..Sums::default()
    };
    let mut matched = None;
    let mut only: Option<std::collections::HashSet<i64>> = None;
    let no_labels: [String; 0] = [];
    if req.query.is_none() && req.group.in_rollups() {
        store.each_rollup(first, req.range.last, &mut |key, counters| {
            sums.add(
                Contribution {
                    key,
                    counters,
                    labels: &no_labels,
                },
                req.range,
                &index,
                req.group,
            );
        })?;
        for (channel, agent, priority, n) in store.backlog_before(first)? {
            let key = Key {
                day: first - 1,
                channel,
                agent,
                priority,
            };
            let c = Counters {
                backlog: n,
                ..Default::default()
            };
            sums.add(
                Contribution {
                    key: &key,
                    counters: &c,
                    labels: &no_labels,
                },
                req.range,
                &index,
                req.group,
            );
        }
    } else {
        let all = crate::query::parse("").map_err(|e| Error::Other(e.to_string()))?;
        let q = req.query.as_ref().map(|(_, q)| q).unwrap_or(&all);
        let ids = store.search_ids(q, ctx, usize::MAX >> 1)?;
        matched = Some(ids.len());
        if req.query.is_some() {
            only = Some(ids.iter().copied().collect());
        }
        let label = req.group.label();
        let labels = match label {
            Some(l) => store.ticket_labels(&ids, l)?,
            None => HashMap::new(),
        };
        for (id, channel, facts) in store.facts_of(&ids)? {
            let mut by_key: HashMap<Key, Counters> = HashMap::new();
            crate::report::add_facts(&mut by_key, channel, &facts, 1);
            let l: Vec<String> = if label.is_some() {
                labels.get(&id).cloned().unwrap_or_default()
            } else {
                Vec::new()
            };
            for (key, c) in &by_key {
                sums.add(
                    Contribution {
                        key,
                        counters: c,
                        labels: &l,
                    },
                    req.range,
                    &index,
                    req.group,
                );
            }
        }
    }
    // Rows with the backlog carried through each group's intervals.
    let groups: Vec<String> = {
        let mut g: Vec<String> = sums.cells.keys().chain(sums.base.keys()).cloned().collect();
        g.sort();
        g.dedup();
        if g.is_empty() {
            g.push("all".into());
        }
        g
    };
    let fmt = |d: i32| date_of(d).format("%Y-%m-%d").to_string();
    let mut rows: Vec<(usize, Row)> = Vec::new();
    let mut totals = Vec::new();
    let mut grand = Sum::default();
    let mut grand_backlog = 0;
    for g in &groups {
        let mut backlog = sums.base.get(g).copied().unwrap_or(0);
        let mut total = Sum::default();
        for (i, iv) in ivs.iter().enumerate() {
            let c = sums
                .cells
                .get(g)
                .and_then(|v| v.get(i))
                .map(Sum::counters)
                .unwrap_or_default();
            let c = &c;
            backlog += c.backlog;
            total.add(c);
            rows.push((
                i,
                Row {
                    interval: iv.label.clone(),
                    from: fmt(iv.range.first),
                    to: fmt(iv.range.last),
                    group: g.clone(),
                    figures: Figures::of(c, backlog),
                },
            ));
        }
        let total = total.counters();
        grand.add(&total);
        grand_backlog += backlog;
        totals.push(Row {
            interval: "total".into(),
            from: fmt(req.range.first),
            to: fmt(req.range.last),
            group: g.clone(),
            figures: Figures::of(&total, backlog),
        });
    }
    // Tags overlap, so their rows do not add up to the whole: the whole
    // is the tickets', counted once.
    if matches!(req.group, Group::Tag) {
        let whole = Request {
            group: Group::All,
            ..req.clone()
        };
        let (_, t, _, _) = period(store, &whole, ivs, ctx)?;
        totals.extend(t.into_iter().last());
    } else if groups.len() > 1 || groups[0] != "all" {
        totals.push(Row {
            interval: "total".into(),
            from: fmt(req.range.first),
            to: fmt(req.range.last),
            group: "all".into(),
            figures: Figures::of(&grand.counters(), grand_backlog),
        });
    }
    let (cells, by_group, whole) = satisfaction(store, req, &index, only.as_ref())?;
    for (i, row) in &mut rows {
        if let Some(s) = cells.get(&(*i, row.group.clone())) {
            row.figures.satisfaction = s.clone();
        }
    }
    for row in &mut totals {
        row.figures.satisfaction = if row.group == "all" {
            whole.clone()
        } else {
            by_group.get(&row.group).cloned().unwrap_or_default()
        };
    }
    // Interval rows in time order; groups are in order within each.
    rows.sort_by_key(|(i, _)| *i);
    let rows: Vec<Row> = rows.into_iter().map(|(_, r)| r).collect();
    Ok((rows, totals, sums, matched))
}
