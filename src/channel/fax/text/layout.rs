//! Runs of drawn text to lines and words, by where each is drawn and how
//! wide it is, not by the order of the operators.

use super::*;

/// Lines and words from the runs: a new line where the baseline moves by
/// more than half a line, a space where a gap is wider than a thin space.
pub(super) fn layout(runs: &[Run]) -> String {
    let mut out = String::new();
    let mut prev: Option<&Run> = None;
    for run in runs {
        if let Some(p) = prev {
            let h = p.height.max(run.height);
            if (run.y - p.y).abs() > h * 0.5 {
                trim_end_spaces(&mut out);
                out.push('\n');
            } else {
                let gap = run.x0 - p.x1;
                let backwards = run.x0 < p.x0 - h * 0.5;
                if (gap > h * 0.15 || backwards)
                    && !out.ends_with(char::is_whitespace)
                    && !run.text.starts_with(char::is_whitespace)
                {
                    out.push(' ');
                }
            }
        }
        out.push_str(&run.text);
        prev = Some(run);
        if out.len() > MAX_TEXT {
            break;
        }
    }
    let lines: Vec<&str> = out.lines().map(str::trim_end).collect();
    lines.join("\n").trim().to_string()
}

pub(super) fn trim_end_spaces(s: &mut String) {
    while s.ends_with([' ', '\t']) {
        s.pop();
    }
}
