//! Gammu SMSD with its SQL backend (SQLite): the other common GSM-modem
//! gateway daemon. The tables are Gammu's own (`inbox`, `outbox`,
//! `outbox_multipart`, `sentitems`); this module is the only place that
//! speaks them, as the gateway's protocol.
//!
//! Incoming: rows with `Processed = 'false'`. The parts of a concatenated
//! text arrive as separate rows whose UDH carries (reference, total,
//! sequence); they are joined before ingest, and a text still missing a
//! part waits, unless its first part is a day old, in which case what
//! there is goes in, marked as incomplete. The rows are marked processed
//! only after the store commit.
//!
//! Outgoing: one `outbox` row, and for a long text `MultiPart = 'true'`
//! with the further parts in `outbox_multipart`, each with its
//! concatenation UDH, as Gammu expects. `sentitems` gives the delivery.

use std::collections::BTreeMap;
use std::path::PathBuf;

use rusqlite::{params, Connection};

use super::account::SmsAccount;
use super::segments::{self, Encoding};
use super::{PollReport, SmsError};
use crate::inbound::{Inbound, Sink};
use crate::outbound::OutboxItem;

fn open(acct: &SmsAccount) -> Result<Connection, SmsError> {
    let path: PathBuf = match &acct.gateway {
        super::account::GatewayConfig::Gammu { database } => Some(database.clone()),
        _ => None,
    }
    .ok_or_else(|| SmsError::new(&acct.name, "gammu", "no database configured", false))?;
    let c = Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE)
        .map_err(|e| {
            SmsError::new(
                &acct.name,
                "gammu",
                format!("{}: {e}", path.display()),
                true,
            )
        })?;
    c.busy_timeout(std::time::Duration::from_secs(10))
        .map_err(|e| SmsError::new(&acct.name, "gammu", e.to_string(), true))?;
    Ok(c)
}

/// (reference, total, sequence) from a concatenation UDH: 8-bit
/// (`050003RRTTSS`) or 16-bit (`060804RRRRTTSS`) reference.
pub fn concat_udh(udh: &str) -> Option<(u32, u8, u8)> {
    let b: Vec<u8> = (0..udh.len() / 2)
        .filter_map(|i| u8::from_str_radix(udh.get(i * 2..i * 2 + 2)?, 16).ok())
        .collect();
    match b.as_slice() {
        [5, 0, 3, r, t, s, ..] => Some((u32::from(*r), *t, *s)),
        [6, 8, 4, r1, r2, t, s, ..] => Some((u32::from(*r1) << 8 | u32::from(*r2), *t, *s)),
        _ => None,
    }
}

struct Row {
    id: i64,
    sender: String,
    received: String,
    text: String,
    udh: String,
}

/// A whole text: (its inbox row IDs, sender, time, text, what is missing).
type Joined = (Vec<i64>, String, i64, String, Option<String>);

/// Gammu's `ReceivingDateTime`, as Unix seconds.
pub fn parse_time(s: &str) -> Option<i64> {
    gammu_time(s)
}

fn gammu_time(s: &str) -> Option<i64> {
    chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S")
        .ok()
        .map(|d| d.and_utc().timestamp())
}

/// A column as text whatever the row holds: SQLite does not check that
/// TEXT is UTF-8, and a NULL or a blob in one row must not fail the poll.
fn lossy(r: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<String> {
    use rusqlite::types::ValueRef;
    Ok(match r.get_ref(i)? {
        ValueRef::Text(b) | ValueRef::Blob(b) => String::from_utf8_lossy(b).into_owned(),
        ValueRef::Integer(n) => n.to_string(),
        ValueRef::Real(x) => x.to_string(),
        ValueRef::Null => String::new(),
    })
}

/// One pass over unprocessed `inbox` rows.
pub async fn poll(sink: &mut impl Sink, acct: &SmsAccount) -> Result<PollReport, SmsError> {
    let err = |step: &'static str| {
        move |e: rusqlite::Error| SmsError::new(&acct.name, step, e.to_string(), true)
    };
    let db = open(acct)?;
    let rows: Vec<Row> = db
        .prepare(
            "SELECT ID, SenderNumber, ReceivingDateTime, TextDecoded, UDH FROM inbox
             WHERE Processed = 'false' ORDER BY ID",
        )
        .map_err(err("inbox"))?
        .query_map([], |r| {
            Ok(Row {
                id: r.get(0)?,
                sender: lossy(r, 1)?,
                received: lossy(r, 2)?,
                text: lossy(r, 3)?,
                udh: lossy(r, 4)?,
            })
        })
        .map_err(err("inbox"))?
        .collect::<rusqlite::Result<_>>()
        .map_err(err("inbox"))?;
    // Join the parts of concatenated texts.
    let mut texts: Vec<Joined> = Vec::new();
    let mut groups: BTreeMap<(String, u32, u8), Vec<(u8, Row)>> = BTreeMap::new();
    for r in rows {
        match concat_udh(&r.udh) {
            Some((reference, total, seq)) if total > 1 => {
                groups
                    .entry((r.sender.clone(), reference, total))
                    .or_default()
                    .push((seq, r));
            }
            _ => {
                let at = gammu_time(&r.received).unwrap_or_else(crate::model::now);
                texts.push((vec![r.id], r.sender, at, r.text, None));
            }
        }
    }
    let now = crate::model::now();
    for ((sender, _, total), mut parts) in groups {
        parts.sort_by_key(|(s, _)| *s);
        let first_at = parts
            .first()
            .and_then(|(_, r)| gammu_time(&r.received))
            .unwrap_or(now);
        let complete = parts.len() == usize::from(total);
        if !complete && now - first_at < 86_400 {
            continue; // the rest may still come
        }
        let note = (!complete).then(|| {
            format!(
                "concatenated text incomplete: {} of {total} parts arrived",
                parts.len()
            )
        });
        let ids = parts.iter().map(|(_, r)| r.id).collect();
        let text: String = parts.iter().map(|(_, r)| r.text.as_str()).collect();
        texts.push((ids, sender, first_at, text, note));
    }
    texts.sort_by_key(|t| t.0[0]);
    let mut report = PollReport {
        account: acct.name.clone(),
        ..Default::default()
    };
    let batch: Vec<Inbound> = texts
        .iter()
        .map(|(ids, sender, at, text, note)| {
            let mut m = super::text_message(
                acct,
                &format!("gammu:{}", ids[0]),
                sender,
                text,
                *at,
                Vec::new(),
            );
            m.parse_error = note.clone();
            m
        })
        .collect();
    let t = sink
        .commit(batch, Vec::new())
        .await
        .map_err(|e| SmsError::new(&acct.name, "store", e.0, true))?;
    report.add(t);
    // Only now tell Gammu they are taken.
    let mut mark = db
        .prepare("UPDATE inbox SET Processed = 'true' WHERE ID = ?")
        .map_err(err("inbox"))?;
    for (ids, ..) in &texts {
        for id in ids {
            mark.execute([id]).map_err(err("inbox"))?;
        }
    }
    Ok(report)
}

/// Queues a text in Gammu's outbox; returns its outbox ID.
pub fn send(acct: &SmsAccount, item: &OutboxItem) -> Result<String, SmsError> {
    let err = |e: rusqlite::Error| SmsError::new(&acct.name, "send", e.to_string(), true);
    let mut db = open(acct)?;
    let coding = match segments::count(&item.body).encoding {
        Encoding::Gsm7 => "Default_No_Compression",
        Encoding::Ucs2 => "Unicode_No_Compression",
    };
    let parts = segments::split(&item.body);
    let total = parts.len();
    // A reference per message, from the outbox entry: 8 bits, as phones expect.
    let reference = (item.id % 255 + 1) as u8;
    let udh = |seq: usize| {
        if total > 1 {
            format!("050003{reference:02X}{total:02X}{seq:02X}")
        } else {
            String::new()
        }
    };
    let tx = db.transaction().map_err(err)?;
    tx.execute(
        "INSERT INTO outbox (DestinationNumber, TextDecoded, Coding, UDH, MultiPart, CreatorID, SenderID)
         VALUES (?, ?, ?, ?, ?, 'echodesk', NULL)",
        params![
            item.recipient,
            parts[0],
            coding,
            udh(1),
            if total > 1 { "true" } else { "false" }
        ],
    )
    .map_err(err)?;
    let id = tx.last_insert_rowid();
    for (i, p) in parts.iter().enumerate().skip(1) {
        tx.execute(
            "INSERT INTO outbox_multipart (ID, SequencePosition, TextDecoded, Coding, UDH)
             VALUES (?, ?, ?, ?, ?)",
            params![id, i as i64 + 1, p, coding, udh(i + 1)],
        )
        .map_err(err)?;
    }
    tx.commit().map_err(err)?;
    Ok(id.to_string())
}

/// What Gammu reports for an outbox ID: (delivery state, detail).
pub fn delivery(acct: &SmsAccount, id: &str) -> Option<(String, Option<String>)> {
    let db = open(acct).ok()?;
    let id: i64 = id.parse().ok()?;
    let waiting: bool = db
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM outbox WHERE ID = ?)",
            [id],
            |r| r.get(0),
        )
        .ok()?;
    if waiting {
        return Some(("queued".into(), None));
    }
    let statuses: Vec<(String, i64)> = db
        .prepare("SELECT Status, StatusError FROM sentitems WHERE ID = ? ORDER BY SequencePosition")
        .ok()?
        .query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))
        .ok()?
        .collect::<rusqlite::Result<_>>()
        .ok()?;
    if statuses.is_empty() {
        return None;
    }
    // The text is only as far as its least advanced part.
    let rank = |s: &str| match s {
        "SendingError" | "Error" | "DeliveryFailed" => 0,
        "DeliveryUnknown" | "SendingOKNoReport" | "SendingOK" | "DeliveryPending" => 1,
        "DeliveryOK" => 2,
        _ => 1,
    };
    let (worst, code) = statuses
        .iter()
        .min_by_key(|(s, _)| rank(s))
        .map(|(s, c)| (s.clone(), *c))?;
    let state = match rank(&worst) {
        0 => "failed",
        2 => "delivered",
        _ => "sent",
    };
    let detail = (rank(&worst) == 0).then(|| format!("Gammu: {worst} (error {code})"));
    Some((state.into(), detail))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn udh_references_parse() {
        assert_eq!(concat_udh("050003A70302"), Some((0xA7, 3, 2)));
        assert_eq!(concat_udh("06080401020301"), Some((0x0102, 3, 1)));
        assert_eq!(concat_udh(""), None);
        assert_eq!(concat_udh("zz"), None);
    }
}
