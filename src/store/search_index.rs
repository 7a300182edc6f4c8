//! The full-text index lives in its own file beside the store
//! (`echodesk.db-search`), attached to every store connection as `search`.
//!
//! Why a second file: SQLite lets one connection write a database file at
//! a time, and indexing text was nearly half of what a bulk import's
//! writer did. In its own file the index has its own writer, so `import`
//! hands each batch's documents to a second thread and the two cores
//! share the work (see docs/performance.md).
//!
//! The index is derived data, so the store never waits on it for
//! correctness. Every transaction that changes what a ticket's document
//! holds adds the ticket to `search_queue` in the store file, atomically
//! with the change. Whoever writes the document then records the queue
//! entry's sequence number in `search_done` in the index file. Entries
//! whose number is in `search_done` are deleted by the next transaction
//! that queues more. So whatever a crash interrupts, opening the store
//! finds the queue entries without a `search_done` row and re-indexes
//! those tickets. `search_docs` keeps a late, older document from
//! replacing a newer one (see `write`). An index file that is missing,
//! written by another build (`fts::LAYOUT`), or not the one this store
//! last wrote (the `epoch` both files hold) is rebuilt whole.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use rusqlite::Connection;

use super::fts;
use crate::error::{Error, Result};

/// The index file of the store at `db`.
pub fn path_for(db: &Path) -> PathBuf {
    let mut p = db.as_os_str().to_owned();
    p.push("-search");
    PathBuf::from(p)
}

/// The index file's schema, created when it is missing. `{s}` is the
/// schema name it is reached under: `search` when attached, `main` from
/// the background indexer's own connection.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS {s}.search_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS {s}.search_done (seq INTEGER PRIMARY KEY);
-- The queue entry each ticket's document was written for, and whether
-- the ticket had one: a document is never replaced by an older one.
CREATE TABLE IF NOT EXISTS {s}.search_docs (
    ticket_id INTEGER PRIMARY KEY,
    seq       INTEGER NOT NULL,
    present   INTEGER NOT NULL
);
-- One document per ticket (rowid = ticket id): the subject, every
-- message's text and the customer's name and addresses, so a search is
-- one MATCH and 'all words somewhere in the ticket' is what matches.
-- Contentless: the text lives in the store; the documents are
-- CJK-segmented copies (see fts.rs).
CREATE VIRTUAL TABLE IF NOT EXISTS {s}.tickets_fts USING fts5(
    subject, body, customer, content='', contentless_delete=1,
    tokenize='unicode61 remove_diacritics 2'
);
";

/// Attaches the index file (an in-memory one for an in-memory store) as
/// `search` and creates its tables if they are missing.
pub(super) fn attach(conn: &Connection, db: Option<&Path>) -> Result<()> {
    let file = db.map_or_else(|| PathBuf::from(":memory:"), path_for);
    let attached = || -> Result<()> {
        conn.execute(
            "ATTACH DATABASE ? AS search",
            [file.to_string_lossy().as_ref()],
        )?;
        configure(conn, "search")?;
        conn.execute_batch(&SCHEMA.replace("{s}", "search"))?;
        Ok(())
    };
    attached().map_err(|e| in_file(&file, e))
}

/// Names the index file in an error from it.
fn in_file(file: &Path, e: Error) -> Error {
    Error::Other(format!("search index {}: {e}", file.display()))
}

fn configure(conn: &Connection, schema: &str) -> Result<()> {
    conn.pragma_update(Some(schema), "page_size", super::PAGE_SIZE)?;
    super::set_wal(conn, Some(schema))?;
    conn.pragma_update(Some(schema), "synchronous", "NORMAL")?;
    Ok(())
}

/// Detaches the index file so that this connection's write transactions
/// lock the store file only, while a background indexer writes the index.
pub(super) fn detach(conn: &Connection) -> Result<()> {
    // Cached statements may name the index's tables.
    conn.flush_prepared_statement_cache();
    conn.execute_batch("DETACH DATABASE search")?;
    Ok(())
}

/// One ticket's document, with the queue entry it answers.
#[derive(Debug, Clone)]
pub(crate) struct Doc {
    pub seq: i64,
    pub ticket: i64,
    /// Subject, message text, customer; `None` when the ticket is gone.
    pub text: Option<[String; 3]>,
}

/// Writes `doc` through `conn`, whose index schema is named `schema`,
/// unless the index holds a newer document for the ticket.
///
/// Newer means a later queue entry: entries are numbered in the store's
/// commit order, so a later one was built from a later state. The order
/// matters while an import's indexer lags behind its writer: an agent's
/// note on a just-imported ticket writes the ticket's document before the
/// indexer gets to the import's older one.
pub(super) fn write(conn: &Connection, schema: &str, doc: &Doc) -> Result<()> {
    use rusqlite::OptionalExtension;
    conn.prepare_cached(&format!(
        "INSERT OR IGNORE INTO {schema}.search_done (seq) VALUES (?)"
    ))?
    .execute([doc.seq])?;
    let held: Option<(i64, bool)> = conn
        .prepare_cached(&format!(
            "SELECT seq, present FROM {schema}.search_docs WHERE ticket_id = ?"
        ))?
        .query_row([doc.ticket], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    if held.is_some_and(|(seq, _)| seq > doc.seq) {
        return Ok(());
    }
    // Only a document that is there is deleted: a contentless-delete table
    // records a tombstone even for a rowid it never held.
    if held.is_some_and(|(_, present)| present) {
        conn.prepare_cached(&format!("DELETE FROM {schema}.tickets_fts WHERE rowid = ?"))?
            .execute([doc.ticket])?;
    }
    conn.prepare_cached(&format!(
        "INSERT INTO {schema}.search_docs (ticket_id, seq, present) VALUES (?, ?, ?)
         ON CONFLICT (ticket_id) DO UPDATE SET seq = excluded.seq, present = excluded.present"
    ))?
    .execute(rusqlite::params![doc.ticket, doc.seq, doc.text.is_some()])?;
    if let Some([subject, body, customer]) = &doc.text {
        conn.prepare_cached(&format!(
            "INSERT INTO {schema}.tickets_fts (rowid, subject, body, customer) VALUES (?, ?, ?, ?)"
        ))?
        .execute(rusqlite::params![
            doc.ticket,
            fts::segment(subject),
            fts::segment(body),
            fts::segment(customer)
        ])?;
    }
    Ok(())
}

/// A value from the index file's `search_meta`.
pub(super) fn meta(conn: &Connection, key: &str) -> Result<Option<String>> {
    use rusqlite::OptionalExtension;
    Ok(conn
        .query_row(
            "SELECT value FROM search.search_meta WHERE key = ?",
            [key],
            |r| r.get(0),
        )
        .optional()?)
}

/// Documents the indexer writes in one transaction at most, when batches
/// wait for it.
const COALESCE: usize = 4000;

/// Batches in flight: the writer does not wait on the indexer's commit,
/// and the indexer finds several to write at once, without much text
/// held in memory (a batch is one transaction's documents).
const INFLIGHT: usize = 8;

/// Writes the documents a bulk import produces, on its own thread and its
/// own connection to the index file, one transaction per batch.
pub(crate) struct Indexer {
    tx: Option<mpsc::SyncSender<Vec<Doc>>>,
    thread: std::thread::JoinHandle<Result<()>>,
}

impl Indexer {
    pub fn start(db: &Path) -> Result<Indexer> {
        let file = path_for(db);
        let open = || -> Result<Connection> {
            let conn = Connection::open(&file)?;
            conn.busy_timeout(Duration::from_secs(10))?;
            configure(&conn, "main")?;
            conn.execute_batch(&SCHEMA.replace("{s}", "main"))?;
            Ok(conn)
        };
        let conn = open().map_err(|e| in_file(&file, e))?;
        let (tx, rx) = mpsc::sync_channel::<Vec<Doc>>(INFLIGHT);
        let thread = std::thread::spawn(move || -> Result<()> {
            while let Ok(first) = rx.recv() {
                // What queued up while the last commit ran goes into one
                // transaction: each commit leaves an FTS5 segment, and
                // fewer, larger segments mean less merging.
                let mut batch = first;
                while batch.len() < COALESCE {
                    match rx.try_recv() {
                        Ok(more) => batch.extend(more),
                        Err(_) => break,
                    }
                }
                conn.execute_batch("BEGIN IMMEDIATE")
                    .map_err(|e| in_file(&file, e.into()))?;
                for doc in &batch {
                    write(&conn, "main", doc).map_err(|e| {
                        in_file(
                            &file,
                            Error::Other(format!("ticket #{}'s document: {e}", doc.ticket)),
                        )
                    })?;
                }
                conn.execute_batch("COMMIT")
                    .map_err(|e| in_file(&file, e.into()))?;
            }
            Ok(())
        });
        Ok(Indexer {
            tx: Some(tx),
            thread,
        })
    }

    pub fn sender(&self) -> Option<mpsc::SyncSender<Vec<Doc>>> {
        self.tx.clone()
    }

    /// Waits for every batch sent so far to be written.
    pub fn finish(mut self) -> Result<()> {
        self.tx = None;
        self.thread
            .join()
            .map_err(|_| Error::Other("the search indexer thread panicked".into()))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hits(conn: &Connection, word: &str) -> i64 {
        conn.query_row(
            "SELECT count(*) FROM tickets_fts WHERE tickets_fts MATCH ?",
            [word],
            |r| r.get(0),
        )
        .unwrap()
    }

    fn doc(seq: i64, word: Option<&str>) -> Doc {
        Doc {
            seq,
            ticket: 7,
            text: word.map(|w| ["subject".into(), w.into(), "customer".into()]),
        }
    }

    /// A document built from an older state of the store never replaces
    /// a newer one, whatever order they arrive in; either way its queue
    /// entry counts as answered.
    #[test]
    fn an_older_document_does_not_replace_a_newer_one() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(&SCHEMA.replace("{s}", "main")).unwrap();
        write(&conn, "main", &doc(2, Some("newer"))).unwrap();
        write(&conn, "main", &doc(1, Some("older"))).unwrap();
        assert_eq!((hits(&conn, "newer"), hits(&conn, "older")), (1, 0));
        write(&conn, "main", &doc(3, Some("newest"))).unwrap();
        assert_eq!((hits(&conn, "newer"), hits(&conn, "newest")), (0, 1));
        write(&conn, "main", &doc(4, None)).unwrap();
        write(&conn, "main", &doc(5, Some("back"))).unwrap();
        assert_eq!((hits(&conn, "newest"), hits(&conn, "back")), (0, 1));
        let done: Vec<i64> = conn
            .prepare("SELECT seq FROM search_done ORDER BY seq")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(done, [1, 2, 3, 4, 5]);
    }

    #[test]
    fn the_index_file_sits_beside_the_store() {
        assert_eq!(
            path_for(Path::new("/d/echodesk.db")),
            PathBuf::from("/d/echodesk.db-search")
        );
    }
}
