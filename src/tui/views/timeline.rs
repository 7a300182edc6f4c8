//! The customer timeline screen: one block per message, oldest at the
//! top, the entry under the cursor first on screen.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};
use ratatui::Frame;

use crate::present::{channel_label, datetime};
use crate::sanitize;
use crate::tui::app::App;

/// Lines of a message's text shown under its heading.
const BODY_LINES: usize = 3;

pub fn draw(f: &mut Frame, app: &mut App, area: Rect) {
    app.height = area.height.saturating_sub(2) as usize;
    let t = &app.theme;
    let Some(tl) = &app.timeline else { return };
    let filter = match tl.channel {
        Some(c) => channel_label(c).to_string(),
        None => "all channels".into(),
    };
    let filter = match &tl.asset {
        Some((_, name)) => format!("{filter} · {}", sanitize::line(name)),
        None => filter,
    };
    let tickets: std::collections::BTreeSet<i64> = tl.entries.iter().map(|e| e.ticket_id).collect();
    let title = format!(
        " Timeline: {} · {} messages in {} tickets · {filter} ",
        sanitize::line(&tl.name),
        tl.entries.len(),
        tickets.len()
    );
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(t.border(true))
        .title(Span::styled(title, t.title(true)));
    let mut lines = Vec::new();
    // The file's notes are what a colleague wants known before reading
    // the history: the newest one, on top.
    if let Some(n) = tl.notes.iter().max_by_key(|n| (n.at, n.id)) {
        let more = match tl.notes.len() {
            1 => String::new(),
            k => format!("  (+{} older)", k - 1),
        };
        lines.push(Line::from(vec![
            Span::styled(
                format!("✎ {} {}: ", datetime(n.at), sanitize::line(&n.agent)),
                t.dim(),
            ),
            Span::styled(sanitize::line(&n.body), t.note()),
            Span::styled(more, t.dim()),
        ]));
    }
    let inner = (area.height.saturating_sub(2) as usize).saturating_sub(lines.len());
    if tl.entries.is_empty() {
        lines.push(Line::styled("no messages on this channel", t.dim()));
    }
    // Start early enough that the screen is full when the cursor is near
    // the end (the timeline opens on the newest messages).
    let mut start = tl.entries.len();
    let mut used = 0;
    while start > 0 {
        used += entry_height(&tl.entries[start - 1]);
        if used > inner {
            break;
        }
        start -= 1;
    }
    for (i, e) in tl.entries.iter().enumerate().skip(start.min(tl.scroll)) {
        let who = e.author.clone().unwrap_or_default();
        let (arrow, channel) = match e.direction.as_str() {
            "in" => ("←", e.channel.as_str()),
            "note" => ("✎", "note"),
            _ => ("→", e.channel.as_str()),
        };
        let style = if i == tl.scroll {
            t.selected()
        } else {
            t.text()
        };
        let channel = crate::model::Channel::parse(channel)
            .map_or_else(|| channel.to_string(), |c| channel_label(c).to_string());
        lines.push(Line::from(vec![
            Span::styled(format!("{} {arrow} {channel:<4} ", datetime(e.at)), t.dim()),
            Span::styled(format!("#{} ", e.ticket_id), t.dim()),
            Span::styled(sanitize::line(&e.subject), style),
            Span::styled(format!("  {}", sanitize::line(&who)), t.dim()),
        ]));
        for l in body_lines(e) {
            lines.push(Line::styled(format!("    {}", sanitize::line(l)), t.text()));
        }
        lines.push(Line::raw(""));
        if lines.len() > area.height as usize {
            break;
        }
    }
    f.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        area,
    );
}

/// The first lines of a message's own text (quoted lines left out).
fn body_lines(e: &crate::store::TimelineEntry) -> impl Iterator<Item = &str> {
    e.body
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('>'))
        .take(BODY_LINES)
}

/// Rows an entry takes unwrapped: its heading, its lines, a blank.
fn entry_height(e: &crate::store::TimelineEntry) -> usize {
    2 + body_lines(e).count()
}
