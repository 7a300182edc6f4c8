//! Turning a parsed [`Query`] into SQL, and windowed (keyset) listing.
//!
//! A page never uses OFFSET: the cursor is the sort key of the last row
//! shown, so page 10,000 costs what page 1 costs.

use std::sync::{Arc, Mutex};

use rusqlite::functions::FunctionFlags;
use rusqlite::types::Value;
use rusqlite::OptionalExtension;
use serde::Serialize;

use super::search_sql::*;
use super::tickets::{summary_from_row, SUMMARY_SELECT};
use super::Store;
use crate::error::{Error, Result};
use crate::model::TicketSummary;
use crate::query::{Query, Sort};

/// Who is asking and when: `assignee:me` and `after:7d` depend on it.
#[derive(Debug, Clone)]
pub struct SearchContext {
    pub me: String,
    pub now: i64,
}

/// Where a page ends: the sort key of its last row. Opaque to callers; its
/// string form (`Display`/`parse`) is what scripts pass back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageCursor(Vec<i64>);

impl std::fmt::Display for PageCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self.0.iter().map(i64::to_string).collect();
        f.write_str(&parts.join("."))
    }
}

impl std::str::FromStr for PageCursor {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        s.split('.')
            .map(|p| p.parse::<i64>())
            .collect::<std::result::Result<Vec<_>, _>>()
            .map(PageCursor)
            .map_err(|_| {
                Error::invalid(
                    "page cursor",
                    s,
                    "expected the next_cursor of a previous page",
                )
            })
    }
}

impl PageCursor {
    /// The cursor just after `t` in `sort` order.
    pub fn of(sort: Sort, t: &TicketSummary) -> PageCursor {
        PageCursor(cursor_of(sort, t))
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Page {
    pub tickets: Vec<TicketSummary>,
    #[serde(serialize_with = "ser_cursor")]
    pub next_cursor: Option<PageCursor>,
}

fn ser_cursor<S: serde::Serializer>(
    c: &Option<PageCursor>,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    match c {
        Some(c) => s.serialize_some(&c.to_string()),
        None => s.serialize_none(),
    }
}

/// The tickets whose search documents match one FTS expression: a bitset
/// over ticket ids, made in one pass over the hits.
///
/// One pass gives the count, and `echodesk_hit(t.id)` then tests
/// membership for each row that SQLite walks in an index, with no table
/// lookup. Before, a page built a temporary b-tree of all hits (~0.3 µs a
/// hit), and a count with filters looked up every hit's row.
pub(super) struct HitSet {
    expr: String,
    /// (data_version, total_changes) when it was made: any commit, by this
    /// connection or another, makes it stale.
    version: (i64, u64),
    count: i64,
    bits: Vec<u64>,
}

impl HitSet {
    fn contains(&self, id: i64) -> bool {
        usize::try_from(id).is_ok_and(|i| {
            self.bits
                .get(i / 64)
                .is_some_and(|w| w & (1u64 << (i % 64)) != 0)
        })
    }
}

/// The last hit set, shared with the SQL function.
pub(super) type HitSlot = Arc<Mutex<Option<HitSet>>>;

/// `echodesk_hit(id)`: is ticket `id` in the current hit set?
pub(super) fn register_hit_function(conn: &rusqlite::Connection, slot: &HitSlot) -> Result<()> {
    let slot = Arc::clone(slot);
    conn.create_scalar_function(
        "echodesk_hit",
        1,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        move |ctx| {
            let id: i64 = ctx.get(0)?;
            let guard = slot.lock().unwrap_or_else(|p| p.into_inner());
            Ok(guard.as_ref().is_some_and(|h| h.contains(id)))
        },
    )?;
    Ok(())
}

impl Store {
    /// Checks that a query can run here (e.g. its states exist) without
    /// running it.
    pub fn check(&self, q: &Query, ctx: &SearchContext) -> Result<()> {
        self.compile(q, ctx).map(|_| ())
    }

    /// How many tickets match.
    pub fn count(&self, q: &Query, ctx: &SearchContext) -> Result<i64> {
        let mut c = self.compile_with(q, ctx, Mode::Count)?;
        if let Some(expr) = &c.fts_text {
            let hits = self.fts_hits(expr)?;
            if c.fts_only.is_some() {
                // Every search document belongs to an existing ticket.
                return Ok(hits);
            }
            // Driving from the hits costs a row lookup each (~0.4 µs);
            // testing membership while SQLite walks the filters' own index
            // costs ~0.05 µs a row of that index. Past a tenth of the
            // tickets, the walk is the cheaper bet.
            if hits.saturating_mul(10) > self.max_ticket_id()? {
                c = self.compile_with(q, ctx, Mode::CountDense)?;
            }
        }
        let sql = format!("SELECT count(*) FROM tickets t WHERE {}", c.where_sql);
        Ok(self
            .conn
            .prepare_cached(&sql)?
            .query_row(rusqlite::params_from_iter(c.params), |r| r.get(0))?)
    }

    /// One page of matching tickets in the query's order, starting after
    /// `after` (the previous page's `next_cursor`).
    pub fn search(
        &self,
        q: &Query,
        ctx: &SearchContext,
        after: Option<&PageCursor>,
        limit: usize,
    ) -> Result<Page> {
        if limit > MAX_PAGE {
            return Err(Error::invalid(
                "page size",
                limit.to_string(),
                format!("a page holds at most {MAX_PAGE} tickets; page on with next_cursor (--after), or use --all"),
            ));
        }
        let mut c = self.compile(q, ctx)?;
        if let Some(expr) = &c.fts_text {
            let hits = self.fts_hits(expr)?;
            // Walking costs about 50·N/hits index steps; sorting costs a
            // row lookup per hit. Walking wins once hits² > ~12·N.
            let n = self.max_ticket_id()?;
            if hits.saturating_mul(hits) > n.saturating_mul(DENSE_FACTOR) {
                c = self.compile_with(q, ctx, Mode::PageDense)?;
            }
        }
        let (keys, desc) = sort_keys(q.sort);
        if let Some(cur) = after {
            if cur.0.len() != keys.len() {
                return Err(Error::invalid(
                    "page cursor",
                    cur.to_string(),
                    format!("it belongs to another sort order than {}", q.sort.as_str()),
                ));
            }
            let lhs = format!("({})", keys.join(", "));
            let rhs = format!("({})", vec!["?"; keys.len()].join(", "));
            c.where_sql = format!(
                "{} AND {lhs} {} {rhs}",
                c.where_sql,
                if desc { "<" } else { ">" }
            );
            c.params.extend(cur.0.iter().map(|v| Value::from(*v)));
        }
        let sql = page_sql(&c.where_sql, keys, desc, limit);
        let tickets: Vec<TicketSummary> = self
            .conn
            .prepare_cached(&sql)?
            .query_map(rusqlite::params_from_iter(c.params), summary_from_row)?
            .collect::<rusqlite::Result<_>>()?;
        let next_cursor = (tickets.len() == limit && limit > 0)
            .then(|| tickets.last().map(|t| PageCursor(cursor_of(q.sort, t))))
            .flatten();
        Ok(Page {
            tickets,
            next_cursor,
        })
    }

    /// The current version of each of these tickets (missing ones left out).
    pub fn ticket_versions(&self, ids: &[i64]) -> Result<std::collections::HashMap<i64, i64>> {
        let mut out = std::collections::HashMap::with_capacity(ids.len());
        let mut st = self
            .conn
            .prepare_cached("SELECT version FROM tickets WHERE id = ?")?;
        for id in ids {
            if let Some(v) = st.query_row([id], |r| r.get(0)).optional()? {
                out.insert(*id, v);
            }
        }
        Ok(out)
    }

    /// The ids of up to `limit` matching tickets, in order (for "select
    /// all in this view").
    pub fn search_ids(&self, q: &Query, ctx: &SearchContext, limit: usize) -> Result<Vec<i64>> {
        let c = self.compile(q, ctx)?;
        let (keys, desc) = sort_keys(q.sort);
        let dir = if desc { "DESC" } else { "ASC" };
        let order: Vec<String> = keys.iter().map(|k| format!("{k} {dir}")).collect();
        let sql = format!(
            "SELECT t.id FROM tickets t WHERE {} ORDER BY {} LIMIT {limit}",
            c.where_sql,
            order.join(", ")
        );
        let ids = self
            .conn
            .prepare_cached(&sql)?
            .query_map(rusqlite::params_from_iter(c.params), |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(ids)
    }

    fn max_ticket_id(&self) -> Result<i64> {
        Ok(self
            .conn
            .prepare_cached("SELECT coalesce(max(id), 0) FROM tickets")?
            .query_row([], |r| r.get(0))?)
    }

    /// How many tickets' documents match an FTS expression, making that
    /// expression's hit set the one `echodesk_hit()` tests. A search asks
    /// for the page and then for the total: the second call, and the next
    /// page, reuse the set until any write, ours or another process's.
    fn fts_hits(&self, expr: &str) -> Result<i64> {
        let version = (self.data_version()?, self.conn.total_changes());
        let mut slot = self.hits.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(h) = slot.as_ref() {
            if h.expr == expr && h.version == version {
                return Ok(h.count);
            }
        }
        *slot = None;
        let mut bits: Vec<u64> = Vec::new();
        let mut count = 0;
        let mut stmt = self
            .conn
            .prepare_cached("SELECT rowid FROM search.tickets_fts WHERE tickets_fts MATCH ?")?;
        let mut rows = stmt.query([expr])?;
        while let Some(r) = rows.next()? {
            let Ok(i) = usize::try_from(r.get::<_, i64>(0)?) else {
                continue;
            };
            if i / 64 >= bits.len() {
                bits.resize(i / 64 + 1, 0);
            }
            bits[i / 64] |= 1u64 << (i % 64);
            count += 1;
        }
        *slot = Some(HitSet {
            expr: expr.to_string(),
            version,
            count,
            bits,
        });
        Ok(count)
    }

    /// Drops the cached hit set, so the next search starts cold (for
    /// benchmarks that must not time a cache).
    pub fn forget_search_cache(&self) {
        *self.hits.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// The query plan SQLite picks for a page of `q`; for benchmarks and
    /// debugging slow views.
    pub fn explain(&self, q: &Query, ctx: &SearchContext) -> Result<Vec<String>> {
        let c = self.compile(q, ctx)?;
        let (keys, desc) = sort_keys(q.sort);
        let sql = format!(
            "EXPLAIN QUERY PLAN {}",
            page_sql(&c.where_sql, keys, desc, 50)
        );
        let rows = self
            .conn
            .prepare(&sql)?
            .query_map(rusqlite::params_from_iter(c.params), |r| {
                r.get::<_, String>(3)
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }
}

/// The most tickets one page may hold.
pub const MAX_PAGE: usize = 100_000;

/// Picks the page's ids using only the sort keys, then decorates just those
/// rows: the per-row subqueries (tags, message count) must not run for
/// every candidate a sort has to look at.
fn page_sql(where_sql: &str, keys: &[&str], desc: bool, limit: usize) -> String {
    let dir = if desc { "DESC" } else { "ASC" };
    let order: Vec<String> = keys.iter().map(|k| format!("{k} {dir}")).collect();
    let order = order.join(", ");
    format!(
        "{SUMMARY_SELECT} WHERE t.id IN (SELECT t.id FROM tickets t WHERE {where_sql} \
         ORDER BY {order} LIMIT {limit}) ORDER BY {order}"
    )
}
fn sort_keys(s: Sort) -> (&'static [&'static str], bool) {
    match s {
        Sort::UpdatedDesc => (&["t.updated_at", "t.id"], true),
        Sort::UpdatedAsc => (&["t.updated_at", "t.id"], false),
        Sort::CreatedDesc => (&["t.created_at", "t.id"], true),
        Sort::CreatedAsc => (&["t.created_at", "t.id"], false),
        Sort::PriorityDesc => (&["t.priority", "t.updated_at", "t.id"], true),
        Sort::PriorityAsc => (&["t.priority", "t.updated_at", "t.id"], false),
        Sort::IdDesc => (&["t.id"], true),
        Sort::IdAsc => (&["t.id"], false),
    }
}

fn cursor_of(s: Sort, t: &TicketSummary) -> Vec<i64> {
    match s {
        Sort::UpdatedDesc | Sort::UpdatedAsc => vec![t.updated_at, t.id],
        Sort::CreatedDesc | Sort::CreatedAsc => vec![t.created_at, t.id],
        Sort::PriorityDesc | Sort::PriorityAsc => vec![t.priority.rank(), t.updated_at, t.id],
        Sort::IdDesc | Sort::IdAsc => vec![t.id],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inbound::Inbound;
    use crate::ingest::Ingest;
    use crate::store::Settings;

    fn mail(i: i64, body: &str) -> Inbound {
        let mut m = Inbound::test_email(
            &format!("p{i}"),
            &format!("c{i}@example.com"),
            &format!("case {i}"),
        );
        m.body_text = body.into();
        m.received_at = 1_000 + i;
        m
    }

    fn ids_of_all_pages(store: &Store, q: &str, ctx: &SearchContext) -> Vec<i64> {
        let q = crate::query::parse(q).unwrap();
        let mut out = Vec::new();
        let mut cursor = None;
        loop {
            let page = store.search(&q, ctx, cursor.as_ref(), 7).unwrap();
            out.extend(page.tickets.iter().map(|t| t.id));
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => return out,
            }
        }
    }

    /// 45 of 60 tickets say "widget": dense enough for the hit-set walk in
    /// pages and in counts with filters. The answers must equal what a
    /// plain scan says.
    #[test]
    fn dense_text_pages_and_counts_agree_with_a_scan() {
        let mut store = Store::open_in_memory(Settings::default()).unwrap();
        let ingest = Ingest::new(store.settings());
        let tx = store.transaction().unwrap();
        for i in 1..=60 {
            let body = if i % 4 == 0 {
                "a gadget"
            } else {
                "my widget broke"
            };
            ingest.ingest(&tx, &mail(i, body)).unwrap();
        }
        // Closing touches the ticket: the closed ones are the newest.
        tx.set_clock(Some(5_000));
        for id in (1..=60).filter(|i| i % 3 == 0) {
            tx.set_state(id, "closed", "alice", None).unwrap();
        }
        tx.commit().unwrap();
        let ctx = SearchContext {
            me: "alice".into(),
            now: 10_000,
        };
        let count =
            |store: &Store, q: &str| store.count(&crate::query::parse(q).unwrap(), &ctx).unwrap();
        let widget: Vec<i64> = (1..=60).filter(|i| i % 4 != 0).collect();
        let open_widget: Vec<i64> = widget.iter().copied().filter(|i| i % 3 != 0).collect();
        assert_eq!(count(&store, "widget"), 45);
        assert_eq!(count(&store, "widget is:open"), open_widget.len() as i64);
        assert_eq!(
            count(&store, "widget -state:closed"),
            open_widget.len() as i64
        );
        assert_eq!(count(&store, "widget is:closed"), 15);

        // Newest first, every hit exactly once across the pages.
        let closed = widget.iter().rev().filter(|i| *i % 3 == 0);
        let newest_first: Vec<i64> = closed
            .chain(widget.iter().rev().filter(|i| *i % 3 != 0))
            .copied()
            .collect();
        assert_eq!(ids_of_all_pages(&store, "widget", &ctx), newest_first);
        let mut open_newest: Vec<i64> = open_widget.clone();
        open_newest.reverse();
        assert_eq!(
            ids_of_all_pages(&store, "widget is:open", &ctx),
            open_newest
        );

        // A commit makes the cached hit set stale.
        let tx = store.transaction().unwrap();
        let mut late = mail(61, "widget again");
        late.received_at = 6_000;
        ingest.ingest(&tx, &late).unwrap();
        tx.commit().unwrap();
        assert_eq!(count(&store, "widget"), 46);
        assert_eq!(ids_of_all_pages(&store, "widget", &ctx)[0], 61);
    }
}
