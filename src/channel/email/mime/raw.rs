//! Byte-level help for mail the parser misreads: a header's raw bytes, a
//! part's bytes, and a multipart whose boundary does not match.

use super::*;

/// A header's raw bytes, unfolded: the first `name:` field in the header
/// block, before any decoding.
pub(super) fn raw_header(raw: &[u8], name: &str) -> Option<Vec<u8>> {
    let end = find(raw, b"\r\n\r\n")
        .or_else(|| find(raw, b"\n\n"))
        .unwrap_or(raw.len());
    let head = &raw[..end];
    let mut lines = head.split(|&b| b == b'\n').peekable();
    while let Some(line) = lines.next() {
        let n = name.len();
        if line.len() > n && line[..n].eq_ignore_ascii_case(name.as_bytes()) && line[n] == b':' {
            let mut value = trim_cr(&line[n + 1..]).to_vec();
            while let Some(next) = lines.peek() {
                if next.first().is_some_and(|b| *b == b' ' || *b == b'\t') {
                    value.extend_from_slice(trim_cr(next));
                    lines.next();
                } else {
                    break;
                }
            }
            let start = value
                .iter()
                .position(|b| !b.is_ascii_whitespace())
                .unwrap_or(value.len());
            return Some(value[start..].to_vec());
        }
    }
    None
}

pub(super) fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

pub(super) fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// A multipart message whose declared boundary never appears (a mailer
/// that wrote one boundary in the header and used another) comes out of
/// the parser as one opaque part. Returns the message with the header's
/// boundary replaced by the one the body uses, and what was wrong.
pub(super) fn repair_boundary(
    msg: &mail_parser::Message<'_>,
    raw: &[u8],
) -> Option<(Vec<u8>, String)> {
    let ct = msg.content_type()?;
    if !ct.ctype().eq_ignore_ascii_case("multipart") {
        return None;
    }
    let declared = ct.attribute("boundary")?;
    let head_end = find(raw, b"\r\n\r\n")
        .map(|e| e + 4)
        .or_else(|| find(raw, b"\n\n").map(|e| e + 2))?;
    let body = &raw[head_end..];
    let marker = format!("--{declared}");
    if find(body, marker.as_bytes()).is_some() {
        return None;
    }
    // The first delimiter-looking line of the body is the real boundary.
    let used = body.split(|&b| b == b'\n').map(trim_cr).find_map(|l| {
        let b = l.strip_prefix(b"--")?;
        let b = b.strip_suffix(b"--").unwrap_or(b);
        (!b.is_empty() && b.len() <= 70 && b.iter().all(|c| c.is_ascii_graphic() || *c == b' '))
            .then(|| String::from_utf8_lossy(b).trim_end().to_string())
    });
    let problem = |what: String| format!("broken MIME structure: {what}");
    match used {
        Some(b) => {
            let head = String::from_utf8_lossy(&raw[..head_end]).replace(declared, &b);
            let mut fixed = head.into_bytes();
            fixed.extend_from_slice(body);
            Some((
                fixed,
                problem(format!(
                    "the declared boundary `{}` never appears; parts read by `{}`",
                    crate::sanitize::line(declared),
                    crate::sanitize::line(&b)
                )),
            ))
        }
        None => {
            // No parts at all: the body is the text.
            let head = String::from_utf8_lossy(&raw[..head_end]).into_owned();
            let head = regex::Regex::new(r"(?i)multipart/[a-z0-9.+-]+")
                .map(|re| re.replace_all(&head, "text/plain").into_owned())
                .unwrap_or(head);
            let mut fixed = head.into_bytes();
            fixed.extend_from_slice(body);
            Some((
                fixed,
                problem("a multipart message without parts; its text kept as it came".into()),
            ))
        }
    }
}

/// A part's body bytes after transfer decoding, before charset decoding.
pub(super) fn part_bytes(raw: &[u8], part: &mail_parser::MessagePart<'_>) -> Option<Vec<u8>> {
    let body = raw.get(part.offset_body as usize..part.offset_end as usize)?;
    let cte = part
        .content_transfer_encoding()
        .unwrap_or("7bit")
        .to_ascii_lowercase();
    match cte.as_str() {
        "base64" => {
            let compact: Vec<u8> = body
                .iter()
                .copied()
                .filter(|b| !b.is_ascii_whitespace())
                .collect();
            mail_parser::decoders::base64::base64_decode(&compact)
        }
        "quoted-printable" => {
            mail_parser::decoders::quoted_printable::quoted_printable_decode(body)
        }
        _ => Some(body.to_vec()),
    }
}
