//! What the customer file's commands (`customer`, `org`, `asset`)
//! share: `--set NAME=VALUE` read through the declared fields,
//! required fields checked before a commit, one line per asset.

use super::output;
use super::Ctx;
use crate::fields::{Entity, Value};
use crate::sanitize;
use crate::store::{Asset, Store, Tx};

/// `--set a=b --unset c` as checked (name, value) pairs; `None` clears.
pub fn parse_sets(
    store: &Store,
    entity: Entity,
    set: &[String],
    unset: &[String],
) -> anyhow::Result<Vec<(String, Option<Value>)>> {
    let fields = &store.settings().fields;
    let mut out = Vec::new();
    for s in set {
        let (name, value) = s
            .split_once('=')
            .ok_or_else(|| crate::Error::invalid("--set", s.clone(), "expected NAME=VALUE"))?;
        out.push(
            fields
                .parse(entity, name.trim(), value)
                .map_err(crate::Error::from)?,
        );
    }
    for name in unset {
        let def = fields.def(entity, name.trim())?;
        if def.required {
            anyhow::bail!(
                "{} field `{}` is required: it cannot be unset",
                entity.as_str(),
                def.name
            );
        }
        out.push((def.name.clone(), None));
    }
    Ok(out)
}

/// Refuses a record that would be left without a required field.
fn check_required(tx: &Tx<'_>, entity: Entity, owner: i64) -> anyhow::Result<()> {
    let have = tx.field_names(entity, owner)?;
    let missing: Vec<String> = tx
        .settings()
        .fields
        .missing(entity, |n| have.iter().any(|h| h == n))
        .iter()
        .map(|d| d.name.clone())
        .collect();
    if !missing.is_empty() {
        return Err(crate::Error::invalid(
            "record",
            format!("{} #{owner}", entity.as_str()),
            format!(
                "needs the required field{} {} (--set NAME=VALUE)",
                if missing.len() == 1 { "" } else { "s" },
                missing.join(", ")
            ),
        )
        .into());
    }
    Ok(())
}

/// Writes checked field values to a record, then holds it to its
/// required fields. Returns how many values changed.
pub fn write_fields(
    tx: &Tx<'_>,
    entity: Entity,
    owner: i64,
    values: &[(String, Option<Value>)],
    agent: &str,
) -> anyhow::Result<usize> {
    let mut changed = 0;
    for (name, value) in values {
        changed += usize::from(tx.set_field(entity, owner, name, value.as_ref(), agent)?);
    }
    check_required(tx, entity, owner)?;
    Ok(changed)
}

/// Field values as a JSON object, for `--json` output.
pub fn fields_json(fields: &[(String, String)]) -> serde_json::Value {
    fields
        .iter()
        .map(|(n, v)| (n.clone(), serde_json::Value::from(v.as_str())))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

pub fn print_notes(notes: &[crate::store::RecordNote]) {
    for n in notes {
        println!(
            "  note           {} {}: {}",
            crate::present::datetime(n.at),
            sanitize::line(&n.agent),
            sanitize::line(&n.body)
        );
    }
}

/// Changes shown under a record before the rest are summarised: the
/// recent ones are what a colleague asks about; `--json` has them all.
const HISTORY_SHOWN: usize = 8;

/// The record's audit history, newest last: `2026-11-30 14:02 alice
/// location: Hall 2 → Hall 7`.
pub fn print_history(history: &[crate::model::Event]) {
    if history.is_empty() {
        return;
    }
    println!("  history");
    let skip = history.len().saturating_sub(HISTORY_SHOWN);
    if skip > 0 {
        println!("    … {skip} earlier changes (--json lists them)");
    }
    for e in &history[skip..] {
        let change = match (&e.old, &e.new) {
            (Some(o), Some(n)) => format!("{o} → {n}"),
            (None, Some(n)) => n.clone(),
            (Some(o), None) => format!("{o} → (cleared)"),
            (None, None) => String::new(),
        };
        println!(
            "    {} {} {}: {}",
            crate::present::datetime(e.at),
            sanitize::line(&e.agent),
            sanitize::line(&e.kind),
            crate::present::fit(&change, 100).trim_end()
        );
    }
}

pub fn print_fields(fields: &[(String, String)]) {
    for (n, v) in fields {
        println!("  {:<14} {}", sanitize::line(n), sanitize::line(v));
    }
}

/// `#3 VMC-850 SN 12345 · warranty until 2027-03-31 · Hall 2`
pub fn asset_line(store: &Store, a: &Asset) -> anyhow::Result<String> {
    let mut parts = vec![format!("#{} {}", a.id, sanitize::line(&a.model))];
    if let Some(s) = &a.serial {
        parts[0].push_str(&format!(" SN {}", sanitize::line(s)));
    }
    if let Some(w) = &a.warranty_until {
        let zone = store.settings().zone;
        let today = crate::clock::date_of(zone.day(crate::store::now()))
            .format("%Y-%m-%d")
            .to_string();
        let word = if *w < today {
            "warranty ended"
        } else {
            "warranty until"
        };
        parts.push(format!("{word} {w}"));
    }
    if let Some(l) = &a.location {
        parts.push(sanitize::line(l));
    }
    let repairs = store.asset_ticket_ids(a.id)?.len();
    if repairs > 0 {
        parts.push(format!(
            "{repairs} ticket{}",
            if repairs == 1 { "" } else { "s" }
        ));
    }
    Ok(parts.join(" · "))
}

/// `customer import` and `asset import`: the import, its report (each
/// row that changed something or was refused, then the counts), and exit
/// code 11 when rows were refused.
pub fn import<K: crate::crm::Records>(
    ctx: &Ctx,
    file: &std::path::Path,
    map: Option<&std::path::Path>,
    encoding: Option<&str>,
    dry_run: bool,
) -> anyhow::Result<()> {
    let mut store = ctx.open()?;
    let map = match map {
        Some(m) => crate::crm::Map::load(m)?,
        None => crate::crm::Map::default(),
    };
    let bytes = std::fs::read(file).map_err(|e| crate::Error::io(file, e))?;
    let r = crate::crm::import::<K>(&mut store, &bytes, &map, encoding, dry_run, &ctx.agent)?;
    if ctx.json {
        output::json(&r)?;
    } else {
        for row in r
            .rows
            .iter()
            .filter(|r| r.action != crate::crm::Action::Unchanged)
        {
            let what = match row.action {
                crate::crm::Action::Created => "created",
                crate::crm::Action::Updated => "updated",
                crate::crm::Action::Unchanged => "unchanged",
                crate::crm::Action::Refused => "REFUSED",
            };
            let who = row
                .id
                .map(|c| format!(" {} #{c}", K::WHAT))
                .unwrap_or_default();
            println!(
                "line {:>6}: {what}{who}{}{}",
                row.line,
                if row.detail.is_empty() { "" } else { ": " },
                sanitize::line(&row.detail)
            );
        }
        println!(
            "{}{} created, {} updated, {} unchanged, {} refused; {} organisations created; read as {}",
            if r.dry_run { "dry run (nothing saved): " } else { "" },
            r.created,
            r.updated,
            r.unchanged,
            r.refused,
            r.orgs_created,
            r.encoding
        );
        if !r.ignored_columns.is_empty() {
            println!(
                "columns not read: {} (map them with --map)",
                sanitize::line(&r.ignored_columns.join(", "))
            );
        }
    }
    if r.refused > 0 {
        return Err(crate::Error::RowsRefused(format!(
            "{} of {} rows refused; the others are {}",
            r.refused,
            r.rows.len(),
            if r.dry_run { "fine" } else { "applied" }
        ))
        .into());
    }
    Ok(())
}
