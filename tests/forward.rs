//! The voice of the customer, end to end over the real servers: a
//! complaint forwarded to R&D goes out through the SMTP server with the
//! conversation and the customer's photo; R&D's answer comes back over
//! IMAP (Dovecot) as an internal note on the ticket, never sent to the
//! customer and never counted as theirs.

use serde_json::Value;

mod common;
use common::{run, Mail};

fn ok(cfg: &std::path::Path, db: &std::path::Path, args: &[&str]) -> Value {
    let (code, v, err) = run(cfg, db, args);
    assert_eq!(code, Some(0), "{args:?}: {err}");
    v
}

/// The spooled mail (raw) sent to `to`, if any.
fn spooled_to(m: &Mail, to: &str) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(m.spool()).unwrap().flatten() {
        if e.path().extension().is_some_and(|x| x == "eml") {
            let raw = std::fs::read_to_string(e.path()).unwrap_or_default();
            if raw
                .lines()
                .any(|l| l.to_ascii_lowercase().starts_with("to:") && l.contains(to))
            {
                out.push(raw);
            }
        }
    }
    out
}

fn header<'a>(raw: &'a str, name: &str) -> &'a str {
    raw.lines()
        .find(|l| {
            l.to_ascii_lowercase()
                .starts_with(&format!("{}:", name.to_ascii_lowercase()))
        })
        .map(|l| l[name.len() + 1..].trim())
        .unwrap_or("")
}

#[test]
fn a_complaint_goes_to_rnd_and_their_answer_is_a_note() {
    let m = Mail::up();
    let cfg = m.config("support@example.test", "");
    let db = m.dir.path().join("f.db");
    let photo = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";
    m.deliver(
        "support@example.test",
        "1.mail",
        &format!(
            "From: Carla Customer <carla@example.net>\r\nTo: support@example.test\r\n\
             Subject: Spindle grinds after the update\r\nDate: Tue, 01 Dec 2026 09:00:00 +0000\r\n\
             Message-ID: <carla-1@example.net>\r\nMIME-Version: 1.0\r\n\
             Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
             --b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
             Since firmware 2.3 the spindle grinds at 8000 rpm. Photo attached.\r\n\
             --b\r\nContent-Type: image/png; name=\"spindle.png\"\r\n\
             Content-Disposition: attachment; filename=\"spindle.png\"\r\n\
             Content-Transfer-Encoding: base64\r\n\r\n{photo}\r\n--b--\r\n"
        ),
    );
    ok(&cfg, &db, &["poll"]);
    let list = ok(&cfg, &db, &["list", "--all"]);
    let id = list["tickets"][0]["id"].as_i64().unwrap().to_string();
    let state = ok(&cfg, &db, &["show", &id])["state"].clone();

    let fwd = ok(
        &cfg,
        &db,
        &[
            "forward",
            &id,
            "--to",
            "RnD@Example.test",
            "--note",
            "Known issue with 2.3? The customer needs an answer this week.",
        ],
    );
    assert_eq!(fwd["to"], "rnd@example.test");
    ok(&cfg, &db, &["outbox", "send"]);
    let sent = spooled_to(&m, "rnd@example.test");
    assert_eq!(sent.len(), 1, "one forward to R&D");
    let raw = &sent[0];
    assert!(
        header(raw, "Subject").starts_with("Fwd: Spindle grinds"),
        "{raw}"
    );
    assert!(
        header(raw, "Subject").contains(&format!("[#{id}]")),
        "{raw}"
    );
    assert!(
        header(raw, "In-Reply-To").is_empty(),
        "a thread of its own: {raw}"
    );
    assert!(raw.contains("Known issue with 2.3?"), "{raw}");
    assert!(
        raw.contains("Since firmware 2.3 the spindle grinds"),
        "{raw}"
    );
    assert!(raw.contains("spindle.png"), "the photo goes along: {raw}");
    assert!(
        spooled_to(&m, "carla@example.net").is_empty(),
        "nothing to the customer"
    );
    let forward_id = header(raw, "Message-ID")
        .trim_matches(['<', '>'])
        .to_string();

    // R&D answers the forward: it arrives in the support mailbox.
    m.deliver(
        "support@example.test",
        "2.mail",
        &format!(
            "From: R&D <rnd@example.test>\r\nTo: support@example.test\r\n\
             Subject: Re: Fwd: Spindle grinds after the update [#{id}]\r\n\
             Date: Tue, 01 Dec 2026 11:00:00 +0000\r\nMessage-ID: <rnd-1@example.test>\r\n\
             In-Reply-To: <{forward_id}>\r\nReferences: <{forward_id}>\r\n\r\n\
             Yes: bearing preload changed in 2.3. Roll back to 2.2; fix in 2.4.\r\n"
        ),
    );
    let polled = ok(&cfg, &db, &["poll"]);
    assert!(!polled.to_string().contains("\"error\""), "{polled}");
    let t = ok(&cfg, &db, &["show", &id]);
    let last = t["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["from_addr"] == "rnd@example.test")
        .unwrap_or_else(|| panic!("R&D's answer is on the ticket: {t}"))
        .clone();
    assert_eq!(last["direction"], "note", "{t}");
    assert_eq!(last["author"], "rnd@example.test");
    assert!(last["body_text"]
        .as_str()
        .unwrap()
        .contains("Roll back to 2.2"));
    assert_eq!(t["state"], state, "an internal answer changes no state");
    assert_eq!(t["side_conversations"][0]["replies"], 1, "{t}");
    assert_eq!(t["side_conversations"][0]["to"], "rnd@example.test");
    // R&D did not become a customer.
    let (code, _, _) = run(&cfg, &db, &["customer", "show", "rnd@example.test"]);
    assert_ne!(code, Some(0), "R&D is not a customer");
    // Nothing of it goes to the customer: the outbox holds only the forward.
    ok(&cfg, &db, &["outbox", "send"]);
    assert!(spooled_to(&m, "carla@example.net").is_empty());
    let outbox = ok(&cfg, &db, &["outbox", "list", "--all"]);
    assert_eq!(outbox.as_array().map(Vec::len), Some(1), "{outbox}");

    // The customer writes again: that is hers, and threads as usual.
    m.deliver(
        "support@example.test",
        "3.mail",
        &format!(
            "From: Carla Customer <carla@example.net>\r\nTo: support@example.test\r\n\
             Subject: Re: Spindle grinds after the update [#{id}]\r\n\
             Date: Tue, 01 Dec 2026 12:00:00 +0000\r\nMessage-ID: <carla-2@example.net>\r\n\
             In-Reply-To: <carla-1@example.net>\r\n\r\nAny news?\r\n"
        ),
    );
    ok(&cfg, &db, &["poll"]);
    let t = ok(&cfg, &db, &["show", &id]);
    let again = t["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["body_text"].as_str().unwrap_or("").contains("Any news?"))
        .unwrap_or_else(|| panic!("{t}"))
        .clone();
    assert_eq!(again["direction"], "in");
    assert_eq!(again["from_addr"], "carla@example.net");
}
