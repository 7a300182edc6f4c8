//! `echodesk asset …`: products customers own, their attributes and
//! their repair records (the tickets about them).

use clap::Subcommand;

use super::output;
use super::records::{
    asset_line, import, parse_sets, print_fields, print_history, print_notes, write_fields,
};
use super::Ctx;
use crate::fields::Entity;
use crate::sanitize;
use crate::store::{AssetInput, Store};

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
