//! Offline import of mbox files, Maildirs and .eml files through the same
//! ingest path the channels use.
//!
//! One thread reads and parses while the caller's thread writes batches,
//! one transaction per batch, and a third writes the batches' search
//! documents into the index file (`store::search_index`), which has its own
//! write lock. Parsing and indexing together cost about what writing the
//! rows costs, so on two cores the wall time is close to the writer's.

use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;

use crate::channel::email::mime;
use crate::error::{Error, Result};
use crate::inbound::Inbound;
use crate::ingest::{commit_batch, Care, Ingest};
use crate::store::{search_index, sha256_hex, Store};

/// Messages per transaction.
pub const BATCH: usize = 2000;
/// Bytes of parsed messages per transaction, at most (a batch of one
/// bigger message excepted).
pub const BATCH_BYTES: u64 = 32 << 20;
/// Bytes of parsed messages between the reader and the writer, at most:
/// the import's memory follows this, not the number of messages.
pub const IN_FLIGHT_BYTES: u64 = 64 << 20;
/// A file larger than this is reported, not read: no mail is that big.
pub const MAX_FILE: u64 = 512 << 20;

/// The bytes parsed messages hold between the reader and the writer. The
/// reader waits while the budget is spent; the writer gives it back when
/// a batch is committed. One message always fits, however big.
#[derive(Default)]
struct Budget {
    used: std::sync::Mutex<u64>,
    freed: std::sync::Condvar,
    waiting: std::sync::atomic::AtomicBool,
}

impl Budget {
    fn take(&self, n: u64) {
        let mut used = self.used.lock().unwrap_or_else(|e| e.into_inner());
        while *used > 0 && *used + n > IN_FLIGHT_BYTES {
            self.waiting
                .store(true, std::sync::atomic::Ordering::SeqCst);
            used = self.freed.wait(used).unwrap_or_else(|e| e.into_inner());
        }
        self.waiting
            .store(false, std::sync::atomic::Ordering::SeqCst);
        *used += n;
    }

    fn give(&self, n: u64) {
        let mut used = self.used.lock().unwrap_or_else(|e| e.into_inner());
        *used = used.saturating_sub(n);
        self.freed.notify_all();
    }

    /// Whether the reader is waiting for the writer to commit.
    fn reader_waits(&self) -> bool {
        self.waiting.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// What a parsed message costs in memory, near enough.
fn weight(m: &Inbound) -> u64 {
    let atts: usize = m.attachments.iter().map(|a| a.data.len()).sum();
    (m.body_text.len()
        + m.body_html.as_ref().map_or(0, String::len)
        + m.raw.as_ref().map_or(0, Vec::len)
        + atts
        + 512) as u64
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct ImportReport {
    pub seen: u64,
    pub created: u64,
    pub threaded: u64,
    pub duplicates: u64,
    /// Stored, but with a parse problem noted on the message.
    pub with_errors: u64,
    /// Files that could not be read at all (path and reason).
    pub unreadable: Vec<String>,
    #[serde(skip)]
    pub elapsed: Duration,
}

/// What a path holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    Maildir,
    Mbox,
    EmlFile,
    EmlDir,
}

pub fn detect(path: &Path) -> Result<SourceKind> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if meta.is_dir() {
        if path.join("cur").is_dir() || path.join("new").is_dir() {
            return Ok(SourceKind::Maildir);
        }
        return Ok(SourceKind::EmlDir);
    }
    let mut head = [0u8; 5];
    use std::io::Read;
    let n = std::fs::File::open(path)
        .and_then(|mut f| f.read(&mut head))
        .map_err(|e| Error::io(path, e))?;
    if &head[..n] == b"From " {
        Ok(SourceKind::Mbox)
    } else {
        Ok(SourceKind::EmlFile)
    }
}

enum Item {
    Msg(Box<Inbound>, u64),
    Unreadable(String),
}

impl Item {
    fn weight(&self) -> u64 {
        match self {
            Item::Msg(_, w) => *w,
            Item::Unreadable(_) => 0,
        }
    }
}

/// A parsed message, once the budget has room for it.
fn message(m: Inbound, budget: &Budget) -> Item {
    let w = weight(&m);
    budget.take(w);
    Item::Msg(Box::new(m), w)
}

fn mtime(p: &Path) -> (i64, PathBuf) {
    let t = std::fs::metadata(p)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs() as i64);
    (t, p.to_path_buf())
}

/// The delivery time a Maildir file name starts with (`1780000035.M1P2.host`).
fn maildir_time(p: &Path) -> Option<i64> {
    let name = p.file_name()?.to_str()?;
    let (secs, _) = name.split_once('.')?;
    secs.parse().ok().filter(|t| *t > 0)
}

/// The files in `dirs`, oldest first, so an original is stored before the
/// replies to it. In a Maildir the name gives the delivery time, which
/// saves a `stat` of every file (a tenth of the reader's time on 100k).
fn list_files(dirs: &[PathBuf], maildir: bool) -> Vec<(i64, PathBuf)> {
    let mut files: Vec<(i64, PathBuf)> = dirs
        .iter()
        .filter_map(|d| std::fs::read_dir(d).ok())
        .flat_map(|rd| rd.filter_map(|e| e.ok()))
        .filter(|e| {
            !e.file_name().to_string_lossy().starts_with('.')
                // A symlink is followed, as `is_file` would.
                && e.file_type().is_ok_and(|t| {
                    t.is_file() || (t.is_symlink() && e.path().is_file())
                })
        })
        .map(|e| {
            let p = e.path();
            match maildir.then(|| maildir_time(&p)).flatten() {
                Some(t) => (t, p),
                None => mtime(&p),
            }
        })
        .collect();
    files.sort();
    files
}

/// A fax account's profile and the region its numbers are read in, for an
/// export of a fax-to-email mailbox: its messages are filed as faxes, as
/// polling that mailbox would file them.
#[derive(Debug, Clone)]
pub struct FaxImport {
    pub profile: crate::channel::fax::Profile,
    pub region: String,
}

fn parse_bytes(raw: &[u8], account: &str, at: i64, fax: Option<&FaxImport>) -> Inbound {
    let pid = format!("sha256:{}", sha256_hex(raw));
    let mut m = mime::parse(raw, account, &pid, at);
    if let Some(f) = fax {
        crate::channel::fax::apply(&f.profile, &mut m, &f.region);
    }
    m
}

fn produce(
    path: &Path,
    kind: SourceKind,
    account: &str,
    fax: Option<&FaxImport>,
    tx: &mpsc::SyncSender<Item>,
    budget: &Budget,
) {
    let send_file = |t: i64, p: &Path| -> bool {
        let size = std::fs::metadata(p).map_or(0, |m| m.len());
        let item = if size > MAX_FILE {
            Item::Unreadable(format!(
                "{}: larger than {} MiB; not imported",
                p.display(),
                MAX_FILE >> 20
            ))
        } else {
            // The file's size is spoken for before it is read, so that a
            // waiting reader holds nothing; the parsed message's own weight
            // replaces it once known.
            budget.take(size);
            let parsed = std::fs::read(p).map(|raw| parse_bytes(&raw, account, t, fax));
            budget.give(size);
            match parsed {
                Ok(m) => message(m, budget),
                Err(e) => Item::Unreadable(format!("{}: {e}", p.display())),
            }
        };
        tx.send(item).is_ok()
    };
    match kind {
        SourceKind::EmlFile => {
            let (t, p) = mtime(path);
            send_file(t, &p);
        }
        SourceKind::EmlDir => {
            for (t, p) in list_files(&[path.to_path_buf()], false) {
                if p.extension().is_some_and(|e| e.eq_ignore_ascii_case("eml")) && !send_file(t, &p)
                {
                    return;
                }
            }
        }
        SourceKind::Maildir => {
            for (t, p) in list_files(&[path.join("cur"), path.join("new")], true) {
                if !send_file(t, &p) {
                    return;
                }
            }
        }
        SourceKind::Mbox => {
            let file = match std::fs::File::open(path) {
                Ok(f) => f,
                Err(e) => {
                    let _ = tx.send(Item::Unreadable(format!("{}: {e}", path.display())));
                    return;
                }
            };
            let now = crate::store::now();
            for (i, m) in
                mail_parser::mailbox::mbox::MessageIterator::new(BufReader::new(file)).enumerate()
            {
                let item = match m {
                    Ok(m) => {
                        let at = match m.internal_date() {
                            0 => now,
                            t => t as i64,
                        };
                        message(parse_bytes(m.contents(), account, at, fax), budget)
                    }
                    Err(_) => Item::Unreadable(format!(
                        "{}: message {} could not be read",
                        path.display(),
                        i + 1
                    )),
                };
                if tx.send(item).is_err() {
                    return;
                }
            }
        }
    }
}

/// Imports everything at `path` into the store under `account`.
/// `progress` is called after each committed batch with the running report.
pub fn import(
    store: &mut Store,
    path: &Path,
    account: &str,
    progress: impl FnMut(&ImportReport),
) -> Result<ImportReport> {
    import_with(store, path, account, None, progress)
}

/// [`import`], with messages from a fax service filed as faxes.
pub fn import_with(
    store: &mut Store,
    path: &Path,
    account: &str,
    fax: Option<FaxImport>,
    mut progress: impl FnMut(&ImportReport),
) -> Result<ImportReport> {
    let kind = detect(path)?;
    let started = Instant::now();
    let ingest = Ingest::new(store.settings());
    let (tx, rx) = mpsc::sync_channel::<Item>(BATCH * 2);
    let path_buf = path.to_path_buf();
    let account_owned = account.to_string();
    let budget = std::sync::Arc::new(Budget::default());
    let reader_budget = budget.clone();
    let producer = std::thread::spawn(move || {
        produce(
            &path_buf,
            kind,
            &account_owned,
            fax.as_ref(),
            &tx,
            &reader_budget,
        )
    });

    let checkpointer = store.path().map(|p| Checkpointer::start(p.to_path_buf()));
    if checkpointer.is_some() {
        store.set_auto_checkpoint(false)?;
    }
    // An in-memory store has no index file to hand to another connection.
    let indexer = match store.path() {
        Some(p) => Some(search_index::Indexer::start(p)?),
        None => None,
    };
    if let Some(sender) = indexer.as_ref().and_then(|i| i.sender()) {
        store.begin_background_indexing(sender)?;
    }
    let result = write_batches(store, &ingest, &rx, &budget, started, &mut progress);
    // Whatever the writer's outcome, what it committed gets indexed.
    let indexed = store.end_background_indexing(|| indexer.map_or(Ok(()), |i| i.finish()));
    if let Some(c) = checkpointer {
        c.stop();
        store.set_auto_checkpoint(true)?;
    }
    // An indexer that failed stopped the writer too; its error says why.
    indexed?;
    let mut report = result?;
    report.elapsed = started.elapsed();
    producer
        .join()
        .map_err(|_| Error::Other("the import reader thread panicked".into()))?;
    Ok(report)
}

/// How large the write-ahead log may grow during an import before the
/// writer stops to empty it.
const WAL_LIMIT: u64 = 64 << 20;

/// Copies the write-ahead log into the database from a second connection
/// while the import writes. Done by the writer itself at every commit past
/// 1,000 pages, this was an eighth of the import's time on the writing
/// thread; the other core has room for it.
struct Checkpointer {
    stop: mpsc::Sender<()>,
    thread: std::thread::JoinHandle<()>,
}

impl Checkpointer {
    fn start(db: PathBuf) -> Checkpointer {
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            // Without its own connection there is nothing to do: the
            // writer's final checkpoint still runs when it is re-enabled.
            let Ok(conn) = rusqlite::Connection::open(&db) else {
                return;
            };
            let _ = conn.busy_timeout(Duration::from_secs(5));
            loop {
                let done = !matches!(
                    stopped.recv_timeout(Duration::from_millis(100)),
                    Err(mpsc::RecvTimeoutError::Timeout)
                );
                // PASSIVE never waits for the writer: it copies what is
                // committed and leaves the rest for the next round.
                let mode = if done { "TRUNCATE" } else { "PASSIVE" };
                let _ = conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |_| Ok(()));
                if done {
                    return;
                }
            }
        });
        Checkpointer { stop, thread }
    }

    fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.thread.join();
    }
}

/// One batch's counts, added to the report once the batch is committed.
#[derive(Default)]
struct Counted {
    seen: u64,
    created: u64,
    threaded: u64,
    duplicates: u64,
    with_errors: u64,
    unreadable: Vec<String>,
}

impl Counted {
    fn add_to(self, r: &mut ImportReport) {
        r.seen += self.seen;
        r.created += self.created;
        r.threaded += self.threaded;
        r.duplicates += self.duplicates;
        r.with_errors += self.with_errors;
        r.unreadable.extend(self.unreadable);
    }
}

/// Writes and commits one batch; `carefully`: each message in a savepoint,
/// a message that fails kept raw with its error.
fn write_batch(
    store: &mut Store,
    ingest: &Ingest,
    batch: &[Item],
    carefully: bool,
) -> Result<Counted> {
    let messages = batch.iter().filter_map(|item| match item {
        Item::Msg(m, _) => Some(&**m),
        Item::Unreadable(_) => None,
    });
    let care = if carefully { Care::Keep } else { Care::Fast };
    let t = commit_batch(store, ingest, messages, &[], care)?;
    Ok(Counted {
        seen: t.fetched,
        created: t.created,
        threaded: t.threaded,
        duplicates: t.duplicates,
        with_errors: t.with_errors,
        unreadable: batch
            .iter()
            .filter_map(|item| match item {
                Item::Unreadable(why) => Some(why.clone()),
                Item::Msg(..) => None,
            })
            .collect(),
    })
}

fn write_batches(
    store: &mut Store,
    ingest: &Ingest,
    rx: &mpsc::Receiver<Item>,
    budget: &Budget,
    started: Instant,
    progress: &mut dyn FnMut(&ImportReport),
) -> Result<ImportReport> {
    let wal = store
        .path()
        .map(|p| PathBuf::from(format!("{}-wal", p.display())));
    let mut report = ImportReport::default();
    let mut batch: Vec<Item> = Vec::with_capacity(BATCH);
    let mut done = false;
    while !done {
        batch.clear();
        let mut bytes = 0;
        match rx.recv() {
            Ok(item) => {
                bytes += item.weight();
                batch.push(item);
            }
            Err(_) => break,
        }
        while batch.len() < BATCH && bytes < BATCH_BYTES {
            match rx.recv_timeout(Duration::from_millis(20)) {
                Ok(item) => {
                    bytes += item.weight();
                    batch.push(item);
                }
                // The reader waits for memory this batch holds: commit it.
                Err(mpsc::RecvTimeoutError::Timeout) if budget.reader_waits() => break,
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    done = true;
                    break;
                }
            }
        }
        // A savepoint per message makes SQLite journal every page each
        // message touches: a third of the import's time. So a batch first
        // goes in plainly; only when a message fails is it rolled back and
        // written again message by message, each in its own savepoint.
        let counted = match write_batch(store, ingest, &batch, false) {
            Ok(c) => c,
            Err(_) => write_batch(store, ingest, &batch, true)?,
        };
        counted.add_to(&mut report);
        batch.clear();
        budget.give(bytes);
        // The log only starts over when a checkpoint has caught up as a
        // write transaction begins, which a writer that never pauses does
        // not allow. Past WAL_LIMIT, the writer finishes the checkpoint
        // itself (little is left to copy) and empties the log.
        if wal
            .as_ref()
            .is_some_and(|w| std::fs::metadata(w).is_ok_and(|m| m.len() > WAL_LIMIT))
        {
            store.checkpoint_truncate()?;
        }
        report.elapsed = started.elapsed();
        progress(&report);
    }
    report.elapsed = started.elapsed();
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maildir_files_are_ordered_by_the_time_in_their_names() {
        assert_eq!(
            maildir_time(Path::new("new/1780000035.M1P2.host:2,S")),
            Some(1_780_000_035)
        );
        assert_eq!(maildir_time(Path::new("new/notes.txt")), None);
        let dir = tempfile::tempdir().unwrap();
        let new = dir.path().join("new");
        std::fs::create_dir(&new).unwrap();
        // Written newest first, so modification times disagree with names.
        for name in ["300.c.h", "200.b.h", "100.a.h", "odd-name", ".hidden"] {
            std::fs::write(new.join(name), b"x").unwrap();
        }
        let names: Vec<(i64, String)> = list_files(&[new], true)
            .into_iter()
            .map(|(t, p)| (t, p.file_name().unwrap().to_string_lossy().into_owned()))
            .collect();
        let order: Vec<&str> = names.iter().map(|(_, n)| n.as_str()).collect();
        assert_eq!(order, ["100.a.h", "200.b.h", "300.c.h", "odd-name"]);
        // A name without a time falls back to the file's modification time.
        assert!(names[3].0 > 1_000_000_000, "{names:?}");
    }
}
