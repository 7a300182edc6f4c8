//! `echodesk org …`: organisations, their domains, fields, notes, people,
//! assets and tickets.

use clap::Subcommand;

use super::output;
use super::records::{
    asset_line, import, parse_sets, print_fields, print_history, print_notes, write_fields,
};
use super::Ctx;
use crate::fields::Entity;
use crate::sanitize;

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
