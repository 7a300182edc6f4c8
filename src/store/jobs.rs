//! Bulk jobs: the list of target tickets is written when a job starts, and
//! each ticket's action commits together with its item turning `done`, so
//! a job interrupted at any point resumes with exactly the tickets left.

use rusqlite::{params, OptionalExtension};
use serde::Serialize;

use super::{Store, Tx};
use crate::error::{Error, Result};

#[derive(Debug, Clone, Serialize)]
pub struct Job {
    pub id: String,
    pub kind: String,
    /// The action's arguments as JSON, so a resumed job does the same.
    pub spec: serde_json::Value,
    pub agent: String,
    pub created_at: i64,
    pub finished_at: Option<i64>,
    pub total: i64,
    pub done: i64,
    pub failed: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct JobItem {
    pub seq: i64,
    /// The target: a ticket, or for `send` and schedules a customer.
    pub ticket_id: i64,
    /// A schedule's item: the asset the message is about.
    pub asset_id: Option<i64>,
    pub status: String,
    pub detail: Option<String>,
}

impl Tx<'_> {
    /// Starts a job over `tickets` (in this order).
    pub fn create_job(
        &self,
        id: &str,
        kind: &str,
        spec: &serde_json::Value,
        agent: &str,
        tickets: &[i64],
    ) -> Result<()> {
        let now = self.now();
        let n = self.tx.execute(
            "INSERT OR IGNORE INTO jobs (id, kind, spec, agent, created_at) VALUES (?, ?, ?, ?, ?)",
            params![id, kind, spec.to_string(), agent, now],
        )?;
        if n == 0 {
            return Err(Error::invalid("job id", id, "a job with this id exists"));
        }
        let mut stmt = self.tx.prepare_cached(
            "INSERT INTO job_items (job_id, seq, ticket_id, status, updated_at) VALUES (?, ?, ?, 'pending', ?)",
        )?;
        for (seq, t) in tickets.iter().enumerate() {
            stmt.execute(params![id, seq as i64, t, now])?;
        }
        Ok(())
    }

    /// Starts a schedule's run over customers and the assets the messages
    /// are about (in this order).
    pub fn create_care_job(
        &self,
        id: &str,
        spec: &serde_json::Value,
        agent: &str,
        targets: &[super::Recipient],
    ) -> Result<()> {
        let customers: Vec<i64> = targets.iter().map(|r| r.customer).collect();
        self.create_job(id, "schedule", spec, agent, &customers)?;
        let mut stmt = self
            .tx
            .prepare_cached("UPDATE job_items SET asset_id = ? WHERE job_id = ? AND seq = ?")?;
        for (seq, r) in targets.iter().enumerate() {
            if r.asset.is_some() {
                stmt.execute(params![r.asset, id, seq as i64])?;
            }
        }
        Ok(())
    }

    /// Claims a schedule's once-only key for a message about to be queued
    /// in this transaction; `false` if it was sent before.
    pub fn claim_care_key(
        &self,
        schedule: &str,
        key: &str,
        to: super::Recipient,
        slot: &str,
    ) -> Result<bool> {
        let n = self
            .tx
            .prepare_cached(
                "INSERT OR IGNORE INTO care_sent (schedule, key, customer_id, asset_id, slot, at)
                 VALUES (?, ?, ?, ?, ?, ?)",
            )?
            .execute(params![
                schedule,
                key,
                to.customer,
                to.asset,
                slot,
                self.now()
            ])?;
        Ok(n == 1)
    }

    pub fn set_care_ticket(&self, schedule: &str, key: &str, ticket: i64) -> Result<()> {
        self.tx
            .prepare_cached("UPDATE care_sent SET ticket_id = ? WHERE schedule = ? AND key = ?")?
            .execute(params![ticket, schedule, key])?;
        Ok(())
    }

    /// Records one ticket's outcome; with the action in the same transaction.
    pub fn finish_item(&self, job: &str, seq: i64, ok: bool, detail: Option<&str>) -> Result<()> {
        self.tx
            .prepare_cached(
                "UPDATE job_items SET status = ?, detail = ?, updated_at = ? WHERE job_id = ? AND seq = ?",
            )?
            .execute(params![
                if ok { "done" } else { "failed" },
                detail,
                self.now(),
                job,
                seq
            ])?;
        Ok(())
    }

    pub fn close_job(&self, job: &str) -> Result<()> {
        self.tx.execute(
            "UPDATE jobs SET finished_at = ? WHERE id = ? AND NOT EXISTS
               (SELECT 1 FROM job_items WHERE job_id = ? AND status = 'pending')",
            params![self.now(), job, job],
        )?;
        Ok(())
    }
}

impl Store {
    /// When a schedule's key was sent (its slot), if it was.
    pub fn care_sent(&self, schedule: &str, key: &str) -> Result<Option<String>> {
        Ok(self
            .conn
            .prepare_cached("SELECT slot FROM care_sent WHERE schedule = ? AND key = ?")?
            .query_row(params![schedule, key], |r| r.get(0))
            .optional()?)
    }

    /// A schedule's runs (its jobs), newest first.
    pub fn schedule_jobs(&self, schedule: &str) -> Result<Vec<Job>> {
        let prefix = format!("schedule:{schedule}:");
        let ids: Vec<String> = self
            .conn
            .prepare_cached(
                "SELECT id FROM jobs WHERE kind = 'schedule' AND substr(id, 1, ?) = ?
                 ORDER BY created_at DESC, id DESC",
            )?
            .query_map(params![prefix.len() as i64, prefix], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        let mut out = Vec::new();
        for id in ids {
            if let Some(j) = self.job(&id)? {
                out.push(j);
            }
        }
        Ok(out)
    }

    pub fn job(&self, id: &str) -> Result<Option<Job>> {
        Ok(self
            .conn
            .query_row(
                "SELECT id, kind, spec, agent, created_at, finished_at,
                   (SELECT count(*) FROM job_items WHERE job_id = j.id),
                   (SELECT count(*) FROM job_items WHERE job_id = j.id AND status = 'done'),
                   (SELECT count(*) FROM job_items WHERE job_id = j.id AND status = 'failed')
                 FROM jobs j WHERE id = ?",
                [id],
                |r| {
                    let spec: String = r.get(2)?;
                    Ok(Job {
                        id: r.get(0)?,
                        kind: r.get(1)?,
                        spec: serde_json::from_str(&spec).unwrap_or(serde_json::Value::Null),
                        agent: r.get(3)?,
                        created_at: r.get(4)?,
                        finished_at: r.get(5)?,
                        total: r.get(6)?,
                        done: r.get(7)?,
                        failed: r.get(8)?,
                    })
                },
            )
            .optional()?)
    }

    pub fn jobs(&self) -> Result<Vec<Job>> {
        let ids: Vec<String> = self
            .conn
            .prepare("SELECT id FROM jobs ORDER BY created_at DESC, id")?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        let mut out = Vec::new();
        for id in ids {
            if let Some(j) = self.job(&id)? {
                out.push(j);
            }
        }
        Ok(out)
    }

    /// The job's items, pending ones only unless `all`.
    pub fn job_items(&self, id: &str, all: bool) -> Result<Vec<JobItem>> {
        let rows = self
            .conn
            .prepare_cached(
                "SELECT seq, ticket_id, status, detail, asset_id FROM job_items
                 WHERE job_id = ? AND (? OR status = 'pending') ORDER BY seq",
            )?
            .query_map(params![id, all], |r| {
                Ok(JobItem {
                    seq: r.get(0)?,
                    ticket_id: r.get(1)?,
                    status: r.get(2)?,
                    detail: r.get(3)?,
                    asset_id: r.get(4)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Settings;

    #[test]
    fn items_finish_once_and_the_job_closes_when_none_is_pending() {
        let mut s = Store::open_in_memory(Settings::default()).unwrap();
        let tx = s.transaction().unwrap();
        tx.create_job(
            "j1",
            "state",
            &serde_json::json!({"state": "solved"}),
            "a",
            &[5, 7, 9],
        )
        .unwrap();
        assert!(tx
            .create_job("j1", "state", &serde_json::json!({}), "a", &[1])
            .is_err());
        tx.finish_item("j1", 0, true, None).unwrap();
        tx.finish_item("j1", 1, false, Some("illegal transition"))
            .unwrap();
        tx.close_job("j1").unwrap();
        tx.commit().unwrap();
        let pending = s.job_items("j1", false).unwrap();
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].ticket_id, 9);
        let j = s.job("j1").unwrap().unwrap();
        assert_eq!((j.total, j.done, j.failed, j.finished_at), (3, 1, 1, None));
        let tx = s.transaction().unwrap();
        tx.finish_item("j1", 2, true, None).unwrap();
        tx.close_job("j1").unwrap();
        tx.commit().unwrap();
        assert!(s.job("j1").unwrap().unwrap().finished_at.is_some());
    }
}
