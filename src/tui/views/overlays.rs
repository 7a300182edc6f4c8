//! Pop-ups over the main screen: help, command palette, menus, inputs
//! (search shows its parse error under the column it points at), the
//! compose editor and confirmations.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};
use ratatui::Frame;

use crate::model::Direction;
use crate::sanitize;
use crate::tui::app::{App, InputKind, MenuKind, Overlay, Screen};
use crate::tui::keymap::{Action, Context, ACTIONS};

fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width.saturating_sub(2));
    let h = h.min(area.height.saturating_sub(2));
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}

fn boxed<'a>(app: &App, title: &'a str) -> Block<'a> {
    Block::default()
        .borders(Borders::ALL)
        .border_style(app.theme.border(true))
        .title(Span::styled(title, app.theme.title(true)))
}

pub fn draw(f: &mut Frame, app: &App, area: Rect) {
    let t = &app.theme;
    match &app.overlay {
        Overlay::None => {}
        Overlay::Help { scroll } => {
            let r = centered(area, 96, area.height.saturating_sub(2));
            let mut lines = vec![
                Line::styled(
                    "Keys (change them under [keys] in the config; names as shown)",
                    t.dim(),
                ),
                Line::raw(""),
            ];
            for context in [
                Context::General,
                Context::Compose,
                Context::Menu,
                Context::Picker,
                Context::Dashboard,
                Context::Review,
                Context::Timeline,
                Context::Digest,
            ] {
                if context != Context::General {
                    lines.push(Line::raw(""));
                    lines.push(Line::styled(context.title(), t.dim()));
                }
                for d in ACTIONS.iter().filter(|d| d.context == context) {
                    lines.push(Line::from(vec![
                        Span::styled(
                            format!("{:<14}", app.keymap.keys_of(d.action)),
                            t.title(false),
                        ),
                        Span::styled(format!("{:<16}", d.name), t.dim()),
                        Span::styled(d.help, t.text()),
                    ]));
                }
                if context == Context::General {
                    lines.push(Line::from(vec![
                        Span::styled(format!("{:<14}", "1-9"), t.title(false)),
                        Span::styled(format!("{:<16}", "view"), t.dim()),
                        Span::styled("Switch to saved view N", t.text()),
                    ]));
                }
            }
            f.render_widget(Clear, r);
            f.render_widget(
                Paragraph::new(lines)
                    .block(boxed(app, " Help "))
                    .scroll((*scroll, 0)),
                r,
            );
        }
        Overlay::Palette { input, selected } => {
            let matches = App::palette_matches(input);
            let r = centered(area, 60, (matches.len() as u16 + 4).min(18));
            let mut lines = vec![Line::from(vec![
                Span::styled(": ", t.title(true)),
                Span::raw(sanitize::line(input)),
            ])];
            for (i, d) in matches.iter().enumerate() {
                let style = if i == *selected {
                    t.selected()
                } else {
                    t.text()
                };
                lines.push(Line::styled(
                    format!(
                        "{:<16} {}  [{}]",
                        d.name,
                        d.help,
                        app.keymap.keys_of(d.action)
                    ),
                    style,
                ));
            }
            f.render_widget(Clear, r);
            f.render_widget(Paragraph::new(lines).block(boxed(app, " Commands ")), r);
        }
        Overlay::Input { kind, input, error } => {
            let (title, hint) = match kind {
                InputKind::Search => (
                    " Search ",
                    "e.g. state:open tag:billing \"exact phrase\" refund -tag:spam",
                ),
                InputKind::Tag => (" Tags ", "+add -remove, space separated"),
                InputKind::AssignOther => (" Assign to ", "agent name"),
                InputKind::Asset => (
                    " Asset of this ticket ",
                    "serial number (any spacing), #N or external id; none clears; +SERIAL MODEL adds one",
                ),
                InputKind::RecordNote if app.screen == Screen::Asset => (
                    " Note on this asset ",
                    "kept in its file for everyone who looks after it; never sent",
                ),
                InputKind::RecordNote => (
                    " Note on this customer ",
                    "kept in the customer's file, shown with their tickets; never sent",
                ),
                InputKind::Forward => (
                    " Forward to another department ",
                    "address, then what you ask: rnd@example.com Known issue? (their answer comes back as a note)",
                ),
                InputKind::Field if app.screen == Screen::Asset => (
                    " Set a field of this asset ",
                    "model=…, serial=…, purchased=…, warranty=2027-03-31, location=…, or a declared field; empty clears",
                ),
                InputKind::Field => (
                    " Set a field ",
                    "tier=gold or name=… (the customer's), org.NAME=…, asset.model=…, ticket.NAME=…; empty clears",
                ),
                InputKind::ReviewComment => {
                    (" Review comment ", "what was good, what to do better")
                }
                InputKind::Snooze => (
                    " Snooze until ",
                    "30m, 4h, 2d, tomorrow, 2026-12-01, 2026-12-01T14:00 (UTC); empty wakes",
                ),
            };
            let r = centered(area, 76, 6);
            let mut lines = vec![Line::from(vec![
                Span::styled("› ", t.title(true)),
                Span::raw(sanitize::line(input)),
            ])];
            match error {
                Some((col, msg)) => {
                    // The caret sits under the offending column.
                    let pad: String = input
                        .chars()
                        .take(col.saturating_sub(1))
                        .map(|c| {
                            if unicode_width::UnicodeWidthChar::width(c) == Some(2) {
                                "  "
                            } else {
                                " "
                            }
                        })
                        .collect();
                    lines.push(Line::styled(format!("  {pad}^"), t.error()));
                    lines.push(Line::styled(sanitize::line(msg), t.error()));
                }
                None => {
                    lines.push(Line::raw(""));
                    lines.push(Line::styled(hint, t.dim()));
                }
            }
            f.render_widget(Clear, r);
            f.render_widget(
                Paragraph::new(lines)
                    .block(boxed(app, title))
                    .wrap(Wrap { trim: false }),
                r,
            );
        }
        Overlay::Menu {
            kind,
            items,
            selected,
        } => {
            let title = match kind {
                MenuKind::State => " State ",
                MenuKind::Assign => " Assign ",
                MenuKind::Priority => " Priority ",
            };
            let r = centered(area, 30, items.len() as u16 + 2);
            let lines: Vec<Line> = items
                .iter()
                .enumerate()
                .map(|(i, it)| {
                    Line::styled(
                        format!(" {} ", sanitize::line(it)),
                        if i == *selected {
                            t.selected()
                        } else {
                            t.text()
                        },
                    )
                })
                .collect();
            f.render_widget(Clear, r);
            f.render_widget(Paragraph::new(lines).block(boxed(app, title)), r);
        }
        Overlay::Compose(c) => draw_compose(f, app, area, c),
        Overlay::Canned {
            input,
            selected,
            compose,
        } => {
            draw_compose(f, app, area, compose);
            let r = centered(
                area,
                area.width.saturating_sub(10),
                area.height.saturating_sub(6),
            );
            let [list, preview] =
                Layout::horizontal([Constraint::Percentage(40), Constraint::Percentage(60)])
                    .areas(r);
            let matches = app.canned_matches(input, compose.channel);
            let mut lines = vec![Line::from(vec![
                Span::styled("› ", t.title(true)),
                Span::raw(sanitize::line(input)),
            ])];
            for (i, c) in matches.iter().enumerate() {
                let style = if i == *selected {
                    t.selected()
                } else {
                    t.text()
                };
                let short = c
                    .meta
                    .shortcut
                    .as_deref()
                    .map(|s| format!(" [{s}]"))
                    .unwrap_or_default();
                lines.push(Line::styled(
                    format!(
                        "{}{}",
                        sanitize::line(&c.meta.title),
                        sanitize::line(&short)
                    ),
                    style,
                ));
            }
            if matches.is_empty() {
                lines.push(Line::styled("no canned answer fits", t.dim()));
            }
            for e in &app.canned_errors {
                lines.push(Line::styled(format!("! {}", sanitize::line(e)), t.error()));
            }
            f.render_widget(Clear, r);
            f.render_widget(
                Paragraph::new(lines)
                    .block(boxed(app, " Canned answers "))
                    .wrap(Wrap { trim: true }),
                list,
            );
            let text = match matches.get(*selected) {
                Some(c) => match app.canned_preview(c, compose.channel) {
                    Ok(t) => Paragraph::new(sanitize::text(&t)).style(app.theme.text()),
                    Err(e) => Paragraph::new(sanitize::line(&e)).style(app.theme.error()),
                },
                None => Paragraph::new(""),
            };
            f.render_widget(
                text.block(boxed(app, " Preview "))
                    .wrap(Wrap { trim: false }),
                preview,
            );
        }
        Overlay::Confirm { message, .. } => {
            let r = centered(area, (message.chars().count() as u16 + 6).max(30), 3);
            f.render_widget(Clear, r);
            f.render_widget(
                Paragraph::new(Line::styled(sanitize::line(message), t.warning()))
                    .block(boxed(app, " Confirm ")),
                r,
            );
        }
    }
}

fn draw_compose(f: &mut Frame, app: &App, area: Rect, c: &crate::tui::app::Compose) {
    let t = &app.theme;
    let r = centered(
        area,
        area.width.saturating_sub(8),
        area.height.saturating_sub(4),
    );
    let target = app.targets().first().map(|x| x.0).unwrap_or(0);
    let title = match (c.direction, c.channel) {
        (Direction::Note, _) => format!(" Internal note on #{target} "),
        (_, Some(ch)) => {
            let mut s = format!(
                " Reply on #{target} by {} ",
                crate::present::channel_label(ch)
            );
            if ch == crate::model::Channel::Sms {
                s.push_str(&format!(
                    "· {} ",
                    crate::channel::sms::segments::count(&c.text)
                ));
            }
            s
        }
        (_, None) => format!(" Reply on #{target} "),
    };
    let [body, foot] = Layout::vertical([Constraint::Min(1), Constraint::Length(1)]).areas(
        r.inner(ratatui::layout::Margin {
            horizontal: 1,
            vertical: 1,
        }),
    );
    f.render_widget(Clear, r);
    f.render_widget(boxed(app, &title), r);
    let mut shown = sanitize::text(&c.text);
    shown.push('▏');
    let style = if c.direction == Direction::Note {
        t.note()
    } else {
        t.text()
    };
    f.render_widget(
        Paragraph::new(shown)
            .style(style)
            .wrap(Wrap { trim: false }),
        body,
    );
    let key = |a: Action| app.keymap.key_label(a);
    let mut help = format!(
        "{} save · {} discard · {} canned · {} $EDITOR",
        key(Action::ComposeSave),
        key(Action::ComposeDiscard),
        key(Action::ComposeCanned),
        key(Action::ComposeEditor)
    );
    if c.direction == Direction::Out && app.reply_channels().len() > 1 {
        help.push_str(&format!(" · {} channel", key(Action::ComposeChannel)));
    }
    if let Some(n) = &c.canned {
        help.push_str(&format!(" · using `{}`", sanitize::line(n)));
    }
    f.render_widget(Paragraph::new(Line::styled(help, t.dim())), foot);
}
