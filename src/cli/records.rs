//! `echodesk org …` and `echodesk asset …`, and what the customer file's
//! commands share: `--set NAME=VALUE` read through the declared fields,
//! required fields checked before a commit, one line per asset.

use clap::Subcommand;

use super::output;
use super::Ctx;
use crate::fields::{Entity, Value};
use crate::sanitize;
use crate::store::{Asset, AssetInput, Store, Tx};

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

#[derive(Debug, Subcommand)]
pub enum OrgCmd {
    /// Organisations with their people, tickets, open tickets and assets
    List,
    /// An organisation: domains, fields, notes, people, assets and tickets
    Show { key: String },
    /// Create an organisation
    Add {
        name: String,
        /// Email domain whose new customers join it (repeatable)
        #[arg(long = "domain")]
        domains: Vec<String>,
        #[arg(long = "external-id")]
        external_id: Option<String>,
        #[arg(long = "set", value_name = "NAME=VALUE")]
        set: Vec<String>,
    },
    /// Change an organisation
    Edit {
        /// Number, name, external id or domain
        key: String,
        #[arg(long)]
        name: Option<String>,
        /// Add an email domain (repeatable)
        #[arg(long = "domain")]
        domains: Vec<String>,
        /// Remove an email domain (repeatable)
        #[arg(long = "remove-domain")]
        remove_domains: Vec<String>,
        #[arg(long = "set", value_name = "NAME=VALUE")]
        set: Vec<String>,
        #[arg(long = "unset", value_name = "NAME")]
        unset: Vec<String>,
        /// Add a note to its file
        #[arg(long)]
        note: Option<String>,
    },
    /// Create or update organisations from a CSV file (a CRM's accounts)
    Import {
        file: std::path::PathBuf,
        /// Which column is the key and what each column feeds (TOML; docs/customers.md)
        #[arg(long)]
        map: Option<std::path::PathBuf>,
        /// The file's encoding when not UTF-8: gbk, big5, shift_jis, windows-1252, …
        #[arg(long)]
        encoding: Option<String>,
        /// Do everything and roll it back: the report is what a real run would do
        #[arg(long = "dry-run")]
        dry_run: bool,
    },
}

pub fn run_org(ctx: &Ctx, cmd: OrgCmd) -> anyhow::Result<()> {
    match cmd {
        OrgCmd::List => {
            let store = ctx.open()?;
            let orgs = store.org_summaries()?;
            if ctx.json {
                return output::json(&orgs);
            }
            println!(
                "{:>5}  {:<32} {:>6} {:>7} {:>5} {:>6}",
                "id", "name", "people", "tickets", "open", "assets"
            );
            for o in &orgs {
                println!(
                    "{:>5}  {} {:>6} {:>7} {:>5} {:>6}",
                    o.id,
                    crate::present::fit(&o.name, 32),
                    o.people,
                    o.tickets,
                    o.open,
                    o.assets
                );
            }
            Ok(())
        }
        OrgCmd::Show { key } => {
            let store = ctx.open()?;
            let o = store.find_org(&key)?;
            let people = store.org_people(o.id)?;
            let assets = store.assets_of(None, Some(o.id))?;
            let notes = store.record_notes(Entity::Org, o.id)?;
            let history = store.record_history(Entity::Org, o.id)?;
            let tickets = store
                .org_ticket_ids(o.id, 100)?
                .into_iter()
                .map(|t| store.ticket_summary(t))
                .collect::<Result<Vec<_>, _>>()?;
            if ctx.json {
                return output::json(&serde_json::json!({
                    "org": o, "people": people.iter().map(|(id, name)| serde_json::json!({"id": id, "name": name})).collect::<Vec<_>>(),
                    "assets": assets, "notes": notes, "tickets": tickets, "history": history,
                }));
            }
            println!("org #{} {}", o.id, sanitize::line(&o.name));
            if !o.domains.is_empty() {
                println!("  domains        {}", sanitize::line(&o.domains.join(", ")));
            }
            if let Some(x) = &o.external_id {
                println!("  external id    {}", sanitize::line(x));
            }
            print_fields(&o.fields);
            print_notes(&notes);
            print_history(&history);
            println!("  people");
            for (id, name) in &people {
                println!("    #{id} {}", sanitize::line(name));
            }
            if !assets.is_empty() {
                println!("  assets");
                for a in &assets {
                    println!("    {}", asset_line(&store, a)?);
                }
            }
            println!();
            print!("{}", output::ticket_table(&tickets, crate::store::now()));
            Ok(())
        }
        OrgCmd::Add {
            name,
            domains,
            external_id,
            set,
        } => {
            let mut store = ctx.open()?;
            let values = parse_sets(&store, Entity::Org, &set, &[])?;
            let tx = store.transaction()?;
            let id = tx.create_org(&name, external_id.as_deref(), &ctx.agent)?;
            for d in &domains {
                tx.add_org_domain(id, d, &ctx.agent)?;
            }
            write_fields(&tx, Entity::Org, id, &values, &ctx.agent)?;
            tx.commit()?;
            if ctx.json {
                return output::json(&serde_json::json!({ "org": id }));
            }
            println!("org #{id} {} created", sanitize::line(&name));
            Ok(())
        }
        OrgCmd::Edit {
            key,
            name,
            domains,
            remove_domains,
            set,
            unset,
            note,
        } => {
            let mut store = ctx.open()?;
            let o = store.find_org(&key)?;
            let values = parse_sets(&store, Entity::Org, &set, &unset)?;
            let tx = store.transaction()?;
            if let Some(n) = &name {
                tx.rename_org(o.id, n, &ctx.agent)?;
            }
            for d in &domains {
                tx.add_org_domain(o.id, d, &ctx.agent)?;
            }
            for d in &remove_domains {
                tx.remove_org_domain(o.id, d, &ctx.agent)?;
            }
            if let Some(text) = &note {
                tx.add_record_note(Entity::Org, o.id, &ctx.agent, text)?;
            }
            write_fields(&tx, Entity::Org, o.id, &values, &ctx.agent)?;
            tx.commit()?;
            if ctx.json {
                return output::json(&serde_json::json!({ "org": o.id }));
            }
            println!("org #{} updated", o.id);
            Ok(())
        }
        OrgCmd::Import {
            file,
            map,
            encoding,
            dry_run,
        } => import::<crate::crm::Orgs>(ctx, &file, map.as_deref(), encoding.as_deref(), dry_run),
    }
}

#[derive(Debug, clap::Args)]
pub struct AssetFields {
    /// Owner: a customer (number, email or phone)
    #[arg(long)]
    customer: Option<String>,
    /// Owner: an organisation (number, name, external id or domain)
    #[arg(long)]
    org: Option<String>,
    #[arg(long)]
    model: Option<String>,
    #[arg(long)]
    serial: Option<String>,
    /// Purchase or install date
    #[arg(long)]
    purchased: Option<String>,
    /// Last day of the warranty
    #[arg(long = "warranty-until")]
    warranty_until: Option<String>,
    #[arg(long)]
    location: Option<String>,
    #[arg(long = "external-id")]
    external_id: Option<String>,
    /// A custom asset field: NAME=VALUE (repeatable)
    #[arg(long = "set", value_name = "NAME=VALUE")]
    set: Vec<String>,
}

impl AssetFields {
    fn input(&self, store: &Store) -> anyhow::Result<AssetInput> {
        Ok(AssetInput {
            customer_id: self
                .customer
                .as_deref()
                .map(|c| store.find_customer(c).map(|c| c.id))
                .transpose()?,
            org_id: self
                .org
                .as_deref()
                .map(|o| store.find_org(o).map(|o| o.id))
                .transpose()?,
            model: self.model.clone(),
            serial: self.serial.clone(),
            purchased: self.purchased.clone(),
            warranty_until: self.warranty_until.clone(),
            location: self.location.clone(),
            external_id: self.external_id.clone(),
        })
    }
}

#[derive(Debug, Subcommand)]
pub enum AssetCmd {
    /// Register a product a customer or organisation owns
    Add(AssetFields),
    /// An asset and its repair record (the tickets about it)
    Show { key: String },
    /// Change an asset (an empty value clears an attribute)
    Edit {
        /// #N, serial number or external id
        key: String,
        #[command(flatten)]
        fields: AssetFields,
        #[arg(long = "unset", value_name = "NAME")]
        unset: Vec<String>,
    },
    /// Assets of a customer or an organisation, or all
    List {
        #[arg(long)]
        customer: Option<String>,
        #[arg(long)]
        org: Option<String>,
    },
    /// Create or update assets from a CSV file (serial, model, dates, owner), one row each
    Import {
        file: std::path::PathBuf,
        /// Which column is the key and what each column feeds (TOML; docs/customers.md)
        #[arg(long)]
        map: Option<std::path::PathBuf>,
        /// The file's encoding when not UTF-8: gbk, big5, shift_jis, windows-1252, …
        #[arg(long)]
        encoding: Option<String>,
        /// Do everything and roll it back: the report is what a real run would do
        #[arg(long = "dry-run")]
        dry_run: bool,
    },
    /// Say which asset a ticket is about (`none` to clear)
    Link {
        ticket: i64,
        /// #N, serial number or external id, or `none`
        asset: String,
    },
}

pub fn run_asset(ctx: &Ctx, cmd: AssetCmd) -> anyhow::Result<()> {
    match cmd {
        AssetCmd::Add(f) => {
            let mut store = ctx.open()?;
            let input = f.input(&store)?;
            let values = parse_sets(&store, Entity::Asset, &f.set, &[])?;
            let tx = store.transaction()?;
            let id = tx.create_asset(&input, &ctx.agent)?;
            write_fields(&tx, Entity::Asset, id, &values, &ctx.agent)?;
            tx.commit()?;
            if ctx.json {
                return output::json(&serde_json::json!({ "asset": id }));
            }
            println!("asset #{id} added");
            Ok(())
        }
        AssetCmd::Show { key } => {
            let store = ctx.open()?;
            let a = store.find_asset(&key)?;
            let tickets = store
                .asset_ticket_ids(a.id)?
                .into_iter()
                .map(|t| store.ticket_summary(t))
                .collect::<Result<Vec<_>, _>>()?;
            let notes = store.record_notes(Entity::Asset, a.id)?;
            let history = store.record_history(Entity::Asset, a.id)?;
            if ctx.json {
                return output::json(&serde_json::json!({
                    "asset": a, "tickets": tickets, "notes": notes, "history": history,
                }));
            }
            println!("asset {}", asset_line(&store, &a)?);
            if let Some(c) = a.customer_id {
                let c = store.customer(c)?;
                println!("  customer       #{} {}", c.id, sanitize::line(&c.name));
            }
            if let Some(o) = a.org_id {
                let o = store.org(o)?;
                println!("  org            #{} {}", o.id, sanitize::line(&o.name));
            }
            for (label, v) in [
                ("purchased", &a.purchased),
                ("warranty until", &a.warranty_until),
                ("location", &a.location),
                ("external id", &a.external_id),
            ] {
                if let Some(v) = v {
                    println!("  {label:<14} {}", sanitize::line(v));
                }
            }
            print_fields(&a.fields);
            print_notes(&notes);
            print_history(&history);
            println!();
            println!(
                "repair record: {} ticket{}",
                tickets.len(),
                if tickets.len() == 1 { "" } else { "s" }
            );
            print!("{}", output::ticket_table(&tickets, crate::store::now()));
            Ok(())
        }
        AssetCmd::Edit { key, fields, unset } => {
            let mut store = ctx.open()?;
            let a = store.find_asset(&key)?;
            let input = fields.input(&store)?;
            let values = parse_sets(&store, Entity::Asset, &fields.set, &unset)?;
            let tx = store.transaction()?;
            let mut changed = tx.update_asset(a.id, &input, &ctx.agent)?.len();
            changed += write_fields(&tx, Entity::Asset, a.id, &values, &ctx.agent)?;
            tx.commit()?;
            if ctx.json {
                return output::json(&serde_json::json!({ "asset": a.id, "changed": changed }));
            }
            println!("asset #{}: {changed} changed", a.id);
            Ok(())
        }
        AssetCmd::List { customer, org } => {
            let store = ctx.open()?;
            let c = customer
                .as_deref()
                .map(|c| store.find_customer(c).map(|c| c.id))
                .transpose()?;
            let o = org
                .as_deref()
                .map(|o| store.find_org(o).map(|o| o.id))
                .transpose()?;
            let assets = store.assets_of(c, o)?;
            if ctx.json {
                return output::json(&assets);
            }
            for a in &assets {
                println!("{}", asset_line(&store, a)?);
            }
            Ok(())
        }
        AssetCmd::Import {
            file,
            map,
            encoding,
            dry_run,
        } => import::<crate::crm::Assets>(ctx, &file, map.as_deref(), encoding.as_deref(), dry_run),
        AssetCmd::Link { ticket, asset } => {
            let mut store = ctx.open()?;
            let id = if asset.eq_ignore_ascii_case("none") {
                None
            } else {
                Some(store.find_asset(&asset)?.id)
            };
            let tx = store.transaction()?;
            let changed = tx.set_ticket_asset(ticket, id, &ctx.agent)?;
            tx.commit()?;
            if ctx.json {
                return output::json(
                    &serde_json::json!({ "ticket": ticket, "asset": id, "changed": changed }),
                );
            }
            match id {
                Some(a) => println!("ticket #{ticket} is about asset #{a}"),
                None => println!("ticket #{ticket} is about no asset"),
            }
            Ok(())
        }
    }
}
