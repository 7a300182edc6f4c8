//! Neutralising text from outside before it reaches a terminal.
//!
//! Subjects, bodies, names and file names come from strangers. A raw ESC or
//! C1 control could move the cursor, retitle the window or worse, and bidi
//! overrides can make text lie about its order. Everything that displays
//! outside text goes through here; the store keeps the original bytes.

/// Replacement shown where a control character was.
pub const REPLACEMENT: char = '\u{FFFD}';

fn is_dangerous(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{8}' | '\u{B}'..='\u{1F}' | '\u{7F}'..='\u{9F}'
        // bidi embeddings, overrides and isolates
        | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
        | '\u{200E}' | '\u{200F}' | '\u{061C}'
    )
}

/// Removes terminal escape sequences whole (CSI `ESC [ … final`, OSC
/// `ESC ] … BEL|ST`, and two-character `ESC x`), so that what they wrapped
/// reads as plain text. Lone control characters are left for the callers.
pub fn strip_escapes(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.contains('\x1b') && !s.contains('\u{9b}') && !s.contains('\u{9d}') {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars().peekable();
    while let Some(c) = it.next() {
        let kind = match c {
            '\x1b' => match it.peek() {
                Some('[') => {
                    it.next();
                    'c'
                }
                Some(']') => {
                    it.next();
                    'o'
                }
                Some(_) => {
                    it.next();
                    continue;
                }
                None => continue,
            },
            '\u{9b}' => 'c',
            '\u{9d}' => 'o',
            c => {
                out.push(c);
                continue;
            }
        };
        if kind == 'c' {
            // Parameters and intermediates, then one final byte @..~.
            for n in it.by_ref() {
                if ('@'..='~').contains(&n) {
                    break;
                }
            }
        } else {
            // OSC runs to BEL or ESC \.
            while let Some(n) = it.next() {
                if n == '\x07' || n == '\u{9c}' {
                    break;
                }
                if n == '\x1b' {
                    if it.peek() == Some(&'\\') {
                        it.next();
                    }
                    break;
                }
            }
        }
    }
    std::borrow::Cow::Owned(out)
}

/// For one-line fields (subject, name, file name): every control character,
/// including newline and tab, becomes visible and harmless.
pub fn line(s: &str) -> String {
    strip_escapes(s)
        .chars()
        .map(|c| match c {
            '\t' | '\n' | '\r' => ' ',
            c if is_dangerous(c) => REPLACEMENT,
            c => c,
        })
        .collect()
}

/// For multi-line text (bodies): keeps newlines, expands tabs, drops CR and
/// neutralises everything else.
pub fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in strip_escapes(s).chars() {
        match c {
            '\n' => out.push('\n'),
            '\r' => {}
            '\t' => out.push_str("    "),
            c if is_dangerous(c) => out.push(REPLACEMENT),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_sequences_are_neutralised() {
        let s = "Hi \x1b[31mred\x1b]0;title\x07 \u{9b}2J";
        let clean = line(s);
        assert!(!clean
            .chars()
            .any(|c| c == '\x1b' || c == '\x07' || c == '\u{9b}'));
        assert!(clean.contains("red"));
    }

    #[test]
    fn sequences_are_removed_whole() {
        assert_eq!(line("\x1b[5;31mBlinking\x1b[0m x"), "Blinking x");
        assert_eq!(line("a\x1b]0;evil title\x07b"), "ab");
        assert_eq!(line("a\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\"), "alink");
        assert_eq!(line("tail\x1b"), "tail");
    }

    #[test]
    fn text_keeps_lines_and_drops_cr() {
        assert_eq!(text("a\r\nb\tc"), "a\nb    c");
        assert_eq!(line("a\nb"), "a b");
    }

    #[test]
    fn bidi_overrides_are_neutralised() {
        assert_eq!(line("abc\u{202E}def"), format!("abc{REPLACEMENT}def"));
    }

    #[test]
    fn cjk_and_emoji_pass_through() {
        assert_eq!(line("退款 返金 🙂"), "退款 返金 🙂");
    }
}
