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

mod document;
pub mod outbound;
pub mod pdf;
mod profile;
pub mod text;

use document::*;
pub use document::{layer_text, pdf_text, PdfText};
pub use profile::{FaxConfig, FaxInfo, Profile, PRESETS};

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::channel::email::html::tidy;
use crate::inbound::Inbound;
use crate::model::Channel;

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
