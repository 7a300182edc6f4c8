//! `echodesk bulk reply|state|assign|tag|jobs|job` and `echodesk send`:
//! many tickets (or customers) at once, as resumable jobs with a dry run.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use anyhow::Context as _;

use super::{output, Ctx};
use crate::bulk::{Action, Bulk, Pacer, Step, Text};
use crate::error::Error;
use crate::model::Channel;
use crate::sanitize;

#[derive(Debug, clap::Args)]
pub struct Targets {
    /// Every ticket matching this query
    #[arg(long, short = 'q', value_name = "QUERY", allow_hyphen_values = true)]
    pub query: Option<String>,
    /// Ticket ids from a file, or - for standard input: one per line (12 or
    /// #12), or the JSON of `echodesk list --json`
    #[arg(long, value_name = "FILE")]
    pub ids: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct RunOpts {
    /// Print exactly what would happen, per target; change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Go ahead without asking (required when there is no terminal)
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Name the job, or resume an interrupted one by its name
    #[arg(long, value_name = "ID")]
    pub job: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct TextArgs {
    /// A canned answer by name or shortcut
    #[arg(long, value_name = "NAME", conflicts_with = "body_file")]
    pub canned: Option<String>,
    /// The text, from a file or - (a template like a canned answer's body)
    #[arg(long, value_name = "FILE")]
    pub body_file: Option<PathBuf>,
}

#[derive(Debug, clap::Subcommand)]
pub enum BulkCmd {
    /// Reply to every target ticket (through the outbox)
    Reply {
        #[command(flatten)]
        targets: Targets,
        #[command(flatten)]
        text: TextArgs,
        /// auto (each ticket's channel), email, sms or fax
        #[arg(long, default_value = "auto")]
        channel: String,
        /// Also set this state after the reply
        #[arg(long)]
        state: Option<String>,
        /// Also add (+t) or remove (-t) tags; repeatable
        #[arg(long = "tag", allow_hyphen_values = true, value_name = "+TAG|-TAG")]
        tags: Vec<String>,
        #[command(flatten)]
        run: RunOpts,
    },
    /// Set the state of every target ticket
    State {
        #[command(flatten)]
        targets: Targets,
        state: String,
        #[command(flatten)]
        run: RunOpts,
    },
    /// Assign every target ticket: AGENT, me or none
    Assign {
        #[command(flatten)]
        targets: Targets,
        /// Not `agent`: that is the global `--agent` (who acts), and clap
        /// would let this value stand for it in the audit log.
        #[arg(id = "assignee", value_name = "AGENT")]
        agent: String,
        #[command(flatten)]
        run: RunOpts,
    },
    /// Add (--tag +t) or remove (--tag -t) tags on every target ticket
    Tag {
        #[command(flatten)]
        targets: Targets,
        /// +TAG adds, -TAG removes; repeatable
        #[arg(
            long = "tag",
            required = true,
            allow_hyphen_values = true,
            value_name = "+TAG|-TAG"
        )]
        changes: Vec<String>,
        #[command(flatten)]
        run: RunOpts,
    },
    /// Jobs, newest first, with their progress
    Jobs,
    /// One job's targets and outcomes
    Job { id: String },
}

#[derive(Debug, clap::Args)]
pub struct SendArgs {
    /// Customers this query matches: their fields, organisation and assets
    /// (`customer.tier:gold`, `asset.model:VMC*`), or a ticket of theirs
    /// (`tag:outage`)
    #[arg(long, value_name = "QUERY", allow_hyphen_values = true)]
    pub customers: Option<String>,
    /// Customer ids from a file or - (one per line)
    #[arg(long, value_name = "FILE")]
    pub customer_ids: Option<PathBuf>,
    #[command(flatten)]
    pub text: TextArgs,
    /// Subject of the new tickets [default: the canned answer's title]
    #[arg(long)]
    pub subject: Option<String>,
    /// auto (the customer's preferred channel, else email, SMS, fax), email, sms or fax
    #[arg(long, default_value = "auto")]
    pub channel: String,
    #[command(flatten)]
    pub run: RunOpts,
}

fn channel_arg(s: &str) -> Result<Option<Channel>, Error> {
    match s {
        "auto" => Ok(None),
        other => other.parse().map(Some),
    }
}

fn text_arg(t: &TextArgs, run: &RunOpts) -> anyhow::Result<Text> {
    match (&t.canned, &t.body_file, &run.job) {
        (Some(n), None, _) => Ok(Text::Canned(n.clone())),
        (None, Some(f), _) => Ok(Text::Body(super::read_body(f)?)),
        (None, None, Some(job)) => anyhow::bail!(
            "there is no job `{job}` to resume (it never started, or was stopped before its first commit): run the whole command again, with its --canned or --body-file"
        ),
        _ => anyhow::bail!("give the text with --canned NAME or --body-file FILE"),
    }
}

/// Ids from `list --json` output or from lines of numbers.
fn parse_ids(text: &str) -> Result<Vec<i64>, Error> {
    let trimmed = text.trim_start();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(trimmed) {
            let list = v.get("tickets").unwrap_or(&v);
            if let Some(items) = list.as_array() {
                return items
                    .iter()
                    .map(|i| {
                        i.get("id")
                            .unwrap_or(i)
                            .as_i64()
                            .ok_or_else(|| Error::invalid("id", i.to_string(), "not a number"))
                    })
                    .collect();
            }
        }
    }
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(super::ticket_id)
        .collect()
}

fn read_ids(path: &std::path::Path) -> anyhow::Result<Vec<i64>> {
    Ok(parse_ids(&super::read_body(path)?)?)
}

fn ticket_targets(ctx: &Ctx, t: &Targets) -> anyhow::Result<Vec<i64>> {
    match (&t.query, &t.ids) {
        (Some(q), None) => {
            let store = ctx.open()?;
            let q = crate::query::parse(q)?;
            Ok(store.search_ids(&q, &ctx.search_ctx(), usize::MAX >> 1)?)
        }
        (None, Some(p)) => read_ids(p),
        (None, None) => Ok(Vec::new()),
        (Some(_), Some(_)) => anyhow::bail!("give --query or --ids, not both"),
    }
}

pub fn run(ctx: &Ctx, cmd: BulkCmd) -> anyhow::Result<()> {
    match cmd {
        BulkCmd::Reply {
            targets,
            text,
            channel,
            state,
            tags,
            run,
        } => {
            let (add_tags, remove_tags) = crate::change::tag_lists(&tags)?;
            let action = Action::Reply {
                text: if run_resumes(ctx, &run)? {
                    Text::Body(String::new())
                } else {
                    text_arg(&text, &run)?
                },
                channel: channel_arg(&channel)?,
                state,
                add_tags,
                remove_tags,
            };
            job(ctx, action, ticket_targets(ctx, &targets)?, &run)
        }
        BulkCmd::State {
            targets,
            state,
            run,
        } => job(
            ctx,
            Action::State { state },
            ticket_targets(ctx, &targets)?,
            &run,
        ),
        BulkCmd::Assign {
            targets,
            agent,
            run,
        } => {
            let assignee = crate::change::assignee_name(&agent, &ctx.agent);
            job(
                ctx,
                Action::Assign { assignee },
                ticket_targets(ctx, &targets)?,
                &run,
            )
        }
        BulkCmd::Tag {
            targets,
            changes,
            run,
        } => {
            let (add, remove) = crate::change::tag_lists(&changes)?;
            job(
                ctx,
                Action::Tag { add, remove },
                ticket_targets(ctx, &targets)?,
                &run,
            )
        }
        BulkCmd::Jobs => {
            let store = ctx.open()?;
            let jobs = store.jobs()?;
            if ctx.json {
                return output::json(&jobs);
            }
            for j in jobs {
                println!(
                    "{:<32} {:<7} {:>6} done {:>5} failed {:>6} in all  {}  {}",
                    sanitize::line(&j.id),
                    j.kind,
                    j.done,
                    j.failed,
                    j.total,
                    output::datetime(j.created_at),
                    if j.finished_at.is_some() {
                        "finished"
                    } else {
                        "unfinished: resume with --job"
                    }
                );
            }
            Ok(())
        }
        BulkCmd::Job { id } => {
            let store = ctx.open()?;
            let job = store.job(&id)?.ok_or_else(|| {
                Error::invalid("job", &id, "no such job (see `echodesk bulk jobs`)")
            })?;
            let items = store.job_items(&id, true)?;
            if ctx.json {
                return output::json(&serde_json::json!({ "job": job, "items": items }));
            }
            println!(
                "{} ({}): {} of {} done, {} failed",
                sanitize::line(&job.id),
                job.kind,
                job.done,
                job.total,
                job.failed
            );
            for i in items {
                println!(
                    "  {:>6}  {:<7}  {}",
                    i.ticket_id,
                    i.status,
                    sanitize::line(i.detail.as_deref().unwrap_or(""))
                );
            }
            Ok(())
        }
    }
}

/// Whether `--job` names a job that exists (so the text flags may be left out).
fn run_resumes(ctx: &Ctx, run: &RunOpts) -> anyhow::Result<bool> {
    Ok(match &run.job {
        Some(id) => ctx.open()?.job(id)?.is_some(),
        None => false,
    })
}

pub fn send(ctx: &Ctx, a: &SendArgs) -> anyhow::Result<()> {
    let resuming = run_resumes(ctx, &a.run)?;
    let targets = match (&a.customers, &a.customer_ids) {
        (Some(q), None) => {
            // Read over customers: their file and machines, or their
            // tickets for ticket terms (docs/care.md, Who).
            let store = ctx.open()?;
            let q = crate::query::parse(q)?;
            let mut customers: Vec<i64> = store
                .audience(&q, &ctx.search_ctx())?
                .into_iter()
                .map(|r| r.customer)
                .collect();
            customers.dedup();
            customers
        }
        (None, Some(p)) => read_ids(p)?,
        (None, None) if resuming => Vec::new(),
        _ => anyhow::bail!("give --customers QUERY or --customer-ids FILE"),
    };
    let action = Action::Send {
        text: if resuming {
            Text::Body(String::new())
        } else {
            text_arg(&a.text, &a.run)?
        },
        channel: channel_arg(&a.channel)?,
        subject: a.subject.clone(),
    };
    job(ctx, action, targets, &a.run)
}

fn noun(action: &Action, n: usize) -> String {
    let (one, many) = match action {
        Action::Reply { .. } => ("reply", "replies"),
        Action::Send { .. } => ("message to a customer", "messages to customers"),
        Action::State { .. } => ("state change", "state changes"),
        Action::Assign { .. } => ("assignment", "assignments"),
        Action::Tag { .. } => ("tag change", "tag changes"),
    };
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Plans, confirms and runs (or resumes) a job.
fn job(ctx: &Ctx, action: Action, targets: Vec<i64>, run: &RunOpts) -> anyhow::Result<()> {
    let mut store = ctx.open()?;
    let existing = match &run.job {
        Some(id) => store.job(id)?,
        None => None,
    };
    let (job_id, action, pending): (String, Action, Vec<(i64, i64)>) = match existing {
        Some(j) => {
            let stored: Action = serde_json::from_value(j.spec.clone())
                .with_context(|| format!("job {}: its stored action cannot be read", j.id))?;
            if stored.kind() != action.kind() {
                return Err(Error::invalid(
                    "job",
                    &j.id,
                    format!("it is a `{}` job, not `{}`", stored.kind(), action.kind()),
                )
                .into());
            }
            let items = store.job_items(&j.id, false)?;
            if !ctx.json {
                eprintln!(
                    "resuming job {}: {} of {} done, {} left",
                    sanitize::line(&j.id),
                    j.done,
                    j.total,
                    items.len()
                );
            }
            (
                j.id,
                stored,
                items.into_iter().map(|i| (i.seq, i.ticket_id)).collect(),
            )
        }
        None => {
            if targets.is_empty() {
                anyhow::bail!("no targets: the query matched nothing, or no ids were given");
            }
            let id = run.job.clone().unwrap_or_else(|| {
                let now = chrono::Utc::now().format("%Y%m%d-%H%M%S");
                format!("{}-{now}-{}", action.kind(), std::process::id())
            });
            let seqs = targets
                .into_iter()
                .enumerate()
                .map(|(i, t)| (i as i64, t))
                .collect();
            (id, action, seqs)
        }
    };
    let bulk = Bulk::new(&ctx.config, &ctx.agent, action)?;
    let now = crate::store::now();
    if run.dry_run {
        let mut ok = 0;
        for (seq, target) in &pending {
            let step = bulk.plan(&store, *seq, *target, now);
            if step.error.is_none() {
                ok += 1;
            }
            print_step(ctx, &step, true)?;
        }
        if !ctx.json {
            println!(
                "dry run: {} of {} targets ready; {} cannot be done (see above); nothing was changed",
                ok,
                pending.len(),
                pending.len() - ok
            );
        }
        return Ok(());
    }
    if pending.is_empty() {
        if !ctx.json {
            println!("job {job_id}: nothing left to do");
        }
        return Ok(());
    }
    if !run.yes {
        confirm(&format!(
            "{} (job {job_id})? [y/N] ",
            capitalise(&noun(bulk.action(), pending.len()))
        ))?;
    }
    let fresh = store.job(&job_id)?.is_none();
    if fresh {
        let spec = serde_json::to_value(bulk.action())?;
        let targets: Vec<i64> = pending.iter().map(|(_, t)| *t).collect();
        let tx = store.transaction()?;
        tx.create_job(&job_id, bulk.action().kind(), &spec, &ctx.agent, &targets)?;
        tx.commit()?;
    }
    let bar = (!ctx.json && std::io::stderr().is_terminal()).then(|| {
        let b = indicatif::ProgressBar::new(pending.len() as u64);
        b.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} {per_sec} eta {eta}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b
    });
    let mut pacer = Pacer::new(now, &ctx.config.bulk.rate_per_minute);
    let (done, failed) = store.with_background_indexing(|store| {
        let (mut done, mut failed) = (0usize, 0usize);
        for chunk in pending.chunks(ctx.config.bulk.chunk) {
            let steps: Vec<Step> = chunk
                .iter()
                .map(|(seq, t)| bulk.plan(store, *seq, *t, crate::store::now()))
                .collect();
            for step in bulk.apply(store, &job_id, steps, &mut pacer)? {
                if step.status == "done" {
                    done += 1;
                } else {
                    failed += 1;
                }
                if ctx.json {
                    print_step(ctx, &step, false)?;
                } else if step.status == "failed" {
                    let msg = format!(
                        "#{}: {}",
                        step.target,
                        sanitize::line(step.error.as_deref().unwrap_or(""))
                    );
                    match &bar {
                        Some(b) => b.println(msg),
                        None => eprintln!("echodesk: {msg}"),
                    }
                }
            }
            if let Some(b) = &bar {
                b.inc(chunk.len() as u64);
            }
        }
        Ok((done, failed))
    })?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    if !ctx.json {
        let sent = matches!(bulk.action(), Action::Reply { .. } | Action::Send { .. });
        println!(
            "job {job_id}: {done} done, {failed} failed{}",
            if sent {
                "; the messages are in the outbox (the daemon sends them, or `echodesk outbox send`)"
            } else {
                ""
            }
        );
    }
    if failed > 0 {
        anyhow::bail!(
            "{failed} of {} targets failed (see `echodesk bulk job {job_id}`)",
            done + failed
        );
    }
    Ok(())
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

fn print_step(ctx: &Ctx, step: &Step, dry: bool) -> anyhow::Result<()> {
    if ctx.json {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{}", sanitize::json(step, false)?)?;
        return Ok(());
    }
    let head = match (&step.channel, &step.recipient) {
        (Some(c), Some(r)) => format!("{c} to {}", sanitize::line(r)),
        _ => String::new(),
    };
    let target = match step.ticket {
        Some(t) => format!("#{t}"),
        None => format!("customer {}", step.target),
    };
    match &step.error {
        Some(e) => println!("{target}: cannot: {}", sanitize::line(e)),
        None => {
            let change = step
                .change
                .as_deref()
                .map(|c| format!("  [{}]", sanitize::line(c)))
                .unwrap_or_default();
            println!(
                "{target}{}{}{change}",
                if head.is_empty() { "" } else { ": " },
                head
            );
            if dry {
                if let Some(text) = &step.text {
                    for l in sanitize::text(text).lines() {
                        println!("    {l}");
                    }
                }
            }
        }
    }
    Ok(())
}

/// Asks on the terminal (even when standard input is a pipe of ids);
/// with no terminal, refuses.
fn confirm(question: &str) -> anyhow::Result<()> {
    let tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty");
    let Ok(mut tty) = tty else {
        return Err(Error::Refused(
            "no terminal to ask for confirmation: add --yes to go ahead (or --dry-run to look first)"
                .into(),
        )
        .into());
    };
    tty.write_all(question.as_bytes())?;
    tty.flush()?;
    let mut answer = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(&tty), &mut answer)?;
    if matches!(answer.trim(), "y" | "Y" | "yes") {
        Ok(())
    } else {
        Err(Error::Refused("cancelled; nothing was changed".into()).into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_come_from_lines_or_list_json() {
        assert_eq!(parse_ids("12\n#13\n\n 14 \n").unwrap(), vec![12, 13, 14]);
        let json = r#"{"query": "", "total": 2, "tickets": [{"id": 5}, {"id": 9}]}"#;
        assert_eq!(parse_ids(json).unwrap(), vec![5, 9]);
        assert_eq!(parse_ids("[3, 4]").unwrap(), vec![3, 4]);
        assert!(parse_ids("12\nbanana\n").is_err());
    }
}
