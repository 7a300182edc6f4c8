//! What goes into the FTS5 indexes and how query words become FTS5 syntax.
//!
//! unicode61 splits on spaces and punctuation, so an unspaced Chinese or
//! Japanese sentence would be one token and a two-character word inside it
//! could never match. The store therefore writes each CJK character as its
//! own token and turns a CJK query word into a phrase of adjacent tokens.

fn is_cjk(c: char) -> bool {
    matches!(c,
        '\u{3040}'..='\u{30FF}'   // Hiragana, Katakana
        | '\u{3400}'..='\u{4DBF}' // CJK extension A
        | '\u{4E00}'..='\u{9FFF}' // CJK unified
        | '\u{AC00}'..='\u{D7AF}' // Hangul syllables
        | '\u{F900}'..='\u{FAFF}'
        | '\u{FF66}'..='\u{FF9D}' // half-width Katakana
        | '\u{20000}'..='\u{2FA1F}')
}

/// Text as indexed: CJK characters separated by spaces, the rest unchanged.
pub fn segment(text: &str) -> std::borrow::Cow<'_, str> {
    // Escape sequences would glue their parameters to the words they wrap.
    let text = crate::sanitize::strip_escapes(text);
    if !text.chars().any(is_cjk) {
        return text;
    }
    let mut out = String::with_capacity(text.len() * 2);
    for c in text.chars() {
        if is_cjk(c) {
            out.push(' ');
            out.push(c);
            out.push(' ');
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// One user word or phrase as an FTS5 phrase string: quoted (so FTS5
/// operators typed by the user are just text), CJK segmented, and a
/// trailing `*` kept as a prefix search.
pub fn phrase(text: &str, allow_prefix: bool) -> Option<String> {
    let (body, prefix) = match text.strip_suffix('*') {
        Some(b) if allow_prefix => (b, true),
        _ => (text, false),
    };
    let seg = segment(body);
    let has_token = seg.chars().any(char::is_alphanumeric);
    if !has_token {
        return None;
    }
    let quoted = format!("\"{}\"", seg.replace('"', "\"\""));
    Some(if prefix {
        format!("{quoted} *")
    } else {
        quoted
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cjk_is_split_and_latin_kept() {
        assert_eq!(segment("abc"), "abc");
        assert_eq!(segment("我要退款 ok"), " 我  要  退  款  ok");
    }

    #[test]
    fn phrases_are_quoted() {
        assert_eq!(phrase("refund", true).unwrap(), "\"refund\"");
        assert_eq!(phrase("ref*", true).unwrap(), "\"ref\" *");
        assert_eq!(phrase("a\"b", false).unwrap(), "\"a\"\"b\"");
        assert_eq!(phrase("退款", false).unwrap(), "\" 退  款 \"");
        assert!(phrase("--", false).is_none());
    }
}
