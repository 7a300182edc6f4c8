//! Renders a fax reply to PDF: A4 pages of wrapped text in one TrueType
//! font, embedded as a subset. The font is a CID font (Identity-H), so
//! Chinese and Japanese render as long as the font has the glyphs, and it
//! carries a ToUnicode map, so the text can be extracted and searched.
//! A character the font lacks is an error naming the font and the
//! character: a fax is never sent with holes in it.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

const PAGE_W: f32 = 595.0;
const PAGE_H: f32 = 842.0;
const MARGIN: f32 = 56.0;
const SIZE: f32 = 11.0;
const LEADING: f32 = 15.5;

/// Why the PDF could not be made, naming the font.
#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    #[error("fax font {path}: {message}")]
    Font { path: String, message: String },
}

struct Font<'a> {
    face: ttf_parser::Face<'a>,
    path: String,
    remap: subsetter::GlyphRemapper,
    /// new gid → (advance in 1/1000 em, the character).
    used: BTreeMap<u16, (u32, char)>,
}

impl<'a> Font<'a> {
    fn err(&self, message: impl Into<String>) -> PdfError {
        PdfError::Font {
            path: self.path.clone(),
            message: message.into(),
        }
    }

    /// The new glyph id and advance (points at SIZE) of a character.
    fn glyph(&mut self, c: char) -> Result<(u16, f32), PdfError> {
        let gid = self
            .face
            .glyph_index(c)
            .filter(|g| g.0 != 0)
            .ok_or_else(|| {
                self.err(format!(
                    "has no glyph for `{c}` (U+{:04X}); choose a font that covers the text",
                    c as u32
                ))
            })?;
        let upem = f32::from(self.face.units_per_em().max(1));
        let adv = f32::from(self.face.glyph_hor_advance(gid).unwrap_or(0));
        let new = self.remap.remap(gid.0);
        let w = (adv * 1000.0 / upem).round() as u32;
        self.used.entry(new).or_insert((w, c));
        Ok((new, adv / upem * SIZE))
    }
}

/// Wraps text to the page width: at spaces where there are any, anywhere
/// in CJK runs.
fn layout(font: &mut Font<'_>, text: &str) -> Result<Vec<Vec<u16>>, PdfError> {
    let width = PAGE_W - 2.0 * MARGIN;
    let mut lines = Vec::new();
    for para in text.lines() {
        let mut line: Vec<(u16, f32, char)> = Vec::new();
        let mut x = 0.0;
        for c in para.chars() {
            let c = if c == '\t' { ' ' } else { c };
            if c.is_control() {
                continue;
            }
            let (g, w) = font.glyph(c)?;
            if x + w > width && !line.is_empty() {
                // Break after the last space if there is one in the line.
                let cut = line.iter().rposition(|(_, _, ch)| *ch == ' ');
                let rest = match cut {
                    Some(i) if i + 1 < line.len() => line.split_off(i + 1),
                    _ => Vec::new(),
                };
                lines.push(line.iter().map(|(g, _, _)| *g).collect());
                x = rest.iter().map(|(_, w, _)| w).sum();
                line = rest;
            }
            line.push((g, w, c));
            x += w;
        }
        lines.push(line.iter().map(|(g, _, _)| *g).collect());
    }
    Ok(lines)
}

/// The PDF bytes for `text` set in the font at `font_path`.
pub fn render(text: &str, font_path: &Path) -> Result<Vec<u8>, PdfError> {
    let path = font_path.display().to_string();
    let err = |m: String| PdfError::Font {
        path: path.clone(),
        message: m,
    };
    let data = std::fs::read(font_path).map_err(|e| err(format!("cannot read it: {e}")))?;
    let face = ttf_parser::Face::parse(&data, 0)
        .map_err(|e| err(format!("not a font it can read: {e}")))?;
    if face.tables().glyf.is_none() {
        return Err(err("has no TrueType outlines (glyf); use a TrueType font such as WenQuanYi Micro Hei (wqy-microhei.ttc)".into()));
    }
    let mut font = Font {
        face,
        path: path.clone(),
        remap: subsetter::GlyphRemapper::new(),
        used: BTreeMap::new(),
    };
    let lines = layout(&mut font, text)?;
    let subset = subsetter::subset(&data, 0, &font.remap)
        .map_err(|e| err(format!("subsetting failed: {e}")))?;

    // Objects: 1 catalog, 2 pages, 3 Type0 font, 4 CIDFont, 5 descriptor,
    // 6 font file, 7 ToUnicode, then a page and its content per page.
    let per_page = ((PAGE_H - 2.0 * MARGIN) / LEADING).floor().max(1.0) as usize;
    let pages: Vec<&[Vec<u16>]> = if lines.is_empty() {
        vec![&[]]
    } else {
        lines.chunks(per_page).collect()
    };
    let mut objects: Vec<Vec<u8>> = Vec::new();
    let first_page = 8;
    let kids: Vec<String> = (0..pages.len())
        .map(|i| format!("{} 0 R", first_page + 2 * i))
        .collect();
    objects.push(b"<< /Type /Catalog /Pages 2 0 R >>".to_vec());
    objects.push(
        format!(
            "<< /Type /Pages /Kids [{}] /Count {} >>",
            kids.join(" "),
            pages.len()
        )
        .into_bytes(),
    );
    objects.push(
        b"<< /Type /Font /Subtype /Type0 /BaseFont /EchodeskFax /Encoding /Identity-H /DescendantFonts [4 0 R] /ToUnicode 7 0 R >>"
            .to_vec(),
    );
    let mut widths = String::new();
    for (gid, (w, _)) in &font.used {
        let _ = write!(widths, "{gid} [{w}] ");
    }
    objects.push(
        format!(
            "<< /Type /Font /Subtype /CIDFontType2 /BaseFont /EchodeskFax /CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> /FontDescriptor 5 0 R /CIDToGIDMap /Identity /DW 1000 /W [{widths}] >>"
        )
        .into_bytes(),
    );
    let upem = f32::from(font.face.units_per_em().max(1));
    let scale = |v: i16| (f32::from(v) * 1000.0 / upem).round() as i32;
    let bb = font.face.global_bounding_box();
    objects.push(
        format!(
            "<< /Type /FontDescriptor /FontName /EchodeskFax /Flags 4 /FontBBox [{} {} {} {}] /ItalicAngle 0 /Ascent {} /Descent {} /CapHeight {} /StemV 80 /FontFile2 6 0 R >>",
            scale(bb.x_min), scale(bb.y_min), scale(bb.x_max), scale(bb.y_max),
            scale(font.face.ascender()), scale(font.face.descender()),
            scale(font.face.capital_height().unwrap_or(font.face.ascender()))
        )
        .into_bytes(),
    );
    let mut file = format!(
        "<< /Length {} /Length1 {} >>\nstream\n",
        subset.len(),
        subset.len()
    )
    .into_bytes();
    file.extend_from_slice(&subset);
    file.extend_from_slice(b"\nendstream");
    objects.push(file);
    let mut cmap = String::from(
        "/CIDInit /ProcSet findresource begin 12 dict begin begincmap\n/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n/CMapName /Adobe-Identity-UCS def /CMapType 2 def\n1 begincodespacerange <0000> <FFFF> endcodespacerange\n",
    );
    let entries: Vec<(&u16, &(u32, char))> = font.used.iter().collect();
    for chunk in entries.chunks(100) {
        let _ = writeln!(cmap, "{} beginbfchar", chunk.len());
        for (gid, (_, c)) in chunk {
            let mut units = [0u16; 2];
            let hex: String = c
                .encode_utf16(&mut units)
                .iter()
                .map(|u| format!("{u:04X}"))
                .collect();
            let _ = writeln!(cmap, "<{gid:04X}> <{hex}>");
        }
        cmap.push_str("endbfchar\n");
    }
    cmap.push_str("endcmap CMapName currentdict /CMap defineresource pop end end");
    objects.push(format!("<< /Length {} >>\nstream\n{cmap}\nendstream", cmap.len()).into_bytes());
    for (i, page) in pages.iter().enumerate() {
        let mut content = String::new();
        for (n, line) in page.iter().enumerate() {
            if line.is_empty() {
                continue;
            }
            let y = PAGE_H - MARGIN - SIZE - LEADING * n as f32;
            let hex: String = line.iter().map(|g| format!("{g:04X}")).collect();
            let _ = writeln!(content, "BT /F1 {SIZE} Tf {MARGIN} {y:.1} Td <{hex}> Tj ET");
        }
        objects.push(
            format!(
                "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {PAGE_W} {PAGE_H}] /Resources << /Font << /F1 3 0 R >> >> /Contents {} 0 R >>",
                first_page + 2 * i + 1
            )
            .into_bytes(),
        );
        objects.push(
            format!(
                "<< /Length {} >>\nstream\n{content}endstream",
                content.len()
            )
            .into_bytes(),
        );
    }
    Ok(assemble(&objects))
}

/// A PDF file from its objects, numbered from 1 in order (object 1 the
/// catalog): header, bodies, cross-reference table and trailer.
pub fn assemble(objects: &[Vec<u8>]) -> Vec<u8> {
    let mut out = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n".to_vec();
    let mut offsets = Vec::with_capacity(objects.len());
    for (i, o) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend(format!("{} 0 obj\n", i + 1).as_bytes());
        out.extend(o);
        out.extend(b"\nendobj\n");
    }
    let xref = out.len();
    out.extend(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes());
    for off in offsets {
        out.extend(format!("{off:010} 00000 n \n").as_bytes());
    }
    out.extend(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const FONT: &str = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc";

    #[test]
    fn cjk_text_renders_and_reads_back() {
        if !Path::new(FONT).exists() {
            panic!(
                "{FONT} missing: install the Debian package fonts-wqy-microhei (scripts/test does)"
            );
        }
        let text = "Fax reply for ticket [#42]\n\n您好，零件今天发货。\nご注文の部品は本日発送します。\nThe replacement valve ships today.";
        let pdf = render(text, Path::new(FONT)).unwrap();
        assert!(
            pdf.len() < 200_000,
            "the font is subset: {} bytes",
            pdf.len()
        );
        let back = crate::channel::fax::pdf_text(&pdf).unwrap();
        for want in [
            "ticket [#42]",
            "您好，零件今天发货。",
            "ご注文の部品は本日発送します。",
            "valve ships today",
        ] {
            assert!(back.contains(want), "missing {want:?} in {back:?}");
        }
    }

    #[test]
    fn long_text_wraps_onto_more_pages() {
        let text = "word ".repeat(3000);
        let pdf = render(&text, Path::new(FONT)).unwrap();
        let pages = String::from_utf8_lossy(&pdf)
            .matches("/Type /Page ")
            .count();
        assert!(pages >= 3, "{pages} pages");
    }

    #[test]
    fn font_problems_are_named() {
        let e = render("x", Path::new("/nonexistent/font.ttf"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("/nonexistent/font.ttf") && e.contains("cannot read"),
            "{e}"
        );
        let dir = tempfile::tempdir().unwrap();
        let junk = dir.path().join("junk.ttf");
        std::fs::write(&junk, b"not a font").unwrap();
        assert!(render("x", &junk)
            .unwrap_err()
            .to_string()
            .contains("not a font"));
        // WenQuanYi Micro Hei has Latin and CJK but no Devanagari.
        let e = render("नमस्ते", Path::new(FONT)).unwrap_err().to_string();
        assert!(e.contains("has no glyph") && e.contains("U+"), "{e}");
    }
}
