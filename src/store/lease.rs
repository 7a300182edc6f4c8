//! Single-instance leases: at most one daemon works a database. The holder
//! renews its lease well inside the lease time; a holder that died without
//! releasing it loses it when the time runs out, so a crashed daemon never
//! blocks the next one for long.

use rusqlite::{params, OptionalExtension};
use serde::Serialize;

use super::Store;
use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Lease {
    pub name: String,
    pub holder: String,
    pub pid: i64,
    pub host: String,
    pub acquired_at: i64,
    pub expires_at: i64,
}

impl Store {
    /// Takes the lease `name` for `holder` for `ttl` seconds, unless someone
    /// else holds it unexpired; renewing one's own lease is the same call.
    pub fn acquire_lease(&mut self, name: &str, holder: &str, ttl: i64) -> Result<Lease> {
        let tx = self.transaction()?;
        let now = tx.now();
        if let Some(cur) = tx.lease(name)? {
            // A holder on this host whose process is gone has let go.
            let gone = cur.host == hostname() && !process_alive(cur.pid);
            if cur.holder != holder && cur.expires_at > now && !gone {
                return Err(Error::Busy(format!(
                    "`{name}` is held by pid {} on {} since {} (until {} unless renewed)",
                    cur.pid,
                    cur.host,
                    stamp(cur.acquired_at),
                    stamp(cur.expires_at),
                )));
            }
        }
        let host = hostname();
        let pid = i64::from(std::process::id());
        tx.tx.execute(
            "INSERT INTO leases (name, holder, pid, host, acquired_at, expires_at)
             VALUES (?, ?, ?, ?, ?, ?)
             ON CONFLICT (name) DO UPDATE SET
               acquired_at = CASE WHEN leases.holder = excluded.holder THEN leases.acquired_at ELSE excluded.acquired_at END,
               holder = excluded.holder, pid = excluded.pid, host = excluded.host,
               expires_at = excluded.expires_at",
            params![name, holder, pid, host, now, now + ttl],
        )?;
        let lease = tx
            .lease(name)?
            .ok_or_else(|| Error::Busy(format!("`{name}`: the lease vanished while taking it")))?;
        tx.commit()?;
        Ok(lease)
    }

    /// Gives the lease up, if `holder` still has it.
    pub fn release_lease(&mut self, name: &str, holder: &str) -> Result<bool> {
        let tx = self.transaction()?;
        let n = tx.tx.execute(
            "DELETE FROM leases WHERE name = ? AND holder = ?",
            params![name, holder],
        )?;
        tx.commit()?;
        Ok(n > 0)
    }

    /// The current, unexpired holder of `name`.
    pub fn lease_holder(&self, name: &str) -> Result<Option<Lease>> {
        let l = read_lease(&self.conn, name)?;
        Ok(l.filter(|l| l.expires_at > super::now()))
    }
}

impl super::Tx<'_> {
    fn lease(&self, name: &str) -> Result<Option<Lease>> {
        read_lease(&self.tx, name)
    }
}

fn read_lease(conn: &rusqlite::Connection, name: &str) -> Result<Option<Lease>> {
    Ok(conn
        .prepare_cached(
            "SELECT name, holder, pid, host, acquired_at, expires_at FROM leases WHERE name = ?",
        )?
        .query_row([name], |r| {
            Ok(Lease {
                name: r.get(0)?,
                holder: r.get(1)?,
                pid: r.get(2)?,
                host: r.get(3)?,
                acquired_at: r.get(4)?,
                expires_at: r.get(5)?,
            })
        })
        .optional()?)
}

fn stamp(ts: i64) -> String {
    chrono::DateTime::from_timestamp(ts, 0)
        .map(|d| d.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|| ts.to_string())
}

/// Whether a process with this id exists on this host. A pid reused by
/// another program reads as alive: the lease then simply runs out.
pub(crate) fn process_alive(pid: i64) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    if pid <= 0 {
        return false;
    }
    // SAFETY: signal 0 only checks that the process exists and may be
    // signalled; nothing is delivered.
    let r = unsafe { libc::kill(pid, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

pub(crate) fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Settings;

    #[test]
    fn second_holder_is_refused_until_expiry_or_release() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("l.db");
        let mut a = Store::open(&path, Settings::default()).unwrap();
        let mut b = Store::open(&path, Settings::default()).unwrap();
        let first = a.acquire_lease("daemon", "a", 30).unwrap();
        assert_eq!(first.holder, "a");
        let err = b.acquire_lease("daemon", "b", 30).unwrap_err();
        assert!(err.to_string().contains("held by pid"), "{err}");
        // Renewing keeps the original start.
        let again = a.acquire_lease("daemon", "a", 30).unwrap();
        assert_eq!(again.acquired_at, first.acquired_at);
        assert!(a.release_lease("daemon", "a").unwrap());
        assert_eq!(b.acquire_lease("daemon", "b", 30).unwrap().holder, "b");
        assert!(!a.release_lease("daemon", "a").unwrap());
    }

    #[test]
    fn a_lease_of_a_dead_process_on_this_host_can_be_taken() {
        let mut s = Store::open_in_memory(Settings::default()).unwrap();
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = i64::from(child.id());
        child.wait().unwrap();
        s.conn
            .execute(
                "INSERT INTO leases (name, holder, pid, host, acquired_at, expires_at)
                 VALUES ('daemon', 'killed', ?, ?, 0, ?)",
                rusqlite::params![dead, hostname(), crate::store::now() + 600],
            )
            .unwrap();
        assert_eq!(s.acquire_lease("daemon", "b", 30).unwrap().holder, "b");
        // One elsewhere, or alive here, is respected.
        s.conn
            .execute(
                "UPDATE leases SET holder = 'other', host = 'elsewhere', pid = ?",
                [dead],
            )
            .unwrap();
        assert!(s.acquire_lease("daemon", "c", 30).is_err());
    }

    #[test]
    fn an_expired_lease_can_be_taken() {
        let mut s = Store::open_in_memory(Settings::default()).unwrap();
        s.acquire_lease("daemon", "dead", -1).unwrap();
        assert_eq!(s.lease_holder("daemon").unwrap(), None);
        assert_eq!(s.acquire_lease("daemon", "b", 30).unwrap().holder, "b");
    }
}
