//! Tickets: creation, workflow changes, assignment, tags, priority, and the
//! audit events each change leaves.

use rusqlite::{params, OptionalExtension, Row};

use super::{Store, Tx};
use crate::error::{Error, Result};
use crate::model::{Channel, Event, Priority, TicketDetail, TicketSummary};

pub struct NewTicket<'a> {
    pub subject: &'a str,
    pub channel: Channel,
    pub customer_id: i64,
    pub at: i64,
    pub linked_ticket_id: Option<i64>,
}

/// The columns of a [`TicketSummary`], for every query that lists tickets.
pub(super) const SUMMARY_SELECT: &str = "SELECT t.id, t.subject, t.state, t.priority, t.channel,
    t.customer_id, c.name, t.assignee,
    (SELECT group_concat(tag, ',') FROM ticket_tags g WHERE g.ticket_id = t.id),
    t.created_at, t.updated_at, t.first_response_at, t.solved_at,
    (SELECT count(*) FROM messages m WHERE m.ticket_id = t.id), t.version,
    t.first_response_due, t.resolution_due
    FROM tickets t JOIN customers c ON c.id = t.customer_id";

pub(super) fn summary_from_row(r: &Row<'_>) -> rusqlite::Result<TicketSummary> {
    let channel: String = r.get(4)?;
    let tags: Option<String> = r.get(8)?;
    Ok(TicketSummary {
        id: r.get(0)?,
        subject: r.get(1)?,
        state: r.get(2)?,
        priority: Priority::from_rank(r.get(3)?),
        channel: Channel::parse(&channel).unwrap_or(Channel::Email),
        customer_id: r.get(5)?,
        customer_name: r.get(6)?,
        assignee: r.get(7)?,
        tags: tags
            .map(|t| t.split(',').map(str::to_string).collect())
            .unwrap_or_default(),
        created_at: r.get(9)?,
        updated_at: r.get(10)?,
        first_response_at: r.get(11)?,
        solved_at: r.get(12)?,
        message_count: r.get(13)?,
        version: r.get(14)?,
        first_response_due: r.get(15)?,
        resolution_due: r.get(16)?,
    })
}

/// What a change did, for the caller to report.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldChange {
    pub ticket: i64,
    pub old: Option<String>,
    pub new: Option<String>,
    pub changed: bool,
}

impl Tx<'_> {
    pub fn create_ticket(&self, t: &NewTicket<'_>, agent: &str) -> Result<i64> {
        let state = &self.settings.workflow.initial;
        let (policy, fr_due, res_due) = self
            .settings
            .sla
            .deadlines(Priority::Normal, t.channel, t.at)
            .map_or((None, None, None), |(p, a, b)| (Some(p), a, b));
        self.tx
            .prepare_cached(
                "INSERT INTO tickets (subject, state, channel, customer_id, created_at, updated_at,
                 linked_ticket_id, sla_policy, first_response_due, resolution_due)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )?
            .execute(params![
                t.subject,
                state,
                t.channel.as_str(),
                t.customer_id,
                t.at,
                t.at,
                t.linked_ticket_id,
                policy,
                fr_due,
                res_due
            ])?;
        let id = self.tx.last_insert_rowid();
        self.mark_created(id);
        self.event(Some(id), agent, "created", None, Some(state))?;
        Ok(id)
    }

    /// (state, version) of a ticket.
    pub fn ticket_state(&self, id: i64) -> Result<(String, i64)> {
        self.tx
            .prepare_cached("SELECT state, version FROM tickets WHERE id = ?")?
            .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?
            .ok_or(Error::TicketNotFound(id))
    }

    /// Fails with a conflict if the ticket is no longer at `expected`.
    pub fn expect_version(&self, id: i64, expected: Option<i64>) -> Result<()> {
        self.check_version(id, expected).map(|_| ())
    }

    fn check_version(&self, id: i64, expected: Option<i64>) -> Result<String> {
        let (state, version) = self.ticket_state(id)?;
        match expected {
            Some(e) if e != version => Err(Error::Conflict {
                id,
                expected: e,
                found: version,
            }),
            _ => Ok(state),
        }
    }

    /// Moves the ticket's last activity forward (never back).
    pub fn touch(&self, id: i64, at: i64) -> Result<()> {
        self.tx
            .prepare_cached(
                "UPDATE tickets SET updated_at = max(updated_at, ?), version = version + 1 WHERE id = ?",
            )?
            .execute([at, id])?;
        Ok(())
    }

    /// Changes the state after checking the workflow allows it.
    /// `expected_version` guards against overwriting someone else's change.
    pub fn set_state(
        &self,
        id: i64,
        to: &str,
        agent: &str,
        expected_version: Option<i64>,
    ) -> Result<FieldChange> {
        let from = self.check_version(id, expected_version)?;
        self.settings.workflow.check_transition(id, &from, to)?;
        self.apply_state(id, &from, to, agent)
    }

    /// Applies a state change the caller already decided is allowed (the
    /// automatic transitions).
    pub(crate) fn apply_state(
        &self,
        id: i64,
        from: &str,
        to: &str,
        agent: &str,
    ) -> Result<FieldChange> {
        if from == to {
            return Ok(FieldChange {
                ticket: id,
                old: Some(from.into()),
                new: Some(to.into()),
                changed: false,
            });
        }
        let solved =
            to == self.settings.workflow.solved_state || self.settings.workflow.is_final(to);
        self.tx
            .prepare_cached(
                "UPDATE tickets SET state = ?, version = version + 1, updated_at = max(updated_at, ?),
                 solved_at = CASE WHEN ? THEN coalesce(solved_at, ?) ELSE NULL END WHERE id = ?",
            )?
            .execute(params![to, self.now(), solved, self.now(), id])?;
        self.event(Some(id), agent, "state", Some(from), Some(to))?;
        Ok(FieldChange {
            ticket: id,
            old: Some(from.into()),
            new: Some(to.into()),
            changed: true,
        })
    }

    pub fn assign(
        &self,
        id: i64,
        assignee: Option<&str>,
        agent: &str,
        expected_version: Option<i64>,
    ) -> Result<FieldChange> {
        if let Some(a) = assignee {
            check_label("agent name", a)?;
        }
        self.check_version(id, expected_version)?;
        let old: Option<String> =
            self.tx
                .query_row("SELECT assignee FROM tickets WHERE id = ?", [id], |r| {
                    r.get(0)
                })?;
        let changed = old.as_deref() != assignee;
        if changed {
            self.tx.execute(
                "UPDATE tickets SET assignee = ?, version = version + 1 WHERE id = ?",
                params![assignee, id],
            )?;
            self.event(Some(id), agent, "assignee", old.as_deref(), assignee)?;
        }
        Ok(FieldChange {
            ticket: id,
            old,
            new: assignee.map(str::to_string),
            changed,
        })
    }

    pub fn set_priority(
        &self,
        id: i64,
        p: Priority,
        agent: &str,
        expected_version: Option<i64>,
    ) -> Result<FieldChange> {
        self.check_version(id, expected_version)?;
        let old: i64 =
            self.tx
                .query_row("SELECT priority FROM tickets WHERE id = ?", [id], |r| {
                    r.get(0)
                })?;
        let old = Priority::from_rank(old);
        let changed = old != p;
        if changed {
            self.tx.execute(
                "UPDATE tickets SET priority = ?, version = version + 1 WHERE id = ?",
                params![p.rank(), id],
            )?;
            // Deadlines follow the new priority's policy, from creation.
            let (channel, created): (String, i64) = self.tx.query_row(
                "SELECT channel, created_at FROM tickets WHERE id = ?",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            let channel = Channel::parse(&channel).unwrap_or(Channel::Email);
            let (policy, fr_due, res_due) = self
                .settings
                .sla
                .deadlines(p, channel, created)
                .map_or((None, None, None), |(p, a, b)| (Some(p), a, b));
            self.tx.execute(
                "UPDATE tickets SET sla_policy = ?, first_response_due = ?, resolution_due = ? WHERE id = ?",
                params![policy, fr_due, res_due, id],
            )?;
            self.event(
                Some(id),
                agent,
                "priority",
                Some(old.as_str()),
                Some(p.as_str()),
            )?;
        }
        Ok(FieldChange {
            ticket: id,
            old: Some(old.to_string()),
            new: Some(p.to_string()),
            changed,
        })
    }

    /// Adds and removes tags; returns the tags afterwards.
    pub fn tag(
        &self,
        id: i64,
        add: &[String],
        remove: &[String],
        agent: &str,
        expected_version: Option<i64>,
    ) -> Result<Vec<String>> {
        for t in add {
            check_label("tag", t)?;
        }
        self.check_version(id, expected_version)?;
        let mut changed = false;
        for t in add {
            let n = self
                .tx
                .prepare_cached("INSERT OR IGNORE INTO ticket_tags (ticket_id, tag) VALUES (?, ?)")?
                .execute(params![id, t])?;
            if n > 0 {
                self.event(Some(id), agent, "tag", None, Some(t))?;
                changed = true;
            }
        }
        for t in remove {
            let n = self
                .tx
                .prepare_cached("DELETE FROM ticket_tags WHERE ticket_id = ? AND tag = ?")?
                .execute(params![id, t])?;
            if n > 0 {
                self.event(Some(id), agent, "tag", Some(t), None)?;
                changed = true;
            }
        }
        if changed {
            self.tx.execute(
                "UPDATE tickets SET version = version + 1 WHERE id = ?",
                [id],
            )?;
        }
        let tags = self
            .tx
            .prepare_cached("SELECT tag FROM ticket_tags WHERE ticket_id = ? ORDER BY tag")?
            .query_map([id], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(tags)
    }

    /// Records the first agent response time once.
    pub fn mark_first_response(&self, id: i64, at: i64) -> Result<()> {
        self.tx
            .prepare_cached(
                "UPDATE tickets SET first_response_at = ? WHERE id = ? AND first_response_at IS NULL",
            )?
            .execute([at, id])?;
        Ok(())
    }
}

impl Store {
    pub fn ticket_summary(&self, id: i64) -> Result<TicketSummary> {
        self.conn
            .prepare_cached(&format!("{SUMMARY_SELECT} WHERE t.id = ?"))?
            .query_row([id], summary_from_row)
            .optional()?
            .ok_or(Error::TicketNotFound(id))
    }

    /// A ticket with its customer but without messages and history: what
    /// templates need, at a fraction of [`Store::ticket`]'s cost.
    pub fn ticket_head(&self, id: i64) -> Result<TicketDetail> {
        let summary = self.ticket_summary(id)?;
        let customer = self.customer(summary.customer_id)?;
        Ok(TicketDetail {
            summary,
            linked_ticket_id: None,
            customer,
            messages: Vec::new(),
            events: Vec::new(),
        })
    }

    pub fn ticket(&self, id: i64) -> Result<TicketDetail> {
        let summary = self.ticket_summary(id)?;
        let linked_ticket_id = self.conn.query_row(
            "SELECT linked_ticket_id FROM tickets WHERE id = ?",
            [id],
            |r| r.get(0),
        )?;
        let customer = self.customer(summary.customer_id)?;
        let messages = self.messages(id)?;
        let events = self.events(id)?;
        Ok(TicketDetail {
            summary,
            linked_ticket_id,
            customer,
            messages,
            events,
        })
    }

    pub fn events(&self, ticket_id: i64) -> Result<Vec<Event>> {
        // Columns: id, ticket_id, at, agent, kind, old, new, rule.
        let rows = self
            .conn
            .prepare_cached(
                "SELECT id, ticket_id, at, agent, kind, old, new, rule FROM events
                 WHERE ticket_id = ? ORDER BY id",
            )?
            .query_map([ticket_id], event_from_row)?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    /// The customer's tickets, newest activity first.
    pub fn customer_tickets(&self, customer_id: i64, limit: usize) -> Result<Vec<TicketSummary>> {
        let rows = self
            .conn
            .prepare_cached(&format!(
                "{SUMMARY_SELECT} WHERE t.customer_id = ? ORDER BY t.updated_at DESC LIMIT ?"
            ))?
            .query_map(params![customer_id, limit as i64], summary_from_row)?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }
}

impl Tx<'_> {
    /// Adds a message written by an agent: an internal note, or (for the
    /// outbox and the demo) an outbound reply. Returns the message id.
    pub fn add_agent_message(
        &self,
        ticket: i64,
        direction: crate::model::Direction,
        body: &str,
        agent: &str,
        at: i64,
    ) -> Result<i64> {
        let (channel, subject): (String, String) = self
            .tx
            .query_row(
                "SELECT channel, subject FROM tickets WHERE id = ?",
                [ticket],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?
            .ok_or(Error::TicketNotFound(ticket))?;
        let channel = Channel::parse(&channel).unwrap_or(Channel::Email);
        let id = self.insert_message(&super::NewMessage {
            ticket_id: ticket,
            direction,
            channel,
            account: "local",
            provider_id: None,
            message_id: None,
            refs: &[],
            from_addr: agent,
            from_name: None,
            to_addr: "",
            subject: &subject,
            body_text: body,
            body_html: None,
            received_at: at,
            author: Some(agent),
            auto_kind: None,
            parse_error: None,
            raw: None,
            attachments: &[],
        })?;
        self.touch(ticket, at)?;
        // Automatic replies (rules) are not a first response.
        if direction == crate::model::Direction::Out && !agent.starts_with("rule:") {
            self.mark_first_response(ticket, at)?;
        }
        self.event(
            Some(ticket),
            agent,
            direction.as_str(),
            None,
            Some(&id.to_string()),
        )?;
        Ok(id)
    }
}

impl Tx<'_> {
    pub fn count_tickets(&self) -> Result<i64> {
        Ok(self
            .tx
            .query_row("SELECT count(*) FROM tickets", [], |r| r.get(0))?)
    }
}

impl Tx<'_> {
    /// Hides a ticket from the open views until `until` (None wakes it).
    pub fn snooze(
        &self,
        id: i64,
        until: Option<i64>,
        agent: &str,
        expected_version: Option<i64>,
    ) -> Result<FieldChange> {
        self.check_version(id, expected_version)?;
        let old: Option<i64> = self.tx.query_row(
            "SELECT snoozed_until FROM tickets WHERE id = ?",
            [id],
            |r| r.get(0),
        )?;
        let changed = old != until;
        if changed {
            self.tx.execute(
                "UPDATE tickets SET snoozed_until = ?, version = version + 1 WHERE id = ?",
                params![until, id],
            )?;
            let fmt = |t: Option<i64>| t.map(|t| t.to_string());
            self.event(
                Some(id),
                agent,
                "snooze",
                fmt(old).as_deref(),
                fmt(until).as_deref(),
            )?;
        }
        Ok(FieldChange {
            ticket: id,
            old: old.map(|t| t.to_string()),
            new: until.map(|t| t.to_string()),
            changed,
        })
    }

    /// Folds `others` into `into`: their messages and tags move over, and
    /// each is closed (the first final state) and linked to `into`.
    /// Returns how many messages moved.
    pub fn merge_tickets(&self, into: i64, others: &[i64], agent: &str) -> Result<usize> {
        self.ticket_state(into)?;
        let wf = &self.settings.workflow;
        let final_state = wf
            .final_states
            .first()
            .cloned()
            .unwrap_or_else(|| "closed".into());
        let mut moved = 0;
        for &o in others {
            if o == into {
                continue;
            }
            let (state, _) = self.ticket_state(o)?;
            moved += self.tx.execute(
                "UPDATE messages SET ticket_id = ? WHERE ticket_id = ?",
                [into, o],
            )?;
            self.tx.execute(
                "INSERT OR IGNORE INTO ticket_tags (ticket_id, tag) SELECT ?, tag FROM ticket_tags WHERE ticket_id = ?",
                [into, o],
            )?;
            self.move_side_conversations(into, o)?;
            self.move_followers(into, o)?;
            self.apply_state(o, &state, &final_state, agent)?;
            self.tx.execute(
                "UPDATE tickets SET linked_ticket_id = ?, version = version + 1 WHERE id = ?",
                [into, o],
            )?;
            let (i, os) = (into.to_string(), o.to_string());
            self.event(Some(o), agent, "merged-into", None, Some(&i))?;
            self.event(Some(into), agent, "merged", None, Some(&os))?;
            self.mark_dirty(o);
        }
        self.tx.execute(
            "UPDATE tickets SET updated_at = max(updated_at, coalesce((SELECT max(received_at) FROM messages WHERE ticket_id = ?1), 0)),
             version = version + 1 WHERE id = ?1",
            [into],
        )?;
        self.mark_dirty(into);
        Ok(moved)
    }
}

/// Tags and agent names are typed by people and shown everywhere: no
/// control or invisible characters (an ESC in a tag would reach every
/// terminal that lists it), and nothing blank.
pub(crate) fn check_label(what: &'static str, v: &str) -> Result<()> {
    let bad = v.chars().find(|c| {
        c.is_control()
            || matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}' | '\u{2028}' | '\u{2029}')
    });
    if let Some(c) = bad {
        return Err(Error::invalid(
            what,
            crate::sanitize::line(v),
            format!(
                "contains the control or invisible character U+{:04X}",
                c as u32
            ),
        ));
    }
    if v.trim().is_empty() {
        return Err(Error::invalid(what, v, "is empty"));
    }
    Ok(())
}

/// An `events` row selected as `id, ticket_id, at, agent, kind, old, new, rule`.
pub(super) fn event_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Event> {
    Ok(Event {
        id: r.get(0)?,
        ticket_id: r.get(1)?,
        at: r.get(2)?,
        agent: r.get(3)?,
        kind: r.get(4)?,
        old: r.get(5)?,
        new: r.get(6)?,
        rule: r.get(7)?,
    })
}
