//! smstools (smsd) spool directories: the GSM-modem gateway on the support
//! server.
//!
//! Incoming: smsd writes one file per text into `incoming/`: header lines
//! (`From:`, `From_TOA:`, `Sent:`, `Received:`, `Alphabet:` …), a blank
//! line, then the text. UCS2 texts are raw big-endian UTF-16; ISO/GSM texts
//! are ISO-8859-15. A poll stores them all in one transaction and only then
//! moves the files to the processed directory: a crash in between re-reads
//! them, and dedupe (on the file name) stores nothing twice.
//!
//! Outgoing: a file named `echodesk-<outbox id>` is written beside
//! `outgoing/` and renamed into it, so smsd never reads half a file. smsd
//! moves it to `sent/` or `failed/` (with `Fail_reason:`); that is the
//! delivery state.

use std::path::{Path, PathBuf};

use super::account::SmsAccount;
use super::{PollReport, SmsError};
use crate::inbound::Sink;
use crate::outbound::OutboxItem;

/// One incoming file, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct SpoolText {
    pub from: String,
    pub received_at: Option<i64>,
    pub text: String,
    /// smsd's own status reports are not customer messages.
    pub status_report: bool,
}

fn headers_and_body(raw: &[u8]) -> (Vec<(String, String)>, &[u8]) {
    let mut headers = Vec::new();
    let mut pos = 0;
    while pos < raw.len() {
        let end = raw[pos..]
            .iter()
            .position(|b| *b == b'\n')
            .map_or(raw.len(), |i| pos + i);
        let line = String::from_utf8_lossy(&raw[pos..end]);
        let line = line.trim_end_matches('\r');
        pos = (end + 1).min(raw.len());
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    (headers, &raw[pos..])
}

/// smsd's `yy-mm-dd hh:mm:ss`, taken as UTC.
fn spool_time(s: &str) -> Option<i64> {
    chrono::NaiveDateTime::parse_from_str(s, "%y-%m-%d %H:%M:%S")
        .ok()
        .map(|d| d.and_utc().timestamp())
}

pub fn parse(raw: &[u8]) -> Result<SpoolText, String> {
    let (headers, body) = headers_and_body(raw);
    let get = |k: &str| {
        headers
            .iter()
            .find(|(h, _)| h.eq_ignore_ascii_case(k))
            .map(|(_, v)| v.as_str())
    };
    let from = get("From").ok_or("no From: header")?.to_string();
    let alphabet = get("Alphabet").unwrap_or("ISO").to_ascii_uppercase();
    let text = if alphabet.starts_with("UCS") {
        let units: Vec<u16> = body
            .chunks(2)
            .map(|c| u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]))
            .collect();
        String::from_utf16_lossy(&units)
    } else if alphabet.starts_with("UTF") {
        String::from_utf8_lossy(body).into_owned()
    } else {
        encoding_rs::ISO_8859_15.decode(body).0.into_owned()
    };
    // An international sender is written without its plus sign.
    let international = get("From_TOA").is_some_and(|t| t.contains("international"));
    let from = if international && from.chars().all(|c| c.is_ascii_digit()) {
        format!("+{from}")
    } else {
        from
    };
    Ok(SpoolText {
        from,
        received_at: get("Received").or(get("Sent")).and_then(spool_time),
        status_report: text.trim_start().starts_with("SMS STATUS REPORT"),
        text: text.trim_end_matches(['\r', '\n']).to_string(),
    })
}

fn spool(acct: &SmsAccount) -> Result<PathBuf, SmsError> {
    acct.spool()
        .cloned()
        .ok_or_else(|| SmsError::new(&acct.name, "spool", "no spool directory configured", false))
}

/// One pass over `incoming/`.
pub async fn poll(sink: &mut impl Sink, acct: &SmsAccount) -> Result<PollReport, SmsError> {
    let err = |step: &'static str| move |e: String| SmsError::new(&acct.name, step, e, true);
    let incoming = spool(acct)?.join("incoming");
    let processed = acct
        .processed()
        .ok_or_else(|| err("spool")("no processed directory".into()))?;
    std::fs::create_dir_all(&processed)
        .map_err(|e| err("spool")(format!("{}: {e}", processed.display())))?;
    let mut names: Vec<PathBuf> = std::fs::read_dir(&incoming)
        .map_err(|e| err("spool")(format!("{}: {e}", incoming.display())))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            // Regular files only: a symlink planted in incoming/ must not
            // import whatever it points at.
            std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_file())
                && p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| !n.starts_with('.') && !n.ends_with(".LOCK"))
        })
        .collect();
    names.sort();
    let mut report = PollReport {
        account: acct.name.clone(),
        ..Default::default()
    };
    let mut done = Vec::new();
    let mut batch = Vec::new();
    for path in &names {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        // One file that cannot be read, or is far too big for a text, is
        // filed with its problem; the files after it still come in.
        let (raw, problem) = read_spool_file(path);
        let parsed = match problem {
            Some(p) => Err(p),
            None => parse(&raw),
        };
        let inbound = match parsed {
            Ok(t) if t.status_report => {
                done.push(path.clone());
                continue;
            }
            Ok(t) => super::text_message(
                acct,
                &name,
                &t.from,
                &t.text,
                t.received_at.unwrap_or_else(crate::model::now),
                Vec::new(),
            ),
            Err(e) => {
                // Kept, raw, with its problem: never dropped.
                // No sender: a customer of its own, never a shared
                // "unknown" that every broken file would join.
                let mut m =
                    super::text_message(acct, &name, "", "", crate::model::now(), Vec::new());
                m.parse_error = Some(format!("{name}: {e}"));
                m.raw = Some(raw.clone());
                m.body_text = String::from_utf8_lossy(&raw).into_owned();
                m
            }
        };
        batch.push(inbound);
        done.push(path.clone());
    }
    let t = sink
        .commit(batch, Vec::new())
        .await
        .map_err(|e| err("store")(e.0))?;
    report.add(t);
    // Only now, with the texts safe in the store, move the files. A file
    // that cannot be moved is filed already: the next poll sees it as a
    // duplicate, so this is worth a warning, not a failed poll.
    for p in done {
        if let Some(name) = p.file_name() {
            if let Err(e) = std::fs::rename(&p, processed.join(name)) {
                tracing::warn!(account = %acct.name, "moving {}: {e}", p.display());
            }
        }
    }
    Ok(report)
}

/// An SMS spool file is a few hundred bytes; more than this is not a text.
const MAX_SPOOL_FILE: u64 = 1 << 20;

/// The file's bytes (at most [`MAX_SPOOL_FILE`]), and what was wrong.
fn read_spool_file(path: &std::path::Path) -> (Vec<u8>, Option<String>) {
    use std::io::Read;
    let mut f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) => return (Vec::new(), Some(format!("could not be read: {e}"))),
    };
    let mut raw = Vec::new();
    if let Err(e) = (&mut f).take(MAX_SPOOL_FILE + 1).read_to_end(&mut raw) {
        return (raw, Some(format!("could not be read: {e}")));
    }
    if raw.len() as u64 > MAX_SPOOL_FILE {
        raw.truncate(64 << 10);
        return (
            raw,
            Some(format!(
                "larger than {} MiB, not a text message; its start is kept",
                MAX_SPOOL_FILE >> 20
            )),
        );
    }
    (raw, None)
}

fn outgoing_file(item: &OutboxItem) -> String {
    file_name(item.id)
}

/// The spool file name of an outbox entry.
pub fn file_name(outbox_id: i64) -> String {
    format!("echodesk-{outbox_id}")
}

/// The spool directory an entry's file is in, if smsd has it anywhere.
pub fn find_sent(acct: &SmsAccount, outbox_id: i64) -> Option<&'static str> {
    let root = acct.spool()?;
    let name = file_name(outbox_id);
    ["outgoing", "checked", "sent", "failed"]
        .into_iter()
        .find(|d| root.join(d).join(&name).exists())
}

/// Queues a text for smsd: written beside `outgoing/`, then renamed in.
/// Returns the file name, which is how its fate is found later.
pub fn send(acct: &SmsAccount, item: &OutboxItem) -> Result<String, SmsError> {
    let err = |e: String| SmsError::new(&acct.name, "send", e, true);
    let root = spool(acct)?;
    let outgoing = root.join("outgoing");
    let name = outgoing_file(item);
    let to = item.recipient.trim_start_matches('+');
    let seg = super::segments::count(&item.body);
    let (alphabet, body): (&str, Vec<u8>) = match seg.encoding {
        super::segments::Encoding::Gsm7 => (
            "ISO",
            encoding_rs::ISO_8859_15.encode(&item.body).0.into_owned(),
        ),
        super::segments::Encoding::Ucs2 => (
            "UCS2",
            item.body
                .encode_utf16()
                .flat_map(|u| u.to_be_bytes())
                .collect(),
        ),
    };
    let mut file = format!("To: {to}\nAlphabet: {alphabet}\n\n").into_bytes();
    file.extend_from_slice(&body);
    let tmp = root.join(format!(".{name}.tmp"));
    std::fs::write(&tmp, &file).map_err(|e| err(format!("{}: {e}", tmp.display())))?;
    std::fs::rename(&tmp, outgoing.join(&name))
        .map_err(|e| err(format!("{}: {e}", outgoing.display())))?;
    Ok(name)
}

/// Where smsd has put an outgoing file: (delivery state, detail).
pub fn delivery(acct: &SmsAccount, name: &str) -> Option<(String, Option<String>)> {
    let root = acct.spool()?;
    let in_dir = |d: &str| -> Option<Vec<u8>> { std::fs::read(root.join(d).join(name)).ok() };
    if let Some(raw) = in_dir("failed") {
        let (headers, _) = headers_and_body(&raw);
        let reason = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("Fail_reason"))
            .map(|(_, v)| v.clone());
        return Some(("failed".into(), reason));
    }
    if in_dir("sent").is_some() {
        return Some(("sent".into(), None));
    }
    if in_dir("outgoing").is_some() || in_dir("checked").is_some() {
        return Some(("queued".into(), None));
    }
    None
}

/// For tests and the docs: the directory layout smsd uses.
pub fn make_spool(root: &Path) -> std::io::Result<()> {
    for d in [
        "incoming",
        "outgoing",
        "checked",
        "sent",
        "failed",
        "processed",
    ] {
        std::fs::create_dir_all(root.join(d))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ucs2_and_iso_files_decode() {
        let mut raw = b"From: 8613800138000\nFrom_TOA: 91 international, ISDN/telephone\nReceived: 26-11-23 10:00:05\nAlphabet: UCS2\n\n".to_vec();
        raw.extend(
            "你好，快递到了吗？"
                .encode_utf16()
                .flat_map(|u| u.to_be_bytes()),
        );
        let t = parse(&raw).unwrap();
        assert_eq!(t.from, "+8613800138000");
        assert_eq!(t.text, "你好，快递到了吗？");
        assert_eq!(t.received_at, Some(1_795_428_005));
        let iso = b"From: 4915112345678\nFrom_TOA: 91 international\nAlphabet: ISO\n\nGr\xfc\xdfe, 5 \xa4\n";
        assert_eq!(parse(iso).unwrap().text, "Grüße, 5 €");
        assert!(parse(b"Alphabet: ISO\n\nno sender").is_err());
    }
}
