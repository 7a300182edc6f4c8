//! How many SMS a text costs: GSM 03.38 7-bit when every character is in
//! the GSM alphabet (160 per single message, 153 per part of a long one;
//! extension characters such as `€ [ ] { } ~ ^ \ |` take two septets),
//! otherwise UCS-2 (70 single, 67 per part; characters outside the BMP
//! take two code units).

use serde::Serialize;

const BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\u{1b}ÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
const EXTENSION: &str = "^{}\\[~]|€\u{c}";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Encoding {
    Gsm7,
    Ucs2,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Segments {
    pub encoding: Encoding,
    /// Septets (GSM-7) or UTF-16 code units (UCS-2) used.
    pub units: usize,
    pub segments: usize,
    /// Units that fit in that many segments.
    pub capacity: usize,
}

impl std::fmt::Display for Segments {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let enc = match self.encoding {
            Encoding::Gsm7 => "GSM-7",
            Encoding::Ucs2 => "UCS-2",
        };
        let s = if self.segments == 1 { "" } else { "s" };
        write!(
            f,
            "{enc} · {} segment{s} ({}/{})",
            self.segments, self.units, self.capacity
        )
    }
}

pub fn count(text: &str) -> Segments {
    let mut septets = 0usize;
    let mut gsm = true;
    for c in text.chars() {
        if BASIC.contains(c) && c != '\u{1b}' {
            septets += 1;
        } else if EXTENSION.contains(c) {
            septets += 2;
        } else {
            gsm = false;
            break;
        }
    }
    let (encoding, units, single, part) = if gsm {
        (Encoding::Gsm7, septets, 160, 153)
    } else {
        (Encoding::Ucs2, text.encode_utf16().count(), 70, 67)
    };
    // An empty text still costs one message.
    let segments = if units <= single {
        1
    } else {
        units.div_ceil(part)
    };
    let capacity = if segments == 1 {
        single
    } else {
        segments * part
    };
    Segments {
        encoding,
        units,
        segments,
        capacity,
    }
}

/// The text cut into the parts a concatenated SMS is sent as (one part
/// when it fits a single message). A character never straddles two parts:
/// not a GSM-7 escape pair, not a UTF-16 surrogate pair.
pub fn split(text: &str) -> Vec<String> {
    let seg = count(text);
    if seg.segments <= 1 {
        return vec![text.to_string()];
    }
    let (part, cost): (usize, fn(char) -> usize) = match seg.encoding {
        Encoding::Gsm7 => (153, |c| if EXTENSION.contains(c) { 2 } else { 1 }),
        Encoding::Ucs2 => (67, char::len_utf16),
    };
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut used = 0;
    for c in text.chars() {
        let n = cost(c);
        if used + n > part {
            parts.push(std::mem::take(&mut cur));
            used = 0;
        }
        cur.push(c);
        used += n;
    }
    parts.push(cur);
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_respects_part_sizes_and_pairs() {
        assert_eq!(split("short"), vec!["short"]);
        let parts = split(&"a".repeat(307));
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            vec![153, 153, 1]
        );
        // 152 plain + € (2 septets) does not fit part one's 153.
        let t = format!("{}€{}", "a".repeat(152), "b".repeat(10));
        let parts = split(&t);
        assert_eq!(parts[0].len(), 152);
        assert!(parts[1].starts_with('€'));
        let zh = split(&"退".repeat(140));
        assert_eq!(
            zh.iter().map(|p| p.chars().count()).collect::<Vec<_>>(),
            vec![67, 67, 6]
        );
        assert_eq!(zh.concat(), "退".repeat(140));
    }

    #[test]
    fn gsm7_limits() {
        assert_eq!(count(&"a".repeat(160)).segments, 1);
        assert_eq!(count(&"a".repeat(161)).segments, 2);
        assert_eq!(count(&"a".repeat(306)).segments, 2);
        assert_eq!(count(&"a".repeat(307)).segments, 3);
        assert_eq!(count("").segments, 1);
    }

    #[test]
    fn extension_characters_count_two() {
        let s = count(&"€".repeat(80));
        assert_eq!((s.encoding, s.units, s.segments), (Encoding::Gsm7, 160, 1));
        assert_eq!(count(&"€".repeat(81)).segments, 2);
    }

    #[test]
    fn ucs2_limits_and_surrogates() {
        assert_eq!(count(&"退".repeat(70)).segments, 1);
        let s = count(&"退".repeat(71));
        assert_eq!(
            (s.encoding, s.segments, s.capacity),
            (Encoding::Ucs2, 2, 134)
        );
        // An emoji is two UTF-16 units.
        assert_eq!(count(&"🙂".repeat(35)).units, 70);
        assert_eq!(count(&"🙂".repeat(36)).segments, 2);
        assert_eq!(count("ça va").encoding, Encoding::Ucs2);
        assert_eq!(count("Ça va").encoding, Encoding::Gsm7);
    }
}
