//! What reports read beside the rollups' sums: the labels a report may
//! group tickets by (tags, state, policy, account, organisation, model)
//! and the SLA breaches open now.

use std::collections::HashMap;

use super::*;
use crate::report::figures::OpenBreaches;

/// What a report over tickets may group them by, beside the rollups' keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Label {
    Tag,
    State,
    Policy,
    /// The account the customer first wrote to.
    Account,
    /// The customer's organisation.
    Org,
    /// The model of the ticket's asset.
    Model,
}

impl Store {
    /// Each ticket's current tags, state or SLA policy, for grouping a
    /// report by them; a ticket without any is "-".
    pub fn ticket_labels(&self, ids: &[i64], label: Label) -> Result<HashMap<i64, Vec<String>>> {
        let wanted: std::collections::HashSet<i64> = ids.iter().copied().collect();
        let mut out: HashMap<i64, Vec<String>> = HashMap::with_capacity(ids.len());
        let sql = match label {
            Label::Tag => "SELECT ticket_id, tag FROM ticket_tags",
            Label::State => "SELECT id, state FROM tickets",
            Label::Policy => "SELECT id, sla_policy FROM tickets WHERE sla_policy IS NOT NULL",
            Label::Org => {
                "SELECT t.id, o.name FROM tickets t
                 JOIN customers c ON c.id = t.customer_id
                 JOIN orgs o ON o.id = c.org_id"
            }
            Label::Model => {
                "SELECT t.id, a.model FROM tickets t JOIN assets a ON a.id = t.asset_id"
            }
            Label::Account => {
                "SELECT ticket_id, account FROM messages WHERE direction = 'in'
                 ORDER BY ticket_id, received_at, id"
            }
        };
        let mut stmt = self.conn.prepare(sql)?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let id: i64 = r.get(0)?;
            if wanted.contains(&id) {
                let labels = out.entry(id).or_default();
                // One account a ticket: the first message's.
                if label != Label::Account || labels.is_empty() {
                    labels.push(r.get(1)?);
                }
            }
        }
        for id in ids {
            out.entry(*id).or_insert_with(|| vec!["-".into()]);
        }
        Ok(out)
    }

    /// Open tickets past an SLA target now: those whose deadline fell on
    /// an earlier day (summed from the rollups), and today's that have
    /// passed (from the partial indexes over waiting tickets).
    pub fn open_breaches(&self, now: i64) -> Result<Vec<OpenBreaches>> {
        if self.settings.sla.policies().next().is_none() {
            return Ok(Vec::new());
        }
        let zone = self.settings.zone;
        let today = zone.day(now);
        // Every deadline day's waiting tickets (the totals) less those of
        // today and later: a few rows instead of a year's.
        let (mut reply, mut solve): (i64, i64) = self.conn.query_row(
            "SELECT (SELECT coalesce(sum(waiting_reply), 0) FROM report_totals)
                  - (SELECT coalesce(sum(waiting_reply), 0) FROM report_rollup
                     INDEXED BY report_rollup_carry WHERE day >= ?1),
                    (SELECT coalesce(sum(waiting_solve), 0) FROM report_totals)
                  - (SELECT coalesce(sum(waiting_solve), 0) FROM report_rollup
                     INDEXED BY report_rollup_carry WHERE day >= ?1)",
            [today],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let open = &self.settings.workflow.open_states;
        let marks = vec!["?"; open.len()].join(", ");
        let mut params: Vec<rusqlite::types::Value> =
            vec![zone.day_start(today).into(), now.into()];
        params.extend(open.iter().map(|s| rusqlite::types::Value::from(s.clone())));
        for (index, due, waiting, n) in [
            (
                "tickets_waiting_reply",
                "first_response_due",
                "first_response_at",
                &mut reply,
            ),
            (
                "tickets_waiting_solve",
                "resolution_due",
                "solved_at",
                &mut solve,
            ),
        ] {
            let sql = format!(
                "SELECT count(*) FROM tickets INDEXED BY {index}
                 WHERE {waiting} IS NULL AND {due} IS NOT NULL AND {due} >= ?1 AND {due} < ?2
                   AND state IN ({marks})"
            );
            let today_n: i64 = self
                .conn
                .prepare_cached(&sql)?
                .query_row(rusqlite::params_from_iter(&params), |r| r.get(0))?;
            *n += today_n;
        }
        Ok(vec![OpenBreaches {
            policy: "all".into(),
            first_response: reply,
            resolution: solve,
        }])
    }

    /// [`Store::open_breaches`] per SLA policy, then "all": counted from
    /// the partial indexes over the waiting tickets (every overdue one is
    /// read, so only a report grouped by policy asks for it).
    pub fn open_breaches_by_policy(&self, now: i64) -> Result<Vec<OpenBreaches>> {
        if self.settings.sla.policies().next().is_none() {
            return Ok(Vec::new());
        }
        let open = &self.settings.workflow.open_states;
        let marks = vec!["?"; open.len()].join(", ");
        let mut params: Vec<rusqlite::types::Value> = vec![now.into()];
        params.extend(open.iter().map(|s| rusqlite::types::Value::from(s.clone())));
        let mut by: std::collections::BTreeMap<String, (i64, i64)> = self
            .settings
            .sla
            .policies()
            .map(|p| (p.name.clone(), (0, 0)))
            .collect();
        for (index, due, waiting, solve) in [
            (
                "tickets_waiting_reply",
                "first_response_due",
                "first_response_at",
                false,
            ),
            ("tickets_waiting_solve", "resolution_due", "solved_at", true),
        ] {
            let sql = format!(
                "SELECT coalesce(sla_policy, ''), count(*) FROM tickets INDEXED BY {index}
                 WHERE {waiting} IS NULL AND {due} IS NOT NULL AND {due} < ?1
                   AND state IN ({marks}) GROUP BY 1"
            );
            let mut stmt = self.conn.prepare_cached(&sql)?;
            let rows = stmt.query_map(rusqlite::params_from_iter(&params), |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
            })?;
            for row in rows {
                let (policy, n) = row?;
                let slot = by.entry(policy).or_default();
                if solve {
                    slot.1 += n;
                } else {
                    slot.0 += n;
                }
            }
        }
        let (reply, solve) = by.values().fold((0, 0), |(a, b), (r, s)| (a + r, b + s));
        let mut out: Vec<OpenBreaches> = by
            .into_iter()
            .map(|(policy, (first_response, resolution))| OpenBreaches {
                policy: if policy.is_empty() {
                    "(none)".into()
                } else {
                    policy
                },
                first_response,
                resolution,
            })
            .collect();
        out.push(OpenBreaches {
            policy: "all".into(),
            first_response: reply,
            resolution: solve,
        });
        Ok(out)
    }
}
