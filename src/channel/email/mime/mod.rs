//! Raw RFC 5322 bytes → [`Inbound`]. Never fails: what cannot be understood
//! is noted in `parse_error` and the raw bytes are kept.

use mail_parser::{HeaderValue, MessageParser, MimeHeaders};

use super::charset;
use crate::inbound::{Inbound, InboundAttachment};
use crate::model::{AutoKind, Channel};

mod auto;
mod raw;

use auto::*;
use raw::*;

/// How far a Date header may be ahead of the delivery time before it is
/// not believed (clocks drift; a message from the future is a lie).
pub const DATE_SKEW: i64 = 24 * 3600;

/// Parses one message. `delivered` is when it reached us (the IMAP
/// INTERNALDATE, the file's mtime, the import time): used when there is
/// no usable Date, and as the upper bound of a Date that is.
///
/// Never panics and never fails: a message the parser chokes on is kept
/// raw with the reason, so one bad message never stops the ones after it.
pub fn parse(raw: &[u8], account: &str, provider_id: &str, delivered: i64) -> Inbound {
    let attempt =
        std::panic::catch_unwind(|| parse_inner(raw, account, provider_id, delivered, true));
    match attempt {
        Ok(m) => m,
        Err(panic) => {
            let why = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "no reason given".into());
            let mut m = unparseable(raw, account, provider_id, delivered);
            m.parse_error = Some(format!(
                "the MIME parser failed on this message ({}): kept as it came",
                crate::sanitize::line(&why)
            ));
            m
        }
    }
}

fn parse_inner(
    raw: &[u8],
    account: &str,
    provider_id: &str,
    fallback_time: i64,
    may_repair: bool,
) -> Inbound {
    let mut problems: Vec<String> = Vec::new();
    let Some(msg) = MessageParser::default().parse(raw) else {
        return unparseable(raw, account, provider_id, fallback_time);
    };
    if may_repair {
        if let Some((fixed, problem)) = repair_boundary(&msg, raw) {
            let mut m = parse_inner(&fixed, account, provider_id, fallback_time, false);
            m.parse_error = Some(match m.parse_error.take() {
                Some(e) => format!("{problem}; {e}"),
                None => problem,
            });
            m.raw = Some(raw.to_vec());
            return m;
        }
    }

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

    // Without a delivery time (0), now is the bound.
    let bound = if fallback_time > 0 {
        fallback_time
    } else {
        crate::model::now()
    };
    let received_at = match msg.date().map(|d| d.to_timestamp()) {
        Some(t) if t > bound + DATE_SKEW || t < 0 => {
            problems.push(format!(
                "Date header `{}` is not believable; filed at the delivery time",
                crate::sanitize::line(header_text(&msg, "Date").unwrap_or_default())
            ));
            bound
        }
        Some(t) => t,
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
    // Old mailers send headers as raw bytes in the body's charset, with no
    // encoded-word: decode them as the body is, else as detected.
    let body_charset = msg
        .text_part(0)
        .and_then(|p| p.content_type())
        .and_then(|ct| ct.attribute("charset"))
        .and_then(|l| encoding_rs::Encoding::for_label(l.as_bytes()))
        .or(relabel_ref.map(|(_, e)| e));
    let mut from_name = from_name;
    if charset::suspicious(&subject) {
        if let Some((fixed, enc)) =
            raw_header(raw, "Subject").and_then(|b| charset::decode_8bit(&b, body_charset))
        {
            problems.push(format!("raw 8-bit Subject decoded as {}", enc.name()));
            subject = fixed;
        }
    }
    if from_name.as_deref().is_some_and(charset::suspicious) {
        if let Some((fixed, _)) =
            raw_header(raw, "From").and_then(|b| charset::decode_8bit(&b, body_charset))
        {
            // The decoded header is plain text now: let the parser find the
            // name in it again.
            let again = format!("From: {fixed}\r\n\r\n");
            if let Some(name) = MessageParser::default()
                .parse(again.as_bytes())
                .and_then(|m| {
                    m.from()
                        .and_then(|a| a.first())
                        .and_then(|a| a.name().map(str::to_string))
                })
            {
                from_name = Some(name);
            }
        }
    }
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
    // A body that came out empty while an unnamed text part sits among the
    // attachments (a mailer that marked its only text part as an
    // attachment): that part is the text, or nothing would be searchable.
    if body_text.trim().is_empty() && body_html.is_none() {
        let unnamed_text = msg.attachments().find(|p| {
            p.attachment_name().is_none()
                && p.content_type().is_none_or(|ct| {
                    ct.ctype().eq_ignore_ascii_case("text")
                        && ct.subtype().is_none_or(|s| s.eq_ignore_ascii_case("plain"))
                })
        });
        if let Some(t) = unnamed_text
            .and_then(|p| p.text_contents())
            .filter(|t| !t.trim().is_empty())
        {
            problems.push("the text was in an unnamed attachment".into());
            body_text = t.to_string();
        }
    }

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
    super::html::to_text(html)
}

fn header_text<'a>(msg: &'a mail_parser::Message<'a>, name: &'a str) -> Option<&'a str> {
    msg.header_raw(name).map(str::trim)
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
    fn raw_8bit_headers_are_decoded_as_the_body_or_as_detected() {
        // Latin-1 headers, no encoded-word, body labelled iso-8859-1.
        let raw = b"From: J\xfcrgen Gro\xdf <j@x.de>\r\nSubject: R\xfcckerstattung f\xfcr Bestellung\r\n\
Date: Mon, 2 Nov 2026 10:00:00 +0000\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\r\nGr\xfc\xdfe";
        let m = parse(raw, "a", "1", 0);
        assert_eq!(m.subject, "Rückerstattung für Bestellung");
        assert_eq!(m.from_name.as_deref(), Some("Jürgen Groß"));
        assert_eq!(m.from_addr, "j@x.de");
        assert!(m.parse_error.unwrap().contains("raw 8-bit Subject"));
        // Shift_JIS subject beside a Shift_JIS body.
        let (subj, _, _) = encoding_rs::SHIFT_JIS.encode("返金のお願い");
        let (body, _, _) = encoding_rs::SHIFT_JIS.encode("注文番号 4711");
        let mut raw = b"From: a@b.jp\r\nSubject: ".to_vec();
        raw.extend_from_slice(&subj);
        raw.extend_from_slice(b"\r\nContent-Type: text/plain; charset=shift_jis\r\n\r\n");
        raw.extend_from_slice(&body);
        assert_eq!(parse(&raw, "a", "1", 0).subject, "返金のお願い");
        // No label anywhere: the detector reads GBK.
        let (subj, _, _) = encoding_rs::GBK.encode("我的订单还没有收到，请帮忙查询一下物流信息");
        let mut raw = b"From: a@b.cn\r\nSubject: ".to_vec();
        raw.extend_from_slice(&subj);
        raw.extend_from_slice(b"\r\n\r\nhello");
        assert_eq!(
            parse(&raw, "a", "1", 0).subject,
            "我的订单还没有收到，请帮忙查询一下物流信息"
        );
    }

    #[test]
    fn a_broken_boundary_keeps_the_text_searchable() {
        // As populate.py --malformed-ratio writes it: declared one
        // boundary, used another, never closed.
        let raw = b"From: r@uni.example.edu\r\nSubject: Broken MIME structure\r\n\
Date: Mon, 08 Jan 2024 09:52:52 +0000\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"declared-boundary\"\r\n\r\n\
--other-boundary\r\nContent-Type: text/plain\r\n\r\nThe boundary used here is not the declared one.\r\n\
--other-boundary\r\nContent-Type: application/pdf; name=x.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n\
JVBERi0xLjQK!!!not-base64\r\n";
        let m = parse(raw, "a", "1", 0);
        assert!(
            m.body_text.contains("not the declared one"),
            "{:?}",
            m.body_text
        );
        assert_eq!(m.attachments.len(), 1);
        assert_eq!(m.attachments[0].filename, "x.pdf");
        let e = m.parse_error.unwrap();
        assert!(
            e.contains("declared boundary `declared-boundary` never appears"),
            "{e}"
        );
        assert!(m.raw.as_deref() == Some(&raw[..]));
        // No parts at all: the body is the text.
        let raw = b"From: r@x.test\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\nJust words here.\r\n";
        let m = parse(raw, "a", "1", 0);
        assert_eq!(m.body_text.trim(), "Just words here.");
        assert!(m.parse_error.unwrap().contains("without parts"));
    }

    #[test]
    fn text_marked_as_an_attachment_is_the_body() {
        let raw = b"From: a@b.c\r\nSubject: x\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\
Content-Disposition: attachment\r\n\r\nthe words 5150\r\n--b--\r\n";
        let m = parse(raw, "a", "1", 0);
        assert_eq!(m.body_text.trim(), "the words 5150");
        assert!(m.parse_error.unwrap().contains("unnamed attachment"));
    }

    #[test]
    fn a_date_from_the_future_is_filed_at_delivery() {
        let raw = b"From: a@b.c\r\nSubject: x\r\nDate: Fri, 1 Jan 2099 00:00:00 +0000\r\n\r\nb";
        let m = parse(raw, "a", "1", 1_800_000_000);
        assert_eq!(m.received_at, 1_800_000_000);
        assert!(m.parse_error.unwrap().contains("2099"));
        // Within the skew, the sender's clock is believed.
        let raw = b"From: a@b.c\r\nDate: Fri, 15 Jan 2027 10:00:00 +0000\r\n\r\nb";
        assert_eq!(
            parse(raw, "a", "1", 1_800_000_000).received_at,
            1_800_007_200
        );
    }

    #[test]
    fn garbage_is_kept() {
        let m = parse(b"", "a", "1", 7);
        assert!(m.parse_error.is_some());
        assert_eq!(m.raw.as_deref(), Some(&b""[..]));
    }
}
