//! The report rollups: each ticket's facts (`report::facts`) are stored
//! with it, and their sums by day, channel, agent and priority are kept
//! in `report_rollup`. A transaction that changes a ticket recomputes its
//! facts at commit and puts the difference into the rollups, so the
//! rollups are always the sum over the tickets as they are now, and a
//! report reads a few thousand small rows instead of the history.

use std::collections::HashMap;

use rusqlite::{params, OptionalExtension};

use super::*;
use crate::model::{Channel, Direction, Priority};
use crate::report::{self, Counters, Fact, Key, Rules, Step, Ticket};

/// The store's rollups are for this zone and these definitions, or were
/// never built (a store from before reports, with tickets in it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RollupState {
    Current,
    Stale { reason: String },
}

const ZONE_KEY: &str = "report_zone";
const DEFINITIONS_KEY: &str = "report_definitions";

fn rules(settings: &Settings) -> Rules<'_> {
    Rules {
        workflow: &settings.workflow,
        zone: settings.zone,
        hours: settings.sla.hours(),
    }
}

fn step_of_event(
    at: i64,
    agent: String,
    kind: &str,
    old: Option<String>,
    new: Option<String>,
) -> Option<Step> {
    Some(match kind {
        "state" => Step::State {
            at,
            agent,
            from: old.unwrap_or_default(),
            to: new.unwrap_or_default(),
        },
        "assignee" => Step::Assignee {
            at,
            from: old,
            to: new,
        },
        "priority" => Step::Priority {
            at,
            from: old
                .as_deref()
                .and_then(Priority::parse)
                .unwrap_or(Priority::Normal),
            to: new
                .as_deref()
                .and_then(Priority::parse)
                .unwrap_or(Priority::Normal),
        },
        "merged-into" => Step::MergedInto { at },
        _ => return None,
    })
}

const EVENT_KINDS: &str = "('state', 'assignee', 'priority', 'merged-into')";

/// Event kinds whose logging changes a ticket's report facts (messages
/// mark theirs as they are stored); `created` and `merged` too, for the
/// ticket's first facts and a merge's receiving side.
pub(super) const REPORTED_KINDS: &[&str] = &[
    "state",
    "assignee",
    "priority",
    "merged-into",
    "merged",
    "created",
];

/// A ticket from [`TICKET_COLUMNS`], read from column `o` on.
fn ticket_of_row(r: &rusqlite::Row<'_>, o: usize) -> rusqlite::Result<Ticket> {
    let channel: String = r.get(o + 1)?;
    Ok(Ticket {
        created_at: r.get(o)?,
        channel: Channel::parse(&channel).unwrap_or(Channel::Email),
        state: r.get(o + 2)?,
        priority: Priority::from_rank(r.get(o + 3)?),
        assignee: r.get(o + 4)?,
        first_response_due: r.get(o + 5)?,
        resolution_due: r.get(o + 6)?,
        internal: r.get(o + 7)?,
    })
}

const TICKET_COLUMNS: &str =
    "created_at, channel, state, priority, assignee, first_response_due, resolution_due, internal";

fn message_step(r: &rusqlite::Row<'_>, offset: usize) -> rusqlite::Result<Step> {
    let d: String = r.get(offset)?;
    Ok(Step::Message {
        direction: Direction::parse(&d).unwrap_or(Direction::In),
        author: r.get(offset + 1)?,
        auto: r.get(offset + 2)?,
        at: r.get(offset + 3)?,
    })
}

/// Sorted ids cut where the gap to the next is wide: each run is read
/// with one range scan, and a wide gap would read tickets nobody asked
/// for.
fn runs(ids: &[i64]) -> Vec<&[i64]> {
    let mut out = Vec::new();
    let mut start = 0;
    for i in 1..=ids.len() {
        if i == ids.len() || ids[i] - ids[i - 1] > 16 {
            out.push(&ids[start..i]);
            start = i;
        }
    }
    out
}

/// The facts of every ticket with an id in `lo..=hi`, from three range
/// scans merged by ticket id (tickets, their events, their messages).
fn scan_histories(
    conn: &rusqlite::Connection,
    lo: i64,
    hi: i64,
    rules: &Rules<'_>,
    each: &mut dyn FnMut(i64, Channel, Vec<Fact>) -> Result<()>,
) -> Result<()> {
    let mut tickets = conn.prepare_cached(&format!(
        "SELECT id, {TICKET_COLUMNS} FROM tickets WHERE id BETWEEN ?1 AND ?2 ORDER BY id"
    ))?;
    let mut events = conn.prepare_cached(&format!(
        "SELECT ticket_id, at, agent, kind, old, new FROM events
         WHERE ticket_id BETWEEN ?1 AND ?2 AND kind IN {EVENT_KINDS} ORDER BY ticket_id, id"
    ))?;
    let mut messages = conn.prepare_cached(
        "SELECT ticket_id, direction, author, auto_kind IS NOT NULL, received_at FROM messages
         WHERE ticket_id BETWEEN ?1 AND ?2 ORDER BY ticket_id, received_at, id",
    )?;
    let mut ev = events
        .query_map([lo, hi], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                step_of_event(
                    r.get(1)?,
                    r.get(2)?,
                    &r.get::<_, String>(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ),
            ))
        })?
        .peekable();
    let mut ms = messages
        .query_map([lo, hi], |r| Ok((r.get::<_, i64>(0)?, message_step(r, 1)?)))?
        .peekable();
    let rows = tickets.query_map([lo, hi], |r| {
        Ok((r.get::<_, i64>(0)?, ticket_of_row(r, 1)?))
    })?;
    for row in rows {
        let (id, ticket) = row?;
        let mut steps = Vec::new();
        // Rows of ids with no ticket (none exist; a savepoint rolled one
        // back) are passed over.
        while let Some(next) = ev.next_if(|e| e.as_ref().map_or(true, |(t, _)| *t <= id)) {
            let (t, s) = next?;
            if t == id {
                steps.extend(s);
            }
        }
        let mut msgs = Vec::new();
        while let Some(next) = ms.next_if(|m| m.as_ref().map_or(true, |(t, _)| *t <= id)) {
            let (t, m) = next?;
            if t == id {
                msgs.push(m);
            }
        }
        let f = report::facts::facts(&ticket, steps, msgs, rules);
        each(id, ticket.channel, f)?;
    }
    Ok(())
}

impl Tx<'_> {
    pub(crate) fn mark_report_dirty(&self, ticket: i64) {
        self.report_dirty.borrow_mut().insert(ticket);
    }

    /// At commit: the changed tickets' facts recomputed, and their
    /// difference put into the rollups.
    pub(super) fn update_reports(&self) -> Result<()> {
        let ids = std::mem::take(&mut *self.report_dirty.borrow_mut());
        if ids.is_empty() {
            return Ok(());
        }
        if !self.settings.keep_reports {
            self.tx
                .prepare_cached("DELETE FROM store_meta WHERE key = ?")?
                .execute([DEFINITIONS_KEY])?;
            return Ok(());
        }
        let mut delta: HashMap<Key, Counters> = HashMap::new();
        let rules = rules(self.settings);
        // Tickets a batch touched are mostly new and close together: read
        // each run of nearby ids with one range scan per table.
        let ids: Vec<i64> = ids.into_iter().collect();
        for run in runs(&ids) {
            let (lo, hi) = (run[0], run[run.len() - 1]);
            let wanted: std::collections::HashSet<i64> = run.iter().copied().collect();
            let mut old: HashMap<i64, Vec<u8>> = HashMap::new();
            if run.iter().any(|id| !self.created.borrow().contains(id)) {
                let mut stmt = self.tx.prepare_cached(
                    "SELECT ticket_id, facts FROM report_tickets WHERE ticket_id BETWEEN ? AND ?",
                )?;
                let mut rows = stmt.query([lo, hi])?;
                while let Some(r) = rows.next()? {
                    let id: i64 = r.get(0)?;
                    if wanted.contains(&id) {
                        old.insert(id, r.get(1)?);
                    }
                }
            }
            let mut put = self.tx.prepare_cached(
                "INSERT OR REPLACE INTO report_tickets (ticket_id, facts) VALUES (?, ?)",
            )?;
            scan_histories(&self.tx, lo, hi, &rules, &mut |id, channel, new| {
                if !wanted.contains(&id) {
                    return Ok(());
                }
                let old = old
                    .get(&id)
                    .and_then(|b| report::facts::decode(b))
                    .unwrap_or_default();
                if old == new && !old.is_empty() {
                    return Ok(());
                }
                report::add_facts(&mut delta, channel, &old, -1);
                report::add_facts(&mut delta, channel, &new, 1);
                put.execute(params![id, report::facts::encode(&new)])?;
                Ok(())
            })?;
        }
        self.add_to_rollups(delta)
    }

    fn add_to_rollups(&self, delta: HashMap<Key, Counters>) -> Result<()> {
        for (key, c) in delta {
            if c.is_zero() {
                continue;
            }
            let keyp = params![
                key.day,
                key.channel.as_str(),
                key.agent,
                key.priority.rank()
            ];
            let old: Option<Vec<u8>> = self
                .tx
                .prepare_cached(
                    "SELECT data FROM report_rollup
                     WHERE day = ? AND channel = ? AND agent = ? AND priority = ?",
                )?
                .query_row(keyp, |r| r.get(0))
                .optional()?;
            if c.backlog != 0 || c.waiting_reply != 0 || c.waiting_solve != 0 {
                self.tx
                    .prepare_cached(
                        "INSERT INTO report_totals
                         (channel, agent, priority, backlog, waiting_reply, waiting_solve)
                         VALUES (?, ?, ?, ?, ?, ?)
                         ON CONFLICT (channel, agent, priority) DO UPDATE SET
                           backlog = backlog + excluded.backlog,
                           waiting_reply = waiting_reply + excluded.waiting_reply,
                           waiting_solve = waiting_solve + excluded.waiting_solve",
                    )?
                    .execute(params![
                        key.channel.as_str(),
                        key.agent,
                        key.priority.rank(),
                        c.backlog,
                        c.waiting_reply,
                        c.waiting_solve
                    ])?;
            }
            let mut sum = old.and_then(|b| Counters::decode(&b)).unwrap_or_default();
            sum.add(&c, 1);
            if sum.is_zero() {
                self.tx
                    .prepare_cached(
                        "DELETE FROM report_rollup
                         WHERE day = ? AND channel = ? AND agent = ? AND priority = ?",
                    )?
                    .execute(keyp)?;
            } else {
                self.tx
                    .prepare_cached(
                        "INSERT OR REPLACE INTO report_rollup
                         (day, channel, agent, priority, backlog, waiting_reply, waiting_solve, data)
                         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    )?
                    .execute(params![
                        key.day,
                        key.channel.as_str(),
                        key.agent,
                        key.priority.rank(),
                        sum.backlog,
                        sum.waiting_reply,
                        sum.waiting_solve,
                        sum.encode()
                    ])?;
            }
        }
        Ok(())
    }

    fn set_meta(&self, key: &str, value: &str) -> Result<()> {
        self.tx
            .prepare_cached("INSERT OR REPLACE INTO store_meta (key, value) VALUES (?, ?)")?
            .execute([key, value])?;
        Ok(())
    }
}

/// Every ticket's facts recomputed: their sums by rollup key, and each
/// ticket's own.
pub type Recomputed = (HashMap<Key, Counters>, Vec<(i64, Vec<Fact>)>);

/// (first day, data version, backlog by channel, agent and priority).
pub(super) type Carry = (i32, i64, Vec<(Channel, String, Priority, i64)>);

impl Store {
    fn meta(&self, key: &str) -> Result<Option<String>> {
        Ok(self
            .conn
            .prepare_cached("SELECT value FROM store_meta WHERE key = ?")?
            .query_row([key], |r| r.get(0))
            .optional()?)
    }

    /// Whether the rollups can be read as they are.
    pub fn rollup_state(&self) -> Result<RollupState> {
        let zone = self.meta(ZONE_KEY)?;
        let defs = self.meta(DEFINITIONS_KEY)?;
        let want_zone = self.settings.zone.name();
        Ok(match (zone, defs) {
            (Some(z), Some(d)) if z == want_zone && d == report::DEFINITIONS.to_string() => {
                RollupState::Current
            }
            (Some(z), Some(_)) if z != want_zone => RollupState::Stale {
                reason: format!("they were kept in {z}, the team's zone is now {want_zone}"),
            },
            (Some(_), Some(_)) => RollupState::Stale {
                reason: "the definitions changed with this version".into(),
            },
            _ => RollupState::Stale {
                reason: "they were never built for this store".into(),
            },
        })
    }

    /// A store without tickets starts with current (empty) rollups.
    pub(super) fn init_rollups(&mut self) -> Result<()> {
        if self.meta(DEFINITIONS_KEY)?.is_some() {
            return Ok(());
        }
        let tx = self.transaction()?;
        let any: bool = tx
            .tx
            .query_row("SELECT EXISTS (SELECT 1 FROM tickets)", [], |r| r.get(0))?;
        if !any {
            tx.set_meta(ZONE_KEY, &tx.settings.zone.name())?;
            tx.set_meta(DEFINITIONS_KEY, &report::DEFINITIONS.to_string())?;
        }
        tx.tx.commit()?;
        Ok(())
    }

    /// Every ticket's facts recomputed from its history in three scans
    /// (tickets, their events, their messages), summed: the brute force
    /// the rollups must equal. Returns the sums by rollup key and each
    /// ticket's facts.
    pub fn recompute_facts(&self) -> Result<Recomputed> {
        let rules = rules(&self.settings);
        let mut sums: HashMap<Key, Counters> = HashMap::new();
        let mut all = Vec::new();
        scan_histories(
            &self.conn,
            i64::MIN,
            i64::MAX,
            &rules,
            &mut |id, channel, f| {
                report::add_facts(&mut sums, channel, &f, 1);
                all.push((id, f));
                Ok(())
            },
        )?;
        Ok((sums, all))
    }

    /// Rebuilds every ticket's facts and the rollups from the history, in
    /// the team's zone and this version's definitions. One transaction:
    /// readers see the old figures until it commits.
    pub fn rebuild_reports(&mut self) -> Result<usize> {
        let (sums, all) = self.recompute_facts()?;
        let tx = self.transaction()?;
        tx.tx.execute_batch(
            "DELETE FROM report_rollup; DELETE FROM report_tickets; DELETE FROM report_totals;",
        )?;
        {
            let mut put = tx
                .tx
                .prepare("INSERT INTO report_tickets (ticket_id, facts) VALUES (?, ?)")?;
            for (id, f) in &all {
                put.execute(params![id, report::facts::encode(f)])?;
            }
        }
        tx.add_to_rollups(sums)?;
        tx.set_meta(ZONE_KEY, &tx.settings.zone.name())?;
        tx.set_meta(DEFINITIONS_KEY, &report::DEFINITIONS.to_string())?;
        // Facts marked while rebuilding are already in.
        tx.report_dirty.borrow_mut().clear();
        tx.tx.commit()?;
        Ok(all.len())
    }

    /// Hands each rollup row of local days `first..=last` to `each`, read
    /// in place (a year is tens of thousands of rows; none is kept).
    pub fn each_rollup(
        &self,
        first: i32,
        last: i32,
        each: &mut dyn FnMut(&Key, &Counters),
    ) -> Result<usize> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT day, channel, agent, priority, data FROM report_rollup
             WHERE day BETWEEN ? AND ?",
        )?;
        let mut rows = stmt.query([first, last])?;
        let mut counters = Counters::default();
        let mut key = Key {
            day: 0,
            channel: Channel::Email,
            agent: String::new(),
            priority: Priority::Normal,
        };
        let mut n = 0;
        while let Some(r) = rows.next()? {
            let data = r.get_ref(4)?.as_blob().unwrap_or_default();
            if !counters.decode_into(data) {
                return Err(Error::Other(format!(
                    "a report rollup row (day {}) cannot be read; run `echodesk report rebuild`",
                    r.get::<_, i64>(0)?
                )));
            }
            key.day = r.get(0)?;
            key.channel = Channel::parse(r.get_ref(1)?.as_str().unwrap_or_default())
                .unwrap_or(Channel::Email);
            key.agent.clear();
            key.agent
                .push_str(r.get_ref(2)?.as_str().unwrap_or_default());
            key.priority = Priority::from_rank(r.get(3)?);
            each(&key, &counters);
            n += 1;
        }
        Ok(n)
    }

    /// The backlog carried into day `first`: (channel, agent, priority,
    /// open tickets) summed over every day before it.
    pub fn backlog_before(&self, first: i32) -> Result<Vec<(Channel, String, Priority, i64)>> {
        // A dashboard asks twice in a row: the answer holds until the
        // store changes.
        // Another connection's commit moves data_version, this one's
        // total_changes.
        let version = self.data_version()? ^ ((self.total_changes() as i64) << 32);
        if let Some((f, v, rows)) = &*self.carry.borrow() {
            if *f == first && *v == version {
                return Ok(rows.clone());
            }
        }
        // The days before `first`, or (for a recent period, fewer rows)
        // the totals less the days from `first` on.
        let (min, max): (Option<i32>, Option<i32>) =
            self.conn
                .query_row("SELECT min(day), max(day) FROM report_rollup", [], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })?;
        let from_totals = matches!((min, max), (Some(lo), Some(hi)) if first - lo > hi - first);
        let rows = self.carried(first, from_totals)?;
        *self.carry.borrow_mut() = Some((first, version, rows.clone()));
        Ok(rows)
    }

    /// [`Store::backlog_before`] summed over the days before `first`, or
    /// `from_totals`: the totals less the days from `first` on. Both are
    /// exact; the benchmark and the tests hold them equal.
    pub fn carried(
        &self,
        first: i32,
        from_totals: bool,
    ) -> Result<Vec<(Channel, String, Priority, i64)>> {
        // Summed here rather than by GROUP BY: no sorter over a year of
        // rows, and rows that carry nothing are passed over. Keyed by
        // (channel, priority) and then the agent looked up by &str:
        // nothing is allocated for a row whose key was seen before.
        let mut sums: HashMap<(Channel, i64), HashMap<String, i64>> = HashMap::new();
        let sql = if from_totals {
            "SELECT channel, agent, priority, backlog FROM report_totals WHERE backlog != 0
             UNION ALL
             SELECT channel, agent, priority, -backlog FROM report_rollup
             INDEXED BY report_rollup_carry WHERE day >= ? AND backlog != 0"
        } else {
            "SELECT channel, agent, priority, backlog FROM report_rollup
             INDEXED BY report_rollup_carry WHERE day < ? AND backlog != 0"
        };
        {
            let mut stmt = self.conn.prepare_cached(sql)?;
            let mut rows = stmt.query([first])?;
            while let Some(r) = rows.next()? {
                let n: i64 = r.get(3)?;
                let c = Channel::parse(r.get_ref(0)?.as_str().unwrap_or_default())
                    .unwrap_or(Channel::Email);
                let a = r.get_ref(1)?.as_str().unwrap_or_default();
                let p: i64 = r.get(2)?;
                let agents = sums.entry((c, p)).or_default();
                match agents.get_mut(a) {
                    Some(v) => *v += n,
                    None => {
                        agents.insert(a.to_string(), n);
                    }
                }
            }
        }
        let rows: Vec<(Channel, String, Priority, i64)> = sums
            .into_iter()
            .flat_map(|((c, p), agents)| {
                agents
                    .into_iter()
                    .filter(|(_, n)| *n != 0)
                    .map(move |(a, n)| (c, a, Priority::from_rank(p), n))
            })
            .collect();
        Ok(rows)
    }

    /// The stored facts of these tickets, with their channels (for
    /// reports over a query).
    pub fn facts_of(&self, ids: &[i64]) -> Result<Vec<(i64, Channel, Vec<Fact>)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT t.channel, r.facts FROM tickets t JOIN report_tickets r ON r.ticket_id = t.id
             WHERE t.id = ?",
        )?;
        let mut out = Vec::with_capacity(ids.len());
        for &id in ids {
            let row: Option<(String, Vec<u8>)> = stmt
                .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            if let Some((c, b)) = row {
                let facts = report::facts::decode(&b).ok_or_else(|| {
                    Error::Other(format!(
                        "the report facts of ticket #{id} cannot be read; run `echodesk report rebuild`"
                    ))
                })?;
                out.push((id, Channel::parse(&c).unwrap_or(Channel::Email), facts));
            }
        }
        Ok(out)
    }
}
