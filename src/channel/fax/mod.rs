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

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::inbound::Inbound;
use crate::model::Channel;

/// `[accounts.fax]`: a preset, and patterns that replace the preset's.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaxConfig {
    /// hylafax, efax, ringcentral, metrofax, srfax, generic; or none, with
    /// the patterns below.
    pub profile: Option<String>,
    /// Matches the From address of fax mail.
    pub sender: Option<String>,
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
    /// Replies by fax: a gateway preset (efax, ringcentral, srfax, faxplus,
    /// faxtc) or an address pattern with `{number}`, `{national}` or `{e164}`.
    pub send_to: Option<String>,
    /// TrueType font for fax replies [default: WenQuanYi Micro Hei].
    pub font: Option<std::path::PathBuf>,
}

/// A profile with its patterns compiled.
#[derive(Debug, Clone)]
pub struct Profile {
    pub name: String,
    sender: Option<Regex>,
    subject: Option<Regex>,
    number: Vec<Regex>,
    csid: Vec<Regex>,
    pages: Vec<Regex>,
    received: Vec<Regex>,
    ocr_command: Option<String>,
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

fn preset(name: &str) -> Option<Preset> {
    Some(match name {
        // faxrcvd: `Fax received from "<TSI>"` (older: "facsimile received
        // from"), then Sender:/Pages:/Received:/CallID lines.
        "hylafax" => (
            "",
            r#"(?i)^(?:facsimile|fax) received from "?(?P<csid>[^"]*)"?"#,
            &[
                r"(?m)^\s*CallID1:\s*(?P<number>\+?[\d ()./-]{5,})\s*$",
                r"(?m)^\s*Sender:\s*(?P<number>\+?[\d ()./-]{5,})\s*$",
            ],
            &[
                r"(?m)^\s*CallID2:\s*(?P<csid>.+?)\s*$",
                r"(?m)^\s*Sender:\s*(?P<csid>.+?)\s*$",
            ],
            &[r"(?m)^\s*Pages:\s*(?P<pages>\d+)"],
            &[r"(?m)^\s*Received:\s*(?P<received>.+?)\s*$"],
        ),
        // `eFax from <name> - N page(s), caller ID: <number>`
        "efax" => (
            r"(?i)efax",
            r"(?i)^efax from (?P<csid>.*?) - (?P<pages>\d+) page\(s\)",
            &[r"(?i)caller id:\s*(?P<number>\+?[\d ()./-]{5,})"],
            &[],
            &[],
            &[],
        ),
        // `New Fax Message from <name>`, From:/Received:/Pages: lines.
        "ringcentral" => (
            r"(?i)ringcentral",
            r"(?i)^new fax message (?:from|on) (?P<csid>.+)",
            &[
                r"(?mi)^\s*From:\s*(?P<number>\+?[\d ()./-]{7,})",
                r"(?i)new fax message from (?P<number>\+?[\d ()./-]{7,})",
            ],
            &[],
            &[r"(?mi)^\s*Pages:\s*(?P<pages>\d+)"],
            &[r"(?mi)^\s*Received:\s*(?P<received>.+?)\s*$"],
        ),
        "metrofax" => (
            r"(?i)metrofax",
            r"(?i)fax",
            &[r"(?i)(?:from|caller id|sender)\W+(?P<number>\+?[\d ()./-]{7,})"],
            &[],
            &[r"(?i)(?P<pages>\d+)\s*page"],
            &[],
        ),
        "srfax" => (
            r"(?i)srfax",
            r"(?i)fax",
            &[r"(?i)(?:from|caller id|sender|cid)\W+(?P<number>\+?[\d ()./-]{7,})"],
            &[r"(?mi)^\s*(?:remote id|csid):\s*(?P<csid>.+?)\s*$"],
            &[
                r"(?i)pages?\W+(?P<pages>\d+)",
                r"(?i)(?P<pages>\d+)\s*pages?",
            ],
            &[],
        ),
        "generic" => (
            "",
            r"(?i)\bfax\b",
            &[r"(?i)(?:from|caller id|sender|fax number|cid)\W+(?P<number>\+?[\d ()./-]{7,})"],
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
    "hylafax",
    "efax",
    "ringcentral",
    "metrofax",
    "srfax",
    "generic",
];

fn compile(what: &str, p: &str) -> Result<Regex, String> {
    Regex::new(p).map_err(|e| format!("{what} pattern `{p}`: {e}"))
}

impl Profile {
    pub fn from_config(c: &FaxConfig) -> Result<Profile, String> {
        let base = match c.profile.as_deref() {
            Some(name) => Some(preset(name).ok_or_else(|| {
                format!(
                    "unknown fax profile `{name}`; presets: {}",
                    PRESETS.join(", ")
                )
            })?),
            None => None,
        };
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
        let (ps, psub, pnum, pcsid, ppages, precv) = base.unwrap_or(("", "", &[], &[], &[], &[]));
        let p = Profile {
            name: c.profile.clone().unwrap_or_else(|| "custom".into()),
            sender: one("sender", &c.sender, Some(ps))?,
            subject: one("subject", &c.subject, Some(psub))?,
            number: many("number", &c.number, pnum)?,
            csid: many("csid", &c.csid, pcsid)?,
            pages: many("pages", &c.pages, ppages)?,
            received: many("received", &c.received, precv)?,
            ocr_command: c.ocr_command.clone(),
        };
        if let Some(t) = &c.send_to {
            outbound::gateway_address(t, "+14155550100", "US")?;
        }
        if p.sender.is_none() && p.subject.is_none() {
            return Err("a fax profile needs a preset, or a sender or subject pattern".into());
        }
        if p.number.is_empty() && p.csid.is_empty() {
            return Err("a custom fax profile needs a number or csid pattern".into());
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
    pub fn read(&self, m: &Inbound) -> Option<FaxInfo> {
        if let Some(re) = &self.sender {
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

/// The PDF's text layer, if it has words in it.
pub fn pdf_text(data: &[u8]) -> Option<String> {
    // A malformed PDF must not take the poller down with it.
    let text =
        std::panic::catch_unwind(|| pdf_extract::extract_text_from_mem(data).ok()).ok()??;
    (text.split_whitespace().count() > 0).then(|| {
        text.lines()
            .map(str::trim_end)
            .collect::<Vec<_>>()
            .join("\n")
            .trim()
            .to_string()
    })
}

/// The document's text: the PDF's text layer, else what the OCR command
/// prints, else None (image only).
fn document_text(
    doc: &crate::inbound::InboundAttachment,
    ocr: Option<&str>,
) -> Result<Option<String>, String> {
    if is_pdf(doc) {
        if let Some(t) = pdf_text(&doc.data) {
            return Ok(Some(t));
        }
    }
    let Some(cmd) = ocr else { return Ok(None) };
    let dir = std::env::temp_dir().join(format!("echodesk-ocr-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let ext = if is_pdf(doc) { "pdf" } else { "tif" };
    let file = dir.join(format!("fax.{ext}"));
    std::fs::write(&file, &doc.data).map_err(|e| format!("{}: {e}", file.display()))?;
    let quoted = format!("'{}'", file.display().to_string().replace('\'', "'\\''"));
    let line = if cmd.contains("{file}") {
        cmd.replace("{file}", &quoted)
    } else {
        format!("{cmd} {quoted}")
    };
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(&line)
        .output();
    let _ = std::fs::remove_dir_all(&dir);
    let out = out.map_err(|e| format!("ocr_command: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "ocr_command exited with {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .next()
                .unwrap_or("")
        ));
    }
    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    Ok((!text.is_empty()).then_some(text))
}

/// Turns a fax mail into a fax message from the sending number, or marks
/// it as not fitting the profile (it stays an email).
pub fn apply(profile: &Profile, m: &mut Inbound) {
    let Some(info) = profile.read(m) else {
        let warn = format!(
            "on a fax account but does not fit fax profile `{}`: kept as email",
            profile.name
        );
        m.parse_error = Some(match m.parse_error.take() {
            Some(e) => format!("{e}; {warn}"),
            None => warn,
        });
        return;
    };
    let has_image = m.attachments.iter().any(is_fax_document);
    // The number is the identity; with only a CSID (or nothing), the fax
    // still makes a ticket under what there is.
    let who = info
        .number
        .clone()
        .or_else(|| info.csid.clone())
        .unwrap_or_else(|| "anonymous".into());
    let pages = info
        .pages
        .map(|p| format!("{p} page{}", if p == 1 { "" } else { "s" }))
        .unwrap_or_else(|| "pages unknown".into());
    let mut head = format!("Fax from {who}");
    if let (Some(c), Some(_)) = (&info.csid, &info.number) {
        head.push_str(&format!(" ({c})"));
    }
    head.push_str(&format!(", {pages}"));
    if let Some(r) = &info.received {
        head.push_str(&format!(", received {r}"));
    }
    let document = m.attachments.iter().find(|a| is_fax_document(a));
    let text = match document {
        None => "[no fax document attached]".to_string(),
        Some(doc) => match document_text(doc, profile.ocr_command.as_deref()) {
            Ok(Some(t)) => t,
            Ok(None) => format!("[image only, {pages}]"),
            Err(e) => {
                let warn = format!("fax text: {e}");
                m.parse_error = Some(match m.parse_error.take() {
                    Some(p) => format!("{p}; {warn}"),
                    None => warn,
                });
                format!("[image only, {pages}]")
            }
        },
    };
    m.body_text = format!(
        "{head}\n\n{text}\n\n--- delivery notice ---\n{}",
        m.body_text
    );
    m.subject = format!("Fax from {who}");
    m.from_addr = who;
    m.from_name = info.csid.clone().filter(|_| info.number.is_some());
    m.channel = Channel::Fax;
    if !has_image {
        let warn = "fax mail without a PDF or TIFF attachment".to_string();
        m.parse_error = Some(match m.parse_error.take() {
            Some(e) => format!("{e}; {warn}"),
            None => warn,
        });
    }
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

    #[test]
    fn efax_subject_carries_name_pages_and_caller_id() {
        let p = Profile::from_config(&FaxConfig {
            profile: Some("efax".into()),
            ..Default::default()
        })
        .unwrap();
        let mut m = mail(
            "message@inbound.efax.com",
            "eFax from Rivera Clinic - 3 page(s), caller ID: +1 555 010 0199",
            "",
            true,
        );
        apply(&p, &mut m);
        assert_eq!(m.channel, Channel::Fax);
        assert_eq!(m.from_addr, "+1 555 010 0199");
        assert_eq!(m.from_name.as_deref(), Some("Rivera Clinic"));
        assert!(
            m.body_text.contains("[image only, 3 pages]"),
            "{}",
            m.body_text
        );
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
            "Station ID: ACME\nPages 1",
            true,
        );
        apply(&p, &mut m);
        // Only a CSID: still a fax ticket, under the CSID.
        assert_eq!((m.channel, m.from_addr.as_str()), (Channel::Fax, "ACME"));
        let mut other = mail("someone@example.com", "Hello", "", false);
        apply(&p, &mut other);
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
            .contains("presets: hylafax"));
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
        assert_eq!(document_text(&doc, None).unwrap(), None);
        let ocr = "test -s {file} && printf 'Bestellung 4711\\n'";
        assert_eq!(
            document_text(&doc, Some(ocr)).unwrap().as_deref(),
            Some("Bestellung 4711")
        );
        let err = document_text(&doc, Some("exit 3")).unwrap_err();
        assert!(err.contains("ocr_command exited"), "{err}");
    }
}
