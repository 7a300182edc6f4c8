//! The digest screen for the team meeting: what customers wrote about in
//! the list's tickets (the view or the search), against the period before.

use crossterm::event::KeyEvent;

use super::{App, Screen};
use crate::error::Error;
use crate::tui::keymap::{Action, Context};

pub struct DigestView {
    /// The rendered digest, one line each.
    pub lines: Vec<String>,
    pub query: String,
    /// Index into [`PERIODS`].
    pub period: usize,
    pub scroll: usize,
    back: Screen,
}

/// The periods `p` turns through.
pub const PERIODS: [&str; 3] = ["1w", "1d", "4w"];

impl App {
    pub(super) fn open_digest(&mut self) -> Result<(), Error> {
        let back = match self.screen {
            Screen::Digest => return Ok(()),
            s => s,
        };
        let query = self.list_query_text();
        let lines = self.digest_lines(&query, PERIODS[0])?;
        self.digest = Some(DigestView {
            lines,
            query,
            period: 0,
            scroll: 0,
            back,
        });
        self.screen = Screen::Digest;
        Ok(())
    }

    fn digest_lines(&self, query: &str, last: &str) -> Result<Vec<String>, Error> {
        let req = crate::voice::Request::last(query, last, self.now())?;
        let d = crate::voice::build(&self.store, &req, &self.ctx())?;
        Ok(crate::voice::render(&d)
            .lines()
            .map(str::to_string)
            .collect())
    }

    pub(super) fn on_digest_key(&mut self, key: KeyEvent) -> Result<(), Error> {
        if let Some(Action::DigestPeriod) = self.keymap.action_in(Context::Digest, &key) {
            let Some(v) = self.digest.as_ref() else {
                return Ok(());
            };
            let next = (v.period + 1) % PERIODS.len();
            let query = v.query.clone();
            let lines = self.digest_lines(&query, PERIODS[next])?;
            if let Some(v) = self.digest.as_mut() {
                v.period = next;
                v.lines = lines;
                v.scroll = 0;
            }
            return Ok(());
        }
        let page = self.height.max(2) - 1;
        let Some(v) = self.digest.as_mut() else {
            self.screen = Screen::Queue;
            return Ok(());
        };
        let last = v.lines.len().saturating_sub(1);
        match self.keymap.action(&key) {
            Some(Action::Down) => v.scroll = (v.scroll + 1).min(last),
            Some(Action::Up) => v.scroll = v.scroll.saturating_sub(1),
            Some(Action::PageDown) => v.scroll = (v.scroll + page).min(last),
            Some(Action::PageUp) => v.scroll = v.scroll.saturating_sub(page),
            Some(Action::Top) => v.scroll = 0,
            Some(Action::Bottom) => v.scroll = last,
            Some(Action::Back | Action::Digest) => {
                self.screen = v.back;
                self.digest = None;
            }
            Some(a @ (Action::Quit | Action::Help | Action::Palette)) => return self.perform(a),
            _ => {}
        }
        Ok(())
    }
}
