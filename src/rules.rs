//! Automation rules: when a customer message arrives and its ticket
//! matches a rule's query, the rule sets state, priority, tags or assignee,
//! or answers with a canned reply.
//!
//! The ingest transaction queues every live customer message for the
//! rules (`rule_queue`), and [`run_pending`] works the queue after the
//! commit. The poller's batch stays fast, and a crash in between loses no
//! rule run. Each message's rule actions commit together with its removal
//! from the queue.
//!
//! Loop protection: there is never an automatic reply to auto-submitted
//! mail, bounces, bulk or list mail, or mailer-daemon and no-reply
//! senders. A customer gets at most one automatic reply per
//! `auto_reply_period`. Automatic replies carry `Auto-Submitted:
//! auto-replied` (RFC 3834), do not count as the first response for SLAs,
//! and do not move the ticket to pending.

use serde::{Deserialize, Serialize};

use crate::canned::Vars;
use crate::change::Change;
use crate::error::Result;
use crate::model::{Direction, Priority};
use crate::store::{SearchContext, Store};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Trigger {
    /// Every customer message (new tickets and replies alike).
    #[default]
    Message,
    /// Only a message that opened a new ticket.
    NewTicket,
    /// A survey answer (with `rating = "<= 2"` to pick which).
    Rating,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub name: String,
    #[serde(default)]
    pub on: Trigger,
    /// Which tickets, in the search language; empty matches every ticket.
    #[serde(default)]
    pub query: String,
    pub set_state: Option<String>,
    pub set_priority: Option<Priority>,
    #[serde(default)]
    pub add_tags: Vec<String>,
    /// An agent name, or "none" to unassign.
    pub assign: Option<String>,
    /// A canned answer to send back (name or shortcut).
    pub auto_reply: Option<String>,
    /// Which asset the ticket is about, when it names none yet: a serial
    /// number or external id, or `"owned"` for the one asset the
    /// customer (or their organisation) owns, if they own exactly one.
    pub set_asset: Option<String>,
    /// Later rules are not tried for a message this rule matched.
    #[serde(default)]
    pub stop: bool,
    /// `on = "rating"`: which ratings, e.g. "<= 2", ">= 4", "1".
    pub rating: Option<String>,
}

/// A rating condition: `<= 2`, `< 3`, `>= 4`, `> 3`, `= 5` or `5`.
pub fn rating_matches(cond: &str, rating: u8) -> std::result::Result<bool, String> {
    let c = cond.trim();
    let (op, n) = ["<=", ">=", "<", ">", "="]
        .iter()
        .find_map(|op| c.strip_prefix(op).map(|rest| (*op, rest)))
        .unwrap_or(("=", c));
    let n: u8 = n
        .trim()
        .parse()
        .map_err(|_| format!("rating `{cond}`: expected a condition such as <= 2"))?;
    Ok(match op {
        "<=" => rating <= n,
        ">=" => rating >= n,
        "<" => rating < n,
        ">" => rating > n,
        _ => rating == n,
    })
}

impl Rule {
    pub fn check(&self, workflow: &crate::workflow::Workflow) -> std::result::Result<(), String> {
        crate::query::parse(&self.query).map_err(|e| format!("query `{}`: {e}", self.query))?;
        if let Some(s) = &self.set_state {
            workflow.check_state(s).map_err(|e| e.to_string())?;
        }
        match (&self.rating, self.on) {
            (Some(c), Trigger::Rating) => {
                rating_matches(c, 1)?;
            }
            (Some(_), _) => return Err("`rating` needs `on = \"rating\"`".into()),
            _ => {}
        }
        if self.set_state.is_none()
            && self.set_priority.is_none()
            && self.add_tags.is_empty()
            && self.assign.is_none()
            && self.auto_reply.is_none()
            && self.set_asset.is_none()
        {
            return Err(
                "does nothing: give set_state, set_priority, add_tags, assign, set_asset or auto_reply"
                    .into(),
            );
        }
        if self
            .set_asset
            .as_deref()
            .is_some_and(|a| a.trim().is_empty())
        {
            return Err(
                "`set_asset` is empty: give a serial number, an external id or \"owned\"".into(),
            );
        }
        Ok(())
    }
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct RulesReport {
    pub messages: u64,
    pub fired: u64,
    pub auto_replies: u64,
    /// Automatic replies held back by loop protection.
    pub suppressed: u64,
    pub problems: Vec<String>,
}

/// Why no automatic reply may go to this message, if any reason applies.
pub fn no_auto_reply_reason(m: &crate::model::Message) -> Option<&'static str> {
    if m.direction != Direction::In {
        return Some("not a customer message");
    }
    if m.auto_kind.is_some() {
        return Some("the message is automatic (auto-reply, bounce or bulk)");
    }
    let local = m
        .from_addr
        .rsplit_once('@')
        .map_or(m.from_addr.as_str(), |(l, _)| l)
        .to_ascii_lowercase();
    let robot = [
        "mailer-daemon",
        "postmaster",
        "noreply",
        "no-reply",
        "donotreply",
        "do-not-reply",
    ];
    if robot.contains(&local.as_str()) || local.contains("bounce") {
        return Some("the sender is a robot address");
    }
    None
}

/// What the rules need of the configuration (`Config::rules_setup`).
pub struct Setup<'a> {
    pub rules: &'a [Rule],
    pub workflow: &'a crate::workflow::Workflow,
    pub canned_dir: std::path::PathBuf,
    pub auto_reply_period: &'a str,
    pub signature: &'a str,
    pub subject_tag: &'a str,
}

/// Works the queue of customer messages through the configured rules.
pub fn run_pending(store: &mut Store, config: &Setup<'_>) -> Result<RulesReport> {
    let mut report = RulesReport::default();
    if config.rules.is_empty() {
        // Nothing to do, but do not let the queue grow.
        loop {
            let q = store.rule_queue(1000)?;
            if q.is_empty() {
                break;
            }
            let tx = store.transaction()?;
            for e in &q {
                tx.dequeue_for_rules(e.message_id)?;
            }
            tx.commit()?;
        }
        return Ok(report);
    }
    let rules: Vec<(Rule, crate::query::Query)> = config
        .rules
        .iter()
        .filter_map(|r| crate::query::parse(&r.query).ok().map(|q| (r.clone(), q)))
        .collect();
    let canned = crate::canned::load_dir(&config.canned_dir).0;
    let period = crate::query::parse_duration(config.auto_reply_period).unwrap_or(86_400);
    loop {
        let queue = store.rule_queue(200)?;
        if queue.is_empty() {
            break;
        }
        for entry in queue {
            report.messages += 1;
            let now = crate::store::now();
            let ctx = SearchContext {
                me: String::new(),
                now,
            };
            // Decide with reads first; then act in one transaction.
            let message = store
                .messages(entry.ticket_id)?
                .into_iter()
                .find(|m| m.id == entry.message_id);
            let mut fired: Vec<&Rule> = Vec::new();
            if let Some(_m) = &message {
                let rating = if entry.rating {
                    store.ticket_survey(entry.ticket_id)?.and_then(|s| s.rating)
                } else {
                    None
                };
                for (rule, q) in &rules {
                    if rule.on == Trigger::NewTicket && !entry.new_ticket {
                        continue;
                    }
                    // Survey answers go to rating rules only, and back.
                    if (rule.on == Trigger::Rating) != entry.rating {
                        continue;
                    }
                    if let (Some(cond), Some(r)) = (&rule.rating, rating) {
                        if !rating_matches(cond, r).unwrap_or(false) {
                            continue;
                        }
                    }
                    if store.ticket_matches(q, &ctx, entry.ticket_id)? {
                        fired.push(rule);
                        if rule.stop {
                            break;
                        }
                    }
                }
            }
            let head = store.ticket_head(entry.ticket_id).ok();
            let tx = store.transaction()?;
            if !tx.dequeue_for_rules(entry.message_id)? {
                // Another process (a `poll` beside the daemon) took it.
                continue;
            }
            if let (Some(m), Some(t)) = (&message, &head) {
                for rule in fired {
                    report.fired += 1;
                    let agent = format!("rule:{}", rule.name);
                    let mut did = Vec::new();
                    if let Some(s) = &rule.set_state {
                        let (from, _) = tx.ticket_state(t.summary.id)?;
                        match config.workflow.check_transition(t.summary.id, &from, s) {
                            Ok(()) if &from != s => {
                                Change::State(s.clone()).apply(&tx, t.summary.id, None, &agent)?;
                                did.push(format!("state {from} → {s}"));
                            }
                            Ok(()) => {}
                            Err(e) => report.problems.push(format!("rule `{}`: {e}", rule.name)),
                        }
                    }
                    if let Some(p) = rule.set_priority {
                        Change::Priority(p).apply(&tx, t.summary.id, None, &agent)?;
                        did.push(format!("priority {p}"));
                    }
                    if !rule.add_tags.is_empty() {
                        let tags = Change::Tags {
                            add: rule.add_tags.clone(),
                            remove: Vec::new(),
                        };
                        tags.apply(&tx, t.summary.id, None, &agent)?;
                        did.push(format!("tags +{}", rule.add_tags.join(" +")));
                    }
                    if let Some(a) = &rule.assign {
                        let who = (a != "none").then(|| a.clone());
                        Change::Assign(who).apply(&tx, t.summary.id, None, &agent)?;
                        did.push(format!("assignee {a}"));
                    }
                    if let Some(key) = &rule.set_asset {
                        match rule_asset(&tx, t.summary.id, t.summary.customer_id, key, &agent)? {
                            AssetPick::Linked(serial) => did.push(format!("asset {serial}")),
                            AssetPick::Kept => {}
                            AssetPick::Unknown => report.problems.push(format!(
                                "rule `{}`: no asset has the serial number or external id `{}`",
                                rule.name,
                                crate::sanitize::line(key)
                            )),
                        }
                    }
                    if let Some(name) = &rule.auto_reply {
                        let customer = t.summary.customer_id;
                        // A sender that cannot receive (a short code, an
                        // alphanumeric id) gets no answer; a number that
                        // texted STOP no automatic text.
                        let unreachable = match tx.reply_recipient(t.summary.id, None) {
                            Err(crate::Error::Invalid { why, .. }) => Some(why),
                            Ok((crate::model::Channel::Sms, to))
                                if tx.is_opted_out(crate::model::IdentityKind::Phone, &to)? =>
                            {
                                Some(format!("{to} opted out of automatic messages (STOP)"))
                            }
                            _ => None,
                        };
                        let held = match (no_auto_reply_reason(m), unreachable) {
                            (Some(why), _) => Some(why.to_string()),
                            (None, Some(why)) => Some(why),
                            (None, None) if store_auto_replied(&tx, customer, now - period)? => {
                                Some(format!(
                                    "the customer had an automatic reply within {}",
                                    config.auto_reply_period
                                ))
                            }
                            (None, None) => None,
                        };
                        match held {
                            Some(why) => {
                                report.suppressed += 1;
                                tx.rule_event(
                                    t.summary.id,
                                    Some(customer),
                                    &rule.name,
                                    "auto-reply-held",
                                    &why,
                                )?;
                            }
                            None => match canned.iter().find(|c| {
                                &c.name == name || c.meta.shortcut.as_deref() == Some(name)
                            }) {
                                None => report.problems.push(format!(
                                    "rule `{}`: no canned answer `{name}`",
                                    rule.name
                                )),
                                Some(c) => {
                                    let vars = Vars::new(
                                        t,
                                        &agent,
                                        config.signature,
                                        config.subject_tag,
                                        now,
                                    );
                                    match c.render(&vars, t.summary.channel) {
                                        Err(e) => report
                                            .problems
                                            .push(format!("rule `{}`: {e}", rule.name)),
                                        Ok(text) => {
                                            let (state, _) = tx.ticket_state(t.summary.id)?;
                                            tx.queue_reply(t.summary.id, &text, &agent, None)?;
                                            let (after, _) = tx.ticket_state(t.summary.id)?;
                                            if after != state {
                                                // An acknowledgement leaves the ticket where it was.
                                                tx.apply_state(
                                                    t.summary.id,
                                                    &after,
                                                    &state,
                                                    &agent,
                                                )?;
                                            }
                                            tx.rule_event(
                                                t.summary.id,
                                                Some(customer),
                                                &rule.name,
                                                "auto-reply",
                                                name,
                                            )?;
                                            report.auto_replies += 1;
                                            did.push(format!("auto-reply {name}"));
                                        }
                                    }
                                }
                            },
                        }
                    }
                    if !did.is_empty() {
                        tx.rule_event(t.summary.id, None, &rule.name, "rule", &did.join(", "))?;
                    }
                }
            }
            tx.commit()?;
        }
    }
    for p in &report.problems {
        tracing::warn!("{p}");
    }
    Ok(report)
}

enum AssetPick {
    /// The ticket is now about this asset (its serial, or model).
    Linked(String),
    /// The ticket already named an asset, or "owned" found none or several.
    Kept,
    /// No asset has this serial number or external id.
    Unknown,
}

/// A rule's `set_asset`: never replaces an asset the ticket already has
/// (recognised from the message, or set by an agent).
fn rule_asset(
    tx: &crate::store::Tx<'_>,
    ticket: i64,
    customer: i64,
    key: &str,
    agent: &str,
) -> Result<AssetPick> {
    if tx.ticket_asset_id(ticket)?.is_some() {
        return Ok(AssetPick::Kept);
    }
    let asset = if key.trim().eq_ignore_ascii_case("owned") {
        match tx.sole_asset_of(customer)? {
            Some(a) => a,
            None => return Ok(AssetPick::Kept),
        }
    } else {
        match tx.asset_by_serial(key)? {
            Some(a) => a,
            None => match tx.asset_by_external_id(key)? {
                Some(a) => a,
                None => return Ok(AssetPick::Unknown),
            },
        }
    };
    tx.set_ticket_asset(ticket, Some(asset), agent)?;
    let (serial, model): (Option<String>, String) = tx.asset_label(asset)?;
    Ok(AssetPick::Linked(serial.unwrap_or(model)))
}

fn store_auto_replied(tx: &crate::store::Tx<'_>, customer: i64, since: i64) -> Result<bool> {
    tx.auto_replied_since(customer, since)
}
