//! Raw RFC 5322 bytes → [`Inbound`]. Never fails: what cannot be understood
//! is noted in `parse_error` and the raw bytes are kept.

use mail_parser::{HeaderValue, MessageParser, MimeHeaders};

use super::charset;
use crate::inbound::{Inbound, InboundAttachment};
use crate::model::{AutoKind, Channel};

/// Parses one message. `fallback_time` is used when there is no usable Date
/// (the IMAP INTERNALDATE or the file's mtime).
pub fn parse(raw: &[u8], account: &str, provider_id: &str, fallback_time: i64) -> Inbound {
    let mut problems: Vec<String> = Vec::new();
    let Some(msg) = MessageParser::default().parse(raw) else {
        return unparseable(raw, account, provider_id, fallback_time);
    };

    let (from_addr, from_name) = match msg.from().and_then(|a| a.first()) {
        Some(a) => (
            a.address().unwrap_or_default().to_string(),
            a.name()
                .map(str::to_string)
                .filter(|n| !n.trim().is_empty()),
        ),
        None => (String::new(), None),
    };
    if from_addr.is_empty() {
        problems.push("no usable From address".into());
    }
    let to_addr = msg
        .to()
        .and_then(|a| a.first())
        .and_then(|a| a.address())
        .unwrap_or_default()
        .to_string();

    let received_at = match msg.date() {
        Some(d) => d.to_timestamp(),
        None => {
            problems.push("no Date header; using the delivery time".into());
            fallback_time
        }
    };

    for part in msg.parts.iter() {
        if let Some(cs) = part.content_type().and_then(|ct| ct.attribute("charset")) {
            if encoding_rs::Encoding::for_label(cs.as_bytes()).is_none()
                && !cs.eq_ignore_ascii_case("utf-7")
            {
                problems.push(format!(
                    "unknown charset `{cs}`; text decoded as best it could be"
                ));
            }
        }
        if part.is_encoding_problem {
            problems.push("broken MIME structure or transfer encoding".into());
        }
    }

    // mail-parser offers a text part as the HTML body when there is no
    // HTML part, converted to HTML: only a real HTML part is the original.
    let html = msg
        .html_part(0)
        .is_some_and(|p| p.is_text_html())
        .then(|| msg.body_html(0).map(|h| h.into_owned()))
        .flatten();
    let html_only =
        msg.text_part(0).is_some_and(|p| p.is_text_html()) || msg.text_body_count() == 0;
    let mut body_text = if html_only {
        html.as_deref().map(html_to_text).unwrap_or_default()
    } else {
        msg.body_text(0).map(|t| t.into_owned()).unwrap_or_default()
    };
    // When the body's label proves wrong, the same label in the subject is
    // wrong the same way.
    let mut relabel = None;
    if !html_only && charset::suspicious(&body_text) {
        let part = msg.text_part(0);
        match part
            .and_then(|p| part_bytes(raw, p))
            .and_then(|b| charset::redecode_enc(&b))
        {
            Some((fixed, enc)) => {
                problems.push(format!(
                    "body's charset label was wrong or missing; decoded as {}",
                    enc.name()
                ));
                body_text = fixed;
                let label = part
                    .and_then(|p| p.content_type())
                    .and_then(|ct| ct.attribute("charset"))
                    .map(str::to_string);
                relabel = label.map(|l| (l, enc));
            }
            None => problems.push("body could not be decoded cleanly in any likely charset".into()),
        }
    }
    let mut subject = msg.subject().unwrap_or_default().to_string();
    let relabel_ref = relabel.as_ref().map(|(l, e)| (l.as_str(), *e));
    if charset::suspicious(&subject) || subject.contains("=?") || relabel_ref.is_some() {
        let repaired = msg
            .header_raw("Subject")
            .and_then(|h| charset::repair_encoded_words_with(h, relabel_ref));
        match repaired {
            Some((fixed, cs)) => {
                problems.push(format!(
                    "subject's charset label was wrong; decoded as {cs}"
                ));
                subject = fixed;
            }
            None if relabel_ref.is_none() => {
                problems.push("subject could not be decoded cleanly".into())
            }
            None => {}
        }
    }

    let body_html = html;

    let attachments = msg
        .attachments()
        .enumerate()
        .map(|(i, part)| InboundAttachment {
            filename: part
                .attachment_name()
                .map(str::to_string)
                .unwrap_or_else(|| format!("attachment-{}", i + 1)),
            content_type: part
                .content_type()
                .map(|ct| match ct.subtype() {
                    Some(sub) => format!("{}/{}", ct.ctype(), sub),
                    None => ct.ctype().to_string(),
                })
                .unwrap_or_else(|| "application/octet-stream".into())
                .to_lowercase(),
            data: part.contents().to_vec(),
        })
        .collect();

    let mut refs = text_list(msg.references());
    for r in text_list(msg.in_reply_to()) {
        refs.retain(|x| x != &r);
        refs.push(r);
    }

    let auto_kind = detect_auto(&msg, &from_addr, &subject);
    problems.dedup();
    let parse_error = (!problems.is_empty()).then(|| problems.join("; "));
    Inbound {
        channel: Channel::Email,
        account: account.into(),
        provider_id: provider_id.into(),
        message_id: msg
            .message_id()
            .map(str::to_string)
            .filter(|s| !s.is_empty()),
        refs,
        from_addr,
        from_name,
        to_addr,
        subject,
        body_text,
        body_html,
        received_at,
        auto_kind,
        attachments,
        raw: parse_error.as_ref().map(|_| raw.to_vec()),
        parse_error,
    }
}

/// A part's body bytes after transfer decoding, before charset decoding.
fn part_bytes(raw: &[u8], part: &mail_parser::MessagePart<'_>) -> Option<Vec<u8>> {
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

fn unparseable(raw: &[u8], account: &str, provider_id: &str, at: i64) -> Inbound {
    Inbound {
        channel: Channel::Email,
        account: account.into(),
        provider_id: provider_id.into(),
        message_id: None,
        refs: Vec::new(),
        from_addr: String::new(),
        from_name: None,
        to_addr: String::new(),
        subject: "(unparseable message)".into(),
        body_text: String::from_utf8_lossy(raw).into_owned(),
        body_html: None,
        received_at: at,
        auto_kind: None,
        attachments: Vec::new(),
        parse_error: Some("not a MIME message: no headers could be read".into()),
        raw: Some(raw.to_vec()),
    }
}

fn text_list(v: &HeaderValue<'_>) -> Vec<String> {
    match v {
        HeaderValue::Text(t) => vec![t.to_string()],
        HeaderValue::TextList(l) => l.iter().map(|t| t.to_string()).collect(),
        _ => Vec::new(),
    }
}

/// Renders HTML-only mail as readable text.
pub fn html_to_text(html: &str) -> String {
    html2text::from_read(html.as_bytes(), 100).unwrap_or_else(|_| html.to_string())
}

fn header_text<'a>(msg: &'a mail_parser::Message<'a>, name: &'a str) -> Option<&'a str> {
    msg.header_raw(name).map(str::trim)
}

/// Recognises auto-replies, bounces and bulk mail so they are never
/// answered automatically and do not reopen tickets.
fn detect_auto(msg: &mail_parser::Message<'_>, from: &str, subject: &str) -> Option<AutoKind> {
    let from = from.to_ascii_lowercase();
    let is_report = msg.content_type().is_some_and(|ct| {
        ct.ctype().eq_ignore_ascii_case("multipart")
            && ct
                .subtype()
                .is_some_and(|s| s.eq_ignore_ascii_case("report"))
    });
    if is_report
        || from.starts_with("mailer-daemon@")
        || from.starts_with("postmaster@")
        || from.is_empty()
            && msg.return_address().is_none()
            && header_text(msg, "Return-Path") == Some("<>")
    {
        return Some(AutoKind::Bounce);
    }
    if let Some(v) = header_text(msg, "Auto-Submitted") {
        if !v.eq_ignore_ascii_case("no") {
            return Some(AutoKind::AutoReply);
        }
    }
    if header_text(msg, "X-Autoreply").is_some()
        || header_text(msg, "X-Autorespond").is_some()
        || header_text(msg, "X-Autogenerated").is_some_and(|v| v.eq_ignore_ascii_case("reply"))
    {
        return Some(AutoKind::AutoReply);
    }
    if let Some(p) = header_text(msg, "Precedence") {
        let p = p.to_ascii_lowercase();
        if p == "auto_reply" {
            return Some(AutoKind::AutoReply);
        }
        if p == "bulk" || p == "junk" || p == "list" {
            return Some(AutoKind::Bulk);
        }
    }
    let s = subject.to_ascii_lowercase();
    if s.starts_with("auto:")
        || s.starts_with("automatic reply")
        || s.starts_with("out of office")
        || s.starts_with("autoreply")
    {
        return Some(AutoKind::AutoReply);
    }
    if header_text(msg, "List-Id").is_some() || header_text(msg, "List-Unsubscribe").is_some() {
        return Some(AutoKind::Bulk);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_message() {
        let raw = b"From: Alice <Alice@Example.com>\r\nTo: support@x.test\r\nSubject: Hi\r\n\
Message-ID: <a1@x>\r\nIn-Reply-To: <p@x>\r\nReferences: <r@x> <p@x>\r\n\
Date: Mon, 2 Nov 2026 10:00:00 +0000\r\n\r\nHello\r\n";
        let m = parse(raw, "acct", "1", 0);
        assert_eq!(m.from_addr, "Alice@Example.com");
        assert_eq!(m.from_name.as_deref(), Some("Alice"));
        assert_eq!(m.message_id.as_deref(), Some("a1@x"));
        assert_eq!(m.refs, vec!["r@x".to_string(), "p@x".to_string()]);
        assert_eq!(m.received_at, 1_793_613_600);
        assert!(m.parse_error.is_none() && m.raw.is_none());
        assert_eq!(m.body_text.trim(), "Hello");
        // No HTML part: nothing to keep as the original HTML.
        assert_eq!(m.body_html, None);
    }

    #[test]
    fn the_html_part_of_an_alternative_is_kept() {
        let raw = b"From: a@b.c\r\nDate: Mon, 2 Nov 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n\
Plain words\r\n--b\r\nContent-Type: text/html\r\n\r\n<p>Rich <b>words</b></p>\r\n--b--\r\n";
        let m = parse(raw, "a", "1", 0);
        assert_eq!(m.body_text.trim(), "Plain words");
        assert!(m
            .body_html
            .as_deref()
            .is_some_and(|h| h.contains("<b>words</b>")));
    }

    #[test]
    fn missing_date_uses_fallback_and_is_noted() {
        let m = parse(b"From: a@b.c\r\nSubject: x\r\n\r\nbody", "a", "1", 42);
        assert_eq!(m.received_at, 42);
        assert!(m.parse_error.unwrap().contains("Date"));
        assert!(m.raw.is_some());
    }

    #[test]
    fn html_only_gets_text() {
        let raw = b"From: a@b.c\r\nDate: Mon, 2 Nov 2026 10:00:00 +0000\r\nContent-Type: text/html\r\n\r\n<p>Hello <b>there</b></p><ul><li>one</li></ul>";
        let m = parse(raw, "a", "1", 0);
        assert!(
            m.body_text.contains("Hello") && m.body_text.contains("one"),
            "{}",
            m.body_text
        );
        assert!(!m.body_text.contains("<p>"));
        assert!(m.body_html.is_some());
    }

    #[test]
    fn auto_replies_and_bounces() {
        let m = parse(
            b"From: a@b.c\r\nAuto-Submitted: auto-replied\r\nSubject: x\r\n\r\nb",
            "a",
            "1",
            0,
        );
        assert_eq!(m.auto_kind, Some(AutoKind::AutoReply));
        let m = parse(
            b"From: MAILER-DAEMON@b.c\r\nSubject: Undelivered\r\n\r\nb",
            "a",
            "1",
            0,
        );
        assert_eq!(m.auto_kind, Some(AutoKind::Bounce));
        let m = parse(
            b"From: a@b.c\r\nAuto-Submitted: no\r\nSubject: x\r\n\r\nb",
            "a",
            "1",
            0,
        );
        assert_eq!(m.auto_kind, None);
    }

    #[test]
    fn garbage_is_kept() {
        let m = parse(b"", "a", "1", 7);
        assert!(m.parse_error.is_some());
        assert_eq!(m.raw.as_deref(), Some(&b""[..]));
    }
}
