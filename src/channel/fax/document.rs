//! The fax document's text: the PDF's text layer (built-in reader or
//! pdftotext, isolated) and, for scans, the configured `ocr_command`.

use super::*;

pub(super) fn is_fax_document(a: &crate::inbound::InboundAttachment) -> bool {
    let ct = a.content_type.to_ascii_lowercase();
    let name = a.filename.to_ascii_lowercase();
    ct.contains("pdf")
        || ct.contains("tiff")
        || name.ends_with(".pdf")
        || name.ends_with(".tif")
        || name.ends_with(".tiff")
}

pub(super) fn is_pdf(a: &crate::inbound::InboundAttachment) -> bool {
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
pub(super) fn document_text(
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
pub(super) fn run_ocr(
    cmd: &str,
    doc: &crate::inbound::InboundAttachment,
) -> Result<Option<String>, String> {
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
