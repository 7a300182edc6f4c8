//! Proactive care: schedules that reach customers before they call
//! (maintenance reminders to machine owners, service notices).
//!
//! A schedule names when (`every`/`at` or `cron`, on the team's clock),
//! who (a query read over customers and the assets they own), what (a
//! canned answer with channel variants), how (the customer's preferred
//! channel or a fixed one) and what makes a message once-only (`once`:
//! e.g. customer, asset and the asset's service date). Each run of a slot
//! is a job: its recipients are fixed when it starts and each message
//! commits with its item and its once-only key, so a crash in the middle
//! resumes with exactly the recipients left, and no key is ever sent twice.

use serde::{Deserialize, Serialize};

use crate::bulk::{Pacer, Text};
use crate::canned::{AssetVars, Canned, FrontMatter, Renderer};
use crate::change::Change;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::fields::Entity;
use crate::model::{Channel, IdentityKind};
pub use crate::schedule::{CareConfig, Schedule, When};
use crate::store::{NewTicket, Recipient, SearchContext, Store};

/// What a run's job stores, so that a resumed run sends the same text to
/// the same recipients with the same key, whatever was edited meanwhile.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
struct Spec {
    schedule: String,
    slot: String,
    text: Text,
    channel: Option<Channel>,
    subject: String,
    tags: Vec<String>,
    on_open_ticket: bool,
    once: Vec<String>,
}

/// One recipient's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub customer: i64,
    pub asset: Option<i64>,
    pub key: String,
    /// `sent` (queued in the outbox), `planned` (dry run), `already`
    /// (the key was sent before), `opted-out`, `failed`.
    pub status: &'static str,
    pub channel: Option<Channel>,
    pub recipient: Option<String>,
    /// The ticket the message went out on.
    pub ticket: Option<i64>,
    pub text: Option<String>,
    pub detail: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub schedule: String,
    pub slot: String,
    pub job: String,
    pub dry_run: bool,
    /// A run that continued an interrupted one.
    pub resumed: bool,
    pub sent: usize,
    pub already: usize,
    pub opted_out: usize,
    pub failed: usize,
    pub steps: Vec<Step>,
}

/// The job that runs a schedule's slot.
pub fn job_id(schedule: &str, slot: &str) -> String {
    format!("schedule:{schedule}:{slot}")
}

fn load_text(config: &Config, s: &Schedule) -> Result<Text> {
    let (all, _) = crate::canned::load_dir(&config.canned_path());
    let c = all
        .into_iter()
        .find(|c| c.name == s.canned || c.meta.shortcut.as_deref() == Some(s.canned.as_str()))
        .ok_or_else(|| crate::canned::CannedError::NotFound(s.canned.clone()))?;
    let asset_fields: Vec<String> = config
        .fields
        .iter()
        .filter(|f| f.on == Entity::Asset)
        .map(|f| f.name.clone())
        .collect();
    c.check_with_fields(&asset_fields)?;
    Ok(Text::Template {
        name: c.name.clone(),
        title: c.meta.title.clone(),
        body: c.body.clone(),
        variants: c.meta.variants.clone(),
    })
}

fn renderer(text: &Text) -> Result<Renderer> {
    let Text::Template {
        name,
        title,
        body,
        variants,
    } = text
    else {
        return Err(Error::Other("a schedule's job holds its template".into()));
    };
    Ok(Renderer::new(Canned {
        name: name.clone(),
        path: format!("{name} (as stored with the schedule's run)").into(),
        meta: FrontMatter {
            title: title.clone(),
            variants: variants.clone(),
            ..Default::default()
        },
        body: body.clone(),
        body_line: 1,
    })?)
}

/// Runs (or, with `dry_run`, shows) the schedule's slot: a new run if the
/// slot has none yet, else what its interrupted run left.
pub fn run(
    store: &mut Store,
    config: &Config,
    s: &Schedule,
    slot: &str,
    ctx: &SearchContext,
    dry_run: bool,
) -> Result<RunReport> {
    let job = job_id(&s.name, slot);
    let agent = s.agent();
    let existing = store.job(&job)?;
    let resumed = existing.is_some();
    let (spec, pending): (Spec, Vec<(i64, Recipient)>) = match existing {
        Some(j) => {
            let spec: Spec = serde_json::from_value(j.spec.clone()).map_err(|e| {
                Error::invalid(
                    "job",
                    &j.id,
                    format!("its stored schedule cannot be read: {e}"),
                )
            })?;
            let items = store.job_items(&j.id, false)?;
            (
                spec,
                items
                    .into_iter()
                    .map(|i| {
                        (
                            i.seq,
                            Recipient {
                                customer: i.ticket_id,
                                asset: i.asset_id,
                            },
                        )
                    })
                    .collect(),
            )
        }
        None => {
            let text = load_text(config, s)?;
            let subject = s.subject.clone().unwrap_or_else(|| match &text {
                Text::Template { title, .. } => title.clone(),
                _ => "Message from support".into(),
            });
            let spec = Spec {
                schedule: s.name.clone(),
                slot: slot.to_string(),
                text,
                channel: s.channel().map_err(Error::Other)?,
                subject,
                tags: s.tags.clone(),
                on_open_ticket: s.on_open_ticket,
                once: s.once.clone(),
            };
            let q = crate::query::parse(&s.who).map_err(|e| Error::Other(e.to_string()))?;
            let who = store.audience(&q, ctx)?;
            (
                spec,
                who.into_iter()
                    .enumerate()
                    .map(|(i, r)| (i as i64, r))
                    .collect(),
            )
        }
    };
    let render = renderer(&spec.text)?;
    let mut report = RunReport {
        schedule: s.name.clone(),
        slot: slot.to_string(),
        job: job.clone(),
        dry_run,
        resumed,
        sent: 0,
        already: 0,
        opted_out: 0,
        failed: 0,
        steps: Vec::new(),
    };
    if !resumed && !dry_run {
        let targets: Vec<Recipient> = pending.iter().map(|(_, r)| *r).collect();
        let tx = store.transaction()?;
        tx.set_clock(Some(ctx.now));
        let stored = serde_json::to_value(&spec)
            .map_err(|e| Error::Other(format!("storing the schedule's run: {e}")))?;
        tx.create_care_job(&job, &stored, &agent, &targets)?;
        tx.close_job(&job)?;
        tx.commit()?;
    }
    let mut pacer = Pacer::new(ctx.now, &config.bulk.rate_per_minute);
    for chunk in pending.chunks(config.bulk.chunk.max(1)) {
        let steps: Vec<(i64, Step)> = chunk
            .iter()
            .map(|(seq, r)| {
                (
                    *seq,
                    plan(store, config, &spec, &render, *r, &agent, ctx.now),
                )
            })
            .collect();
        if dry_run {
            report.steps.extend(steps.into_iter().map(|(_, s)| s));
            continue;
        }
        let tx = store.transaction()?;
        tx.set_clock(Some(ctx.now));
        for (seq, mut step) in steps {
            if step.status == "planned" {
                let to = Recipient {
                    customer: step.customer,
                    asset: step.asset,
                };
                if !tx.claim_care_key(&spec.schedule, &step.key, to, slot)? {
                    // Sent by another run since the plan was made.
                    step.status = "already";
                    step.text = None;
                } else {
                    let (Some(ch), Some(text)) = (step.channel, step.text.as_deref()) else {
                        continue;
                    };
                    let open = if spec.on_open_ticket {
                        tx.newest_open_ticket(step.customer)?
                    } else {
                        None
                    };
                    let ticket = match open {
                        Some(t) => t,
                        None => {
                            let id = tx.create_ticket(
                                &NewTicket {
                                    subject: &spec.subject,
                                    channel: ch,
                                    customer_id: step.customer,
                                    at: ctx.now,
                                    linked_ticket_id: None,
                                },
                                &agent,
                            )?;
                            if step.asset.is_some() {
                                tx.set_ticket_asset(id, step.asset, &agent)?;
                            }
                            id
                        }
                    };
                    if !spec.tags.is_empty() {
                        Change::Tags {
                            add: spec.tags.clone(),
                            remove: Vec::new(),
                        }
                        .apply(&tx, ticket, None, &agent)?;
                    }
                    tx.queue_reply_at(ticket, text, &agent, Some(ch), Some(pacer.next(ch)))?;
                    tx.set_care_ticket(&spec.schedule, &step.key, ticket)?;
                    step.ticket = Some(ticket);
                    step.status = "sent";
                }
            }
            let detail = match (step.status, step.ticket, &step.detail) {
                ("sent", Some(t), _) => format!("ticket {t}"),
                (_, _, Some(d)) => d.clone(),
                (st, _, None) => st.to_string(),
            };
            tx.finish_item(&job, seq, step.status != "failed", Some(&detail))?;
            report.steps.push(step);
        }
        tx.close_job(&job)?;
        tx.commit()?;
    }
    for st in &report.steps {
        match st.status {
            "sent" | "planned" => report.sent += 1,
            "already" => report.already += 1,
            "opted-out" => report.opted_out += 1,
            _ => report.failed += 1,
        }
    }
    Ok(report)
}

/// What one recipient gets, reading only; problems are a failed step.
fn plan(
    store: &Store,
    config: &Config,
    spec: &Spec,
    render: &Renderer,
    to: Recipient,
    agent: &str,
    now: i64,
) -> Step {
    let mut step = Step {
        customer: to.customer,
        asset: to.asset,
        key: String::new(),
        status: "planned",
        channel: None,
        recipient: None,
        ticket: None,
        text: None,
        detail: None,
    };
    match plan_inner(store, config, spec, render, to, agent, now, &mut step) {
        Ok(()) => step,
        Err(e) => {
            step.status = "failed";
            step.detail = Some(e.to_string());
            step.text = None;
            step
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn plan_inner(
    store: &Store,
    config: &Config,
    spec: &Spec,
    render: &Renderer,
    to: Recipient,
    agent: &str,
    now: i64,
    step: &mut Step,
) -> Result<()> {
    let asset = match to.asset {
        Some(a) => Some(store.asset(a)?),
        None => None,
    };
    step.key = once_key(store, spec, to, asset.as_ref())?;
    if let Some(when) = store.care_sent(&spec.schedule, &step.key)? {
        step.status = "already";
        step.detail = Some(format!("sent in the run of {when}"));
        return Ok(());
    }
    if let Some(flag) = &config.care.opt_out_field {
        let fields = store.fields_of(Entity::Customer, to.customer)?;
        if fields.iter().any(|(n, v)| n == flag && v == "yes") {
            step.status = "opted-out";
            step.detail = Some(format!("customer.{flag} is yes"));
            return Ok(());
        }
    }
    let (ch, address) = store
        .customer_contact(to.customer, spec.channel)?
        .ok_or_else(|| {
            Error::invalid(
                "customer",
                format!("#{}", to.customer),
                match spec.channel {
                    Some(c) => format!("has no {} address", c.identity_kind()),
                    None => "has no address on any channel".into(),
                },
            )
        })?;
    step.channel = Some(ch);
    step.recipient = Some(address.clone());
    let kind = match ch {
        Channel::Email => Some(IdentityKind::Email),
        Channel::Sms => Some(IdentityKind::Phone),
        Channel::Fax => None,
    };
    if let Some(k) = kind {
        if store.is_opted_out(k, &address)? {
            step.status = "opted-out";
            step.detail = Some(format!("{address} texted STOP or was opted out by hand"));
            return Ok(());
        }
    }
    let mut vars = crate::bulk::new_ticket_vars(
        store,
        to.customer,
        &spec.subject,
        ch,
        agent,
        &config.signature,
        now,
    )?;
    vars.asset = asset.as_ref().map(asset_vars);
    let text = render.render(&vars, ch)?;
    if text.trim().is_empty() {
        return Err(Error::invalid("text", &render.canned.name, "renders empty"));
    }
    step.text = Some(text);
    Ok(())
}

fn asset_vars(a: &crate::store::Asset) -> AssetVars {
    AssetVars {
        model: a.value("model"),
        serial: a.value("serial"),
        purchased: a.value("purchased"),
        warranty_until: a.value("warranty_until"),
        location: a.value("location"),
        fields: a.fields.iter().cloned().collect(),
    }
}

/// The once-only key: the schedule's `once` parts for this recipient.
fn once_key(
    store: &Store,
    spec: &Spec,
    to: Recipient,
    asset: Option<&crate::store::Asset>,
) -> Result<String> {
    let slot_day = spec.slot.get(..10).unwrap_or(&spec.slot);
    let date = chrono::NaiveDate::parse_from_str(slot_day, "%Y-%m-%d").ok();
    let mut parts = Vec::with_capacity(spec.once.len());
    for p in &spec.once {
        use chrono::Datelike;
        let v = match p.as_str() {
            "customer" => format!("customer={}", to.customer),
            "asset" => format!("asset={}", to.asset.map_or("-".into(), |a| a.to_string())),
            "slot" => format!("slot={}", spec.slot),
            "day" => format!("day={slot_day}"),
            "week" => format!(
                "week={}",
                date.map_or(String::new(), |d| format!(
                    "{}-W{:02}",
                    d.iso_week().year(),
                    d.iso_week().week()
                ))
            ),
            "month" => format!("month={}", slot_day.get(..7).unwrap_or(slot_day)),
            "year" => format!("year={}", slot_day.get(..4).unwrap_or(slot_day)),
            other => {
                let (e, n) = other.split_once('.').unwrap_or(("", other));
                let value = match e {
                    "asset" => asset.map(|a| a.value(n)).unwrap_or_default(),
                    _ => match n {
                        "name" => store.customer(to.customer)?.name,
                        "external_id" => {
                            store.customer_external_id(to.customer)?.unwrap_or_default()
                        }
                        _ => field(&store.fields_of(Entity::Customer, to.customer)?, n),
                    },
                };
                format!("{other}={value}")
            }
        };
        parts.push(v);
    }
    Ok(parts.join("|"))
}

fn field(fields: &[(String, String)], name: &str) -> String {
    fields
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

/// A schedule as `schedule list` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub name: String,
    pub when: String,
    pub enabled: bool,
    /// The latest slot that has come (YYYY-MM-DDTHH:MM, the team's clock).
    pub due_slot: Option<String>,
    /// Whether that slot has run to the end.
    pub due_done: bool,
    /// The next slot after now.
    pub next: Option<String>,
    pub last_run: Option<LastRun>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LastRun {
    pub slot: String,
    pub started_at: i64,
    pub finished: bool,
    pub recipients: i64,
    pub done: i64,
    pub failed: i64,
}

pub fn status(store: &Store, config: &Config, s: &Schedule, now: i64) -> Result<Status> {
    let when = s.when().map_err(Error::Other)?;
    let zone = store.settings().zone;
    let starts = config.report_settings().map_err(Error::Other)?.2;
    let due = when.last(zone, starts, now);
    let due_done = match &due {
        Some((_, slot)) => store
            .job(&job_id(&s.name, slot))?
            .is_some_and(|j| j.finished_at.is_some()),
        None => false,
    };
    let next = next_slot(&when, zone, starts, now);
    let last_run = store
        .schedule_jobs(&s.name)?
        .into_iter()
        .next()
        .map(|j| LastRun {
            slot: j.id.rsplit(':').next().map_or(String::new(), |_| {
                j.id.strip_prefix(&format!("schedule:{}:", s.name))
                    .unwrap_or("")
                    .to_string()
            }),
            started_at: j.created_at,
            finished: j.finished_at.is_some(),
            recipients: j.total,
            done: j.done,
            failed: j.failed,
        });
    Ok(Status {
        name: s.name.clone(),
        when: match (&s.every, &s.cron) {
            (Some(e), _) => format!("{e} at {}", s.at.as_deref().unwrap_or("08:00")),
            (None, Some(c)) => format!("cron {c}"),
            _ => String::new(),
        },
        enabled: s.enabled,
        due_slot: due.map(|(_, n)| n),
        due_done,
        next,
        last_run,
    })
}

/// The first slot after `now`: the latest slot as of a later moment,
/// found by stepping forward (minutes for a day, then days).
fn next_slot(
    when: &When,
    zone: crate::clock::Zone,
    starts: chrono::Weekday,
    now: i64,
) -> Option<String> {
    let current = when.last(zone, starts, now).map(|(at, _)| at);
    let mut probe = now + 60;
    // A minute at a time for a day, then an hour at a time for 400 days.
    while probe < now + 86_400 * 400 {
        if let Some((at, name)) = when.last(zone, starts, probe) {
            if Some(at) != current && at > now {
                return Some(name);
            }
        }
        probe += if probe < now + 86_400 { 60 } else { 3_600 };
    }
    None
}

/// The schedules whose latest slot has come and not run to the end: the
/// daemon's pass. A schedule that fails is returned with its error and
/// tried again next pass; the others go on.
pub fn run_due(
    store: &mut Store,
    config: &Config,
    ctx: &SearchContext,
) -> (Vec<RunReport>, Vec<(String, Error)>) {
    let mut done = Vec::new();
    let mut errors = Vec::new();
    let zone = store.settings().zone;
    let starts = match config.report_settings() {
        Ok(s) => s.2,
        Err(e) => return (done, vec![("schedules".into(), Error::Other(e))]),
    };
    for s in config.schedules.iter().filter(|s| s.enabled) {
        let when = match s.when() {
            Ok(w) => w,
            Err(e) => {
                errors.push((s.name.clone(), Error::Other(e)));
                continue;
            }
        };
        let Some((_, slot)) = when.last(zone, starts, ctx.now) else {
            continue;
        };
        match store.job(&job_id(&s.name, &slot)) {
            Ok(Some(j)) if j.finished_at.is_some() => continue,
            Ok(_) => {}
            Err(e) => {
                errors.push((s.name.clone(), e));
                continue;
            }
        }
        match run(store, config, s, &slot, ctx, false) {
            Ok(r) => done.push(r),
            Err(e) => errors.push((s.name.clone(), e)),
        }
    }
    (done, errors)
}
