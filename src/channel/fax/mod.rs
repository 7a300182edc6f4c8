//! Fax: fax-to-email deliveries turned into fax messages from the sending
//! fax number, by a provider profile on the mailbox's account.
//!
//! A profile says which mail is a fax (sender and subject patterns) and
//! where the sender's number, CSID, page count and receive time are
//! (regular expressions over the subject and the body). Presets cover
//! HylaFAX's `faxrcvd` mail and common services; `[accounts.fax]` can
//! override any pattern or define a profile from scratch. Mail on a fax
//! account that does not fit its profile stays an ordinary email, with a
//! warning on it: never dropped.

pub mod outbound;
pub mod pdf;
pub mod text;

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::channel::email::html::tidy;
use crate::inbound::Inbound;
use crate::model::Channel;

/// `[accounts.fax]`: a preset, and patterns that replace the preset's.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaxConfig {
    /// hylafax, efax, ringcentral, metrofax, srfax, generic; or none, with
    /// the patterns below.
    pub profile: Option<String>,
    /// Matches the From address (or name) of fax mail: a regular
    /// expression. Replaces the preset's.
    pub sender: Option<String>,
    /// The addresses fax mail comes from, exactly (`fax@gw.example.com`)
    /// or by domain (`@gw.example.com`). When set, mail from anyone else
    /// is not a fax, whatever it says.
    pub senders: Option<Vec<String>>,
    /// Matches the Subject of fax mail; may capture `number`, `csid`, `pages`.
    pub subject: Option<String>,
    /// Captures the sender's fax number (group `number` or the first group),
    /// searched in "Subject: …" and then the body.
    pub number: Option<String>,
    pub csid: Option<String>,
    pub pages: Option<String>,
    pub received: Option<String>,
    /// For faxes without a text layer: a command given the fax file's path
    /// (as `{file}`, or appended) that prints its text, e.g.
    /// `tesseract {file} - 2>/dev/null`.
    pub ocr_command: Option<String>,
    /// How the PDF's text layer is read: `builtin` (default; echodesk's
    /// own reader, in a child process with limits), `pdftotext` (poppler's,
    /// under the same limits), or `none`.
    pub pdf_text: Option<String>,
    /// Replies by fax: a gateway preset (efax, ringcentral, srfax, faxplus,
    /// faxtc) or an address pattern with `{number}`, `{national}` or `{e164}`.
    pub send_to: Option<String>,
    /// TrueType font for fax replies [default: WenQuanYi Micro Hei].
    pub font: Option<std::path::PathBuf>,
}

/// A profile with its patterns compiled: one set of patterns per preset
/// it covers (`auto` covers them all, tried in order).
#[derive(Debug, Clone)]
pub struct Profile {
    pub name: String,
    variants: Vec<Variant>,
    senders: Vec<String>,
    pdf_text: PdfText,
    ocr_command: Option<String>,
}

/// One service's patterns.
#[derive(Debug, Clone)]
struct Variant {
    sender: Option<Regex>,
    subject: Option<Regex>,
    number: Vec<Regex>,
    csid: Vec<Regex>,
    pages: Vec<Regex>,
    received: Vec<Regex>,
}

/// (sender, subject, number patterns, csid, pages, received).
type Preset = (
    &'static str,
    &'static str,
    &'static [&'static str],
    &'static [&'static str],
    &'static [&'static str],
    &'static [&'static str],
);

/// A fax number as services print it: digit groups separated by single
/// spaces, dots, dashes or slashes, an area code in parentheses, an
/// optional `+`. It stops at anything else, so a page count after it
/// (`+15551234 (2 pages)`, `+1 555 6715 - 12 page(s)`) stays out.
const NUMBER: &str = r"\+?(?:\(\d{1,5}\) ?)?\d[\d./-]*(?: (?:\(\d{1,5}\) ?)?\d[\d./-]*)*";

fn preset(name: &str) -> Option<Preset> {
    Some(match name {
        // faxrcvd: `Fax received from "<TSI>"` (older: "facsimile received
        // from"), then Sender:/Pages:/Received:/CallID lines.
        "hylafax" => (
            // faxrcvd mails as FROMADDR, `faxmaster` unless changed.
            r"(?i)^(?:faxmaster|fax|hylafax|uucp)@|hylafax",
            r#"(?i)^(?:facsimile|fax) received from "?(?P<csid>[^"]*)"?"#,
            &[
                r"(?m)^\s*CallID1:\s*(?P<number>{N})\s*$",
                r"(?m)^\s*Sender:\s*(?P<number>{N})\s*$",
            ],
            &[
                r"(?m)^\s*CallID2:\s*(?P<csid>.+?)\s*$",
                r"(?m)^\s*Sender:\s*(?P<csid>.+?)\s*$",
            ],
            &[r"(?m)^\s*Pages:\s*(?P<pages>\d+)"],
            &[r"(?m)^\s*Received:\s*(?P<received>.+?)\s*$"],
        ),
        // `eFax from <name> - N page(s), caller ID: <number>`, also
        // `eFax from "<name>" - N page(s), Caller-ID: XXX-XXX-XXXX`.
        "efax" => (
            r"(?i)efax",
            r#"(?i)^efax from "?(?P<csid>.*?)"? - (?P<pages>\d+) page\(s\)"#,
            &[r"(?i)caller[ -]?id:\s*(?P<number>{N})"],
            &[],
            &[],
            &[],
        ),
        // `New Fax Message from <name>`, From:/Received:/Pages: lines.
        "ringcentral" => (
            r"(?i)ringcentral",
            r"(?i)^new fax message (?:from|on) (?P<csid>.+)",
            &[
                r"(?mi)^\s*From:\s*(?P<number>{N})",
                r"(?i)new fax message from (?P<number>{N})",
            ],
            &[],
            &[r"(?mi)^\s*Pages:\s*(?P<pages>\d+)"],
            &[r"(?mi)^\s*Received:\s*(?P<received>.+?)\s*$"],
        ),
        "metrofax" => (
            r"(?i)metrofax",
            r"(?i)fax",
            &[r"(?i)(?:from|caller[ -]?id|sender)[^\w(+]*(?P<number>{N})"],
            &[],
            &[r"(?i)(?P<pages>\d+)\s*page"],
            &[],
        ),
        "srfax" => (
            r"(?i)srfax",
            r"(?i)fax",
            &[r"(?i)(?:from|caller[ -]?id|sender|cid)[^\w(+]*(?P<number>{N})"],
            &[r"(?mi)^\s*(?:remote id|csid):\s*(?P<csid>.+?)\s*$"],
            &[
                r"(?i)pages?\W+(?P<pages>\d+)",
                r"(?i)(?P<pages>\d+)\s*pages?",
            ],
            &[],
        ),
        // Any fax service: the sender's address or name says fax.
        "generic" => (
            r"(?i)fax",
            r"(?i)\bfax\b",
            &[
                r"(?mi)^\s*caller[ -]?id:\s*(?P<number>{N})",
                r"(?i)(?:from|caller[ -]?id|sender|fax number|cid)[^\w(+]*(?P<number>{N})",
            ],
            &[r"(?mi)^\s*(?:csid|tsi|remote id):\s*(?P<csid>.+?)\s*$"],
            &[
                r"(?i)pages?\W+(?P<pages>\d+)",
                r"(?i)(?P<pages>\d+)\s*pages?",
            ],
            &[],
        ),
        _ => return None,
    })
}

pub const PRESETS: &[&str] = &[
    "auto",
    "hylafax",
    "efax",
    "ringcentral",
    "metrofax",
    "srfax",
    "generic",
];

fn compile(what: &str, p: &str) -> Result<Regex, String> {
    let p = &p.replace("{N}", NUMBER);
    Regex::new(p).map_err(|e| format!("{what} pattern `{p}`: {e}"))
}

impl Profile {
    pub fn from_config(c: &FaxConfig) -> Result<Profile, String> {
        // `auto`: every service preset in turn, the catch-all last.
        let names: Vec<&str> = match c.profile.as_deref() {
            Some("auto") => PRESETS[1..].to_vec(),
            Some(name) => vec![name],
            None => vec![],
        };
        let mut bases = Vec::new();
        for name in &names {
            bases.push(preset(name).ok_or_else(|| {
                format!(
                    "unknown fax profile `{name}`; presets: {}",
                    PRESETS.join(", ")
                )
            })?);
        }
        if bases.is_empty() {
            bases.push(("", "", &[], &[], &[], &[]));
        }
        let one = |what: &str,
                   own: &Option<String>,
                   preset: Option<&str>|
         -> Result<Option<Regex>, String> {
            match (own.as_deref(), preset.filter(|p| !p.is_empty())) {
                (Some(p), _) | (None, Some(p)) => compile(what, p).map(Some),
                (None, None) => Ok(None),
            }
        };
        let many =
            |what: &str, own: &Option<String>, preset: &[&str]| -> Result<Vec<Regex>, String> {
                match own {
                    Some(p) => Ok(vec![compile(what, p)?]),
                    None => preset.iter().map(|p| compile(what, p)).collect(),
                }
            };
        let mut variants = Vec::new();
        for (ps, psub, pnum, pcsid, ppages, precv) in bases {
            let v = Variant {
                sender: one("sender", &c.sender, Some(ps))?,
                subject: one("subject", &c.subject, Some(psub))?,
                number: many("number", &c.number, pnum)?,
                csid: many("csid", &c.csid, pcsid)?,
                pages: many("pages", &c.pages, ppages)?,
                received: many("received", &c.received, precv)?,
            };
            if v.sender.is_none() && v.subject.is_none() {
                return Err("a fax profile needs a preset, or a sender or subject pattern".into());
            }
            if v.number.is_empty() && v.csid.is_empty() {
                return Err("a custom fax profile needs a number or csid pattern".into());
            }
            variants.push(v);
        }
        let p = Profile {
            name: c.profile.clone().unwrap_or_else(|| "custom".into()),
            variants,
            ocr_command: c.ocr_command.clone(),
            senders: c
                .senders
                .iter()
                .flatten()
                .map(|a| a.trim().to_lowercase())
                .collect(),
            pdf_text: match c.pdf_text.as_deref() {
                None | Some("builtin") => PdfText::Builtin,
                Some("pdftotext") => PdfText::Pdftotext,
                Some("none") => PdfText::None,
                Some(other) => {
                    return Err(format!(
                        "pdf_text `{other}`: expected builtin, pdftotext or none"
                    ))
                }
            },
        };
        if let Some(bad) = p
            .senders
            .iter()
            .find(|a| !a.contains('@') || a.chars().any(char::is_whitespace))
        {
            return Err(format!(
                "senders: `{bad}` is neither an address nor an @domain"
            ));
        }
        if let Some(t) = &c.send_to {
            outbound::gateway_address(t, "+14155550100", "US")?;
        }
        Ok(p)
    }
}

/// What a profile found in a fax mail.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FaxInfo {
    pub number: Option<String>,
    pub csid: Option<String>,
    pub pages: Option<u32>,
    pub received: Option<String>,
}

fn capture(res: &[Regex], hay: &str, name: &str) -> Option<String> {
    res.iter().find_map(|re| {
        let c = re.captures(hay)?;
        let m = c.name(name).or_else(|| c.get(1))?;
        let v = m.as_str().trim().trim_matches('"').trim().to_string();
        (!v.is_empty()).then_some(v)
    })
}

impl Profile {
    /// Whether the mail is a fax by this profile, and what it says.
    /// Whether the mail comes from where this profile's faxes come from.
    fn accepts_sender(&self, m: &Inbound) -> bool {
        if !self.senders.is_empty() {
            let from = m.from_addr.trim().to_lowercase();
            return self.senders.iter().any(|a| {
                if a.starts_with('@') {
                    from.ends_with(a.as_str())
                } else {
                    from == *a
                }
            });
        }
        true
    }

    pub fn read(&self, m: &Inbound) -> Option<FaxInfo> {
        if !self.accepts_sender(m) {
            return None;
        }
        self.variants
            .iter()
            .find_map(|v| v.read(m, self.senders.is_empty()))
    }
}

impl Variant {
    /// `check_sender`: whether this variant's sender pattern applies (the
    /// profile's `senders` list replaces it).
    fn read(&self, m: &Inbound, check_sender: bool) -> Option<FaxInfo> {
        if let Some(re) = self.sender.as_ref().filter(|_| check_sender) {
            if !re.is_match(&m.from_addr) && !re.is_match(m.from_name.as_deref().unwrap_or("")) {
                return None;
            }
        }
        let subject_caps = match &self.subject {
            Some(re) => Some(re.captures(&m.subject)?),
            None => None,
        };
        let from_subject = |name: &str| {
            subject_caps
                .as_ref()
                .and_then(|c| c.name(name))
                .map(|v| v.as_str().trim().trim_matches('"').trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let hay = format!("Subject: {}\n{}", m.subject, m.body_text);
        let number = capture(&self.number, &hay, "number").or_else(|| from_subject("number"));
        let csid = capture(&self.csid, &hay, "csid").or_else(|| from_subject("csid"));
        let pages = capture(&self.pages, &hay, "pages")
            .or_else(|| from_subject("pages"))
            .and_then(|p| p.parse().ok());
        let received = capture(&self.received, &hay, "received");
        Some(FaxInfo {
            number,
            csid,
            pages,
            received,
        })
    }
}

fn is_fax_document(a: &crate::inbound::InboundAttachment) -> bool {
    let ct = a.content_type.to_ascii_lowercase();
    let name = a.filename.to_ascii_lowercase();
    ct.contains("pdf")
        || ct.contains("tiff")
        || name.ends_with(".pdf")
        || name.ends_with(".tif")
        || name.ends_with(".tiff")
}

fn is_pdf(a: &crate::inbound::InboundAttachment) -> bool {
    a.content_type.to_ascii_lowercase().contains("pdf") || a.data.starts_with(b"%PDF")
}

/// Who reads a PDF's text layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PdfText {
    /// echodesk's own reader ([`text`]), in its helper child.
    #[default]
    Builtin,
    /// poppler's `pdftotext`, under the same limits.
    Pdftotext,
    /// Not read: every fax is image only (OCR may still run).
    None,
}

/// The PDF's text layer, read in this process: for PDFs echodesk made
/// itself and for tests. Mail from outside goes through [`layer_text`].
pub fn pdf_text(data: &[u8]) -> Option<String> {
    text::extract(data)
        .ok()
        .filter(|t| t.split_whitespace().next().is_some())
}

/// The PDF's text layer by the profile's reader, isolated. `Ok(None)`: no
/// text in it (image only); `Err`: why it could not be read.
pub fn layer_text(data: &[u8], how: PdfText) -> Result<Option<String>, String> {
    let raw = match how {
        PdfText::None => return Ok(None),
        PdfText::Builtin => text::extract_isolated(data).map_err(|e| e.to_string())?,
        PdfText::Pdftotext => {
            let mut cmd = std::process::Command::new("pdftotext");
            cmd.args(["-q", "-enc", "UTF-8", "-", "-"]);
            let out = crate::isolate::run(cmd, "pdftotext", data, crate::isolate::Limits::PARSER)
                .map_err(|e| e.to_string())?;
            String::from_utf8_lossy(&out.stdout).into_owned()
        }
    };
    let text = tidy(&raw);
    Ok(text.split_whitespace().next().is_some().then_some(text))
}

/// The document's text: the PDF's text layer, else what the OCR command
/// prints, else None (image only). Problems are returned beside the text,
/// so that a failed step still lets the next one try.
fn document_text(
    doc: &crate::inbound::InboundAttachment,
    how: PdfText,
    ocr: Option<&str>,
) -> (Option<String>, Vec<String>) {
    let mut problems = Vec::new();
    if is_pdf(doc) {
        match layer_text(&doc.data, how) {
            Ok(Some(t)) => return (Some(t), problems),
            Ok(None) => {}
            Err(e) => problems.push(format!("PDF text layer not read: {e}")),
        }
    }
    let Some(cmd) = ocr else {
        return (None, problems);
    };
    match run_ocr(cmd, doc) {
        Ok(t) => (t, problems),
        Err(e) => {
            problems.push(e);
            (None, problems)
        }
    }
}

/// Runs the OCR command on the document, saved in a private temporary
/// directory. The path reaches the shell as `$1`, never inside the
/// command line, so nothing from the mail is ever shell syntax.
fn run_ocr(cmd: &str, doc: &crate::inbound::InboundAttachment) -> Result<Option<String>, String> {
    let dir = tempfile::Builder::new()
        .prefix("echodesk-ocr-")
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700))
        .tempdir()
        .map_err(|e| format!("ocr_command: temporary directory: {e}"))?;
    let ext = if is_pdf(doc) { "pdf" } else { "tif" };
    let file = dir.path().join(format!("fax.{ext}"));
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&file)
        .and_then(|mut f| std::io::Write::write_all(&mut f, &doc.data))
        .map_err(|e| format!("ocr_command: {}: {e}", file.display()))?;
    let command = crate::shell::command_with_file(cmd, &file);
    let out = crate::isolate::run(command, "ocr_command", b"", crate::isolate::Limits::OCR)
        .map_err(|e| e.to_string())?;
    let text = tidy(&String::from_utf8_lossy(&out.stdout));
    Ok((!text.is_empty()).then_some(text))
}

/// The sender's number in E.164, when what the profile found is a number.
fn e164(raw: &str, region: &str) -> Option<String> {
    let digits = raw.chars().filter(char::is_ascii_digit).count();
    if digits < 5 || raw.chars().any(char::is_alphabetic) {
        return None;
    }
    crate::identity::normalise_phone(raw, region).ok()
}

/// Turns a fax mail into a fax message from the sending number, or marks
/// it as not fitting the profile (it stays an email). National numbers are
/// read in `region`.
pub fn apply(profile: &Profile, m: &mut Inbound, region: &str) {
    let mut problems: Vec<String> = Vec::new();
    let Some(info) = profile.read(m) else {
        problems.push(format!(
            "on a fax account but does not fit fax profile `{}` (or its senders): kept as email",
            profile.name
        ));
        note(m, problems);
        return;
    };
    let has_image = m.attachments.iter().any(is_fax_document);
    // The number is the identity. A station id that is a number will do;
    // a name (or nothing) is no identity at all: such a fax gets its own
    // customer and ticket rather than joining everyone else's "RECEPTION".
    let number = info
        .number
        .as_deref()
        .and_then(|n| e164(n, region))
        .or_else(|| info.csid.as_deref().and_then(|c| e164(c, region)));
    if number.is_none() {
        if let Some(n) = &info.number {
            problems.push(format!("fax number `{n}` is not a usable number"));
        }
        problems.push("fax without a usable sender number: filed on its own".into());
    }
    let station = info
        .csid
        .clone()
        .filter(|c| e164(c, region).is_none_or(|c| Some(c) != number));
    let pages = info
        .pages
        .map(|p| format!("{p} page{}", if p == 1 { "" } else { "s" }))
        .unwrap_or_else(|| "pages unknown".into());
    let who = number
        .clone()
        .or_else(|| station.clone())
        .unwrap_or_else(|| "an unknown number".into());
    let mut head = format!("Fax from {who}");
    if let (Some(c), Some(_)) = (&station, &number) {
        head.push_str(&format!(" ({c})"));
    }
    head.push_str(&format!(", {pages}"));
    if let Some(r) = &info.received {
        head.push_str(&format!(", received {r}"));
    }
    let document = m.attachments.iter().find(|a| is_fax_document(a));
    let text = match document {
        None => "[no fax document attached]".to_string(),
        Some(doc) => {
            let (text, trouble) =
                document_text(doc, profile.pdf_text, profile.ocr_command.as_deref());
            let reason = trouble.first().cloned();
            problems.extend(trouble.into_iter().map(|t| format!("fax text: {t}")));
            match (text, reason) {
                (Some(t), _) => t,
                (None, None) => format!("[image only, {pages}]"),
                (None, Some(_)) => format!("[no text: the document could not be read, {pages}]"),
            }
        }
    };
    m.body_text = format!(
        "{head}\n\n{text}\n\n--- delivery notice ---\n{}",
        m.body_text
    );
    m.subject = format!("Fax from {who}");
    m.from_addr = number.clone().unwrap_or_default();
    m.from_name = station;
    m.channel = Channel::Fax;
    if !has_image {
        problems.push("fax mail without a PDF or TIFF attachment".into());
    }
    note(m, problems);
}

/// Adds problems to the message's parse error.
fn note(m: &mut Inbound, problems: Vec<String>) {
    if problems.is_empty() {
        return;
    }
    let add = problems.join("; ");
    m.parse_error = Some(match m.parse_error.take() {
        Some(e) => format!("{e}; {add}"),
        None => add,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mail(from: &str, subject: &str, body: &str, pdf: bool) -> Inbound {
        Inbound {
            channel: Channel::Email,
            account: "fax".into(),
            provider_id: "1".into(),
            message_id: None,
            refs: vec![],
            from_addr: from.into(),
            from_name: None,
            to_addr: "fax@example.com".into(),
            subject: subject.into(),
            body_text: body.into(),
            body_html: None,
            received_at: 0,
            auto_kind: None,
            attachments: if pdf {
                vec![crate::inbound::InboundAttachment {
                    filename: "fax.pdf".into(),
                    content_type: "application/pdf".into(),
                    data: b"%PDF".to_vec(),
                }]
            } else {
                vec![]
            },
            parse_error: None,
            raw: None,
        }
    }

    fn profile(name: &str) -> Profile {
        Profile::from_config(&FaxConfig {
            profile: Some(name.into()),
            pdf_text: Some("none".into()),
            ..Default::default()
        })
        .unwrap()
    }

    #[test]
    fn efax_subject_carries_name_pages_and_caller_id() {
        let p = profile("efax");
        let mut m = mail(
            "message@inbound.efax.com",
            "eFax from Rivera Clinic - 3 page(s), caller ID: +1 555 010 0199",
            "",
            true,
        );
        apply(&p, &mut m, "US");
        assert_eq!(m.channel, Channel::Fax);
        assert_eq!(m.from_addr, "+15550100199");
        assert_eq!(m.subject, "Fax from +15550100199");
        assert_eq!(m.from_name.as_deref(), Some("Rivera Clinic"));
        assert!(
            m.body_text.contains("[image only, 3 pages]"),
            "{}",
            m.body_text
        );
        // The quoted form with a hyphenated Caller-ID and a national number.
        let mut m = mail(
            "message@inbound.efax.com",
            "eFax from \"ACME LOGISTICS\" - 2 page(s), Caller-ID: 415-555-0123",
            "",
            true,
        );
        apply(&p, &mut m, "US");
        assert_eq!(m.from_addr, "+14155550123");
        assert_eq!(m.from_name.as_deref(), Some("ACME LOGISTICS"));
    }

    #[test]
    fn page_counts_never_join_the_number() {
        let p = profile("generic");
        for (subject, number) in [
            ("Fax from +15555432 (2 pages)", "+15555432"),
            ("[eFax] Fax from +1 555 6715 - 12 page(s)", "+15556715"),
            ("New fax received from +15559876", "+15559876"),
            ("Fax from (415) 555-0123, 3 pages", "+14155550123"),
        ] {
            let mut m = mail("noreply@fax-provider.example", subject, "", true);
            apply(&p, &mut m, "US");
            assert_eq!((subject, m.from_addr.as_str()), (subject, number));
            assert!(
                m.body_text.starts_with(&format!("Fax from {number}")),
                "{}",
                m.body_text
            );
        }
    }

    #[test]
    fn only_fax_senders_make_faxes() {
        // A customer's own mail quoting fax lines stays email.
        for name in ["hylafax", "generic"] {
            let mut forged = mail(
                "mallory@example.com",
                "Fax received from \"+1 555 0199\"",
                "CallID1: +1 555 0199\nPages: 1",
                true,
            );
            apply(&profile(name), &mut forged, "US");
            assert_eq!(forged.channel, Channel::Email, "{name}");
            assert!(forged.parse_error.unwrap().contains("does not fit"));
        }
        // `senders` names the gateway exactly.
        let p = Profile::from_config(&FaxConfig {
            profile: Some("hylafax".into()),
            senders: Some(vec!["@gw.example.org".into()]),
            pdf_text: Some("none".into()),
            ..Default::default()
        })
        .unwrap();
        let mut ok = mail(
            "faxmaster@gw.example.org",
            "Fax received from \"X\"",
            "CallID1: +15550199",
            true,
        );
        apply(&p, &mut ok, "US");
        assert_eq!(
            (ok.channel, ok.from_addr.as_str()),
            (Channel::Fax, "+15550199")
        );
        let mut other = mail(
            "faxmaster@elsewhere.example",
            "Fax received from \"X\"",
            "CallID1: +15550199",
            true,
        );
        apply(&p, &mut other, "US");
        assert_eq!(other.channel, Channel::Email);
        let bad = FaxConfig {
            profile: Some("hylafax".into()),
            senders: Some(vec!["gateway".into()]),
            ..Default::default()
        };
        assert!(Profile::from_config(&bad).unwrap_err().contains("senders"));
    }

    #[test]
    fn a_custom_profile_and_a_withheld_number() {
        let p = Profile::from_config(&FaxConfig {
            sender: Some(r"@faxgw\.example\.org$".into()),
            number: Some(r"Calling station: (\+?\d+)".into()),
            csid: Some(r"Station ID: (.+)".into()),
            ..Default::default()
        })
        .unwrap();
        let mut m = mail(
            "robot@faxgw.example.org",
            "New fax",
            "Station ID: RECEPTION\nPages 1",
            true,
        );
        apply(&p, &mut m, "US");
        // Only a station id: a fax of its own, with no identity to share.
        assert_eq!(m.channel, Channel::Fax);
        assert_eq!(m.from_addr, "");
        assert_eq!(m.from_name.as_deref(), Some("RECEPTION"));
        assert_eq!(m.subject, "Fax from RECEPTION");
        assert!(m
            .parse_error
            .as_deref()
            .unwrap()
            .contains("filed on its own"));
        // A station id that is a number is the number.
        let mut m = mail(
            "robot@faxgw.example.org",
            "New fax",
            "Station ID: +49 30 1234567",
            true,
        );
        apply(&p, &mut m, "US");
        assert_eq!(m.from_addr, "+49301234567");
        let mut other = mail("someone@example.com", "Hello", "", false);
        apply(&p, &mut other, "US");
        assert_eq!(other.channel, Channel::Email);
        assert!(other.parse_error.unwrap().contains("does not fit"));
    }

    #[test]
    fn bad_profiles_are_reported() {
        let unknown = FaxConfig {
            profile: Some("faxomatic".into()),
            ..Default::default()
        };
        assert!(Profile::from_config(&unknown)
            .unwrap_err()
            .contains("presets: auto, hylafax"));
        let bad = FaxConfig {
            subject: Some("(unclosed".into()),
            number: Some("x".into()),
            ..Default::default()
        };
        assert!(Profile::from_config(&bad)
            .unwrap_err()
            .contains("subject pattern"));
    }
}

#[cfg(test)]
mod text_tests {
    use super::*;

    /// A one-page PDF whose text layer says `text` (Helvetica, no images).
    pub fn text_pdf(text: &str) -> Vec<u8> {
        let content = format!("BT /F1 12 Tf 72 720 Td ({text}) Tj ET");
        let objects = [
            "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
            "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_string(),
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>".to_string(),
            format!("<< /Length {} >>\nstream\n{content}\nendstream", content.len()),
            "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>".to_string(),
        ];
        pdf::assemble(&objects.map(String::into_bytes))
    }

    #[test]
    fn the_text_layer_is_read_and_garbage_is_survived() {
        let t = pdf_text(&text_pdf("Please ship order 4711 to Rivera Clinic")).unwrap();
        assert!(t.contains("order 4711"), "{t}");
        assert_eq!(pdf_text(b"%PDF-1.4 this is not a pdf"), None);
        assert_eq!(pdf_text(b""), None);
    }

    #[test]
    fn without_a_text_layer_the_ocr_command_fills_in() {
        let doc = crate::inbound::InboundAttachment {
            filename: "fax.tif".into(),
            content_type: "image/tiff".into(),
            data: b"II*\0 not a real tiff".to_vec(),
        };
        assert_eq!(document_text(&doc, PdfText::Builtin, None), (None, vec![]));
        let ocr = "test -s {file} && printf 'Bestellung 4711\\n'";
        assert_eq!(
            document_text(&doc, PdfText::Builtin, Some(ocr))
                .0
                .as_deref(),
            Some("Bestellung 4711")
        );
        let (text, problems) = document_text(&doc, PdfText::Builtin, Some("exit 3"));
        assert_eq!(text, None);
        assert!(problems[0].contains("ocr_command exited"), "{problems:?}");
    }

    #[test]
    fn the_ocr_path_is_an_argument_never_shell_text() {
        // Every quoting form a user might write around {file}.
        let doc = crate::inbound::InboundAttachment {
            filename: "a$(touch PWNED).tif".into(),
            content_type: "image/tiff".into(),
            data: b"II*\0".to_vec(),
        };
        for cmd in [
            "printf '%s' {file}",
            "printf '%s' '{file}'",
            "printf '%s' \"{file}\"",
            "printf '%s'",
        ] {
            let (text, problems) = document_text(&doc, PdfText::Builtin, Some(cmd));
            let text = text.unwrap_or_else(|| panic!("{cmd}: {problems:?}"));
            assert!(
                text.ends_with("/fax.tif") && text.contains("echodesk-ocr-"),
                "{cmd}: {text}"
            );
        }
    }
}
