//! Organisations: their names, external ids and email domains, the
//! people in them, and which organisation a mail address belongs to.

use rusqlite::{params, OptionalExtension};
use serde::Serialize;

use super::{Store, Tx};
use crate::error::{Error, Result};
use crate::fields::Entity;

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

/// `example.com` from `alice@Example.COM` or `@example.com`.
pub fn domain_of(address: &str) -> Option<String> {
    let d = address.rsplit_once('@').map_or(address, |(_, d)| d).trim();
    (!d.is_empty() && d.contains('.')).then(|| d.to_ascii_lowercase())
}

impl Tx<'_> {
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
}

impl Store {
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
}
