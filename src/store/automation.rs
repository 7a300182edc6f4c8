//! What the automation rules need from the store: the queue of customer
//! messages not yet seen by the rules, whether a ticket matches a query,
//! and when a customer last got an automatic reply.

use rusqlite::params;

use super::{SearchContext, Store, Tx};
use crate::error::Result;
use crate::query::Query;

/// A customer message waiting for the rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Queued {
    pub message_id: i64,
    pub ticket_id: i64,
    pub new_ticket: bool,
    /// A survey answer (for `on = "rating"` rules only).
    pub rating: bool,
}

/// `rule_queue.new_ticket`: a reply, a new ticket's first message, or a
/// survey answer.
const KIND_RATING: i64 = 2;

impl Tx<'_> {
    pub fn enqueue_for_rules(&self, message: i64, ticket: i64, new_ticket: bool) -> Result<()> {
        self.tx
            .prepare_cached(
                "INSERT OR IGNORE INTO rule_queue (message_id, ticket_id, new_ticket, queued_at)
                 VALUES (?, ?, ?, ?)",
            )?
            .execute(params![message, ticket, new_ticket, self.now()])?;
        Ok(())
    }

    /// Queues a survey answer for the `on = "rating"` rules.
    pub fn enqueue_rating_for_rules(&self, message: i64, ticket: i64) -> Result<()> {
        self.tx
            .prepare_cached(
                "INSERT OR IGNORE INTO rule_queue (message_id, ticket_id, new_ticket, queued_at)
                 VALUES (?, ?, ?, ?)",
            )?
            .execute(params![message, ticket, KIND_RATING, self.now()])?;
        Ok(())
    }

    /// Takes a message off the queue; false if another process already did.
    pub fn dequeue_for_rules(&self, message: i64) -> Result<bool> {
        let n = self
            .tx
            .prepare_cached("DELETE FROM rule_queue WHERE message_id = ?")?
            .execute([message])?;
        Ok(n > 0)
    }

    /// Records what a rule did, naming the rule (and the customer, so the
    /// auto-reply limit can find it).
    pub fn rule_event(
        &self,
        ticket: i64,
        customer: Option<i64>,
        rule: &str,
        kind: &str,
        new: &str,
    ) -> Result<()> {
        self.tx
            .prepare_cached(
                "INSERT INTO events (ticket_id, customer_id, at, agent, kind, new, rule)
                 VALUES (?, ?, ?, ?, ?, ?, ?)",
            )?
            .execute(params![
                ticket,
                customer,
                self.now(),
                format!("rule:{rule}"),
                kind,
                new,
                rule
            ])?;
        Ok(())
    }
}

impl Store {
    /// The oldest waiting messages, at most `limit`.
    pub fn rule_queue(&self, limit: usize) -> Result<Vec<Queued>> {
        let rows = self
            .conn
            .prepare_cached(
                "SELECT message_id, ticket_id, new_ticket FROM rule_queue ORDER BY message_id LIMIT ?",
            )?
            .query_map([limit as i64], |r| {
                let kind: i64 = r.get(2)?;
                Ok(Queued {
                    message_id: r.get(0)?,
                    ticket_id: r.get(1)?,
                    new_ticket: kind == 1,
                    rating: kind == KIND_RATING,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }
}

impl Tx<'_> {
    /// Did this customer get an automatic reply at or after `since`?
    pub fn auto_replied_since(&self, customer: i64, since: i64) -> Result<bool> {
        Ok(self
            .tx
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM events WHERE customer_id = ? AND kind = 'auto-reply' AND at >= ?)",
            )?
            .query_row(params![customer, since], |r| r.get(0))?)
    }
}

impl Store {
    /// Whether ticket `id` matches `q` (for rules and SLA policies).
    pub fn ticket_matches(&self, q: &Query, ctx: &SearchContext, id: i64) -> Result<bool> {
        let c = self.compile(q, ctx)?;
        let sql = format!(
            "SELECT EXISTS (SELECT 1 FROM tickets t WHERE ({}) AND t.id = ?)",
            c.where_sql
        );
        let mut params = c.params;
        params.push(id.into());
        Ok(self
            .conn
            .prepare_cached(&sql)?
            .query_row(rusqlite::params_from_iter(params), |r| r.get(0))?)
    }
}
