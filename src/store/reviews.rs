//! Quality review: review tasks (a sampled solved ticket, its agent and
//! period) and their scores on the rubric's criteria.

use rusqlite::{params, OptionalExtension};

use super::{Store, Tx};
use crate::error::{Error, Result};

/// A review task, scored or not.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Review {
    pub id: i64,
    pub ticket: i64,
    /// The agent whose work is reviewed (who solved the ticket).
    pub agent: String,
    pub period: String,
    pub created_at: i64,
    pub reviewer: Option<String>,
    pub scored_at: Option<i64>,
    pub comment: Option<String>,
    /// The weighted score, 0–1, once every criterion is scored.
    pub score: Option<f64>,
    /// (criterion, score) by criterion name.
    pub scores: Vec<(String, u8)>,
}

/// The rubric's weighting of a review's scores (0–1), once complete.
pub type Weigh<'a> = dyn Fn(&[(String, u8)]) -> Option<f64> + 'a;

const COLUMNS: &str =
    "id, ticket_id, agent, period, created_at, reviewer, scored_at, comment, score";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Review> {
    Ok(Review {
        id: r.get(0)?,
        ticket: r.get(1)?,
        agent: r.get(2)?,
        period: r.get(3)?,
        created_at: r.get(4)?,
        reviewer: r.get(5)?,
        scored_at: r.get(6)?,
        comment: r.get(7)?,
        score: r.get(8)?,
        scores: Vec::new(),
    })
}

fn scores_of(conn: &rusqlite::Connection, review: &mut Review) -> Result<()> {
    let mut stmt = conn.prepare_cached(
        "SELECT criterion, score FROM review_scores WHERE review_id = ? ORDER BY criterion",
    )?;
    review.scores = stmt
        .query_map([review.id], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(())
}

impl Store {
    /// Tickets solved (and still solved or closed) in `from..to`, with the
    /// agent who solved them, by ticket id.
    pub fn solved_between(&self, from: i64, to: i64) -> Result<Vec<(i64, String)>> {
        let wf = &self.settings.workflow;
        let mut stmt = self.conn.prepare_cached(
            "SELECT t.id, (SELECT e.agent FROM events e WHERE e.ticket_id = t.id AND e.kind = 'state'
                           AND e.new = ?3 ORDER BY e.id DESC LIMIT 1)
             FROM tickets t INDEXED BY tickets_solved
             WHERE t.solved_at IS NOT NULL AND t.solved_at >= ?1 AND t.solved_at < ?2
               AND t.internal = 0 AND t.state != ?4
             ORDER BY t.id",
        )?;
        let rows = stmt.query_map(params![from, to, wf.solved_state, wf.spam_state], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, Option<String>>(1)?))
        })?;
        let mut out = Vec::new();
        for r in rows {
            if let (id, Some(agent)) = r? {
                out.push((id, agent));
            }
        }
        Ok(out)
    }

    /// Reviews, newest first, of a period and/or an agent.
    pub fn reviews(&self, period: Option<&str>, agent: Option<&str>) -> Result<Vec<Review>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM reviews WHERE (?1 IS NULL OR period = ?1) AND (?2 IS NULL OR agent = ?2)
             ORDER BY period DESC, agent, ticket_id"
        ))?;
        let mut out: Vec<Review> = stmt
            .query_map(params![period, agent], row)?
            .collect::<rusqlite::Result<_>>()?;
        for r in &mut out {
            scores_of(&self.conn, r)?;
        }
        Ok(out)
    }

    pub fn review(&self, id: i64) -> Result<Option<Review>> {
        let mut r = self
            .conn
            .prepare_cached(&format!("SELECT {COLUMNS} FROM reviews WHERE id = ?"))?
            .query_row([id], row)
            .optional()?;
        if let Some(r) = r.as_mut() {
            scores_of(&self.conn, r)?;
        }
        Ok(r)
    }
}

impl Tx<'_> {
    /// A review task for `ticket` in `period`; false if it already had one.
    pub fn add_review(&self, ticket: i64, agent: &str, period: &str) -> Result<bool> {
        let n = self
            .tx
            .prepare_cached(
                "INSERT OR IGNORE INTO reviews (ticket_id, agent, period, created_at)
                 VALUES (?, ?, ?, ?)",
            )?
            .execute(params![ticket, agent, period, self.now()])?;
        Ok(n > 0)
    }

    /// Records scores (replacing earlier ones for the same criteria), the
    /// comment if given, and the weighted score once all are in.
    pub fn score_review(
        &self,
        id: i64,
        reviewer: &str,
        scores: &[(String, u8)],
        comment: Option<&str>,
        weighted: &Weigh<'_>,
    ) -> Result<()> {
        let ticket: i64 = self
            .tx
            .prepare_cached("SELECT ticket_id FROM reviews WHERE id = ?")?
            .query_row([id], |r| r.get(0))
            .optional()?
            .ok_or_else(|| Error::invalid("review", id.to_string(), "there is no such review"))?;
        for (c, s) in scores {
            self.tx
                .prepare_cached(
                    "INSERT INTO review_scores (review_id, criterion, score) VALUES (?, ?, ?)
                     ON CONFLICT (review_id, criterion) DO UPDATE SET score = excluded.score",
                )?
                .execute(params![id, c, s])?;
        }
        let all: Vec<(String, u8)> = self
            .tx
            .prepare_cached("SELECT criterion, score FROM review_scores WHERE review_id = ?")?
            .query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        self.tx
            .prepare_cached(
                "UPDATE reviews SET reviewer = ?, scored_at = ?, score = ?,
                 comment = coalesce(?, comment) WHERE id = ?",
            )?
            .execute(params![reviewer, self.now(), weighted(&all), comment, id])?;
        self.event(
            Some(ticket),
            reviewer,
            "review",
            None,
            Some(&id.to_string()),
        )?;
        Ok(())
    }
}
