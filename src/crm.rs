//! Customer lists in and out as CSV: the sync with a CRM or a spreadsheet.
//!
//! An import is idempotent on a key column (the CRM's id, an email address
//! or a phone number): each row creates a customer or updates the one it
//! names, matching existing identities by normalised email and E.164
//! number, and is applied whole or not at all (a savepoint per row). The
//! report says per row what happened, and for a refused row the line,
//! column and value that stopped it. Files come as UTF-8 (with or without
//! a BOM), UTF-16 with a BOM, or a legacy encoding (GBK, Big5, Shift_JIS,
//! windows-1252…) named by the user or detected.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::fields::Entity;
use crate::identity;
use crate::model::IdentityKind;
use crate::store::{Store, Tx};

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
    Field(String),
    Ignore,
}

impl Target {
    fn parse(s: &str, store: &Store) -> Option<Target> {
        // "E-mail 1 - Value" → "e_mail_1_value": words joined by one `_`.
        let key = s
            .trim()
            .to_lowercase()
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .collect::<Vec<_>>()
            .join("_");
        // The headers of common exports: Outlook, Google Contacts,
        // HubSpot, Salesforce, and plain spreadsheets.
        Some(match key.as_str() {
            "external_id" | "customer_id" | "crm_id" | "customer_no" | "customer_number"
            | "account_number" | "record_id" | "contact_id" | "kundennummer" => Target::ExternalId,
            "name" | "full_name" | "customer" | "contact" | "contact_name" | "display_name" => {
                Target::Name
            }
            "first_name" | "given_name" | "firstname" => Target::FirstName,
            "last_name" | "surname" | "family_name" | "lastname" => Target::LastName,
            "email" | "e_mail" | "mail" | "email_address" | "e_mail_address" | "emails"
            | "e_mail_1_value" | "email_1_value" | "e_mail_2_address" | "e_mail_3_address" => {
                Target::Email
            }
            "phone" | "mobile" | "telephone" | "tel" | "cell" | "phone_number" | "phones"
            | "mobile_phone" | "business_phone" | "home_phone" | "phone_1_value"
            | "phone_2_value" => Target::Phone,
            "fax" | "fax_number" | "faxes" | "business_fax" | "home_fax" => Target::Fax,
            "org"
            | "organisation"
            | "organization"
            | "company"
            | "company_name"
            | "account"
            | "account_name"
            | "organization_1_name"
            | "organisation_1_name" => Target::Org,
            "ignore" | "_" => Target::Ignore,
            _ => {
                let fields = &store.settings().fields;
                let def = fields.get(Entity::Customer, &key).or_else(|| {
                    fields
                        .of(Entity::Customer)
                        .find(|d| d.label().eq_ignore_ascii_case(s.trim()))
                })?;
                Target::Field(def.name.clone())
            }
        })
    }
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
    pub customer: Option<i64>,
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

/// Imports customers. With `dry_run` the same work is done and rolled
/// back, so the report is what a real run would do.
pub fn import_customers(
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
            Some(v) => Target::parse(v, store).ok_or_else(|| {
                Error::invalid(
                    "map file",
                    format!("{h} = {v}"),
                    "not a target: use external_id, name, first_name, last_name, email, phone, fax, org, ignore or a declared customer field",
                )
            })?,
            None => Target::parse(h, store).unwrap_or(Target::Ignore),
        };
        if t == Target::Ignore {
            report.ignored_columns.push(h.clone());
        }
        targets.push(t);
    }
    let has = |t: &Target| targets.contains(t);
    let key = match map.key.as_deref().map(str::to_lowercase).as_deref() {
        Some("external_id") => Target::ExternalId,
        Some("email") => Target::Email,
        Some("phone") => Target::Phone,
        Some(other) => {
            return Err(Error::invalid("map file key", other.to_string(), "expected external_id, email or phone"))
        }
        None if has(&Target::ExternalId) => Target::ExternalId,
        None if has(&Target::Email) => Target::Email,
        None if has(&Target::Phone) => Target::Phone,
        None => {
            return Err(Error::invalid(
                "CSV header",
                headers.join(", "),
                "no key column: the file needs an external id, email or phone column (or a --map naming one)",
            ))
        }
    };
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
                    customer: None,
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
        let outcome = row.key(&key, &tx).and_then(|k| {
            if let Some(first) = k.as_ref().and_then(|k| seen_keys.get(k)) {
                return Err(format!(
                    "the same key as line {first}; the later row is left out"
                ));
            }
            Ok(k)
        });
        let outcome = match outcome {
            Ok(k) => match row.apply(&tx, &key, create_orgs, agent)? {
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
                    customer: Some(customer),
                    detail,
                });
            }
            Err(why) => {
                report.refused += 1;
                report.rows.push(RowReport {
                    line,
                    action: Action::Refused,
                    customer: None,
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

struct Row<'a> {
    cells: &'a csv::StringRecord,
    headers: &'a [String],
    targets: &'a [Target],
}

impl Row<'_> {
    fn cells_for<'s>(&'s self, t: &'s Target) -> impl Iterator<Item = (&'s str, &'s str)> + 's {
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
    fn cell(&self, i: usize) -> &str {
        let v = self.cells.get(i).unwrap_or("").trim();
        match v.strip_prefix('\'') {
            Some(rest) if rest.starts_with(['=', '+', '-', '@']) => rest,
            _ => v,
        }
    }

    fn one<'s>(&'s self, t: &'s Target) -> Option<&'s str> {
        self.cells_for(t).map(|(_, v)| v).next()
    }

    /// Identities of one kind: a cell may hold several, split by `;`
    /// (and `,` for addresses).
    fn identities(
        &self,
        t: &Target,
        kind: IdentityKind,
        region: &str,
    ) -> std::result::Result<Vec<String>, String> {
        let mut out = Vec::new();
        for (col, v) in self.cells_for(t) {
            let parts: Vec<&str> = if kind == IdentityKind::Email {
                v.split([';', ',']).collect()
            } else {
                v.split(';').collect()
            };
            for p in parts.into_iter().map(str::trim).filter(|p| !p.is_empty()) {
                let n = match kind {
                    IdentityKind::Email => identity::normalise(kind, p, region),
                    _ => identity::strict_phone(p, region),
                }
                .map_err(|e| format!("column {col}: `{}`: {e}", crate::sanitize::line(p)))?;
                if !out.contains(&n) {
                    out.push(n);
                }
            }
        }
        Ok(out)
    }

    /// The row's key value, normalised (None: the key cell is empty).
    fn key(&self, key: &Target, tx: &Tx<'_>) -> std::result::Result<Option<String>, String> {
        let region = &tx.settings().default_region;
        Ok(match key {
            Target::ExternalId => self.one(key).map(str::to_string),
            Target::Email => self
                .identities(key, IdentityKind::Email, region)?
                .into_iter()
                .next(),
            _ => self
                .identities(key, IdentityKind::Phone, region)?
                .into_iter()
                .next(),
        })
    }

    /// Checks the row, then writes it. Every reason to refuse a row is
    /// found before its first write (the inner `Err`), so a refused row
    /// has written nothing and no savepoint is needed; an error from the
    /// store itself (the outer `Err`) stops the import, whose transaction
    /// then rolls back whole.
    fn apply(
        &self,
        tx: &Tx<'_>,
        key: &Target,
        create_orgs: bool,
        agent: &str,
    ) -> Result<std::result::Result<(Action, i64, String), String>> {
        let region = tx.settings().default_region.clone();
        let mut ids: Vec<(IdentityKind, String)> = Vec::new();
        for (t, kind) in [
            (Target::Email, IdentityKind::Email),
            (Target::Phone, IdentityKind::Phone),
            (Target::Fax, IdentityKind::Fax),
        ] {
            match self.identities(&t, kind, &region) {
                Ok(vs) => ids.extend(vs.into_iter().map(|v| (kind, v))),
                Err(why) => return Ok(Err(why)),
            }
        }
        let external = self.one(&Target::ExternalId);
        if *key == Target::ExternalId && external.is_none() {
            return Ok(Err("the key column (external id) is empty".into()));
        }
        if *key != Target::ExternalId && ids.is_empty() {
            return Ok(Err(
                "no email or phone number to match the customer by".into()
            ));
        }
        let fields = &tx.settings().fields;
        let mut values = Vec::new();
        for (i, t) in self.targets.iter().enumerate() {
            if let Target::Field(name) = t {
                let raw = self.cell(i);
                if raw.is_empty() {
                    continue;
                }
                match fields.parse(Entity::Customer, name, raw) {
                    Ok(v) => values.push(v),
                    Err(e) => return Ok(Err(format!("column {}: {e}", self.headers[i]))),
                }
            }
        }
        // Who the row is: by its external id, and by every identity.
        let mut owners: BTreeSet<i64> = BTreeSet::new();
        let mut why: Vec<String> = Vec::new();
        if let Some(x) = external {
            if let Some(c) = tx.customer_by_external_id(x)? {
                owners.insert(c);
                why.push(format!("#{c} by external id {x}"));
            }
        }
        for (kind, v) in &ids {
            let kinds: &[IdentityKind] = if *kind == IdentityKind::Fax {
                &[IdentityKind::Fax, IdentityKind::Phone]
            } else {
                std::slice::from_ref(kind)
            };
            for k in kinds {
                if let Some(c) = tx.find_identity(*k, v)? {
                    if owners.insert(c) {
                        why.push(format!("#{c} by {v}"));
                    }
                }
            }
        }
        if owners.len() > 1 {
            let list: Vec<String> = owners.iter().map(|o| o.to_string()).collect();
            return Ok(Err(format!(
                "matches several customers ({}); merge them first (`echodesk customer merge {}`)",
                why.join(", "),
                list.join(" ")
            )));
        }
        let existing = owners.iter().next().copied();
        let org = match self.one(&Target::Org) {
            None => None,
            Some(name) => match tx.org_by_name(name)? {
                Some(o) => Some(Ok(o)),
                None if create_orgs => Some(Err(name)),
                None => {
                    return Ok(Err(format!(
                        "organisation `{}` does not exist (create_orgs = false)",
                        crate::sanitize::line(name)
                    )))
                }
            },
        };
        let have = match existing {
            Some(c) => tx.field_names(Entity::Customer, c)?,
            None => Vec::new(),
        };
        let missing: Vec<&str> = fields
            .missing(Entity::Customer, |n| {
                have.iter().any(|h| h == n) || values.iter().any(|(v, _)| v == n)
            })
            .iter()
            .map(|d| d.name.as_str())
            .collect();
        if !missing.is_empty() {
            return Ok(Err(format!(
                "required field{} {} empty",
                if missing.len() == 1 { "" } else { "s" },
                missing.join(", ")
            )));
        }
        let name = self.one(&Target::Name).map(str::to_string).or_else(|| {
            let parts: Vec<&str> = [self.one(&Target::FirstName), self.one(&Target::LastName)]
                .into_iter()
                .flatten()
                .collect();
            (!parts.is_empty()).then(|| parts.join(" "))
        });

        // Writes: nothing below refuses the row.
        let mut changes: Vec<String> = Vec::new();
        let created = existing.is_none();
        let customer = match existing {
            Some(c) => {
                if let Some(n) = &name {
                    if tx.set_customer_name(c, n, agent)? {
                        changes.push("name".into());
                    }
                }
                for (kind, v) in &ids {
                    if tx.find_identity(*kind, v)?.is_none() {
                        tx.add_identity(c, *kind, v)?;
                        changes.push(v.clone());
                    }
                }
                c
            }
            None => {
                let fallback = ids
                    .first()
                    .map(|(_, v)| v.clone())
                    .or(external.map(str::to_string))
                    .unwrap_or_default();
                let shown = name.clone().unwrap_or(fallback);
                let refs: Vec<(IdentityKind, &str)> =
                    ids.iter().map(|(k, v)| (*k, v.as_str())).collect();
                tx.create_customer(&shown, &refs)?
            }
        };
        if let Some(x) = external {
            if tx.set_customer_external_id(customer, Some(x), agent)? {
                changes.push("external id".into());
            }
        }
        if let Some(org) = org {
            let id = match org {
                Ok(id) => id,
                Err(name) => tx.create_org(name, None, agent)?,
            };
            if tx.set_customer_org(customer, Some(id), agent)? {
                changes.push("org".into());
            }
        }
        for (n, v) in &values {
            if tx.set_field(Entity::Customer, customer, n, v.as_ref(), agent)? {
                changes.push(n.clone());
            }
        }
        Ok(Ok(if created {
            (Action::Created, customer, String::new())
        } else if changes.is_empty() {
            (Action::Unchanged, customer, String::new())
        } else {
            (Action::Updated, customer, changes.join(", "))
        }))
    }
}

/// Every customer as CSV, one row each, streamed: the columns an import
/// reads back (identities of a kind joined by `; `), then the declared
/// fields, then echodesk's own number (which an import ignores).
pub fn export_customers_csv(store: &Store, out: &mut dyn Write) -> Result<usize> {
    let fields: Vec<String> = store
        .settings()
        .fields
        .of(Entity::Customer)
        .map(|d| d.name.clone())
        .collect();
    let mut w = csv::Writer::from_writer(out);
    let mut header = vec!["external_id", "name", "email", "phone", "fax", "org"];
    header.extend(fields.iter().map(String::as_str));
    header.push("echodesk_id");
    let io = |e: csv::Error| Error::Other(format!("writing the CSV: {e}"));
    w.write_record(&header).map_err(io)?;
    let mut n = 0;
    store.for_each_customer_row(|c| {
        let cell = crate::tables::cell;
        let mut row = vec![
            cell(c.external_id.as_deref().unwrap_or("")),
            cell(&c.name),
            cell(&c.emails.join("; ")),
            cell(&c.phones.join("; ")),
            cell(&c.faxes.join("; ")),
            cell(c.org.as_deref().unwrap_or("")),
        ];
        for f in &fields {
            row.push(cell(
                c.fields
                    .iter()
                    .find(|(n, _)| n == f)
                    .map_or("", |(_, v)| v.as_str()),
            ));
        }
        row.push(c.id.to_string());
        n += 1;
        w.write_record(&row).map_err(io)
    })?;
    w.flush()
        .map_err(|e| Error::Other(format!("writing the CSV: {e}")))?;
    Ok(n)
}

/// The same as JSON Lines: one object per customer.
pub fn export_customers_json(store: &Store, out: &mut dyn Write) -> Result<usize> {
    let mut n = 0;
    store.for_each_customer_row(|c| {
        let line = crate::sanitize::json(&c, false).map_err(|e| Error::Other(e.to_string()))?;
        writeln!(out, "{line}").map_err(|e| Error::Other(format!("writing: {e}")))?;
        n += 1;
        Ok(())
    })?;
    Ok(n)
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
