//! `echodesk digest`: what customers wrote about, against the period
//! before; printed, as JSON, or mailed to a team through the outbox.

use clap::Args;

use super::output::{self, say};
use super::Ctx;

#[derive(Debug, Args)]
pub struct DigestArgs {
    /// Which tickets (the query language); `tag:product/*` counts the tags under product/
    #[arg(long, short, default_value = "")]
    pub query: String,
    /// The period, ending now: 1d, 1w, 30d
    #[arg(long, default_value = "1w")]
    pub last: String,
    /// Mail it to this address through the outbox (repeatable)
    #[arg(long = "to", value_name = "ADDRESS")]
    pub to: Vec<String>,
    /// Verbatim examples per growing topic
    #[arg(long, default_value_t = 3)]
    pub examples: usize,
    /// As if it were this time on the team's clock ("2026-12-07 07:05")
    #[arg(long, value_name = "TIME")]
    pub now: Option<String>,
}

pub fn digest(ctx: &Ctx, a: &DigestArgs) -> anyhow::Result<()> {
    let sctx = ctx.search_ctx_at(a.now.as_deref())?;
    let mut store = ctx.open()?;
    let mut req = crate::voice::Request::last(&a.query, &a.last, sctx.now)?;
    req.examples = a.examples;
    let d = crate::voice::build(&store, &req, &sctx)?;
    let mut queued = Vec::new();
    if !a.to.is_empty() {
        for t in &a.to {
            crate::identity::normalise_email(t)
                .map_err(|e| crate::Error::invalid("--to", t, e.to_string()))?;
        }
        let tx = store.transaction()?;
        queued = crate::voice::queue(&tx, &d, &a.to, &ctx.agent)?;
        tx.commit()?;
    }
    if ctx.json {
        return output::json(&serde_json::json!({ "digest": d, "mailed": queued }));
    }
    let text = crate::voice::render(&d);
    say(text.trim_end_matches('\n'));
    if !queued.is_empty() {
        say(&format!(
            "\nqueued to {} (team mail; echodesk outbox send, or the daemon, sends it)",
            crate::sanitize::line(&a.to.join(", "))
        ));
    }
    Ok(())
}
