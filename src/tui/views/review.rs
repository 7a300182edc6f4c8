//! The review screen: the sampled ticket's conversation, and beside it
//! the rubric with the scores typed so far and the comment.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};
use ratatui::Frame;

use crate::sanitize;
use crate::tui::app::App;

pub fn draw(f: &mut Frame, app: &mut App, area: Rect) {
    let side = if area.width >= 100 { 40 } else { 32 };
    let [conv, panel] =
        Layout::horizontal([Constraint::Min(28), Constraint::Length(side)]).areas(area);
    app.height = conv.height.saturating_sub(2) as usize;
    super::ticket::draw_conversation(f, app, conv);
    draw_rubric(f, app, panel);
}

fn draw_rubric(f: &mut Frame, app: &App, area: Rect) {
    let t = &app.theme;
    let Some(r) = &app.reviewing else { return };
    let Some(task) = r.current() else { return };
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(t.border(true))
        .title(Span::styled(
            format!(" Review {}/{} ", r.index + 1, r.tasks.len()),
            t.title(true),
        ));
    let mut lines = vec![
        Line::from(vec![
            Span::styled("agent  ", t.dim()),
            Span::styled(sanitize::line(&task.agent), t.text()),
        ]),
        Line::from(vec![
            Span::styled("period ", t.dim()),
            Span::styled(sanitize::line(&task.period), t.text()),
        ]),
        Line::raw(""),
    ];
    let weights: f64 = app.config.review.criteria.iter().map(|c| c.weight).sum();
    for (i, c) in app.config.review.criteria.iter().enumerate() {
        let mark = if i == r.criterion { "›" } else { " " };
        let score = r
            .scores
            .get(i)
            .copied()
            .flatten()
            .map(|s| format!("{s}/{}", c.scale))
            .unwrap_or_else(|| format!("-/{}", c.scale));
        let label = if c.label.is_empty() {
            &c.name
        } else {
            &c.label
        };
        let style = if i == r.criterion {
            t.selected()
        } else {
            t.text()
        };
        lines.push(Line::from(vec![
            Span::styled(format!("{mark} {score:>5} "), style),
            Span::styled(sanitize::line(label), style),
            Span::styled(
                format!(" ×{:.0}%", 100.0 * c.weight / weights.max(f64::EPSILON)),
                t.dim(),
            ),
        ]));
    }
    let scored = r.scored(&app.config.review.criteria);
    lines.push(Line::raw(""));
    lines.push(Line::from(vec![
        Span::styled("score  ", t.dim()),
        Span::styled(
            crate::review::weighted(&app.config, &scored)
                .map(|w| format!("{:.0}%", w * 100.0))
                .unwrap_or_else(|| "- (score every criterion)".into()),
            t.title(false),
        ),
    ]));
    lines.push(Line::raw(""));
    lines.push(Line::styled("comment", t.dim()));
    lines.push(Line::styled(
        if r.comment.is_empty() {
            "-".to_string()
        } else {
            sanitize::line(&r.comment)
        },
        t.text(),
    ));
    lines.push(Line::raw(""));
    lines.push(Line::styled(
        "1-9 score · j/k criterion · c comment · enter save · n/N task · esc back",
        t.dim(),
    ));
    f.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        area,
    );
}
