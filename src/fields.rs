//! Custom fields: what the config declares for customers, organisations,
//! assets and tickets (`[[field]]`), and the one place a value written to
//! any of them is read, checked and normalised. Every writer (the CLI,
//! the TUI, a CSV import, a rule) goes through [`Fields::parse`], so a
//! value is stored the same way whoever typed it, and an error names the
//! field and says what it takes.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// What a field belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Entity {
    Customer,
    #[serde(alias = "organisation", alias = "organization")]
    Org,
    Asset,
    Ticket,
}

impl Entity {
    pub const ALL: [Entity; 4] = [Entity::Customer, Entity::Org, Entity::Asset, Entity::Ticket];

    pub fn as_str(self) -> &'static str {
        match self {
            Entity::Customer => "customer",
            Entity::Org => "org",
            Entity::Asset => "asset",
            Entity::Ticket => "ticket",
        }
    }

    pub fn parse(s: &str) -> Option<Entity> {
        match s.to_ascii_lowercase().as_str() {
            "customer" => Some(Entity::Customer),
            "org" | "organisation" | "organization" => Some(Entity::Org),
            "asset" => Some(Entity::Asset),
            "ticket" => Some(Entity::Ticket),
            _ => None,
        }
    }
}

/// The kind of value a field holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Text,
    Number,
    Date,
    /// One of the field's `choices`.
    Choice,
    #[serde(rename = "yes/no", alias = "bool", alias = "boolean", alias = "yesno")]
    YesNo,
}

impl Kind {
    fn describe(self) -> &'static str {
        match self {
            Kind::Text => "text",
            Kind::Number => "a number",
            Kind::Date => "a date (2027-03-31)",
            Kind::Choice => "one of its choices",
            Kind::YesNo => "yes or no",
        }
    }
}

/// One `[[field]]` of the config.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FieldDef {
    /// customer, org, asset or ticket.
    pub on: Entity,
    /// The key in queries (`customer.tier:gold`), CSV maps and `--set`.
    pub name: String,
    /// What people read; the name when absent.
    #[serde(default)]
    pub label: Option<String>,
    #[serde(rename = "type")]
    pub kind: Kind,
    #[serde(default)]
    pub choices: Vec<String>,
    /// Edits and imports that would leave it empty are refused. Records
    /// the mail creates (a new customer writing in) are not held to it.
    #[serde(default)]
    pub required: bool,
}

impl FieldDef {
    pub fn label(&self) -> &str {
        self.label.as_deref().unwrap_or(&self.name)
    }
}

/// A checked value, as stored: text and choices as text, numbers as
/// numbers, dates as `YYYY-MM-DD` text (so they sort and compare), yes/no
/// as 1 and 0.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Text(String),
    Number(f64),
    Date(NaiveDate),
    YesNo(bool),
}

impl Value {
    /// How it is written back: to a person, a CSV cell or a query.
    pub fn display(&self) -> String {
        match self {
            Value::Text(s) => s.clone(),
            Value::Number(n) => format_number(*n),
            Value::Date(d) => d.format("%Y-%m-%d").to_string(),
            Value::YesNo(b) => if *b { "yes" } else { "no" }.to_string(),
        }
    }
}

/// Whole numbers without a fraction, others as Rust prints them.
pub fn format_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

#[derive(Debug, Error, PartialEq)]
pub enum FieldError {
    #[error("{entity} field `{name}`: {why}")]
    Value {
        entity: &'static str,
        name: String,
        why: String,
    },
    #[error("unknown {entity} field `{name}`; {known}")]
    Unknown {
        entity: &'static str,
        name: String,
        known: String,
    },
    #[error("[[field]] `{name}`: {why}")]
    Definition { name: String, why: String },
}

/// The declared fields, checked once when the config loads.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Fields {
    defs: Vec<FieldDef>,
}

/// Names the records have built in: a custom field may not take one.
fn built_in(entity: Entity) -> &'static [&'static str] {
    match entity {
        Entity::Customer => &["id", "name", "email", "phone", "fax", "org", "external_id"],
        Entity::Org => &["id", "name", "domain", "domains", "external_id"],
        Entity::Asset => &[
            "id",
            "model",
            "serial",
            "purchased",
            "warranty_until",
            "location",
            "customer",
            "org",
            "external_id",
        ],
        Entity::Ticket => &["id", "state", "subject", "asset"],
    }
}

impl Fields {
    pub fn new(defs: Vec<FieldDef>) -> Result<Fields, FieldError> {
        for (i, d) in defs.iter().enumerate() {
            let bad = |why: &str| FieldError::Definition {
                name: d.name.clone(),
                why: why.to_string(),
            };
            let ok_name = !d.name.is_empty()
                && d.name.len() <= 64
                && d.name.starts_with(|c: char| c.is_ascii_lowercase())
                && d.name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            if !ok_name {
                return Err(bad(
                    "a name is lower-case letters, digits and `_`, starting with a letter",
                ));
            }
            if built_in(d.on).contains(&d.name.as_str()) {
                return Err(bad(&format!(
                    "`{}` is built into every {}; choose another name",
                    d.name,
                    d.on.as_str()
                )));
            }
            if defs[..i].iter().any(|e| e.on == d.on && e.name == d.name) {
                return Err(bad(&format!("declared twice for {}", d.on.as_str())));
            }
            match (d.kind, d.choices.is_empty()) {
                (Kind::Choice, true) => return Err(bad("type = \"choice\" needs `choices`")),
                (Kind::Choice, false) => {}
                (_, false) => return Err(bad("`choices` is only for type = \"choice\"")),
                (_, true) => {}
            }
        }
        Ok(Fields { defs })
    }

    pub fn of(&self, entity: Entity) -> impl Iterator<Item = &FieldDef> {
        self.defs.iter().filter(move |d| d.on == entity)
    }

    pub fn get(&self, entity: Entity, name: &str) -> Option<&FieldDef> {
        self.defs
            .iter()
            .find(|d| d.on == entity && d.name.eq_ignore_ascii_case(name))
    }

    /// The definition of `name`, or an error that lists the known ones.
    pub fn def(&self, entity: Entity, name: &str) -> Result<&FieldDef, FieldError> {
        self.get(entity, name).ok_or_else(|| {
            let names: Vec<&str> = self.of(entity).map(|d| d.name.as_str()).collect();
            FieldError::Unknown {
                entity: entity.as_str(),
                name: name.to_string(),
                known: if names.is_empty() {
                    format!(
                        "no {} fields are declared ([[field]] on = \"{}\" in the config)",
                        entity.as_str(),
                        entity.as_str()
                    )
                } else {
                    format!("known: {}", names.join(", "))
                },
            }
        })
    }

    /// Reads what someone typed (or a CSV cell) for field `name`. An empty
    /// value is `None`: the field is cleared (refused when required).
    pub fn parse(
        &self,
        entity: Entity,
        name: &str,
        raw: &str,
    ) -> Result<(String, Option<Value>), FieldError> {
        let def = self.def(entity, name)?;
        let raw = raw.trim();
        let err = |why: String| FieldError::Value {
            entity: entity.as_str(),
            name: def.name.clone(),
            why,
        };
        if raw.is_empty() {
            if def.required {
                return Err(err("is required".into()));
            }
            return Ok((def.name.clone(), None));
        }
        let v = parse_kind(def, raw).map_err(err)?;
        Ok((def.name.clone(), Some(v)))
    }

    /// The required fields of `entity` that `has` says are missing.
    pub fn missing(&self, entity: Entity, has: impl Fn(&str) -> bool) -> Vec<&FieldDef> {
        self.of(entity)
            .filter(|d| d.required && !has(&d.name))
            .collect()
    }
}

fn parse_kind(def: &FieldDef, raw: &str) -> Result<Value, String> {
    let kind = def.kind;
    let not = |extra: &str| format!("`{raw}` is not {}{extra}", kind.describe());
    match kind {
        Kind::Text => {
            if raw.chars().count() > 2000 {
                return Err("is longer than 2,000 characters".into());
            }
            if raw
                .chars()
                .any(|c| c.is_control() && c != '\n' && c != '\t')
            {
                return Err("contains control characters".into());
            }
            Ok(Value::Text(raw.to_string()))
        }
        Kind::Number => {
            let cleaned: String = raw.chars().filter(|c| *c != '_' && *c != ' ').collect();
            match cleaned.parse::<f64>() {
                Ok(n) if n.is_finite() => Ok(Value::Number(n)),
                _ if cleaned.contains(',') => {
                    Err(not(" (use `.` for decimals, no thousands separator)"))
                }
                _ => Err(not("")),
            }
        }
        Kind::Date => parse_date(raw)
            .map(Value::Date)
            .ok_or_else(|| not("; dates are written 2027-03-31, 2027/03/31 or 31.03.2027")),
        Kind::Choice => def
            .choices
            .iter()
            .find(|c| c.eq_ignore_ascii_case(raw))
            .map(|c| Value::Text(c.clone()))
            .ok_or_else(|| format!("`{raw}` is not one of {}", def.choices.join(", "))),
        Kind::YesNo => match raw.to_ascii_lowercase().as_str() {
            "yes" | "y" | "true" | "1" | "on" => Ok(Value::YesNo(true)),
            "no" | "n" | "false" | "0" | "off" => Ok(Value::YesNo(false)),
            _ => Err(not("")),
        },
    }
}

/// Dates as people and spreadsheets write them without ambiguity: ISO
/// (with `-` or `/`), day.month.year, and ISO date-times (the date part).
/// `03/04/2027` is refused rather than guessed: the US and most of the
/// world read it differently.
pub fn parse_date(raw: &str) -> Option<NaiveDate> {
    let raw = raw.trim();
    let date_part = raw.split(['T', ' ']).next().unwrap_or(raw);
    for fmt in ["%Y-%m-%d", "%Y/%m/%d", "%d.%m.%Y"] {
        if let Ok(d) = NaiveDate::parse_from_str(date_part, fmt) {
            return Some(d);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defs() -> Fields {
        let toml = r#"
            [[field]]
            on = "customer"
            name = "tier"
            type = "choice"
            choices = ["bronze", "silver", "gold"]
            required = true
            [[field]]
            on = "asset"
            name = "service_due"
            type = "date"
            [[field]]
            on = "ticket"
            name = "order_no"
            type = "number"
            [[field]]
            on = "org"
            name = "key_account"
            type = "yes/no"
        "#;
        #[derive(Deserialize)]
        struct F {
            field: Vec<FieldDef>,
        }
        Fields::new(toml::from_str::<F>(toml).unwrap().field).unwrap()
    }

    #[test]
    fn values_are_checked_and_normalised() {
        let f = defs();
        assert_eq!(
            f.parse(Entity::Customer, "Tier", " GOLD ").unwrap(),
            ("tier".into(), Some(Value::Text("gold".into())))
        );
        let e = f.parse(Entity::Customer, "tier", "platinum").unwrap_err();
        assert_eq!(
            e.to_string(),
            "customer field `tier`: `platinum` is not one of bronze, silver, gold"
        );
        assert_eq!(
            f.parse(Entity::Customer, "tier", "")
                .unwrap_err()
                .to_string(),
            "customer field `tier`: is required"
        );
        assert_eq!(
            f.parse(Entity::Asset, "service_due", "31.03.2027")
                .unwrap()
                .1,
            Some(Value::Date(NaiveDate::from_ymd_opt(2027, 3, 31).unwrap()))
        );
        assert!(f.parse(Entity::Asset, "service_due", "03/04/2027").is_err());
        assert_eq!(
            f.parse(Entity::Ticket, "order_no", "12_345").unwrap().1,
            Some(Value::Number(12345.0))
        );
        assert!(f
            .parse(Entity::Ticket, "order_no", "1,5")
            .unwrap_err()
            .to_string()
            .contains("use `.` for decimals"));
        assert_eq!(
            f.parse(Entity::Org, "key_account", "Yes").unwrap().1,
            Some(Value::YesNo(true))
        );
        assert_eq!(f.parse(Entity::Asset, "service_due", "").unwrap().1, None);
        let unknown = f.parse(Entity::Asset, "colour", "red").unwrap_err();
        assert_eq!(
            unknown.to_string(),
            "unknown asset field `colour`; known: service_due"
        );
        assert!(f.parse(Entity::Customer, "tier", "gold\u{1b}[2J").is_err());
    }

    #[test]
    fn bad_definitions_are_refused() {
        let def = |name: &str, kind: Kind, choices: &[&str]| FieldDef {
            on: Entity::Customer,
            name: name.into(),
            label: None,
            kind,
            choices: choices.iter().map(|s| s.to_string()).collect(),
            required: false,
        };
        assert!(Fields::new(vec![def("Tier", Kind::Text, &[])]).is_err());
        assert!(Fields::new(vec![def("name", Kind::Text, &[])]).is_err());
        assert!(Fields::new(vec![def("tier", Kind::Choice, &[])]).is_err());
        assert!(Fields::new(vec![def("tier", Kind::Text, &["a"])]).is_err());
        assert!(Fields::new(vec![
            def("tier", Kind::Text, &[]),
            def("tier", Kind::Number, &[])
        ])
        .is_err());
        assert!(Fields::new(vec![def("tier", Kind::Choice, &["a", "b"])]).is_ok());
    }

    #[test]
    fn numbers_and_dates_display_as_typed() {
        assert_eq!(Value::Number(12345.0).display(), "12345");
        assert_eq!(Value::Number(2.5).display(), "2.5");
        assert_eq!(
            parse_date("2027-01-02T10:00:00Z").unwrap().to_string(),
            "2027-01-02"
        );
    }
}
