//! `echodesk review`: sample each agent's solved tickets for quality
//! review, score them on the rubric, and see the scores per agent and
//! criterion over periods.

use clap::Subcommand;

use super::output::{self, say};
use super::report::{range, PeriodArgs};
use super::Ctx;
use crate::sanitize::line;

#[derive(Debug, Subcommand)]
pub enum ReviewCmd {
    /// Create review tasks: a reproducible random sample of each agent's solved tickets
    Sample {
        #[command(flatten)]
        period: PeriodArgs,
        /// Tickets per agent
        #[arg(long, default_value_t = 5)]
        per_agent: usize,
        /// Only tickets this query matches
        #[arg(long, short)]
        query: Option<String>,
        /// The same seed gives the same sample [default: from the period]
        #[arg(long)]
        seed: Option<u64>,
    },
    /// Review tasks and their scores (--mine: reviews of my own work)
    List {
        /// A period label as `sample` printed it: 2026-11
        #[arg(long)]
        period: Option<String>,
        /// Reviews of this agent's work
        #[arg(long = "of", value_name = "AGENT")]
        of: Option<String>,
        #[arg(long, conflicts_with = "of")]
        mine: bool,
        /// Only the ones not scored yet
        #[arg(long)]
        todo: bool,
    },
    /// Score a review: review score ID greeting=5 tone=4 … [--comment TEXT]
    Score {
        /// The review's id (from `review list`)
        id: i64,
        /// criterion=score, for one or more criteria of the rubric
        #[arg(required = true)]
        scores: Vec<String>,
        #[arg(long)]
        comment: Option<String>,
    },
    /// Scores per period and agent, and per criterion
    Stats {
        /// Only this agent's
        #[arg(long = "of", value_name = "AGENT")]
        of: Option<String>,
    },
}

pub fn run(ctx: &Ctx, cmd: ReviewCmd) -> anyhow::Result<()> {
    match cmd {
        ReviewCmd::Sample {
            period,
            per_agent,
            query,
            seed,
        } => sample(ctx, &period, per_agent, query.as_deref(), seed),
        ReviewCmd::List {
            period,
            of,
            mine,
            todo,
        } => {
            let agent = if mine { Some(ctx.agent.clone()) } else { of };
            list(ctx, period.as_deref(), agent.as_deref(), todo)
        }
        ReviewCmd::Score {
            id,
            scores,
            comment,
        } => score(ctx, id, &scores, comment.as_deref()),
        ReviewCmd::Stats { of } => stats(ctx, of.as_deref()),
    }
}

fn sample(
    ctx: &Ctx,
    period: &PeriodArgs,
    per_agent: usize,
    query: Option<&str>,
    seed: Option<u64>,
) -> anyhow::Result<()> {
    let (_, _, starts) = ctx.config.report_settings().map_err(anyhow::Error::msg)?;
    let sctx = ctx.search_ctx();
    let today = ctx.config.team_zone().day(sctx.now);
    let p = match (&period.period, &period.last, &period.from) {
        (None, None, None) => PeriodArgs {
            period: Some("last-month".into()),
            ..PeriodArgs::default()
        },
        _ => period.clone(),
    };
    let r = range(&p, today, starts)?;
    let mut store = ctx.open()?;
    let s = crate::review::sample(&mut store, r, per_agent, query, seed, &sctx)?;
    if ctx.json {
        return output::json(&s);
    }
    for (agent, tickets) in &s.agents {
        let ids: Vec<String> = tickets.iter().map(|t| format!("#{t}")).collect();
        say(&format!("{:<12} {}", line(agent), ids.join(" ")));
    }
    say(&format!(
        "period {} · seed {} · {} review tasks created ({} agents); score them with `echodesk review score` or in the TUI",
        s.period,
        s.seed,
        s.added,
        s.agents.len()
    ));
    Ok(())
}

fn list(ctx: &Ctx, period: Option<&str>, agent: Option<&str>, todo: bool) -> anyhow::Result<()> {
    let store = ctx.open()?;
    let mut reviews = store.reviews(period, agent)?;
    if todo {
        reviews.retain(|r| r.score.is_none());
    }
    if ctx.json {
        return output::json(&reviews);
    }
    say(&format!(
        "{:>6}  {:>7}  {:<22}  {:<10}  {:>6}  scores",
        "REVIEW", "TICKET", "PERIOD", "AGENT", "SCORE"
    ));
    for r in &reviews {
        let scores: Vec<String> = r.scores.iter().map(|(c, s)| format!("{c}={s}")).collect();
        say(&format!(
            "{:>6}  {:>7}  {:<22}  {:<10}  {:>6}  {}{}",
            r.id,
            format!("#{}", r.ticket),
            line(&r.period),
            line(&r.agent),
            r.score
                .map(|s| format!("{:.0}%", s * 100.0))
                .unwrap_or_else(|| "-".into()),
            scores.join(" "),
            r.comment
                .as_deref()
                .map(|c| format!(" · {}", line(c)))
                .unwrap_or_default()
        ));
    }
    Ok(())
}

fn score(ctx: &Ctx, id: i64, args: &[String], comment: Option<&str>) -> anyhow::Result<()> {
    let scores = crate::review::parse_scores(&ctx.config, args)?;
    let mut store = ctx.open()?;
    let config = ctx.config.clone();
    let tx = store.transaction()?;
    tx.score_review(id, &ctx.agent, &scores, comment, &|all| {
        crate::review::weighted(&config, all)
    })?;
    tx.commit()?;
    let r = store
        .review(id)?
        .ok_or_else(|| anyhow::anyhow!("review {id} vanished"))?;
    if ctx.json {
        return output::json(&r);
    }
    let missing: Vec<&str> = ctx
        .config
        .review
        .criteria
        .iter()
        .filter(|c| !r.scores.iter().any(|(n, _)| *n == c.name))
        .map(|c| c.name.as_str())
        .collect();
    match r.score {
        Some(s) => say(&format!(
            "review {id} (#{}, {}): {:.0}%",
            r.ticket,
            line(&r.agent),
            s * 100.0
        )),
        None => say(&format!(
            "review {id} (#{}): still to score: {}",
            r.ticket,
            missing.join(", ")
        )),
    }
    Ok(())
}

fn stats(ctx: &Ctx, agent: Option<&str>) -> anyhow::Result<()> {
    let store = ctx.open()?;
    let reviews = store.reviews(None, agent)?;
    let rows = crate::review::stats(&reviews);
    if ctx.json {
        return output::json(&rows);
    }
    let names: Vec<&str> = ctx
        .config
        .review
        .criteria
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    say(&format!(
        "{:<22}  {:<10}  {:>7}  {:>6}  {}",
        "PERIOD",
        "AGENT",
        "SCORED",
        "SCORE",
        names
            .iter()
            .map(|n| format!("{:>11}", crate::present::fit(n, 11)))
            .collect::<String>()
    ));
    for s in &rows {
        say(&format!(
            "{:<22}  {:<10}  {:>7}  {:>6}  {}",
            line(&s.period),
            line(&s.agent),
            format!("{}/{}", s.scored, s.sampled),
            s.score
                .map(|v| format!("{:.0}%", v * 100.0))
                .unwrap_or_else(|| "-".into()),
            names
                .iter()
                .map(|n| format!(
                    "{:>11}",
                    s.criteria
                        .get(*n)
                        .map(|v| format!("{v:.1}"))
                        .unwrap_or_else(|| "-".into())
                ))
                .collect::<String>()
        ));
    }
    Ok(())
}
