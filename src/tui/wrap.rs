//! Word wrapping done here rather than by `Paragraph`, so the ticket view
//! knows how many rows each message takes: it can then keep a message's
//! rows once per width and draw only the rows on screen, however long the
//! conversation (ratatui's own scroll offset is a `u16`).

use std::borrow::Cow;

use ratatui::style::Style;
use ratatui::text::{Line, Span};
use unicode_width::UnicodeWidthChar;

/// Appends `line` to `out` as rows no wider than `width` columns, breaking
/// at spaces where it can and inside a word only when the word alone is
/// wider than a row. Spaces at a break are dropped; styles are kept.
pub fn wrap_into(line: Line<'static>, width: usize, out: &mut Vec<Line<'static>>) {
    let width = width.max(1);
    if line.width() <= width {
        out.push(line);
        return;
    }
    let mut row = Row::default();
    for span in &line.spans {
        let style = span.style;
        for token in tokens(&span.content) {
            let tw = text_width(token);
            let space = token.starts_with(' ');
            if row.width + tw <= width {
                row.push(token, tw, style);
            } else if space {
                out.push(row.take());
            } else if tw <= width {
                out.push(row.take());
                row.push(token, tw, style);
            } else {
                for c in token.chars() {
                    let cw = c.width().unwrap_or(0);
                    if row.width + cw > width && row.width > 0 {
                        out.push(row.take());
                    }
                    let mut buf = [0u8; 4];
                    row.push(c.encode_utf8(&mut buf), cw, style);
                }
            }
        }
    }
    if !row.spans.is_empty() {
        out.push(row.take());
    }
}

#[derive(Default)]
struct Row {
    spans: Vec<Span<'static>>,
    width: usize,
}

impl Row {
    fn push(&mut self, text: &str, w: usize, style: Style) {
        match self.spans.last_mut() {
            Some(last) if last.style == style => last.content.to_mut().push_str(text),
            _ => self
                .spans
                .push(Span::styled(Cow::Owned(text.to_string()), style)),
        }
        self.width += w;
    }

    /// The row so far, without the spaces it ended on.
    fn take(&mut self) -> Line<'static> {
        self.width = 0;
        while let Some(last) = self.spans.last_mut() {
            let kept = last.content.trim_end_matches(' ').len();
            if kept > 0 {
                last.content.to_mut().truncate(kept);
                break;
            }
            self.spans.pop();
        }
        Line::from(std::mem::take(&mut self.spans))
    }
}

/// Runs of spaces and runs of everything else, in order.
fn tokens(s: &str) -> impl Iterator<Item = &str> {
    let mut rest = s;
    std::iter::from_fn(move || {
        let first = rest.chars().next()?;
        let space = first == ' ';
        let end = rest
            .char_indices()
            .find(|&(_, c)| (c == ' ') != space)
            .map_or(rest.len(), |(i, _)| i);
        let (token, tail) = rest.split_at(end);
        rest = tail;
        Some(token)
    })
}

fn text_width(s: &str) -> usize {
    s.chars().map(|c| c.width().unwrap_or(0)).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(text: &str, width: usize) -> Vec<String> {
        let mut out = Vec::new();
        wrap_into(Line::raw(text.to_string()), width, &mut out);
        out.iter().map(|l| l.to_string()).collect()
    }

    #[test]
    fn breaks_at_spaces_and_drops_them() {
        assert_eq!(
            rows("the quick brown fox jumps", 10),
            ["the quick", "brown fox", "jumps"]
        );
    }

    #[test]
    fn a_word_wider_than_a_row_is_split() {
        assert_eq!(rows("abcdefghij xy", 4), ["abcd", "efgh", "ij", "xy"]);
    }

    #[test]
    fn wide_characters_count_two_columns() {
        assert_eq!(rows("日本語のテキスト", 6), ["日本語", "のテキ", "スト"]);
    }

    #[test]
    fn a_short_line_is_kept_as_it_is() {
        assert_eq!(rows("  indented", 20), ["  indented"]);
        assert_eq!(rows("", 20), [""]);
    }

    #[test]
    fn styles_survive_a_break() {
        let bold = Style::default().add_modifier(ratatui::style::Modifier::BOLD);
        let line = Line::from(vec![
            Span::raw("plain words "),
            Span::styled("bold words", bold),
        ]);
        let mut out = Vec::new();
        wrap_into(line, 12, &mut out);
        assert_eq!(out.len(), 2);
        assert_eq!(out[1].spans[0].style, bold);
        assert_eq!(out[1].to_string(), "bold words");
    }

    #[test]
    fn every_row_fits() {
        let text = "word ".repeat(50) + &"x".repeat(77) + " 漢字漢字漢字 end";
        for width in 1..30 {
            let mut out = Vec::new();
            wrap_into(Line::raw(text.clone()), width, &mut out);
            for l in &out {
                assert!(l.width() <= width.max(2), "{width}: {l:?}");
            }
        }
    }
}
