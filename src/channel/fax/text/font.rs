//! What the text walker knows of a font: its codes to text (simple and
//! CID encodings, ToUnicode) and the width of each code.

use super::*;

pub(super) fn number(o: &Object) -> Option<f32> {
    match o {
        Object::Integer(i) => Some(*i as f32),
        Object::Real(r) => Some(*r),
        _ => None,
    }
}

/// What the walker knows of a font: how to turn its codes into text and
/// how wide each code is (1/1000 text-space units).
pub(super) struct Font<'a> {
    pub(super) encoding: Option<Encoding<'a>>,
    pub(super) two_byte: bool,
    pub(super) first_char: i64,
    pub(super) widths: Vec<f32>,
    pub(super) cid_widths: Vec<(u32, u32, f32)>,
    pub(super) default_width: f32,
    /// Type 3 fonts scale glyph space by their FontMatrix, not by 1/1000.
    pub(super) scale: f32,
}

impl<'a> Font<'a> {
    pub(super) fn load(doc: &'a Document, dict: &'a Dictionary) -> Font<'a> {
        let subtype = dict.get(b"Subtype").and_then(Object::as_name).ok();
        let two_byte = subtype == Some(b"Type0".as_slice());
        let encoding = dict.get_font_encoding(doc).ok();
        let mut font = Font {
            encoding,
            two_byte,
            first_char: 0,
            widths: Vec::new(),
            cid_widths: Vec::new(),
            default_width: if two_byte { 1000.0 } else { 500.0 },
            scale: 1.0,
        };
        if two_byte {
            let descendant = dict
                .get_deref(b"DescendantFonts", doc)
                .and_then(Object::as_array)
                .ok()
                .and_then(|a| a.first())
                .and_then(|o| doc.dereference(o).ok())
                .and_then(|(_, o)| o.as_dict().ok());
            if let Some(d) = descendant {
                if let Some(dw) = d.get_deref(b"DW", doc).ok().and_then(number) {
                    font.default_width = dw;
                }
                if let Ok(w) = d.get_deref(b"W", doc).and_then(Object::as_array) {
                    font.cid_widths = cid_widths(doc, w);
                }
            }
        } else {
            font.first_char = dict
                .get_deref(b"FirstChar", doc)
                .and_then(Object::as_i64)
                .unwrap_or(0);
            if let Ok(w) = dict.get_deref(b"Widths", doc).and_then(Object::as_array) {
                font.widths = w
                    .iter()
                    .take(65_536)
                    .map(|o| {
                        doc.dereference(o)
                            .ok()
                            .and_then(|(_, o)| number(o))
                            .unwrap_or(0.0)
                    })
                    .collect();
                // Missing widths are common in OCR fonts; an average keeps
                // word gaps measurable.
                if let Some(avg) = average(&font.widths) {
                    font.default_width = avg;
                }
            }
            if subtype == Some(b"Type3".as_slice()) {
                if let Some(m) = dict
                    .get_deref(b"FontMatrix", doc)
                    .and_then(Object::as_array)
                    .ok()
                    .and_then(|a| a.first())
                    .and_then(number)
                {
                    font.scale = m.abs() * 1000.0;
                }
            }
        }
        font
    }

    pub(super) fn codes<'b>(&self, bytes: &'b [u8]) -> impl Iterator<Item = u32> + 'b {
        let step = if self.two_byte { 2 } else { 1 };
        bytes
            .chunks(step)
            .map(|c| c.iter().fold(0u32, |v, b| (v << 8) | u32::from(*b)))
    }

    pub(super) fn width(&self, code: u32) -> f32 {
        let w = if self.two_byte {
            self.cid_widths
                .iter()
                .find(|(lo, hi, _)| (*lo..=*hi).contains(&code))
                .map(|(_, _, w)| *w)
        } else {
            usize::try_from(i64::from(code) - self.first_char)
                .ok()
                .and_then(|i| self.widths.get(i).copied())
                .filter(|w| *w > 0.0)
        };
        w.unwrap_or(self.default_width) * self.scale
    }

    pub(super) fn decode(&self, bytes: &[u8]) -> String {
        let text = match &self.encoding {
            Some(enc) => Document::decode_text(enc, bytes).unwrap_or_default(),
            None => String::new(),
        };
        text.chars()
            .filter(|c| !c.is_control() && *c != '\u{FFFD}')
            .collect()
    }
}

pub(super) fn average(w: &[f32]) -> Option<f32> {
    let used: Vec<f32> = w.iter().copied().filter(|v| *v > 0.0).collect();
    (!used.is_empty()).then(|| used.iter().sum::<f32>() / used.len() as f32)
}

/// A CID font's `W` array: `c [w1 w2 …]` and `c_first c_last w`.
pub(super) fn cid_widths(doc: &Document, w: &[Object]) -> Vec<(u32, u32, f32)> {
    let mut out = Vec::new();
    let mut i = 0;
    let get = |o: &Object| -> Option<f32> { doc.dereference(o).ok().and_then(|(_, o)| number(o)) };
    while i < w.len() && out.len() < 65_536 {
        let Some(first) = get(&w[i]).map(|v| v as u32) else {
            break;
        };
        match w.get(i + 1).map(|o| doc.dereference(o).map(|(_, o)| o)) {
            Some(Ok(Object::Array(list))) => {
                for (k, o) in list.iter().take(65_536).enumerate() {
                    if let Some(v) = get(o) {
                        let c = first.saturating_add(k as u32);
                        out.push((c, c, v));
                    }
                }
                i += 2;
            }
            Some(Ok(_)) => {
                let (Some(last), Some(v)) =
                    (w.get(i + 1).and_then(get), w.get(i + 2).and_then(get))
                else {
                    break;
                };
                out.push((first, last as u32, v));
                i += 3;
            }
            _ => break,
        }
    }
    out
}
