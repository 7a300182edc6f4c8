//! The query terms that reach past the ticket into the customer file:
//! `org:`, `asset:` and `customer.` / `org.` / `asset.` / `ticket.` fields,
//! built in or declared. A value is checked against its field's type here,
//! where the declarations are known, so `customer.tier:platinum` fails
//! with the choices instead of matching nothing.

use rusqlite::types::Value as Sql;

use super::assets::serial_key;
use super::Store;
use crate::error::{Error, Result};
use crate::fields::{Entity, Kind};
use crate::query::Op;

/// A built-in attribute: its column and whether it holds a date.
fn built_in(entity: Entity, name: &str) -> Option<(&'static str, Kind)> {
    Some(match (entity, name) {
        (Entity::Customer, "name") => ("name", Kind::Text),
        (Entity::Customer, "external_id") => ("external_id", Kind::Text),
        (Entity::Org, "name") => ("name", Kind::Text),
        (Entity::Org, "external_id") => ("external_id", Kind::Text),
        (Entity::Asset, "model") => ("model", Kind::Text),
        (Entity::Asset, "serial") => ("serial_key", Kind::Text),
        (Entity::Asset, "purchased") => ("purchased", Kind::Date),
        (Entity::Asset, "warranty_until") => ("warranty_until", Kind::Date),
        (Entity::Asset, "location") => ("location", Kind::Text),
        (Entity::Asset, "external_id") => ("external_id", Kind::Text),
        _ => return None,
    })
}

impl Store {
    pub(super) fn org_clause(&self, v: &str, params: &mut Vec<Sql>) -> String {
        match self.org_ids(v, params) {
            None => "t.customer_id IN (SELECT id FROM customers WHERE org_id IS NULL)".into(),
            Some(ids) => {
                format!("t.customer_id IN (SELECT id FROM customers WHERE org_id IN ({ids}))")
            }
        }
    }

    /// The organisations `org:v` names, as a subquery; `None` for `none`.
    pub(super) fn org_ids(&self, v: &str, params: &mut Vec<Sql>) -> Option<String> {
        if v.eq_ignore_ascii_case("none") {
            return None;
        }
        let key = v.trim();
        let id = key.trim_start_matches('#').parse::<i64>().ok();
        for p in [
            Sql::from(key.to_string()),
            key.to_string().into(),
            id.into(),
            key.to_string().into(),
        ] {
            params.push(p);
        }
        Some(
            "SELECT id FROM orgs WHERE name = ? OR external_id = ? OR id = ?
             UNION SELECT org_id FROM org_domains WHERE domain = lower(?)"
                .to_string(),
        )
    }

    pub(super) fn asset_clause(&self, v: &str, params: &mut Vec<Sql>) -> String {
        match v.to_ascii_lowercase().as_str() {
            "none" => return "t.asset_id IS NULL".into(),
            "any" => return "t.asset_id IS NOT NULL".into(),
            _ => {}
        }
        format!("t.asset_id IN ({})", self.asset_ids(v, params))
    }

    /// The asset `asset:v` names (number, serial or external id), as a subquery.
    pub(super) fn asset_ids(&self, v: &str, params: &mut Vec<Sql>) -> String {
        let id = v.strip_prefix('#').and_then(|n| n.parse::<i64>().ok());
        params.push(id.into());
        params.push(serial_key(v).into());
        params.push(v.trim().to_string().into());
        "SELECT id FROM assets WHERE id = ? OR serial_key = ? OR external_id = ?".into()
    }

    /// `entity.name OP value` for tickets (`t`).
    pub(super) fn field_clause(
        &self,
        entity: Entity,
        name: &str,
        op: Op,
        raw: &str,
        now: i64,
        params: &mut Vec<Sql>,
    ) -> Result<String> {
        let owners = self.field_owners(entity, name, op, raw, now, params)?;
        Ok(match entity {
            Entity::Customer => format!("t.customer_id IN ({owners})"),
            Entity::Org => {
                format!("t.customer_id IN (SELECT id FROM customers WHERE org_id IN ({owners}))")
            }
            Entity::Asset => format!("t.asset_id IN ({owners})"),
            Entity::Ticket => format!("t.id IN ({owners})"),
        })
    }

    /// The records whose field `name` compares with the value, as a
    /// subquery of their ids; the value is checked against the field's type.
    pub(super) fn field_owners(
        &self,
        entity: Entity,
        name: &str,
        op: Op,
        raw: &str,
        now: i64,
        params: &mut Vec<Sql>,
    ) -> Result<String> {
        let bad = |why: String| Error::invalid("query", format!("{}.{name}", entity.as_str()), why);
        let (source, kind) = match built_in(entity, name) {
            Some((col, kind)) => (Source::Column(col), kind),
            None => {
                let def = self
                    .settings
                    .fields
                    .def(entity, name)
                    .map_err(|e| bad(e.to_string()))?;
                (Source::Field(def.name.clone()), def.kind)
            }
        };
        let prefix = raw.ends_with('*') && matches!(kind, Kind::Text | Kind::Choice);
        let value: Sql = match kind {
            Kind::Date => self.date_value(raw, now).map_err(bad)?.into(),
            Kind::Number => raw
                .trim()
                .parse::<f64>()
                .map_err(|_| bad(format!("`{raw}` is not a number")))?
                .into(),
            Kind::YesNo => match raw.to_ascii_lowercase().as_str() {
                "yes" | "y" | "true" | "1" => "yes".to_string().into(),
                "no" | "n" | "false" | "0" => "no".to_string().into(),
                _ => return Err(bad(format!("`{raw}` is not yes or no"))),
            },
            Kind::Choice if !prefix => {
                let def = self.settings.fields.get(entity, name);
                let choices = def.map(|d| d.choices.as_slice()).unwrap_or_default();
                match choices.iter().find(|c| c.eq_ignore_ascii_case(raw)) {
                    Some(c) => c.clone().into(),
                    None => {
                        return Err(bad(format!("`{raw}` is not one of {}", choices.join(", "))))
                    }
                }
            }
            _ if matches!(source, Source::Column("serial_key")) => serial_key(raw).into(),
            _ if prefix => {
                let stem = raw.trim_end_matches('*').to_lowercase();
                let escaped = stem
                    .replace('\\', "\\\\")
                    .replace('%', "\\%")
                    .replace('_', "\\_");
                format!("{escaped}%").into()
            }
            _ => raw.to_string().into(),
        };
        let cmp = if prefix {
            "LIKE ? ESCAPE '\\'".to_string()
        } else if matches!(kind, Kind::Text | Kind::Choice) {
            format!("{} ? COLLATE NOCASE", op.sql())
        } else {
            format!("{} ?", op.sql())
        };
        Ok(match &source {
            Source::Column(col) => {
                params.push(value);
                let table = match entity {
                    Entity::Customer => "customers",
                    Entity::Org => "orgs",
                    Entity::Asset => "assets",
                    Entity::Ticket => "tickets",
                };
                format!("SELECT id FROM {table} WHERE {col} {cmp}")
            }
            Source::Field(n) => {
                params.push(entity.as_str().to_string().into());
                params.push(n.clone().into());
                params.push(value);
                format!(
                    "SELECT owner FROM field_values WHERE entity = ? AND name = ? AND value {cmp}"
                )
            }
        })
    }

    /// A date term's value: a date, `today`, or days from today on the
    /// team's calendar (`30d` is thirty days ahead, `-7d` a week ago).
    fn date_value(&self, raw: &str, now: i64) -> std::result::Result<String, String> {
        let raw = raw.trim().to_ascii_lowercase();
        let today = crate::clock::date_of(self.settings.zone.day(now));
        if raw == "today" {
            return Ok(today.format("%Y-%m-%d").to_string());
        }
        if let Some(d) = crate::fields::parse_date(&raw) {
            return Ok(d.format("%Y-%m-%d").to_string());
        }
        let (sign, rest) = match raw.strip_prefix('-') {
            Some(r) => (-1, r),
            None => (1, raw.trim_start_matches('+')),
        };
        let days = match rest.chars().last() {
            Some('d') => rest[..rest.len() - 1].parse::<i64>().ok(),
            Some('w') => rest[..rest.len() - 1].parse::<i64>().ok().map(|w| w * 7),
            _ => None,
        }
        .filter(|d| d.abs() < 100_000)
        .ok_or_else(|| {
            format!(
                "`{raw}` is not a date; use 2027-03-31, today, or days from today like 30d or -7d"
            )
        })?;
        Ok((today + chrono::Duration::days(sign * days))
            .format("%Y-%m-%d")
            .to_string())
    }
}

enum Source {
    Column(&'static str),
    Field(String),
}
