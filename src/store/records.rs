//! The customer file's shared parts: custom field values and notes on
//! customers, organisations and assets, a customer's own attributes, the
//! record's history and timeline, and the audit event every change leaves
//! (organisations in `orgs`, assets in `assets`).

use rusqlite::{params, OptionalExtension};
use serde::Serialize;

use super::{Store, Tx};
use crate::error::{Error, Result};
use crate::fields::{Entity, Value};

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RecordNote {
    pub id: i64,
    pub at: i64,
    pub agent: String,
    pub body: String,
}

/// A customer as an export writes them.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CustomerRow {
    pub id: i64,
    pub external_id: Option<String>,
    pub name: String,
    pub emails: Vec<String>,
    pub phones: Vec<String>,
    pub faxes: Vec<String>,
    pub org: Option<String>,
    pub fields: Vec<(String, String)>,
}

/// One message of a customer's timeline: every ticket, every channel.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TimelineEntry {
    pub at: i64,
    pub ticket_id: i64,
    pub subject: String,
    pub message_id: i64,
    pub direction: String,
    pub channel: String,
    pub author: Option<String>,
    pub body: String,
    pub asset_id: Option<i64>,
}

fn to_sql(v: &Value) -> rusqlite::types::Value {
    match v {
        Value::Number(n) => (*n).into(),
        other => other.display().into(),
    }
}

fn shown(v: rusqlite::types::Value) -> String {
    use rusqlite::types::Value as V;
    match v {
        V::Integer(i) => i.to_string(),
        V::Real(r) => crate::fields::format_number(r),
        V::Text(t) => t,
        V::Blob(_) | V::Null => String::new(),
    }
}

impl Tx<'_> {
    pub(super) fn record_event(
        &self,
        entity: Entity,
        owner: i64,
        agent: &str,
        kind: &str,
        old: Option<&str>,
        new: Option<&str>,
    ) -> Result<()> {
        let col = match entity {
            Entity::Customer => "customer_id",
            Entity::Org => "org_id",
            Entity::Asset => "asset_id",
            Entity::Ticket => "ticket_id",
        };
        self.tx
            .prepare_cached(&format!(
                "INSERT INTO events ({col}, at, agent, kind, old, new) VALUES (?, ?, ?, ?, ?, ?)"
            ))?
            .execute(params![owner, self.now(), agent, kind, old, new])?;
        Ok(())
    }

    /// Sets (or with `None` clears) a custom field; a no-op when the value
    /// is already that. Returns whether anything changed.
    pub fn set_field(
        &self,
        entity: Entity,
        owner: i64,
        name: &str,
        value: Option<&Value>,
        agent: &str,
    ) -> Result<bool> {
        let old: Option<rusqlite::types::Value> = self
            .tx
            .prepare_cached(
                "SELECT value FROM field_values WHERE entity = ? AND owner = ? AND name = ?",
            )?
            .query_row(params![entity.as_str(), owner, name], |r| r.get(0))
            .optional()?;
        let old = old.map(shown);
        let new = value.map(Value::display);
        if old == new {
            return Ok(false);
        }
        match value {
            Some(v) => self
                .tx
                .prepare_cached(
                    "INSERT INTO field_values (entity, owner, name, value) VALUES (?, ?, ?, ?)
                     ON CONFLICT (entity, owner, name) DO UPDATE SET value = excluded.value",
                )?
                .execute(params![entity.as_str(), owner, name, to_sql(v)])?,
            None => self
                .tx
                .prepare_cached(
                    "DELETE FROM field_values WHERE entity = ? AND owner = ? AND name = ?",
                )?
                .execute(params![entity.as_str(), owner, name])?,
        };
        let old = old.map(|o| format!("{name}: {o}"));
        let new = new.map(|n| format!("{name}: {n}"));
        self.record_event(
            entity,
            owner,
            agent,
            "field",
            old.as_deref(),
            new.as_deref(),
        )?;
        Ok(true)
    }

    pub fn customer_by_external_id(&self, external: &str) -> Result<Option<i64>> {
        Ok(self
            .tx
            .prepare_cached("SELECT id FROM customers WHERE external_id = ?")?
            .query_row([external.trim()], |r| r.get(0))
            .optional()?)
    }

    /// The one value a query gives (`None`: no row, or NULL).
    pub(super) fn lookup<T: rusqlite::types::FromSql>(
        &self,
        sql: &str,
        p: impl rusqlite::Params,
    ) -> Result<Option<T>> {
        Ok(self
            .tx
            .prepare_cached(sql)?
            .query_row(p, |r| r.get::<_, Option<T>>(0))
            .optional()?
            .flatten())
    }

    /// Whether a record's file has a note with exactly this text.
    pub fn has_record_note(&self, entity: Entity, owner: i64, body: &str) -> Result<bool> {
        Ok(self
            .tx
            .prepare_cached(
                "SELECT 1 FROM record_notes WHERE entity = ? AND owner = ? AND body = ? LIMIT 1",
            )?
            .query_row(params![entity.as_str(), owner, body.trim()], |_| Ok(()))
            .optional()?
            .is_some())
    }

    /// The custom fields a record has a value for.
    pub fn field_names(&self, entity: Entity, owner: i64) -> Result<Vec<String>> {
        Ok(self
            .tx
            .prepare_cached("SELECT name FROM field_values WHERE entity = ? AND owner = ?")?
            .query_map(params![entity.as_str(), owner], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?)
    }

    pub fn add_record_note(
        &self,
        entity: Entity,
        owner: i64,
        agent: &str,
        body: &str,
    ) -> Result<i64> {
        let body = body.trim();
        if body.is_empty() {
            return Err(Error::invalid(
                "note",
                String::new(),
                "a note needs some text",
            ));
        }
        self.tx
            .prepare_cached(
                "INSERT INTO record_notes (entity, owner, at, agent, body) VALUES (?, ?, ?, ?, ?)",
            )?
            .execute(params![entity.as_str(), owner, self.now(), agent, body])?;
        let id = self.tx.last_insert_rowid();
        self.record_event(
            entity,
            owner,
            agent,
            "record-note",
            None,
            Some(&id.to_string()),
        )?;
        Ok(id)
    }

    pub fn set_customer_org(&self, customer: i64, org: Option<i64>, agent: &str) -> Result<bool> {
        let old: Option<i64> = self
            .tx
            .prepare_cached("SELECT org_id FROM customers WHERE id = ?")?
            .query_row([customer], |r| r.get(0))?;
        if old == org {
            return Ok(false);
        }
        self.tx
            .prepare_cached("UPDATE customers SET org_id = ? WHERE id = ?")?
            .execute(params![org, customer])?;
        self.record_event(
            Entity::Customer,
            customer,
            agent,
            "org",
            old.map(|o| o.to_string()).as_deref(),
            org.map(|o| o.to_string()).as_deref(),
        )?;
        Ok(true)
    }

    pub fn set_customer_name(&self, customer: i64, name: &str, agent: &str) -> Result<bool> {
        let name = name.trim();
        let old: String = self
            .tx
            .prepare_cached("SELECT name FROM customers WHERE id = ?")?
            .query_row([customer], |r| r.get(0))?;
        if name.is_empty() || old == name {
            return Ok(false);
        }
        self.tx
            .prepare_cached("UPDATE customers SET name = ? WHERE id = ?")?
            .execute(params![name, customer])?;
        self.record_event(
            Entity::Customer,
            customer,
            agent,
            "name",
            Some(&old),
            Some(name),
        )?;
        self.mark_customer_dirty(customer)?;
        Ok(true)
    }

    pub fn set_customer_external_id(
        &self,
        customer: i64,
        external: Option<&str>,
        agent: &str,
    ) -> Result<bool> {
        let old: Option<String> = self
            .tx
            .prepare_cached("SELECT external_id FROM customers WHERE id = ?")?
            .query_row([customer], |r| r.get(0))?;
        let external = external.map(str::trim).filter(|s| !s.is_empty());
        if old.as_deref() == external {
            return Ok(false);
        }
        if let Some(x) = external {
            let other: Option<i64> = self
                .tx
                .prepare_cached("SELECT id FROM customers WHERE external_id = ? AND id <> ?")?
                .query_row(params![x, customer], |r| r.get(0))
                .optional()?;
            if let Some(o) = other {
                return Err(Error::invalid(
                    "external id",
                    x.to_string(),
                    format!("customer #{o} has it already"),
                ));
            }
        }
        self.tx
            .prepare_cached("UPDATE customers SET external_id = ? WHERE id = ?")?
            .execute(params![external, customer])?;
        self.record_event(
            Entity::Customer,
            customer,
            agent,
            "external-id",
            old.as_deref(),
            external,
        )?;
        Ok(true)
    }

    /// The customer's most recently updated open ticket.
    pub fn newest_open_ticket(&self, customer: i64) -> Result<Option<i64>> {
        let open = &self.settings.workflow.open_states;
        if open.is_empty() {
            return Ok(None);
        }
        let list = vec!["?"; open.len()].join(", ");
        let mut params: Vec<rusqlite::types::Value> = vec![customer.into()];
        params.extend(open.iter().map(|s| s.clone().into()));
        Ok(self
            .tx
            .prepare_cached(&format!(
                "SELECT id FROM tickets WHERE customer_id = ? AND state IN ({list})
                 ORDER BY updated_at DESC, id DESC LIMIT 1"
            ))?
            .query_row(rusqlite::params_from_iter(params), |r| r.get(0))
            .optional()?)
    }

    /// A merge's share of the customer file: `other`'s assets, notes and
    /// the field values `keep` lacks move to `keep`, and its organisation
    /// if `keep` has none.
    pub(super) fn merge_records(&self, keep: i64, other: i64) -> Result<()> {
        self.tx
            .prepare_cached("UPDATE assets SET customer_id = ? WHERE customer_id = ?")?
            .execute([keep, other])?;
        self.tx
            .prepare_cached(
                "UPDATE record_notes SET owner = ? WHERE entity = 'customer' AND owner = ?",
            )?
            .execute([keep, other])?;
        self.tx.prepare_cached("UPDATE OR IGNORE field_values SET owner = ? WHERE entity = 'customer' AND owner = ?")?.execute([keep, other],
        )?;
        self.tx
            .prepare_cached("DELETE FROM field_values WHERE entity = 'customer' AND owner = ?")?
            .execute([other])?;
        self.tx
            .prepare_cached(
                "UPDATE customers SET org_id = (SELECT org_id FROM customers WHERE id = ?2)
             WHERE id = ?1 AND org_id IS NULL",
            )?
            .execute([keep, other])?;
        let ext: Option<String> = self
            .tx
            .prepare_cached("SELECT external_id FROM customers WHERE id = ?")?
            .query_row([other], |r| r.get(0))?;
        self.tx
            .prepare_cached("UPDATE customers SET external_id = NULL WHERE id = ?")?
            .execute([other])?;
        self.tx
            .prepare_cached(
                "UPDATE customers SET external_id = ? WHERE id = ? AND external_id IS NULL",
            )?
            .execute(params![ext, keep])?;
        Ok(())
    }
}

impl Store {
    /// Every customer in number order, one at a time (an export of many
    /// never holds them all).
    pub fn for_each_customer_row(
        &self,
        mut f: impl FnMut(&CustomerRow) -> Result<()>,
    ) -> Result<()> {
        let mut st = self.conn.prepare(
            "SELECT c.id, c.external_id, c.name, o.name FROM customers c
             LEFT JOIN orgs o ON o.id = c.org_id ORDER BY c.id",
        )?;
        let mut rows = st.query([])?;
        let mut ids = self.conn.prepare_cached(
            "SELECT kind, value FROM identities WHERE customer_id = ? ORDER BY id",
        )?;
        while let Some(r) = rows.next()? {
            let mut c = CustomerRow {
                id: r.get(0)?,
                external_id: r.get(1)?,
                name: r.get(2)?,
                emails: Vec::new(),
                phones: Vec::new(),
                faxes: Vec::new(),
                org: r.get(3)?,
                fields: Vec::new(),
            };
            let mut q = ids.query([c.id])?;
            while let Some(i) = q.next()? {
                let (kind, value): (String, String) = (i.get(0)?, i.get(1)?);
                match kind.as_str() {
                    "email" => c.emails.push(value),
                    "phone" => c.phones.push(value),
                    _ => c.faxes.push(value),
                }
            }
            c.fields = self.fields_of(Entity::Customer, c.id)?;
            f(&c)?;
        }
        Ok(())
    }

    /// A record's custom field values, in the order the config declares
    /// them (then any no longer declared, by name).
    pub fn fields_of(&self, entity: Entity, owner: i64) -> Result<Vec<(String, String)>> {
        let mut rows: Vec<(String, String)> = self
            .conn
            .prepare_cached(
                "SELECT name, value FROM field_values WHERE entity = ? AND owner = ? ORDER BY name",
            )?
            .query_map(params![entity.as_str(), owner], |r| {
                Ok((r.get::<_, String>(0)?, shown(r.get(1)?)))
            })?
            .collect::<rusqlite::Result<_>>()?;
        let order: Vec<&str> = self
            .settings
            .fields
            .of(entity)
            .map(|d| d.name.as_str())
            .collect();
        rows.sort_by_key(|(n, _)| order.iter().position(|o| o == n).unwrap_or(usize::MAX));
        Ok(rows)
    }

    /// The one value a query gives (`None`: no row, or NULL).
    pub(super) fn lookup<T: rusqlite::types::FromSql>(
        &self,
        sql: &str,
        p: impl rusqlite::Params,
    ) -> Result<Option<T>> {
        Ok(self
            .conn
            .prepare_cached(sql)?
            .query_row(p, |r| r.get::<_, Option<T>>(0))
            .optional()?
            .flatten())
    }

    pub fn customer_external_id(&self, customer: i64) -> Result<Option<String>> {
        self.lookup("SELECT external_id FROM customers WHERE id = ?", [customer])
    }

    pub fn record_notes(&self, entity: Entity, owner: i64) -> Result<Vec<RecordNote>> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT id, at, agent, body FROM record_notes WHERE entity = ? AND owner = ? ORDER BY id",
            )?
            .query_map(params![entity.as_str(), owner], |r| {
                Ok(RecordNote {
                    id: r.get(0)?,
                    at: r.get(1)?,
                    agent: r.get(2)?,
                    body: r.get(3)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?)
    }

    /// The audit history of a customer, organisation or asset: every
    /// change to the record, oldest first. (A ticket's is `events`.)
    pub fn record_history(&self, entity: Entity, owner: i64) -> Result<Vec<crate::model::Event>> {
        let col = match entity {
            Entity::Customer => "customer_id",
            Entity::Org => "org_id",
            Entity::Asset => "asset_id",
            Entity::Ticket => return self.events(owner),
        };
        let rows = self
            .conn
            .prepare_cached(&format!(
                "SELECT id, ticket_id, at, agent, kind, old, new, rule FROM events
                 WHERE {col} = ? ORDER BY id"
            ))?
            .query_map([owner], super::tickets::event_from_row)?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    /// Every message of every ticket of a customer, oldest first; only
    /// one channel's, or only tickets about one asset, when asked.
    pub fn timeline(
        &self,
        customer: i64,
        channel: Option<crate::model::Channel>,
        asset: Option<i64>,
    ) -> Result<Vec<TimelineEntry>> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT m.received_at, t.id, t.subject, m.id, m.direction, m.channel,
                        coalesce(m.author, m.from_addr), coalesce(m.body_text, ''), t.asset_id
                 FROM tickets t JOIN messages m ON m.ticket_id = t.id
                 WHERE t.customer_id = ?1 AND (?2 IS NULL OR m.channel = ?2)
                   AND (?3 IS NULL OR t.asset_id = ?3)
                 ORDER BY m.received_at, m.id",
            )?
            .query_map(params![customer, channel.map(|c| c.as_str()), asset], |r| {
                Ok(TimelineEntry {
                    at: r.get(0)?,
                    ticket_id: r.get(1)?,
                    subject: r.get(2)?,
                    message_id: r.get(3)?,
                    direction: r.get(4)?,
                    channel: r.get(5)?,
                    author: r.get(6)?,
                    body: r.get(7)?,
                    asset_id: r.get(8)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?)
    }
}
