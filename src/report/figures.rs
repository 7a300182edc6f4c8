//! The figures people read, computed from an interval's summed rollups,
//! and the KPI targets they are held to.

use serde::Serialize;

use super::counters::Counters;
use super::dist::Dist;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Times {
    pub n: i64,
    /// Seconds; `None` when nothing was measured.
    pub mean: Option<i64>,
    pub median: Option<i64>,
    pub p90: Option<i64>,
    /// Counts in <1h, 1–4h, 4–8h, 8–24h, ≥24h.
    pub bands: [i64; 5],
}

impl Times {
    fn of(d: &Dist) -> Times {
        Times {
            n: d.n,
            mean: d.mean().map(|m| m.round() as i64),
            median: d.percentile(50.0),
            p90: d.percentile(90.0),
            bands: d.bands,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Targets {
    pub met: i64,
    pub breached: i64,
    /// met / (met + breached).
    pub rate: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Figures {
    pub created: i64,
    pub solved: i64,
    pub reopened: i64,
    pub closed: i64,
    pub merged: i64,
    pub spam: i64,
    /// Open tickets at the end of the interval.
    pub backlog: i64,
    pub messages_in: i64,
    pub messages_out: i64,
    pub notes: i64,
    pub first_response: Times,
    pub first_response_business: Times,
    pub resolution: Times,
    pub resolution_business: Times,
    /// Solved with exactly one public reply, of all solved.
    pub one_touch_rate: Option<f64>,
    /// Reopened, of solved.
    pub reopen_rate: Option<f64>,
    /// Public replies per solved ticket.
    pub replies_per_ticket: Option<f64>,
    pub first_response_sla: Targets,
    pub resolution_sla: Targets,
    /// Surveys sent in the interval and how they were answered.
    pub satisfaction: Satisfaction,
}

/// Satisfaction surveys sent in an interval (by the day sent): how many
/// were answered, the average rating, and CSAT, the share of answers in
/// the top two ratings (4 and 5 on a 1–5 scale).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Satisfaction {
    pub sent: i64,
    pub answered: i64,
    pub rating_sum: i64,
    /// Answers in the top two ratings.
    pub happy: i64,
    pub response_rate: Option<f64>,
    pub average: Option<f64>,
    pub csat: Option<f64>,
}

impl Satisfaction {
    /// Counts one survey; `rating` if answered, on a scale up to `max`.
    pub fn add(&mut self, rating: Option<u8>, max: u8) {
        self.sent += 1;
        if let Some(r) = rating {
            self.answered += 1;
            self.rating_sum += i64::from(r);
            if r + 1 >= max {
                self.happy += 1;
            }
        }
        self.finish();
    }

    pub fn merge(&mut self, o: &Satisfaction) {
        self.sent += o.sent;
        self.answered += o.answered;
        self.rating_sum += o.rating_sum;
        self.happy += o.happy;
        self.finish();
    }

    fn finish(&mut self) {
        self.response_rate = share(self.answered, self.sent);
        self.average = share(self.rating_sum, self.answered);
        self.csat = share(self.happy, self.answered);
    }
}

fn share(a: i64, b: i64) -> Option<f64> {
    (b > 0).then(|| a as f64 / b as f64)
}

impl Figures {
    /// `c` summed over the interval; `backlog` the open tickets at its end.
    pub fn of(c: &Counters, backlog: i64) -> Figures {
        let targets = |met: i64, breached: i64| Targets {
            met,
            breached,
            rate: share(met, met + breached),
        };
        Figures {
            created: c.created,
            solved: c.solved,
            reopened: c.reopened,
            closed: c.closed,
            merged: c.merged,
            spam: c.spam,
            backlog,
            messages_in: c.msgs_in,
            messages_out: c.msgs_out,
            notes: c.notes,
            first_response: Times::of(&c.frt),
            first_response_business: Times::of(&c.frt_bh),
            resolution: Times::of(&c.res),
            resolution_business: Times::of(&c.res_bh),
            one_touch_rate: share(c.one_touch, c.solved),
            reopen_rate: share(c.reopened, c.solved),
            replies_per_ticket: share(c.replies, c.solved),
            first_response_sla: targets(c.frt_met, c.frt_breached),
            resolution_sla: targets(c.res_met, c.res_breached),
            satisfaction: Satisfaction::default(),
        }
    }

    /// A KPI by its config name: seconds, shares (0–1) or counts.
    pub fn kpi(&self, name: &str) -> Option<Option<f64>> {
        let secs = |v: Option<i64>| v.map(|s| s as f64);
        Some(match name {
            "frt_mean" => secs(self.first_response.mean),
            "frt_median" => secs(self.first_response.median),
            "frt_p90" => secs(self.first_response.p90),
            "frt_bh_mean" => secs(self.first_response_business.mean),
            "frt_bh_median" => secs(self.first_response_business.median),
            "frt_bh_p90" => secs(self.first_response_business.p90),
            "resolution_mean" => secs(self.resolution.mean),
            "resolution_median" => secs(self.resolution.median),
            "resolution_p90" => secs(self.resolution.p90),
            "resolution_bh_median" => secs(self.resolution_business.median),
            "resolution_bh_p90" => secs(self.resolution_business.p90),
            "reopen_rate" => self.reopen_rate,
            "one_touch_rate" => self.one_touch_rate,
            "replies_per_ticket" => self.replies_per_ticket,
            "frt_sla" => self.first_response_sla.rate,
            "resolution_sla" => self.resolution_sla.rate,
            "created" => Some(self.created as f64),
            "solved" => Some(self.solved as f64),
            "backlog" => Some(self.backlog as f64),
            "csat" => self.satisfaction.csat,
            "csat_average" => self.satisfaction.average,
            "csat_response_rate" => self.satisfaction.response_rate,
            _ => return None,
        })
    }
}

pub const KPI_NAMES: &[&str] = &[
    "frt_mean",
    "frt_median",
    "frt_p90",
    "frt_bh_mean",
    "frt_bh_median",
    "frt_bh_p90",
    "resolution_mean",
    "resolution_median",
    "resolution_p90",
    "resolution_bh_median",
    "resolution_bh_p90",
    "reopen_rate",
    "one_touch_rate",
    "replies_per_ticket",
    "frt_sla",
    "resolution_sla",
    "created",
    "solved",
    "backlog",
    "csat",
    "csat_average",
    "csat_response_rate",
];

/// Open tickets past a target of one SLA policy now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OpenBreaches {
    pub policy: String,
    pub first_response: i64,
    pub resolution: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Met,
    Near,
    Missed,
    /// Nothing measured in the period.
    NoData,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Met => "met",
            Status::Near => "near",
            Status::Missed => "missed",
            Status::NoData => "no data",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Target {
    pub kpi: String,
    /// "<=", "<", ">=" or ">".
    pub op: String,
    pub value: f64,
    /// How the value is written: "duration", "share" or "count".
    pub unit: &'static str,
    /// As the config wrote it.
    pub text: String,
}

/// A KPI's value as people read it: a duration, a share, or a number.
pub fn show(value: Option<f64>, unit: &str) -> String {
    match (value, unit) {
        (None, _) => "-".to_string(),
        (Some(v), "duration") => crate::present::duration(v.round() as i64),
        (Some(v), "share") => format!("{:.1}%", v * 100.0),
        (Some(v), _) => format!("{v:.1}"),
    }
}

impl Target {
    /// `kpi = "<= 4h"`, `"<= 5%"`, `">= 90%"`, `"< 300"`.
    pub fn parse(kpi: &str, text: &str) -> Result<Target, String> {
        if !KPI_NAMES.contains(&kpi) {
            return Err(format!(
                "`{}` is not a KPI; the KPIs are: {}",
                crate::sanitize::line(kpi),
                KPI_NAMES.join(", ")
            ));
        }
        let t = text.trim();
        let (op, rest) = ["<=", ">=", "<", ">"]
            .iter()
            .find_map(|op| t.strip_prefix(op).map(|r| (*op, r.trim())))
            .ok_or_else(|| {
                format!(
                    "target `{}` for {kpi}: start with <=, <, >= or >, e.g. \"<= 4h\"",
                    crate::sanitize::line(t)
                )
            })?;
        let rate = kpi.ends_with("_rate") || kpi.ends_with("_sla") || kpi == "csat";
        let is_time = kpi.starts_with("frt") || kpi.starts_with("resolution_");
        let bad = |what: &str| {
            format!(
                "target `{}` for {kpi}: `{}` is not {what}",
                crate::sanitize::line(t),
                crate::sanitize::line(rest)
            )
        };
        let (value, unit) = if rate {
            let p = rest
                .strip_suffix('%')
                .ok_or_else(|| bad("a share like 5%"))?;
            let v: f64 = p.trim().parse().map_err(|_| bad("a share like 5%"))?;
            (v / 100.0, "share")
        } else if is_time {
            let secs = crate::query::parse_duration(rest).map_err(|_| bad("a duration like 4h"))?;
            (secs as f64, "duration")
        } else {
            (rest.parse().map_err(|_| bad("a number"))?, "count")
        };
        Ok(Target {
            kpi: kpi.to_string(),
            op: op.to_string(),
            value,
            unit,
            text: t.to_string(),
        })
    }

    /// Met, near (on the wrong side by at most `near` of the target), or
    /// missed.
    pub fn judge(&self, actual: Option<f64>, near: f64) -> Status {
        let Some(a) = actual else {
            return Status::NoData;
        };
        let v = self.value;
        let met = match self.op.as_str() {
            "<=" => a <= v,
            "<" => a < v,
            ">=" => a >= v,
            _ => a > v,
        };
        if met {
            return Status::Met;
        }
        let slack = (v.abs() * near).max(f64::EPSILON);
        if (a - v).abs() <= slack {
            Status::Near
        } else {
            Status::Missed
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_and_judge() {
        let t = Target::parse("frt_p90", "<= 4h").unwrap();
        assert_eq!((t.value, t.unit), (14_400.0, "duration"));
        assert_eq!(t.judge(Some(3600.0), 0.1), Status::Met);
        assert_eq!(t.judge(Some(15_000.0), 0.1), Status::Near);
        assert_eq!(t.judge(Some(30_000.0), 0.1), Status::Missed);
        assert_eq!(t.judge(None, 0.1), Status::NoData);
        let r = Target::parse("reopen_rate", "<= 5%").unwrap();
        assert!((r.value - 0.05).abs() < 1e-9);
        assert_eq!(r.judge(Some(0.052), 0.1), Status::Near);
        let s = Target::parse("frt_sla", ">= 90%").unwrap();
        assert_eq!(s.judge(Some(0.95), 0.1), Status::Met);
        assert!(Target::parse("speed", "<= 1h")
            .unwrap_err()
            .contains("frt_p90"));
        assert!(Target::parse("reopen_rate", "<= 5")
            .unwrap_err()
            .contains("5%"));
        assert!(Target::parse("frt_p90", "4h").unwrap_err().contains("<="));
    }

    #[test]
    fn figures_come_from_the_counters() {
        let mut c = Counters {
            solved: 4,
            one_touch: 1,
            reopened: 1,
            replies: 6,
            frt_met: 3,
            frt_breached: 1,
            ..Default::default()
        };
        for s in [600, 1200, 4000, 90_000] {
            c.frt.record(s, 1);
        }
        let f = Figures::of(&c, 7);
        assert_eq!(f.backlog, 7);
        assert_eq!(f.first_response.n, 4);
        assert_eq!(f.first_response.mean, Some(23_950));
        assert_eq!(f.first_response.bands, [2, 1, 0, 0, 1]);
        assert_eq!(f.one_touch_rate, Some(0.25));
        assert_eq!(f.reopen_rate, Some(0.25));
        assert_eq!(f.replies_per_ticket, Some(1.5));
        assert_eq!(f.first_response_sla.rate, Some(0.75));
        assert_eq!(f.kpi("frt_sla"), Some(Some(0.75)));
        assert_eq!(f.kpi("nonsense"), None);
    }
}
