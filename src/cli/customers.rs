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
            if ctx.json {
                return output::json(&serde_json::json!({ "customer": c, "tickets": tickets }));
            }
            println!("customer #{} {}", c.id, sanitize::line(&c.name));
            for i in &c.identities {
                println!("  {:<6} {}", i.kind.as_str(), sanitize::line(&i.value));
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
