//! `echodesk schedule list|run`: proactive care from the command line
//! (the daemon runs due schedules by itself).

use clap::Subcommand;

use super::output::{self, say};
use super::Ctx;
use crate::sanitize;

#[derive(Debug, Subcommand)]
pub enum ScheduleCmd {
    /// Each schedule: when it runs, its next slot, its last run and what it did
    List {
        /// As if it were this time on the team's clock ("2026-12-07 07:05")
        #[arg(long, value_name = "TIME")]
        now: Option<String>,
    },
    /// Run a schedule's latest slot now (or resume it); nothing is sent
    /// twice: each message's once-only key is kept
    Run {
        name: String,
        /// Print who would get what, and why the others would not; send nothing
        #[arg(long = "dry-run")]
        dry_run: bool,
        /// As if it were this time on the team's clock ("2026-12-07 07:05")
        #[arg(long, value_name = "TIME")]
        now: Option<String>,
    },
}

pub fn run(ctx: &Ctx, cmd: ScheduleCmd) -> anyhow::Result<()> {
    match cmd {
        ScheduleCmd::List { now } => {
            let sctx = ctx.search_ctx_at(now.as_deref())?;
            let store = ctx.open()?;
            let all = ctx
                .config
                .schedules
                .iter()
                .map(|s| crate::care::status(&store, &ctx.config, s, sctx.now))
                .collect::<Result<Vec<_>, _>>()?;
            if ctx.json {
                return output::json(&all);
            }
            if all.is_empty() {
                say("no [[schedule]] in the config (docs/care.md)");
            }
            for s in &all {
                say(&format!(
                    "{}{}  {}  next {}",
                    sanitize::line(&s.name),
                    if s.enabled { "" } else { " (off)" },
                    sanitize::line(&s.when),
                    s.next.as_deref().unwrap_or("-")
                ));
                match &s.last_run {
                    Some(l) => say(&format!(
                        "  last run {}: {} of {} recipients done, {} failed{}",
                        l.slot,
                        l.done,
                        l.recipients,
                        l.failed,
                        if l.finished {
                            ""
                        } else {
                            " (interrupted: runs on)"
                        }
                    )),
                    None => say("  never run"),
                }
            }
            Ok(())
        }
        ScheduleCmd::Run { name, dry_run, now } => {
            let sctx = ctx.search_ctx_at(now.as_deref())?;
            let s = ctx
                .config
                .schedules
                .iter()
                .find(|s| s.name == name)
                .ok_or_else(|| {
                    let names: Vec<&str> = ctx
                        .config
                        .schedules
                        .iter()
                        .map(|s| s.name.as_str())
                        .collect();
                    crate::Error::invalid(
                        "schedule",
                        &name,
                        if names.is_empty() {
                            "there is no [[schedule]] in the config".to_string()
                        } else {
                            format!("not in the config; there are: {}", names.join(", "))
                        },
                    )
                })?;
            let mut store = ctx.open()?;
            let zone = store.settings().zone;
            let starts = ctx.config.report_settings().map_err(anyhow::Error::msg)?.2;
            let when = s.when().map_err(anyhow::Error::msg)?;
            let (_, slot) = when.last(zone, starts, sctx.now).ok_or_else(|| {
                anyhow::anyhow!("schedule `{name}` has never come round (its cron matches no day)")
            })?;
            let r = crate::care::run(&mut store, &ctx.config, s, &slot, &sctx, dry_run)?;
            if ctx.json {
                output::json(&r)?;
            } else {
                for st in &r.steps {
                    let who = match (st.recipient.as_deref(), st.channel) {
                        (Some(to), Some(ch)) => {
                            format!(
                                "{} {}",
                                crate::present::channel_label(ch),
                                sanitize::line(to)
                            )
                        }
                        _ => String::new(),
                    };
                    let asset = st.asset.map(|a| format!(" asset #{a}")).unwrap_or_default();
                    say(&format!(
                        "customer #{}{asset} {who}: {}{}",
                        st.customer,
                        match st.status {
                            "planned" => "would send",
                            "sent" => "sent",
                            "already" => "already sent",
                            "opted-out" => "opted out",
                            _ => "FAILED",
                        },
                        match (&st.detail, st.ticket) {
                            (_, Some(t)) => format!(" (ticket #{t})"),
                            (Some(d), None) => format!(" ({})", sanitize::line(d)),
                            (None, None) => String::new(),
                        }
                    ));
                    if let (true, Some(text)) = (dry_run, &st.text) {
                        for l in text.lines() {
                            say(&format!("    {}", sanitize::line(l)));
                        }
                    }
                }
                say(&format!(
                    "{}{} slot {}: {} {}, {} already sent, {} opted out, {} failed{}",
                    if dry_run {
                        "dry run (nothing sent): "
                    } else {
                        ""
                    },
                    sanitize::line(&r.schedule),
                    r.slot,
                    r.sent,
                    if dry_run { "to send" } else { "queued" },
                    r.already,
                    r.opted_out,
                    r.failed,
                    if r.resumed { " (resumed)" } else { "" }
                ));
            }
            if r.failed > 0 {
                return Err(crate::Error::RowsRefused(format!(
                    "{} of {} recipients failed (see above); the others are {}",
                    r.failed,
                    r.steps.len(),
                    if dry_run { "fine" } else { "queued" }
                ))
                .into());
            }
            Ok(())
        }
    }
}
