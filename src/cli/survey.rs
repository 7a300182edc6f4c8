//! `echodesk survey`: send the satisfaction surveys that are due (for
//! cron; the daemon does it by itself), list surveys and their answers,
//! and opt a number or address out of surveys and notices by hand.

use clap::Subcommand;

use super::output::{self, say};
use super::Ctx;
use crate::model::IdentityKind;
use crate::present::datetime;
use crate::sanitize::line;

#[derive(Debug, Subcommand)]
pub enum SurveyCmd {
    /// Queue the surveys that are due ([survey] in the config)
    SendDue {
        /// Say which tickets would get one and which would not, and why
        #[arg(long)]
        dry_run: bool,
        /// As if it were this time ("2026-12-07 09:00", the team's clock), to check the delay
        #[arg(long, value_name = "TIME")]
        now: Option<String>,
    },
    /// Surveys sent in the last N days, with their ratings and comments
    List {
        /// How far back: 30d, 4w, 3m
        #[arg(long, default_value = "30d")]
        last: String,
    },
    /// No more surveys or notices to this number or address (--undo: again)
    OptOut {
        /// A phone number (+14155550100) or an email address
        value: String,
        #[arg(long)]
        undo: bool,
    },
}

pub fn run(ctx: &Ctx, cmd: SurveyCmd) -> anyhow::Result<()> {
    match cmd {
        SurveyCmd::SendDue { dry_run, now } => send_due(ctx, dry_run, now.as_deref()),
        SurveyCmd::List { last } => list(ctx, &last),
        SurveyCmd::OptOut { value, undo } => opt_out(ctx, &value, undo),
    }
}

fn send_due(ctx: &Ctx, dry_run: bool, now: Option<&str>) -> anyhow::Result<()> {
    let sctx = ctx.search_ctx_at(now)?;
    let mut store = ctx.open()?;
    let out = crate::survey::send_due(&mut store, &ctx.config, &sctx, dry_run)?;
    if ctx.json {
        return output::json(&serde_json::json!({ "dry_run": dry_run, "tickets": out }));
    }
    let (mut sent, mut skipped) = (0, 0);
    for o in &out {
        match o.reason.as_deref() {
            Some(why) => {
                skipped += 1;
                say(&format!("#{} skipped: {}", o.ticket, line(why)));
            }
            None => {
                sent += 1;
                say(&format!(
                    "#{} {} by {} (solved by {})",
                    o.ticket,
                    if dry_run { "due" } else { "survey queued" },
                    o.channel,
                    line(o.agent.as_deref().unwrap_or("-"))
                ));
            }
        }
    }
    let verb = if dry_run { "due" } else { "queued" };
    say(&format!("{sent} surveys {verb}, {skipped} skipped"));
    Ok(())
}

fn list(ctx: &Ctx, last: &str) -> anyhow::Result<()> {
    let secs =
        crate::query::parse_duration(last).map_err(|e| anyhow::anyhow!("--last {last}: {e}"))?;
    let store = ctx.open()?;
    let now = crate::store::now();
    let surveys = store.surveys_sent(now - secs, now + 1)?;
    if ctx.json {
        return output::json(&surveys);
    }
    say(&format!(
        "{:>7}  {:<5}  {:<16}  {:<10}  {:>6}  comment",
        "TICKET", "CH", "SENT", "AGENT", "RATING"
    ));
    for s in &surveys {
        let rating = match (s.rating, s.expires_at < now) {
            (Some(r), _) => r.to_string(),
            (None, true) => "none".into(),
            (None, false) => "…".into(),
        };
        say(&format!(
            "{:>7}  {:<5}  {:<16}  {:<10}  {:>6}  {}",
            format!("#{}", s.ticket),
            s.channel.as_str(),
            datetime(s.sent_at),
            line(s.agent.as_deref().unwrap_or("-")),
            rating,
            line(s.comment.as_deref().unwrap_or(""))
        ));
    }
    let answered: Vec<u8> = surveys.iter().filter_map(|s| s.rating).collect();
    if !surveys.is_empty() {
        let happy = answered.iter().filter(|r| **r >= 4).count();
        say(&format!(
            "{} sent, {} answered ({:.0}%){}",
            surveys.len(),
            answered.len(),
            100.0 * answered.len() as f64 / surveys.len() as f64,
            if answered.is_empty() {
                String::new()
            } else {
                format!(
                    ", CSAT {:.0}% (4 or 5), average {:.2}",
                    100.0 * happy as f64 / answered.len() as f64,
                    answered.iter().map(|r| f64::from(*r)).sum::<f64>() / answered.len() as f64
                )
            }
        ));
    }
    Ok(())
}

fn opt_out(ctx: &Ctx, value: &str, undo: bool) -> anyhow::Result<()> {
    let region = &ctx.config.default_region;
    let (kind, v) = if value.contains('@') {
        (
            IdentityKind::Email,
            crate::identity::normalise_email(value)?,
        )
    } else {
        (
            IdentityKind::Phone,
            crate::identity::normalise(IdentityKind::Phone, value, region)?,
        )
    };
    let mut store = ctx.open()?;
    let tx = store.transaction()?;
    tx.set_opt_out(kind, &v, !undo, &format!("by {}", ctx.agent))?;
    tx.commit()?;
    if ctx.json {
        return output::json(&serde_json::json!({ "value": v, "opted_out": !undo }));
    }
    say(&if undo {
        format!("{} gets surveys and notices again", line(&v))
    } else {
        format!("{} gets no more surveys or notices", line(&v))
    });
    Ok(())
}
