//! Customers and their identities.

use rusqlite::{params, OptionalExtension};

use super::{Store, Tx};
use crate::error::{Error, Result};
use crate::identity;
use crate::model::{Customer, Identity, IdentityKind};

impl Tx<'_> {
    /// The customer owning this normalised identity, if any.
    pub fn find_identity(&self, kind: IdentityKind, value: &str) -> Result<Option<i64>> {
        Ok(self
            .tx
            .prepare_cached("SELECT customer_id FROM identities WHERE kind = ? AND value = ?")?
            .query_row([kind.as_str(), value], |r| r.get(0))
            .optional()?)
    }

    pub fn create_customer(&self, name: &str, identities: &[(IdentityKind, &str)]) -> Result<i64> {
        self.tx
            .prepare_cached("INSERT INTO customers (name, created_at) VALUES (?, ?)")?
            .execute(params![name, self.now()])?;
        let id = self.tx.last_insert_rowid();
        for (kind, value) in identities {
            self.tx
                .prepare_cached(
                    "INSERT INTO identities (customer_id, kind, value) VALUES (?, ?, ?)",
                )?
                .execute(params![id, kind.as_str(), value])?;
        }
        // A new customer at an organisation's domain is one of its people.
        for (kind, value) in identities {
            if *kind == IdentityKind::Email {
                if let Some(org) = self.org_for_address(value)? {
                    self.tx
                        .prepare_cached("UPDATE customers SET org_id = ? WHERE id = ?")?
                        .execute(params![org, id])?;
                    break;
                }
            }
        }
        Ok(id)
    }

    /// Adds an identity to a customer (no-op if it is already theirs).
    pub fn add_identity(&self, customer_id: i64, kind: IdentityKind, value: &str) -> Result<()> {
        let n = self
            .tx
            .prepare_cached(
                "INSERT INTO identities (customer_id, kind, value) VALUES (?, ?, ?)
                 ON CONFLICT (kind, value) DO NOTHING",
            )?
            .execute(params![customer_id, kind.as_str(), value])?;
        if n > 0 {
            self.mark_customer_dirty(customer_id)?;
        }
        Ok(())
    }

    /// Customer names and addresses are part of their tickets' search
    /// documents.
    pub(super) fn mark_customer_dirty(&self, customer_id: i64) -> Result<()> {
        let ids: Vec<i64> = self
            .tx
            .prepare_cached("SELECT id FROM tickets WHERE customer_id = ?")?
            .query_map([customer_id], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        for id in ids {
            self.mark_dirty(id);
        }
        Ok(())
    }

    /// Moves everything of `other` to `keep`: identities, tickets and their
    /// history. `other` is deleted; every moved ticket gets an audit event.
    pub fn merge_customers(&self, keep: i64, other: i64, agent: &str) -> Result<usize> {
        if keep == other {
            return Err(Error::invalid(
                "customer merge",
                other.to_string(),
                "a customer cannot be merged into itself",
            ));
        }
        for id in [keep, other] {
            let exists: bool = self.tx.query_row(
                "SELECT EXISTS(SELECT 1 FROM customers WHERE id = ?)",
                [id],
                |r| r.get(0),
            )?;
            if !exists {
                return Err(Error::CustomerNotFound(id.to_string()));
            }
        }
        let tickets: Vec<i64> = self
            .tx
            .prepare("SELECT id FROM tickets WHERE customer_id = ?")?
            .query_map([other], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        let (o, k) = (other.to_string(), keep.to_string());
        for t in &tickets {
            self.event(Some(*t), agent, "customer", Some(&o), Some(&k))?;
        }
        self.tx.execute(
            "UPDATE tickets SET customer_id = ?, version = version + 1 WHERE customer_id = ?",
            [keep, other],
        )?;
        self.tx.execute(
            "UPDATE identities SET customer_id = ? WHERE customer_id = ?",
            [keep, other],
        )?;
        self.tx.execute(
            "UPDATE events SET customer_id = ? WHERE customer_id = ?",
            [keep, other],
        )?;
        // Their surveys are the merged customer's now (answers, and the
        // once-per-period rule).
        self.tx.execute(
            "UPDATE surveys SET customer_id = ? WHERE customer_id = ?",
            [keep, other],
        )?;
        self.merge_records(keep, other)?;
        self.tx
            .execute("DELETE FROM customers WHERE id = ?", [other])?;
        self.tx.execute(
            "INSERT INTO events (customer_id, at, agent, kind, old, new) VALUES (?, ?, ?, 'customer-merge', ?, ?)",
            params![keep, self.now(), agent, o, k],
        )?;
        self.mark_customer_dirty(keep)?;
        Ok(tickets.len())
    }
}

impl Store {
    /// The channel and address to reach a customer on: `channel` if given
    /// (a phone number serves SMS and fax alike), else their preferred
    /// channel, else email, SMS, fax, in that order.
    pub fn customer_contact(
        &self,
        id: i64,
        channel: Option<crate::model::Channel>,
    ) -> Result<Option<(crate::model::Channel, String)>> {
        use crate::model::Channel;
        let customer = self.customer(id)?;
        let preferred: Option<String> = self.conn.query_row(
            "SELECT preferred_channel FROM customers WHERE id = ?",
            [id],
            |r| r.get(0),
        )?;
        let order: Vec<Channel> = match channel {
            Some(c) => vec![c],
            None => preferred
                .as_deref()
                .and_then(Channel::parse)
                .into_iter()
                .chain([Channel::Email, Channel::Sms, Channel::Fax])
                .collect(),
        };
        for ch in order {
            let kinds: &[IdentityKind] = match ch {
                Channel::Email => &[IdentityKind::Email],
                Channel::Sms => &[IdentityKind::Phone],
                Channel::Fax => &[IdentityKind::Fax, IdentityKind::Phone],
            };
            for k in kinds {
                if let Some(i) = customer.identities.iter().find(|i| i.kind == *k) {
                    return Ok(Some((ch, i.value.clone())));
                }
            }
        }
        Ok(None)
    }

    pub fn customer(&self, id: i64) -> Result<Customer> {
        let (name, created_at) = self
            .conn
            .prepare_cached("SELECT name, created_at FROM customers WHERE id = ?")?
            .query_row([id], |r| Ok((r.get::<_, String>(0)?, r.get(1)?)))
            .optional()?
            .ok_or_else(|| Error::CustomerNotFound(id.to_string()))?;
        let identities = self
            .conn
            .prepare_cached(
                "SELECT kind, value FROM identities WHERE customer_id = ? ORDER BY kind, value",
            )?
            .query_map([id], |r| {
                let kind: String = r.get(0)?;
                Ok(Identity {
                    kind: IdentityKind::parse(&kind).unwrap_or(IdentityKind::Email),
                    value: r.get(1)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(Customer {
            id,
            name,
            created_at,
            identities,
        })
    }

    /// Finds a customer by number, the CRM's external id, or any of their
    /// addresses as typed.
    pub fn find_customer(&self, key: &str) -> Result<Customer> {
        if let Ok(id) = key.trim_start_matches('#').parse::<i64>() {
            if key.len() < 7 || key.starts_with('#') {
                return self.customer(id);
            }
        }
        let external: Option<i64> = self
            .conn
            .prepare_cached("SELECT id FROM customers WHERE external_id = ?")?
            .query_row([key.trim()], |r| r.get(0))
            .optional()?;
        if let Some(id) = external {
            return self.customer(id);
        }
        let kind = identity::guess_kind(key);
        let kinds: &[IdentityKind] = match kind {
            IdentityKind::Email => &[IdentityKind::Email],
            _ => &[IdentityKind::Phone, IdentityKind::Fax],
        };
        for k in kinds {
            if let Ok(v) = identity::normalise(*k, key, &self.settings.default_region) {
                let found: Option<i64> = self
                    .conn
                    .prepare_cached(
                        "SELECT customer_id FROM identities WHERE kind = ? AND value = ?",
                    )?
                    .query_row([k.as_str(), v.as_str()], |r| r.get(0))
                    .optional()?;
                if let Some(id) = found {
                    return self.customer(id);
                }
            }
        }
        Err(Error::CustomerNotFound(key.to_string()))
    }
}
