//! Customer and asset lists in and out as CSV: the sync with a CRM or a
//! spreadsheet.
//!
//! An import is idempotent on a key column (the CRM's id, an email address
//! or a phone number): each row creates a customer or updates the one it
//! names, matching existing identities by normalised email and E.164
//! number, and is applied whole or not at all (a savepoint per row). The
//! report says per row what happened, and for a refused row the line,
//! column and value that stopped it. Files come as UTF-8 (with or without
//! a BOM), UTF-16 with a BOM, or a legacy encoding (GBK, Big5, Shift_JIS,
//! windows-1252…) named by the user or detected.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::fields::Entity;
use crate::store::{Store, Tx};

mod assets;
mod customers;
mod export;
mod orgs;

pub use assets::Assets;
pub use customers::Customers;
pub use export::{export_customers_csv, export_customers_json};
pub use orgs::Orgs;

/// What a column feeds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    ExternalId,
    Name,
    FirstName,
    LastName,
    Email,
    Phone,
    Fax,
    Org,
    /// An asset's owner: a customer by external id, email or phone.
    Owner,
    Model,
    Serial,
    Purchased,
    WarrantyUntil,
    Location,
    /// An organisation's email domains (or website).
    Domain,
    /// A note for the record's file (added once).
    Note,
    /// A declared field of the records being imported.
    Field(String),
    Ignore,
}

/// What a kind of record needs from the shared import: how its columns
/// are named, which can be the key, and how one checked row is written.
pub trait Records {
    /// `customer`, `asset`, `org`: in messages.
    const WHAT: &'static str;
    /// A header or map value as a target (`None`: not one).
    fn target(name: &str, store: &Store) -> Option<Target>;
    /// The targets a map file may name, for its error message.
    const TARGETS: &'static str;
    /// The columns that can be the key, by the name a map file gives
    /// them, in the order a file without a map is tried.
    const KEYS: &'static [(&'static str, Target)];
    /// The key columns in a sentence: "a serial number or external id".
    const KEY_HINT: &'static str;
    /// The key: the map's choice, else the first the file has.
    fn key(chosen: Option<&str>, has: &dyn Fn(&Target) -> bool) -> Result<Target> {
        let names: Vec<&str> = Self::KEYS.iter().map(|(n, _)| *n).collect();
        let (name, key) = match chosen.map(str::to_lowercase) {
            Some(c) => Self::KEYS.iter().find(|(n, _)| *n == c).ok_or_else(|| {
                Error::invalid(
                    "map file key",
                    c.clone(),
                    format!("expected {}", or_list(&names)),
                )
            })?,
            None => Self::KEYS.iter().find(|(_, t)| has(t)).ok_or_else(|| {
                Error::invalid(
                    "CSV header",
                    String::new(),
                    format!(
                        "no key column: the file needs {} column (or a --map naming one)",
                        Self::KEY_HINT
                    ),
                )
            })?,
        };
        if !has(key) {
            return Err(Error::invalid(
                "map file key",
                name.to_string(),
                "no column feeds it",
            ));
        }
        Ok(key.clone())
    }
    /// The row's key value, normalised; `Err` refuses the row.
    fn row_key(
        row: &Row<'_>,
        key: &Target,
        tx: &Tx<'_>,
    ) -> std::result::Result<Option<String>, String>;
    /// Checks the row whole, then writes it (see `customers::apply`).
    fn apply(
        row: &Row<'_>,
        tx: &Tx<'_>,
        key: &Target,
        create_orgs: bool,
        agent: &str,
    ) -> Result<std::result::Result<(Action, i64, String), String>>;
}

/// `a or b`, `a, b or c`.
fn or_list(names: &[&str]) -> String {
    match names {
        [] => String::new(),
        [one] => one.to_string(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

/// A header that names a declared field of `entity`, by its name or its
/// label.
pub(crate) fn field_target(
    store: &Store,
    entity: Entity,
    key: &str,
    header: &str,
) -> Option<Target> {
    let fields = &store.settings().fields;
    let def = fields.get(entity, key).or_else(|| {
        fields
            .of(entity)
            .find(|d| d.label().eq_ignore_ascii_case(header.trim()))
    })?;
    Some(Target::Field(def.name.clone()))
}

/// `"E-mail 1 - Value"` → `"e_mail_1_value"`: words joined by one `_`.
pub(crate) fn header_key(s: &str) -> String {
    s.trim()
        .to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join("_")
}

/// The map file (`--map map.toml`): which column is the key, and what
/// each column feeds; columns it does not name are matched by header.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Map {
    /// `external_id`, `email` or `phone`; by default the first of these
    /// the file has.
    pub key: Option<String>,
    /// Column separator; by default detected from the header line.
    pub delimiter: Option<String>,
    /// The file's encoding when not UTF-8 (`gbk`, `big5`, `shift_jis`…).
    pub encoding: Option<String>,
    /// Header → target (`"E-Mail" = "email"`, `"Tier" = "tier"`,
    /// `"Notes" = "ignore"`).
    pub columns: BTreeMap<String, String>,
    /// Create organisations named in the file that do not exist (true).
    pub create_orgs: Option<bool>,
}

impl Map {
    pub fn load(path: &std::path::Path) -> Result<Map> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        toml::from_str(&text).map_err(|e| {
            Error::invalid(
                "map file",
                path.display().to_string(),
                e.message().to_string(),
            )
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Created,
    Updated,
    Unchanged,
    Refused,
}

#[derive(Debug, Clone, Serialize)]
pub struct RowReport {
    /// The line the row starts on (a quoted value may span lines).
    pub line: u64,
    pub action: Action,
    /// The record's number (the customer's or the asset's).
    pub id: Option<i64>,
    /// What changed, or why the row was refused.
    pub detail: String,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct ImportReport {
    /// How the bytes were read: `utf-8`, `utf-8 (BOM)`, `GBK (detected)`…
    pub encoding: String,
    pub dry_run: bool,
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub refused: usize,
    pub orgs_created: usize,
    /// Columns nothing reads.
    pub ignored_columns: Vec<String>,
    pub rows: Vec<RowReport>,
}

/// The text of a file in whatever encoding it came: a BOM wins, then the
/// user's label, then valid UTF-8, then a guess (`chardetng`).
pub fn decode(bytes: &[u8], label: Option<&str>) -> Result<(String, String)> {
    if let Some((enc, bom)) = encoding_rs::Encoding::for_bom(bytes) {
        let (text, _) = enc.decode_without_bom_handling(&bytes[bom..]);
        return Ok((text.into_owned(), format!("{} (BOM)", enc.name())));
    }
    if let Some(l) = label {
        let enc = encoding_rs::Encoding::for_label(l.trim().as_bytes()).ok_or_else(|| {
            Error::invalid(
                "encoding",
                l.to_string(),
                "unknown; try utf-8, gbk, big5, shift_jis, euc-kr or windows-1252",
            )
        })?;
        let (text, _, bad) = enc.decode(bytes);
        if bad {
            return Err(Error::invalid(
                "encoding",
                l.to_string(),
                "the file has bytes that are not text in this encoding",
            ));
        }
        return Ok((text.into_owned(), enc.name().to_string()));
    }
    if let Ok(s) = std::str::from_utf8(bytes) {
        return Ok((s.to_string(), "UTF-8".into()));
    }
    let mut det = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Allow);
    det.feed(bytes, true);
    let enc = det.guess(None, chardetng::Utf8Detection::Allow);
    let (text, _, bad) = enc.decode(bytes);
    if bad {
        return Err(Error::invalid(
            "encoding",
            enc.name().to_string(),
            "the file is not UTF-8 and no encoding reads it cleanly; name it with --encoding",
        ));
    }
    Ok((
        text.into_owned(),
        format!("{} (detected; --encoding to override)", enc.name()),
    ))
}

/// `,`, `;`, tab or `|`: whichever the header line has most of outside quotes.
fn sniff_delimiter(text: &str) -> u8 {
    let header = text.lines().next().unwrap_or("");
    let mut best = (b',', 0);
    for d in [b',', b';', b'\t', b'|'] {
        let mut n = 0;
        let mut quoted = false;
        for b in header.bytes() {
            match b {
                b'"' => quoted = !quoted,
                b if b == d && !quoted => n += 1,
                _ => {}
            }
        }
        if n > best.1 {
            best = (d, n);
        }
    }
    best.0
}

/// Imports records of kind `K`. With `dry_run` the same work is done and
/// rolled back, so the report is what a real run would do.
pub fn import<K: Records>(
    store: &mut Store,
    bytes: &[u8],
    map: &Map,
    encoding: Option<&str>,
    dry_run: bool,
    agent: &str,
) -> Result<ImportReport> {
    let (text, how) = decode(bytes, encoding.or(map.encoding.as_deref()))?;
    let delimiter = match map.delimiter.as_deref() {
        Some("\\t") | Some("tab") => b'\t',
        Some(d) if d.len() == 1 => d.as_bytes()[0],
        Some(d) => {
            return Err(Error::invalid(
                "delimiter",
                d.to_string(),
                "expected one character or tab",
            ))
        }
        None => sniff_delimiter(&text),
    };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| Error::invalid("CSV header", String::new(), e.to_string()))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    let mut report = ImportReport {
        encoding: how,
        dry_run,
        ..ImportReport::default()
    };
    let mut targets = Vec::with_capacity(headers.len());
    for h in &headers {
        let mapped = map
            .columns
            .iter()
            .find(|(k, _)| k.trim().eq_ignore_ascii_case(h))
            .map(|(_, v)| v.as_str());
        let t = match mapped {
            Some(v) => K::target(v, store).ok_or_else(|| {
                Error::invalid(
                    "map file",
                    format!("{h} = {v}"),
                    format!("not a target: use {}", K::TARGETS),
                )
            })?,
            None => K::target(h, store).unwrap_or(Target::Ignore),
        };
        if t == Target::Ignore {
            report.ignored_columns.push(h.clone());
        }
        targets.push(t);
    }
    let has = |t: &Target| targets.contains(t);
    let key = K::key(map.key.as_deref(), &has)?;
    if !has(&key) {
        return Err(Error::invalid(
            "map file key",
            format!("{key:?}").to_lowercase(),
            "no column feeds it",
        ));
    }
    let create_orgs = map.create_orgs.unwrap_or(true);
    let tx = store.transaction()?;
    let orgs_before = tx.org_count()?;
    let mut seen_keys: BTreeMap<String, u64> = BTreeMap::new();
    let mut record = csv::StringRecord::new();
    let mut lines = LineCounter::default();
    loop {
        let line = reader.position().line();
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                report.refused += 1;
                report.rows.push(RowReport {
                    line,
                    action: Action::Refused,
                    id: None,
                    detail: format!("not readable as CSV: {e}"),
                });
                continue;
            }
        }
        let line = match record.position() {
            Some(p) => lines.at(text.as_bytes(), p.byte()),
            None => line,
        };
        if record.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        let row = Row {
            cells: &record,
            headers: &headers,
            targets: &targets,
        };
        let outcome = K::row_key(&row, &key, &tx).and_then(|k| {
            if let Some(first) = k.as_ref().and_then(|k| seen_keys.get(k)) {
                return Err(format!(
                    "the same key as line {first}; the later row is left out"
                ));
            }
            Ok(k)
        });
        let outcome = match outcome {
            Ok(k) => match K::apply(&row, &tx, &key, create_orgs, agent)? {
                Ok(done) => {
                    if let Some(k) = k {
                        seen_keys.insert(k, line);
                    }
                    Ok(done)
                }
                Err(why) => Err(why),
            },
            Err(why) => Err(why),
        };
        match outcome {
            Ok((action, customer, detail)) => {
                match action {
                    Action::Created => report.created += 1,
                    Action::Updated => report.updated += 1,
                    _ => report.unchanged += 1,
                }
                report.rows.push(RowReport {
                    line,
                    action,
                    id: Some(customer),
                    detail,
                });
            }
            Err(why) => {
                report.refused += 1;
                report.rows.push(RowReport {
                    line,
                    action: Action::Refused,
                    id: None,
                    detail: why,
                });
            }
        }
    }
    report.orgs_created = (tx.org_count()? - orgs_before).max(0) as usize;
    if dry_run {
        drop(tx);
    } else {
        tx.commit()?;
    }
    Ok(report)
}

/// Line numbers from byte offsets, counted forward once.
#[derive(Default)]
struct LineCounter {
    byte: usize,
    line: u64,
}

impl LineCounter {
    /// The 1-based line of byte `at`; offsets only grow.
    fn at(&mut self, text: &[u8], at: u64) -> u64 {
        let mut at = (at as usize).min(text.len());
        // A record's position is where the reader stood: before the line
        // ends (and blank lines) that precede it.
        while at < text.len() && matches!(text[at], b'\r' | b'\n') {
            at += 1;
        }
        if at >= self.byte {
            self.line += text[self.byte..at].iter().filter(|b| **b == b'\n').count() as u64;
            self.byte = at;
        }
        self.line + 1
    }
}

/// One record of the file, with the columns' targets.
pub struct Row<'a> {
    cells: &'a csv::StringRecord,
    headers: &'a [String],
    targets: &'a [Target],
}

impl Row<'_> {
    pub(crate) fn cells_for<'s>(
        &'s self,
        t: &'s Target,
    ) -> impl Iterator<Item = (&'s str, &'s str)> + 's {
        self.targets
            .iter()
            .zip(self.headers)
            .enumerate()
            .filter(move |(_, (tt, _))| *tt == t)
            .filter_map(|(i, (_, h))| {
                let v = self.cell(i);
                (!v.is_empty()).then_some((h.as_str(), v))
            })
    }

    /// A cell's text, trimmed, without the quote an export (ours, or a
    /// careful spreadsheet's) puts before `=`, `+`, `-` or `@` so that no
    /// spreadsheet reads it as a formula.
    pub(crate) fn cell(&self, i: usize) -> &str {
        let v = self.cells.get(i).unwrap_or("").trim();
        match v.strip_prefix('\'') {
            Some(rest) if rest.starts_with(['=', '+', '-', '@']) => rest,
            _ => v,
        }
    }

    pub(crate) fn one<'s>(&'s self, t: &'s Target) -> Option<&'s str> {
        self.cells_for(t).map(|(_, v)| v).next()
    }

    pub(crate) fn targets(&self) -> &[Target] {
        self.targets
    }

    pub(crate) fn header(&self, i: usize) -> &str {
        &self.headers[i]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_are_read_or_named() {
        let (t, how) = decode(b"\xEF\xBB\xBFname\nA\n", None).unwrap();
        assert_eq!((t.as_str(), how.as_str()), ("name\nA\n", "UTF-8 (BOM)"));
        let gbk = encoding_rs::GBK.encode("姓名,电话\n王伟,13800138000\n").0;
        assert!(std::str::from_utf8(&gbk).is_err());
        let (t, _) = decode(&gbk, Some("gbk")).unwrap();
        assert!(t.contains("王伟"));
        let sjis = encoding_rs::SHIFT_JIS
            .encode("名前,メール\n山田太郎,taro@example.jp\n")
            .0;
        let (t, how) = decode(&sjis, None).unwrap();
        assert!(t.contains("山田太郎"), "{how}: {t}");
        assert!(decode(b"x", Some("klingon")).is_err());
    }

    #[test]
    fn the_delimiter_is_the_header_s() {
        assert_eq!(sniff_delimiter("a;b;\"c,d\"\n1;2;3"), b';');
        assert_eq!(sniff_delimiter("a\tb\tc"), b'\t');
        assert_eq!(sniff_delimiter("a,b"), b',');
    }
}
