//! Fax profiles: `[accounts.fax]`, the presets, and the patterns that say
//! which mail is a fax and where its number, CSID, pages and time are.

use super::*;

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
    pub(super) variants: Vec<Variant>,
    pub(super) senders: Vec<String>,
    pub(super) pdf_text: PdfText,
    pub(super) ocr_command: Option<String>,
}

/// One service's patterns.
#[derive(Debug, Clone)]
pub(super) struct Variant {
    pub(super) sender: Option<Regex>,
    pub(super) subject: Option<Regex>,
    pub(super) number: Vec<Regex>,
    pub(super) csid: Vec<Regex>,
    pub(super) pages: Vec<Regex>,
    pub(super) received: Vec<Regex>,
}

/// (sender, subject, number patterns, csid, pages, received).
pub(super) type Preset = (
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
pub(super) const NUMBER: &str =
    r"\+?(?:\(\d{1,5}\) ?)?\d[\d./-]*(?: (?:\(\d{1,5}\) ?)?\d[\d./-]*)*";

pub(super) fn preset(name: &str) -> Option<Preset> {
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

pub(super) fn compile(what: &str, p: &str) -> Result<Regex, String> {
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

pub(super) fn capture(res: &[Regex], hay: &str, name: &str) -> Option<String> {
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
    pub(super) fn accepts_sender(&self, m: &Inbound) -> bool {
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
    pub(super) fn read(&self, m: &Inbound, check_sender: bool) -> Option<FaxInfo> {
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
