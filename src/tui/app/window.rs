//! The loaded window of the queue: loading, moving, counting, and
//! following other agents' changes.

use super::*;

impl App {
    pub(super) fn reload_top(&mut self) -> Result<(), Error> {
        let ctx = self.ctx();
        let page = self.store.search(&self.query, &ctx, None, PAGE)?;
        self.rows = page.tickets;
        self.end = page.next_cursor;
        self.start = None;
        self.offset = 0;
        self.cursor = 0;
        self.below_window = None;
        self.count_total();
        Ok(())
    }

    /// Re-reads the current window in place (after a change, ours or
    /// someone else's), keeping the cursor on the same ticket if it is
    /// still there.
    pub fn reload_window(&mut self) -> Result<(), Error> {
        let keep = self.selected_row().map(|t| t.id);
        let ctx = self.ctx();
        let n = self.rows.len().max(PAGE);
        let page = self
            .store
            .search(&self.query, &ctx, self.start.as_ref(), n)?;
        self.rows = page.tickets;
        self.end = page.next_cursor;
        if let Some(id) = keep {
            if let Some(i) = self.rows.iter().position(|t| t.id == id) {
                self.cursor = self.offset + i;
            }
        }
        self.clamp_cursor();
        Ok(())
    }

    pub(super) fn clamp_cursor(&mut self) {
        let last = (self.offset + self.rows.len()).saturating_sub(1);
        self.cursor = self.cursor.clamp(self.offset.min(last), last);
    }

    pub(super) fn load_more_below(&mut self) -> Result<bool, Error> {
        let Some(end) = self.end.clone() else {
            return Ok(false);
        };
        let page = self
            .store
            .search(&self.query, &self.ctx(), Some(&end), PAGE)?;
        if page.tickets.is_empty() {
            self.end = None;
            return Ok(false);
        }
        self.rows.extend(page.tickets);
        self.end = page.next_cursor;
        if self.rows.len() > WINDOW_MAX {
            let drop = self.rows.len() - WINDOW_MAX;
            let last_dropped = &self.rows[drop - 1];
            self.start = Some(PageCursor::of(self.query.sort, last_dropped));
            self.rows.drain(..drop);
            self.offset += drop;
        }
        Ok(true)
    }

    pub(super) fn load_more_above(&mut self) -> Result<bool, Error> {
        let Some(first) = self.rows.first() else {
            return Ok(false);
        };
        if self.start.is_none() {
            return Ok(false);
        }
        let mut rev = self.query.clone();
        rev.sort = rev.sort.reversed();
        let cur = PageCursor::of(rev.sort, first);
        let page = self.store.search(&rev, &self.ctx(), Some(&cur), PAGE + 1)?;
        let mut got = page.tickets;
        let at_top = got.len() <= PAGE;
        self.start = if at_top {
            None
        } else {
            got.pop().map(|t| PageCursor::of(self.query.sort, &t))
        };
        got.reverse();
        let n = got.len();
        got.append(&mut self.rows);
        self.rows = got;
        self.offset = self.offset.saturating_sub(n);
        if at_top {
            self.offset = 0;
        }
        if self.rows.len() > WINDOW_MAX {
            if let Some(b) = self.below_window.as_mut() {
                *b += self.rows.len() - WINDOW_MAX;
            }
            self.rows.truncate(WINDOW_MAX);
            self.end = self.rows.last().map(|t| PageCursor::of(self.query.sort, t));
        }
        Ok(true)
    }

    pub(super) fn jump_bottom(&mut self) -> Result<(), Error> {
        let mut rev = self.query.clone();
        rev.sort = rev.sort.reversed();
        let page = self.store.search(&rev, &self.ctx(), None, PAGE + 1)?;
        let mut got = page.tickets;
        if got.len() <= PAGE {
            return self.reload_top().map(|_| {
                self.cursor = self.rows.len().saturating_sub(1);
            });
        }
        let extra = got.pop();
        got.reverse();
        self.start = extra.map(|t| PageCursor::of(self.query.sort, &t));
        self.end = None;
        // Without the total (still being counted) the window's absolute
        // position is provisional; collect_counts settles it.
        self.offset = match self.total {
            Some(total) => (total as usize).saturating_sub(got.len()),
            None => {
                self.below_window = Some(0);
                PROVISIONAL_OFFSET
            }
        };
        self.rows = got;
        self.cursor = self.offset + self.rows.len() - 1;
        Ok(())
    }

    pub(super) fn move_cursor(&mut self, delta: isize) -> Result<(), Error> {
        let target = (self.cursor as isize + delta).max(0) as usize;
        while target >= self.offset + self.rows.len() {
            if !self.load_more_below()? {
                break;
            }
        }
        while target < self.offset {
            if !self.load_more_above()? {
                break;
            }
        }
        self.cursor = target;
        self.clamp_cursor();
        if let Some(anchor) = self.visual_anchor {
            self.mark_range(anchor, self.cursor);
        }
        Ok(())
    }

    pub(super) fn mark_range(&mut self, a: usize, b: usize) {
        let (lo, hi) = (a.min(b), a.max(b));
        for abs in lo..=hi {
            if let Some(t) = abs.checked_sub(self.offset).and_then(|i| self.rows.get(i)) {
                self.selection.insert(t.id, Some(t.version));
            }
        }
    }

    pub(super) fn count_total(&mut self) {
        match &self.counter {
            Some(c) => {
                self.generation += 1;
                self.pending = 1;
                c.request(crate::tui::counter::Request {
                    generation: self.generation,
                    me: self.agent.clone(),
                    now: self.now(),
                    queries: vec![(usize::MAX, self.list_query_text())],
                });
            }
            None if self.lazy => {}
            None => self.total = self.store.count(&self.query, &self.ctx()).ok(),
        }
    }

    /// Recounts every view and the current list.
    pub fn refresh_counts(&mut self) {
        self.outbox = self.store.outbox_health().unwrap_or_default();
        self.followed_news = self.store.followed_news(&self.agent).unwrap_or_default();
        let mut queries: Vec<(usize, String)> = vec![(usize::MAX, self.list_query_text())];
        queries.extend(
            self.views
                .iter()
                .enumerate()
                .map(|(i, v)| (i, v.query.clone())),
        );
        match &self.counter {
            Some(c) => {
                self.generation += 1;
                self.pending = queries.len();
                c.request(crate::tui::counter::Request {
                    generation: self.generation,
                    me: self.agent.clone(),
                    now: self.now(),
                    queries,
                });
            }
            None if self.lazy => {}
            None => {
                let ctx = self.ctx();
                self.total = self.store.count(&self.query, &ctx).ok();
                for (i, v) in self.views.iter().enumerate() {
                    self.counts[i] = query::parse(&v.query)
                        .ok()
                        .and_then(|q| self.store.count(&q, &ctx).ok());
                }
            }
        }
    }

    /// Called on every tick: picks up changes other agents (or the daemon)
    /// committed, without a keypress.
    pub fn tick(&mut self) {
        let v = self.version();
        if v.0 != self.data_version.0 {
            self.data_version = v;
            if let Err(e) = self.reload_everything() {
                self.set_error(e);
            }
        }
        // What this agent is doing: composing wins over viewing, or the
        // others would read "viewing" while a reply is being written.
        let composing = match &self.overlay {
            Overlay::Compose(c) | Overlay::Canned { compose: c, .. } => Some(c.direction),
            _ => None,
        };
        if let Some(direction) = composing {
            if let Some(id) = self.targets().first().map(|t| t.0) {
                let activity = if direction == Direction::Note {
                    "writing a note"
                } else {
                    "replying"
                };
                let _ = self.store.touch_presence(&self.agent, Some(id), activity);
            }
        }
        if self.screen == Screen::Ticket {
            if let Some(t) = &self.ticket {
                let id = t.summary.id;
                if composing.is_none() {
                    let _ = self.store.touch_presence(&self.agent, Some(id), "viewing");
                }
                self.presence = self.store.presence(id, &self.agent).unwrap_or_default();
            }
        }
    }

    pub(super) fn reload_everything(&mut self) -> Result<(), Error> {
        self.reload_window()?;
        self.refresh_counts();
        if self.screen == Screen::Dashboard {
            self.load_dashboard();
        }
        if let Some(id) = self.ticket.as_ref().map(|t| t.summary.id) {
            self.open_ticket(id)?;
        }
        self.data_version = self.version();
        Ok(())
    }

    pub(super) fn switch_view(&mut self, i: usize) -> Result<(), Error> {
        if i >= self.views.len() {
            return Ok(());
        }
        self.view = i;
        self.search = None;
        self.query = query::parse(&self.views[i].query)?;
        self.selection.clear();
        self.visual_anchor = None;
        self.screen = Screen::Queue;
        self.reload_top()
    }

    pub(super) fn open_ticket(&mut self, id: i64) -> Result<(), Error> {
        let t = self.store.ticket(id)?;
        self.other_tickets = self
            .store
            .customer_tickets(t.customer.id, 12)?
            .into_iter()
            .filter(|o| o.id != id)
            .collect();
        if self.ticket.as_ref().map(|x| x.summary.id) != Some(id) {
            self.ticket_scroll = 0;
            self.body_rows.clear();
        }
        self.presence = self.store.presence(id, &self.agent).unwrap_or_default();
        // Opened: what changed on a followed ticket has been seen.
        if let Some(i) = self.followed_news.iter().position(|t| *t == id) {
            let tx = self.store.transaction()?;
            tx.mark_follower_told(id, &self.agent)?;
            tx.commit()?;
            self.followed_news.remove(i);
        }
        self.survey = self.store.ticket_survey(id)?;
        self.customer_surveys = self.store.customer_surveys(t.customer.id)?;
        let c = t.customer.id;
        self.customer_file = super::CustomerFile {
            org: self.store.customer_org(c)?.0.map(|o| o.name),
            fields: self.store.fields_of(crate::fields::Entity::Customer, c)?,
            assets: self.store.assets_of(Some(c), None)?,
            about: match self.store.ticket_asset(id)? {
                Some(a) => Some(self.store.asset(a)?),
                None => None,
            },
            notes: newest_first(
                self.store
                    .record_notes(crate::fields::Entity::Customer, c)?,
            ),
            followers: self
                .store
                .followers(id)?
                .into_iter()
                .map(|f| f.follower)
                .collect(),
        };
        self.ticket = Some(t);
        Ok(())
    }
}

fn newest_first(mut notes: Vec<crate::store::RecordNote>) -> Vec<crate::store::RecordNote> {
    notes.sort_by_key(|n| std::cmp::Reverse((n.at, n.id)));
    notes
}
