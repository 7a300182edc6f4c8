//! The digest screen: the same text the mail carries, scrolled.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};
use ratatui::Frame;

use crate::tui::app::digest::PERIODS;
use crate::tui::app::App;

pub fn draw(f: &mut Frame, app: &mut App, area: Rect) {
    app.height = area.height.saturating_sub(2) as usize;
    let t = &app.theme;
    let Some(v) = &app.digest else { return };
    let title = format!(
        " Digest · last {} against the one before · p: {} ",
        PERIODS[v.period],
        PERIODS[(v.period + 1) % PERIODS.len()]
    );
    let lines: Vec<Line> = v
        .lines
        .iter()
        .skip(v.scroll)
        .map(|l| {
            // Already neutralised by `voice::render`.
            if l.starts_with("By ") || l.starts_with("Growing") || l.starts_with("Digest") {
                Line::styled(l.clone(), t.title(false))
            } else if l.starts_with("  #") {
                Line::styled(l.clone(), t.dim())
            } else {
                Line::styled(l.clone(), t.text())
            }
        })
        .collect();
    f.render_widget(
        Paragraph::new(lines).block(
            Block::default()
                .borders(Borders::ALL)
                .border_style(t.border(true))
                .title(Span::styled(title, t.title(true))),
        ),
        area,
    );
}
