//! Satisfaction answers as customers type them: a rating at the start of
//! a reply ("5", "5 great!", "５", "4分", a configured word such as
//! "非常满意"), the survey token in a subject, and the SMS keywords that
//! opt a number out of (or back into) surveys and notices.

use std::collections::BTreeMap;

/// How answers are read (from `[survey]`).
#[derive(Debug, Clone, PartialEq)]
pub struct Scale {
    /// Ratings run 1..=max.
    pub max: u8,
    /// Words that mean a rating, matched at the start of the text.
    pub words: BTreeMap<String, u8>,
}

impl Default for Scale {
    fn default() -> Self {
        Scale {
            max: 5,
            words: BTreeMap::new(),
        }
    }
}

/// A rating and what followed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub rating: u8,
    pub comment: String,
}

/// Full-width digits (１–９) read as ASCII.
fn ascii_digit(c: char) -> Option<u8> {
    match c {
        '0'..='9' => Some(c as u8 - b'0'),
        '０'..='９' => Some((c as u32 - '０' as u32) as u8),
        _ => None,
    }
}

/// Separators a comment may follow a rating with.
fn is_separator(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '.' | ','
                | '!'
                | '-'
                | '–'
                | '—'
                | ':'
                | ';'
                | '/'
                | '、'
                | '。'
                | '，'
                | '！'
                | '：'
                | '分'
                | '点'
                | '星'
                | '★'
                | '☆'
                | '*'
        )
}

/// The rating a text starts with, if any: a number on the scale standing
/// alone ("5", "5 thanks", "5/5", "4分") or a configured word. "10 out
/// of 10" on a 1–5 scale, "5000 euros" and "2nd try" are not ratings.
pub fn parse(text: &str, scale: &Scale) -> Option<Answer> {
    let t = text.trim_start_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
    // Words first: "非常满意" must not lose to its own "满意".
    let mut words: Vec<(&String, &u8)> = scale.words.iter().collect();
    words.sort_by_key(|(w, _)| std::cmp::Reverse(w.chars().count()));
    for (word, rating) in words {
        if let Some(rest) = strip_prefix_ci(t, word) {
            if rest
                .chars()
                .next()
                .is_none_or(|c| is_separator(c) || !c.is_alphanumeric())
            {
                return Some(Answer {
                    rating: *rating,
                    comment: comment(rest),
                });
            }
        }
    }
    let mut chars = t.char_indices();
    let (_, first) = chars.next()?;
    let n = ascii_digit(first)?;
    let after = &t[first.len_utf8()..];
    // A second digit makes it another number (10, 55, 2026).
    if after.chars().next().and_then(ascii_digit).is_some() {
        return None;
    }
    if n < 1 || n > scale.max {
        return None;
    }
    if let Some(c) = after.chars().next() {
        if !is_separator(c) {
            return None;
        }
    }
    // "5/5" and "4 of 5": the scale, not a comment.
    let rest = after
        .trim_start()
        .strip_prefix('/')
        .or_else(|| after.trim_start().strip_prefix("of "))
        .map(|r| r.trim_start_matches(|c: char| c.is_ascii_digit() || ascii_digit(c).is_some()))
        .unwrap_or(after);
    Some(Answer {
        rating: n,
        comment: comment(rest),
    })
}

fn strip_prefix_ci<'a>(t: &'a str, word: &str) -> Option<&'a str> {
    let n = word.len();
    if t.len() >= n && t.is_char_boundary(n) && t[..n].eq_ignore_ascii_case(word) {
        Some(&t[n..])
    } else {
        None
    }
}

/// What follows a rating, without the separators before it, quoted
/// history or a signature after it.
fn comment(rest: &str) -> String {
    let rest = rest.trim_start_matches(is_separator);
    let mut out = Vec::new();
    for line in rest.lines() {
        let l = line.trim_end();
        if l.starts_with('>') || l == "--" || l == "-- " {
            break;
        }
        // "On Mon, 1 Dec 2026 … wrote:" opens the quoted survey.
        if l.ends_with("wrote:") || l.ends_with("schrieb:") || l.ends_with("写道：") {
            break;
        }
        out.push(l);
    }
    while out.last().is_some_and(|l| l.trim().is_empty()) {
        out.pop();
    }
    out.join("\n").trim().to_string()
}

/// A survey token as it appears in a subject: `[csat:0123abcd]`.
pub fn token_in(subject: &str) -> Option<&str> {
    let start = subject.find("[csat:")? + "[csat:".len();
    let len = subject[start..].find(']')?;
    let token = &subject[start..start + len];
    (token.len() >= 8 && token.len() <= 64 && token.bytes().all(|b| b.is_ascii_alphanumeric()))
        .then_some(token)
}

/// The subject text before a token (where a `mailto:` link put the rating).
pub fn before_token(subject: &str) -> &str {
    let s = subject.split("[csat:").next().unwrap_or(subject);
    let s = s.trim();
    // Mail clients prefix replies.
    let lower = s.to_ascii_lowercase();
    for p in ["re:", "aw:", "sv:", "回复:", "答复:"] {
        if lower.starts_with(p) {
            return s[p.len()..].trim();
        }
    }
    s
}

/// What an SMS keyword asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptOut {
    Stop,
    Start,
}

/// The carriers' (and Twilio's) opt-out and opt-in keywords: the whole
/// text, any case, without punctuation around it.
pub fn keyword(text: &str) -> Option<OptOut> {
    let t = text
        .trim()
        .trim_matches(|c: char| c.is_ascii_punctuation() || c.is_whitespace())
        .to_ascii_uppercase();
    match t.as_str() {
        "STOP" | "STOPALL" | "UNSUBSCRIBE" | "CANCEL" | "END" | "QUIT" | "退订" | "停止" => {
            Some(OptOut::Stop)
        }
        "START" | "UNSTOP" | "YES" => Some(OptOut::Start),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scale() -> Scale {
        let mut words = BTreeMap::new();
        words.insert("非常满意".to_string(), 5);
        words.insert("满意".to_string(), 4);
        words.insert("不满意".to_string(), 2);
        words.insert("excellent".to_string(), 5);
        Scale { max: 5, words }
    }

    fn rating(t: &str) -> Option<(u8, String)> {
        parse(t, &scale()).map(|a| (a.rating, a.comment))
    }

    #[test]
    fn ratings_as_customers_type_them() {
        assert_eq!(rating("5"), Some((5, String::new())));
        assert_eq!(rating("  5 great!"), Some((5, "great!".into())));
        assert_eq!(rating("4, took a while"), Some((4, "took a while".into())));
        assert_eq!(rating("５"), Some((5, String::new())));
        assert_eq!(rating("4分 还可以"), Some((4, "还可以".into())));
        assert_eq!(rating("5/5 thanks"), Some((5, "thanks".into())));
        assert_eq!(rating("3 of 5"), Some((3, String::new())));
        assert_eq!(rating("非常满意，谢谢"), Some((5, "谢谢".into())));
        assert_eq!(rating("满意"), Some((4, String::new())));
        assert_eq!(rating("不满意 太慢了"), Some((2, "太慢了".into())));
        assert_eq!(rating("Excellent service"), Some((5, "service".into())));
        assert_eq!(
            rating("2\n\nStill broken.\n\nOn Mon, 1 Dec 2026 Support wrote:\n> How was it?"),
            Some((2, "Still broken.".into()))
        );
    }

    #[test]
    fn other_numbers_are_not_ratings() {
        for t in [
            "10 out of 10",
            "0",
            "6",
            "55",
            "2026 is the year",
            "5000 euros",
            "2nd try",
            "1a2b",
            "My order 5 is late",
            "",
            "Thanks!",
        ] {
            assert_eq!(rating(t), None, "{t:?}");
        }
    }

    #[test]
    fn tokens_and_keywords() {
        assert_eq!(token_in("Re: 5 [csat:a1b2c3d4e5]"), Some("a1b2c3d4e5"));
        assert_eq!(token_in("[csat:short]"), None);
        assert_eq!(token_in("[csat:bad$token99]"), None);
        assert_eq!(before_token("Re: 4 [csat:a1b2c3d4e5]"), "4");
        assert_eq!(keyword(" stop "), Some(OptOut::Stop));
        assert_eq!(keyword("UNSUBSCRIBE."), Some(OptOut::Stop));
        assert_eq!(keyword("Start"), Some(OptOut::Start));
        assert_eq!(keyword("please stop texting"), None);
    }
}
