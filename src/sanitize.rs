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

/// Invisible characters that can make one name look like another
/// ("Pay\u{200B}Pal"). The joiners are kept where scripts and emoji need
/// them: ZWJ after a pictograph (family emoji), ZWNJ after a letter of a
/// script that uses it (Persian, the Indic scripts).
fn is_invisible(c: char, prev: Option<char>) -> bool {
    match c {
        '\u{200B}' | '\u{2060}' | '\u{FEFF}' | '\u{180E}' | '\u{2061}'..='\u{2064}' => true,
        '\u{200D}' => !prev.is_some_and(
            |p| matches!(p, '\u{1F000}'..='\u{1FAFF}' | '\u{2600}'..='\u{27BF}' | '\u{FE0F}'),
        ),
        '\u{200C}' => !prev.is_some_and(|p| p >= '\u{0590}' && p.is_alphabetic()),
        _ => false,
    }
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
    let mut prev = None;
    strip_escapes(s)
        .chars()
        .map(|c| {
            let out = match c {
                '\t' | '\n' | '\r' | '\u{2028}' | '\u{2029}' => ' ',
                c if is_dangerous(c) || is_invisible(c, prev) => REPLACEMENT,
                c => c,
            };
            prev = Some(c);
            out
        })
        .collect()
}

/// For multi-line text (bodies): keeps newlines, expands tabs, drops CR and
/// neutralises everything else.
pub fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut prev = None;
    for c in strip_escapes(s).chars() {
        match c {
            '\n' | '\u{2028}' | '\u{2029}' => out.push('\n'),
            '\r' => {}
            '\t' => out.push_str("    "),
            c if is_dangerous(c) || is_invisible(c, prev) => out.push(REPLACEMENT),
            c => out.push(c),
        }
        prev = Some(c);
    }
    out
}

/// JSON for a terminal as well as for a program: the same data once
/// parsed, but C1 controls, bidi controls, invisible characters and line
/// separators are written as `\uXXXX` escapes (serde_json escapes only
/// the C0 controls), so `--json` on a terminal cannot be made to lie.
pub fn json<T: serde::Serialize + ?Sized>(v: &T, pretty: bool) -> serde_json::Result<String> {
    let mut out = Vec::new();
    if pretty {
        let mut ser = serde_json::Serializer::with_formatter(
            &mut out,
            SafeJson(serde_json::ser::PrettyFormatter::new()),
        );
        v.serialize(&mut ser)?;
    } else {
        let mut ser = serde_json::Serializer::with_formatter(
            &mut out,
            SafeJson(serde_json::ser::CompactFormatter),
        );
        v.serialize(&mut ser)?;
    }
    // serde_json writes UTF-8 only.
    Ok(String::from_utf8(out).unwrap_or_default())
}

fn json_escaped(c: char) -> bool {
    is_dangerous(c)
        || matches!(c, '\u{200B}'..='\u{200D}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}' | '\u{180E}' | '\u{2028}' | '\u{2029}')
}

struct SafeJson<F>(F);

impl<F: serde_json::ser::Formatter> serde_json::ser::Formatter for SafeJson<F> {
    fn write_string_fragment<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> std::io::Result<()> {
        let mut rest = fragment;
        while let Some((i, c)) = rest.char_indices().find(|&(_, c)| json_escaped(c)) {
            w.write_all(&rest.as_bytes()[..i])?;
            write!(w, "\\u{:04x}", c as u32)?;
            rest = &rest[i + c.len_utf8()..];
        }
        w.write_all(rest.as_bytes())
    }
    fn begin_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.begin_array(w)
    }
    fn end_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_array(w)
    }
    fn begin_array_value<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.0.begin_array_value(w, first)
    }
    fn end_array_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_array_value(w)
    }
    fn begin_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.begin_object(w)
    }
    fn end_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_object(w)
    }
    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.0.begin_object_key(w, first)
    }
    fn end_object_key<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_object_key(w)
    }
    fn begin_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.begin_object_value(w)
    }
    fn end_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_object_value(w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_escapes_what_a_terminal_would_obey_and_keeps_the_data() {
        let v = serde_json::json!({"name": "Pay\u{200b}Pal \u{202e}gnp.exe \u{9b}2J \u{1b}[31m \u{2028} 中文 🙂"});
        for pretty in [true, false] {
            let s = json(&v, pretty).unwrap();
            assert!(
                s.contains("Pay\\u200bPal \\u202egnp.exe \\u009b2J \\u001b[31m \\u2028 中文 🙂"),
                "{s}"
            );
            let back: serde_json::Value = serde_json::from_str(&s).unwrap();
            assert_eq!(back, v);
        }
        assert_eq!(json(&[1, 2], false).unwrap(), "[1,2]");
        assert_eq!(json(&[1], true).unwrap(), "[\n  1\n]");
    }

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
    fn invisible_characters_show_but_scripts_and_emoji_keep_their_joiners() {
        assert_eq!(line("Pay\u{200B}Pal"), format!("Pay{REPLACEMENT}Pal"));
        assert_eq!(line("Pay\u{200D}Pal"), format!("Pay{REPLACEMENT}Pal"));
        assert_eq!(
            line("\u{FEFF}Bob\u{2060}"),
            format!("{REPLACEMENT}Bob{REPLACEMENT}")
        );
        assert_eq!(line("a\u{2028}b\u{2029}c"), "a b c");
        assert_eq!(text("a\u{2028}b"), "a\nb");
        // 👨‍👩‍👧 and the Persian "mi-khaham" keep their joiners.
        let family = "\u{1F468}\u{200D}\u{1F469}\u{200D}\u{1F467}";
        assert_eq!(line(family), family);
        assert_eq!(
            line("\u{0645}\u{06CC}\u{200C}\u{062E}"),
            "\u{0645}\u{06CC}\u{200C}\u{062E}"
        );
    }

    #[test]
    fn cjk_and_emoji_pass_through() {
        assert_eq!(line("退款 返金 🙂"), "退款 返金 🙂");
    }
}
