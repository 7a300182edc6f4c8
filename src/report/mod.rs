//! Reports and KPIs: what each ticket's history contributes (`facts`),
//! the daily rollups those contributions add up to (`counters`, `dist`),
//! the periods people ask about (`period`), and the figures computed from
//! a period's rollups (`figures`). Definitions: docs/reports.md.

pub mod counters;
pub mod dist;
pub mod facts;
pub mod figures;
pub mod period;
pub mod schedule;

use std::collections::HashMap;

use crate::model::{Channel, Priority};

pub use counters::{Counters, Sum};
pub use facts::{Fact, Rules, Step, Ticket, What};

/// The dimensions a rollup row is kept by.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    pub day: i32,
    pub channel: Channel,
    pub agent: String,
    pub priority: Priority,
}

/// A ticket's facts summed by rollup row, `sign` 1 to add them, -1 to
/// take them away.
pub fn add_facts(into: &mut HashMap<Key, Counters>, channel: Channel, facts: &[Fact], sign: i64) {
    for f in facts {
        into.entry(Key {
            day: f.day,
            channel,
            agent: f.agent.clone(),
            priority: f.priority,
        })
        .or_default()
        .record(f, sign);
    }
}

/// The version of the definitions the stored facts were computed with:
/// a store with another rebuilds its rollups before reporting.
/// 2: tickets waiting for a reply or a solve, by deadline day.
pub const DEFINITIONS: i64 = 2;
