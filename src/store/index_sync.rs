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
    /// Drops the queue entries whose documents the index file holds.
    pub(super) fn settle_search_queue(&self) -> Result<()> {
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
