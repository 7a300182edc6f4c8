//! `echodesk customer show|edit|note|timeline|merge`: the customer file.

use clap::Subcommand;

use super::output;
use super::Ctx;
use crate::fields::Entity;
use crate::sanitize;

#[derive(Debug, Subcommand)]
pub enum CustomerCmd {
    /// Customers with their organisation and identities, by number
    List {
        /// Only this organisation's people (number, name, external id or domain)
        #[arg(long)]
        org: Option<String>,
        /// At most this many
        #[arg(long, default_value_t = 1000)]
        limit: usize,
    },
    /// A customer's identities and tickets (by number, email or phone)
    Show {
        /// Customer number (or #N), email address or phone/fax number
        key: String,
    },
    /// Change a customer: name, organisation, external id, custom fields
    Edit {
        /// Customer number (or #N), email address or phone/fax number
        key: String,
        #[arg(long)]
        name: Option<String>,
        /// Organisation (number, name, external id or domain); `none` to leave it
        #[arg(long)]
        org: Option<String>,
        /// The id the CRM knows them by
        #[arg(long = "external-id")]
        external_id: Option<String>,
        /// A custom field: NAME=VALUE (repeatable; an empty value clears it)
        #[arg(long = "set", value_name = "NAME=VALUE")]
        set: Vec<String>,
        /// Clears a custom field (repeatable)
        #[arg(long = "unset", value_name = "NAME")]
        unset: Vec<String>,
    },
    /// Add a note to the customer's file (not to a ticket)
    Note {
        key: String,
        /// The note's text
        text: String,
    },
    /// Every message of every ticket of a customer, oldest first
    Timeline {
        key: String,
        /// Only messages on this channel (email, sms, fax)
        #[arg(long)]
        channel: Option<String>,
        /// Only tickets about this asset (#N, serial number or external id)
        #[arg(long)]
        asset: Option<String>,
    },
    /// Create or update customers from a CSV file (a CRM export), one row each
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
    /// Every customer as CSV (or JSON Lines with --json), to stdout
    Export,
    /// Move everything of OTHER into KEEP and delete OTHER
    Merge {
        /// The customer that stays
        keep: String,
        /// The customer merged into it
        other: String,
    },
}

pub fn run(ctx: &Ctx, cmd: CustomerCmd) -> anyhow::Result<()> {
    match cmd {
        CustomerCmd::List { org, limit } => {
            let store = ctx.open()?;
            let org = org.map(|o| store.find_org(&o)).transpose()?;
            let mut rows = Vec::new();
            store.for_each_customer_row(|c| {
                if rows.len() < limit
                    && org
                        .as_ref()
                        .is_none_or(|o| c.org.as_deref() == Some(o.name.as_str()))
                {
                    rows.push(c.clone());
                }
                Ok(())
            })?;
            if ctx.json {
                return output::json(&rows);
            }
            println!(
                "{:>6}  {:<28} {:<24} identities",
                "id", "name", "organisation"
            );
            for c in &rows {
                let ids: Vec<&str> = c
                    .emails
                    .iter()
                    .chain(&c.phones)
                    .chain(&c.faxes)
                    .map(String::as_str)
                    .collect();
                println!(
                    "{:>6}  {} {} {}",
                    c.id,
                    crate::present::fit(&c.name, 28),
                    crate::present::fit(c.org.as_deref().unwrap_or("-"), 24),
                    sanitize::line(&ids.join(", "))
                );
            }
            Ok(())
        }
        CustomerCmd::Show { key } => {
            let store = ctx.open()?;
            let c = store.find_customer(&key)?;
            let tickets = store.customer_tickets(c.id, 100)?;
            let surveys = store.customer_surveys(c.id)?;
            let opted_out: Vec<&str> = c
                .identities
                .iter()
                .filter(|i| store.is_opted_out(i.kind, &i.value).unwrap_or(false))
                .map(|i| i.value.as_str())
                .collect();
            let (org, external) = store.customer_org(c.id)?;
            let fields = store.fields_of(Entity::Customer, c.id)?;
            let assets = store.assets_of(Some(c.id), None)?;
            let notes = store.record_notes(Entity::Customer, c.id)?;
            let history = store.record_history(Entity::Customer, c.id)?;
            if ctx.json {
                return output::json(&serde_json::json!({
                    "customer": c,
                    "org": org,
                    "external_id": external,
                    "fields": super::records::fields_json(&fields),
                    "assets": assets,
                    "notes": notes,
                    "tickets": tickets,
                    "surveys": surveys,
                    "opted_out": opted_out,
                    "history": history,
                }));
            }
            println!("customer #{} {}", c.id, sanitize::line(&c.name));
            for i in &c.identities {
                let stop = if opted_out.contains(&i.value.as_str()) {
                    "  (opted out of surveys and notices)"
                } else {
                    ""
                };
                println!(
                    "  {:<6} {}{stop}",
                    i.kind.as_str(),
                    sanitize::line(&i.value)
                );
            }
            let rated: Vec<String> = surveys
                .iter()
                .filter_map(|s| s.rating.map(|r| format!("{r} (#{})", s.ticket)))
                .collect();
            if !surveys.is_empty() {
                println!(
                    "  rated  {}",
                    if rated.is_empty() {
                        format!("no answer to {} surveys", surveys.len())
                    } else {
                        format!(
                            "{} — {} of {} surveys answered",
                            rated.join(", "),
                            rated.len(),
                            surveys.len()
                        )
                    }
                );
            }
            if let Some(o) = &org {
                println!("  org    #{} {}", o.id, sanitize::line(&o.name));
            }
            if let Some(x) = &external {
                println!("  ext id {}", sanitize::line(x));
            }
            super::records::print_fields(&fields);
            if !assets.is_empty() {
                println!("  assets");
                for a in &assets {
                    println!("    {}", super::records::asset_line(&store, a)?);
                }
            }
            super::records::print_notes(&notes);
            super::records::print_history(&history);
            println!();
            print!("{}", output::ticket_table(&tickets, crate::store::now()));
            Ok(())
        }
        CustomerCmd::Edit {
            key,
            name,
            org,
            external_id,
            set,
            unset,
        } => {
            let mut store = ctx.open()?;
            let c = store.find_customer(&key)?;
            let org = match org.as_deref() {
                None => None,
                Some(o) if o.eq_ignore_ascii_case("none") => Some(None),
                Some(o) => Some(Some(store.find_org(o)?.id)),
            };
            let values = super::records::parse_sets(&store, Entity::Customer, &set, &unset)?;
            let tx = store.transaction()?;
            let mut changed = 0;
            if let Some(n) = &name {
                changed += usize::from(tx.set_customer_name(c.id, n, &ctx.agent)?);
            }
            if let Some(o) = org {
                changed += usize::from(tx.set_customer_org(c.id, o, &ctx.agent)?);
            }
            if let Some(x) = &external_id {
                changed += usize::from(tx.set_customer_external_id(c.id, Some(x), &ctx.agent)?);
            }
            changed +=
                super::records::write_fields(&tx, Entity::Customer, c.id, &values, &ctx.agent)?;
            tx.commit()?;
            if ctx.json {
                return output::json(&serde_json::json!({ "customer": c.id, "changed": changed }));
            }
            println!("customer #{}: {changed} changed", c.id);
            Ok(())
        }
        CustomerCmd::Note { key, text } => {
            let mut store = ctx.open()?;
            let c = store.find_customer(&key)?;
            let tx = store.transaction()?;
            let id = tx.add_record_note(Entity::Customer, c.id, &ctx.agent, &text)?;
            tx.commit()?;
            if ctx.json {
                return output::json(&serde_json::json!({ "customer": c.id, "note": id }));
            }
            println!("note added to customer #{}", c.id);
            Ok(())
        }
        CustomerCmd::Timeline {
            key,
            channel,
            asset,
        } => {
            let store = ctx.open()?;
            let c = store.find_customer(&key)?;
            let channel = channel
                .as_deref()
                .map(|ch| {
                    crate::model::Channel::parse(&ch.to_lowercase()).ok_or_else(|| {
                        anyhow::anyhow!(
                            "unknown channel `{ch}`; expected one of {}",
                            crate::model::Channel::names()
                        )
                    })
                })
                .transpose()?;
            let asset = asset.as_deref().map(|a| store.find_asset(a)).transpose()?;
            let entries = store.timeline(c.id, channel, asset.as_ref().map(|a| a.id))?;
            if ctx.json {
                return output::json(&serde_json::json!({ "customer": c.id, "timeline": entries }));
            }
            println!(
                "customer #{} {} — {} messages",
                c.id,
                sanitize::line(&c.name),
                entries.len()
            );
            for e in &entries {
                let arrow = match e.direction.as_str() {
                    "in" => "←",
                    "note" => "✎",
                    _ => "→",
                };
                let first = e
                    .body
                    .lines()
                    .map(str::trim)
                    .find(|l| !l.is_empty())
                    .unwrap_or("");
                println!(
                    "{}  {arrow} {:<5} #{:<6} {}  {}",
                    crate::present::datetime(e.at),
                    e.channel,
                    e.ticket_id,
                    sanitize::line(e.author.as_deref().unwrap_or("")),
                    crate::present::fit(first, 70).trim_end()
                );
            }
            Ok(())
        }
        CustomerCmd::Import {
            file,
            map,
            encoding,
            dry_run,
        } => super::records::import::<crate::crm::Customers>(
            ctx,
            &file,
            map.as_deref(),
            encoding.as_deref(),
            dry_run,
        ),
        CustomerCmd::Export => {
            let store = ctx.open()?;
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            if ctx.json {
                crate::crm::export_customers_json(&store, &mut out)?;
            } else {
                crate::crm::export_customers_csv(&store, &mut out)?;
            }
            std::io::Write::flush(&mut out)
                .map_err(|e| crate::Error::Other(format!("writing: {e}")))?;
            Ok(())
        }
        CustomerCmd::Merge { keep, other } => {
            let mut store = ctx.open()?;
            let keep = store.find_customer(&keep)?.id;
            let other = store.find_customer(&other)?.id;
            let tx = store.transaction()?;
            let moved = tx.merge_customers(keep, other, &ctx.agent)?;
            tx.commit()?;
            if ctx.json {
                return output::json(
                    &serde_json::json!({ "kept": keep, "merged": other, "tickets_moved": moved }),
                );
            }
            println!("customer #{other} merged into #{keep}; {moved} tickets moved");
            Ok(())
        }
    }
}
