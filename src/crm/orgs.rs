//! Organisations from a CSV file (a CRM's accounts or companies list):
//! matched by the CRM's id or by name, with the email domains whose new
//! customers join them, a note, and declared organisation fields.

use super::{header_key, Action, Records, Row, Target};
use crate::error::Result;
use crate::fields::Entity;
use crate::store::{domain_of, Store, Tx};

pub struct Orgs;

/// `https://www.acme.example/about`, `@acme.example`, `acme.example` →
/// `acme.example`; several in one cell split on `,`, `;` or spaces.
fn domains(cell: &str) -> std::result::Result<Vec<String>, String> {
    let mut out = Vec::new();
    for part in cell
        .split([',', ';', ' ', '\n', '\t'])
        .filter(|p| !p.is_empty())
    {
        let host = part
            .trim_start_matches("https://")
            .trim_start_matches("http://")
            .split(['/', '?', '#'])
            .next()
            .unwrap_or("");
        let host = host.strip_prefix("www.").unwrap_or(host);
        let ok = host
            .trim_start_matches('@')
            .chars()
            .all(|c| c.is_alphanumeric() || c == '.' || c == '-');
        match domain_of(host).filter(|_| ok) {
            Some(d) if !out.contains(&d) => out.push(d),
            Some(_) => {}
            None => {
                return Err(format!(
                    "`{}` is not a domain like example.com",
                    crate::sanitize::line(part)
                ))
            }
        }
    }
    Ok(out)
}

impl Records for Orgs {
    const WHAT: &'static str = "org";
    const TARGETS: &'static str = "external_id, name, domain, note, ignore or a declared org field";

    fn target(s: &str, store: &Store) -> Option<Target> {
        Some(match header_key(s).as_str() {
            "external_id" | "account_id" | "company_id" | "org_id" | "organisation_id"
            | "organization_id" | "crm_id" | "record_id" | "id" => Target::ExternalId,
            "name" | "org" | "organisation" | "organization" | "company" | "company_name"
            | "account" | "account_name" | "organisation_name" | "organization_name" => {
                Target::Name
            }
            "domain"
            | "domains"
            | "email_domain"
            | "email_domains"
            | "website"
            | "web"
            | "website_url"
            | "company_domain_name" => Target::Domain,
            "note" | "notes" | "description" | "about" => Target::Note,
            "ignore" | "_" => Target::Ignore,
            key => return super::field_target(store, Entity::Org, key, s),
        })
    }

    const KEYS: &'static [(&'static str, Target)] =
        &[("external_id", Target::ExternalId), ("name", Target::Name)];
    const KEY_HINT: &'static str = "a name or external id";

    fn row_key(
        row: &Row<'_>,
        key: &Target,
        _: &Tx<'_>,
    ) -> std::result::Result<Option<String>, String> {
        Ok(row.one(key).map(|v| match key {
            // Names compare without case, as the store does.
            Target::Name => v.to_lowercase(),
            _ => v.to_string(),
        }))
    }

    /// Checks the row whole (a name for a new organisation, domains not
    /// another's, fields valid), then writes it; see `customers::apply`.
    fn apply(
        row: &Row<'_>,
        tx: &Tx<'_>,
        key: &Target,
        _create_orgs: bool,
        agent: &str,
    ) -> Result<std::result::Result<(Action, i64, String), String>> {
        let Some(key_value) = row.one(key) else {
            return Ok(Err(format!(
                "the key column ({}) is empty",
                if *key == Target::Name {
                    "name"
                } else {
                    "external id"
                }
            )));
        };
        let fields = &tx.settings().fields;
        let mut values = Vec::new();
        let mut doms = Vec::new();
        for (i, t) in row.targets().iter().enumerate() {
            let raw = row.cell(i);
            if raw.is_empty() {
                continue;
            }
            match t {
                Target::Field(name) => match fields.parse(Entity::Org, name, raw) {
                    Ok(v) => values.push(v),
                    Err(e) => return Ok(Err(format!("column {}: {e}", row.header(i)))),
                },
                Target::Domain => match domains(raw) {
                    Ok(d) => doms.extend(d),
                    Err(e) => return Ok(Err(format!("column {}: {e}", row.header(i)))),
                },
                _ => {}
            }
        }
        let existing = match key {
            Target::Name => tx.org_by_name(key_value)?,
            _ => tx.org_by_external_id(key_value)?,
        };
        let name = row.one(&Target::Name);
        if let (Some(n), Some(me)) = (name, existing) {
            if let Some(other) = tx.org_by_name(n)?.filter(|o| *o != me) {
                return Ok(Err(format!(
                    "the name {} is organisation #{other}'s",
                    crate::sanitize::line(n)
                )));
            }
        }
        let external = row.one(&Target::ExternalId);
        if let Some(x) = external {
            if let Some(other) = tx.org_by_external_id(x)? {
                if Some(other) != existing {
                    return Ok(Err(format!(
                        "external id {} is organisation #{other}'s",
                        crate::sanitize::line(x)
                    )));
                }
            }
        }
        let new_name = match (existing, name) {
            (None, None) => return Ok(Err("a new organisation needs a name".into())),
            (None, Some(n)) => {
                if let Some(other) = tx.org_by_name(n)? {
                    return Ok(Err(format!(
                        "the name {} is organisation #{other}'s (with another external id)",
                        crate::sanitize::line(n)
                    )));
                }
                Some(n)
            }
            _ => None,
        };
        for d in &doms {
            if let Some(owner) = tx.org_domain_owner(d)? {
                if Some(owner) != existing {
                    return Ok(Err(format!(
                        "the domain {d} belongs to organisation #{owner}"
                    )));
                }
            }
        }
        let have = match existing {
            Some(o) => tx.field_names(Entity::Org, o)?,
            None => Vec::new(),
        };
        let missing: Vec<&str> = fields
            .missing(Entity::Org, |n| {
                have.iter().any(|h| h == n) || values.iter().any(|(v, _)| v == n)
            })
            .iter()
            .map(|d| d.name.as_str())
            .collect();
        if !missing.is_empty() {
            return Ok(Err(format!(
                "required org field{} {} empty",
                if missing.len() == 1 { "" } else { "s" },
                missing.join(", ")
            )));
        }

        // Writes: nothing below refuses the row.
        let mut changes: Vec<String> = Vec::new();
        let id = match (existing, new_name) {
            (Some(o), _) => {
                if let Some(n) = name {
                    if tx.org_name(o)? != n.trim() {
                        tx.rename_org(o, n, agent)?;
                        changes.push("name".into());
                    }
                }
                if let Some(x) = external {
                    if tx.set_org_external_id(o, x, agent)? {
                        changes.push("external id".into());
                    }
                }
                o
            }
            (None, n) => tx.create_org(n.unwrap_or(key_value), external, agent)?,
        };
        for d in &doms {
            if tx.org_domain_owner(d)?.is_none() {
                tx.add_org_domain(id, d, agent)?;
                changes.push(format!("domain {d}"));
            }
        }
        if let Some(note) = row.one(&Target::Note) {
            if !tx.has_record_note(Entity::Org, id, note)? {
                tx.add_record_note(Entity::Org, id, agent, note)?;
                changes.push("note".into());
            }
        }
        for (n, v) in &values {
            if tx.set_field(Entity::Org, id, n, v.as_ref(), agent)? {
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

#[cfg(test)]
mod tests {
    #[test]
    fn domains_come_from_websites_and_addresses() {
        assert_eq!(
            super::domains("https://www.Acme.example/about; @acme.example, acme-tools.example")
                .unwrap(),
            ["acme.example", "acme-tools.example"]
        );
        assert!(super::domains("not a domain").is_err());
        assert!(super::domains("acme.example;rm -rf").is_err());
    }
}
