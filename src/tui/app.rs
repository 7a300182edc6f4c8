//! The TUI's state and everything that changes it. Drawing lives in
//! `views`; this module never touches the terminal, so key sequences can be
//! tested against a store without one.

use std::collections::BTreeMap;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::keymap::{self, Action, Keymap};
use super::theme::Theme;
use crate::canned::{self, Canned};
use crate::change::Change;
use crate::config::{Config, View};
use crate::error::Error;
use crate::model::{Channel, Direction, IdentityKind, Priority, TicketDetail, TicketSummary};
use crate::query::{self, Query};
use crate::store::{PageCursor, SearchContext, Store};

/// Where the window is placed after `G` until the total is known: far
/// enough from zero that scrolling up cannot reach it before the count lands.
const PROVISIONAL_OFFSET: usize = 1 << 40;

/// Rows fetched per page; the window holds a few pages at most.
const PAGE: usize = 100;
const WINDOW_MAX: usize = 400;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    Queue,
    Ticket,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MenuKind {
    State,
    Assign,
    Priority,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputKind {
    Search,
    Tag,
    AssignOther,
    Snooze,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Overlay {
    None,
    Help {
        scroll: u16,
    },
    Palette {
        input: String,
        selected: usize,
    },
    Input {
        kind: InputKind,
        input: String,
        error: Option<(usize, String)>,
    },
    Menu {
        kind: MenuKind,
        items: Vec<String>,
        selected: usize,
    },
    Compose(Compose),
    /// The canned-answer picker, opened from a compose (which it returns to).
    Canned {
        input: String,
        selected: usize,
        compose: Compose,
    },
    Confirm {
        message: String,
        pending: Pending,
    },
}

/// A reply or note being written.
#[derive(Debug, Clone, PartialEq)]
pub struct Compose {
    pub direction: Direction,
    pub text: String,
    /// The reply's channel; None for notes.
    pub channel: Option<Channel>,
    /// The canned answer used, whose state and tags apply on send.
    pub canned: Option<String>,
    /// The ticket's version when the compose opened: a canned answer's
    /// state and tags are not applied over someone else's change.
    pub version: Option<i64>,
}

/// A change waiting for "are you sure" (bulk) or about to be applied.
#[derive(Debug, Clone, PartialEq)]
pub enum Pending {
    Edit(Change),
    /// Merge every target into this ticket (not undoable).
    Merge(i64),
}

/// What the last change did, so `u` can put it back.
#[derive(Debug, Clone)]
struct UndoEntry {
    label: String,
    steps: Vec<(i64, Change)>,
}

pub struct App {
    pub store: Store,
    pub config: Config,
    pub agent: String,
    pub theme: Theme,
    pub keymap: Keymap,
    pub views: Vec<View>,
    pub view: usize,
    pub counts: Vec<Option<i64>>,
    /// A search typed with `/` replaces the view's query until cleared.
    pub search: Option<String>,
    pub query: Query,
    /// The loaded window: rows[0] is the `offset`-th ticket of the view.
    pub rows: Vec<TicketSummary>,
    pub offset: usize,
    /// Matches of the current list; None until counted (in the background).
    pub total: Option<i64>,
    pub cursor: usize,
    /// Cursor of the row just before the window (None: window starts at top).
    start: Option<PageCursor>,
    end: Option<PageCursor>,
    /// Selected tickets, each with the version it had when selected, so
    /// a change through the selection still detects someone else's.
    pub selection: BTreeMap<i64, Option<i64>>,
    pub visual_anchor: Option<usize>,
    pub screen: Screen,
    pub overlay: Overlay,
    pub ticket: Option<TicketDetail>,
    pub other_tickets: Vec<TicketSummary>,
    pub presence: Vec<(String, String)>,
    /// The first row of the conversation on screen.
    pub ticket_scroll: usize,
    /// Each message's rows as laid out for a width, so a long message is
    /// wrapped once rather than on every frame.
    pub body_rows:
        std::collections::HashMap<(i64, u16), std::rc::Rc<Vec<ratatui::text::Line<'static>>>>,
    pub status: Option<(String, bool)>,
    pub outbox: crate::store::OutboxHealth,
    undo: Option<UndoEntry>,
    data_version: (i64, u64),
    pub height: usize,
    pub quit: bool,
    /// Fixed "now" for reproducible screens in tests.
    pub clock: Option<i64>,
    counter: Option<super::counter::Counter>,
    generation: u64,
    pending: usize,
    /// No counting until a background counter exists.
    lazy: bool,
    /// After `G` with the total still being counted: rows below the window
    /// (the window's absolute position is settled when the total arrives).
    below_window: Option<usize>,
    pub canned: Vec<Canned>,
    /// Canned answers that did not load (shown in the picker).
    pub canned_errors: Vec<String>,
    /// Text to edit in $EDITOR; the event loop suspends the screen for it.
    pub editor_request: Option<String>,
    /// The queue preview's text, for the ticket (id, version) it shows.
    pub preview: Option<((i64, i64), Option<String>)>,
    /// Text to read in $PAGER; the event loop suspends the screen for it.
    pub pager_request: Option<String>,
}

impl App {
    /// An app that counts inline: every count is known when this returns.
    pub fn new(store: Store, config: Config, agent: String, theme: Theme) -> Result<App, Error> {
        App::build(store, config, agent, theme, false)
    }

    /// An app that shows its first page without counting anything; call
    /// [`App::count_in_background`] next. What the interactive TUI uses.
    pub fn new_lazy(
        store: Store,
        config: Config,
        agent: String,
        theme: Theme,
    ) -> Result<App, Error> {
        App::build(store, config, agent, theme, true)
    }

    fn build(
        store: Store,
        config: Config,
        agent: String,
        theme: Theme,
        lazy: bool,
    ) -> Result<App, Error> {
        let keymap = Keymap::new(&config.keys).map_err(Error::Other)?;
        let views = if config.views.is_empty() {
            vec![View {
                name: "All".into(),
                query: String::new(),
            }]
        } else {
            config.views.clone()
        };
        let query = query::parse(&views[0].query)?;
        let mut app = App {
            store,
            config,
            agent,
            theme,
            keymap,
            counts: vec![None; views.len()],
            views,
            view: 0,
            search: None,
            query,
            rows: Vec::new(),
            offset: 0,
            total: None,
            cursor: 0,
            start: None,
            end: None,
            selection: BTreeMap::new(),
            visual_anchor: None,
            screen: Screen::Queue,
            overlay: Overlay::None,
            ticket: None,
            other_tickets: Vec::new(),
            presence: Vec::new(),
            ticket_scroll: 0,
            status: None,
            outbox: Default::default(),
            undo: None,
            data_version: (0, 0),
            height: 20,
            quit: false,
            clock: None,
            counter: None,
            generation: 0,
            pending: 0,
            lazy,
            below_window: None,
            canned: Vec::new(),
            canned_errors: Vec::new(),
            editor_request: None,
            pager_request: None,
            preview: None,
            body_rows: Default::default(),
        };
        app.load_canned();
        app.reload_top()?;
        app.refresh_counts();
        app.data_version = app.version();
        Ok(app)
    }

    /// Moves counting to a background thread (the interactive TUI does;
    /// tests count inline so that screens are deterministic).
    pub fn count_in_background(&mut self) {
        if let Some(path) = self.store.path().map(|p| p.to_path_buf()) {
            self.counter = super::counter::Counter::spawn(path, self.store.settings().clone());
            self.refresh_counts();
        }
    }

    pub fn counts_pending(&self) -> bool {
        self.pending > 0
    }

    /// Takes the counts that arrived; true when something changed.
    pub fn collect_counts(&mut self) -> bool {
        let Some(counter) = &self.counter else {
            return false;
        };
        let mut changed = false;
        for a in counter.answers() {
            if a.generation != self.generation {
                continue;
            }
            self.pending = self.pending.saturating_sub(1);
            if a.slot == usize::MAX {
                self.total = a.count;
                if let (Some(below), Some(total)) = (self.below_window.take(), a.count) {
                    let offset = (total as usize).saturating_sub(self.rows.len() + below);
                    let local = self.cursor.saturating_sub(self.offset);
                    self.offset = offset;
                    self.cursor = offset + local;
                }
            } else if a.slot < self.counts.len() {
                self.counts[a.slot] = a.count;
            }
            changed = true;
        }
        changed
    }

    /// The query text of what the list shows now.
    fn list_query_text(&self) -> String {
        self.search
            .clone()
            .unwrap_or_else(|| self.views[self.view].query.clone())
    }

    pub fn now(&self) -> i64 {
        self.clock.unwrap_or_else(crate::store::now)
    }

    fn ctx(&self) -> SearchContext {
        SearchContext {
            me: self.agent.clone(),
            now: self.now(),
        }
    }

    fn version(&self) -> (i64, u64) {
        (
            self.store.data_version().unwrap_or(0),
            self.store.total_changes(),
        )
    }

    /// The cursor's 1-based position, when it is known.
    pub fn position(&self) -> Option<usize> {
        if self.rows.is_empty() {
            return Some(0);
        }
        self.below_window.is_none().then_some(self.cursor + 1)
    }

    pub fn view_title(&self) -> String {
        match &self.search {
            Some(s) => format!("search: {s}"),
            None => self.views[self.view].name.clone(),
        }
    }

    pub fn selected_row(&self) -> Option<&TicketSummary> {
        self.rows.get(self.cursor.checked_sub(self.offset)?)
    }

    pub fn set_error(&mut self, e: impl std::fmt::Display) {
        self.status = Some((crate::sanitize::line(&e.to_string()), true));
    }

    fn set_info(&mut self, s: impl Into<String>) {
        self.status = Some((s.into(), false));
    }

    // ----- loading the window -------------------------------------------

    fn reload_top(&mut self) -> Result<(), Error> {
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

    fn clamp_cursor(&mut self) {
        let last = (self.offset + self.rows.len()).saturating_sub(1);
        self.cursor = self.cursor.clamp(self.offset.min(last), last);
    }

    fn load_more_below(&mut self) -> Result<bool, Error> {
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

    fn load_more_above(&mut self) -> Result<bool, Error> {
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

    fn jump_bottom(&mut self) -> Result<(), Error> {
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

    fn move_cursor(&mut self, delta: isize) -> Result<(), Error> {
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

    fn mark_range(&mut self, a: usize, b: usize) {
        let (lo, hi) = (a.min(b), a.max(b));
        for abs in lo..=hi {
            if let Some(t) = abs.checked_sub(self.offset).and_then(|i| self.rows.get(i)) {
                self.selection.insert(t.id, Some(t.version));
            }
        }
    }

    fn count_total(&mut self) {
        match &self.counter {
            Some(c) => {
                self.generation += 1;
                self.pending = 1;
                c.request(super::counter::Request {
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
                c.request(super::counter::Request {
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

    fn reload_everything(&mut self) -> Result<(), Error> {
        self.reload_window()?;
        self.refresh_counts();
        if let Some(id) = self.ticket.as_ref().map(|t| t.summary.id) {
            self.open_ticket(id)?;
        }
        self.data_version = self.version();
        Ok(())
    }

    fn switch_view(&mut self, i: usize) -> Result<(), Error> {
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

    fn open_ticket(&mut self, id: i64) -> Result<(), Error> {
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
        self.ticket = Some(t);
        Ok(())
    }

    // ----- acting on tickets --------------------------------------------

    /// The tickets an action applies to: the selection, else the ticket
    /// under the cursor (or the open ticket).
    pub fn targets(&self) -> Vec<(i64, Option<i64>)> {
        if !self.selection.is_empty() {
            return self.selection.iter().map(|(id, v)| (*id, *v)).collect();
        }
        match self.screen {
            Screen::Ticket => self
                .ticket
                .as_ref()
                .map(|t| vec![(t.summary.id, Some(t.summary.version))])
                .unwrap_or_default(),
            Screen::Queue => self
                .selected_row()
                .map(|t| vec![(t.id, Some(t.version))])
                .unwrap_or_default(),
        }
    }

    fn request(&mut self, p: Pending) {
        let n = self.targets().len();
        if n == 0 {
            self.set_error("no ticket here");
            return;
        }
        if n > 1 {
            let what = match &p {
                Pending::Edit(c) => c.verb(),
                Pending::Merge(into) => format!("merge into #{into} (the oldest; not undoable)"),
            };
            self.overlay = Overlay::Confirm {
                message: format!("{what} {n} tickets? (y/n)"),
                pending: p,
            };
        } else {
            self.apply(p);
        }
    }

    fn apply(&mut self, p: Pending) {
        let targets = self.targets();
        if let Pending::Merge(into) = p {
            let others: Vec<i64> = targets
                .iter()
                .map(|t| t.0)
                .filter(|id| *id != into)
                .collect();
            let agent = self.agent.clone();
            let result = crate::change::merge(&mut self.store, into, &others, &agent);
            match result {
                Ok(n) => {
                    self.set_info(format!(
                        "merged {} tickets into #{into} ({n} messages moved)",
                        others.len()
                    ));
                    self.selection.clear();
                    self.undo = None;
                }
                Err(e) => self.set_error(e),
            }
            if let Err(e) = self.reload_everything() {
                self.set_error(e);
            }
            return;
        }
        let Pending::Edit(change) = p else { return };
        match self.apply_to(&targets, &change, true) {
            Ok(label) => {
                self.set_info(label);
                self.selection.clear();
                self.visual_anchor = None;
            }
            Err(e) => {
                if let Error::Conflict { id, found, .. } = &e {
                    // Seen now: repeating the action applies it.
                    if let Some(v) = self.selection.get_mut(id) {
                        *v = Some(*found);
                    }
                    self.set_error(format!(
                        "{e}: look at it, then repeat to apply anyway; nothing was changed"
                    ));
                    let _ = self.reload_everything();
                } else {
                    self.set_error(e);
                }
            }
        }
        if let Err(e) = self.reload_everything() {
            self.set_error(e);
        }
    }

    /// Applies `change` to every target in one transaction: all or nothing.
    fn apply_to(
        &mut self,
        targets: &[(i64, Option<i64>)],
        change: &Change,
        record: bool,
    ) -> Result<String, Error> {
        let agent = self.agent.clone();
        let done = crate::change::apply_all(&mut self.store, targets, change, &agent)?;
        let steps: Vec<(i64, Change)> = done
            .into_iter()
            .filter_map(|a| a.undo.map(|u| (a.ticket, u)))
            .collect();
        let n = targets.len();
        let label = change.label();
        let label = if n > 1 {
            format!("{label} on {n} tickets")
        } else {
            format!("#{}: {label}", targets[0].0)
        };
        if record {
            self.undo = Some(UndoEntry {
                label: label.clone(),
                steps,
            });
        }
        Ok(label)
    }

    fn undo(&mut self) {
        let Some(entry) = self.undo.take() else {
            self.set_info("nothing to undo");
            return;
        };
        let result = (|| -> Result<(), Error> {
            for (id, p) in &entry.steps {
                self.apply_to(&[(*id, None)], p, false)?;
            }
            Ok(())
        })();
        match result {
            Ok(()) => self.set_info(format!("undone: {}", entry.label)),
            Err(e) => self.set_error(format!("undo failed: {e}")),
        }
        if let Err(e) = self.reload_everything() {
            self.set_error(e);
        }
    }

    fn state_menu(&mut self) {
        let targets = self.targets();
        let wf = &self.store.settings().workflow;
        let items: Vec<String> = match targets.as_slice() {
            [(id, _)] => {
                let current = self
                    .rows
                    .iter()
                    .find(|t| t.id == *id)
                    .map(|t| t.state.clone())
                    .or_else(|| self.ticket.as_ref().map(|t| t.summary.state.clone()))
                    .unwrap_or_default();
                wf.allowed_from(&current).to_vec()
            }
            _ => wf.states.clone(),
        };
        if items.is_empty() {
            self.set_error("this ticket's state is final: no transitions");
            return;
        }
        self.overlay = Overlay::Menu {
            kind: MenuKind::State,
            items,
            selected: 0,
        };
    }

    fn assign_menu(&mut self) {
        let mut items = vec![format!("me ({})", self.agent), "none".to_string()];
        for a in self.store.agents().unwrap_or_default() {
            if a != self.agent {
                items.push(a);
            }
        }
        items.push("other…".into());
        self.overlay = Overlay::Menu {
            kind: MenuKind::Assign,
            items,
            selected: 0,
        };
    }

    fn save_compose(&mut self, c: Compose) {
        let Some(id) = self.targets().first().map(|t| t.0) else {
            return;
        };
        if c.text.trim().is_empty() {
            self.set_error("empty message not saved");
            return;
        }
        let agent = self.agent.clone();
        let used = c
            .canned
            .as_ref()
            .and_then(|n| self.canned.iter().find(|x| &x.name == n))
            .cloned();
        let result = (|| -> Result<(), Error> {
            let tx = self.store.transaction()?;
            if used
                .as_ref()
                .is_some_and(|k| k.meta.state.is_some() || !k.meta.add_tags.is_empty())
            {
                tx.expect_version(id, c.version)?;
            }
            match c.direction {
                Direction::Note => {
                    tx.add_agent_message(
                        id,
                        Direction::Note,
                        &c.text,
                        &agent,
                        crate::store::now(),
                    )?;
                }
                _ => {
                    tx.queue_reply(id, &c.text, &agent, c.channel)?;
                }
            }
            // A canned answer may move the ticket and tag it.
            if let Some(k) = &used {
                if let Some(state) = &k.meta.state {
                    Change::State(state.clone()).apply(&tx, id, None, &agent)?;
                }
                if !k.meta.add_tags.is_empty() {
                    let tags = Change::Tags {
                        add: k.meta.add_tags.clone(),
                        remove: Vec::new(),
                    };
                    tags.apply(&tx, id, None, &agent)?;
                }
            }
            tx.commit()
        })();
        match result {
            Ok(()) => {
                let _ = self.store.touch_presence(&self.agent, Some(id), "viewing");
                self.set_info(match c.direction {
                    Direction::Note => format!("#{id}: note added"),
                    _ => format!("#{id}: reply queued in the outbox"),
                })
            }
            Err(Error::Conflict { found, .. }) => {
                // Nothing was queued: the text stays in the editor, and a
                // second send applies the answer's state over the change.
                self.set_error(format!(
                    "#{id} was changed by someone else while you wrote; nothing was sent. \
                     Look at the ticket, then send again to apply `{}` anyway",
                    c.canned.as_deref().unwrap_or("the answer")
                ));
                let mut again = c;
                again.version = Some(found);
                self.overlay = Overlay::Compose(again);
            }
            Err(e) => {
                let _ = self.store.touch_presence(&self.agent, Some(id), "viewing");
                self.set_error(e)
            }
        }
        if let Err(e) = self.reload_everything() {
            self.set_error(e);
        }
    }

    /// Loads (again) the canned answers from the configured directory.
    pub fn load_canned(&mut self) {
        let dir = self.config.canned_path();
        let (ok, bad) = canned::load_dir(&dir);
        self.canned = ok;
        self.canned_errors = bad.into_iter().map(|e| e.to_string()).collect();
    }

    /// The ticket a compose is about, in full.
    fn compose_ticket(&self) -> Option<TicketDetail> {
        let id = self.targets().first()?.0;
        match &self.ticket {
            Some(t) if t.summary.id == id => Some(t.clone()),
            _ => self.store.ticket(id).ok(),
        }
    }

    /// Channels the customer can be answered on, the ticket's own first.
    pub fn reply_channels(&self) -> Vec<Channel> {
        let Some(t) = self.compose_ticket() else {
            return Vec::new();
        };
        let mut out = vec![t.summary.channel];
        for (kind, ch) in [
            (IdentityKind::Email, Channel::Email),
            (IdentityKind::Phone, Channel::Sms),
            (IdentityKind::Fax, Channel::Fax),
        ] {
            if !out.contains(&ch) && t.customer.identities.iter().any(|i| i.kind == kind) {
                out.push(ch);
            }
        }
        out
    }

    fn target_channel(&self) -> Option<Channel> {
        self.reply_channels().first().copied()
    }

    /// Canned answers for the picker: fitting the channel, best match first.
    pub fn canned_matches(&self, input: &str, channel: Option<Channel>) -> Vec<&Canned> {
        let mut scored: Vec<(i64, &Canned)> = self
            .canned
            .iter()
            .filter(|c| channel.is_none_or(|ch| c.fits(ch)))
            .filter_map(|c| {
                let hay = format!(
                    "{} {} {}",
                    c.meta.shortcut.as_deref().unwrap_or(""),
                    c.meta.title,
                    c.name
                );
                canned::fuzzy_score(&hay, input).map(|s| (s, c))
            })
            .collect();
        scored.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.name.cmp(&b.1.name)));
        scored.into_iter().map(|(_, c)| c).collect()
    }

    /// The answer rendered for the ticket being answered, or the error.
    pub fn canned_preview(&self, c: &Canned, channel: Option<Channel>) -> Result<String, String> {
        let t = self.compose_ticket().ok_or("no ticket")?;
        let signature = self.config.signature.clone();
        let vars = canned::Vars::new(
            &t,
            &self.agent,
            &signature,
            &self.config.subject_tag,
            self.now(),
        );
        c.render(&vars, channel.unwrap_or(t.summary.channel))
            .map_err(|e| e.to_string())
    }

    /// The editor ($EDITOR) returned this text.
    pub fn editor_done(&mut self, text: Option<String>) {
        if let Overlay::Compose(c) = &mut self.overlay {
            match text {
                Some(t) => c.text = t,
                None => {
                    self.status = Some(("the editor failed; the text is unchanged".into(), true))
                }
            }
        }
    }

    // ----- keys -----------------------------------------------------------

    pub fn on_key(&mut self, key: KeyEvent) {
        if self.overlay == Overlay::None {
            self.status = None;
        }
        let result = match self.overlay.clone() {
            Overlay::None => self.on_main_key(key),
            Overlay::Help { scroll } => {
                self.overlay = match key.code {
                    KeyCode::Char('j') | KeyCode::Down => Overlay::Help { scroll: scroll + 1 },
                    KeyCode::Char('k') | KeyCode::Up => Overlay::Help {
                        scroll: scroll.saturating_sub(1),
                    },
                    _ => Overlay::None,
                };
                Ok(())
            }
            Overlay::Confirm { pending, .. } => {
                self.overlay = Overlay::None;
                if matches!(
                    key.code,
                    KeyCode::Char('y') | KeyCode::Char('Y') | KeyCode::Enter
                ) {
                    self.apply(pending);
                } else {
                    self.set_info("cancelled");
                }
                Ok(())
            }
            Overlay::Menu {
                kind,
                items,
                selected,
            } => self.on_menu_key(key, kind, items, selected),
            Overlay::Input { kind, input, .. } => self.on_input_key(key, kind, input),
            Overlay::Palette { input, selected } => self.on_palette_key(key, input, selected),
            Overlay::Compose(c) => {
                self.on_compose_key(key, c);
                Ok(())
            }
            Overlay::Canned {
                input,
                selected,
                compose,
            } => {
                self.on_canned_key(key, input, selected, compose);
                Ok(())
            }
        };
        if let Err(e) = result {
            self.set_error(e);
        }
    }

    fn on_main_key(&mut self, key: KeyEvent) -> Result<(), Error> {
        if let KeyCode::Char(c @ '1'..='9') = key.code {
            if key.modifiers.is_empty() {
                return self.switch_view(c as usize - '1' as usize);
            }
        }
        match self.keymap.action(&key) {
            Some(a) => self.perform(a),
            None => Ok(()),
        }
    }

    pub fn perform(&mut self, a: Action) -> Result<(), Error> {
        let page = self.height.max(2) as isize - 1;
        match (self.screen, a) {
            (_, Action::Quit) => self.quit = true,
            (Screen::Queue, Action::Back) => {
                if self.visual_anchor.take().is_none() && !self.selection.is_empty() {
                    self.selection.clear();
                } else if self.search.is_some() {
                    self.perform(Action::ClearSearch)?;
                }
            }
            (Screen::Ticket, Action::Back) => {
                self.screen = Screen::Queue;
                self.ticket = None;
                let _ = self.store.touch_presence(&self.agent, None, "queue");
            }
            (Screen::Queue, Action::Down) => self.move_cursor(1)?,
            (Screen::Queue, Action::Up) => self.move_cursor(-1)?,
            (Screen::Queue, Action::PageDown) => self.move_cursor(page)?,
            (Screen::Queue, Action::PageUp) => self.move_cursor(-page)?,
            (Screen::Queue, Action::Top) => {
                self.reload_top()?;
            }
            (Screen::Queue, Action::Bottom) => self.jump_bottom()?,
            (Screen::Ticket, Action::Down) => {
                self.ticket_scroll = self.ticket_scroll.saturating_add(1)
            }
            (Screen::Ticket, Action::Up) => {
                self.ticket_scroll = self.ticket_scroll.saturating_sub(1)
            }
            (Screen::Ticket, Action::PageDown) => {
                self.ticket_scroll = self.ticket_scroll.saturating_add(page as usize)
            }
            (Screen::Ticket, Action::PageUp) => {
                self.ticket_scroll = self.ticket_scroll.saturating_sub(page as usize)
            }
            (Screen::Ticket, Action::Top) => self.ticket_scroll = 0,
            (Screen::Ticket, Action::Bottom) => self.ticket_scroll = usize::MAX / 2,
            (Screen::Queue, Action::Open) => {
                if let Some(id) = self.selected_row().map(|t| t.id) {
                    self.open_ticket(id)?;
                    self.screen = Screen::Ticket;
                    let _ = self.store.touch_presence(&self.agent, Some(id), "viewing");
                }
            }
            (Screen::Ticket, Action::Open) => {}
            (_, Action::Pager) => {
                let id = match self.screen {
                    Screen::Ticket => self.ticket.as_ref().map(|t| t.summary.id),
                    Screen::Queue => self.selected_row().map(|t| t.id),
                };
                if let Some(id) = id {
                    let t = self.store.ticket(id)?;
                    self.pager_request = Some(crate::transcript::render(&t, self.now()));
                }
            }
            (_, Action::NextView) => self.switch_view((self.view + 1) % self.views.len())?,
            (_, Action::PrevView) => {
                self.switch_view((self.view + self.views.len() - 1) % self.views.len())?
            }
            (_, Action::Search) => {
                self.overlay = Overlay::Input {
                    kind: InputKind::Search,
                    input: self.search.clone().unwrap_or_default(),
                    error: None,
                }
            }
            (_, Action::ClearSearch) => {
                self.search = None;
                self.query = query::parse(&self.views[self.view].query)?;
                self.screen = Screen::Queue;
                self.reload_top()?;
            }
            (_, Action::StateMenu) => self.state_menu(),
            (_, Action::Solve) => self.request(Pending::Edit(Change::State(
                self.store.settings().workflow.solved_state.clone(),
            ))),
            (_, Action::Pending) => self.request(Pending::Edit(Change::State(
                self.store.settings().workflow.reply_to.clone(),
            ))),
            (_, Action::Spam) => self.request(Pending::Edit(Change::State(
                self.store.settings().workflow.spam_state.clone(),
            ))),
            (_, Action::AssignMenu) => self.assign_menu(),
            (_, Action::AssignMe) => {
                self.request(Pending::Edit(Change::Assign(Some(self.agent.clone()))))
            }
            (_, Action::Tag) => {
                self.overlay = Overlay::Input {
                    kind: InputKind::Tag,
                    input: String::new(),
                    error: None,
                }
            }
            (_, Action::PriorityMenu) => {
                // Start on the current priority of a single target.
                let current = match self.screen {
                    Screen::Ticket => self.ticket.as_ref().map(|t| t.summary.priority),
                    Screen::Queue => self.selected_row().map(|t| t.priority),
                }
                .filter(|_| self.selection.is_empty())
                .unwrap_or(Priority::Normal);
                let items: Vec<String> =
                    Priority::ALL.iter().rev().map(|p| p.to_string()).collect();
                let selected = items
                    .iter()
                    .position(|p| p == current.as_str())
                    .unwrap_or(0);
                self.overlay = Overlay::Menu {
                    kind: MenuKind::Priority,
                    items,
                    selected,
                }
            }
            (_, Action::Note) | (_, Action::Reply) => {
                let targets = self.targets();
                if targets.len() != 1 {
                    self.set_error(
                        "notes and replies go to one ticket: open it or move the cursor to it",
                    );
                } else {
                    let direction = if a == Action::Note {
                        Direction::Note
                    } else {
                        Direction::Out
                    };
                    let activity = if a == Action::Note {
                        "writing a note"
                    } else {
                        "replying"
                    };
                    let _ = self
                        .store
                        .touch_presence(&self.agent, Some(targets[0].0), activity);
                    let channel = if direction == Direction::Out {
                        self.target_channel()
                    } else {
                        None
                    };
                    self.overlay = Overlay::Compose(Compose {
                        direction,
                        text: String::new(),
                        channel,
                        canned: None,
                        version: targets[0].1,
                    });
                }
            }
            (_, Action::Snooze) => {
                self.overlay = Overlay::Input {
                    kind: InputKind::Snooze,
                    input: String::new(),
                    error: None,
                }
            }
            (_, Action::Merge) => {
                let mut ids: Vec<i64> = self.targets().iter().map(|t| t.0).collect();
                ids.sort_unstable();
                match ids.first() {
                    Some(&into) if ids.len() >= 2 => {
                        self.overlay = Overlay::Confirm {
                            message: format!(
                                "merge {} tickets into #{into} (the oldest; not undoable)? (y/n)",
                                ids.len()
                            ),
                            pending: Pending::Merge(into),
                        };
                    }
                    _ => self.set_error("select two or more tickets to merge (space, v)"),
                }
            }
            (Screen::Queue, Action::Select) => {
                if let Some((id, v)) = self.selected_row().map(|t| (t.id, t.version)) {
                    if self.selection.remove(&id).is_none() {
                        self.selection.insert(id, Some(v));
                    }
                    self.move_cursor(1)?;
                }
            }
            (Screen::Queue, Action::VisualRange) => match self.visual_anchor.take() {
                Some(_) => self.set_info(format!("{} selected", self.selection.len())),
                None => {
                    self.visual_anchor = Some(self.cursor);
                    self.mark_range(self.cursor, self.cursor);
                }
            },
            (Screen::Queue, Action::SelectAll) => {
                let ids = self.store.search_ids(&self.query, &self.ctx(), 100_000)?;
                let n = ids.len();
                let versions = self.store.ticket_versions(&ids)?;
                self.selection
                    .extend(ids.iter().map(|id| (*id, versions.get(id).copied())));
                self.set_info(format!("{n} selected"));
            }
            (_, Action::ClearSelection) => {
                self.selection.clear();
                self.visual_anchor = None;
            }
            (_, Action::Undo) => self.undo(),
            (_, Action::Refresh) => self.reload_everything()?,
            (_, Action::Help) => self.overlay = Overlay::Help { scroll: 0 },
            (_, Action::Palette) => {
                self.overlay = Overlay::Palette {
                    input: String::new(),
                    selected: 0,
                }
            }
            (Screen::Ticket, _) => {}
        }
        Ok(())
    }

    fn on_menu_key(
        &mut self,
        key: KeyEvent,
        kind: MenuKind,
        items: Vec<String>,
        selected: usize,
    ) -> Result<(), Error> {
        match key.code {
            KeyCode::Char('j') | KeyCode::Down => {
                self.overlay = Overlay::Menu {
                    kind,
                    selected: (selected + 1).min(items.len() - 1),
                    items,
                };
            }
            KeyCode::Char('k') | KeyCode::Up => {
                self.overlay = Overlay::Menu {
                    kind,
                    selected: selected.saturating_sub(1),
                    items,
                };
            }
            KeyCode::Enter | KeyCode::Char('l') => {
                self.overlay = Overlay::None;
                let choice = items[selected].clone();
                match kind {
                    MenuKind::State => self.request(Pending::Edit(Change::State(choice))),
                    MenuKind::Priority => {
                        let p = Priority::parse(&choice).unwrap_or(Priority::Normal);
                        self.request(Pending::Edit(Change::Priority(p)));
                    }
                    MenuKind::Assign => match selected {
                        0 => self.request(Pending::Edit(Change::Assign(Some(self.agent.clone())))),
                        1 => self.request(Pending::Edit(Change::Assign(None))),
                        _ if selected == items.len() - 1 => {
                            self.overlay = Overlay::Input {
                                kind: InputKind::AssignOther,
                                input: String::new(),
                                error: None,
                            };
                        }
                        _ => self.request(Pending::Edit(Change::Assign(Some(choice)))),
                    },
                }
            }
            _ => self.overlay = Overlay::None,
        }
        Ok(())
    }

    fn on_input_key(
        &mut self,
        key: KeyEvent,
        kind: InputKind,
        mut input: String,
    ) -> Result<(), Error> {
        match key.code {
            KeyCode::Esc => {
                self.overlay = Overlay::None;
                return Ok(());
            }
            KeyCode::Enter => return self.submit_input(kind, input),
            KeyCode::Backspace => {
                input.pop();
            }
            KeyCode::Char('u') if key.modifiers.contains(KeyModifiers::CONTROL) => input.clear(),
            KeyCode::Char(c) => input.push(c),
            _ => {}
        }
        let error = if kind == InputKind::Search {
            query::parse(&input).err().map(|e| (e.column, e.message))
        } else {
            None
        };
        self.overlay = Overlay::Input { kind, input, error };
        Ok(())
    }

    fn submit_input(&mut self, kind: InputKind, input: String) -> Result<(), Error> {
        match kind {
            InputKind::Search => match query::parse(&input) {
                Ok(q) => {
                    // An unknown state is only found when compiling.
                    if let Err(e) = self.store.check(&q, &self.ctx()) {
                        self.overlay = Overlay::Input {
                            kind,
                            error: Some((1, e.to_string())),
                            input,
                        };
                        return Ok(());
                    }
                    self.overlay = Overlay::None;
                    self.search = (!input.trim().is_empty()).then_some(input);
                    self.query = q;
                    self.screen = Screen::Queue;
                    self.selection.clear();
                    self.reload_top()?;
                }
                Err(e) => {
                    self.overlay = Overlay::Input {
                        kind,
                        error: Some((e.column, e.message)),
                        input,
                    };
                }
            },
            InputKind::Tag => {
                self.overlay = Overlay::None;
                let words: Vec<&str> = input.split_whitespace().collect();
                match Change::tags(&words) {
                    _ if words.is_empty() => self.set_info("no tags given"),
                    Ok(change) => self.request(Pending::Edit(change)),
                    Err(e) => self.set_error(e),
                }
            }
            InputKind::Snooze => {
                let text = input.trim();
                if text.is_empty() || text == "none" || text == "wake" {
                    self.overlay = Overlay::None;
                    self.request(Pending::Edit(Change::Snooze(None)));
                } else {
                    match query::parse_until(text, self.now()) {
                        Ok(t) => {
                            self.overlay = Overlay::None;
                            self.request(Pending::Edit(Change::Snooze(Some(t))));
                        }
                        Err(e) => {
                            self.overlay = Overlay::Input {
                                kind,
                                error: Some((1, e)),
                                input,
                            };
                        }
                    }
                }
            }
            InputKind::AssignOther => {
                self.overlay = Overlay::None;
                let name = input.trim().to_string();
                if !name.is_empty() {
                    self.request(Pending::Edit(Change::Assign(Some(name))));
                }
            }
        }
        Ok(())
    }

    pub fn palette_matches(input: &str) -> Vec<&'static keymap::ActionDef> {
        let needle = input.to_lowercase();
        keymap::ACTIONS
            .iter()
            .filter(|d| d.name.contains(&needle) || d.help.to_lowercase().contains(&needle))
            .collect()
    }

    fn on_palette_key(
        &mut self,
        key: KeyEvent,
        mut input: String,
        mut selected: usize,
    ) -> Result<(), Error> {
        match key.code {
            KeyCode::Esc => {
                self.overlay = Overlay::None;
                return Ok(());
            }
            KeyCode::Enter => {
                self.overlay = Overlay::None;
                if let Some(d) = App::palette_matches(&input).get(selected) {
                    return self.perform(d.action);
                }
                return Ok(());
            }
            _ => filter_list_key(key, &mut input, &mut selected),
        }
        let n = App::palette_matches(&input).len();
        selected = selected.min(n.saturating_sub(1));
        self.overlay = Overlay::Palette { input, selected };
        Ok(())
    }

    fn on_compose_key(&mut self, key: KeyEvent, mut c: Compose) {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Esc => {
                self.overlay = Overlay::None;
                self.set_info("discarded");
                let id = self.targets().first().map(|t| t.0);
                let _ = self.store.touch_presence(&self.agent, id, "viewing");
                return;
            }
            KeyCode::Char('s') if ctrl => {
                self.overlay = Overlay::None;
                self.save_compose(c);
                return;
            }
            KeyCode::Char('t') if ctrl => {
                self.load_canned();
                self.overlay = Overlay::Canned {
                    input: String::new(),
                    selected: 0,
                    compose: c,
                };
                return;
            }
            KeyCode::Char('e') if ctrl => {
                self.editor_request = Some(c.text.clone());
            }
            KeyCode::Char('n') if ctrl && c.direction == Direction::Out => {
                let chans = self.reply_channels();
                if let Some(i) = c.channel.and_then(|ch| chans.iter().position(|x| *x == ch)) {
                    c.channel = chans.get((i + 1) % chans.len()).copied();
                }
            }
            KeyCode::Enter => c.text.push('\n'),
            KeyCode::Backspace => {
                c.text.pop();
            }
            KeyCode::Tab => c.text.push_str("    "),
            KeyCode::Char(ch) if !ctrl => c.text.push(ch),
            _ => {}
        }
        self.overlay = Overlay::Compose(c);
    }

    fn on_canned_key(
        &mut self,
        key: KeyEvent,
        mut input: String,
        mut selected: usize,
        mut compose: Compose,
    ) {
        match key.code {
            KeyCode::Esc => {
                self.overlay = Overlay::Compose(compose);
                return;
            }
            KeyCode::Enter => {
                let found = self
                    .canned_matches(&input, compose.channel)
                    .get(selected)
                    .map(|c| (*c).clone());
                if let Some(c) = found {
                    match self.canned_preview(&c, compose.channel) {
                        Ok(text) => {
                            if !compose.text.is_empty() && !compose.text.ends_with('\n') {
                                compose.text.push('\n');
                            }
                            compose.text.push_str(&text);
                            compose.canned = Some(c.name.clone());
                            self.overlay = Overlay::Compose(compose);
                        }
                        // Never insert a half-rendered answer.
                        Err(e) => {
                            self.set_error(e);
                            self.overlay = Overlay::Canned {
                                input,
                                selected,
                                compose,
                            };
                        }
                    }
                }
                return;
            }
            _ => filter_list_key(key, &mut input, &mut selected),
        }
        let n = self.canned_matches(&input, compose.channel).len();
        selected = selected.min(n.saturating_sub(1));
        self.overlay = Overlay::Canned {
            input,
            selected,
            compose,
        };
    }
}

/// Keys shared by the filterable lists (palette, canned picker): type to
/// filter, Up/Down or Ctrl-P/Ctrl-N to move, Backspace to unfilter.
fn filter_list_key(key: KeyEvent, input: &mut String, selected: &mut usize) {
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    match key.code {
        KeyCode::Down => *selected += 1,
        KeyCode::Char('n') if ctrl => *selected += 1,
        KeyCode::Up => *selected = selected.saturating_sub(1),
        KeyCode::Char('p') if ctrl => *selected = selected.saturating_sub(1),
        KeyCode::Backspace => {
            input.pop();
            *selected = 0;
        }
        KeyCode::Char(c) if !ctrl => {
            input.push(c);
            *selected = 0;
        }
        _ => {}
    }
}
