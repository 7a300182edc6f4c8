//! The TUI's state and everything that changes it. Drawing lives in
//! `views`; this module never touches the terminal, so key sequences can be
//! tested against a store without one.
//!
//! Here: the state and its accessors. `window` loads and moves the queue's
//! window and its counts, `acting` applies changes (and undoes them),
//! `compose` writes replies and notes, `keys` turns keys into all of that.

use std::collections::BTreeMap;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::keymap::{self, Action, Context, Keymap};
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
    /// The team's figures: `dashboard`.
    Dashboard,
    /// Quality review: a sampled ticket beside the rubric.
    Review,
    /// Every message of a customer's tickets, oldest first.
    Timeline,
    /// An asset's details and its repair record.
    Asset,
    /// What customers wrote about, against the period before.
    Digest,
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
    ReviewComment,
    /// Which asset the ticket is about.
    Asset,
    /// A custom field of the ticket's file: `tier=gold`, `asset.x=…`.
    Field,
    /// Forward to another department: `rnd@example.com what we ask`.
    Forward,
    /// A note on the file on screen: the asset's, or the customer's on
    /// the timeline.
    RecordNote,
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

/// What the ticket screen's customer panel shows of the customer file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CustomerFile {
    pub org: Option<String>,
    pub fields: Vec<(String, String)>,
    pub assets: Vec<crate::store::Asset>,
    /// The asset the open ticket is about.
    pub about: Option<crate::store::Asset>,
    /// Notes on the customer, newest first.
    pub notes: Vec<crate::store::RecordNote>,
    /// Who follows the open ticket: agents and outside addresses.
    pub followers: Vec<String>,
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
    /// The open ticket's satisfaction survey, and the customer's.
    pub survey: Option<crate::store::Survey>,
    pub customer_surveys: Vec<crate::store::Survey>,
    /// The open ticket's customer file: organisation, fields, assets, and
    /// the asset the ticket is about.
    pub customer_file: CustomerFile,
    pub presence: Vec<(String, String)>,
    /// The first row of the conversation on screen.
    pub ticket_scroll: usize,
    /// Each message's rows as laid out for a width, so a long message is
    /// wrapped once rather than on every frame.
    pub body_rows:
        std::collections::HashMap<(i64, u16), std::rc::Rc<Vec<ratatui::text::Line<'static>>>>,
    pub status: Option<(String, bool)>,
    pub outbox: crate::store::OutboxHealth,
    /// Tickets this agent follows that changed since they last opened
    /// them.
    pub followed_news: Vec<i64>,
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
    /// The dashboard's period, grouping and figures, once opened.
    pub dashboard: Option<dashboard::Dashboard>,
    /// The review screen's tasks and scores.
    pub reviewing: Option<review::Reviewing>,
    pub timeline: Option<timeline::Timeline>,
    pub asset: Option<asset::AssetView>,
    pub digest: Option<digest::DigestView>,
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
            survey: None,
            customer_surveys: Vec::new(),
            customer_file: CustomerFile::default(),
            presence: Vec::new(),
            ticket_scroll: 0,
            status: None,
            outbox: Default::default(),
            followed_news: Vec::new(),
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
            dashboard: None,
            reviewing: None,
            timeline: None,
            asset: None,
            digest: None,
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
}

mod acting;
pub mod asset;
mod compose;
pub mod dashboard;
pub mod digest;
mod forward;
mod keys;
pub mod review;
pub mod timeline;
mod window;
