//! Quality review by sampling: a reproducible random sample of each
//! agent's solved tickets in a period becomes review tasks; each is
//! scored on the rubric of `[review]`, and the weighted scores add up per
//! agent and criterion over periods.

use std::collections::{BTreeMap, HashSet};

use chrono::Datelike;
use serde::Serialize;

use crate::clock::date_of;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::report::period::Range;
use crate::store::{Review, SearchContext, Store};

/// splitmix64: small, fast, and the same on every machine, so a seed
/// gives the same sample everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// The label a sample is kept under: `2026-11` for a whole month, else
/// `2026-11-02..2026-11-08`.
pub fn period_label(r: Range) -> String {
    let (a, b) = (date_of(r.first), date_of(r.last));
    let month_end = b.succ_opt().is_some_and(|n| n.day() == 1);
    if a.day() == 1 && month_end && a.month() == b.month() && a.year() == b.year() {
        a.format("%Y-%m").to_string()
    } else {
        format!("{}..{}", a.format("%Y-%m-%d"), b.format("%Y-%m-%d"))
    }
}

/// The seed a period samples with unless one is given: from its label.
pub fn default_seed(label: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in label.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// What `review sample` picked.
#[derive(Debug, Clone, Serialize)]
pub struct Sample {
    pub period: String,
    pub seed: u64,
    /// agent → sampled tickets (all, also those sampled before).
    pub agents: BTreeMap<String, Vec<i64>>,
    /// New review tasks created by this run.
    pub added: usize,
}

/// Samples up to `per_agent` of each agent's tickets solved in `range`
/// (and matching `query`), with `seed`, and creates the review tasks.
pub fn sample(
    store: &mut Store,
    range: Range,
    per_agent: usize,
    query: Option<&str>,
    seed: Option<u64>,
    ctx: &SearchContext,
) -> Result<Sample> {
    let zone = store.settings().zone;
    let label = period_label(range);
    let seed = seed.unwrap_or_else(|| default_seed(&label));
    let solved =
        store.solved_between(zone.day_start(range.first), zone.day_start(range.last + 1))?;
    let wanted: Option<HashSet<i64>> = match query {
        Some(q) => {
            let q = crate::query::parse(q).map_err(|e| Error::Other(e.to_string()))?;
            Some(
                store
                    .search_ids(&q, ctx, usize::MAX >> 1)?
                    .into_iter()
                    .collect(),
            )
        }
        None => None,
    };
    let mut by_agent: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for (ticket, agent) in solved {
        // Automation and the system solve tickets too; their work is not
        // reviewed.
        if agent.starts_with("rule:") || agent == crate::report::facts::SYSTEM {
            continue;
        }
        if wanted.as_ref().is_some_and(|w| !w.contains(&ticket)) {
            continue;
        }
        by_agent.entry(agent).or_default().push(ticket);
    }
    let mut picked = BTreeMap::new();
    for (agent, mut tickets) in by_agent {
        // One generator per agent, from the seed and the name: an agent's
        // sample does not change when another agent's tickets do.
        let mut rng = Rng(seed ^ default_seed(&agent));
        tickets.sort_unstable();
        for i in (1..tickets.len()).rev() {
            let j = rng.below(i + 1);
            tickets.swap(i, j);
        }
        tickets.truncate(per_agent);
        tickets.sort_unstable();
        picked.insert(agent, tickets);
    }
    let tx = store.transaction()?;
    let mut added = 0;
    for (agent, tickets) in &picked {
        for t in tickets {
            if tx.add_review(*t, agent, &label)? {
                added += 1;
            }
        }
    }
    tx.commit()?;
    Ok(Sample {
        period: label,
        seed,
        agents: picked,
        added,
    })
}

/// `criterion=score` arguments checked against the rubric.
pub fn parse_scores(config: &Config, args: &[String]) -> Result<Vec<(String, u8)>> {
    let mut out = Vec::new();
    for a in args {
        let (name, v) = a
            .split_once('=')
            .ok_or_else(|| Error::invalid("score", a, "write criterion=score, e.g. tone=4"))?;
        let c = config
            .review
            .criteria
            .iter()
            .find(|c| c.name == name.trim())
            .ok_or_else(|| {
                let names: Vec<&str> = config
                    .review
                    .criteria
                    .iter()
                    .map(|c| c.name.as_str())
                    .collect();
                Error::invalid(
                    "score",
                    a,
                    format!(
                        "no criterion `{}` in the rubric ({})",
                        name.trim(),
                        names.join(", ")
                    ),
                )
            })?;
        let s: u8 = v
            .trim()
            .parse()
            .ok()
            .filter(|s| (1..=c.scale).contains(s))
            .ok_or_else(|| {
                Error::invalid("score", a, format!("{} is scored 1 to {}", c.name, c.scale))
            })?;
        out.push((c.name.clone(), s));
    }
    Ok(out)
}

/// The weighted score (0–1) once every criterion of the rubric is scored:
/// each score as a share of its scale, weighted.
pub fn weighted(config: &Config, scores: &[(String, u8)]) -> Option<f64> {
    let mut sum = 0.0;
    let mut weights = 0.0;
    for c in &config.review.criteria {
        let s = scores.iter().find(|(n, _)| *n == c.name)?.1;
        sum += c.weight * f64::from(s - 1) / f64::from(c.scale - 1);
        weights += c.weight;
    }
    (weights > 0.0).then(|| sum / weights)
}

/// One row of `review stats`: a period and an agent.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Stat {
    pub period: String,
    pub agent: String,
    pub sampled: usize,
    pub scored: usize,
    /// Mean weighted score, 0–1.
    pub score: Option<f64>,
    /// criterion → mean score on its scale.
    pub criteria: BTreeMap<String, f64>,
}

/// Per period and agent, then per period over all agents ("all").
pub fn stats(reviews: &[Review]) -> Vec<Stat> {
    let mut groups: BTreeMap<(String, String), Vec<&Review>> = BTreeMap::new();
    for r in reviews {
        groups
            .entry((r.period.clone(), r.agent.clone()))
            .or_default()
            .push(r);
        groups
            .entry((r.period.clone(), "all".into()))
            .or_default()
            .push(r);
    }
    groups
        .into_iter()
        .map(|((period, agent), rs)| {
            let scored: Vec<f64> = rs.iter().filter_map(|r| r.score).collect();
            let mut sums: BTreeMap<String, (f64, f64)> = BTreeMap::new();
            for r in &rs {
                for (c, s) in &r.scores {
                    let e = sums.entry(c.clone()).or_default();
                    e.0 += f64::from(*s);
                    e.1 += 1.0;
                }
            }
            Stat {
                period,
                agent,
                sampled: rs.len(),
                scored: scored.len(),
                score: (!scored.is_empty())
                    .then(|| scored.iter().sum::<f64>() / scored.len() as f64),
                criteria: sums.into_iter().map(|(c, (s, n))| (c, s / n)).collect(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_name_whole_months() {
        let d = |s: &str| {
            crate::clock::day_number(chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap())
        };
        assert_eq!(
            period_label(Range {
                first: d("2026-11-01"),
                last: d("2026-11-30")
            }),
            "2026-11"
        );
        assert_eq!(
            period_label(Range {
                first: d("2026-11-02"),
                last: d("2026-11-08")
            }),
            "2026-11-02..2026-11-08"
        );
    }

    #[test]
    fn weighted_scores_need_every_criterion() {
        let config = Config::default();
        let mut s: Vec<(String, u8)> = config
            .review
            .criteria
            .iter()
            .map(|c| (c.name.clone(), 5))
            .collect();
        assert_eq!(weighted(&config, &s), Some(1.0));
        s[1].1 = 1; // correctness, weight 2 of 7
        let w = weighted(&config, &s).unwrap();
        assert!((w - 5.0 / 7.0).abs() < 1e-9, "{w}");
        s.pop();
        assert_eq!(weighted(&config, &s), None);
    }

    #[test]
    fn scores_are_checked_against_the_rubric() {
        let config = Config::default();
        assert_eq!(
            parse_scores(&config, &["tone=4".into()]).unwrap(),
            [("tone".to_string(), 4)]
        );
        for bad in ["tone=6", "tone=0", "speed=3", "tone", "tone=x"] {
            assert!(parse_scores(&config, &[bad.into()]).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_shuffle_is_the_same_for_a_seed() {
        let mut a = Rng(42);
        let mut b = Rng(42);
        let xs: Vec<u64> = (0..5).map(|_| a.next()).collect();
        let ys: Vec<u64> = (0..5).map(|_| b.next()).collect();
        assert_eq!(xs, ys);
        assert_ne!(Rng(43).next(), xs[0]);
    }
}
