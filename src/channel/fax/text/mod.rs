//! The text layer of a fax PDF, read by echodesk itself (on lopdf).
//!
//! It walks every page's content stream and the Form XObjects it draws,
//! follows all four text-showing operators (`Tj`, `TJ`, `'`, `"`) in
//! simple and composite (CID) fonts, and keeps invisible text (render mode
//! 3), which is what an OCR layer from a fax service, tesseract or
//! ocrmypdf is. Words and lines are found from where each string is drawn
//! and how wide it is, not from the order of the operators.
//!
//! Hostile files are expected. Form XObjects are followed to a fixed depth
//! and never into themselves, the whole walk has an operation budget, and
//! the text has a size cap. What this cannot bound (a parser's recursion, a
//! decompression bomb) is why it runs in a child: [`extract_isolated`].

use std::collections::HashMap;

use lopdf::{Dictionary, Document, Encoding, Object, ObjectId};

mod font;
mod layout;

use font::*;
use layout::*;

/// Form XObjects drawn inside Form XObjects, at most.
const MAX_FORM_DEPTH: usize = 12;
/// Content-stream operations interpreted, over the whole document.
const MAX_OPERATIONS: u64 = 4_000_000;
/// Pages read; the rest of a longer document is not.
const MAX_PAGES: usize = 500;
/// Text kept, in bytes.
const MAX_TEXT: usize = 2 << 20;
/// A content stream inflated, at most; a bigger one (a Flate bomb) is cut.
const MAX_STREAM: u64 = 32 << 20;

/// Why there is no text.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TextError {
    #[error("not a readable PDF: {0}")]
    Unreadable(String),
    #[error("the PDF is encrypted")]
    Encrypted,
    #[error("the PDF draws more than {MAX_OPERATIONS} operations (a drawing loop?)")]
    TooComplex,
    #[error("a content stream inflates to more than {} MiB", MAX_STREAM >> 20)]
    TooLarge,
}

/// The document's text, pages separated by a blank line. Empty when the
/// PDF has no text layer (an image-only scan).
pub fn extract(data: &[u8]) -> Result<String, TextError> {
    let doc = Document::load_mem(data).map_err(|e| TextError::Unreadable(e.to_string()))?;
    if doc.is_encrypted() {
        return Err(TextError::Encrypted);
    }
    let mut walker = Walker {
        doc: &doc,
        fonts: HashMap::new(),
        budget: MAX_OPERATIONS,
        forms: Vec::new(),
    };
    let mut pages = Vec::new();
    let mut size = 0;
    for (_, page_id) in doc.get_pages().into_iter().take(MAX_PAGES) {
        let mut runs = Vec::new();
        walker.page(page_id, &mut runs)?;
        let text = layout(&runs);
        size += text.len();
        if !text.trim().is_empty() {
            pages.push(text);
        }
        if size > MAX_TEXT {
            break;
        }
    }
    let mut text = pages.join("\n\n");
    if text.len() > MAX_TEXT {
        let mut cut = MAX_TEXT;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
    }
    Ok(text)
}

/// [`extract`] in the helper child under [`crate::isolate::Limits::PARSER`].
pub fn extract_isolated(data: &[u8]) -> Result<String, crate::isolate::IsolateError> {
    let out = crate::isolate::run_helper("pdf-text", data, crate::isolate::Limits::PARSER)?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The helper's side: PDF on stdin, text on stdout; exit 3 with the reason
/// on stderr when there is none.
pub fn helper_main() -> i32 {
    use std::io::{Read, Write};
    let mut data = Vec::new();
    if let Err(e) = std::io::stdin().read_to_end(&mut data) {
        eprintln!("reading the PDF: {e}");
        return 3;
    }
    match extract(&data) {
        Ok(text) => match std::io::stdout().write_all(text.as_bytes()) {
            Ok(()) => 0,
            Err(_) => 3,
        },
        Err(e) => {
            eprintln!("{e}");
            3
        }
    }
}

/// One string as drawn: where it starts and ends on the page, how tall
/// its font is there, and what it says.
#[derive(Debug, Clone)]
struct Run {
    x0: f32,
    x1: f32,
    y: f32,
    height: f32,
    text: String,
}

/// Affine matrix `[a b c d e f]`, row-vector convention as in PDF.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Matrix([f32; 6]);

impl Matrix {
    const IDENTITY: Matrix = Matrix([1.0, 0.0, 0.0, 1.0, 0.0, 0.0]);

    fn mul(self, o: Matrix) -> Matrix {
        let [a, b, c, d, e, f] = self.0;
        let [oa, ob, oc, od, oe, of] = o.0;
        Matrix([
            a * oa + b * oc,
            a * ob + b * od,
            c * oa + d * oc,
            c * ob + d * od,
            e * oa + f * oc + oe,
            e * ob + f * od + of,
        ])
    }

    fn translate(tx: f32, ty: f32) -> Matrix {
        Matrix([1.0, 0.0, 0.0, 1.0, tx, ty])
    }

    fn from_operands(ops: &[Object]) -> Option<Matrix> {
        if ops.len() < 6 {
            return None;
        }
        let mut m = [0.0; 6];
        for (slot, o) in m.iter_mut().zip(ops) {
            *slot = number(o)?;
        }
        m.iter().all(|v| v.is_finite()).then_some(Matrix(m))
    }
}

/// The text state the operators change.
#[derive(Clone)]
struct TextState {
    font: Option<ObjectId>,
    size: f32,
    char_spacing: f32,
    word_spacing: f32,
    scale: f32,
    leading: f32,
    rise: f32,
}

impl Default for TextState {
    fn default() -> Self {
        TextState {
            font: None,
            size: 0.0,
            char_spacing: 0.0,
            word_spacing: 0.0,
            scale: 1.0,
            leading: 0.0,
            rise: 0.0,
        }
    }
}

struct Walker<'a> {
    doc: &'a Document,
    fonts: HashMap<ObjectId, Font<'a>>,
    budget: u64,
    /// The Form XObjects being drawn, innermost last.
    forms: Vec<ObjectId>,
}

/// The resource dictionaries in scope, innermost first.
type Scope<'a> = Vec<&'a Dictionary>;

impl<'a> Walker<'a> {
    fn page(&mut self, page_id: ObjectId, runs: &mut Vec<Run>) -> Result<(), TextError> {
        let doc = self.doc;
        let mut scope: Scope<'a> = Vec::new();
        if let Ok((own, inherited)) = doc.get_page_resources(page_id) {
            scope.extend(own);
            for id in inherited {
                if let Ok(d) = doc.get_dictionary(id) {
                    scope.push(d);
                }
            }
        }
        let mut content = Vec::new();
        for id in doc.get_page_contents(page_id) {
            if let Ok(s) = doc.get_object(id).and_then(Object::as_stream) {
                content.extend(inflate(s)?);
                content.push(b'\n');
            }
        }
        self.stream(&content, &scope, Matrix::IDENTITY, runs)
    }

    /// Finds a named resource of `kind` (Font, XObject) in scope.
    fn resource(
        &self,
        scope: &Scope<'a>,
        kind: &[u8],
        name: &[u8],
    ) -> Option<(ObjectId, &'a Object)> {
        let doc = self.doc;
        scope.iter().find_map(|res| {
            let table = res.get_deref(kind, doc).ok()?.as_dict().ok()?;
            let entry = table.get(name).ok()?;
            match entry {
                Object::Reference(id) => Some((*id, doc.get_object(*id).ok()?)),
                // A direct object has no id; key it by the table's address
                // so that it is still cached once.
                other => Some(((u32::MAX, 0), other)),
            }
        })
    }

    fn font(&mut self, scope: &Scope<'a>, name: &[u8]) -> Option<ObjectId> {
        let (id, obj) = self.resource(scope, b"Font", name)?;
        let dict = obj.as_dict().ok()?;
        // Direct fonts share the placeholder id: reload them each time.
        if id.0 == u32::MAX || !self.fonts.contains_key(&id) {
            self.fonts.insert(id, Font::load(self.doc, dict));
        }
        Some(id)
    }

    fn stream(
        &mut self,
        content: &[u8],
        scope: &Scope<'a>,
        base: Matrix,
        runs: &mut Vec<Run>,
    ) -> Result<(), TextError> {
        // A content stream that does not parse may still have parsed
        // text before the damage; lopdf gives all or nothing, so a broken
        // stream contributes nothing and the rest of the document goes on.
        let Ok(ops) = lopdf::content::Content::decode(content) else {
            return Ok(());
        };
        let mut ctm = base;
        let mut stack: Vec<(Matrix, TextState)> = Vec::new();
        let mut ts = TextState::default();
        let mut tm = Matrix::IDENTITY;
        let mut tlm = Matrix::IDENTITY;
        for op in &ops.operations {
            if self.budget == 0 {
                return Err(TextError::TooComplex);
            }
            self.budget -= 1;
            let args = &op.operands;
            let num = |i: usize| args.get(i).and_then(number).filter(|v| v.is_finite());
            match op.operator.as_str() {
                "q" if stack.len() < 256 => stack.push((ctm, ts.clone())),
                "Q" => {
                    if let Some((m, t)) = stack.pop() {
                        ctm = m;
                        ts = t;
                    }
                }
                "cm" => {
                    if let Some(m) = Matrix::from_operands(args) {
                        ctm = m.mul(ctm);
                    }
                }
                "BT" => {
                    tm = Matrix::IDENTITY;
                    tlm = Matrix::IDENTITY;
                }
                "Tf" => {
                    ts.font = args
                        .first()
                        .and_then(|o| o.as_name().ok())
                        .and_then(|n| self.font(scope, n));
                    ts.size = num(1).unwrap_or(0.0);
                }
                "Tc" => ts.char_spacing = num(0).unwrap_or(0.0),
                "Tw" => ts.word_spacing = num(0).unwrap_or(0.0),
                "Tz" => ts.scale = num(0).unwrap_or(100.0) / 100.0,
                "TL" => ts.leading = num(0).unwrap_or(0.0),
                "Ts" => ts.rise = num(0).unwrap_or(0.0),
                "Td" | "TD" => {
                    let (tx, ty) = (num(0).unwrap_or(0.0), num(1).unwrap_or(0.0));
                    if op.operator == "TD" {
                        ts.leading = -ty;
                    }
                    tlm = Matrix::translate(tx, ty).mul(tlm);
                    tm = tlm;
                }
                "Tm" => {
                    if let Some(m) = Matrix::from_operands(args) {
                        tlm = m;
                        tm = m;
                    }
                }
                "T*" => {
                    tlm = Matrix::translate(0.0, -ts.leading).mul(tlm);
                    tm = tlm;
                }
                "Tj" | "'" | "\"" | "TJ" => {
                    if op.operator == "'" || op.operator == "\"" {
                        if op.operator == "\"" {
                            ts.word_spacing = num(0).unwrap_or(ts.word_spacing);
                            ts.char_spacing = num(1).unwrap_or(ts.char_spacing);
                        }
                        tlm = Matrix::translate(0.0, -ts.leading).mul(tlm);
                        tm = tlm;
                    }
                    let shown: &[Object] = match op.operator.as_str() {
                        "TJ" => args
                            .first()
                            .and_then(|a| a.as_array().ok())
                            .map(Vec::as_slice)
                            .unwrap_or(&[]),
                        "\"" => args.get(2).map(std::slice::from_ref).unwrap_or(&[]),
                        _ => args.first().map(std::slice::from_ref).unwrap_or(&[]),
                    };
                    for item in shown {
                        match item {
                            Object::String(bytes, _) => {
                                self.show(bytes, &ts, &mut tm, ctm, runs);
                            }
                            other => {
                                if let Some(n) = number(other).filter(|v| v.is_finite()) {
                                    let tx = -n / 1000.0 * ts.size * ts.scale;
                                    tm = Matrix::translate(tx, 0.0).mul(tm);
                                }
                            }
                        }
                    }
                }
                "Do" => {
                    let Some(name) = args.first().and_then(|o| o.as_name().ok()) else {
                        continue;
                    };
                    self.form(scope, name, ctm, runs)?;
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn form(
        &mut self,
        scope: &Scope<'a>,
        name: &[u8],
        ctm: Matrix,
        runs: &mut Vec<Run>,
    ) -> Result<(), TextError> {
        let Some((id, obj)) = self.resource(scope, b"XObject", name) else {
            return Ok(());
        };
        let Ok(stream) = obj.as_stream() else {
            return Ok(());
        };
        let is_form = stream
            .dict
            .get(b"Subtype")
            .and_then(Object::as_name)
            .is_ok_and(|s| s == b"Form");
        // A form that draws itself (directly or through others) would
        // never end: each form is drawn once per chain.
        if !is_form || self.forms.len() >= MAX_FORM_DEPTH || self.forms.contains(&id) {
            return Ok(());
        }
        let content = inflate(stream)?;
        let matrix = stream
            .dict
            .get(b"Matrix")
            .and_then(Object::as_array)
            .ok()
            .and_then(|a| Matrix::from_operands(a))
            .unwrap_or(Matrix::IDENTITY);
        let mut inner = scope.clone();
        if let Some(own) = stream
            .dict
            .get_deref(b"Resources", self.doc)
            .ok()
            .and_then(|o| o.as_dict().ok())
        {
            inner.insert(0, own);
        }
        self.forms.push(id);
        let result = self.stream(&content, &inner, matrix.mul(ctm), runs);
        self.forms.pop();
        result
    }

    fn show(
        &mut self,
        bytes: &[u8],
        ts: &TextState,
        tm: &mut Matrix,
        ctm: Matrix,
        runs: &mut Vec<Run>,
    ) {
        let Some(font) = ts.font.and_then(|id| self.fonts.get(&id)) else {
            return;
        };
        let render = |tm: Matrix| {
            Matrix([ts.size * ts.scale, 0.0, 0.0, ts.size, 0.0, ts.rise])
                .mul(tm)
                .mul(ctm)
        };
        let start = render(*tm);
        let mut advance = 0.0;
        for code in font.codes(bytes) {
            let w = font.width(code) / 1000.0 * ts.size;
            let space = if !font.two_byte && code == 32 {
                ts.word_spacing
            } else {
                0.0
            };
            advance += (w + ts.char_spacing + space) * ts.scale;
        }
        *tm = Matrix::translate(advance, 0.0).mul(*tm);
        let end = render(*tm);
        let text = font.decode(bytes);
        if text.is_empty() {
            return;
        }
        // The font's height on the page: the length of the text-space
        // vertical unit after all transforms.
        let [_, _, c, d, _, _] = start.0;
        let height = (c * c + d * d).sqrt().max(0.01);
        runs.push(Run {
            x0: start.0[4],
            x1: end.0[4],
            y: start.0[5],
            height,
            text,
        });
    }
}

/// A stream's data with its filters undone. Flate alone (what content
/// streams use) is inflated here with a cap; other filters go to lopdf.
fn inflate(stream: &lopdf::Stream) -> Result<Vec<u8>, TextError> {
    use std::io::Read;
    let filters = stream.filters().unwrap_or_default();
    let predictor = stream.dict.has(b"DecodeParms");
    match filters.as_slice() {
        [] => Ok(stream.content.clone()),
        [b"FlateDecode"] if !predictor => {
            let mut out = Vec::new();
            let mut z =
                flate2::read::ZlibDecoder::new(stream.content.as_slice()).take(MAX_STREAM + 1);
            // A damaged stream keeps what inflated before the damage.
            let _ = z.read_to_end(&mut out);
            if out.len() as u64 > MAX_STREAM {
                return Err(TextError::TooLarge);
            }
            Ok(out)
        }
        _ => Ok(stream.decompressed_content().unwrap_or_default()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::fax::pdf::assemble;

    fn pdf(content: &str, extra: &[&str]) -> Vec<u8> {
        let mut objects = vec![
            "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
            "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_string(),
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> /XObject << /X1 6 0 R /X2 7 0 R >> >> >>".to_string(),
            format!("<< /Length {} >>\nstream\n{content}\nendstream", content.len()),
            "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>".to_string(),
        ];
        objects.extend(extra.iter().map(|s| s.to_string()));
        assemble(
            &objects
                .into_iter()
                .map(String::into_bytes)
                .collect::<Vec<_>>(),
        )
    }

    fn form(content: &str) -> String {
        format!(
            "<< /Type /XObject /Subtype /Form /BBox [0 0 612 792] /Resources << /Font << /F1 5 0 R >> /XObject << /X1 6 0 R /X2 7 0 R >> >> /Length {} >>\nstream\n{content}\nendstream",
            content.len()
        )
    }

    #[test]
    fn every_text_operator_shows_text() {
        // ' and " move to the next line first: populate.py's text PDFs use '.
        let t = extract(&pdf(
            "BT /F1 12 Tf 14 TL 72 720 Td (Tj line) Tj (second) ' 1 0 (third) \" T* [(T) 120 (J) -3000 (word)] TJ ET",
            &[],
        ))
        .unwrap();
        assert_eq!(t, "Tj line\nsecond\nthird\nTJ word");
    }

    #[test]
    fn words_placed_one_by_one_get_spaces_and_lines() {
        // As tesseract writes its invisible layer: each word its own Tm.
        let t = extract(&pdf(
            "BT 3 Tr /F1 10 Tf 1 0 0 1 72 700 Tm (Invoice) Tj 1 0 0 1 120 700 Tm (4711) Tj 1 0 0 1 72 680 Tm (due) Tj ET",
            &[],
        ))
        .unwrap();
        assert_eq!(t, "Invoice 4711\ndue");
    }

    #[test]
    fn forms_are_followed_but_loops_and_bombs_end() {
        let inside = form("BT /F1 12 Tf 72 600 Td (from the form) Tj ET");
        let t = extract(&pdf("/X1 Do", &[&inside, &form("")])).unwrap();
        assert_eq!(t, "from the form");
        // A form that draws itself.
        let selfish = form("BT /F1 12 Tf 72 600 Td (loop) Tj ET /X1 Do");
        assert_eq!(
            extract(&pdf("/X1 Do", &[&selfish, &form("")])).unwrap(),
            "loop"
        );
        // Two forms that draw each other twice: 2^12 chains before the
        // depth stops them, each a few operations; it ends quickly either
        // way.
        let a = form("/X2 Do /X2 Do");
        let b = form("/X1 Do /X1 Do");
        let started = std::time::Instant::now();
        let r = extract(&pdf("/X1 Do", &[&a, &b]));
        assert!(matches!(r, Ok(_) | Err(TextError::TooComplex)), "{r:?}");
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }

    #[test]
    fn garbage_is_an_error_not_a_crash() {
        assert!(matches!(extract(b""), Err(TextError::Unreadable(_))));
        assert!(matches!(
            extract(b"%PDF-1.4 junk"),
            Err(TextError::Unreadable(_))
        ));
        let t = extract(&pdf("BT /F1 12 Tf (unclosed", &[])).unwrap();
        assert_eq!(t, "");
    }
}
