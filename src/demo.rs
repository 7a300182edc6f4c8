//! A generated demo inbox: a few hundred tickets over email, fax and SMS
//! from English, Chinese and Japanese customers, in every state, built
//! through the real ingest path so it looks like what a team would see.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::inbound::{Inbound, InboundAttachment};
use crate::ingest::{Ingest, Outcome};
use crate::model::{Channel, Direction, Priority};
use crate::store::{Settings, Store, Tx};

mod cast;
pub(crate) use cast::Rng;
use cast::*;

#[derive(Debug, Serialize)]
pub struct DemoReport {
    pub database: PathBuf,
    pub canned_dir: PathBuf,
    pub tickets: i64,
    pub messages: i64,
    pub customers: i64,
}

struct Gen<'a> {
    rng: Rng,
    /// For what comes back after a solve (see `maybe_reopen`).
    again: Rng,
    /// For satisfaction surveys (see `maybe_survey`).
    asked: Rng,
    zone: crate::clock::Zone,
    ingest: Ingest,
    seq: u64,
    _config: &'a Config,
}

impl Gen<'_> {
    fn inbound(
        &mut self,
        channel: Channel,
        p: &Person,
        subject: &str,
        body: &str,
        at: i64,
        refs: Vec<String>,
    ) -> Inbound {
        self.seq += 1;
        let (from, account, to) = match channel {
            Channel::Email => (p.email.clone(), "demo-mail", "support@echodesk.example"),
            Channel::Sms => (p.phone.clone(), "demo-sms", "+14155550100"),
            Channel::Fax => (p.fax.clone(), "demo-fax", "+14155550199"),
        };
        let attachments = if channel == Channel::Fax {
            vec![InboundAttachment {
                filename: format!("fax-{:06}.pdf", self.seq),
                content_type: "application/pdf".into(),
                data: fake_pdf(body),
            }]
        } else {
            Vec::new()
        };
        Inbound {
            channel,
            account: account.into(),
            provider_id: format!("demo-{}", self.seq),
            message_id: (channel == Channel::Email)
                .then(|| format!("demo-{}@customer.example", self.seq)),
            refs,
            from_addr: from,
            from_name: (channel == Channel::Email).then(|| p.name.clone()),
            to_addr: to.into(),
            subject: subject.into(),
            body_text: body.into(),
            body_html: None,
            received_at: at,
            auto_kind: None,
            attachments,
            parse_error: None,
            raw: None,
        }
    }

    fn ticket(&mut self, tx: &Tx<'_>, people: &[Person], now: i64) -> Result<()> {
        let p = &people[self.rng.below(people.len())];
        let roll = self.rng.below(100);
        let channel = if roll < 60 {
            Channel::Email
        } else if roll < 85 {
            Channel::Sms
        } else {
            Channel::Fax
        };
        let start = office_time(self.zone, now, self.rng.below(HISTORY_DAYS * 86_400) as i64);
        let (subject, body) = match channel {
            Channel::Email => mail_for(&mut self.rng, p.lang),
            Channel::Sms => (String::new(), sms_for(&mut self.rng, p.lang)),
            Channel::Fax => {
                let (s, b) = *self.rng.pick(FAX);
                let n = (1000 + self.rng.below(9000)).to_string();
                (s.replace("{n}", &n), b.replace("{n}", &n))
            }
        };
        tx.set_clock(Some(start));
        register_machine(tx, p, &body)?;
        let first = self.inbound(channel, p, &subject, &body, start, vec![]);
        let first_mid = first.message_id.clone();
        let ticket = match self.ingest.ingest(tx, &first)? {
            Outcome::Created { ticket, .. }
            | Outcome::Threaded { ticket, .. }
            | Outcome::Rated { ticket, .. }
            | Outcome::Noted { ticket, .. } => ticket,
            Outcome::Duplicate => return Ok(()),
        };
        let mut at = start;
        let agent = *self.rng.pick(AGENTS);
        let exchanges = self.rng.below(3);
        for _ in 0..exchanges {
            at = (at + 600 + self.rng.below(20 * 3600) as i64).min(now - 30);
            tx.set_clock(Some(at));
            let reply = *self.rng.pick(AGENT_REPLIES);
            tx.add_agent_message(ticket, Direction::Out, reply, agent, at)?;
            if self.rng.chance(60) {
                at = (at + 600 + self.rng.below(10 * 3600) as i64).min(now - 20);
                let (subj, body) = match channel {
                    Channel::Sms => (String::new(), sms_for(&mut self.rng, p.lang)),
                    _ => (
                        format!("Re: {subject}"),
                        "Thank you for the quick answer. One more question: when can I expect it?"
                            .to_string(),
                    ),
                };
                let refs = first_mid.iter().cloned().collect();
                tx.set_clock(Some(at));
                let follow = self.inbound(channel, p, &subj, &body, at, refs);
                self.ingest.ingest(tx, &follow)?;
            }
        }
        if self.rng.chance(30) {
            at = (at + 300).min(now - 10);
            let note = NOTES[self.rng.below(NOTES.len())];
            tx.add_agent_message(ticket, Direction::Note, note, agent, at)?;
        }
        tx.set_clock(Some(at));
        if self.rng.chance(70) {
            tx.assign(ticket, Some(agent), agent, None)?;
        }
        let pri = match self.rng.below(100) {
            0..=14 => Priority::Low,
            15..=69 => Priority::Normal,
            70..=91 => Priority::High,
            _ => Priority::Urgent,
        };
        tx.set_priority(ticket, pri, agent, None)?;
        for _ in 0..self.rng.below(3) {
            let t = self.rng.pick(TAGS).to_string();
            tx.tag(ticket, &[t], &[], agent, None)?;
        }
        // Most of what came in weeks ago is done; this week's is in work.
        let roll = self.rng.below(100);
        let target = if now - start > 10 * 86_400 {
            match roll {
                0..=2 => "new",
                3..=7 => "open",
                8..=11 => "pending",
                12..=14 => "on-hold",
                15..=54 => "solved",
                55..=94 => "closed",
                _ => "spam",
            }
        } else {
            match roll {
                0..=19 => "new",
                20..=44 => "open",
                45..=59 => "pending",
                60..=64 => "on-hold",
                65..=84 => "solved",
                85..=94 => "closed",
                _ => "spam",
            }
        };
        let wf = &tx.settings().workflow;
        if wf.check_state(target).is_ok() {
            let (cur, _) = tx.ticket_state(ticket)?;
            if wf.check_transition(ticket, &cur, target).is_err()
                && wf.check_state(&wf.reopen_to).is_ok()
            {
                let _ = tx.set_state(ticket, &wf.reopen_to.clone(), agent, None);
            }
            let _ = tx.set_state(ticket, target, agent, None);
        }
        if target == "solved" {
            self.maybe_reopen(tx, p, channel, ticket, &subject, first_mid, at, now)?;
        }
        if matches!(target, "solved" | "closed") && channel != Channel::Fax {
            self.maybe_survey(tx, ticket, channel, agent, now)?;
        }
        tx.set_clock(None);
        Ok(())
    }

    /// Some solved tickets come back: the customer writes again a few
    /// hours or days later (which reopens the ticket), an agent answers
    /// and solves it again. From a second generator, so the tickets
    /// themselves stay what they were.
    #[allow(clippy::too_many_arguments)]
    fn maybe_reopen(
        &mut self,
        tx: &Tx<'_>,
        p: &Person,
        channel: Channel,
        ticket: i64,
        subject: &str,
        first_mid: Option<String>,
        solved_at: i64,
        now: i64,
    ) -> Result<()> {
        if !self.again.chance(12) {
            return Ok(());
        }
        let back = solved_at + 3 * 3600 + self.again.below(3 * 86_400) as i64;
        if back > now - 6 * 3600 {
            return Ok(());
        }
        let (subj, body) = match channel {
            Channel::Sms => (
                String::new(),
                "Sorry, it stopped working again.".to_string(),
            ),
            _ => (
                format!("Re: {subject}"),
                "Hello again, the problem is back since this morning. Can you have another look?"
                    .to_string(),
            ),
        };
        tx.set_clock(Some(back));
        let refs = first_mid.into_iter().collect();
        let again = self.inbound(channel, p, &subj, &body, back, refs);
        let into = match self.ingest.ingest(tx, &again)? {
            Outcome::Threaded { ticket: t, .. } => t,
            _ => return Ok(()),
        };
        if into != ticket {
            return Ok(());
        }
        let agent = *self.again.pick(AGENTS);
        let at = (back + 900 + self.again.below(8 * 3600) as i64).min(now - 120);
        tx.set_clock(Some(at));
        let reply = *self.again.pick(AGENT_REPLIES);
        tx.add_agent_message(ticket, Direction::Out, reply, agent, at)?;
        let solve = (at + 600 + self.again.below(20 * 3600) as i64).min(now - 60);
        tx.set_clock(Some(solve));
        let _ = tx.set_state(ticket, "solved", agent, None);
        Ok(())
    }
}

impl Gen<'_> {
    /// Most solved tickets got a satisfaction survey a day later; some
    /// customers answered, mostly happy. From a generator of its own.
    fn maybe_survey(
        &mut self,
        tx: &Tx<'_>,
        ticket: i64,
        channel: Channel,
        agent: &str,
        now: i64,
    ) -> Result<()> {
        let Some(solved_at) = tx.ticket_solved_at(ticket)? else {
            return Ok(());
        };
        let sent = solved_at + 86_400;
        if sent > now - 3600 || !self.asked.chance(70) {
            return Ok(());
        }
        let customer = tx.ticket_customer(ticket)?;
        let answer = if self.asked.chance(45) {
            let rating = match self.asked.below(100) {
                0..=49 => 5,
                50..=74 => 4,
                75..=84 => 3,
                85..=92 => 2,
                _ => 1,
            };
            let comment = match rating {
                5 => *self
                    .asked
                    .pick(&["", "great, thank you!", "fast and friendly", ""]),
                4 => *self.asked.pick(&["", "took a while but fine", "good"]),
                3 => *self.asked.pick(&["", "ok"]),
                _ => *self
                    .asked
                    .pick(&["nobody called back", "still not fixed", "too slow"]),
            };
            let at = (sent + 1800 + self.asked.below(30 * 3600) as i64).min(now - 60);
            Some((rating, comment, at))
        } else {
            None
        };
        let token = format!("demo{ticket:012}");
        // A later conversation may thread into the same ticket.
        if tx.survey_by_token(&token)?.is_some() {
            return Ok(());
        }
        tx.set_clock(Some(sent));
        tx.add_past_survey(
            &crate::store::NewSurvey {
                ticket,
                customer,
                channel,
                body: "How satisfied are you with how we handled your request? Reply 1-5.",
                token: &token,
                agent: Some(agent),
                expires_at: sent + 14 * 86_400,
            },
            sent,
            answer,
        )?;
        Ok(())
    }
}

/// How far back the demo's history reaches: twelve weeks, so that a
/// comparison with the period before and the dashboard's "last 12
/// weeks" have figures.
const HISTORY_DAYS: usize = 84;

/// How busy each hour of the team's day is, relative to the others.
const HOUR_WEIGHT: [i64; 24] = [
    1, 1, 1, 1, 1, 1, 2, 4, 8, 10, 10, 9, 7, 8, 9, 9, 8, 6, 4, 3, 3, 2, 2, 1,
];

/// `offset` seconds of randomness back from `now`, as office life has
/// it: the day `offset` falls on, busy weekday mornings and afternoons,
/// quiet nights, and two in three weekend contacts moved to the Friday
/// before or the Monday after.
fn office_time(zone: crate::clock::Zone, now: i64, offset: i64) -> i64 {
    let r = offset % 86_400;
    let mut day = zone.day(now) - (offset / 86_400) as i32;
    // Day 0 (1970-01-01) was a Thursday: Monday is 0 here.
    let weekday = (day + 3).rem_euclid(7);
    if weekday >= 5 {
        match r % 3 {
            1 => day -= weekday - 4,
            2 => day += 7 - weekday,
            _ => {}
        }
    }
    let total: i64 = HOUR_WEIGHT.iter().sum();
    let mut pick = r * total / 86_400;
    let mut hour = 0;
    for (h, w) in HOUR_WEIGHT.iter().enumerate() {
        if pick < *w {
            hour = h as i64;
            break;
        }
        pick -= w;
    }
    let at = zone.day_start(day) + hour * 3600 + (r * 7919) % 3600;
    at.min(now - 60 - r % 3600)
}

/// Builds a fresh demo store in `dir` (replacing an earlier demo there).
pub fn build(dir: &Path, tickets: usize, config: &Config) -> Result<DemoReport> {
    build_at(dir, tickets, config, crate::store::now())
}

/// As [`build`], with history ending at `now` (reproducible screens).
pub fn build_at(dir: &Path, tickets: usize, config: &Config, now: i64) -> Result<DemoReport> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let db = dir.join("demo.db");
    let search = crate::store::search_index::path_for(&db);
    for (file, suffix) in [&db, &search]
        .into_iter()
        .flat_map(|f| ["", "-wal", "-shm"].map(|s| (f, s)))
    {
        let p = PathBuf::from(format!("{}{suffix}", file.display()));
        if p.exists() {
            std::fs::remove_file(&p).map_err(|e| Error::io(&p, e))?;
        }
    }
    let canned_dir = dir.join("canned");
    std::fs::create_dir_all(&canned_dir).map_err(|e| Error::io(&canned_dir, e))?;
    for (name, text) in CANNED {
        let p = canned_dir.join(name);
        std::fs::write(&p, text).map_err(|e| Error::io(&p, e))?;
    }

    // The demo's faxes name serials its own way, whatever the user's
    // config recognises.
    let mut settings = Settings::from(config);
    settings.serial_pattern = regex::Regex::new(SERIAL_PATTERN).ok();
    let mut store = Store::open(&db, settings)?;
    let mut gen = Gen {
        rng: Rng(0x9E37_79B9_7F4A_7C15),
        again: Rng(0x2545_F491_4F6C_DD1D),
        asked: Rng(0x6A09_E667_F3BC_C908),
        zone: store.settings().zone,
        ingest: Ingest::new(store.settings()),
        seq: 0,
        _config: config,
    };
    let people = people(&mut gen.rng);
    {
        let tx = store.transaction()?;
        tx.set_clock(Some(now - (HISTORY_DAYS as i64 + 10) * 86_400));
        // Two companies: customers at their domains are their people.
        for (name, domain) in [
            ("Example Corp", "example.com"),
            ("Example Org", "example.org"),
        ] {
            let org = tx.create_org(name, None, "demo")?;
            tx.add_org_domain(org, domain, "demo")?;
        }
        // Most customers are known with every address they use; the rest
        // arrive as strangers and get a record from their first message.
        for p in people.iter().take(people.len() * 2 / 3) {
            use crate::model::IdentityKind as K;
            let region = &config.default_region;
            let email = crate::identity::normalise(K::Email, &p.email, region)?;
            let phone = crate::identity::normalise(K::Phone, &p.phone, region)?;
            let fax = crate::identity::normalise(K::Fax, &p.fax, region)?;
            tx.create_customer(
                &p.name,
                &[(K::Email, &email), (K::Phone, &phone), (K::Fax, &fax)],
            )?;
        }
        while store_tickets(&tx)? < tickets as i64 {
            gen.ticket(&tx, &people, now)?;
        }
        tx.commit()?;
    }
    store.optimize()?;
    let (tickets, messages, customers) = store.totals()?;
    Ok(DemoReport {
        database: db,
        canned_dir,
        tickets,
        messages,
        customers,
    })
}

/// The serial numbers the demo's claim forms name (`SN-4890`).
pub const SERIAL_PATTERN: &str = r"\bSN-\d{4}\b";

/// A claim form names a machine: a known customer owns it, so that the
/// serial in the fax links the ticket to it when it is filed, and the
/// asset's tickets are its repair record. Model and dates follow from the
/// serial, so the demo's random draws are the same as without machines.
fn register_machine(tx: &Tx<'_>, p: &Person, body: &str) -> Result<()> {
    let Some(serial) = body
        .split_whitespace()
        .map(|w| w.trim_end_matches([',', '.', ':']))
        .find(|w| w.starts_with("SN-"))
    else {
        return Ok(());
    };
    if tx.asset_by_serial(serial)?.is_some() {
        return Ok(());
    }
    let fax = crate::identity::normalise(crate::model::IdentityKind::Fax, &p.fax, "US")?;
    let Some(customer) = tx.find_identity(crate::model::IdentityKind::Fax, &fax)? else {
        return Ok(());
    };
    let n: i64 = serial[3..].parse().unwrap_or(0);
    let bought = chrono::NaiveDate::from_ymd_opt(2023, 1, 1).unwrap_or_default()
        + chrono::Duration::days(n % 900);
    let warranty = bought + chrono::Duration::days(2 * 365);
    tx.create_asset(
        &crate::store::AssetInput {
            customer_id: Some(customer),
            model: Some(["PowerBox P100", "PowerBox P200", "Inverter X5"][(n % 3) as usize].into()),
            serial: Some(serial.to_string()),
            purchased: Some(bought.to_string()),
            warranty_until: Some(warranty.to_string()),
            location: Some(["Workshop", "Basement", "Roof"][(n % 3) as usize].into()),
            ..Default::default()
        },
        "demo",
    )?;
    Ok(())
}

fn store_tickets(tx: &Tx<'_>) -> Result<i64> {
    tx.count_tickets()
}
