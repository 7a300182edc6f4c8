//! The core's side of [`Sink`]: what channels hand their batches to.
//!
//! [`Direct`] commits on the caller's thread, into a store the caller
//! holds (tests, in-memory stores). [`Writer`] owns a store connection on
//! a thread of its own, so a poller's next fetch runs while the previous
//! batch commits, and writes the search documents of a burst of batches
//! on a third; both commit through [`commit_batch`], the one path.

use std::path::Path;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::sync::oneshot;

use crate::error::Result;
use crate::inbound::{Cursor, Inbound, Sink, SinkError, Tally};
use crate::ingest::{commit_batch, Care, Ingest};
use crate::store::search_index::Indexer;
use crate::store::{Settings, Store};

fn sink_err(e: crate::Error) -> SinkError {
    SinkError(e.to_string())
}

/// Commits in place, into a borrowed store.
pub struct Direct<'s> {
    store: &'s mut Store,
    ingest: Ingest,
    region: String,
}

impl<'s> Direct<'s> {
    /// A sink for a live channel: customer messages reach the rules.
    pub fn new(store: &'s mut Store) -> Direct<'s> {
        let ingest = Ingest::new(store.settings()).live();
        let region = store.settings().default_region.clone();
        Direct {
            store,
            ingest,
            region,
        }
    }
}

impl Sink for Direct<'_> {
    fn region(&self) -> &str {
        &self.region
    }

    async fn cursor(&mut self, account: &str, scope: &str) -> Result<Option<String>, SinkError> {
        self.store.cursor(account, scope).map_err(sink_err)
    }

    async fn known(&mut self, account: &str, provider_id: &str) -> Result<bool, SinkError> {
        known(self.store, account, provider_id).map_err(sink_err)
    }

    async fn commit(
        &mut self,
        batch: Vec<Inbound>,
        cursors: Vec<Cursor>,
    ) -> Result<Tally, SinkError> {
        commit_batch(self.store, &self.ingest, &batch, &cursors, Care::Keep).map_err(sink_err)
    }

    async fn record_poll(&mut self, account: &str, scope: &str, outcome: Result<u64, String>) {
        self.store.record_poll(
            account,
            scope,
            outcome.as_ref().map(|n| *n).map_err(|e| e.as_str()),
        );
    }
}

fn known(store: &mut Store, account: &str, provider_id: &str) -> Result<bool> {
    let tx = store.transaction()?;
    tx.has_provider_id(account, provider_id)
}

type Reply<T> = oneshot::Sender<Result<T, SinkError>>;

enum Job {
    Cursor(String, String, Reply<Option<String>>),
    Known(String, String, Reply<bool>),
    Commit(Vec<Inbound>, Vec<Cursor>, Reply<Tally>),
    RecordPoll(String, String, Result<u64, String>, oneshot::Sender<()>),
}

/// A store connection on its own thread, working jobs in order.
pub struct Writer {
    jobs: Option<mpsc::Sender<Job>>,
    thread: Option<JoinHandle<()>>,
    region: String,
}

impl Writer {
    /// Opens the database at `path` on a new thread; fails as
    /// [`Store::open`] does.
    pub fn open(path: &Path, settings: Settings) -> Result<Writer> {
        let region = settings.default_region.clone();
        let (jobs, rx) = mpsc::channel::<Job>();
        let (ready_tx, ready_rx) = mpsc::channel::<Result<()>>();
        let path = path.to_path_buf();
        let thread = std::thread::Builder::new()
            .name("intake".into())
            .spawn(move || {
                let mut store = match Store::open(&path, settings) {
                    Ok(s) => {
                        let _ = ready_tx.send(Ok(()));
                        s
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                let ingest = Ingest::new(store.settings()).live();
                work(&mut store, &ingest, &rx);
            })
            .map_err(|e| crate::Error::Other(format!("starting the intake thread: {e}")))?;
        match ready_rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(e),
            Err(_) => {
                return Err(crate::Error::Other(
                    "the intake thread ended before it opened the database".into(),
                ))
            }
        }
        Ok(Writer {
            jobs: Some(jobs),
            thread: Some(thread),
            region,
        })
    }

    async fn ask<T>(&mut self, job: impl FnOnce(Reply<T>) -> Job) -> Result<T, SinkError> {
        let (tx, rx) = oneshot::channel();
        let gone = || SinkError("the intake thread has stopped".into());
        self.jobs
            .as_ref()
            .ok_or_else(gone)?
            .send(job(tx))
            .map_err(|_| gone())?;
        rx.await.map_err(|_| gone())?
    }
}

/// How long the writer waits for the next batch before it writes the
/// rest of the search documents and settles the index.
const BURST_GAP: Duration = Duration::from_millis(100);

/// The writer thread: jobs in order until the channel closes. While
/// batches come one after the other, their search documents go to a
/// second thread (as an import's do), so filing and indexing share the
/// two cores; a pause of [`BURST_GAP`] ends that, and the index is
/// settled, so a search finds what was stored.
fn work(store: &mut Store, ingest: &Ingest, rx: &mpsc::Receiver<Job>) {
    let mut indexer: Option<Indexer> = None;
    loop {
        let job = match &indexer {
            Some(_) => match rx.recv_timeout(BURST_GAP) {
                Ok(job) => job,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    settle(store, indexer.take());
                    continue;
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            },
            None => match rx.recv() {
                Ok(job) => job,
                Err(_) => break,
            },
        };
        // A reply nobody waits for any more (the poller was stopped) is
        // dropped; the work itself is done or not as a whole, being one
        // transaction.
        match job {
            Job::Cursor(a, s, reply) => {
                let _ = reply.send(store.cursor(&a, &s).map_err(sink_err));
            }
            Job::Known(a, p, reply) => {
                let _ = reply.send(known(store, &a, &p).map_err(sink_err));
            }
            Job::Commit(batch, cursors, reply) => {
                if indexer.is_none() && batch.len() > 1 {
                    indexer = start_indexing(store);
                }
                // Fast first (no savepoint per message); a batch the store
                // refuses is rolled back and filed with care, message by
                // message, so one bad message costs only itself.
                let r = commit_batch(store, ingest, &batch, &cursors, Care::Fast).or_else(|e| {
                    tracing::debug!("batch refused ({e}); filing it message by message");
                    commit_batch(store, ingest, &batch, &cursors, Care::Keep)
                });
                drop(batch);
                let _ = reply.send(r.map_err(sink_err));
            }
            Job::RecordPoll(a, s, outcome, done) => {
                store.record_poll(&a, &s, outcome.as_ref().map(|n| *n).map_err(|e| e.as_str()));
                let _ = done.send(());
            }
        }
    }
    settle(store, indexer);
}

fn start_indexing(store: &mut Store) -> Option<Indexer> {
    let indexer = Indexer::start(store.path()?).ok()?;
    let sender = indexer.sender()?;
    match store.begin_background_indexing(sender) {
        Ok(()) => Some(indexer),
        Err(e) => {
            tracing::warn!("search documents stay in the commits: {e}");
            let _ = indexer.finish();
            None
        }
    }
}

/// Waits for the indexer, then settles the queue it answered; what it did
/// not answer stays queued and is indexed on the next open.
fn settle(store: &mut Store, indexer: Option<Indexer>) {
    let Some(indexer) = indexer else { return };
    if let Err(e) = store.end_background_indexing(|| indexer.finish()) {
        tracing::warn!("search index: {e}");
    }
}

impl Drop for Writer {
    /// Waits for the job in hand: a commit under way finishes (or rolls
    /// back) before the process goes on to exit.
    fn drop(&mut self) {
        self.jobs.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Sink for Writer {
    fn region(&self) -> &str {
        &self.region
    }

    async fn cursor(&mut self, account: &str, scope: &str) -> Result<Option<String>, SinkError> {
        let (a, s) = (account.to_string(), scope.to_string());
        self.ask(|r| Job::Cursor(a, s, r)).await
    }

    async fn known(&mut self, account: &str, provider_id: &str) -> Result<bool, SinkError> {
        let (a, p) = (account.to_string(), provider_id.to_string());
        self.ask(|r| Job::Known(a, p, r)).await
    }

    async fn commit(
        &mut self,
        batch: Vec<Inbound>,
        cursors: Vec<Cursor>,
    ) -> Result<Tally, SinkError> {
        self.ask(|r| Job::Commit(batch, cursors, r)).await
    }

    async fn record_poll(&mut self, account: &str, scope: &str, outcome: Result<u64, String>) {
        let (tx, rx) = oneshot::channel();
        let job = Job::RecordPoll(account.to_string(), scope.to_string(), outcome, tx);
        if self.jobs.as_ref().is_some_and(|j| j.send(job).is_ok()) {
            let _ = rx.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime")
            .block_on(f)
    }

    #[test]
    fn the_writer_commits_batches_with_their_cursor_in_order() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let db = dir.path().join("t.db");
        let mut w = Writer::open(&db, Settings::default()).expect("opens");
        let one = vec![
            Inbound::test_email("1", "a@x", "one"),
            Inbound::test_email("2", "b@x", "two"),
        ];
        let t =
            block(w.commit(one, vec![Cursor::new("test", "uid:INBOX", "7:2")])).expect("commits");
        assert_eq!((t.fetched, t.created), (2, 2));
        // The same again: duplicates, and the cursor moves on.
        let again = vec![Inbound::test_email("2", "b@x", "two")];
        let t =
            block(w.commit(again, vec![Cursor::new("test", "uid:INBOX", "7:3")])).expect("commits");
        assert_eq!((t.fetched, t.duplicates), (1, 1));
        assert_eq!(
            block(w.cursor("test", "uid:INBOX")).expect("reads"),
            Some("7:3".to_string())
        );
        assert!(block(w.known("test", "1")).expect("reads"));
        assert!(!block(w.known("test", "9")).expect("reads"));
        block(w.record_poll("test", "status:INBOX", Ok(3)));
        drop(w);
        let store = Store::open(&db, Settings::default()).expect("reopens");
        let status = store
            .cursor("test", "status:INBOX")
            .expect("reads")
            .expect("recorded");
        assert!(status.contains("\"fetched_total\":3"), "{status}");
    }

    #[test]
    fn a_writer_on_a_path_it_cannot_open_says_so() {
        let dir = tempfile::tempdir().expect("a temp dir");
        std::fs::write(dir.path().join("file"), b"").expect("writes");
        let db = dir.path().join("file/t.db");
        let e = Writer::open(&db, Settings::default())
            .err()
            .expect("refused");
        assert!(!e.to_string().is_empty());
    }
}
