//! The customer file beyond identities: organisations and their email
//! domains, assets and the tickets about them, custom field values, and
//! notes on customers, organisations and assets. Every change leaves an
//! audit event naming the record.

use rusqlite::{params, OptionalExtension};
use serde::Serialize;

use super::{Store, Tx};
use crate::error::{Error, Result};
use crate::fields::{Entity, Value};

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Org {
    pub id: i64,
    pub name: String,
    pub external_id: Option<String>,
    pub domains: Vec<String>,
    pub fields: Vec<(String, String)>,
    pub created_at: i64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct OrgSummary {
    pub id: i64,
    pub name: String,
    pub people: i64,
    pub tickets: i64,
    pub open: i64,
    pub assets: i64,
}

#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct Asset {
    pub id: i64,
    pub customer_id: Option<i64>,
    pub org_id: Option<i64>,
    pub model: String,
    pub serial: Option<String>,
    pub purchased: Option<String>,
    pub warranty_until: Option<String>,
    pub location: Option<String>,
    pub external_id: Option<String>,
    pub fields: Vec<(String, String)>,
    pub created_at: i64,
}

impl Asset {
    /// An attribute as text, built in (`model`, `serial`, `purchased`,
    /// `warranty_until`, `location`, `external_id`) or a declared field;
    /// empty when unset.
    pub fn value(&self, name: &str) -> String {
        let text = |v: &Option<String>| v.clone().unwrap_or_default();
        match name {
            "model" => self.model.clone(),
            "serial" => text(&self.serial),
            "purchased" => text(&self.purchased),
            "warranty_until" => text(&self.warranty_until),
            "location" => text(&self.location),
            "external_id" => text(&self.external_id),
            _ => self
                .fields
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
                .unwrap_or_default(),
        }
    }
}

/// The built-in attributes of an asset, as a form or a CSV row gives them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AssetInput {
    pub customer_id: Option<i64>,
    pub org_id: Option<i64>,
    pub model: Option<String>,
    pub serial: Option<String>,
    pub purchased: Option<String>,
    pub warranty_until: Option<String>,
    pub location: Option<String>,
    pub external_id: Option<String>,
}

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

/// How serial numbers compare: letters in one case, without the spaces,
/// dashes and dots people and forms put in them.
pub fn serial_key(serial: &str) -> String {
    serial
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_uppercase)
        .collect()
}

/// `example.com` from `alice@Example.COM` or `@example.com`.
pub fn domain_of(address: &str) -> Option<String> {
    let d = address.rsplit_once('@').map_or(address, |(_, d)| d).trim();
    (!d.is_empty() && d.contains('.')).then(|| d.to_ascii_lowercase())
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

/// Checks a date column's text (purchase, warranty) the way a date field is.
fn date_column(what: &'static str, v: Option<&str>) -> Result<Option<String>> {
    match v.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => crate::fields::parse_date(s)
            .map(|d| Some(d.format("%Y-%m-%d").to_string()))
            .ok_or_else(|| {
                Error::invalid(
                    what,
                    s.to_string(),
                    "dates are written 2027-03-31, 2027/03/31 or 31.03.2027",
                )
            }),
    }
}

impl Tx<'_> {
    fn record_event(
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

    pub fn org_count(&self) -> Result<i64> {
        Ok(self
            .tx
            .prepare_cached("SELECT count(*) FROM orgs")?
            .query_row([], |r| r.get(0))?)
    }

    /// The organisation of this name (any case).
    pub fn org_by_name(&self, name: &str) -> Result<Option<i64>> {
        Ok(self
            .tx
            .prepare_cached("SELECT id FROM orgs WHERE name = ?")?
            .query_row([name.trim()], |r| r.get(0))
            .optional()?)
    }

    /// An organisation named in a customer or asset list: by name, else
    /// by the CRM's id (lists exported with account ids).
    pub fn org_by_name_or_external_id(&self, key: &str) -> Result<Option<i64>> {
        match self.org_by_name(key)? {
            Some(o) => Ok(Some(o)),
            None => self.org_by_external_id(key),
        }
    }

    /// The one value a query gives (`None`: no row, or NULL).
    fn lookup<T: rusqlite::types::FromSql>(
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

    pub fn org_by_external_id(&self, external: &str) -> Result<Option<i64>> {
        self.lookup(
            "SELECT id FROM orgs WHERE external_id = ?",
            [external.trim()],
        )
    }

    pub fn org_name(&self, org: i64) -> Result<String> {
        Ok(self
            .tx
            .prepare_cached("SELECT name FROM orgs WHERE id = ?")?
            .query_row([org], |r| r.get(0))?)
    }

    /// Gives an organisation the CRM's id; returns whether it changed.
    pub fn set_org_external_id(&self, org: i64, external: &str, agent: &str) -> Result<bool> {
        let old: Option<String> = self
            .tx
            .prepare_cached("SELECT external_id FROM orgs WHERE id = ?")?
            .query_row([org], |r| r.get(0))?;
        let external = external.trim();
        if old.as_deref() == Some(external) || external.is_empty() {
            return Ok(false);
        }
        self.tx
            .prepare_cached("UPDATE orgs SET external_id = ? WHERE id = ?")?
            .execute(params![external, org])?;
        self.record_event(
            Entity::Org,
            org,
            agent,
            "external-id",
            old.as_deref(),
            Some(external),
        )?;
        Ok(true)
    }

    /// The organisation an email domain belongs to.
    pub fn org_domain_owner(&self, domain: &str) -> Result<Option<i64>> {
        let Some(d) = domain_of(domain) else {
            return Ok(None);
        };
        self.lookup("SELECT org_id FROM org_domains WHERE domain = ?", [d])
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

    pub fn create_org(&self, name: &str, external_id: Option<&str>, agent: &str) -> Result<i64> {
        let name = name.trim();
        if name.is_empty() {
            return Err(Error::invalid(
                "organisation name",
                String::new(),
                "is empty",
            ));
        }
        let taken: Option<i64> = self
            .tx
            .prepare_cached("SELECT id FROM orgs WHERE name = ?")?
            .query_row([name], |r| r.get(0))
            .optional()?;
        if let Some(id) = taken {
            return Err(Error::invalid(
                "organisation name",
                name.to_string(),
                format!("organisation #{id} has it already"),
            ));
        }
        self.tx
            .prepare_cached("INSERT INTO orgs (name, external_id, created_at) VALUES (?, ?, ?)")?
            .execute(params![name, external_id, self.now()])?;
        let id = self.tx.last_insert_rowid();
        self.record_event(Entity::Org, id, agent, "org-created", None, Some(name))?;
        Ok(id)
    }

    pub fn rename_org(&self, org: i64, name: &str, agent: &str) -> Result<()> {
        let old: String = self
            .tx
            .prepare_cached("SELECT name FROM orgs WHERE id = ?")?
            .query_row([org], |r| r.get(0))?;
        let name = name.trim();
        if name.is_empty() || old == name {
            return Ok(());
        }
        self.tx
            .execute("UPDATE orgs SET name = ? WHERE id = ?", params![name, org])
            .map_err(|e| match e {
                rusqlite::Error::SqliteFailure(f, _)
                    if f.code == rusqlite::ErrorCode::ConstraintViolation =>
                {
                    Error::invalid(
                        "organisation name",
                        name.to_string(),
                        "another organisation has it",
                    )
                }
                e => e.into(),
            })?;
        self.record_event(Entity::Org, org, agent, "name", Some(&old), Some(name))
    }

    /// Maps an email domain to an organisation: customers created from
    /// it from now on join it. A domain belongs to one organisation.
    pub fn add_org_domain(&self, org: i64, domain: &str, agent: &str) -> Result<()> {
        let d = domain_of(domain).ok_or_else(|| {
            Error::invalid(
                "domain",
                domain.to_string(),
                "expected a domain like example.com",
            )
        })?;
        let owner: Option<i64> = self
            .tx
            .prepare_cached("SELECT org_id FROM org_domains WHERE domain = ?")?
            .query_row([&d], |r| r.get(0))
            .optional()?;
        match owner {
            Some(o) if o == org => return Ok(()),
            Some(o) => {
                return Err(Error::invalid(
                    "domain",
                    d,
                    format!("belongs to organisation #{o}; remove it there first"),
                ))
            }
            None => {}
        }
        self.tx
            .prepare_cached("INSERT INTO org_domains (domain, org_id) VALUES (?, ?)")?
            .execute(params![d, org])?;
        self.record_event(Entity::Org, org, agent, "domain", None, Some(&d))
    }

    pub fn remove_org_domain(&self, org: i64, domain: &str, agent: &str) -> Result<bool> {
        let Some(d) = domain_of(domain) else {
            return Ok(false);
        };
        let n = self
            .tx
            .prepare_cached("DELETE FROM org_domains WHERE domain = ? AND org_id = ?")?
            .execute(params![d, org])?;
        if n > 0 {
            self.record_event(Entity::Org, org, agent, "domain", Some(&d), None)?;
        }
        Ok(n > 0)
    }

    /// The organisation whose domain this email address is at.
    pub fn org_for_address(&self, address: &str) -> Result<Option<i64>> {
        let Some(d) = domain_of(address) else {
            return Ok(None);
        };
        Ok(self
            .tx
            .prepare_cached("SELECT org_id FROM org_domains WHERE domain = ?")?
            .query_row([d], |r| r.get(0))
            .optional()?)
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

    /// Adds an asset. It needs a model and an owner (a customer, an
    /// organisation or both); a serial number is unique across assets.
    pub fn create_asset(&self, input: &AssetInput, agent: &str) -> Result<i64> {
        let model = input
            .model
            .as_deref()
            .map(str::trim)
            .filter(|m| !m.is_empty())
            .ok_or_else(|| Error::invalid("asset", String::new(), "a model is required"))?;
        if input.customer_id.is_none() && input.org_id.is_none() {
            return Err(Error::invalid(
                "asset",
                model.to_string(),
                "needs an owner: a customer, an organisation or both",
            ));
        }
        let serial = input
            .serial
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty());
        let key = serial.map(serial_key).filter(|k| !k.is_empty());
        self.check_serial_free(key.as_deref(), serial, None)?;
        let purchased = date_column("purchase date", input.purchased.as_deref())?;
        let warranty = date_column("warranty end", input.warranty_until.as_deref())?;
        self.tx
            .prepare_cached(
                "INSERT INTO assets (customer_id, org_id, model, serial, serial_key, purchased,
                 warranty_until, location, external_id, created_at)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )?
            .execute(params![
                input.customer_id,
                input.org_id,
                model,
                serial,
                key,
                purchased,
                warranty,
                input
                    .location
                    .as_deref()
                    .map(str::trim)
                    .filter(|s| !s.is_empty()),
                input
                    .external_id
                    .as_deref()
                    .map(str::trim)
                    .filter(|s| !s.is_empty()),
                self.now()
            ])?;
        let id = self.tx.last_insert_rowid();
        let what = match serial {
            Some(s) => format!("{model} {s}"),
            None => model.to_string(),
        };
        self.record_event(Entity::Asset, id, agent, "asset-created", None, Some(&what))?;
        if let Some(c) = input.customer_id {
            self.record_event(
                Entity::Customer,
                c,
                agent,
                "asset",
                None,
                Some(&id.to_string()),
            )?;
        }
        Ok(id)
    }

    fn check_serial_free(
        &self,
        key: Option<&str>,
        serial: Option<&str>,
        except: Option<i64>,
    ) -> Result<()> {
        let Some(key) = key else { return Ok(()) };
        let other: Option<i64> = self
            .tx
            .prepare_cached("SELECT id FROM assets WHERE serial_key = ? AND id IS NOT ?")?
            .query_row(params![key, except], |r| r.get(0))
            .optional()?;
        match other {
            Some(o) => Err(Error::invalid(
                "serial number",
                serial.unwrap_or(key).to_string(),
                format!("asset #{o} has it already"),
            )),
            None => Ok(()),
        }
    }

    /// Changes the attributes `input` gives (a `Some("")` clears one).
    /// Returns the names of what changed.
    pub fn update_asset(
        &self,
        id: i64,
        input: &AssetInput,
        agent: &str,
    ) -> Result<Vec<&'static str>> {
        let cur = self.asset_row(id)?;
        let mut changed = Vec::new();
        let text = |v: &Option<String>| v.as_deref().map(str::trim).map(str::to_string);
        let mut set = |col: &'static str, old: Option<String>, new: Option<String>| -> Result<()> {
            let new = new.filter(|s| !s.is_empty());
            if old == new {
                return Ok(());
            }
            self.tx.execute(
                &format!("UPDATE assets SET {col} = ? WHERE id = ?"),
                params![new, id],
            )?;
            self.record_event(
                Entity::Asset,
                id,
                agent,
                col,
                old.as_deref(),
                new.as_deref(),
            )?;
            changed.push(col);
            Ok(())
        };
        if let Some(m) = text(&input.model) {
            if m.is_empty() {
                return Err(Error::invalid(
                    "asset",
                    String::new(),
                    "a model is required",
                ));
            }
            set("model", Some(cur.model.clone()), Some(m))?;
        }
        if let Some(s) = text(&input.serial) {
            let key = Some(serial_key(&s)).filter(|k| !k.is_empty());
            self.check_serial_free(key.as_deref(), Some(&s), Some(id))?;
            self.tx
                .prepare_cached("UPDATE assets SET serial_key = ? WHERE id = ?")?
                .execute(params![key, id])?;
            set("serial", cur.serial.clone(), Some(s))?;
        }
        if input.purchased.is_some() {
            let d = date_column("purchase date", input.purchased.as_deref())?;
            set("purchased", cur.purchased.clone(), d)?;
        }
        if input.warranty_until.is_some() {
            let d = date_column("warranty end", input.warranty_until.as_deref())?;
            set("warranty_until", cur.warranty_until.clone(), d)?;
        }
        if let Some(l) = text(&input.location) {
            set("location", cur.location.clone(), Some(l))?;
        }
        if let Some(x) = text(&input.external_id) {
            set("external_id", cur.external_id.clone(), Some(x))?;
        }
        let owner = |v: Option<i64>| v.map(|i| i.to_string());
        if let Some(c) = input.customer_id {
            set("customer_id", owner(cur.customer_id), owner(Some(c)))?;
        }
        if let Some(o) = input.org_id {
            set("org_id", owner(cur.org_id), owner(Some(o)))?;
        }
        Ok(changed)
    }

    fn asset_row(&self, id: i64) -> Result<Asset> {
        self.tx
            .prepare_cached(ASSET_SQL)?
            .query_row([id], asset_from_row)
            .optional()?
            .ok_or_else(|| Error::invalid("asset", format!("#{id}"), "no such asset"))
    }

    /// Says which asset a ticket is about (`None`: none). Returns whether
    /// it changed.
    pub fn set_ticket_asset(&self, ticket: i64, asset: Option<i64>, agent: &str) -> Result<bool> {
        let old: Option<i64> = self
            .tx
            .prepare_cached("SELECT asset_id FROM tickets WHERE id = ?")?
            .query_row([ticket], |r| r.get(0))
            .optional()?
            .ok_or(Error::TicketNotFound(ticket))?;
        if old == asset {
            return Ok(false);
        }
        if let Some(a) = asset {
            self.asset_row(a)?;
        }
        self.tx
            .prepare_cached("UPDATE tickets SET asset_id = ?, version = version + 1 WHERE id = ?")?
            .execute(params![asset, ticket])?;
        self.event(
            Some(ticket),
            agent,
            "asset",
            old.map(|o| o.to_string()).as_deref(),
            asset.map(|a| a.to_string()).as_deref(),
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

    /// The one asset a customer owns (theirs or their organisation's),
    /// if they own exactly one.
    pub fn sole_asset_of(&self, customer: i64) -> Result<Option<i64>> {
        let ids: Vec<i64> = self
            .tx
            .prepare_cached(
                "SELECT id FROM assets WHERE customer_id = ?1
                   OR org_id = (SELECT org_id FROM customers WHERE id = ?1) LIMIT 2",
            )?
            .query_map([customer], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(match ids[..] {
            [one] => Some(one),
            _ => None,
        })
    }

    /// An asset's serial number and model.
    pub fn asset_label(&self, asset: i64) -> Result<(Option<String>, String)> {
        Ok(self
            .tx
            .prepare_cached("SELECT serial, model FROM assets WHERE id = ?")?
            .query_row([asset], |r| Ok((r.get(0)?, r.get(1)?)))?)
    }

    pub fn ticket_asset_id(&self, ticket: i64) -> Result<Option<i64>> {
        self.lookup("SELECT asset_id FROM tickets WHERE id = ?", [ticket])
    }

    pub fn asset_by_external_id(&self, external: &str) -> Result<Option<i64>> {
        self.lookup(
            "SELECT id FROM assets WHERE external_id = ?",
            [external.trim()],
        )
    }

    /// The asset whose serial number this is, as written anywhere.
    pub fn asset_by_serial(&self, serial: &str) -> Result<Option<i64>> {
        let key = serial_key(serial);
        if key.is_empty() {
            return Ok(None);
        }
        self.lookup("SELECT id FROM assets WHERE serial_key = ?", [key])
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

const ASSET_SQL: &str = "SELECT id, customer_id, org_id, model, serial, purchased, warranty_until,
    location, external_id, created_at FROM assets WHERE id = ?";

fn asset_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Asset> {
    Ok(Asset {
        id: r.get(0)?,
        customer_id: r.get(1)?,
        org_id: r.get(2)?,
        model: r.get(3)?,
        serial: r.get(4)?,
        purchased: r.get(5)?,
        warranty_until: r.get(6)?,
        location: r.get(7)?,
        external_id: r.get(8)?,
        fields: Vec::new(),
        created_at: r.get(9)?,
    })
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
    fn lookup<T: rusqlite::types::FromSql>(
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

    pub fn org(&self, id: i64) -> Result<Org> {
        let (name, external_id, created_at) = self
            .conn
            .prepare_cached("SELECT name, external_id, created_at FROM orgs WHERE id = ?")?
            .query_row([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()?
            .ok_or_else(|| {
                Error::invalid("organisation", format!("#{id}"), "no such organisation")
            })?;
        let domains = self
            .conn
            .prepare_cached("SELECT domain FROM org_domains WHERE org_id = ? ORDER BY domain")?
            .query_map([id], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(Org {
            id,
            name,
            external_id,
            domains,
            fields: self.fields_of(Entity::Org, id)?,
            created_at,
        })
    }

    /// By number (`#3` or `3`), name (any case), external id or domain.
    pub fn find_org(&self, key: &str) -> Result<Org> {
        let key = key.trim();
        if let Ok(id) = key.trim_start_matches('#').parse::<i64>() {
            if let Ok(o) = self.org(id) {
                return Ok(o);
            }
        }
        let found: Option<i64> = self
            .conn
            .prepare_cached(
                "SELECT id FROM orgs WHERE name = ?1 OR external_id = ?1
                 UNION ALL SELECT org_id FROM org_domains WHERE domain = lower(?1) LIMIT 1",
            )?
            .query_row([key], |r| r.get(0))
            .optional()?;
        match found {
            Some(id) => self.org(id),
            None => Err(Error::invalid(
                "organisation",
                key.to_string(),
                "no organisation has this number, name, external id or domain",
            )),
        }
    }

    pub fn org_summaries(&self) -> Result<Vec<OrgSummary>> {
        let open = &self.settings.workflow.open_states;
        let list = vec!["?"; open.len().max(1)].join(", ");
        let sql = format!(
            "SELECT o.id, o.name,
               (SELECT count(*) FROM customers c WHERE c.org_id = o.id),
               (SELECT count(*) FROM tickets t JOIN customers c ON c.id = t.customer_id WHERE c.org_id = o.id AND t.internal = 0),
               (SELECT count(*) FROM tickets t JOIN customers c ON c.id = t.customer_id WHERE c.org_id = o.id AND t.internal = 0 AND t.state IN ({list})),
               (SELECT count(*) FROM assets a WHERE a.org_id = o.id
                  OR a.customer_id IN (SELECT id FROM customers WHERE org_id = o.id))
             FROM orgs o ORDER BY o.name"
        );
        let params: Vec<rusqlite::types::Value> = if open.is_empty() {
            vec![rusqlite::types::Value::Null]
        } else {
            open.iter().map(|s| s.clone().into()).collect()
        };
        Ok(self
            .conn
            .prepare(&sql)?
            .query_map(rusqlite::params_from_iter(params), |r| {
                Ok(OrgSummary {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    people: r.get(2)?,
                    tickets: r.get(3)?,
                    open: r.get(4)?,
                    assets: r.get(5)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?)
    }

    /// The people of an organisation: (customer number, name).
    pub fn org_people(&self, org: i64) -> Result<Vec<(i64, String)>> {
        Ok(self
            .conn
            .prepare_cached("SELECT id, name FROM customers WHERE org_id = ? ORDER BY name, id")?
            .query_map([org], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?)
    }

    /// Tickets of all of an organisation's people, newest activity first.
    pub fn org_ticket_ids(&self, org: i64, limit: usize) -> Result<Vec<i64>> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT t.id FROM tickets t JOIN customers c ON c.id = t.customer_id
                 WHERE c.org_id = ? AND t.internal = 0 ORDER BY t.updated_at DESC, t.id DESC LIMIT ?",
            )?
            .query_map(params![org, limit as i64], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?)
    }

    /// (organisation, external id) of a customer.
    pub fn customer_org(&self, customer: i64) -> Result<(Option<Org>, Option<String>)> {
        let (org, ext): (Option<i64>, Option<String>) = self.conn.query_row(
            "SELECT org_id, external_id FROM customers WHERE id = ?",
            [customer],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok((org.map(|o| self.org(o)).transpose()?, ext))
    }

    pub fn asset(&self, id: i64) -> Result<Asset> {
        let mut a = self
            .conn
            .prepare_cached(ASSET_SQL)?
            .query_row([id], asset_from_row)
            .optional()?
            .ok_or_else(|| Error::invalid("asset", format!("#{id}"), "no such asset"))?;
        a.fields = self.fields_of(Entity::Asset, id)?;
        Ok(a)
    }

    /// By number (`#12`), serial number (as written anywhere) or external id.
    pub fn find_asset(&self, key: &str) -> Result<Asset> {
        let key = key.trim();
        if let Some(id) = key.strip_prefix('#').and_then(|k| k.parse::<i64>().ok()) {
            return self.asset(id);
        }
        let found: Option<i64> = self
            .conn
            .prepare_cached(
                "SELECT id FROM assets WHERE serial_key = ?1 OR external_id = ?2
                 UNION ALL SELECT id FROM assets WHERE id = ?3 LIMIT 1",
            )?
            .query_row(
                params![serial_key(key), key, key.parse::<i64>().ok()],
                |r| r.get(0),
            )
            .optional()?;
        match found {
            Some(id) => self.asset(id),
            None => Err(Error::invalid(
                "asset",
                key.to_string(),
                "no asset has this number, serial number or external id",
            )),
        }
    }

    /// Assets of a customer (theirs, and their organisation's) or of an
    /// organisation, or all (both `None`).
    pub fn assets_of(&self, customer: Option<i64>, org: Option<i64>) -> Result<Vec<Asset>> {
        let ids: Vec<i64> = match (customer, org) {
            (Some(c), _) => self
                .conn
                .prepare_cached(
                    "SELECT id FROM assets WHERE customer_id = ?1
                       OR org_id = (SELECT org_id FROM customers WHERE id = ?1) ORDER BY id",
                )?
                .query_map([c], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?,
            (None, Some(o)) => self
                .conn
                .prepare_cached(
                    "SELECT id FROM assets WHERE org_id = ?1
                       OR customer_id IN (SELECT id FROM customers WHERE org_id = ?1) ORDER BY id",
                )?
                .query_map([o], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?,
            (None, None) => self
                .conn
                .prepare_cached("SELECT id FROM assets ORDER BY id")?
                .query_map([], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?,
        };
        ids.into_iter().map(|i| self.asset(i)).collect()
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

    /// Tickets about an asset, newest first: its repair record.
    pub fn asset_ticket_ids(&self, asset: i64) -> Result<Vec<i64>> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT id FROM tickets WHERE asset_id = ? ORDER BY created_at DESC, id DESC",
            )?
            .query_map([asset], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?)
    }

    pub fn ticket_asset(&self, ticket: i64) -> Result<Option<i64>> {
        Ok(self
            .conn
            .query_row("SELECT asset_id FROM tickets WHERE id = ?", [ticket], |r| {
                r.get(0)
            })
            .optional()?
            .flatten())
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::IdentityKind;
    use crate::store::{Settings, Store};

    /// "The one asset they own" counts the organisation's machines too, and
    /// is nothing once there are two.
    #[test]
    fn a_sole_asset_is_the_only_one_owned() {
        let mut store = Store::open_in_memory(Settings::default()).unwrap();
        let tx = store.transaction().unwrap();
        let c = tx
            .create_customer("Rosa", &[(IdentityKind::Email, "rosa@clinic.example")])
            .unwrap();
        assert_eq!(tx.sole_asset_of(c).unwrap(), None);
        let own = AssetInput {
            customer_id: Some(c),
            model: Some("VMC-850".into()),
            serial: Some("vmc 0042".into()),
            ..Default::default()
        };
        let a = tx.create_asset(&own, "t").unwrap();
        assert_eq!(tx.sole_asset_of(c).unwrap(), Some(a));
        assert_eq!(tx.asset_by_serial("VMC-0042").unwrap(), Some(a));
        let org = tx.create_org("Clinic", Some("1001"), "t").unwrap();
        assert_eq!(tx.org_by_name_or_external_id("1001").unwrap(), Some(org));
        tx.set_customer_org(c, Some(org), "t").unwrap();
        let shared = AssetInput {
            org_id: Some(org),
            model: Some("Compressor".into()),
            ..Default::default()
        };
        tx.create_asset(&shared, "t").unwrap();
        assert_eq!(tx.sole_asset_of(c).unwrap(), None);
    }
}
