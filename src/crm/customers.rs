//! Customers from a CSV file: matched by external id, email or phone, one
//! customer per row, each row checked whole before its first write.

use std::collections::BTreeSet;

use super::{header_key, Action, Records, Row, Target};
use crate::error::Result;
use crate::fields::Entity;
use crate::identity;
use crate::model::IdentityKind;
use crate::store::{Store, Tx};

pub struct Customers;

impl Records for Customers {
    const WHAT: &'static str = "customer";
    const TARGETS: &'static str =
        "external_id, name, first_name, last_name, email, phone, fax, org, ignore or a declared customer field";

    fn target(s: &str, store: &Store) -> Option<Target> {
        let key = header_key(s);
        // The headers of common exports: Outlook, Google Contacts,
        // HubSpot, Salesforce, and plain spreadsheets.
        Some(match key.as_str() {
            "external_id" | "id" | "customer_id" | "crm_id" | "customer_no" | "customer_number"
            | "account_number" | "record_id" | "contact_id" | "kundennummer" => Target::ExternalId,
            "name" | "full_name" | "customer" | "contact" | "contact_name" | "display_name" => {
                Target::Name
            }
            "first_name" | "given_name" | "firstname" => Target::FirstName,
            "last_name" | "surname" | "family_name" | "lastname" => Target::LastName,
            "email" | "e_mail" | "mail" | "email_address" | "e_mail_address" | "emails"
            | "e_mail_1_value" | "email_1_value" | "e_mail_2_address" | "e_mail_3_address" => {
                Target::Email
            }
            "phone" | "mobile" | "telephone" | "tel" | "cell" | "phone_number" | "phones"
            | "mobile_phone" | "business_phone" | "home_phone" | "phone_1_value"
            | "phone_2_value" => Target::Phone,
            "fax" | "fax_number" | "faxes" | "business_fax" | "home_fax" => Target::Fax,
            "org"
            | "organisation"
            | "organization"
            | "company"
            | "company_name"
            | "account"
            | "account_name"
            | "organization_1_name"
            | "organisation_1_name" => Target::Org,
            "ignore" | "_" => Target::Ignore,
            _ => return super::field_target(store, Entity::Customer, &key, s),
        })
    }

    const KEYS: &'static [(&'static str, Target)] = &[
        ("external_id", Target::ExternalId),
        ("email", Target::Email),
        ("phone", Target::Phone),
    ];
    const KEY_HINT: &'static str = "an external id, email or phone";

    fn row_key(
        row: &Row<'_>,
        key: &Target,
        tx: &Tx<'_>,
    ) -> std::result::Result<Option<String>, String> {
        let region = &tx.settings().default_region;
        Ok(match key {
            Target::ExternalId => row.one(key).map(str::to_string),
            Target::Email => identities(row, key, IdentityKind::Email, region)?
                .into_iter()
                .next(),
            _ => identities(row, key, IdentityKind::Phone, region)?
                .into_iter()
                .next(),
        })
    }

    fn apply(
        row: &Row<'_>,
        tx: &Tx<'_>,
        key: &Target,
        create_orgs: bool,
        agent: &str,
    ) -> Result<std::result::Result<(Action, i64, String), String>> {
        apply(row, tx, key, create_orgs, agent)
    }
}

/// Identities of one kind: a cell may hold several, split by `;`
/// (and `,` for addresses).
fn identities(
    row: &Row<'_>,
    t: &Target,
    kind: IdentityKind,
    region: &str,
) -> std::result::Result<Vec<String>, String> {
    let mut out = Vec::new();
    for (col, v) in row.cells_for(t) {
        let parts: Vec<&str> = if kind == IdentityKind::Email {
            v.split([';', ',']).collect()
        } else {
            v.split(';').collect()
        };
        for p in parts.into_iter().map(str::trim).filter(|p| !p.is_empty()) {
            let n = match kind {
                IdentityKind::Email => identity::normalise(kind, p, region),
                _ => identity::strict_phone(p, region),
            }
            .map_err(|e| format!("column {col}: `{}`: {e}", crate::sanitize::line(p)))?;
            if !out.contains(&n) {
                out.push(n);
            }
        }
    }
    Ok(out)
}

/// Checks the row, then writes it. Every reason to refuse a row is
/// found before its first write (the inner `Err`), so a refused row
/// has written nothing and no savepoint is needed; an error from the
/// store itself (the outer `Err`) stops the import, whose transaction
/// then rolls back whole.
fn apply(
    row: &Row<'_>,
    tx: &Tx<'_>,
    key: &Target,
    create_orgs: bool,
    agent: &str,
) -> Result<std::result::Result<(Action, i64, String), String>> {
    let region = tx.settings().default_region.clone();
    let mut ids: Vec<(IdentityKind, String)> = Vec::new();
    for (t, kind) in [
        (Target::Email, IdentityKind::Email),
        (Target::Phone, IdentityKind::Phone),
        (Target::Fax, IdentityKind::Fax),
    ] {
        match identities(row, &t, kind, &region) {
            Ok(vs) => ids.extend(vs.into_iter().map(|v| (kind, v))),
            Err(why) => return Ok(Err(why)),
        }
    }
    let external = row.one(&Target::ExternalId);
    if *key == Target::ExternalId && external.is_none() {
        return Ok(Err("the key column (external id) is empty".into()));
    }
    if *key != Target::ExternalId && ids.is_empty() {
        return Ok(Err(
            "no email or phone number to match the customer by".into()
        ));
    }
    let fields = &tx.settings().fields;
    let mut values = Vec::new();
    for (i, t) in row.targets().iter().enumerate() {
        if let Target::Field(name) = t {
            let raw = row.cell(i);
            if raw.is_empty() {
                continue;
            }
            match fields.parse(Entity::Customer, name, raw) {
                Ok(v) => values.push(v),
                Err(e) => return Ok(Err(format!("column {}: {e}", row.header(i)))),
            }
        }
    }
    // Who the row is: by its external id, and by every identity.
    let mut owners: BTreeSet<i64> = BTreeSet::new();
    let mut why: Vec<String> = Vec::new();
    if let Some(x) = external {
        if let Some(c) = tx.customer_by_external_id(x)? {
            owners.insert(c);
            why.push(format!("#{c} by external id {x}"));
        }
    }
    for (kind, v) in &ids {
        let kinds: &[IdentityKind] = if *kind == IdentityKind::Fax {
            &[IdentityKind::Fax, IdentityKind::Phone]
        } else {
            std::slice::from_ref(kind)
        };
        for k in kinds {
            if let Some(c) = tx.find_identity(*k, v)? {
                if owners.insert(c) {
                    why.push(format!("#{c} by {v}"));
                }
            }
        }
    }
    if owners.len() > 1 {
        let list: Vec<String> = owners.iter().map(|o| o.to_string()).collect();
        return Ok(Err(format!(
            "matches several customers ({}); merge them first (`echodesk customer merge {}`)",
            why.join(", "),
            list.join(" ")
        )));
    }
    let existing = owners.iter().next().copied();
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
    let have = match existing {
        Some(c) => tx.field_names(Entity::Customer, c)?,
        None => Vec::new(),
    };
    let missing: Vec<&str> = fields
        .missing(Entity::Customer, |n| {
            have.iter().any(|h| h == n) || values.iter().any(|(v, _)| v == n)
        })
        .iter()
        .map(|d| d.name.as_str())
        .collect();
    if !missing.is_empty() {
        return Ok(Err(format!(
            "required field{} {} empty",
            if missing.len() == 1 { "" } else { "s" },
            missing.join(", ")
        )));
    }
    let name = row.one(&Target::Name).map(str::to_string).or_else(|| {
        let parts: Vec<&str> = [row.one(&Target::FirstName), row.one(&Target::LastName)]
            .into_iter()
            .flatten()
            .collect();
        (!parts.is_empty()).then(|| parts.join(" "))
    });

    // Writes: nothing below refuses the row.
    let mut changes: Vec<String> = Vec::new();
    let created = existing.is_none();
    let customer = match existing {
        Some(c) => {
            if let Some(n) = &name {
                if tx.set_customer_name(c, n, agent)? {
                    changes.push("name".into());
                }
            }
            for (kind, v) in &ids {
                if tx.find_identity(*kind, v)?.is_none() {
                    tx.add_identity(c, *kind, v)?;
                    changes.push(v.clone());
                }
            }
            c
        }
        None => {
            let fallback = ids
                .first()
                .map(|(_, v)| v.clone())
                .or(external.map(str::to_string))
                .unwrap_or_default();
            let shown = name.clone().unwrap_or(fallback);
            let refs: Vec<(IdentityKind, &str)> =
                ids.iter().map(|(k, v)| (*k, v.as_str())).collect();
            tx.create_customer(&shown, &refs)?
        }
    };
    if let Some(x) = external {
        if tx.set_customer_external_id(customer, Some(x), agent)? {
            changes.push("external id".into());
        }
    }
    if let Some(org) = org {
        let id = match org {
            Ok(id) => id,
            Err(name) => tx.create_org(name, None, agent)?,
        };
        if tx.set_customer_org(customer, Some(id), agent)? {
            changes.push("org".into());
        }
    }
    for (n, v) in &values {
        if tx.set_field(Entity::Customer, customer, n, v.as_ref(), agent)? {
            changes.push(n.clone());
        }
    }
    Ok(Ok(if created {
        (Action::Created, customer, String::new())
    } else if changes.is_empty() {
        (Action::Unchanged, customer, String::new())
    } else {
        (Action::Updated, customer, changes.join(", "))
    }))
}
