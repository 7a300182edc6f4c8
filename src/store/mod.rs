//! The SQLite store: the one place that holds SQL.
//!
//! Several agents' TUIs, the CLI and one daemon may share a database file,
//! so the store runs in WAL mode with a busy timeout and keeps transactions
//! short. Reads go through [`Store`]; every write goes through a [`Tx`] so a
//! batch of changes commits or rolls back whole.

mod automation;
mod customers;
pub mod fts;
mod jobs;
mod lease;
mod messages;
mod outbox;
mod schema;
mod search;
mod team;
mod tickets;

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

use crate::config::Config;
use crate::error::{Error, Result};
use crate::workflow::Workflow;

pub use automation::Queued;
pub use jobs::{Job, JobItem};
pub use lease::Lease;
pub use messages::{sha256_hex, NewAttachment, NewMessage};
pub use outbox::{AwaitingDelivery, OutboxItem, OutboxRow};
pub use search::{Page, PageCursor, SearchContext};
pub use tickets::{Change, NewTicket};

/// What the store needs to know from the configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    pub workflow: Workflow,
    pub default_region: String,
    pub subject_tag: String,
    pub sla: crate::sla::Sla,
    /// Seconds after solving within which a text reopens an SMS or fax ticket.
    pub reopen_window: i64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings::from(&Config::default())
    }
}

impl From<&Config> for Settings {
    fn from(c: &Config) -> Self {
        Settings {
            workflow: c.workflow.clone(),
            default_region: c.default_region.clone(),
            subject_tag: c.subject_tag.clone(),
            // Checked when the config was loaded.
            sla: crate::sla::Sla::new(&c.sla, &c.business_hours).unwrap_or_default(),
            reopen_window: crate::query::parse_duration(&c.reopen_window).unwrap_or(7 * 86_400),
        }
    }
}

pub struct Store {
    conn: Connection,
    settings: Settings,
    path: Option<PathBuf>,
    /// The hit set of the last text search, which `echodesk_hit()` reads.
    hits: search::HitSlot,
}

/// Seconds since the epoch, the store's only time unit.
pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

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
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        conn.pragma_update(None, "cache_size", -16_000)?;
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
        let hits = search::HitSlot::default();
        search::register_hit_function(&conn, &hits)?;
        let mut store = Store {
            conn,
            settings,
            path,
            hits,
        };
        store.upgrade_search_documents(note)?;
        Ok(store)
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Rewrites every search document when they were written in an older
    /// layout than this build's (`fts::LAYOUT`), once, on open.
    fn upgrade_search_documents(&mut self, note: &mut dyn FnMut(&str)) -> Result<()> {
        let layout = |conn: &Connection| -> Result<i64> {
            use rusqlite::OptionalExtension;
            let v: Option<String> = conn
                .query_row(
                    "SELECT value FROM store_meta WHERE key = 'fts_layout'",
                    [],
                    |r| r.get(0),
                )
                .optional()?;
            Ok(v.and_then(|v| v.parse().ok()).unwrap_or(0))
        };
        if layout(&self.conn)? >= fts::LAYOUT {
            return Ok(());
        }
        let tx = self.transaction()?;
        // Another process may have done it while we waited for the lock.
        if layout(&tx.tx)? >= fts::LAYOUT {
            return Ok(());
        }
        tx.tx.execute(
            "INSERT INTO tickets_fts (tickets_fts) VALUES ('delete-all')",
            [],
        )?;
        let ids: Vec<i64> = tx
            .tx
            .prepare("SELECT id FROM tickets ORDER BY id")?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        if !ids.is_empty() {
            note(&format!(
                "rewriting the search index of {} ticket{} for this version (once)…",
                ids.len(),
                if ids.len() == 1 { "" } else { "s" }
            ));
        }
        for id in ids {
            // No document is left to delete.
            tx.mark_created(id);
            tx.reindex_ticket(id)?;
        }
        tx.tx.execute(
            "INSERT INTO store_meta (key, value) VALUES ('fts_layout', ?)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [fts::LAYOUT.to_string()],
        )?;
        tx.commit()
    }

    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    pub fn transaction(&mut self) -> Result<Tx<'_>> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        Ok(Tx {
            tx,
            settings: &self.settings,
            clock: std::cell::Cell::new(None),
            dirty: std::cell::RefCell::new(std::collections::BTreeSet::new()),
            created: std::cell::RefCell::new(std::collections::HashSet::new()),
            new_text: std::cell::RefCell::new(std::collections::HashMap::new()),
        })
    }

    /// Changes whenever another connection commits; front ends poll it to
    /// refresh without a keypress.
    pub fn data_version(&self) -> Result<i64> {
        Ok(self
            .conn
            .query_row("PRAGMA data_version", [], |r| r.get(0))?)
    }

    /// A consistent copy of the live database, safe while others write.
    pub fn backup(&self, dest: &Path) -> Result<()> {
        if dest.exists() {
            return Err(Error::invalid(
                "backup destination",
                dest.display().to_string(),
                "already exists; choose a new file",
            ));
        }
        let mut out = Connection::open(dest)?;
        let backup = rusqlite::backup::Backup::new(&self.conn, &mut out)?;
        backup.run_to_completion(256, std::time::Duration::from_millis(5), None)?;
        Ok(())
    }

    /// Counts for `echodesk status`-like summaries: (tickets, messages, customers).
    pub fn totals(&self) -> Result<(i64, i64, i64)> {
        Ok(self.conn.query_row(
            "SELECT (SELECT count(*) FROM tickets), (SELECT count(*) FROM messages),
                    (SELECT count(*) FROM customers)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?)
    }

    /// Whether this connection checkpoints the write-ahead log itself at
    /// commits (SQLite's default, 1,000 pages); off while a bulk writer
    /// leaves that to a second connection.
    pub fn set_auto_checkpoint(&self, on: bool) -> Result<()> {
        self.conn
            .pragma_update(None, "wal_autocheckpoint", if on { 1000 } else { 0 })?;
        Ok(())
    }

    /// Copies the whole write-ahead log into the database and empties it,
    /// waiting for readers and other checkpointers as needed.
    pub fn checkpoint_truncate(&self) -> Result<()> {
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(())
    }

    /// Refreshes the planner's statistics; worth it after a large import.
    pub fn optimize(&self) -> Result<()> {
        // A sample of each index is plenty for the planner; a full ANALYZE
        // of a million-ticket store takes seconds after a small import.
        self.conn
            .execute_batch("PRAGMA analysis_limit = 1000; PRAGMA optimize; ANALYZE;")?;
        Ok(())
    }
}

/// One write transaction. Dropped without [`Tx::commit`], it rolls back.
pub struct Tx<'a> {
    tx: rusqlite::Transaction<'a>,
    settings: &'a Settings,
    clock: std::cell::Cell<Option<i64>>,
    /// Tickets whose search document must be rebuilt before commit; a batch
    /// adding three messages to one ticket indexes it once.
    dirty: std::cell::RefCell<std::collections::BTreeSet<i64>>,
    /// Tickets created in this transaction: they have no document to delete.
    created: std::cell::RefCell<std::collections::HashSet<i64>>,
    /// The message text of tickets created in this transaction, so their
    /// documents need not be read back from the table at commit.
    new_text: std::cell::RefCell<std::collections::HashMap<i64, String>>,
}

impl Tx<'_> {
    pub fn commit(self) -> Result<()> {
        let dirty = std::mem::take(&mut *self.dirty.borrow_mut());
        for id in dirty {
            self.reindex_ticket(id)?;
        }
        self.tx.commit()?;
        Ok(())
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

    /// Rebuilds one ticket's search document from the stored text.
    fn reindex_ticket(&self, id: i64) -> Result<()> {
        // A contentless-delete table records a tombstone even for a rowid it
        // never held, so skip the delete for tickets born in this batch.
        if !self.created.borrow().contains(&id) {
            self.tx
                .prepare_cached("DELETE FROM tickets_fts WHERE rowid = ?")?
                .execute([id])?;
        }
        let head: Option<(String, String, String)> = {
            use rusqlite::OptionalExtension;
            self.tx
                .prepare_cached(
                    "SELECT t.subject, c.name, coalesce((SELECT group_concat(value, ' ')
                       FROM identities WHERE customer_id = c.id), '')
                     FROM tickets t JOIN customers c ON c.id = t.customer_id WHERE t.id = ?",
                )?
                .query_row([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .optional()?
        };
        let Some((subject, name, idents)) = head else {
            return Ok(());
        };
        let fresh = self.new_text.borrow_mut().remove(&id);
        let mut body = String::new();
        if let Some(text) = fresh {
            body = text;
        } else {
            let mut stmt = self.tx.prepare_cached(
                "SELECT subject, body_text FROM messages WHERE ticket_id = ? ORDER BY id",
            )?;
            let mut rows = stmt.query([id])?;
            while let Some(r) = rows.next()? {
                let s: String = r.get(0)?;
                if s != subject {
                    body.push_str(&s);
                    body.push('\n');
                }
                body.push_str(r.get_ref(1)?.as_str().unwrap_or(""));
                body.push('\n');
            }
        }
        let customer = format!("{name} {idents}");
        self.tx
            .prepare_cached(
                "INSERT INTO tickets_fts (rowid, subject, body, customer) VALUES (?, ?, ?, ?)",
            )?
            .execute(rusqlite::params![
                id,
                fts::segment(&subject),
                fts::segment(&body),
                fts::segment(&customer)
            ])?;
        Ok(())
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

    /// A store written by a build with one token per CJK character is
    /// re-indexed on open, so CJK words match in the bigram layout.
    #[test]
    fn old_search_documents_are_rewritten_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("e.db");
        let ctx = SearchContext {
            me: "a".into(),
            now: 0,
        };
        let refund = crate::query::parse("退款").unwrap();
        {
            let mut store = Store::open(&db, Settings::default()).unwrap();
            let tx = store.transaction().unwrap();
            let c = tx.create_customer("李", &[]).unwrap();
            let t = tx
                .create_ticket(
                    &NewTicket {
                        subject: "我要退款",
                        channel: crate::model::Channel::Email,
                        customer_id: c,
                        at: 1,
                        linked_ticket_id: None,
                    },
                    "a",
                )
                .unwrap();
            tx.mark_dirty(t);
            tx.commit().unwrap();
            assert_eq!(store.count(&refund, &ctx).unwrap(), 1);
            // Back to the first layout: characters one by one, no marker.
            store
                .conn
                .execute_batch(&format!(
                    "DELETE FROM store_meta;
                     INSERT INTO tickets_fts (tickets_fts) VALUES ('delete-all');
                     INSERT INTO tickets_fts (rowid, subject, body, customer)
                     VALUES ({t}, ' 我  要  退  款 ', '', ' 李 ');"
                ))
                .unwrap();
            store.forget_search_cache();
            assert_eq!(store.count(&refund, &ctx).unwrap(), 0);
        }
        let mut notes = Vec::new();
        let store =
            Store::open_noting(&db, Settings::default(), &mut |n| notes.push(n.to_string()))
                .unwrap();
        assert_eq!(store.count(&refund, &ctx).unwrap(), 1);
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(notes[0].contains("1 ticket "), "{notes:?}");
        // Once only.
        drop(store);
        notes.clear();
        Store::open_noting(&db, Settings::default(), &mut |n| notes.push(n.to_string())).unwrap();
        assert!(notes.is_empty(), "{notes:?}");
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
