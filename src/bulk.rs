//! Bulk actions over many tickets (reply, state, assign, tag) and
//! proactive messages to many customers (`send`), as resumable jobs.
//!
//! A job fixes its targets when it starts. Each target's action commits in
//! the same transaction as its job item turning `done`, in chunks. A job
//! that is killed at any point therefore resumes (`--job ID`) with exactly
//! the targets left: nothing is queued twice and nothing is skipped.
//! Replies go through the outbox like any other, so the outbox worker
//! still sends them. Per-channel rate limits space the entries' due times.
//! The dry run and the real run render through the same [`Bulk::plan`],
//! so the dry run prints what is sent.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::canned::{Canned, FrontMatter, Vars};
use crate::change::Change;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::model::Channel;
use crate::store::{NewTicket, Store};

/// Where a message's text comes from. A body file is a template too.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Text {
    /// A canned answer by name: what the command line gives. A job never
    /// stores this; it stores the answer itself ([`Text::Template`]).
    Canned(String),
    Body(String),
    /// A canned answer as it read when the job was created, so that a
    /// resumed job sends the same text even if the file was edited or
    /// renamed in between.
    Template {
        name: String,
        title: String,
        body: String,
        #[serde(default)]
        variants: std::collections::BTreeMap<Channel, String>,
    },
}

/// What a job does to each target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Action {
    Reply {
        text: Text,
        channel: Option<Channel>,
        state: Option<String>,
        add_tags: Vec<String>,
        remove_tags: Vec<String>,
    },
    /// To customers (targets are customer ids): a new outbound ticket each.
    Send {
        text: Text,
        channel: Option<Channel>,
        subject: Option<String>,
    },
    State {
        state: String,
    },
    Assign {
        assignee: Option<String>,
    },
    Tag {
        add: Vec<String>,
        remove: Vec<String>,
    },
}

impl Action {
    /// The ticket edit a state, assign or tag job makes on each target.
    pub fn change(&self) -> Option<Change> {
        match self {
            Action::State { state } => Some(Change::State(state.clone())),
            Action::Assign { assignee } => Some(Change::Assign(assignee.clone())),
            Action::Tag { add, remove } => Some(Change::Tags {
                add: add.clone(),
                remove: remove.clone(),
            }),
            Action::Reply { .. } | Action::Send { .. } => None,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Action::Reply { .. } => "reply",
            Action::Send { .. } => "send",
            Action::State { .. } => "state",
            Action::Assign { .. } => "assign",
            Action::Tag { .. } => "tag",
        }
    }
}

/// One target's plan and, after a run, its outcome.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub seq: i64,
    /// A ticket id; for `send`, a customer id.
    pub target: i64,
    /// The ticket acted on (for `send`, the one opened; known after the run).
    pub ticket: Option<i64>,
    pub channel: Option<Channel>,
    pub recipient: Option<String>,
    pub text: Option<String>,
    /// What changes on the ticket, e.g. `open → solved`, `+outage`.
    pub change: Option<String>,
    /// planned | done | failed
    pub status: &'static str,
    pub error: Option<String>,
}

impl Step {
    fn new(seq: i64, target: i64) -> Step {
        Step {
            seq,
            target,
            ticket: None,
            channel: None,
            recipient: None,
            text: None,
            change: None,
            status: "planned",
            error: None,
        }
    }

    fn fail(mut self, e: impl ToString) -> Step {
        self.status = "failed";
        self.error = Some(e.to_string());
        self
    }
}

/// Due times for rate-limited channels: the n-th message on a channel
/// limited to r per minute is due n·60/r seconds after the start.
pub struct Pacer {
    start: i64,
    rates: HashMap<Channel, u32>,
    counts: HashMap<Channel, i64>,
}

impl Pacer {
    pub fn new(start: i64, rates: &std::collections::BTreeMap<Channel, u32>) -> Pacer {
        Pacer {
            start,
            rates: rates.iter().map(|(c, r)| (*c, *r)).collect(),
            counts: HashMap::new(),
        }
    }

    pub fn next(&mut self, ch: Channel) -> i64 {
        match self.rates.get(&ch).copied().filter(|r| *r > 0) {
            None => self.start,
            Some(rate) => {
                let n = self.counts.entry(ch).or_insert(0);
                let due = self.start + *n * 60 / i64::from(rate);
                *n += 1;
                due
            }
        }
    }
}

/// A prepared bulk action: the action plus its template, ready to plan
/// and apply targets.
pub struct Bulk {
    action: Action,
    template: Option<crate::canned::Renderer>,
    agent: String,
    signature: String,
    subject_tag: String,
}

impl Bulk {
    /// Loads the canned answer (or wraps the body file) and checks the
    /// template compiles, so an error stops the job before anything runs.
    pub fn new(config: &Config, agent: &str, action: Action) -> Result<Bulk> {
        let text = match &action {
            Action::Reply { text, .. } | Action::Send { text, .. } => Some(text),
            _ => None,
        };
        let template = match text {
            None => None,
            Some(Text::Canned(name)) => {
                let (all, _) = crate::canned::load_dir(&config.canned_path());
                let c = all
                    .into_iter()
                    .find(|c| &c.name == name || c.meta.shortcut.as_deref() == Some(name))
                    .ok_or_else(|| crate::canned::CannedError::NotFound(name.clone()))?;
                Some(c)
            }
            Some(Text::Body(body)) => {
                let c = Canned {
                    name: "body-file".into(),
                    path: "body-file".into(),
                    meta: FrontMatter {
                        title: "body file".into(),
                        ..Default::default()
                    },
                    body: body.clone(),
                    body_line: 1,
                };
                c.check()?;
                Some(c)
            }
            Some(Text::Template {
                name,
                title,
                body,
                variants,
            }) => {
                let c = Canned {
                    name: name.clone(),
                    path: format!("{name} (as stored with the job)").into(),
                    meta: FrontMatter {
                        title: title.clone(),
                        variants: variants.clone(),
                        ..Default::default()
                    },
                    body: body.clone(),
                    body_line: 1,
                };
                c.check()?;
                Some(c)
            }
        };
        // A canned answer's own state and tags apply unless the command
        // line says otherwise; folded into the action, a resumed job keeps them.
        let mut action = action;
        if let (
            Action::Reply {
                text: Text::Canned(_),
                state,
                add_tags,
                ..
            },
            Some(c),
        ) = (&mut action, &template)
        {
            if state.is_none() {
                state.clone_from(&c.meta.state);
            }
            for t in &c.meta.add_tags {
                if !add_tags.contains(t) {
                    add_tags.push(t.clone());
                }
            }
        }
        // The answer's text goes into the job's spec with the rest.
        if let (Action::Reply { text, .. } | Action::Send { text, .. }, Some(c)) =
            (&mut action, &template)
        {
            if matches!(text, Text::Canned(_)) {
                *text = Text::Template {
                    name: c.name.clone(),
                    title: c.meta.title.clone(),
                    body: c.body.clone(),
                    variants: c.meta.variants.clone(),
                };
            }
        }
        let template = template.map(crate::canned::Renderer::new).transpose()?;
        Ok(Bulk {
            action,
            template,
            agent: agent.to_string(),
            signature: config.signature.clone(),
            subject_tag: config.subject_tag.clone(),
        })
    }

    pub fn action(&self) -> &Action {
        &self.action
    }

    /// Works out what the action does to one target, reading only.
    /// Problems (no such ticket, no address, a template error, an illegal
    /// transition) become a failed step, never an error for the job.
    pub fn plan(&self, store: &Store, seq: i64, target: i64, now: i64) -> Step {
        let step = Step::new(seq, target);
        match self.plan_inner(store, step.clone(), now) {
            Ok(s) => s,
            Err(e) => step.fail(e),
        }
    }

    fn plan_inner(&self, store: &Store, mut step: Step, now: i64) -> Result<Step> {
        let workflow = &store.settings().workflow;
        match &self.action {
            Action::Reply {
                channel,
                state,
                add_tags,
                remove_tags,
                ..
            } => {
                let t = store.ticket_head(step.target)?;
                step.ticket = Some(step.target);
                let (ch, to) = store.reply_recipient(step.target, *channel)?;
                refuse_opted_out(store, ch, &to)?;
                let vars = Vars::new(&t, &self.agent, &self.signature, &self.subject_tag, now);
                step.text = Some(self.render(&vars, ch)?);
                step.channel = Some(ch);
                step.recipient = Some(to);
                let mut change = Vec::new();
                // The reply itself moves the ticket first (to pending),
                // then the requested state applies: both show.
                let before = t.summary.state.as_str();
                let after = workflow.on_agent_reply(before).unwrap_or(before);
                let last = match state {
                    Some(s) => {
                        workflow.check_transition(step.target, after, s)?;
                        s.as_str()
                    }
                    None => after,
                };
                match (after != before, last != after) {
                    (true, true) => change.push(format!("{before} → {after} → {last}")),
                    (true, false) => change.push(format!("{before} → {after}")),
                    (false, true) => change.push(format!("{after} → {last}")),
                    (false, false) => {}
                }
                change.extend(add_tags.iter().map(|t| format!("+{t}")));
                change.extend(remove_tags.iter().map(|t| format!("-{t}")));
                step.change = (!change.is_empty()).then(|| change.join(" "));
            }
            Action::Send {
                channel, subject, ..
            } => {
                let (ch, to) = store
                    .customer_contact(step.target, *channel)?
                    .ok_or_else(|| {
                        Error::invalid(
                            "customer",
                            step.target.to_string(),
                            match channel {
                                Some(c) => format!("has no {} address", c.identity_kind()),
                                None => "has no address on any channel".into(),
                            },
                        )
                    })?;
                refuse_opted_out(store, ch, &to)?;
                let subject = self.subject(subject.as_deref());
                let vars = new_ticket_vars(
                    store,
                    step.target,
                    &subject,
                    ch,
                    &self.agent,
                    &self.signature,
                    now,
                )?;
                step.text = Some(self.render(&vars, ch)?);
                step.channel = Some(ch);
                step.recipient = Some(to);
                step.change = Some(format!("new ticket: {subject}"));
            }
            Action::State { state } => {
                let t = store.ticket_summary(step.target)?;
                step.ticket = Some(t.id);
                workflow.check_transition(t.id, &t.state, state)?;
                step.change = Some(format!("{} → {state}", t.state));
            }
            Action::Assign { assignee } => {
                let t = store.ticket_summary(step.target)?;
                step.ticket = Some(t.id);
                step.change = Some(format!(
                    "{} → {}",
                    t.assignee.as_deref().unwrap_or("nobody"),
                    assignee.as_deref().unwrap_or("nobody")
                ));
            }
            Action::Tag { add, remove } => {
                let t = store.ticket_summary(step.target)?;
                step.ticket = Some(t.id);
                let mut change: Vec<String> = add.iter().map(|t| format!("+{t}")).collect();
                change.extend(remove.iter().map(|t| format!("-{t}")));
                step.change = Some(change.join(" "));
            }
        }
        Ok(step)
    }

    fn subject(&self, given: Option<&str>) -> String {
        given
            .map(str::to_string)
            .or_else(|| self.template.as_ref().map(|c| c.canned.meta.title.clone()))
            .unwrap_or_else(|| "Message from support".into())
    }

    fn render(&self, vars: &Vars, ch: Channel) -> Result<String> {
        let c = self
            .template
            .as_ref()
            .ok_or_else(|| Error::Other("no text for the message".into()))?;
        let text = c.render(vars, ch)?;
        if text.trim().is_empty() {
            return Err(Error::invalid("text", &c.canned.name, "renders empty"));
        }
        Ok(text)
    }

    /// Applies planned steps in one transaction, each with its job item.
    /// Failed plans are recorded as failed items.
    pub fn apply(
        &self,
        store: &mut Store,
        job: &str,
        steps: Vec<Step>,
        pacer: &mut Pacer,
    ) -> Result<Vec<Step>> {
        let tx = store.transaction()?;
        let mut out = Vec::with_capacity(steps.len());
        for mut step in steps {
            if step.status == "failed" {
                tx.finish_item(job, step.seq, false, step.error.as_deref())?;
                out.push(step);
                continue;
            }
            let agent = self.agent.as_str();
            match &self.action {
                Action::Reply {
                    state,
                    add_tags,
                    remove_tags,
                    ..
                } => {
                    let (Some(ch), Some(text)) = (step.channel, step.text.as_deref()) else {
                        continue;
                    };
                    tx.queue_reply_at(step.target, text, agent, Some(ch), Some(pacer.next(ch)))?;
                    if let Some(s) = state {
                        let now = tx.ticket_state(step.target)?.0;
                        if now != *s {
                            Change::State(s.clone()).apply(&tx, step.target, None, agent)?;
                        }
                    }
                    if !add_tags.is_empty() || !remove_tags.is_empty() {
                        let tags = Change::Tags {
                            add: add_tags.clone(),
                            remove: remove_tags.clone(),
                        };
                        tags.apply(&tx, step.target, None, agent)?;
                    }
                }
                Action::Send { subject, .. } => {
                    let (Some(ch), Some(text)) = (step.channel, step.text.as_deref()) else {
                        continue;
                    };
                    let subject = self.subject(subject.as_deref());
                    let id = tx.create_ticket(
                        &NewTicket {
                            subject: &subject,
                            channel: ch,
                            customer_id: step.target,
                            at: tx.now(),
                            linked_ticket_id: None,
                        },
                        agent,
                    )?;
                    tx.queue_reply_at(id, text, agent, Some(ch), Some(pacer.next(ch)))?;
                    step.ticket = Some(id);
                }
                Action::State { .. } | Action::Assign { .. } | Action::Tag { .. } => {
                    if let Some(change) = self.action.change() {
                        change.apply(&tx, step.target, None, agent)?;
                    }
                }
            }
            let detail = step.ticket.map(|t| format!("ticket {t}"));
            tx.finish_item(job, step.seq, true, detail.as_deref())?;
            step.status = "done";
            out.push(step);
        }
        tx.close_job(job)?;
        tx.commit()?;
        Ok(out)
    }
}

/// Template variables for a message that opens a ticket: the ticket does
/// not exist yet, so `ticket.id` is 0 and `ticket.tag` empty, in a dry run
/// and the real one alike.
pub fn new_ticket_vars(
    store: &Store,
    customer: i64,
    subject: &str,
    ch: Channel,
    agent: &str,
    signature: &str,
    now: i64,
) -> Result<Vars> {
    let customer = store.customer(customer)?;
    let detail = crate::model::TicketDetail {
        summary: crate::model::TicketSummary {
            id: 0,
            subject: subject.to_string(),
            state: store.settings().workflow.initial.clone(),
            priority: crate::model::Priority::Normal,
            channel: ch,
            customer_id: customer.id,
            customer_name: customer.name.clone(),
            assignee: None,
            tags: Vec::new(),
            created_at: now,
            updated_at: now,
            first_response_at: None,
            solved_at: None,
            message_count: 0,
            version: 0,
            first_response_due: None,
            resolution_due: None,
        },
        linked_ticket_id: None,
        customer,
        messages: Vec::new(),
        events: Vec::new(),
    };
    let mut vars = Vars::new(&detail, agent, signature, "", now);
    vars.ticket.tag = String::new();
    Ok(vars)
}

/// A number that texted STOP (or was opted out by hand) gets no bulk
/// message; an address opted out by hand neither.
fn refuse_opted_out(store: &Store, ch: Channel, to: &str) -> Result<()> {
    let kind = match ch {
        Channel::Email => crate::model::IdentityKind::Email,
        Channel::Sms => crate::model::IdentityKind::Phone,
        Channel::Fax => return Ok(()),
    };
    if store.is_opted_out(kind, to)? {
        return Err(Error::invalid(
            "recipient",
            to,
            "opted out of surveys and notices (texted STOP, or `echodesk survey opt-out`)",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pacer_spaces_limited_channels_only() {
        let mut rates = std::collections::BTreeMap::new();
        rates.insert(Channel::Sms, 30);
        let mut p = Pacer::new(1000, &rates);
        assert_eq!(p.next(Channel::Email), 1000);
        assert_eq!(p.next(Channel::Email), 1000);
        assert_eq!(p.next(Channel::Sms), 1000);
        assert_eq!(p.next(Channel::Sms), 1002);
        assert_eq!(p.next(Channel::Sms), 1004);
    }

    #[test]
    fn actions_round_trip_through_the_job_spec() {
        let a = Action::Reply {
            text: Text::Body("Hi {{ customer.first_name }}".into()),
            channel: None,
            state: Some("solved".into()),
            add_tags: vec!["outage".into()],
            remove_tags: vec![],
        };
        let json = serde_json::to_value(&a).unwrap();
        assert_eq!(json["kind"], "reply");
        let back: Action = serde_json::from_value(json).unwrap();
        assert_eq!(back, a);
    }
}
