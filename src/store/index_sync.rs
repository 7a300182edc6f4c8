//! Keeping the search index file in step with the store: on open (rebuilt
//! when missing, foreign or from another layout; lost documents written),
//! at commit (the queue of tickets whose documents changed), and while a
//! second thread writes documents (imports, bulk jobs).

use super::*;

impl Store {
    /// Brings the search index file up to date with the store: rebuilt
    /// whole when it is missing, from another build, or not this store's;
    /// otherwise the tickets queued by transactions whose documents were
    /// never written (a crash, a failed import) are indexed now.
    pub(super) fn sync_search_index(&mut self, note: &mut dyn FnMut(&str)) -> Result<()> {
        let current = |conn: &Connection| -> Result<bool> {
            use rusqlite::OptionalExtension;
            let ours: Option<String> = conn
                .query_row(
                    "SELECT value FROM main.store_meta WHERE key = 'search_epoch'",
                    [],
                    |r| r.get(0),
                )
                .optional()?;
            let layout = search_index::meta(conn, "layout")?;
            Ok(ours.is_some()
                && ours == search_index::meta(conn, "epoch")?
                && layout == Some(fts::LAYOUT.to_string()))
        };
        const PENDING: &str =
            "FROM main.search_queue WHERE seq NOT IN (SELECT seq FROM search.search_done)";
        if current(&self.conn)? {
            let pending: i64 =
                self.conn
                    .query_row(&format!("SELECT count(*) {PENDING}"), [], |r| r.get(0))?;
            if pending == 0 {
                return Ok(());
            }
        }
        let epoch = sha256_hex(
            format!(
                "{:?} {} {:?}",
                std::time::SystemTime::now(),
                std::process::id(),
                self.path
            )
            .as_bytes(),
        );
        let tx = self.transaction()?;
        tx.lock_search()?;
        // Another process may have done it while we waited for the lock.
        if current(&tx.tx)? {
            let tickets: Vec<i64> = tx
                .tx
                .prepare(&format!("SELECT DISTINCT ticket_id {PENDING}"))?
                .query_map([], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            for id in tickets {
                tx.mark_dirty(id);
            }
            // Answered by the documents this transaction writes.
            tx.tx.execute(
                &format!("INSERT INTO search.search_done (seq) SELECT seq {PENDING}"),
                [],
            )?;
            return tx.commit();
        }
        tx.tx.execute_batch(
            "INSERT INTO search.tickets_fts (tickets_fts) VALUES ('delete-all');
             DELETE FROM search.search_docs;
             DELETE FROM search.search_done;
             DELETE FROM main.search_queue;",
        )?;
        let ids: Vec<i64> = tx
            .tx
            .prepare("SELECT id FROM tickets ORDER BY id")?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        if !ids.is_empty() {
            note(&format!(
                "building the search index of {} ticket{} (once)…",
                ids.len(),
                if ids.len() == 1 { "" } else { "s" }
            ));
        }
        for id in ids {
            tx.mark_dirty(id);
        }
        tx.tx.execute(
            "INSERT INTO main.store_meta (key, value) VALUES ('search_epoch', ?)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [&epoch],
        )?;
        tx.tx.execute(
            "INSERT INTO search.search_meta (key, value) VALUES ('epoch', ?), ('layout', ?)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [&epoch, &fts::LAYOUT.to_string()],
        )?;
        tx.commit()
    }

    /// Runs `work` with search documents written by a second thread (as
    /// an import does), so that many small transactions in a row (a bulk
    /// job) do not each wait for the full-text index. Whatever `work`
    /// committed is indexed before this returns; after a crash the search
    /// queue has it.
    pub fn with_background_indexing<T>(
        &mut self,
        work: impl FnOnce(&mut Store) -> anyhow::Result<T>,
    ) -> anyhow::Result<T> {
        let indexer = match self.path() {
            Some(p) => Some(search_index::Indexer::start(p)?),
            None => None,
        };
        if let Some(sender) = indexer.as_ref().and_then(|i| i.sender()) {
            self.begin_background_indexing(sender)?;
        }
        let result = work(self);
        let indexed = self.end_background_indexing(|| indexer.map_or(Ok(()), |i| i.finish()));
        let out = result?;
        indexed?;
        Ok(out)
    }
}

impl Tx<'_> {
    /// Takes the search index file's write lock, before anything in this
    /// transaction reads that file: a read first would pin a snapshot that
    /// another writer of the file can make stale, and SQLite then refuses
    /// the write at once instead of waiting.
    pub(super) fn lock_search(&self) -> Result<()> {
        self.tx.prepare_cached(super::LOCK_SEARCH)?.execute([])?;
        Ok(())
    }

    /// Drops the queue entries whose documents the index file holds.
    pub(super) fn settle_search_queue(&self) -> Result<()> {
        self.lock_search()?;
        self.tx.execute_batch(
            "DELETE FROM main.search_queue WHERE seq IN (SELECT seq FROM search.search_done);
             DELETE FROM search.search_done;",
        )?;
        Ok(())
    }

    /// One ticket's search document, from the stored text.
    pub(super) fn document(&self, id: i64, seq: i64) -> Result<search_index::Doc> {
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
        let mut doc = search_index::Doc {
            seq,
            ticket: id,
            text: None,
        };
        let Some((subject, name, idents)) = head else {
            return Ok(doc);
        };
        let fresh_text = self.new_text.borrow_mut().remove(&id);
        let body = match fresh_text {
            Some(text) => text,
            None => {
                let mut body = String::new();
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
                body
            }
        };
        doc.text = Some([subject, body, format!("{name} {idents}")]);
        Ok(doc)
    }
}

#[cfg(test)]
mod tests {
    use super::super::*;
    use std::path::Path;

    fn ctx() -> SearchContext {
        SearchContext {
            me: "a".into(),
            now: 0,
        }
    }

    /// One ticket, subject 我要退款, committed; returns its id.
    fn refund_ticket(store: &mut Store) -> i64 {
        let tx = store.transaction().unwrap();
        let t = add_refund_ticket(&tx);
        tx.commit().unwrap();
        t
    }

    /// One ticket, subject 我要退款, in `tx`, its document due at commit.
    fn add_refund_ticket(tx: &Tx<'_>) -> i64 {
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
        t
    }

    fn open_noting(db: &Path) -> (Store, Vec<String>) {
        let mut notes = Vec::new();
        let store = Store::open_noting(db, Settings::default(), &mut |n| notes.push(n.to_string()))
            .unwrap();
        (store, notes)
    }

    /// An index written by a build with one token per CJK character is
    /// rebuilt on open, so CJK words match in the bigram layout.
    #[test]
    fn an_index_in_an_old_layout_is_rebuilt_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("e.db");
        let refund = crate::query::parse("退款").unwrap();
        {
            let mut store = Store::open(&db, Settings::default()).unwrap();
            let t = refund_ticket(&mut store);
            assert_eq!(store.count(&refund, &ctx()).unwrap(), 1);
            // Back to the first layout: characters one by one.
            store
                .conn
                .execute_batch(&format!(
                    "UPDATE search.search_meta SET value = '1' WHERE key = 'layout';
                     INSERT INTO search.tickets_fts (tickets_fts) VALUES ('delete-all');
                     INSERT INTO search.tickets_fts (rowid, subject, body, customer)
                     VALUES ({t}, ' 我  要  退  款 ', '', ' 李 ');"
                ))
                .unwrap();
            store.forget_search_cache();
            assert_eq!(store.count(&refund, &ctx()).unwrap(), 0);
        }
        let (store, notes) = open_noting(&db);
        assert_eq!(store.count(&refund, &ctx()).unwrap(), 1);
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(notes[0].contains("1 ticket "), "{notes:?}");
        // Once only.
        drop(store);
        let (_, notes) = open_noting(&db);
        assert!(notes.is_empty(), "{notes:?}");
    }

    /// A transaction whose store commit landed but whose index commit did
    /// not (a crash between the two files) leaves its queue entry
    /// unanswered, and the next open writes the document.
    #[test]
    fn a_document_lost_between_the_two_files_is_written_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("e.db");
        let refund = crate::query::parse("退款").unwrap();
        {
            let mut store = Store::open(&db, Settings::default()).unwrap();
            refund_ticket(&mut store);
            store
                .conn
                .execute_batch(
                    "DELETE FROM search.search_done;
                     DELETE FROM search.search_docs;
                     INSERT INTO search.tickets_fts (tickets_fts) VALUES ('delete-all');",
                )
                .unwrap();
            store.forget_search_cache();
            assert_eq!(store.count(&refund, &ctx()).unwrap(), 0);
        }
        let (mut store, notes) = open_noting(&db);
        // Caught up from the queue, not rebuilt.
        assert!(notes.is_empty(), "{notes:?}");
        assert_eq!(store.count(&refund, &ctx()).unwrap(), 1);
        // The next transaction that indexes settles the answered entries.
        refund_ticket(&mut store);
        let queued: i64 = store
            .conn
            .query_row("SELECT count(*) FROM search_queue", [], |r| r.get(0))
            .unwrap();
        assert_eq!(queued, 1, "only the newest entry waits for settling");
    }

    /// The index file's write lock, held by another connection (a
    /// background indexer's batch), does not hold up a transaction that
    /// writes to the store file only; one that writes documents waits for
    /// it and then commits both.
    #[test]
    fn only_a_transaction_writing_documents_waits_for_the_index_file() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("s.db");
        let mut store = Store::open(&db, Settings::default()).unwrap();
        let indexer = Connection::open(search_index::path_for(&db)).unwrap();
        indexer.execute_batch("BEGIN IMMEDIATE").unwrap();

        let started = std::time::Instant::now();
        let tx = store.transaction().unwrap();
        tx.create_customer("Ann", &[]).unwrap();
        tx.commit().unwrap();
        assert!(
            started.elapsed() < std::time::Duration::from_secs(1),
            "a store-only write waited {:?} for the index file",
            started.elapsed()
        );

        let release = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(300));
            indexer.execute_batch("COMMIT").unwrap();
        });
        let started = std::time::Instant::now();
        let t = refund_ticket(&mut store);
        assert!(started.elapsed() >= std::time::Duration::from_millis(250));
        release.join().unwrap();
        let refund = crate::query::parse("退款").unwrap();
        store.forget_search_cache();
        assert_eq!(store.search_ids(&refund, &ctx(), 10).unwrap(), vec![t]);
    }

    /// While an import's indexer lags, another process writes a note on a
    /// ticket the import just stored. The note's document is newer, so the
    /// import's document, written after it, must not replace it.
    #[test]
    fn a_lagging_indexer_does_not_undo_a_newer_document() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("e.db");
        let mut importer = Store::open(&db, Settings::default()).unwrap();
        let (to, held) = std::sync::mpsc::sync_channel(8);
        importer.begin_background_indexing(to).unwrap();
        let t = refund_ticket(&mut importer);
        let docs: Vec<search_index::Doc> = held.try_recv().unwrap();
        assert_eq!(docs.len(), 1);

        // The agent's process: opening it writes the waiting document
        // itself, then the note's.
        let mut agent = Store::open(&db, Settings::default()).unwrap();
        let tx = agent.transaction().unwrap();
        tx.add_agent_message(t, crate::model::Direction::Note, "zebra crossing", "a", 2)
            .unwrap();
        tx.commit().unwrap();

        // The indexer catches up with the import's document.
        let conn = Connection::open(search_index::path_for(&db)).unwrap();
        for d in &docs {
            search_index::write(&conn, "main", d).unwrap();
        }
        importer.end_background_indexing(|| Ok(())).unwrap();
        let zebra = crate::query::parse("zebra").unwrap();
        let refund = crate::query::parse("退款").unwrap();
        for store in [&importer, &agent] {
            store.forget_search_cache();
            assert_eq!(store.count(&zebra, &ctx()).unwrap(), 1);
            assert_eq!(store.count(&refund, &ctx()).unwrap(), 1);
        }
    }

    /// A store from before the index file (migration 7, the index inside
    /// the store) opens with its in-store index dropped and a new index
    /// file built from the stored text, saying so first.
    #[test]
    fn a_store_with_the_index_inside_is_upgraded() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("e.db");
        {
            let mut conn = Connection::open(&db).unwrap();
            conn.pragma_update(None, "journal_mode", "WAL").unwrap();
            schema::migrations().to_version(&mut conn, 7).unwrap();
            conn.execute_batch(
                "INSERT INTO customers (id, name, created_at) VALUES (1, 'Ana Lima', 1);
                 INSERT INTO tickets (id, subject, state, channel, customer_id, created_at, updated_at)
                 VALUES (1, 'Kettle leaks', 'new', 'email', 1, 1, 1);
                 INSERT INTO messages (ticket_id, direction, channel, account, from_addr,
                                       subject, body_text, received_at)
                 VALUES (1, 'in', 'email', 'a', 'ana@x.org', 'Kettle leaks', 'Water on the counter', 1);
                 INSERT INTO tickets_fts (rowid, subject, body, customer)
                 VALUES (1, 'Kettle leaks', 'Water on the counter', 'Ana Lima');",
            )
            .unwrap();
        }
        let (store, notes) = open_noting(&db);
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(notes[0].contains("1 ticket "), "{notes:?}");
        for word in ["counter", "kettle", "lima"] {
            let q = crate::query::parse(word).unwrap();
            assert_eq!(store.count(&q, &ctx()).unwrap(), 1, "{word}");
        }
        let in_store: i64 = store
            .conn
            .query_row(
                "SELECT count(*) FROM main.sqlite_master WHERE name LIKE 'tickets_fts%'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(in_store, 0, "the in-store index is gone");
    }

    /// An import whose indexer died: the rows are committed and queued,
    /// the commit says the indexer stopped, and the next open writes the
    /// documents.
    #[test]
    fn documents_a_failed_indexer_never_wrote_are_written_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("e.db");
        let refund = crate::query::parse("退款").unwrap();
        {
            let mut importer = Store::open(&db, Settings::default()).unwrap();
            let (to, dead) = std::sync::mpsc::sync_channel(1);
            drop(dead);
            importer.begin_background_indexing(to).unwrap();
            let tx = importer.transaction().unwrap();
            add_refund_ticket(&tx);
            let err = tx.commit().unwrap_err().to_string();
            assert!(err.contains("indexer stopped"), "{err}");
            importer.end_background_indexing(|| Ok(())).unwrap();
            assert_eq!(importer.totals().unwrap().0, 1, "the rows are committed");
            assert_eq!(importer.count(&refund, &ctx()).unwrap(), 0);
        }
        let (store, notes) = open_noting(&db);
        assert!(notes.is_empty(), "{notes:?}");
        assert_eq!(store.count(&refund, &ctx()).unwrap(), 1);
    }

    /// Without its index file (deleted, or a copy made by `backup`), a
    /// store builds a new index when opened.
    #[test]
    fn a_missing_or_foreign_index_is_rebuilt() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("e.db");
        let copy = dir.path().join("copy.db");
        let refund = crate::query::parse("退款").unwrap();
        {
            let mut store = Store::open(&db, Settings::default()).unwrap();
            refund_ticket(&mut store);
            store.backup(&copy).unwrap();
            // A stale index beside the copy, as if left from an older one.
            std::fs::copy(search_index::path_for(&db), search_index::path_for(&copy)).unwrap();
            refund_ticket(&mut store);
        }
        std::fs::remove_file(search_index::path_for(&db)).unwrap();
        for path in [&db, &copy] {
            let (store, notes) = open_noting(path);
            assert_eq!(notes.len(), 1, "{}: {notes:?}", path.display());
            let want = if path == &db { 2 } else { 1 };
            assert_eq!(store.count(&refund, &ctx()).unwrap(), want);
        }
    }
}
