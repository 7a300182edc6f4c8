//! `echodesk canned list|show|render|check`.

use clap::Subcommand;

use super::{output, ticket_id, Ctx};
use crate::canned::{self, Canned, Vars};
use crate::error::Error;
use crate::model::Channel;
use crate::sanitize;

#[derive(Debug, Subcommand)]
pub enum CannedCmd {
    /// The canned answers in the configured directory
    List,
    /// One answer's metadata and template
    Show { name: String },
    /// Render an answer for a ticket, exactly as it would be sent
    Render {
        name: String,
        #[arg(long)]
        ticket: String,
        /// email, sms or fax [default: the ticket's channel]
        #[arg(long)]
        channel: Option<Channel>,
    },
    /// Load every answer and report every error (file:line); exit 6 if any
    Check,
}

fn find(ctx: &Ctx, name: &str) -> anyhow::Result<Canned> {
    let (all, _) = canned::load_dir(&ctx.config.canned_path());
    all.into_iter()
        .find(|c| c.name == name || c.meta.shortcut.as_deref() == Some(name))
        .ok_or_else(|| canned::CannedError::NotFound(name.to_string()).into())
}

pub fn run(ctx: &Ctx, cmd: CannedCmd) -> anyhow::Result<()> {
    let dir = ctx.config.canned_path();
    match cmd {
        CannedCmd::List => {
            let (all, bad) = canned::load_dir(&dir);
            if ctx.json {
                let errors: Vec<String> = bad.iter().map(|e| e.to_string()).collect();
                return output::json(
                    &serde_json::json!({ "dir": dir, "answers": all, "errors": errors }),
                );
            }
            for c in &all {
                let chans: Vec<&str> = c.meta.channels.iter().map(|c| c.as_str()).collect();
                println!(
                    "{}  {}  {}  {}",
                    output::fit(&c.name, 20),
                    output::fit(c.meta.shortcut.as_deref().unwrap_or("-"), 8),
                    output::fit(&c.meta.title, 36),
                    if chans.is_empty() {
                        "any".to_string()
                    } else {
                        chans.join(",")
                    }
                );
            }
            for e in &bad {
                eprintln!("echodesk: {}", sanitize::line(&e.to_string()));
            }
            Ok(())
        }
        CannedCmd::Show { name } => {
            let c = find(ctx, &name)?;
            if ctx.json {
                return output::json(&c);
            }
            println!(
                "{} ({})",
                sanitize::line(&c.meta.title),
                sanitize::line(&c.path.display().to_string())
            );
            print!("{}", sanitize::text(&c.body));
            Ok(())
        }
        CannedCmd::Render {
            name,
            ticket,
            channel,
        } => {
            let c = find(ctx, &name)?;
            let store = ctx.open()?;
            let t = store.ticket(ticket_id(&ticket)?)?;
            let channel = channel.unwrap_or(t.summary.channel);
            let vars = Vars::new(
                &t,
                &ctx.agent,
                &ctx.config.signature,
                &ctx.config.subject_tag,
                crate::store::now(),
            );
            let text = c.render(&vars, channel)?;
            if ctx.json {
                return output::json(
                    &serde_json::json!({ "name": c.name, "ticket": t.summary.id, "channel": channel, "text": text }),
                );
            }
            // The text carries the customer's name and subject: strangers'
            // words, neutralised like every other output.
            print!("{}", sanitize::text(&text));
            Ok(())
        }
        CannedCmd::Check => {
            let (loaded, mut bad) = canned::load_dir(&dir);
            let asset_fields: Vec<String> = ctx
                .config
                .fields
                .iter()
                .filter(|f| f.on == crate::fields::Entity::Asset)
                .map(|f| f.name.clone())
                .collect();
            let mut all = Vec::new();
            for c in loaded {
                match c.check_with_fields(&asset_fields) {
                    Ok(()) => all.push(c),
                    Err(e) => bad.push(e),
                }
            }
            for e in &bad {
                eprintln!("echodesk: {}", sanitize::line(&e.to_string()));
            }
            if ctx.json {
                let errors: Vec<String> = bad.iter().map(|e| e.to_string()).collect();
                output::json(&serde_json::json!({ "ok": all.len(), "errors": errors }))?;
            } else {
                println!(
                    "{} answers load cleanly, {} with errors ({})",
                    all.len(),
                    bad.len(),
                    sanitize::line(&dir.display().to_string())
                );
            }
            if bad.is_empty() {
                Ok(())
            } else {
                Err(Error::invalid(
                    "canned answers",
                    dir.display().to_string(),
                    format!("{} failed to load", bad.len()),
                )
                .into())
            }
        }
    }
}
