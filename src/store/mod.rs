//! The SQLite store: the one place that holds SQL.
//!
//! Several agents' TUIs, the CLI and one daemon may share a database file,
//! so the store runs in WAL mode with a busy timeout and keeps transactions
//! short. Reads go through [`Store`]; every write goes through a [`Tx`] so a
//! batch of changes commits or rolls back whole.

mod assets;
mod audience;
mod automation;
mod customers;
mod files;
mod followers;
pub mod fts;
mod index_sync;
mod jobs;
mod lease;
mod maintenance;
mod messages;
mod orgs;
mod outbox;
mod outbox_rows;
mod records;
mod report_reads;
mod reports;
mod reviews;
mod schema;
mod search;
pub mod search_index;
mod search_records;
mod search_sql;
mod side;
mod surveys;
mod team;
mod team_mail;
mod tickets;

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

use crate::error::{Error, Result};
use crate::workflow::Workflow;

pub use assets::{serial_key, Asset, AssetInput};
pub use audience::Recipient;
pub use automation::Queued;
pub use files::{create_private, file_mode_for};
pub use followers::{follower_name, Follower, Unsent};
pub use jobs::{Job, JobItem};
pub use lease::Lease;
pub use messages::{sha256_hex, NewAttachment, NewMessage};
pub use orgs::{domain_of, Org, OrgSummary};
pub use outbox::{sender_lease, OutboxItem, OutboxRow, Verdict};
pub use outbox_rows::AwaitingDelivery;
pub use records::{CustomerRow, RecordNote, TimelineEntry};
pub use report_reads::Label;
pub use reports::RollupState;
pub use reviews::Review;
pub use search::{Page, PageCursor, SearchContext};
pub use side::{SideConversation, SideThread};
pub use surveys::{Candidate, NewSurvey, Survey, SURVEY_AUTHOR};
pub use team::{OutboxHealth, SEND_STATUS};
pub use team_mail::{QueuedMail, TeamMail};
pub use tickets::{FieldChange, NewTicket};

/// What the store needs to know from the configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    pub workflow: Workflow,
    pub default_region: String,
    pub subject_tag: String,
    pub sla: crate::sla::Sla,
    /// Seconds after solving within which a text reopens an SMS or fax ticket.
    pub reopen_window: i64,
    /// Texts may go to senders that are not phone numbers (short codes,
    /// alphanumeric ids): some `[[sms]]` account allows it.
    pub sms_to_short_codes: bool,
    /// The team's time zone: report days are its days.
    pub zone: crate::clock::Zone,
    /// Keep the report rollups at every commit. Off only to measure what
    /// keeping them costs: the store then marks its rollups stale, and
    /// the next report rebuilds them.
    pub keep_reports: bool,
    /// How survey answers are read (`[survey]`).
    pub survey: crate::csat::Scale,
    /// The custom fields declared (`[[field]]`).
    pub fields: crate::fields::Fields,
    /// Finds serial numbers in messages (`[assets] serial_pattern`).
    pub serial_pattern: Option<regex::Regex>,
}

impl Default for Settings {
    /// What an empty config gives (`Config::default()` spells the same).
    fn default() -> Self {
        Settings {
            workflow: Workflow::default(),
            default_region: DEFAULT_REGION.into(),
            subject_tag: DEFAULT_SUBJECT_TAG.into(),
            sla: crate::sla::Sla::default(),
            reopen_window: 7 * 86_400,
            sms_to_short_codes: false,
            zone: crate::clock::Zone::default(),
            keep_reports: true,
            survey: crate::csat::Scale::default(),
            fields: crate::fields::Fields::default(),
            serial_pattern: None,
        }
    }
}

pub const DEFAULT_REGION: &str = "US";
pub const DEFAULT_SUBJECT_TAG: &str = "[#{id}]";

pub struct Store {
    conn: Connection,
    settings: Settings,
    path: Option<PathBuf>,
    /// The hit set of the last text search, which `echodesk_hit()` reads.
    hits: search::HitSlot,
    /// While a bulk import runs: where committed transactions send their
    /// search documents, for the background indexer to write.
    indexer: Option<std::sync::mpsc::SyncSender<Vec<search_index::Doc>>>,
    /// The report backlog carried into a day, at a data version.
    carry: std::cell::RefCell<Option<reports::Carry>>,
}

/// Statements that change nothing but take a file's write lock.
const LOCK_MAIN: &str = "UPDATE main.store_meta SET value = value WHERE 0";
const LOCK_SEARCH: &str = "UPDATE search.search_meta SET value = value WHERE 0";

/// Puts the file in WAL mode (a property of the file, so once). Two
/// processes opening a new file at once race for the lock this takes, and
/// SQLite answers the loser "database is locked" at once instead of
/// waiting for it: so the loser waits and looks again.
/// `schema` names an attached file (the search index).
pub(super) fn set_wal(conn: &Connection, schema: Option<&str>) -> Result<()> {
    let query = match schema {
        Some(s) => format!("PRAGMA {s}.journal_mode"),
        None => "PRAGMA journal_mode".to_string(),
    };
    let mut tries = 0u32;
    loop {
        let mode: String = conn.query_row(&query, [], |r| r.get(0))?;
        if mode.eq_ignore_ascii_case("wal") {
            return Ok(());
        }
        match conn.pragma_update(schema, "journal_mode", "WAL") {
            Ok(()) => return Ok(()),
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy && tries < 200 =>
            {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(25));
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// The page size of new store and index files.
pub(crate) const PAGE_SIZE: i64 = 16_384;

pub use crate::model::now;

impl Store {
    /// Opens (creating if needed) the database at `path` and brings its
    /// schema up to date.
    pub fn open(path: &Path, settings: Settings) -> Result<Store> {
        Store::open_noting(path, settings, &mut |_| {})
    }

    /// [`Store::open`], telling `note` about slow one-off work it is about
    /// to do (re-indexing after an upgrade), so a front end can say why it
    /// pauses.
    pub fn open_noting(
        path: &Path,
        settings: Settings,
        note: &mut dyn FnMut(&str),
    ) -> Result<Store> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        create_private(path)?;
        create_private(&search_index::path_for(path))?;
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX
                | OpenFlags::SQLITE_OPEN_URI,
        )?;
        Store::setup(conn, settings, Some(path.to_path_buf()), note)
    }

    pub fn open_in_memory(settings: Settings) -> Result<Store> {
        Store::setup(Connection::open_in_memory()?, settings, None, &mut |_| {})
    }

    fn setup(
        mut conn: Connection,
        settings: Settings,
        path: Option<PathBuf>,
        note: &mut dyn FnMut(&str),
    ) -> Result<Store> {
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        // Only a new file takes it. Against 4 KiB pages, an import writes
        // half the WAL frames (two write calls each) and the system time
        // falls by a quarter (docs/performance.md).
        conn.pragma_update(None, "page_size", PAGE_SIZE)?;
        set_wal(&conn, None)?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        // 8 MiB a connection, and a TUI has two. With 16 KiB pages a
        // 16 MiB cache filled up and took the TUI to 50 MB resident; an
        // import is no faster with more (docs/performance.md).
        conn.pragma_update(None, "cache_size", -8_000)?;
        // Two processes opening a new file at once both try to migrate;
        // the loser fails on the winner's tables, and a second look finds
        // the schema current.
        let mut tries = 0;
        loop {
            match schema::migrations().to_latest(&mut conn) {
                Ok(()) => break,
                Err(_) if tries < 5 => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(50 * tries));
                }
                Err(e) => return Err(e.into()),
            }
        }
        conn.set_prepared_statement_cache_capacity(64);
        search_index::attach(&conn, path.as_deref())?;
        let hits = search::HitSlot::default();
        search::register_hit_function(&conn, &hits)?;
        let mut store = Store {
            conn,
            settings,
            path,
            hits,
            indexer: None,
            carry: Default::default(),
        };
        store.sync_search_index(note)?;
        store.init_rollups()?;
        Ok(store)
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Hands search documents to a background indexer until
    /// [`Store::end_background_indexing`]: transactions then lock the store
    /// file only and send their documents to `to` once committed.
    pub(crate) fn begin_background_indexing(
        &mut self,
        to: std::sync::mpsc::SyncSender<Vec<search_index::Doc>>,
    ) -> Result<()> {
        search_index::detach(&self.conn)?;
        self.indexer = Some(to);
        Ok(())
    }

    /// Back to writing documents in each transaction: stops sending,
    /// lets `drain` wait for the indexer to write what it was sent, then
    /// settles the queue entries it answered.
    pub(crate) fn end_background_indexing(
        &mut self,
        drain: impl FnOnce() -> Result<()>,
    ) -> Result<()> {
        if self.indexer.take().is_none() {
            return drain();
        }
        let drained = drain();
        search_index::attach(&self.conn, self.path.as_deref())?;
        drained?;
        // The queue entries the indexer answered.
        let tx = self.transaction()?;
        tx.settle_search_queue()?;
        tx.tx.commit()?;
        Ok(())
    }

    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// An account's last poll or send, as recorded (JSON), read without
    /// taking the write lock.
    pub fn poll_status(&self, account: &str, scope: &str) -> Result<serde_json::Value> {
        Ok(self
            .cursor(account, scope)?
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or(serde_json::Value::Null))
    }

    /// A channel's cursor, read without taking the write lock.
    pub fn cursor(&self, account: &str, scope: &str) -> Result<Option<String>> {
        use rusqlite::OptionalExtension;
        Ok(self
            .conn
            .prepare_cached("SELECT value FROM cursors WHERE account = ? AND scope = ?")?
            .query_row([account, scope], |r| r.get(0))
            .optional()?)
    }

    /// Does a scheduled mailing's work once per slot: nothing when the
    /// cursor `(kind, name)` says `slot` was done; else `build` (outside
    /// the write lock), then `queue` and the cursor in one transaction,
    /// where the cursor is checked again so two runs at once do it once.
    pub fn once_per_slot<T, R>(
        &mut self,
        (kind, name): (&str, &str),
        slot: &str,
        build: impl FnOnce(&mut Store) -> Result<T>,
        queue: impl FnOnce(&Tx<'_>, T) -> Result<R>,
    ) -> Result<Option<R>> {
        if self.cursor(kind, name)?.as_deref() == Some(slot) {
            return Ok(None);
        }
        let built = build(self)?;
        let tx = self.transaction()?;
        if tx.cursor(kind, name)?.as_deref() == Some(slot) {
            return Ok(None);
        }
        let done = queue(&tx, built)?;
        tx.set_cursor(kind, name, slot)?;
        tx.commit()?;
        Ok(Some(done))
    }

    /// Begins a write transaction holding the store file's write lock.
    /// The search index file's lock is taken only when the transaction
    /// comes to write documents, at commit: `BEGIN IMMEDIATE` would lock
    /// every attached file, so a sender recording one send waited for a
    /// background indexer's whole batch in the other file.
    pub fn transaction(&mut self) -> Result<Tx<'_>> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Deferred)?;
        // A write as the first statement takes the lock the way IMMEDIATE
        // does (waiting through the busy handler), for this file alone.
        tx.prepare_cached(LOCK_MAIN)?.execute([])?;
        Ok(Tx {
            tx,
            settings: &self.settings,
            indexer: self.indexer.as_ref(),
            clock: std::cell::Cell::new(None),
            dirty: std::cell::RefCell::new(std::collections::BTreeSet::new()),
            created: std::cell::RefCell::new(std::collections::HashSet::new()),
            new_text: std::cell::RefCell::new(std::collections::HashMap::new()),
            report_dirty: std::cell::RefCell::new(std::collections::BTreeSet::new()),
        })
    }
}

/// One write transaction. Dropped without [`Tx::commit`], it rolls back.
pub struct Tx<'a> {
    tx: rusqlite::Transaction<'a>,
    settings: &'a Settings,
    /// Set during a bulk import: documents go to the background indexer.
    indexer: Option<&'a std::sync::mpsc::SyncSender<Vec<search_index::Doc>>>,
    clock: std::cell::Cell<Option<i64>>,
    /// Tickets whose search document must be rebuilt before commit; a batch
    /// adding three messages to one ticket indexes it once.
    dirty: std::cell::RefCell<std::collections::BTreeSet<i64>>,
    /// Tickets created in this transaction: their text is noted as it is
    /// stored rather than read back.
    created: std::cell::RefCell<std::collections::HashSet<i64>>,
    /// The message text of tickets created in this transaction, so their
    /// documents need not be read back from the table at commit.
    new_text: std::cell::RefCell<std::collections::HashMap<i64, String>>,
    /// Tickets whose report facts must be recomputed before commit: any
    /// ticket that got an event or a message.
    report_dirty: std::cell::RefCell<std::collections::BTreeSet<i64>>,
}

impl Tx<'_> {
    pub fn commit(self) -> Result<()> {
        self.update_reports()?;
        let dirty = std::mem::take(&mut *self.dirty.borrow_mut());
        let mut docs = Vec::new();
        if !dirty.is_empty() && self.indexer.is_none() {
            self.settle_search_queue()?;
        }
        for id in dirty {
            self.tx
                .prepare_cached("INSERT INTO main.search_queue (ticket_id) VALUES (?)")?
                .execute([id])?;
            let doc = self.document(id, self.tx.last_insert_rowid())?;
            if self.indexer.is_some() {
                docs.push(doc);
            } else {
                search_index::write(&self.tx, "search", &doc)?;
            }
        }
        self.tx.commit()?;
        if let Some(to) = self.indexer.filter(|_| !docs.is_empty()) {
            // Committed and queued: should the indexer have stopped, the
            // next open indexes these tickets.
            to.send(docs).map_err(|_| {
                Error::Other(
                    "the search indexer stopped; the store indexes the rest when next opened"
                        .into(),
                )
            })?;
        }
        Ok(())
    }

    /// Raw SQL, for tests that need the store to misbehave.
    #[cfg(test)]
    pub(crate) fn execute_batch(&self, sql: &str) -> Result<()> {
        Ok(self.tx.execute_batch(sql)?)
    }

    /// Runs `f` in a savepoint: when it fails, everything it wrote is
    /// undone and the transaction goes on without it. One bad message in a
    /// batch then costs that message, not the batch.
    pub fn attempt<T>(&self, f: impl FnOnce(&Self) -> Result<T>) -> Result<T> {
        self.tx.execute_batch("SAVEPOINT attempt")?;
        match f(self) {
            Ok(v) => {
                self.tx.execute_batch("RELEASE attempt")?;
                Ok(v)
            }
            Err(e) => {
                self.tx
                    .execute_batch("ROLLBACK TO attempt; RELEASE attempt")?;
                // Text noted for a ticket the rollback removed (whose id a
                // later ticket may get) must not reach a document: read
                // every new ticket's text back at commit instead.
                self.created.borrow_mut().clear();
                self.new_text.borrow_mut().clear();
                Err(e)
            }
        }
    }

    pub(crate) fn mark_dirty(&self, ticket: i64) {
        self.dirty.borrow_mut().insert(ticket);
    }

    pub(crate) fn mark_created(&self, ticket: i64) {
        self.created.borrow_mut().insert(ticket);
    }

    /// Notes a stored message's text for its ticket's document.
    pub(crate) fn note_text(&self, ticket: i64, subject: &str, body: &str) {
        if !self.created.borrow().contains(&ticket) {
            return;
        }
        let mut map = self.new_text.borrow_mut();
        let doc = map.entry(ticket).or_default();
        if !doc.is_empty() {
            doc.push_str(subject);
            doc.push('\n');
        }
        doc.push_str(body);
        doc.push('\n');
    }

    pub fn settings(&self) -> &Settings {
        self.settings
    }

    /// The time changes in this transaction are stamped with: the wall
    /// clock unless [`Tx::set_clock`] said otherwise.
    pub fn now(&self) -> i64 {
        self.clock.get().unwrap_or_else(now)
    }

    /// Stamps the following changes with `at` (the demo builds history;
    /// tests pin time). `None` returns to the wall clock.
    pub fn set_clock(&self, at: Option<i64>) {
        self.clock.set(at);
    }

    /// Records an audit event.
    pub fn event(
        &self,
        ticket_id: Option<i64>,
        agent: &str,
        kind: &str,
        old: Option<&str>,
        new: Option<&str>,
    ) -> Result<()> {
        self.tx
            .prepare_cached(
                "INSERT INTO events (ticket_id, at, agent, kind, old, new) VALUES (?, ?, ?, ?, ?, ?)",
            )?
            .execute(rusqlite::params![ticket_id, self.now(), agent, kind, old, new])?;
        // Only what the report facts read: an outbox entry's progress or
        // a tag changes no figure.
        if let (Some(t), true) = (ticket_id, reports::REPORTED_KINDS.contains(&kind)) {
            self.mark_report_dirty(t);
        }
        Ok(())
    }

    pub fn cursor(&self, account: &str, scope: &str) -> Result<Option<String>> {
        use rusqlite::OptionalExtension;
        Ok(self
            .tx
            .prepare_cached("SELECT value FROM cursors WHERE account = ? AND scope = ?")?
            .query_row([account, scope], |r| r.get(0))
            .optional()?)
    }

    pub fn set_cursor(&self, account: &str, scope: &str, value: &str) -> Result<()> {
        self.tx
            .prepare_cached(
                "INSERT INTO cursors (account, scope, value, updated_at) VALUES (?, ?, ?, ?)
                 ON CONFLICT (account, scope) DO UPDATE SET value = excluded.value,
                 updated_at = excluded.updated_at",
            )?
            .execute(rusqlite::params![account, scope, value, self.now()])?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_with_wal_and_foreign_keys() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("x/e.db"), Settings::default()).unwrap();
        let mode: String = store
            .conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        let fk: i64 = store
            .conn
            .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
            .unwrap();
        assert_eq!(fk, 1);
    }

    #[test]
    fn cursors_round_trip() {
        let mut store = Store::open_in_memory(Settings::default()).unwrap();
        let tx = store.transaction().unwrap();
        assert_eq!(tx.cursor("a", "INBOX").unwrap(), None);
        tx.set_cursor("a", "INBOX", "1:42").unwrap();
        tx.set_cursor("a", "INBOX", "1:43").unwrap();
        assert_eq!(tx.cursor("a", "INBOX").unwrap().as_deref(), Some("1:43"));
    }
}
