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

/// For one-line fields (subject, name, file name): every control character,
/// including newline and tab, becomes visible and harmless.
pub fn line(s: &str) -> String {
    s.chars()
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
    for c in s.chars() {
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
        assert!(!clean.chars().any(|c| c == '\x1b' || c == '\x07' || c == '\u{9b}'));
        assert!(clean.contains("red"));
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
