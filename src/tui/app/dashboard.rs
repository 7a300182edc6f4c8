//! The dashboard screen's state: the period and grouping it shows, and
//! the two reports it draws them from (by day for the chart and the
//! heatmap, in total by group for the bars).

use super::*;
use crate::kpi::{self, Group, Report, Request};
use crate::report::period::{self, By};

/// (label, period): `last:` spans go to `parse_last`, the rest to
/// `parse_period`.
pub const PERIODS: &[(&str, &str)] = &[
    ("last 4 weeks", "last:4w"),
    ("this week", "this-week"),
    ("last week", "last-week"),
    ("this month", "this-month"),
    ("last month", "last-month"),
    ("last 12 weeks", "last:12w"),
];

pub const GROUPS: &[Group] = &[Group::Channel, Group::Agent, Group::Priority];

#[derive(Debug, Clone, Default)]
pub struct Dashboard {
    pub period: usize,
    pub group: usize,
    pub daily: Option<Report>,
    pub grouped: Option<Report>,
    pub error: Option<String>,
}

impl Dashboard {
    pub fn period_label(&self) -> &'static str {
        PERIODS[self.period % PERIODS.len()].0
    }

    pub fn group(&self) -> Group {
        GROUPS[self.group % GROUPS.len()]
    }
}

impl App {
    pub(super) fn open_dashboard(&mut self) {
        self.screen = Screen::Dashboard;
        if self.dashboard.is_none() {
            self.dashboard = Some(Dashboard::default());
        }
        self.load_dashboard();
        let _ = self.store.touch_presence(&self.agent, None, "dashboard");
    }

    /// Computes the dashboard's reports for its period and grouping; a
    /// failure shows on the screen instead of the figures.
    pub(super) fn load_dashboard(&mut self) {
        let Some(mut d) = self.dashboard.take() else {
            return;
        };
        match self.dashboard_reports(&d) {
            Ok((daily, grouped)) => {
                d.daily = Some(daily);
                d.grouped = Some(grouped);
                d.error = None;
            }
            Err(e) => d.error = Some(crate::sanitize::line(&e.to_string())),
        }
        self.dashboard = Some(d);
    }

    fn dashboard_reports(&mut self, d: &Dashboard) -> Result<(Report, Report), Error> {
        if let crate::store::RollupState::Stale { .. } = self.store.rollup_state()? {
            // A store from before reports, or kept in another zone: built
            // once, here, as `echodesk report` would.
            self.store.rebuild_reports()?;
        }
        let (targets, near, starts) = self.config.report_settings().map_err(Error::Other)?;
        let zone = self.store.settings().zone;
        let today = zone.day(self.now());
        let spec = PERIODS[d.period % PERIODS.len()].1;
        let range = match spec.strip_prefix("last:") {
            Some(span) => period::parse_last(span, today, starts),
            None => period::parse_period(spec, today, starts),
        }
        .map_err(Error::Other)?;
        let ctx = self.ctx();
        let daily = kpi::build(
            &self.store,
            &Request {
                range,
                by: By::Day,
                group: Group::All,
                query: None,
                compare: false,
                week_starts: starts,
                targets,
                near,
                live: true,
            },
            &ctx,
        )?;
        let grouped = kpi::build(
            &self.store,
            &Request {
                range,
                by: By::Total,
                group: d.group(),
                query: None,
                compare: false,
                week_starts: starts,
                targets: Vec::new(),
                near,
                live: false,
            },
            &ctx,
        )?;
        Ok((daily, grouped))
    }

    /// A key on the dashboard: its own actions first, then the few
    /// general ones that make sense there.
    pub(super) fn on_dashboard_key(&mut self, key: KeyEvent) -> Result<(), Error> {
        if let Some(a) = self.keymap.action_in(Context::Dashboard, &key) {
            let d = self.dashboard.get_or_insert_with(Dashboard::default);
            match a {
                Action::DashboardPeriod => d.period = (d.period + 1) % PERIODS.len(),
                Action::DashboardPeriodBack => {
                    d.period = (d.period + PERIODS.len() - 1) % PERIODS.len()
                }
                Action::DashboardGroup => d.group = (d.group + 1) % GROUPS.len(),
                _ => {}
            }
            self.load_dashboard();
            return Ok(());
        }
        match self.keymap.action(&key) {
            Some(a @ (Action::Quit | Action::Help | Action::Palette | Action::Refresh)) => {
                self.perform(a)
            }
            Some(Action::Back | Action::Dashboard) => {
                self.screen = Screen::Queue;
                let _ = self.store.touch_presence(&self.agent, None, "queue");
                Ok(())
            }
            _ => Ok(()),
        }
    }
}
