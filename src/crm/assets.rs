//! Assets from a CSV file: the machines customers and organisations own,
//! matched by serial number (or the CRM's id), each owned by a customer
//! already known (by external id, email or phone) and/or an organisation.

use super::{header_key, Action, Records, Row, Target};
use crate::error::Result;
use crate::fields::Entity;
use crate::identity;
use crate::model::IdentityKind;
use crate::store::{serial_key, AssetInput, Store, Tx};

pub struct Assets;

impl Records for Assets {
    const WHAT: &'static str = "asset";
    const TARGETS: &'static str = "serial, external_id, model, purchased, warranty_until, location, customer, org, ignore or a declared asset field";

    fn target(s: &str, store: &Store) -> Option<Target> {
        Some(match header_key(s).as_str() {
            "serial" | "serial_number" | "serial_no" | "sn" | "seriennummer" => Target::Serial,
            "external_id" | "asset_id" | "asset_number" | "equipment_id" => Target::ExternalId,
            "model" | "product" | "model_name" | "type" => Target::Model,
            "purchased" | "purchase_date" | "purchased_on" | "installed" | "install_date"
            | "installation_date" => Target::Purchased,
            "warranty" | "warranty_until" | "warranty_end" | "warranty_expires" => {
                Target::WarrantyUntil
            }
            "location" | "site" | "address" => Target::Location,
            "customer"
            | "owner"
            | "customer_id"
            | "customer_email"
            | "customer_phone"
            | "customer_external_id" => Target::Owner,
            "org" | "organisation" | "organization" | "company" | "account" => Target::Org,
            "ignore" | "_" => Target::Ignore,
            key => return super::field_target(store, Entity::Asset, key, s),
        })
    }

    const KEYS: &'static [(&'static str, Target)] = &[
        ("serial", Target::Serial),
        ("external_id", Target::ExternalId),
    ];
    const KEY_HINT: &'static str = "a serial number or external id";

    fn row_key(
        row: &Row<'_>,
        key: &Target,
        _: &Tx<'_>,
    ) -> std::result::Result<Option<String>, String> {
        Ok(row.one(key).map(|v| match key {
            Target::Serial => serial_key(v),
            _ => v.to_string(),
        }))
    }

    /// Checks the row whole (owner known, dates and fields valid, a model
    /// for a new asset), then writes it; see `customers::apply`.
    fn apply(
        row: &Row<'_>,
        tx: &Tx<'_>,
        key: &Target,
        create_orgs: bool,
        agent: &str,
    ) -> Result<std::result::Result<(Action, i64, String), String>> {
        let Some(key_value) = row.one(key) else {
            return Ok(Err(format!(
                "the key column ({}) is empty",
                if *key == Target::Serial {
                    "serial"
                } else {
                    "external id"
                }
            )));
        };
        let fields = &tx.settings().fields;
        let mut values = Vec::new();
        for (i, t) in row.targets().iter().enumerate() {
            let raw = row.cell(i);
            if raw.is_empty() {
                continue;
            }
            match t {
                Target::Field(name) => match fields.parse(Entity::Asset, name, raw) {
                    Ok(v) => values.push(v),
                    Err(e) => return Ok(Err(format!("column {}: {e}", row.header(i)))),
                },
                Target::Purchased | Target::WarrantyUntil
                    if crate::fields::parse_date(raw).is_none() =>
                {
                    return Ok(Err(format!(
                        "column {}: `{}` is not a date (2027-03-31, 2027/03/31 or 31.03.2027)",
                        row.header(i),
                        crate::sanitize::line(raw)
                    )))
                }
                _ => {}
            }
        }
        let owner = match row.one(&Target::Owner) {
            None => None,
            Some(who) => match find_customer(tx, who)? {
                Some(c) => Some(c),
                None => {
                    return Ok(Err(format!(
                    "no customer `{}` (by external id, email or phone): import the customers first",
                    crate::sanitize::line(who)
                )))
                }
            },
        };
        let org = match row.one(&Target::Org) {
            None => None,
            Some(name) => match tx.org_by_name_or_external_id(name)? {
                Some(o) => Some(Ok(o)),
                None if create_orgs => Some(Err(name)),
                None => {
                    return Ok(Err(format!(
                        "organisation `{}` does not exist (create_orgs = false)",
                        crate::sanitize::line(name)
                    )))
                }
            },
        };
        let serial = row.one(&Target::Serial);
        let existing = match key {
            Target::Serial => tx.asset_by_serial(key_value)?,
            _ => tx.asset_by_external_id(key_value)?,
        };
        if let Some(s) = serial {
            if let Some(other) = tx.asset_by_serial(s)? {
                if Some(other) != existing {
                    return Ok(Err(format!(
                        "serial {} is asset #{other}'s",
                        crate::sanitize::line(s)
                    )));
                }
            }
        }
        if existing.is_none() {
            if row.one(&Target::Model).is_none() {
                return Ok(Err("a new asset needs a model".into()));
            }
            if owner.is_none() && org.is_none() {
                return Ok(Err(
                    "a new asset needs an owner: a customer or an organisation column".into(),
                ));
            }
        }
        let have = match existing {
            Some(a) => tx.field_names(Entity::Asset, a)?,
            None => Vec::new(),
        };
        let missing: Vec<&str> = fields
            .missing(Entity::Asset, |n| {
                have.iter().any(|h| h == n) || values.iter().any(|(v, _)| v == n)
            })
            .iter()
            .map(|d| d.name.as_str())
            .collect();
        if !missing.is_empty() {
            return Ok(Err(format!(
                "required asset field{} {} empty",
                if missing.len() == 1 { "" } else { "s" },
                missing.join(", ")
            )));
        }

        // Writes: nothing below refuses the row.
        let org = match org {
            Some(Ok(id)) => Some(id),
            Some(Err(name)) => Some(tx.create_org(name, None, agent)?),
            None => None,
        };
        let text = |t: &Target| row.one(t).map(str::to_string);
        let input = AssetInput {
            customer_id: owner,
            org_id: org,
            model: text(&Target::Model),
            serial: text(&Target::Serial),
            purchased: text(&Target::Purchased),
            warranty_until: text(&Target::WarrantyUntil),
            location: text(&Target::Location),
            external_id: text(&Target::ExternalId),
        };
        let (id, mut changes) = match existing {
            Some(a) => (
                a,
                tx.update_asset(a, &input, agent)?
                    .iter()
                    .map(|c| c.to_string())
                    .collect(),
            ),
            None => (tx.create_asset(&input, agent)?, Vec::new()),
        };
        for (n, v) in &values {
            if tx.set_field(Entity::Asset, id, n, v.as_ref(), agent)? {
                changes.push(n.clone());
            }
        }
        Ok(Ok(match (existing, changes.is_empty()) {
            (None, _) => (Action::Created, id, String::new()),
            (Some(_), true) => (Action::Unchanged, id, String::new()),
            (Some(_), false) => (Action::Updated, id, changes.join(", ")),
        }))
    }
}

/// A customer by the CRM's id, an email address or a phone number.
fn find_customer(tx: &Tx<'_>, who: &str) -> Result<Option<i64>> {
    if let Some(c) = tx.customer_by_external_id(who)? {
        return Ok(Some(c));
    }
    let region = tx.settings().default_region.clone();
    if who.contains('@') {
        return match identity::normalise(IdentityKind::Email, who, &region) {
            Ok(e) => tx.find_identity(IdentityKind::Email, &e),
            Err(_) => Ok(None),
        };
    }
    match identity::strict_phone(who, &region) {
        Ok(n) => Ok(match tx.find_identity(IdentityKind::Phone, &n)? {
            Some(c) => Some(c),
            None => tx.find_identity(IdentityKind::Fax, &n)?,
        }),
        Err(_) => Ok(None),
    }
}
