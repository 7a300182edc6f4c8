//! What goes into the FTS5 indexes and how query words become FTS5 syntax.
//!
//! unicode61 splits on spaces and punctuation, so an unspaced Chinese or
//! Japanese sentence would be one token and a two-character word inside it
//! could never match. The store therefore writes each run of CJK characters
//! as overlapping two-character tokens (退款 → 退款; 我要退款 → 我要 要退
//! 退款), plus the run's last character alone. A CJK query word becomes the
//! same bigrams as a phrase: the common two-character word is one token
//! and costs what a Latin word costs, where one token per character made
//! every CJK word a positional phrase query. The trailing single character
//! lets a one-character query find every occurrence: each character starts
//! a bigram or ends its run.
//!
//! unicode61 also treats emoji as separators, so 🙂 could never be found.
//! Each pictograph is written as a token of its own, `ǂ` and its code
//! point in hex (🙂 → ǂ1f642): `ǂ` is a letter to the tokenizer, and no one
//! types it, so the token matches only the emoji. A skin tone is a token
//! too, so 👍 finds 👍🏽.

use std::borrow::Cow;

/// The layout the search documents are written in. A store whose documents
/// are older is re-indexed when it is opened.
pub const LAYOUT: i64 = 3;

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

/// Pictographs: the emoji blocks, dingbats and miscellaneous symbols.
fn is_emoji(c: char) -> bool {
    matches!(c,
        '\u{1F000}'..='\u{1FAFF}'
        | '\u{2600}'..='\u{27BF}'
        | '\u{2300}'..='\u{23FF}'
        | '\u{2B00}'..='\u{2BFF}')
}

fn push_emoji(out: &mut String, c: char) {
    use std::fmt::Write;
    // Writing to a String cannot fail.
    let _ = write!(out, " \u{1C2}{:x} ", c as u32);
}

/// Writes one CJK run as space-separated bigrams; `tail` adds the last
/// character alone (documents), which queries must not ask for.
fn push_run(out: &mut String, run: &[char], tail: bool) {
    out.push(' ');
    if run.len() == 1 {
        out.push(run[0]);
    } else {
        for pair in run.windows(2) {
            out.push(pair[0]);
            out.push(pair[1]);
            out.push(' ');
        }
        if tail {
            out.push(run[run.len() - 1]);
        }
    }
    out.push(' ');
}

/// `query`: the text is a search phrase, not a document. A document's run
/// always gets its last character as a token. In a phrase, a run that
/// other text follows ends where the document's run ends, so it gets that
/// token too, or the phrase would skip a position (问题 + 题 + 887573 in
/// 发票问题（887573）). A run at the end of a phrase may continue in the
/// document, so it does not.
fn bigrams(text: &str, query: bool) -> Cow<'_, str> {
    // Escape sequences would glue their parameters to the words they wrap.
    let text = crate::sanitize::strip_escapes(text);
    if !text.chars().any(|c| is_cjk(c) || is_emoji(c)) {
        return text;
    }
    let mut out = String::with_capacity(text.len() * 3);
    let mut run: Vec<char> = Vec::new();
    for c in text.chars() {
        if is_cjk(c) {
            run.push(c);
            continue;
        }
        if !run.is_empty() {
            push_run(&mut out, &run, true);
            run.clear();
        }
        if is_emoji(c) {
            push_emoji(&mut out, c);
        } else {
            out.push(c);
        }
    }
    if !run.is_empty() {
        push_run(&mut out, &run, !query);
    }
    Cow::Owned(out)
}

/// Text as indexed: CJK runs as bigrams plus their last character, the
/// rest unchanged.
pub fn segment(text: &str) -> Cow<'_, str> {
    bigrams(text, false)
}

/// One user word or phrase as an FTS5 phrase string: quoted (so FTS5
/// operators typed by the user are just text), CJK as bigrams, and a
/// trailing `*` kept as a prefix search.
pub fn phrase(text: &str, allow_prefix: bool) -> Option<String> {
    let (body, prefix) = match text.strip_suffix('*') {
        Some(b) if allow_prefix => (b, true),
        _ => (text, false),
    };
    let seg = bigrams(body, true);
    let has_token = seg.chars().any(char::is_alphanumeric);
    if !has_token {
        return None;
    }
    // A phrase that ends in a lone CJK character: in the document that
    // character starts a bigram or ends its run, and a prefix search on
    // the last token finds both.
    let mut rev = body.chars().rev();
    let lone_cjk =
        matches!((rev.next(), rev.next()), (Some(c), p) if is_cjk(c) && !p.is_some_and(is_cjk));
    let quoted = format!("\"{}\"", seg.replace('"', "\"\""));
    Some(if prefix || lone_cjk {
        format!("{quoted} *")
    } else {
        quoted
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cjk_runs_become_bigrams_and_latin_is_kept() {
        assert_eq!(segment("abc"), "abc");
        assert_eq!(segment("我要退款 ok"), " 我要 要退 退款 款  ok");
        assert_eq!(segment("款"), " 款 ");
        assert_eq!(segment("iPhone退款"), "iPhone 退款 款 ");
    }

    #[test]
    fn emoji_become_tokens_of_their_own() {
        assert_eq!(segment("ok🙂"), "ok ǂ1f642 ");
        assert_eq!(segment("👍🏽 退款"), " ǂ1f44d  ǂ1f3fd   退款 款 ");
        assert_eq!(phrase("🙂", false).unwrap(), "\" ǂ1f642 \"");
        assert_eq!(phrase("☕", false).unwrap(), "\" ǂ2615 \"");
    }

    #[test]
    fn phrases_are_quoted() {
        assert_eq!(phrase("refund", true).unwrap(), "\"refund\"");
        assert_eq!(phrase("ref*", true).unwrap(), "\"ref\" *");
        assert_eq!(phrase("a\"b", false).unwrap(), "\"a\"\"b\"");
        assert_eq!(phrase("退款", false).unwrap(), "\" 退款  \"");
        assert_eq!(phrase("ログイン", false).unwrap(), "\" ログ グイ イン  \"");
        assert_eq!(phrase("款", false).unwrap(), "\" 款 \" *");
        assert!(phrase("--", false).is_none());
    }

    /// Every CJK word of a sentence, and every single character, finds the
    /// sentence; a word that is not in it does not.
    #[test]
    fn cjk_words_match_inside_unspaced_sentences() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE VIRTUAL TABLE f USING fts5(body, tokenize='unicode61 remove_diacritics 2')",
        )
        .unwrap();
        let doc = "我要退款，ログインできません";
        conn.execute("INSERT INTO f (rowid, body) VALUES (1, ?)", [segment(doc)])
            .unwrap();
        let hits = |q: &str| -> i64 {
            let p = phrase(q, true).unwrap();
            conn.query_row("SELECT count(*) FROM f WHERE f MATCH ?", [p], |r| r.get(0))
                .unwrap()
        };
        for q in [
            "退款",
            "我要退款",
            "要",
            "款",
            "ログイン",
            "ログ",
            "ン",
            "でき",
        ] {
            assert_eq!(hits(q), 1, "{q}");
        }
        for q in ["退货", "款我", "インロ"] {
            assert_eq!(hits(q), 0, "{q}");
        }
        // Runs that end inside the phrase, and a lone character after Latin.
        conn.execute(
            "INSERT INTO f (rowid, body) VALUES (2, ?)",
            [segment("发票问题（887573） iPhone款式")],
        )
        .unwrap();
        for q in [
            "发票问题（887573）",
            "问题（887573",
            "iPhone款",
            "iPhone款式",
        ] {
            assert_eq!(hits(q), 1, "{q}");
        }
        assert_eq!(hits("发票问（887573"), 0);
    }
}
