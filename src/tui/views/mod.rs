//! Drawing. Every string from outside goes through `sanitize` here; widths
//! are display widths (ratatui measures CJK and emoji as they render).

mod asset;
mod dashboard;
mod digest;
mod overlays;
mod queue;
mod review;
mod ticket;
mod timeline;

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::app::{App, Screen};

pub const MIN_WIDTH: u16 = 60;
pub const MIN_HEIGHT: u16 = 12;

pub fn draw(f: &mut Frame, app: &mut App) {
    let area = f.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        let msg = format!(
            "Terminal too small ({}×{}); echodesk needs at least {MIN_WIDTH}×{MIN_HEIGHT}. q quits.",
            area.width, area.height
        );
        f.render_widget(
            Paragraph::new(msg).wrap(ratatui::widgets::Wrap { trim: true }),
            area,
        );
        return;
    }
    let [tabs, main, status] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(5),
        Constraint::Length(1),
    ])
    .areas(area);
    draw_tabs(f, app, tabs);
    match app.screen {
        Screen::Queue => queue::draw(f, app, main),
        Screen::Ticket => ticket::draw(f, app, main),
        Screen::Dashboard => dashboard::draw(f, app, main),
        Screen::Review => review::draw(f, app, main),
        Screen::Timeline => timeline::draw(f, app, main),
        Screen::Asset => asset::draw(f, app, main),
        Screen::Digest => digest::draw(f, app, main),
    }
    draw_status(f, app, status);
    overlays::draw(f, app, area);
}

fn draw_tabs(f: &mut Frame, app: &App, area: Rect) {
    let mut spans = Vec::new();
    for (i, v) in app.views.iter().enumerate() {
        let count = app.counts[i]
            .map(|c| c.to_string())
            .unwrap_or_else(|| "…".into());
        let label = format!(" {} {} {} ", i + 1, crate::sanitize::line(&v.name), count);
        let style = if i == app.view && app.search.is_none() {
            app.theme.selected()
        } else {
            app.theme.dim()
        };
        spans.push(Span::styled(label, style));
    }
    if let Some(s) = &app.search {
        spans.push(Span::styled(
            format!(" / {} ", crate::sanitize::line(s)),
            app.theme.selected(),
        ));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn draw_status(f: &mut Frame, app: &App, area: Rect) {
    let t = &app.theme;
    let mut spans = vec![Span::styled(
        format!(" {} ", crate::sanitize::line(&app.view_title())),
        t.title(true),
    )];
    let total = app
        .total
        .map(|n| n.to_string())
        .unwrap_or_else(|| "…".into());
    let pos = if app.rows.is_empty() {
        0
    } else {
        app.cursor + 1
    };
    spans.push(Span::styled(format!("{pos}/{total} "), t.text()));
    if !app.selection.is_empty() {
        spans.push(Span::styled(
            format!("· {} selected ", app.selection.len()),
            t.marked(),
        ));
    }
    if app.visual_anchor.is_some() {
        spans.push(Span::styled("· VISUAL ", t.marked()));
    }
    spans.push(Span::styled(
        format!("· {} ", crate::sanitize::line(&app.agent)),
        t.dim(),
    ));
    let o = &app.outbox;
    let mut trouble = Vec::new();
    if o.failed > 0 {
        trouble.push(format!("{} failed", o.failed));
    }
    if o.unknown > 0 {
        trouble.push(format!("{} unknown", o.unknown));
    }
    if let (Some((account, _)), true) = (o.troubles.first(), o.queued > 0) {
        trouble.push(format!(
            "{} queued, {} unreachable",
            o.queued,
            crate::sanitize::line(account)
        ));
    }
    if !trouble.is_empty() {
        spans.push(Span::styled(
            format!("· outbox {} ", trouble.join(", ")),
            t.error(),
        ));
    } else if o.queued > 0 {
        spans.push(Span::styled(
            format!("· outbox {} queued ", o.queued),
            t.warning(),
        ));
    }
    match app.followed_news.len() {
        0 => {}
        1 => spans.push(Span::styled(
            format!("· #{} you follow changed ", app.followed_news[0]),
            t.warning(),
        )),
        n => spans.push(Span::styled(
            format!("· {n} tickets you follow changed (follower:me) "),
            t.warning(),
        )),
    }
    match &app.status {
        Some((msg, true)) => spans.push(Span::styled(format!("· {msg}"), t.error())),
        Some((msg, false)) => spans.push(Span::styled(format!("· {msg}"), t.ok())),
        None => spans.push(Span::styled("· ? help  : commands", t.dim())),
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}
