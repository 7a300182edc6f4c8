//! A ticket as plain text for people: what `echodesk show` prints and what
//! the TUI hands to the pager. Everything from outside is neutralised, so
//! the text is safe for a terminal whoever wrote the mail.

use std::fmt::Write;

use crate::model::{Direction, TicketDetail};
use crate::present::{age, channel_label, datetime};
use crate::sanitize;

/// The whole ticket: a header, the customer, then every message in order.
pub fn render(t: &TicketDetail, now: i64) -> String {
    let mut out = String::new();
    let s = &t.summary;
    // Writing to a String cannot fail.
    let _ = writeln!(out, "#{} {}", s.id, sanitize::line(&s.subject));
    let _ = writeln!(
        out,
        "state {} · priority {} · {} · assignee {} · tags {} · created {} · updated {} ago",
        s.state,
        s.priority,
        channel_label(s.channel),
        sanitize::line(s.assignee.as_deref().unwrap_or("-")),
        if s.tags.is_empty() {
            "-".to_string()
        } else {
            sanitize::line(&s.tags.join(", "))
        },
        datetime(s.created_at),
        age(now, s.updated_at)
    );
    let idents: Vec<String> = t
        .customer
        .identities
        .iter()
        .map(|i| format!("{} {}", i.kind, sanitize::line(&i.value)))
        .collect();
    let _ = writeln!(
        out,
        "customer #{} {} <{}>",
        t.customer.id,
        sanitize::line(&t.customer.name),
        idents.join(", ")
    );
    if let Some(l) = t.linked_ticket_id {
        let _ = writeln!(out, "follows up closed ticket #{l}");
    }
    for m in &t.messages {
        let who = match m.direction {
            Direction::In => m
                .from_name
                .as_deref()
                .map(|n| format!("{n} <{}>", m.from_addr))
                .unwrap_or_else(|| m.from_addr.clone()),
            _ => m.author.clone().unwrap_or_default(),
        };
        let kind = match m.direction {
            Direction::In => "from",
            Direction::Out => "reply by",
            Direction::Note => "NOTE by",
        };
        let _ = writeln!(
            out,
            "\n── {} · {} {} · {}{}",
            datetime(m.received_at),
            kind,
            sanitize::line(&who),
            channel_label(m.channel),
            m.auto_kind.map(|k| format!(" · {k}")).unwrap_or_default()
        );
        if let Some(err) = &m.parse_error {
            let _ = writeln!(out, "   ! {}", sanitize::line(err));
        }
        for a in &m.attachments {
            let _ = writeln!(
                out,
                "   📎 {} ({}, {} bytes)",
                sanitize::line(&a.filename),
                sanitize::line(&a.content_type),
                a.size
            );
        }
        let _ = writeln!(out, "{}", sanitize::text(m.body_text.trim_end()));
    }
    out
}

/// A forward to another department: the subject, and the text — the
/// agent's request, then the conversation without internal notes (the
/// customer's messages and our replies), so that nothing meant for the
/// team alone leaves it by accident.
pub fn forward(t: &TicketDetail, note: Option<&str>, agent: &str, now: i64) -> (String, String) {
    let mut shown = t.clone();
    shown.messages.retain(|m| m.direction != Direction::Note);
    shown.events.clear();
    let mut body = String::new();
    if let Some(n) = note.map(str::trim).filter(|n| !n.is_empty()) {
        let _ = writeln!(body, "{}\n", sanitize::text(n));
    }
    let _ = writeln!(
        body,
        "---------- Forwarded by {} from ticket #{}; reply to this mail to answer on the ticket (the customer does not see it) ----------\n",
        sanitize::line(agent),
        t.summary.id
    );
    body.push_str(&render(&shown, now));
    (format!("Fwd: {}", sanitize::line(&t.summary.subject)), body)
}

/// A follow-up in a side conversation: the agent's words, then only what
/// the customer and the team wrote after the message `since` (the last
/// mail to the department, queued at `since_at`), so the department's
/// thread reads on without repeats.
pub fn follow_up(
    t: &TicketDetail,
    (since, since_at): (i64, i64),
    note: Option<&str>,
    agent: &str,
    now: i64,
) -> String {
    let mut shown = t.clone();
    shown
        .messages
        .retain(|m| m.direction != Direction::Note && m.id > since);
    shown.events.clear();
    let mut body = String::new();
    if let Some(n) = note.map(str::trim).filter(|n| !n.is_empty()) {
        let _ = writeln!(body, "{}\n", sanitize::text(n));
    }
    let new = shown.messages.len();
    let _ = writeln!(
        body,
        "---------- Follow-up by {} on ticket #{}: {} since {}; reply to this mail to answer on the ticket ----------\n",
        sanitize::line(agent),
        t.summary.id,
        match new {
            0 => "no new messages".to_string(),
            1 => "1 new message".to_string(),
            n => format!("{n} new messages"),
        },
        datetime(since_at)
    );
    body.push_str(&render(&shown, now));
    body
}
