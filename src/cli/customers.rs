//! `echodesk customer show|merge`.

use clap::Subcommand;

use super::output;
use super::Ctx;
use crate::sanitize;

#[derive(Debug, Subcommand)]
pub enum CustomerCmd {
    /// A customer's identities and tickets (by number, email or phone)
    Show {
        /// Customer number (or #N), email address or phone/fax number
        key: String,
    },
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
            if ctx.json {
                return output::json(&serde_json::json!({
                    "customer": c,
                    "tickets": tickets,
                    "surveys": surveys,
                    "opted_out": opted_out,
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
            println!();
            print!("{}", output::ticket_table(&tickets, crate::store::now()));
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
