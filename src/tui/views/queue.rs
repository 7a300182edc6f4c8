//! The queue: a table over the loaded window, and a preview of the
//! selected ticket.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Table, Wrap};
use ratatui::Frame;

use crate::present::{age, channel_label};
use crate::sanitize;
use crate::tui::app::App;

pub fn draw(f: &mut Frame, app: &mut App, area: Rect) {
    let preview_h = if area.height >= 24 {
        area.height / 3
    } else {
        0
    };
    let [list, preview] =
        Layout::vertical([Constraint::Min(3), Constraint::Length(preview_h)]).areas(area);
    draw_list(f, app, list);
    if preview_h > 0 {
        draw_preview(f, app, preview);
    }
}

fn draw_list(f: &mut Frame, app: &mut App, area: Rect) {
    let t = app.theme.clone();
    let visible = area.height.saturating_sub(1) as usize;
    app.height = visible.max(1);
    let now = app.now();
    // Keep the cursor on screen: the first visible row is the cursor's
    // index within the window, clamped.
    let local = app.cursor.saturating_sub(app.offset);
    let first = local.saturating_sub(visible.saturating_sub(1).min(local));
    let first = first.min(app.rows.len().saturating_sub(visible)).min(local);
    let header = Row::new([
        "", "ID", "STATE", "PRI", "CH", "CUSTOMER", "SUBJECT", "AGE", "WAIT", "AGENT",
    ])
    .style(t.title(false));
    let rows: Vec<Row> = app
        .rows
        .iter()
        .enumerate()
        .skip(first)
        .take(visible)
        .map(|(i, r)| {
            let marked = app.selection.contains_key(&r.id);
            let open = app.store.settings().workflow.is_open(&r.state);
            // With an SLA: time to the next deadline, or `!` and how late.
            // Without: how long the customer has waited for a first answer.
            let (wait, wait_style) = match (r.missed(now), r.next_due()) {
                (Some(missed), _) if open => (format!("!{}", age(now, missed)), t.error()),
                (None, Some(due)) if open => (
                    age(due, now),
                    if due - now < 2 * 3600 {
                        t.warning()
                    } else {
                        t.dim()
                    },
                ),
                _ if open && r.first_response_at.is_none() => (age(now, r.created_at), t.warning()),
                _ => (String::new(), t.warning()),
            };
            let row = Row::new(vec![
                Cell::from(if marked { "●" } else { " " }).style(t.marked()),
                Cell::from(r.id.to_string()),
                Cell::from(r.state.clone()).style(t.state(&r.state)),
                Cell::from(r.priority.as_str()).style(t.priority(r.priority)),
                Cell::from(channel_label(r.channel)),
                Cell::from(sanitize::line(&r.customer_name)),
                Cell::from(sanitize::line(&r.subject)),
                Cell::from(age(now, r.updated_at)),
                Cell::from(wait).style(wait_style),
                Cell::from(sanitize::line(r.assignee.as_deref().unwrap_or("-"))).style(t.dim()),
            ]);
            if app.offset + i == app.cursor {
                row.style(t.selected())
            } else {
                row.style(t.text())
            }
        })
        .collect();
    // Fits 80 columns with room for a 16-column subject; wider terminals
    // give the extra space to the subject and the customer.
    let wide = area.width >= 110;
    let widths = [
        Constraint::Length(1),
        Constraint::Length(if wide { 7 } else { 5 }),
        Constraint::Length(7),
        Constraint::Length(6),
        Constraint::Length(4),
        Constraint::Length(if wide { 18 } else { 14 }),
        Constraint::Min(16),
        Constraint::Length(4),
        Constraint::Length(4),
        Constraint::Length(if wide { 8 } else { 6 }),
    ];
    let table = Table::new(rows, widths).header(header).column_spacing(1);
    f.render_widget(table, area);
    if app.rows.is_empty() {
        let msg = Paragraph::new("No tickets match this view.").style(t.dim());
        let r = Rect {
            y: area.y + 2,
            height: 1,
            ..area
        };
        f.render_widget(msg, r);
    }
}

fn draw_preview(f: &mut Frame, app: &mut App, area: Rect) {
    let t = app.theme.clone();
    let block = Block::default()
        .borders(Borders::TOP)
        .border_style(t.border(false));
    let Some(row) = app.selected_row().cloned() else {
        f.render_widget(block, area);
        return;
    };
    let mut lines = vec![Line::from(vec![
        Span::styled(format!("#{} ", row.id), t.title(true)),
        Span::styled(sanitize::line(&row.subject), t.title(true)),
    ])];
    let tags = if row.tags.is_empty() {
        String::new()
    } else {
        format!(" · tags {}", row.tags.join(", "))
    };
    lines.push(Line::styled(
        format!(
            "{} · {} · {} messages{}",
            sanitize::line(&row.customer_name),
            channel_label(row.channel),
            row.message_count,
            sanitize::line(&tags)
        ),
        t.dim(),
    ));
    let key = (row.id, row.version);
    if app.preview.as_ref().map(|p| p.0) != Some(key) {
        // Enough for any preview pane; a huge message is not read whole.
        let text = app.store.latest_text(row.id, 16 * 1024).ok().flatten();
        app.preview = Some((key, text.map(|t| sanitize::text(&t))));
    }
    if let Some((_, Some(text))) = &app.preview {
        for l in text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .take(area.height as usize)
        {
            lines.push(Line::styled(l.to_string(), t.text()));
        }
    }
    f.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        area,
    );
}
