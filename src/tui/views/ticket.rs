//! One ticket: the conversation across channels in time order, and the
//! customer with every identity and their other tickets.

use std::rc::Rc;

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};
use ratatui::Frame;

use crate::model::Direction;
use crate::present::{age, channel_label, datetime};
use crate::sanitize;
use crate::tui::app::App;
use crate::tui::keymap::Action;
use crate::tui::wrap::wrap_into;

pub fn draw(f: &mut Frame, app: &mut App, area: Rect) {
    let side = if area.width >= 100 {
        34
    } else if area.width >= 80 {
        28
    } else {
        0
    };
    let [conv, panel] =
        Layout::horizontal([Constraint::Min(40), Constraint::Length(side)]).areas(area);
    app.height = conv.height.saturating_sub(2) as usize;
    draw_conversation(f, app, conv);
    if side > 0 {
        draw_customer(f, app, panel);
    }
}

pub(super) fn draw_conversation(f: &mut Frame, app: &mut App, area: Rect) {
    let t = app.theme.clone();
    let Some(ticket) = &app.ticket else { return };
    let s = &ticket.summary;
    let title = format!(" #{} {} ", s.id, sanitize::line(&s.subject));
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(t.border(true))
        .title(Span::styled(title, t.title(true)));
    let mut lines: Vec<Line> = Vec::new();
    let tags = if s.tags.is_empty() {
        "-".to_string()
    } else {
        s.tags.join(", ")
    };
    lines.push(Line::from(vec![
        Span::styled(s.state.clone(), t.state(&s.state)),
        Span::styled(" · ", t.dim()),
        Span::styled(s.priority.to_string(), t.priority(s.priority)),
        Span::styled(
            format!(
                " · {} · assignee {} · tags {}",
                channel_label(s.channel),
                sanitize::line(s.assignee.as_deref().unwrap_or("-")),
                sanitize::line(&tags)
            ),
            t.dim(),
        ),
    ]));
    let now = app.now();
    let due = |what: &str, d: Option<i64>, done: Option<i64>| -> Option<Span<'static>> {
        let d = d?;
        let (text, style) = match done {
            Some(at) if at > d => (format!("{what} missed by {}", age(at, d)), t.error()),
            Some(_) => (format!("{what} met"), t.dim()),
            None if now > d => (format!("{what} overdue by {}", age(now, d)), t.error()),
            None => (format!("{what} due in {}", age(d, now)), t.warning()),
        };
        Some(Span::styled(text, style))
    };
    let sla: Vec<Span> = [
        due("first response", s.first_response_due, s.first_response_at),
        due("resolution", s.resolution_due, s.solved_at),
    ]
    .into_iter()
    .flatten()
    .collect();
    if !sla.is_empty() {
        let mut spans = vec![Span::styled("SLA: ", t.dim())];
        for (i, sp) in sla.into_iter().enumerate() {
            if i > 0 {
                spans.push(Span::styled(" · ", t.dim()));
            }
            spans.push(sp);
        }
        lines.push(Line::from(spans));
    }
    if !app.customer_file.followers.is_empty() {
        lines.push(Line::from(vec![
            Span::styled("Followed by ", t.dim()),
            Span::styled(
                sanitize::line(&app.customer_file.followers.join(", ")),
                t.text(),
            ),
        ]));
    }
    if let Some(sv) = &app.survey {
        let (text, style) = match (sv.rating, &sv.comment) {
            (Some(r), Some(c)) => (
                format!("rated {r} · {}", sanitize::line(c)),
                if r <= 2 { t.error() } else { t.text() },
            ),
            (Some(r), None) => (
                format!("rated {r}"),
                if r <= 2 { t.error() } else { t.text() },
            ),
            (None, _) if sv.expires_at < now => ("survey not answered".to_string(), t.dim()),
            (None, _) => ("survey sent, no answer yet".to_string(), t.dim()),
        };
        lines.push(Line::from(vec![
            Span::styled("Satisfaction: ", t.dim()),
            Span::styled(text, style),
        ]));
    }
    if let Some(l) = ticket.linked_ticket_id {
        lines.push(Line::styled(
            format!("follows up closed ticket #{l}"),
            t.dim(),
        ));
    }
    for (agent, activity) in &app.presence {
        lines.push(Line::styled(
            format!(
                "⚑ {} is {}",
                sanitize::line(agent),
                sanitize::line(activity)
            ),
            t.warning(),
        ));
    }
    let width = area.width.saturating_sub(2).max(1);
    let mut parts: Vec<Rc<Vec<Line<'static>>>> = Vec::new();
    let mut rows: Vec<Line<'static>> = Vec::new();
    for l in lines.drain(..) {
        wrap_into(l, width as usize, &mut rows);
    }
    parts.push(Rc::new(std::mem::take(&mut rows)));
    let pager_key = app.keymap.keys_of(Action::Pager);
    for m in &ticket.messages {
        lines.push(Line::raw(""));
        let (label, who, style) = match m.direction {
            Direction::In => {
                let who = match &m.from_name {
                    Some(n) => format!("{n} <{}>", m.from_addr),
                    None => m.from_addr.clone(),
                };
                ("from", who, t.title(false))
            }
            Direction::Out => (
                "reply by",
                m.author.clone().unwrap_or_default(),
                t.outbound(),
            ),
            Direction::Note => ("NOTE by", m.author.clone().unwrap_or_default(), t.note()),
        };
        let mut head = format!(
            "── {} · {label} {} · {}",
            datetime(m.received_at),
            sanitize::line(&who),
            channel_label(m.channel)
        );
        if let Some(k) = m.auto_kind {
            head.push_str(&format!(" · {k}"));
        }
        if let Some(status) = app.store.outbox_status(m.id).ok().flatten() {
            head.push_str(&format!(" · {status}"));
        }
        lines.push(Line::styled(head, style));
        if let Some(err) = &m.parse_error {
            lines.push(Line::styled(
                format!("  ! {}", sanitize::line(err)),
                t.warning(),
            ));
        }
        for a in &m.attachments {
            lines.push(Line::styled(
                format!(
                    "  📎 {} ({}, {} bytes)",
                    sanitize::line(&a.filename),
                    sanitize::line(&a.content_type),
                    a.size
                ),
                t.dim(),
            ));
        }
        for l in lines.drain(..) {
            wrap_into(l, width as usize, &mut rows);
        }
        parts.push(Rc::new(std::mem::take(&mut rows)));
        let body = app
            .body_rows
            .entry((m.id, width))
            .or_insert_with(|| {
                let style = if m.direction == Direction::Note {
                    t.note()
                } else {
                    t.text()
                };
                Rc::new(body_rows(
                    &m.body_text,
                    width,
                    style,
                    t.warning(),
                    &pager_key,
                ))
            })
            .clone();
        parts.push(body);
    }
    let inner_h = area.height.saturating_sub(2) as usize;
    let total: usize = parts.iter().map(|p| p.len()).sum();
    app.ticket_scroll = app.ticket_scroll.min(total.saturating_sub(inner_h));
    let visible: Vec<Line> = parts
        .iter()
        .flat_map(|p| p.iter())
        .skip(app.ticket_scroll)
        .take(inner_h)
        .cloned()
        .collect();
    f.render_widget(Paragraph::new(visible).block(block), area);
}

/// How much of one message the ticket view lays out. A longer message shows
/// its start and a line saying how much more there is; the pager has it all.
pub const BODY_SHOWN: usize = 256 * 1024;

fn body_rows(
    text: &str,
    width: u16,
    style: Style,
    note_style: Style,
    pager_key: &str,
) -> Vec<Line<'static>> {
    let text = text.trim_end();
    let mut cut = text.len().min(BODY_SHOWN);
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    let mut rows = Vec::new();
    for l in sanitize::text(&text[..cut]).lines() {
        wrap_into(
            Line::styled(l.to_string(), style),
            width as usize,
            &mut rows,
        );
    }
    if cut < text.len() {
        let more = Line::styled(
            format!(
                "… {} more of this message; {pager_key} reads all of it",
                crate::present::size(text.len() - cut)
            ),
            note_style,
        );
        wrap_into(more, width as usize, &mut rows);
    }
    rows
}

fn draw_customer(f: &mut Frame, app: &App, area: Rect) {
    let t = &app.theme;
    let Some(ticket) = &app.ticket else { return };
    let c = &ticket.customer;
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(t.border(false))
        .title(Span::styled(" Customer ", t.title(false)));
    let mut lines = vec![
        Line::styled(sanitize::line(&c.name), t.title(true)),
        Line::styled(format!("#{}", c.id), t.dim()),
    ];
    for i in &c.identities {
        lines.push(Line::from(vec![
            Span::styled(format!("{:<6}", i.kind.as_str()), t.dim()),
            Span::styled(sanitize::line(&i.value), t.text()),
        ]));
    }
    let file = &app.customer_file;
    let row = |label: &str, value: String| {
        Line::from(vec![
            Span::styled(format!("{label:<6}"), t.dim()),
            Span::styled(sanitize::line(&value), t.text()),
        ])
    };
    if let Some(o) = &file.org {
        lines.push(row("org", o.clone()));
    }
    for (n, v) in &file.fields {
        lines.push(row(n, v.clone()));
    }
    let asset = |a: &crate::store::Asset| match &a.serial {
        Some(s) => format!("{} {s}", a.model),
        None => a.model.clone(),
    };
    if let Some(a) = &file.about {
        let warranty = a
            .warranty_until
            .as_deref()
            .map(|w| format!(" · warranty {w}"))
            .unwrap_or_default();
        lines.push(row("about", format!("{}{warranty}", asset(a))));
    }
    let others: Vec<&crate::store::Asset> = file
        .assets
        .iter()
        .filter(|a| file.about.as_ref().map(|b| b.id) != Some(a.id))
        .collect();
    if !others.is_empty() {
        let shown: Vec<String> = others.iter().take(3).map(|a| asset(a)).collect();
        let more = others.len().saturating_sub(3);
        let tail = if more > 0 {
            format!(" +{more}")
        } else {
            String::new()
        };
        lines.push(row("owns", format!("{}{tail}", shown.join(", "))));
    }
    if let Some(n) = file.notes.first() {
        let more = match file.notes.len() {
            1 => String::new(),
            k => format!(" (+{})", k - 1),
        };
        lines.push(Line::from(vec![
            Span::styled(format!("{:<6}", "note"), t.dim()),
            Span::styled(sanitize::line(&n.body), t.note()),
            Span::styled(more, t.dim()),
        ]));
    }
    let ratings: Vec<String> = app
        .customer_surveys
        .iter()
        .filter_map(|s| s.rating.map(|r| r.to_string()))
        .collect();
    if !app.customer_surveys.is_empty() {
        lines.push(Line::from(vec![
            Span::styled(format!("{:<6}", "rated"), t.dim()),
            Span::styled(
                if ratings.is_empty() {
                    format!("no answer to {} surveys", app.customer_surveys.len())
                } else {
                    format!(
                        "{} ({} of {} surveys)",
                        ratings.join(" "),
                        ratings.len(),
                        app.customer_surveys.len()
                    )
                },
                t.text(),
            ),
        ]));
    }
    lines.push(Line::raw(""));
    lines.push(Line::styled("Other tickets", t.title(false)));
    if app.other_tickets.is_empty() {
        lines.push(Line::styled("none", t.dim()));
    }
    let now = app.now();
    for o in &app.other_tickets {
        lines.push(Line::from(vec![
            Span::styled(format!("#{} ", o.id), t.dim()),
            Span::styled(format!("{} ", channel_label(o.channel)), t.dim()),
            Span::styled(format!("{} ", o.state), t.state(&o.state)),
            Span::styled(format!("{} ", age(now, o.updated_at)), t.dim()),
        ]));
        lines.push(Line::styled(
            format!("  {}", sanitize::line(&o.subject)),
            t.text(),
        ));
    }
    f.render_widget(
        Paragraph::new(lines).block(block).wrap(Wrap { trim: true }),
        area,
    );
}
