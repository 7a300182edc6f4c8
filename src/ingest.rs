//! The one path from an [`Inbound`] to (customer, ticket, message):
//! dedupe, customer match, threading, automatic state changes.
//!
//! Every channel and `echodesk import` hand their messages to
//! [`commit_batch`]: one transaction per batch, each message filed by
//! [`Ingest::ingest`], the channel's cursor moved in the same commit, and
//! the counts returned. No channel opens a transaction of its own.

use regex::Regex;
use serde::Serialize;

use crate::error::Result;
use crate::identity;
pub use crate::inbound::Tally;
use crate::inbound::{Cursor, Inbound};
use crate::model::{Channel, Direction, IdentityKind};
use crate::store::{NewAttachment, NewMessage, NewTicket, Settings, Store, Tx};

fn count(tally: &mut Tally, outcome: Outcome, m: &Inbound) {
    tally.fetched += 1;
    match outcome {
        Outcome::Created { .. } => tally.created += 1,
        Outcome::Threaded { .. } | Outcome::Rated { .. } | Outcome::Noted { .. } => {
            tally.threaded += 1
        }
        Outcome::Duplicate => tally.duplicates += 1,
    }
    if m.parse_error.is_some() {
        tally.with_errors += 1;
    }
}

/// How a batch treats a message the store refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Care {
    /// Each message in a savepoint; one that cannot be filed is kept raw
    /// with its problem, and the batch goes on. What live channels use.
    Keep,
    /// No savepoints: the first refusal fails the batch, for a caller that
    /// retries it carefully (the import's fast path).
    Fast,
}

/// The one commit path from a channel to the store: every message of the
/// batch filed, and the cursor moved, in one transaction.
pub fn commit_batch<'m>(
    store: &mut Store,
    ingest: &Ingest,
    batch: impl IntoIterator<Item = &'m Inbound>,
    cursors: &[Cursor],
    care: Care,
) -> Result<Tally> {
    let mut tally = Tally::default();
    let tx = store.transaction()?;
    for m in batch {
        let outcome = match care {
            Care::Keep => ingest.ingest_or_keep(&tx, m)?,
            Care::Fast => ingest.ingest(&tx, m)?,
        };
        count(&mut tally, outcome, m);
    }
    for c in cursors {
        tx.set_cursor(&c.account, &c.scope, &c.value)?;
    }
    tx.commit()?;
    Ok(tally)
}

/// The agent name recorded for changes echodesk makes by itself.
pub const SYSTEM_AGENT: &str = "echodesk";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum Outcome {
    /// A new ticket was opened.
    Created { ticket: i64, message: i64 },
    /// The message joined an existing ticket (and maybe reopened it).
    Threaded {
        ticket: i64,
        message: i64,
        reopened: bool,
    },
    /// A survey answer: recorded on the surveyed ticket, which stays as
    /// it is (solved).
    Rated {
        ticket: i64,
        message: i64,
        rating: u8,
    },
    /// Another department's answer to a side conversation: an internal
    /// note on the ticket (no state change, no rules, not the customer's).
    Noted { ticket: i64, message: i64 },
    /// Already stored: same provider id or same Message-ID on the account.
    Duplicate,
}

pub struct Ingest {
    tag: Regex,
    /// Queue customer messages for the automation rules (live channels,
    /// not imports of old mail).
    live: bool,
}

impl Ingest {
    pub fn new(settings: &Settings) -> Ingest {
        // subject_tag is validated to contain {id}.
        let (before, after) = settings
            .subject_tag
            .split_once("{id}")
            .unwrap_or(("[#", "]"));
        let pattern = format!(
            "{}(\\d{{1,18}}){}",
            regex::escape(before),
            regex::escape(after)
        );
        let tag = Regex::new(&pattern).unwrap_or_else(|_| {
            Regex::new(r"\[#(\d{1,18})\]").expect("the built-in tag pattern is valid")
        });
        Ingest { tag, live: false }
    }

    /// Is the message already stored: the same provider id, or the same
    /// Message-ID, on its account?
    fn is_duplicate(&self, tx: &Tx<'_>, m: &Inbound) -> Result<bool> {
        if tx.has_provider_id(&m.account, &m.provider_id)? {
            return Ok(true);
        }
        match &m.message_id {
            Some(mid) => tx.has_message_id(&m.account, mid),
            None => Ok(false),
        }
    }

    /// Marks this ingest as live mail: customer messages go to the rules.
    pub fn live(mut self) -> Ingest {
        self.live = true;
        self
    }

    /// The ticket number a subject carries in its tag, if any.
    pub fn ticket_tag(&self, subject: &str) -> Option<i64> {
        self.tag.captures(subject)?.get(1)?.as_str().parse().ok()
    }

    pub fn ingest(&self, tx: &Tx<'_>, m: &Inbound) -> Result<Outcome> {
        let outcome = self.ingest_inner(tx, m)?;
        if self.live {
            match outcome {
                Outcome::Created { ticket, message } => {
                    tx.enqueue_for_rules(message, ticket, true)?
                }
                Outcome::Threaded {
                    ticket, message, ..
                } => tx.enqueue_for_rules(message, ticket, false)?,
                Outcome::Rated {
                    ticket, message, ..
                } => tx.enqueue_rating_for_rules(message, ticket)?,
                Outcome::Noted { .. } | Outcome::Duplicate => {}
            }
        }
        Ok(outcome)
    }

    /// [`Ingest::ingest`], and when that fails for this message, the
    /// message again as it came (raw, with the error), so that the poll or
    /// import goes on and nothing is lost. A failure of the store itself
    /// fails the second attempt too and is returned.
    pub fn ingest_or_keep(&self, tx: &Tx<'_>, m: &Inbound) -> Result<Outcome> {
        let first = match tx.attempt(|tx| self.ingest(tx, m)) {
            Ok(o) => return Ok(o),
            Err(e) => e,
        };
        let kept = m.kept_raw(&format!("could not be filed: {first}"));
        tx.attempt(|tx| self.ingest(tx, &kept)).map_err(|_| first)
    }

    fn ingest_inner(&self, tx: &Tx<'_>, m: &Inbound) -> Result<Outcome> {
        if self.is_duplicate(tx, m)? {
            return Ok(Outcome::Duplicate);
        }
        if m.channel == Channel::Email {
            let tagged = self.ticket_tag(&m.subject);
            if let Some(ticket) = tx.side_conversation_of(&m.refs, tagged, &m.from_addr)? {
                let message = self.insert_as(tx, m, ticket, Direction::Note)?;
                tx.event(Some(ticket), &m.from_addr, "side-reply", None, None)?;
                return Ok(Outcome::Noted { ticket, message });
            }
        }
        let settings = tx.settings();
        let customer = self.customer(tx, m, settings)?;
        let wf = &settings.workflow;

        // Which ticket does it belong to?
        let mut found = tx.ticket_by_message_ids(&m.refs)?;
        // Anyone can type `[#1]` into a subject: the tag threads only the
        // ticket's own people. A stranger's message opens a ticket of its
        // own, linked to the one it named, with a note saying why.
        let mut stranger_of = None;
        if found.is_none() {
            if let Some(id) = self.ticket_tag(&m.subject) {
                if tx.ticket_exists(id)? {
                    if tx.is_on_ticket(id, customer, &m.from_addr)? {
                        found = Some(id);
                    } else {
                        stranger_of = Some(id);
                    }
                }
            }
        }
        if found.is_none() && m.channel != Channel::Email {
            // Phone-number channels have no headers: continue the customer's
            // latest conversation on the channel unless it is over.
            if let Some((id, state, solved_at)) = tx.latest_customer_ticket(customer, m.channel)? {
                // A solved conversation reopens only within the window;
                // after it, the text starts a new ticket.
                let recent =
                    solved_at.is_none_or(|at| m.received_at - at <= settings.reopen_window);
                if wf.is_open(&state) || (wf.on_customer_message(&state).is_some() && recent) {
                    found = Some(id);
                }
            }
        }

        // An SMS keyword (STOP, START) is an instruction to us: recorded,
        // kept on the conversation, and it reopens nothing.
        let keyword = (m.channel == Channel::Sms)
            .then(|| crate::csat::keyword(&m.body_text))
            .flatten();
        if let Some(k) = keyword {
            if let Ok(number) =
                identity::normalise(IdentityKind::Phone, &m.from_addr, &settings.default_region)
            {
                let stop = k == crate::csat::OptOut::Stop;
                tx.set_opt_out(IdentityKind::Phone, &number, stop, "texted STOP")?;
            }
        } else if m.auto_kind.is_none() {
            if let Some(o) = self.survey_answer(tx, m, customer, found)? {
                return Ok(o);
            }
        }

        let mut linked = None;
        if let Some(id) = found {
            let (state, _) = tx.ticket_state(id)?;
            if wf.is_final(&state) {
                linked = Some(id);
            } else {
                let message = self.insert(tx, m, id)?;
                tx.touch(id, m.received_at)?;
                let mut reopened = false;
                if m.auto_kind.is_none() && keyword.is_none() {
                    if let Some(to) = wf.on_customer_message(&state) {
                        tx.apply_state(id, &state, to, SYSTEM_AGENT)?;
                        reopened = true;
                    }
                }
                return Ok(Outcome::Threaded {
                    ticket: id,
                    message,
                    reopened,
                });
            }
        }

        let subject = if m.subject.trim().is_empty() {
            match m.channel {
                Channel::Email => "(no subject)".to_string(),
                _ => first_line(&m.body_text),
            }
        } else {
            m.subject.clone()
        };
        let ticket = tx.create_ticket(
            &NewTicket {
                subject: &subject,
                channel: m.channel,
                customer_id: customer,
                at: m.received_at,
                linked_ticket_id: linked.or(stranger_of),
            },
            SYSTEM_AGENT,
        )?;
        let message = self.insert(tx, m, ticket)?;
        if let Some(other) = stranger_of {
            tx.add_agent_message(
                ticket,
                Direction::Note,
                &format!(
                    "The subject names ticket #{other}, but the sender is not its customer \
                     and has not written on it, so this is a ticket of its own, linked to \
                     #{other}. Merge it if they belong together."
                ),
                SYSTEM_AGENT,
                m.received_at,
            )?;
        }
        Ok(Outcome::Created { ticket, message })
    }

    /// Is `m` the answer to one of the customer's open surveys? By the
    /// token in its subject (a `mailto:` link), by threading into the
    /// surveyed ticket, or (a text) from the surveyed number; and only if
    /// it starts with a rating. Anything else takes the normal path.
    fn survey_answer(
        &self,
        tx: &Tx<'_>,
        m: &Inbound,
        customer: i64,
        found: Option<i64>,
    ) -> Result<Option<Outcome>> {
        let scale = &tx.settings().survey;
        let by_token = match crate::csat::token_in(&m.subject) {
            Some(t) => tx
                .survey_by_token(t)?
                .filter(|s| s.expires_at >= m.received_at),
            None => None,
        };
        let (survey, answer) = match by_token {
            Some(s) => {
                let a = crate::csat::parse(crate::csat::before_token(&m.subject), scale)
                    .or_else(|| crate::csat::parse(&m.body_text, scale));
                (s, a)
            }
            None => {
                let open = tx.open_surveys(customer, m.received_at)?;
                let s = open.into_iter().find(|s| {
                    Some(s.ticket) == found || (m.channel == Channel::Sms && s.channel == m.channel)
                });
                let Some(s) = s else { return Ok(None) };
                let a = crate::csat::parse(&m.body_text, scale);
                (s, a)
            }
        };
        let Some(answer) = answer else {
            return Ok(None);
        };
        let message = self.insert(tx, m, survey.ticket)?;
        tx.touch(survey.ticket, m.received_at)?;
        tx.record_answer(
            &survey,
            answer.rating,
            &answer.comment,
            message,
            m.received_at,
        )?;
        Ok(Some(Outcome::Rated {
            ticket: survey.ticket,
            message,
            rating: answer.rating,
        }))
    }

    fn insert(&self, tx: &Tx<'_>, m: &Inbound, ticket: i64) -> Result<i64> {
        self.insert_as(tx, m, ticket, Direction::In)
    }

    fn insert_as(
        &self,
        tx: &Tx<'_>,
        m: &Inbound,
        ticket: i64,
        direction: Direction,
    ) -> Result<i64> {
        let atts: Vec<NewAttachment<'_>> = m
            .attachments
            .iter()
            .map(|a| NewAttachment {
                filename: &a.filename,
                content_type: &a.content_type,
                data: &a.data,
            })
            .collect();
        tx.insert_message(&NewMessage {
            ticket_id: ticket,
            direction,
            channel: m.channel,
            account: &m.account,
            provider_id: Some(&m.provider_id),
            message_id: m.message_id.as_deref(),
            refs: &m.refs,
            from_addr: &m.from_addr,
            from_name: m.from_name.as_deref(),
            to_addr: &m.to_addr,
            subject: &m.subject,
            body_text: &m.body_text,
            body_html: m.body_html.as_deref(),
            received_at: m.received_at,
            // A department's answer is a note written by them.
            author: (direction == Direction::Note).then_some(m.from_addr.as_str()),
            auto_kind: m.auto_kind,
            parse_error: m.parse_error.as_deref(),
            raw: m.raw.as_deref(),
            attachments: &atts,
        })
        .and_then(|id| {
            self.recognise_asset(tx, m, ticket)?;
            Ok(id)
        })
    }

    /// Links a ticket about no asset yet to the asset whose serial number
    /// the message names (`[assets] serial_pattern`); unknown serials and
    /// tickets already about one are left alone.
    fn recognise_asset(&self, tx: &Tx<'_>, m: &Inbound, ticket: i64) -> Result<()> {
        let Some(pattern) = tx.settings().serial_pattern.as_ref() else {
            return Ok(());
        };
        if tx.ticket_asset_id(ticket)?.is_some() {
            return Ok(());
        }
        // The start of a long text is where people name the machine; the
        // cap keeps a huge message from costing a long scan.
        let mut cut = m.body_text.len().min(64 * 1024);
        while !m.body_text.is_char_boundary(cut) {
            cut -= 1;
        }
        let body = &m.body_text[..cut];
        for text in [m.subject.as_str(), body] {
            for caps in pattern.captures_iter(text) {
                let serial = caps
                    .get(1)
                    .or_else(|| caps.get(0))
                    .map_or("", |g| g.as_str());
                if let Some(asset) = tx.asset_by_serial(serial)? {
                    tx.set_ticket_asset(ticket, Some(asset), "rule:serial")?;
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    /// Finds or creates the customer behind the sender.
    fn customer(&self, tx: &Tx<'_>, m: &Inbound, settings: &Settings) -> Result<i64> {
        let kind = m.channel.identity_kind();
        if m.from_addr.trim().is_empty() {
            // No sender to know them by: a customer of their own, with no
            // identity, so that strangers without an address never merge.
            let name = m
                .from_name
                .clone()
                .filter(|n| !n.trim().is_empty())
                .unwrap_or_else(|| format!("Unknown sender ({})", m.channel.as_str()));
            return tx.create_customer(&name, &[]);
        }
        let value = identity::normalise(kind, &m.from_addr, &settings.default_region)
            .unwrap_or_else(|_| fallback_identity(&m.from_addr));
        if let Some(id) = tx.find_identity(kind, &value)? {
            return Ok(id);
        }
        // A fax or SMS number someone already used on the other phone
        // channel is the same person.
        let sibling = match kind {
            IdentityKind::Fax => Some(IdentityKind::Phone),
            IdentityKind::Phone => Some(IdentityKind::Fax),
            IdentityKind::Email => None,
        };
        if let Some(s) = sibling {
            if value.starts_with('+') {
                if let Some(id) = tx.find_identity(s, &value)? {
                    tx.add_identity(id, kind, &value)?;
                    return Ok(id);
                }
            }
        }
        let name = m
            .from_name
            .clone()
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| value.clone());
        tx.create_customer(&name, &[(kind, &value)])
    }
}

fn fallback_identity(raw: &str) -> String {
    let v = raw.trim().to_lowercase();
    if v.is_empty() {
        "unknown-sender".into()
    } else {
        v
    }
}

fn first_line(body: &str) -> String {
    let line = body
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("(empty message)");
    let mut s: String = line.chars().take(60).collect();
    if line.chars().count() > 60 {
        s.push('…');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    fn inbound(pid: &str, from: &str, subject: &str) -> Inbound {
        Inbound::test_email(pid, from, subject)
    }

    fn run(store: &mut Store, m: &Inbound) -> Outcome {
        let ing = Ingest::new(store.settings());
        let tx = store.transaction().unwrap();
        let o = ing.ingest(&tx, m).unwrap();
        tx.commit().unwrap();
        o
    }

    #[test]
    fn a_message_that_cannot_be_filed_is_kept_and_the_batch_goes_on() {
        let mut s = Store::open_in_memory(Settings::default()).unwrap();
        let ing = Ingest::new(s.settings());
        let tx = s.transaction().unwrap();
        // A store that refuses one sender's messages stands in for any
        // failure a message can cause.
        tx.execute_batch(
            "CREATE TEMP TRIGGER poison BEFORE INSERT ON messages
                 WHEN NEW.from_addr = 'poison@x.com' BEGIN SELECT RAISE(ABORT, 'poisoned'); END;",
        )
        .unwrap();
        let good = inbound("1", "a@x.com", "before");
        let bad = inbound("2", "poison@x.com", "the bad one");
        let after = inbound("3", "b@x.com", "after");
        for m in [&good, &bad, &after] {
            assert!(matches!(
                ing.ingest_or_keep(&tx, m).unwrap(),
                Outcome::Created { .. }
            ));
        }
        tx.commit().unwrap();
        let kept = s.find_message("2@test").unwrap();
        assert!(kept.is_none(), "the kept copy carries no Message-ID");
        let tickets: Vec<_> = (1..=3).map(|id| s.ticket(id).unwrap()).collect();
        assert_eq!(tickets[1].summary.subject, "the bad one");
        let e = tickets[1].messages[0].parse_error.as_deref().unwrap();
        assert!(
            e.contains("could not be filed") && e.contains("poisoned"),
            "{e}"
        );
        // Its half-written rows are gone: one customer each, no orphans.
        assert_eq!(tickets[2].summary.subject, "after");
        // Re-polling the same message is a duplicate, not a second copy.
        let tx = s.transaction().unwrap();
        assert_eq!(ing.ingest_or_keep(&tx, &bad).unwrap(), Outcome::Duplicate);
    }

    #[test]
    fn faxes_without_a_number_never_merge() {
        let mut s = Store::open_in_memory(Settings::default()).unwrap();
        let fax = |pid: &str| {
            let mut m = inbound(pid, "", "Fax from RECEPTION");
            m.channel = Channel::Fax;
            m.message_id = None;
            m.from_name = Some("RECEPTION".into());
            m
        };
        let Outcome::Created { ticket: a, .. } = run(&mut s, &fax("f1")) else {
            panic!()
        };
        let Outcome::Created { ticket: b, .. } = run(&mut s, &fax("f2")) else {
            panic!("the second RECEPTION fax joined the first")
        };
        let (ta, tb) = (s.ticket(a).unwrap(), s.ticket(b).unwrap());
        assert_ne!(ta.customer.id, tb.customer.id);
        assert!(ta.customer.identities.is_empty());
        assert_eq!(ta.customer.name, "RECEPTION");
    }

    #[test]
    fn duplicates_are_found_by_provider_id_or_message_id() {
        let mut s = Store::open_in_memory(Settings::default()).unwrap();
        let first = inbound("1", "a@x.com", "Help");
        assert!(matches!(run(&mut s, &first), Outcome::Created { .. }));
        assert_eq!(run(&mut s, &first), Outcome::Duplicate);
        let mut same_mid = inbound("2", "a@x.com", "Help");
        same_mid.message_id = first.message_id.clone();
        assert_eq!(run(&mut s, &same_mid), Outcome::Duplicate);
        // The same provider id on another account is another message.
        let mut elsewhere = first.clone();
        elsewhere.account = "other".into();
        elsewhere.message_id = None;
        assert!(matches!(
            run(&mut s, &elsewhere),
            Outcome::Threaded { .. } | Outcome::Created { .. }
        ));
    }

    #[test]
    fn threads_by_reference_tag_and_phone() {
        let mut s = Store::open_in_memory(Settings::default()).unwrap();
        let Outcome::Created { ticket, .. } = run(&mut s, &inbound("1", "A@x.com", "Help")) else {
            panic!()
        };
        let mut reply = inbound("2", "a@x.com", "Re: Help");
        reply.refs = vec!["1@test".into()];
        assert!(matches!(run(&mut s, &reply), Outcome::Threaded { ticket: t, .. } if t == ticket));
        // The customer's own tagged mail threads by the tag.
        let tagged = inbound("3", "a@X.com", &format!("Re: [#{ticket}] Help"));
        assert!(matches!(run(&mut s, &tagged), Outcome::Threaded { ticket: t, .. } if t == ticket));
        assert_eq!(run(&mut s, &reply), Outcome::Duplicate);
        // A stranger's does not: a new ticket, linked, with a note.
        let stranger = inbound("4", "mallory@y.com", &format!("Re: [#{ticket}] Help"));
        let Outcome::Created { ticket: own, .. } = run(&mut s, &stranger) else {
            panic!("a stranger joined ticket {ticket} by its tag")
        };
        let t = s.ticket(own).unwrap();
        assert_eq!(t.linked_ticket_id, Some(ticket));
        assert!(s
            .messages(own)
            .unwrap()
            .iter()
            .any(|m| m.direction == Direction::Note
                && m.body_text.contains(&format!("names ticket #{ticket}"))));
        let (state, _) = {
            let tx = s.transaction().unwrap();
            tx.ticket_state(ticket).unwrap()
        };
        assert_eq!(state, "new", "the named ticket was not touched");
        // Someone who already wrote on the ticket may use the tag.
        let mut cc = inbound("5", "colleague@x.com", "Re: Help");
        cc.refs = vec!["1@test".into()];
        run(&mut s, &cc);
        let tagged = inbound(
            "6",
            "colleague@x.com",
            &format!("[#{ticket}] one more thing"),
        );
        assert!(matches!(run(&mut s, &tagged), Outcome::Threaded { ticket: t, .. } if t == ticket));

        let mut sms = inbound("s1", "(415) 555-2671", "");
        sms.channel = Channel::Sms;
        sms.message_id = None;
        let Outcome::Created { ticket: st, .. } = run(&mut s, &sms) else {
            panic!()
        };
        let mut sms2 = sms.clone();
        sms2.provider_id = "s2".into();
        sms2.from_addr = "+1 415 555 2671".into();
        assert!(matches!(run(&mut s, &sms2), Outcome::Threaded { ticket: t, .. } if t == st));
        assert_eq!(s.ticket_summary(st).unwrap().subject, "hello");
    }

    #[test]
    fn a_text_reopens_a_solved_sms_ticket_only_within_the_window() {
        let mut s = Store::open_in_memory(Settings::default()).unwrap();
        let mut sms = inbound("w1", "+14155550123", "");
        sms.channel = Channel::Sms;
        sms.message_id = None;
        sms.received_at = 1_000_000;
        let Outcome::Created { ticket, .. } = run(&mut s, &sms) else {
            panic!()
        };
        let solve = |s: &mut Store, at: i64| {
            let tx = s.transaction().unwrap();
            tx.set_clock(Some(at));
            let (state, _) = tx.ticket_state(ticket).unwrap();
            if state != "solved" {
                tx.set_state(ticket, "solved", "ann", None).unwrap();
            }
            tx.commit().unwrap();
        };
        solve(&mut s, 1_000_100);
        // A day later: within the default week, the same ticket reopens.
        let mut again = sms.clone();
        again.provider_id = "w2".into();
        again.received_at = 1_000_100 + 86_400;
        assert!(
            matches!(run(&mut s, &again), Outcome::Threaded { ticket: t, reopened: true, .. } if t == ticket)
        );
        solve(&mut s, 1_100_000);
        // Eight days after it was solved: a new conversation.
        let mut late = sms.clone();
        late.provider_id = "w3".into();
        late.received_at = 1_100_000 + 8 * 86_400;
        assert!(matches!(run(&mut s, &late), Outcome::Created { ticket: t, .. } if t != ticket));
    }

    #[test]
    fn customer_message_reopens_and_closed_starts_linked_ticket() {
        let mut s = Store::open_in_memory(Settings::default()).unwrap();
        let Outcome::Created { ticket, .. } = run(&mut s, &inbound("1", "a@x.com", "Help")) else {
            panic!()
        };
        {
            let tx = s.transaction().unwrap();
            tx.set_state(ticket, "solved", "ann", None).unwrap();
            tx.commit().unwrap();
        }
        let mut r = inbound("2", "a@x.com", "Re: Help");
        r.refs = vec!["1@test".into()];
        assert!(matches!(
            run(&mut s, &r),
            Outcome::Threaded { reopened: true, .. }
        ));
        assert_eq!(s.ticket_summary(ticket).unwrap().state, "open");

        // An auto-reply does not reopen.
        {
            let tx = s.transaction().unwrap();
            tx.set_state(ticket, "pending", "ann", None).unwrap();
            tx.commit().unwrap();
        }
        let mut auto = inbound("3", "a@x.com", "Out of office");
        auto.refs = vec!["1@test".into()];
        auto.auto_kind = Some(crate::model::AutoKind::AutoReply);
        assert!(matches!(
            run(&mut s, &auto),
            Outcome::Threaded {
                reopened: false,
                ..
            }
        ));
        assert_eq!(s.ticket_summary(ticket).unwrap().state, "pending");

        {
            let tx = s.transaction().unwrap();
            tx.set_state(ticket, "closed", "ann", None).unwrap();
            tx.commit().unwrap();
        }
        let mut late = inbound("4", "a@x.com", "Re: Help");
        late.refs = vec!["1@test".into()];
        let Outcome::Created { ticket: new, .. } = run(&mut s, &late) else {
            panic!()
        };
        assert_ne!(new, ticket);
        assert_eq!(s.ticket(new).unwrap().linked_ticket_id, Some(ticket));
    }
}
