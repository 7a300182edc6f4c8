//! Helpers shared by the benchmarks.
#![allow(dead_code)]

use std::path::Path;
use std::time::Duration;

pub fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The `p` quantile (0.5 = median) of the samples.
pub fn pct(v: &mut [Duration], p: f64) -> Duration {
    v.sort();
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

pub fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0)
}

/// Spreads states, assignees, priorities, channels and tags over generated
/// tickets. Each property hashes the id differently, so they are
/// independent of each other as in real data (a channel is not tied to a
/// state). Direct SQL: this shapes a fixture, it is not what is measured.
pub fn shape(db: &Path) {
    let conn = rusqlite::Connection::open(db).expect("open");
    conn.execute_batch(
        "BEGIN;
         UPDATE tickets SET
           state = CASE (id * 2654435761) % 10 WHEN 0 THEN 'new' WHEN 1 THEN 'open' WHEN 2 THEN 'open'
                   WHEN 3 THEN 'pending' WHEN 4 THEN 'on-hold' WHEN 5 THEN 'solved'
                   WHEN 6 THEN 'solved' WHEN 9 THEN 'spam' ELSE 'closed' END,
           assignee = CASE (id * 40507) % 6 WHEN 1 THEN 'alice' WHEN 2 THEN 'bob'
                   WHEN 3 THEN 'chen' WHEN 4 THEN 'yuki' ELSE NULL END,
           priority = (id * 7919) % 4,
           channel = CASE (id * 104729) % 10 WHEN 3 THEN 'sms' WHEN 7 THEN 'sms' WHEN 8 THEN 'fax'
                   ELSE 'email' END;
         INSERT OR IGNORE INTO ticket_tags SELECT id, 'billing' FROM tickets WHERE (id * 31) % 9 = 0;
         INSERT OR IGNORE INTO ticket_tags SELECT id, 'vip' FROM tickets WHERE (id * 37) % 97 = 0;
         COMMIT; ANALYZE;",
    )
    .expect("shape");
}
