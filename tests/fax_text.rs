//! Fax PDF text layers from other producers, compared with poppler's
//! `pdftotext`, and hostile PDFs that must cost a fax mailbox nothing.
//!
//! `tests/fixtures/pdf/*.pdf` were made by LibreOffice, cairo (pdftocairo),
//! Ghostscript, reportlab, fpdf2, tesseract over a G4 fax TIFF, ocrmypdf
//! over an image-only PDF and over the genuine HylaFAX sample, and
//! populate.py; each `.txt` beside it is what `pdftotext` 22.12 printed
//! (see tests/fixtures/pdf/README.md). The hostile set comes from
//! scripts/make-hostile-pdfs.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use echodesk::channel::fax::{self, FaxConfig, PdfText, Profile};
use echodesk::inbound::{Inbound, InboundAttachment};
use echodesk::model::Channel;

fn fixtures(dir: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(dir)
}

fn words(s: &str) -> HashMap<String, usize> {
    let mut m = HashMap::new();
    for w in s.split_whitespace() {
        *m.entry(w.to_string()).or_insert(0) += 1;
    }
    m
}

/// The share of `want`'s words (with repeats) that `got` has.
fn recall(want: &HashMap<String, usize>, got: &HashMap<String, usize>) -> f64 {
    let total: usize = want.values().sum();
    if total == 0 {
        return 1.0;
    }
    let hit: usize = want
        .iter()
        .map(|(w, n)| (*n).min(got.get(w).copied().unwrap_or(0)))
        .sum();
    hit as f64 / total as f64
}

#[test]
fn every_producer_reads_like_pdftotext() {
    let mut seen = 0;
    for entry in std::fs::read_dir(fixtures("pdf")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "pdf") {
            continue;
        }
        seen += 1;
        let data = std::fs::read(&path).unwrap();
        let reference = std::fs::read_to_string(path.with_extension("txt")).unwrap();
        let got = fax::layer_text(&data, PdfText::Builtin)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .unwrap_or_default();
        let (want, have) = (words(&reference), words(&got));
        let (r, p) = (recall(&want, &have), recall(&have, &want));
        assert!(
            r >= 0.98 && p >= 0.98,
            "{}: recall {r:.3}, precision {p:.3}\n--- ours\n{got}\n--- pdftotext\n{reference}",
            path.display()
        );
        // An image-only scan has no text, and says so.
        if reference.trim().is_empty() {
            assert_eq!(got, "", "{}", path.display());
        }
    }
    assert!(seen >= 10, "only {seen} fixtures");
}

#[test]
fn pdftotext_is_used_when_asked_and_gives_the_same_words() {
    if std::process::Command::new("pdftotext")
        .arg("-v")
        .output()
        .is_err()
    {
        eprintln!("pdftotext not installed; scripts/test installs poppler-utils");
        return;
    }
    let path = fixtures("pdf").join("tesseract-fax.pdf");
    let data = std::fs::read(&path).unwrap();
    let got = fax::layer_text(&data, PdfText::Pdftotext).unwrap().unwrap();
    let reference = std::fs::read_to_string(path.with_extension("txt")).unwrap();
    assert_eq!(words(&got), words(&reference));
}

fn hostile() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(fixtures("hostile/pdf")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let raw = std::fs::read(&path).unwrap();
        let data = if name.ends_with(".gz") {
            use std::io::Read;
            let mut d = Vec::new();
            flate2::read::GzDecoder::new(raw.as_slice())
                .read_to_end(&mut d)
                .unwrap();
            d
        } else {
            raw
        };
        out.push((name, data));
    }
    assert!(out.len() >= 7, "hostile set incomplete: {}", out.len());
    out
}

fn fax_mail(pdf: Vec<u8>) -> Inbound {
    Inbound {
        channel: Channel::Email,
        account: "fax".into(),
        provider_id: "1".into(),
        message_id: None,
        refs: vec![],
        from_addr: "faxmaster@gw.example.test".into(),
        from_name: Some("HylaFAX Agent".into()),
        to_addr: "fax@example.test".into(),
        subject: "Fax received from \"+1 555 0199\"".into(),
        body_text: "CallID1: +15550199\nPages: 1\n".into(),
        body_html: None,
        received_at: 0,
        auto_kind: None,
        attachments: vec![InboundAttachment {
            filename: "fax.pdf".into(),
            content_type: "application/pdf".into(),
            data: pdf,
        }],
        parse_error: None,
        raw: None,
    }
}

#[test]
fn hostile_pdfs_cost_seconds_and_the_fax_is_still_filed() {
    for how in ["builtin", "pdftotext"] {
        if how == "pdftotext"
            && std::process::Command::new("pdftotext")
                .arg("-v")
                .output()
                .is_err()
        {
            continue;
        }
        let profile = Profile::from_config(&FaxConfig {
            profile: Some("hylafax".into()),
            pdf_text: Some(how.into()),
            ..Default::default()
        })
        .unwrap();
        for (name, data) in hostile() {
            let mut m = fax_mail(data);
            let started = Instant::now();
            fax::apply(&profile, &mut m, "US");
            let took = started.elapsed();
            assert!(took < Duration::from_secs(15), "{how} {name}: {took:?}");
            // Filed as a fax from the number whatever the document did.
            assert_eq!(m.channel, Channel::Fax, "{how} {name}");
            assert_eq!(m.from_addr, "+15550199", "{how} {name}");
            assert!(
                m.body_text.starts_with("Fax from +15550199"),
                "{how} {name}"
            );
            if name.starts_with("flate-bomb") && how == "builtin" {
                let e = m.parse_error.as_deref().unwrap_or("");
                assert!(e.contains("inflates to more than"), "{name}: {e}");
                assert!(m
                    .body_text
                    .contains("[no text: the document could not be read"));
            }
            if name == "self-drawing-form.pdf" {
                assert!(
                    m.body_text.contains("self drawing form"),
                    "{how}: {}",
                    m.body_text
                );
            }
        }
    }
}
