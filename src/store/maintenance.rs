//! Looking after the database file: change detection, online backups,
//! counts, checkpoints and `PRAGMA optimize`.

use super::*;

impl Store {
    /// Changes whenever another connection commits; front ends poll it to
    /// refresh without a keypress.
    pub fn data_version(&self) -> Result<i64> {
        let main: i64 = self
            .conn
            .query_row("PRAGMA main.data_version", [], |r| r.get(0))?;
        // Detached while a bulk import indexes in the background. Both
        // only grow, so the sum changes whenever either does.
        let search: i64 = self
            .conn
            .query_row("PRAGMA search.data_version", [], |r| r.get(0))
            .unwrap_or(0);
        Ok(main + search)
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
        create_private(dest)?;
        let mut out = Connection::open(dest)?;
        {
            let backup = rusqlite::backup::Backup::new(&self.conn, &mut out)?;
            backup.run_to_completion(256, std::time::Duration::from_millis(5), None)?;
        }
        // The copy has no index file of its own: forgetting which index it
        // had makes the first open build one, even where a stale index
        // file sits beside it.
        out.execute("DELETE FROM store_meta WHERE key = 'search_epoch'", [])?;
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
        // The index file is reached through FTS5 alone, which plans its
        // own reads: its tables need no statistics.
        self.conn
            .execute_batch("PRAGMA analysis_limit = 1000; PRAGMA main.optimize; ANALYZE main;")?;
        Ok(())
    }
}
