//! Second chances for text whose charset label lied.
//!
//! Real mail carries Big5 labelled gb2312, Latin-1 with no label at all and
//! made-up labels. When the decoded text shows the signs of a wrong guess
//! (U+FFFD, or Private Use Area characters, which GBK produces from Big5
//! bytes), the raw bytes are decoded again with the likely candidates and
//! the first clean result wins.

use encoding_rs::{Encoding, BIG5, EUC_JP, EUC_KR, GB18030, SHIFT_JIS, UTF_8, WINDOWS_1252};

const CANDIDATES: &[&Encoding] = &[
    UTF_8,
    BIG5,
    GB18030,
    SHIFT_JIS,
    EUC_JP,
    EUC_KR,
    WINDOWS_1252,
];

/// Does decoded text look like it was decoded with the wrong charset?
pub fn suspicious(text: &str) -> bool {
    text.chars()
        .any(|c| c == '\u{FFFD}' || ('\u{E000}'..='\u{F8FF}').contains(&c))
}

fn clean(text: &str) -> bool {
    !suspicious(text) && !text.chars().any(|c| ('\u{80}'..='\u{9F}').contains(&c))
}

/// Decodes `bytes` with the first candidate that gives clean text; returns
/// the text and the charset's name.
pub fn redecode(bytes: &[u8]) -> Option<(String, &'static str)> {
    redecode_enc(bytes).map(|(t, e)| (t, e.name()))
}

pub fn redecode_enc(bytes: &[u8]) -> Option<(String, &'static Encoding)> {
    // Firefox's detector first: it weighs the whole text, where the list
    // below takes the first charset that merely decodes without errors.
    let mut detector = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Allow);
    detector.feed(bytes, true);
    let guess = detector.guess(None, chardetng::Utf8Detection::Allow);
    let (text, had_errors) = guess.decode_without_bom_handling(bytes);
    if !had_errors && clean(&text) {
        return Some((text.into_owned(), guess));
    }
    candidates(bytes)
}

fn candidates(bytes: &[u8]) -> Option<(String, &'static Encoding)> {
    // Multi-byte charsets put non-ASCII bytes in runs of two or more; lone
    // high bytes between ASCII letters mean a single-byte charset, which a
    // permissive double-byte decoder would otherwise happily mangle.
    let mut runs = bytes.split(|b| b.is_ascii()).filter(|r| !r.is_empty());
    let single_byte = runs.all(|r| r.len() == 1);
    let order: Vec<&Encoding> = if single_byte {
        std::iter::once(WINDOWS_1252)
            .chain(CANDIDATES.iter().copied())
            .collect()
    } else {
        CANDIDATES.to_vec()
    };
    order.into_iter().find_map(|enc| {
        let (text, had_errors) = enc.decode_without_bom_handling(bytes);
        (!had_errors && clean(&text)).then(|| (text.into_owned(), enc))
    })
}

/// Decodes a raw 8-bit header: as UTF-8 when it is, else in `hint` (the
/// body's charset) when that decodes it cleanly, else as detected.
pub fn decode_8bit(
    bytes: &[u8],
    hint: Option<&'static Encoding>,
) -> Option<(String, &'static Encoding)> {
    if bytes.is_ascii() {
        return None;
    }
    if let Ok(s) = std::str::from_utf8(bytes) {
        return Some((s.to_string(), UTF_8));
    }
    if let Some(enc) = hint.filter(|e| *e != UTF_8) {
        let (text, bad) = enc.decode_without_bom_handling(bytes);
        if !bad && clean(&text) {
            return Some((text.into_owned(), enc));
        }
    }
    redecode_enc(bytes)
}

/// Re-decodes RFC 2047 encoded words (`=?cs?B?...?=`) whose charset was
/// wrong or unknown. Returns None when there is nothing to repair.
pub fn repair_encoded_words(raw_header: &str) -> Option<(String, &'static str)> {
    repair_encoded_words_with(raw_header, None)
}

/// As [`repair_encoded_words`], but words labelled `wrong_label` are decoded
/// as `actual` (what the body turned out to be in).
pub fn repair_encoded_words_with(
    raw_header: &str,
    relabel: Option<(&str, &'static Encoding)>,
) -> Option<(String, &'static str)> {
    let re = regex::Regex::new(r"=\?([^?\s]+)\?([BbQq])\?([^?\s]*)\?=").ok()?;
    if !re.is_match(raw_header) {
        return None;
    }
    let mut out = String::new();
    let mut last = 0;
    let mut used = "";
    let mut prev_was_word = false;
    for cap in re.captures_iter(raw_header) {
        let m = cap.get(0)?;
        let between = &raw_header[last..m.start()];
        // Whitespace between adjacent encoded words is not part of the text.
        if !(prev_was_word && between.trim().is_empty()) {
            out.push_str(between);
        }
        let payload = cap.get(3)?.as_str().as_bytes();
        let bytes = if cap[2].eq_ignore_ascii_case("b") {
            mail_parser::decoders::base64::base64_decode(payload)?
        } else {
            let underscored: Vec<u8> = payload
                .iter()
                .map(|&b| if b == b'_' { b' ' } else { b })
                .collect();
            mail_parser::decoders::quoted_printable::quoted_printable_decode(&underscored)?
        };
        if let Some((wrong, actual)) = relabel {
            if cap[1].eq_ignore_ascii_case(wrong) {
                let (t, bad) = actual.decode_without_bom_handling(&bytes);
                if !bad && clean(&t) {
                    out.push_str(&t);
                    used = actual.name();
                    last = m.end();
                    prev_was_word = true;
                    continue;
                }
            }
        }
        let declared = Encoding::for_label(cap[1].as_bytes())
            .map(|e| e.decode_without_bom_handling_and_without_replacement(&bytes))
            .and_then(|t| t.map(|t| t.into_owned()).filter(|t| clean(t)));
        match declared {
            Some(t) => out.push_str(&t),
            None => {
                let (t, name) = redecode(&bytes)?;
                used = name;
                out.push_str(&t);
            }
        }
        last = m.end();
        prev_was_word = true;
    }
    out.push_str(&raw_header[last..]);
    (!used.is_empty()).then(|| (out.trim().to_string(), used))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn big5_labelled_gb2312_is_recovered() {
        // "退款申請" in Big5, as a gb2312-labelled encoded word.
        let big5 = BIG5.encode("退款申請").0;
        let b64 = {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD.encode(&big5)
        };
        let header = format!("=?gb2312?B?{b64}?=");
        // GBK decodes these bytes without complaint, so only the body's
        // evidence can tell.
        assert!(repair_encoded_words(&header).is_none());
        let (text, cs) = repair_encoded_words_with(&header, Some(("gb2312", BIG5))).unwrap();
        assert_eq!(text, "退款申請");
        assert_eq!(cs, "Big5");
    }

    #[test]
    fn latin1_without_label_is_recovered() {
        let (text, cs) = redecode(b"caf\xe9 na\xefve").unwrap();
        assert_eq!(text, "café naïve");
        assert_eq!(cs, "windows-1252");
    }

    #[test]
    fn clean_text_is_left_alone() {
        assert!(!suspicious("退款 ok"));
        assert!(repair_encoded_words("plain subject").is_none());
        assert!(repair_encoded_words("=?utf-8?B?6YCA5qy+?=").is_none());
    }
}
