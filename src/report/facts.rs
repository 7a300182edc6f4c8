//! What one ticket's history contributes to the reports: a list of facts,
//! each on a day of the team's clock, with the agent and priority it
//! counts under. docs/reports.md defines each one; this is that
//! definition, run over the ticket's messages and state changes.
//!
//! It is a pure function of the history, so the store can recompute a
//! ticket's facts whenever the ticket changes and put the difference into
//! the daily rollups: the rollups are then always the sum over the
//! tickets as they are now (merges and spam included).

use crate::clock::Zone;
use crate::model::{Channel, Direction, Priority};
use crate::sla::Hours;
use crate::workflow::Workflow;

use super::counters::{put, Reader};

/// The agent the system files customer messages as (ingest's).
pub const SYSTEM: &str = "echodesk";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum What {
    Created,
    /// A ticket in the spam state counts here and nowhere else.
    Spam,
    Reopened,
    Closed,
    /// Closed by a merge into another ticket.
    Merged,
    /// +1 entering the open states (or an open ticket assigned to the
    /// agent), -1 leaving them.
    Backlog(i64),
    In {
        hour: u8,
    },
    Out,
    Note,
    FirstResponse {
        secs: i64,
        business: i64,
        /// Met (true) or missed the first-response target: first cycle only.
        sla: Option<bool>,
    },
    Solved {
        secs: i64,
        business: i64,
        replies: u32,
        sla: Option<bool>,
    },
    /// Open now with no public agent reply yet, on the day its
    /// first-response deadline falls: past days' are the breaches still
    /// open.
    WaitingReply,
    /// Open now, on the day its resolution deadline falls.
    WaitingSolve,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fact {
    pub day: i32,
    pub agent: String,
    pub priority: Priority,
    pub what: What,
}

/// The ticket as it is now.
#[derive(Debug, Clone)]
pub struct Ticket {
    pub created_at: i64,
    pub channel: Channel,
    pub state: String,
    pub priority: Priority,
    pub assignee: Option<String>,
    pub first_response_due: Option<i64>,
    pub resolution_due: Option<i64>,
    /// Team mail (a report to a manager): not the team's work, no facts.
    pub internal: bool,
}

/// One entry of its history: events in the order they were logged,
/// messages in the order they were stored.
#[derive(Debug, Clone)]
pub enum Step {
    Message {
        at: i64,
        direction: Direction,
        author: Option<String>,
        auto: bool,
    },
    State {
        at: i64,
        agent: String,
        from: String,
        to: String,
    },
    Assignee {
        at: i64,
        from: Option<String>,
        to: Option<String>,
    },
    Priority {
        at: i64,
        from: Priority,
        to: Priority,
    },
    /// The ticket was merged into another: the state change just before
    /// it was that merge's.
    MergedInto { at: i64 },
}

impl Step {
    fn at(&self) -> i64 {
        match self {
            Step::Message { at, .. }
            | Step::State { at, .. }
            | Step::Assignee { at, .. }
            | Step::Priority { at, .. }
            | Step::MergedInto { at } => *at,
        }
    }
}

/// What the definitions need of the config.
pub struct Rules<'a> {
    pub workflow: &'a Workflow,
    pub zone: Zone,
    pub hours: &'a Hours,
}

/// A public agent reply: outbound, by a person, not automatic.
pub fn is_agent_reply(direction: Direction, author: Option<&str>, auto: bool) -> bool {
    direction == Direction::Out
        && !auto
        && author.is_some_and(|a| a != SYSTEM && !a.starts_with("rule:"))
}

struct Cycle {
    start: i64,
    /// When the customer's first message of the cycle arrived.
    asked: Option<i64>,
    answered: bool,
    replies: u32,
    first: bool,
}

/// The facts of one ticket. `events` are in log order and `messages` in
/// storage order; messages are placed among the events by time, and at
/// the same second after a reopen and before any other change (a reply
/// and the solve that follows it in the same second stay in that order).
pub fn facts(t: &Ticket, events: Vec<Step>, messages: Vec<Step>, r: &Rules<'_>) -> Vec<Fact> {
    let wf = r.workflow;
    let day = |at: i64| r.zone.day(at);
    if t.internal {
        return Vec::new();
    }
    if t.state == wf.spam_state {
        return vec![Fact {
            day: day(t.created_at),
            agent: String::new(),
            priority: t.priority,
            what: What::Spam,
        }];
    }
    // The priority and assignee it started with: the first change's
    // "from", or what it has now.
    let mut priority = events
        .iter()
        .find_map(|s| match s {
            Step::Priority { from, .. } => Some(*from),
            _ => None,
        })
        .unwrap_or(t.priority);
    let mut state = events
        .iter()
        .find_map(|s| match s {
            Step::State { from, .. } => Some(from.clone()),
            _ => None,
        })
        .unwrap_or_else(|| t.state.clone());
    let mut assignee = events
        .iter()
        .find_map(|s| match s {
            Step::Assignee { from, .. } => Some(from.clone()),
            _ => None,
        })
        .unwrap_or_else(|| t.assignee.clone());
    let timeline = interleave(events, messages, wf);
    let mut out = Vec::new();
    let push = |out: &mut Vec<Fact>, at: i64, agent: &str, p: Priority, what: What| {
        out.push(Fact {
            day: day(at),
            agent: agent.to_string(),
            priority: p,
            what,
        })
    };
    push(&mut out, t.created_at, "", priority, What::Created);
    let mut open = wf.is_open(&state);
    let owner = |a: &Option<String>| a.clone().unwrap_or_default();
    if open {
        push(
            &mut out,
            t.created_at,
            &owner(&assignee),
            priority,
            What::Backlog(1),
        );
    }
    let mut replied = false;
    let mut cycle = Cycle {
        start: t.created_at,
        asked: None,
        answered: false,
        replies: 0,
        first: true,
    };
    for &(at, merge, ref step) in &timeline {
        match step {
            Step::Message {
                direction,
                author,
                auto,
                ..
            } => match direction {
                Direction::In => {
                    let (_, hour) = r.zone.weekday_hour(at);
                    push(&mut out, at, "", priority, What::In { hour });
                    if !auto && cycle.asked.is_none() {
                        cycle.asked = Some(at);
                    }
                }
                Direction::Note => push(
                    &mut out,
                    at,
                    author.as_deref().unwrap_or(""),
                    priority,
                    What::Note,
                ),
                Direction::Out => {
                    let who = author.as_deref().unwrap_or("");
                    push(&mut out, at, who, priority, What::Out);
                    if is_agent_reply(*direction, author.as_deref(), *auto) {
                        replied = true;
                        cycle.replies += 1;
                        if let (Some(asked), false) = (cycle.asked, cycle.answered) {
                            if at >= asked {
                                cycle.answered = true;
                                let sla = cycle
                                    .first
                                    .then_some(t.first_response_due)
                                    .flatten()
                                    .map(|due| at <= due);
                                push(
                                    &mut out,
                                    at,
                                    who,
                                    priority,
                                    What::FirstResponse {
                                        secs: at - asked,
                                        business: r.hours.between(asked, at),
                                        sla,
                                    },
                                );
                            }
                        }
                    }
                }
            },
            Step::Priority { to, .. } => priority = *to,
            Step::Assignee { to, .. } => {
                if open {
                    push(&mut out, at, &owner(&assignee), priority, What::Backlog(-1));
                    push(&mut out, at, &owner(to), priority, What::Backlog(1));
                }
                assignee = to.clone();
            }
            Step::MergedInto { .. } => {}
            Step::State { agent, to, .. } => {
                let was_open = open;
                let now_open = wf.is_open(to);
                if was_open && !now_open {
                    push(&mut out, at, &owner(&assignee), priority, What::Backlog(-1));
                    if merge {
                        push(&mut out, at, agent, priority, What::Merged);
                    } else if *to == wf.solved_state || wf.is_final(to) {
                        let sla = cycle
                            .first
                            .then_some(t.resolution_due)
                            .flatten()
                            .map(|due| at <= due);
                        push(
                            &mut out,
                            at,
                            agent,
                            priority,
                            What::Solved {
                                secs: at - cycle.start,
                                business: r.hours.between(cycle.start, at),
                                replies: cycle.replies,
                                sla,
                            },
                        );
                    }
                }
                if wf.is_final(to) && !merge && !wf.is_final(&state) {
                    push(&mut out, at, agent, priority, What::Closed);
                }
                if !was_open && now_open {
                    push(&mut out, at, &owner(&assignee), priority, What::Backlog(1));
                    if state != wf.spam_state {
                        push(&mut out, at, agent, priority, What::Reopened);
                        cycle = Cycle {
                            start: at,
                            // A customer's message reopened it: that
                            // message starts the clock, now.
                            asked: (agent == SYSTEM).then_some(at),
                            answered: false,
                            replies: 0,
                            first: false,
                        };
                    }
                }
                open = now_open;
                state = to.clone();
            }
        }
    }
    // Where it stands now, on the days its deadlines fall.
    if open {
        if let (Some(due), false) = (t.first_response_due, replied) {
            push(&mut out, due, "", t.priority, What::WaitingReply);
        }
        if let Some(due) = t.resolution_due {
            push(&mut out, due, "", t.priority, What::WaitingSolve);
        }
    }
    out
}

/// Events in log order with the messages (in time order) placed among
/// them by time, each with the time it counts at (an event's never
/// earlier than the one before it, whatever clocks said) and whether it
/// is a state change a merge made.
fn interleave(events: Vec<Step>, messages: Vec<Step>, wf: &Workflow) -> Vec<(i64, bool, Step)> {
    let reopen = |s: &Step| match s {
        Step::State { from, to, .. } => !wf.is_open(from) && wf.is_open(to),
        _ => false,
    };
    let merges: Vec<bool> = (0..events.len())
        .map(|i| {
            matches!(events[i], Step::State { .. })
                && matches!(events.get(i + 1), Some(Step::MergedInto { .. }))
        })
        .collect();
    let mut out = Vec::with_capacity(events.len() + messages.len());
    let mut msgs = messages.into_iter().peekable();
    let mut last = i64::MIN;
    for (e, merge) in events.into_iter().zip(merges) {
        let at = e.at().max(last);
        last = at;
        // Messages strictly earlier go first; at the same second, before
        // anything but a reopen.
        while let Some(m) = msgs.peek() {
            if m.at() < at || (m.at() == at && !reopen(&e)) {
                if let Some(m) = msgs.next() {
                    out.push((m.at(), false, m));
                }
            } else {
                break;
            }
        }
        out.push((at, merge, e));
    }
    out.extend(msgs.map(|m| (m.at(), false, m)));
    out
}

/// The stored form of a ticket's facts.
pub fn encode(facts: &[Fact]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + facts.len() * 6);
    out.push(FORMAT);
    put(&mut out, facts.len() as i64);
    let mut last_day = 0;
    for f in facts {
        put(&mut out, i64::from(f.day - last_day));
        last_day = f.day;
        put(&mut out, f.priority.rank());
        put(&mut out, f.agent.len() as i64);
        out.extend_from_slice(f.agent.as_bytes());
        let sla = |s: &Option<bool>| match s {
            None => 0,
            Some(false) => 1,
            Some(true) => 2,
        };
        match &f.what {
            What::Created => out.push(0),
            What::Spam => out.push(1),
            What::Reopened => out.push(2),
            What::Closed => out.push(3),
            What::Merged => out.push(4),
            What::Backlog(d) => {
                out.push(5);
                put(&mut out, *d);
            }
            What::In { hour } => {
                out.push(6);
                out.push(*hour);
            }
            What::Out => out.push(7),
            What::Note => out.push(8),
            What::FirstResponse {
                secs,
                business,
                sla: s,
            } => {
                out.push(9);
                put(&mut out, *secs);
                put(&mut out, *business);
                out.push(sla(s));
            }
            What::Solved {
                secs,
                business,
                replies,
                sla: s,
            } => {
                out.push(10);
                put(&mut out, *secs);
                put(&mut out, *business);
                put(&mut out, i64::from(*replies));
                out.push(sla(s));
            }
            What::WaitingReply => out.push(11),
            What::WaitingSolve => out.push(12),
        }
    }
    out
}

const FORMAT: u8 = 1;

/// Reads what [`encode`] wrote; `None` for anything else.
pub fn decode(bytes: &[u8]) -> Option<Vec<Fact>> {
    let mut r = Reader { bytes, at: 0 };
    if r.byte()? != FORMAT {
        return None;
    }
    let n = usize::try_from(r.int()?).ok()?;
    let mut out = Vec::with_capacity(n.min(4096));
    let mut day = 0i32;
    for _ in 0..n {
        day = day.checked_add(i32::try_from(r.int()?).ok()?)?;
        let priority = Priority::from_rank(r.int()?);
        let agent = r.text()?;
        let sla = |b: u8| match b {
            1 => Some(false),
            2 => Some(true),
            _ => None,
        };
        let what = match r.byte()? {
            0 => What::Created,
            1 => What::Spam,
            2 => What::Reopened,
            3 => What::Closed,
            4 => What::Merged,
            5 => What::Backlog(r.int()?),
            6 => What::In { hour: r.byte()? },
            7 => What::Out,
            8 => What::Note,
            9 => What::FirstResponse {
                secs: r.int()?,
                business: r.int()?,
                sla: sla(r.byte()?),
            },
            10 => What::Solved {
                secs: r.int()?,
                business: r.int()?,
                replies: u32::try_from(r.int()?).ok()?,
                sla: sla(r.byte()?),
            },
            11 => What::WaitingReply,
            12 => What::WaitingSolve,
            _ => return None,
        };
        out.push(Fact {
            day,
            agent,
            priority,
            what,
        });
    }
    r.done().then_some(out)
}
