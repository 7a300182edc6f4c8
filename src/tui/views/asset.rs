//! The asset screen: what the machine is and where, who owns it, its
//! warranty as of today, its fields and notes, then its repair record.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};
use ratatui::Frame;

use crate::present::{age, channel_label, datetime, fit};
use crate::sanitize;
use crate::tui::app::App;

pub fn draw(f: &mut Frame, app: &mut App, area: Rect) {
    let t = &app.theme;
    let Some(v) = &app.asset else { return };
    let a = &v.asset;
    let now = app.now();
    let today = chrono::DateTime::from_timestamp(now, 0)
        .map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_default();
    let row = |label: &str, value: String| {
        Line::from(vec![
            Span::styled(format!("{label:<16}"), t.dim()),
            Span::styled(sanitize::line(&value), t.text()),
        ])
    };
    let mut lines = Vec::new();
    if let Some(s) = &a.serial {
        lines.push(row("serial", s.clone()));
    }
    let owner = match (&v.owner, &v.org) {
        (Some(c), Some(o)) => format!("{c} · {o}"),
        (Some(c), None) => c.clone(),
        (None, Some(o)) => o.clone(),
        (None, None) => "-".into(),
    };
    lines.push(row("owner", owner));
    if let Some(p) = &a.purchased {
        lines.push(row("purchased", p.clone()));
    }
    if let Some(w) = &a.warranty_until {
        // Dates are stored as YYYY-MM-DD: text order is date order.
        let (text, style) = if w.as_str() >= today.as_str() {
            (format!("until {w}"), t.ok())
        } else {
            (format!("ended {w}"), t.warning())
        };
        lines.push(Line::from(vec![
            Span::styled(format!("{:<16}", "warranty"), t.dim()),
            Span::styled(sanitize::line(&text), style),
        ]));
    }
    if let Some(l) = &a.location {
        lines.push(row("location", l.clone()));
    }
    if let Some(x) = &a.external_id {
        lines.push(row("external id", x.clone()));
    }
    for (n, val) in &a.fields {
        lines.push(row(n, val.clone()));
    }
    for n in &v.notes {
        lines.push(Line::from(vec![
            Span::styled(format!("{:<16}", "note"), t.dim()),
            Span::styled(
                format!("{} {}: ", datetime(n.at), sanitize::line(&n.agent)),
                t.dim(),
            ),
            Span::styled(sanitize::line(&n.body), t.note()),
        ]));
    }
    let head_height = (lines.len() as u16 + 2).min(area.height / 2);
    let [head, record] =
        Layout::vertical([Constraint::Length(head_height), Constraint::Min(3)]).areas(area);
    let title = format!(" Asset #{}: {} ", a.id, sanitize::line(&a.model));
    f.render_widget(
        Paragraph::new(lines)
            .block(
                Block::default()
                    .borders(Borders::ALL)
                    .border_style(t.border(false))
                    .title(Span::styled(title, t.title(false))),
            )
            .wrap(Wrap { trim: true }),
        head,
    );

    app.height = record.height.saturating_sub(2) as usize;
    let t = &app.theme;
    let Some(v) = &app.asset else { return };
    let inner = record.height.saturating_sub(2) as usize;
    let start = v.selected.saturating_sub(inner.saturating_sub(1));
    let width = record.width.saturating_sub(2) as usize;
    let mut rows = Vec::new();
    if v.tickets.is_empty() {
        rows.push(Line::styled("no tickets about this asset yet", t.dim()));
    }
    for (i, tk) in v.tickets.iter().enumerate().skip(start).take(inner) {
        let lead = format!(
            "#{:<6} {} {:<4} ",
            tk.id,
            datetime(tk.created_at),
            channel_label(tk.channel)
        );
        let state = format!("{:<9} ", tk.state);
        let ago = format!(" {}", age(now, tk.updated_at));
        let rest = width.saturating_sub(lead.chars().count() + state.len() + ago.len());
        let subject_style = if i == v.selected {
            t.selected()
        } else {
            t.text()
        };
        rows.push(Line::from(vec![
            Span::styled(lead, t.dim()),
            Span::styled(state, t.state(&tk.state)),
            Span::styled(fit(&tk.subject, rest), subject_style),
            Span::styled(ago, t.dim()),
        ]));
    }
    let title = format!(
        " Repair record · {} ticket{} · enter opens, esc back ",
        v.tickets.len(),
        if v.tickets.len() == 1 { "" } else { "s" }
    );
    f.render_widget(
        Paragraph::new(rows).block(
            Block::default()
                .borders(Borders::ALL)
                .border_style(t.border(true))
                .title(Span::styled(title, t.title(true))),
        ),
        record,
    );
}
