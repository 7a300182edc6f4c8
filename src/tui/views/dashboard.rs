//! The dashboard: created vs solved per day, the headline figures and
//! the targets, the first-reply histogram, bars per channel, agent or
//! priority, open tickets per agent, and the busiest hours as coloured
//! cells. Laid out for 80×24 and up.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Modifier;
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Axis, Bar, BarChart, BarGroup, Block, Borders, Chart, Dataset, GraphType, Paragraph,
};
use ratatui::Frame;

use crate::kpi::Report;
use crate::present::duration;
use crate::report::dist::BAND_LABELS;
use crate::report::figures::Status;
use crate::sanitize;
use crate::tui::app::App;

pub fn draw(f: &mut Frame, app: &App, area: Rect) {
    let t = &app.theme;
    let Some(d) = &app.dashboard else {
        return;
    };
    let block = |title: String| {
        Block::default()
            .borders(Borders::ALL)
            .border_style(t.border(false))
            .title(Span::styled(title, t.title(false)))
    };
    let (Some(daily), Some(grouped)) = (&d.daily, &d.grouped) else {
        let msg = d.error.clone().unwrap_or_else(|| "computing…".into());
        f.render_widget(
            Paragraph::new(Span::styled(msg, t.error())).block(block(" Dashboard ".into())),
            area,
        );
        return;
    };
    let [head, top, mid, heat] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(5),
        Constraint::Length(6),
        Constraint::Length(10),
    ])
    .areas(area);
    f.render_widget(Paragraph::new(header(app, daily, d)), head);

    let [chart, kpis] =
        Layout::horizontal([Constraint::Percentage(58), Constraint::Percentage(42)]).areas(top);
    draw_chart(
        f,
        app,
        daily,
        chart,
        block(" Created vs solved per day ".into()),
    );
    f.render_widget(
        Paragraph::new(kpi_lines(app, daily)).block(block(" Figures and targets ".into())),
        kpis,
    );

    let [hist, bars, load] = Layout::horizontal([
        Constraint::Percentage(36),
        Constraint::Percentage(32),
        Constraint::Percentage(32),
    ])
    .areas(mid);
    let total = daily.totals.last().map(|r| &r.figures);
    let bands = total.map(|f| f.first_response.bands).unwrap_or([0; 5]);
    let hist_bars: Vec<Bar> = bands
        .iter()
        .zip(BAND_LABELS)
        .map(|(&n, l)| {
            Bar::default()
                .value(n.max(0) as u64)
                .label(Line::from(l))
                .style(t.outbound())
        })
        .collect();
    f.render_widget(
        BarChart::default()
            .data(BarGroup::default().bars(&hist_bars))
            .bar_width(
                ((hist.width.saturating_sub(2)) / 5)
                    .saturating_sub(1)
                    .clamp(1, 8),
            )
            .bar_gap(1)
            .value_style(t.text().add_modifier(Modifier::REVERSED))
            .label_style(t.dim())
            .block(block(" First reply in ".into())),
        hist,
    );
    let groups: Vec<(String, i64)> = grouped
        .totals
        .iter()
        .filter(|r| r.group != "all" || grouped.totals.len() == 1)
        .map(|r| (sanitize::line(&r.group), r.figures.created))
        .collect();
    draw_hbars(
        f,
        app,
        &groups,
        bars,
        block(format!(" Created by {} ", d.group().as_str())),
    );
    let loads: Vec<(String, i64)> = daily
        .workload
        .iter()
        .map(|(a, n)| {
            let who = if a.is_empty() {
                "(none)".to_string()
            } else {
                sanitize::line(a)
            };
            (who, *n)
        })
        .collect();
    let open = total.map(|f| f.backlog).unwrap_or(0);
    draw_hbars(
        f,
        app,
        &loads,
        load,
        block(format!(" Open: {open}, by assignee ")),
    );
    draw_heatmap(
        f,
        app,
        daily,
        heat,
        block(format!(" Busiest hours ({}) ", daily.zone)),
    );
}

fn header<'a>(app: &App, r: &Report, d: &crate::tui::app::dashboard::Dashboard) -> Line<'a> {
    let t = &app.theme;
    let keys = |a| app.keymap.key_label(a);
    use crate::tui::keymap::Action;
    Line::from(vec![
        Span::styled(format!(" {} ", d.period_label()), t.selected()),
        Span::styled(format!(" {} – {} · {} ", r.from, r.to, r.zone), t.text()),
        Span::styled(
            format!(
                "· {} period  {} group  {} back",
                keys(Action::DashboardPeriod),
                keys(Action::DashboardGroup),
                keys(Action::Back)
            ),
            t.dim(),
        ),
    ])
}

fn kpi_lines<'a>(app: &App, r: &Report) -> Vec<Line<'a>> {
    let t = &app.theme;
    let Some(f) = r.totals.last().map(|r| &r.figures) else {
        return Vec::new();
    };
    let d = |v: Option<i64>| v.map(duration).unwrap_or_else(|| "-".into());
    // Most important first: a short panel shows the top lines.
    let mut out = vec![Line::from(vec![
        Span::styled(f.created.to_string(), t.text()),
        Span::styled(" created · ", t.dim()),
        Span::styled(f.solved.to_string(), t.text()),
        Span::styled(" solved", t.dim()),
    ])];
    for k in &r.kpis {
        let actual = crate::report::figures::show(k.actual, k.unit);
        let style = match k.status {
            Status::Met => t.ok(),
            Status::Near => t.warning(),
            Status::Missed => t.error(),
            Status::NoData => t.dim(),
        };
        out.push(Line::from(vec![
            Span::styled(
                format!("{} {} ", sanitize::line(&k.kpi), sanitize::line(&k.target)),
                t.dim(),
            ),
            Span::styled(format!("{actual} {}", k.status.as_str()), style),
        ]));
    }
    if r.kpis.is_empty() {
        out.push(Line::from(Span::styled(
            "no targets: [report.targets] in the config",
            t.dim(),
        )));
    }
    out.push(Line::from(vec![
        Span::styled("1st reply ", t.dim()),
        Span::styled(
            format!(
                "{} median · {} p90",
                d(f.first_response.median),
                d(f.first_response.p90)
            ),
            t.text(),
        ),
    ]));
    out.push(Line::from(vec![
        Span::styled("  business hours ", t.dim()),
        Span::styled(
            format!(
                "{} · {} p90",
                d(f.first_response_business.median),
                d(f.first_response_business.p90)
            ),
            t.text(),
        ),
    ]));
    out.push(Line::from(vec![
        Span::styled("resolved in ", t.dim()),
        Span::styled(format!("{} median", d(f.resolution.median)), t.text()),
        Span::styled(" · reopened ", t.dim()),
        Span::styled(f.reopened.to_string(), t.text()),
    ]));
    let sat = &f.satisfaction;
    if sat.sent > 0 {
        let pct = |v: Option<f64>| {
            v.map(|x| format!("{:.0}%", x * 100.0))
                .unwrap_or_else(|| "-".into())
        };
        out.push(Line::from(vec![
            Span::styled("CSAT ", t.dim()),
            Span::styled(pct(sat.csat), t.text()),
            Span::styled(
                format!(" · {} of {} surveys answered", sat.answered, sat.sent),
                t.dim(),
            ),
        ]));
    }
    for b in &r.open_breaches {
        out.push(Line::from(Span::styled(
            format!(
                "open past target: {} unanswered, {} unsolved",
                b.first_response, b.resolution
            ),
            t.warning(),
        )));
    }
    out
}

fn draw_chart(f: &mut Frame, app: &App, r: &Report, area: Rect, block: Block<'_>) {
    let t = &app.theme;
    let series = |f: fn(&crate::report::figures::Figures) -> i64| -> Vec<(f64, f64)> {
        r.rows
            .iter()
            .enumerate()
            .map(|(i, row)| (i as f64, f(&row.figures) as f64))
            .collect()
    };
    let created = series(|f| f.created);
    let solved = series(|f| f.solved);
    let max = created
        .iter()
        .chain(&solved)
        .map(|p| p.1)
        .fold(1.0f64, f64::max);
    let n = r.rows.len().max(2) as f64 - 1.0;
    let first = r
        .rows
        .first()
        .map(|x| x.interval.clone())
        .unwrap_or_default();
    let last = r
        .rows
        .last()
        .map(|x| x.interval.clone())
        .unwrap_or_default();
    let chart = Chart::new(vec![
        Dataset::default()
            .name("created")
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(t.outbound())
            .data(&created),
        Dataset::default()
            .name("solved")
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(t.ok())
            .data(&solved),
    ])
    .block(block)
    .x_axis(
        Axis::default()
            .bounds([0.0, n])
            .style(t.dim())
            .labels([Span::raw(first), Span::raw(last)]),
    )
    .y_axis(
        Axis::default()
            .bounds([0.0, max])
            .style(t.dim())
            .labels([Span::raw("0"), Span::raw(format!("{max:.0}"))]),
    );
    f.render_widget(chart, area);
}

/// Horizontal bars with their labels and counts, largest first.
fn draw_hbars(f: &mut Frame, app: &App, items: &[(String, i64)], area: Rect, block: Block<'_>) {
    let t = &app.theme;
    let mut items = items.to_vec();
    items.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let inner = block.inner(area);
    f.render_widget(block, area);
    let max = items.iter().map(|i| i.1).max().unwrap_or(0).max(1);
    let label_w = items
        .iter()
        .map(|i| unicode_width::UnicodeWidthStr::width(i.0.as_str()))
        .max()
        .unwrap_or(0)
        .min(10);
    let num_w = items
        .iter()
        .map(|i| i.1.to_string().len())
        .max()
        .unwrap_or(1);
    let bar_w = (inner.width as usize).saturating_sub(label_w + num_w + 2);
    let lines: Vec<Line> = items
        .iter()
        .take(inner.height as usize)
        .map(|(label, n)| {
            let len = ((*n).max(0) as usize * bar_w)
                .div_ceil(max as usize)
                .min(bar_w);
            Line::from(vec![
                Span::styled(crate::present::fit(label, label_w), t.text()),
                Span::raw(" "),
                Span::styled("█".repeat(len), t.outbound()),
                Span::styled(format!(" {n:>num_w$}"), t.dim()),
            ])
        })
        .collect();
    f.render_widget(Paragraph::new(lines), inner);
}

fn draw_heatmap(f: &mut Frame, app: &App, r: &Report, area: Rect, block: Block<'_>) {
    let t = &app.theme;
    let inner = block.inner(area);
    f.render_widget(block, area);
    let max = r.heatmap.iter().flatten().copied().max().unwrap_or(0);
    // Two columns an hour when there is room, one when not.
    let cell = if inner.width >= 5 + 48 + 8 { 2 } else { 1 };
    let mut lines = Vec::new();
    let hours = if cell == 2 {
        (0..24)
            .map(|h| {
                if h % 6 == 0 {
                    format!("{h:<2}")
                } else {
                    "  ".into()
                }
            })
            .collect::<String>()
    } else {
        "0     6     12    18    ".to_string()
    };
    let hours = format!("    {hours}");
    lines.push(Line::from(Span::styled(hours, t.dim())));
    for (i, day) in ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
        .iter()
        .enumerate()
    {
        let mut spans = vec![Span::styled(format!("{day} "), t.dim())];
        for &n in &r.heatmap[i] {
            let level = heat_level(n, max);
            let shade = [" ", "░", "▒", "▓", "█"][usize::from(level)];
            spans.push(Span::styled(shade.repeat(cell), app.theme.heat(level)));
        }
        let total: i64 = r.heatmap[i].iter().sum();
        spans.push(Span::styled(format!(" {total}"), t.dim()));
        lines.push(Line::from(spans));
    }
    f.render_widget(Paragraph::new(lines), inner);
}

/// Five steps from nothing (0) to the busiest hour (4); the cell's
/// shade character carries it too, for monochrome and for copy-paste.
fn heat_level(n: i64, max: i64) -> u8 {
    if n <= 0 || max <= 0 {
        0
    } else {
        ((n * 4 - 1) / max + 1).clamp(1, 4) as u8
    }
}
