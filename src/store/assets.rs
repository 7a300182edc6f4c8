//! Assets (a customer's or an organisation's machines): their built-in
//! attributes, serial numbers as people write them, and the tickets
//! about each.

use rusqlite::{params, OptionalExtension};
use serde::Serialize;

use super::{Store, Tx};
use crate::error::{Error, Result};
use crate::fields::Entity;

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

/// How serial numbers compare: letters in one case, without the spaces,
/// dashes and dots people and forms put in them.
pub fn serial_key(serial: &str) -> String {
    serial
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_uppercase)
        .collect()
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

impl Tx<'_> {
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
}

impl Store {
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
