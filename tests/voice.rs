//! The voice of the customer, end to end over the real servers: a
//! complaint forwarded to R&D goes out through the SMTP server with the
//! conversation and the customer's photo; R&D's answer comes back over
//! IMAP (Dovecot) as an internal note on the ticket, never sent to the
//! customer and never counted as theirs. The digest's numbers on a
//! fixture worked out by hand, and a scheduled digest that the daemon
//! mails into the quality team's mailbox.

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

    // A second forward to R&D continues their thread: only what is new,
    // under their answer, and still one side conversation.
    let more = ok(
        &cfg,
        &db,
        &[
            "forward",
            &id,
            "--to",
            "rnd@example.test",
            "--note",
            "She asks again.",
        ],
    );
    assert_eq!(more["follow_up"], true, "{more}");
    ok(&cfg, &db, &["outbox", "send"]);
    let sent = spooled_to(&m, "rnd@example.test");
    assert_eq!(sent.len(), 2, "the follow-up went out");
    let raw = sent
        .iter()
        .find(|r| r.contains("She asks again."))
        .unwrap_or_else(|| panic!("{sent:?}"));
    assert_eq!(header(raw, "In-Reply-To"), "<rnd-1@example.test>", "{raw}");
    assert!(header(raw, "References").contains(&forward_id), "{raw}");
    assert!(
        header(raw, "Subject").starts_with("Re: Fwd: Spindle grinds"),
        "{raw}"
    );
    assert!(raw.contains("Any news?"), "{raw}");
    assert!(
        !raw.contains("Since firmware 2.3") && !raw.contains("spindle.png"),
        "nothing R&D has already: {raw}"
    );
    let t = ok(&cfg, &db, &["show", &id]);
    assert_eq!(
        t["side_conversations"].as_array().map(Vec::len),
        Some(1),
        "{t}"
    );
    assert!(spooled_to(&m, "carla@example.net").is_empty());
}

/// Followers: an outside address is mailed each change (the first time
/// with the conversation so far, then in the same thread) and its answer
/// comes back as a note; an agent who follows finds the ticket with
/// `follower:me` and is mailed nothing; internal notes and changes the
/// follower made themselves are not news; after `unfollow`, nothing.
#[test]
fn followers_get_the_changes() {
    let m = Mail::up();
    let cfg = m.config("support@example.test", "");
    let db = m.dir.path().join("f.db");
    let mail = |name: &str, body: &str, extra: &str| {
        m.deliver(
            "support@example.test",
            name,
            &format!(
                "From: Carla Customer <carla@example.net>\r\nTo: support@example.test\r\n\
                 Subject: Order 7781 arrived damaged\r\nDate: Tue, 01 Dec 2026 09:00:00 +0000\r\n\
                 Message-ID: <{name}@example.net>\r\n{extra}\r\n{body}\r\n"
            ),
        )
    };
    mail("c1", "The crate was crushed; two panels are bent.", "");
    ok(&cfg, &db, &["poll"]);
    let id = ok(&cfg, &db, &["list", "--all"])["tickets"][0]["id"]
        .as_i64()
        .unwrap()
        .to_string();
    let f = ok(&cfg, &db, &["follow", &id, "Sales@Example.test", "alice"]);
    assert_eq!(
        f["changed"],
        serde_json::json!(["sales@example.test", "alice"])
    );
    let again = ok(&cfg, &db, &["follow", &id, "alice"]);
    assert_eq!(again["changed"], serde_json::json!([]), "already following");
    let told = ok(&cfg, &db, &["followers", "notify"]);
    assert_eq!(
        told["told"],
        serde_json::json!([]),
        "nothing new yet: {told}"
    );
    let mine = ok(
        &cfg,
        &db,
        &["--agent", "alice", "list", "--query", "follower:me"],
    );
    assert_eq!(mine["tickets"][0]["id"].to_string(), id, "{mine}");

    // A change by an agent and an internal note: only the change is news.
    ok(&cfg, &db, &["--agent", "bob", "assign", &id, "bob"]);
    let note = m.dir.path().join("note.txt");
    std::fs::write(&note, "Check the courier's liability first.").unwrap();
    ok(
        &cfg,
        &db,
        &["note", &id, "--body-file", note.to_str().unwrap()],
    );
    let dry = ok(&cfg, &db, &["followers", "notify", "--dry-run"]);
    assert_eq!(dry["told"].as_array().map(Vec::len), Some(1), "{dry}");
    ok(&cfg, &db, &["outbox", "send"]);
    assert!(
        spooled_to(&m, "sales@example.test").is_empty(),
        "a dry run queues nothing"
    );
    let told = ok(&cfg, &db, &["followers", "notify"]);
    assert_eq!(told["told"][0]["follower"], "sales@example.test", "{told}");
    assert_eq!(told["told"][0]["follow_up"], false);
    ok(&cfg, &db, &["outbox", "send"]);
    let sent = spooled_to(&m, "sales@example.test");
    assert_eq!(sent.len(), 1, "one update");
    let first = &sent[0];
    assert!(
        first.contains("assignee") && first.contains("bob"),
        "{first}"
    );
    assert!(
        first.contains("two panels are bent"),
        "the conversation so far: {first}"
    );
    assert!(
        !first.contains("courier's liability"),
        "no internal note: {first}"
    );
    assert!(spooled_to(&m, "alice").is_empty());
    assert_eq!(
        ok(&cfg, &db, &["followers", "notify"])["told"],
        serde_json::json!([])
    );

    // The customer writes again: the next update continues the thread.
    mail(
        "c2",
        "Photos attached now. Can you replace them?",
        "In-Reply-To: <c1@example.net>\r\n",
    );
    ok(&cfg, &db, &["poll"]);
    let told = ok(&cfg, &db, &["followers", "notify"]);
    assert_eq!(told["told"][0]["follow_up"], true, "{told}");
    ok(&cfg, &db, &["outbox", "send"]);
    let sent = spooled_to(&m, "sales@example.test");
    assert_eq!(sent.len(), 2);
    let first_id = header(first, "Message-ID").to_string();
    let second = sent
        .iter()
        .find(|r| r.contains("Can you replace them?"))
        .unwrap();
    assert_eq!(header(second, "In-Reply-To"), first_id, "{second}");
    assert!(
        !second.contains("two panels are bent"),
        "only what is new: {second}"
    );

    // Sales answers: a note on the ticket, not a message to the customer.
    m.deliver(
        "support@example.test",
        "s1",
        &format!(
            "From: Sales <sales@example.test>\r\nTo: support@example.test\r\n\
             Subject: Re: Fwd: Order 7781 arrived damaged [#{id}]\r\n\
             Date: Tue, 01 Dec 2026 13:00:00 +0000\r\nMessage-ID: <s1@example.test>\r\n\
             In-Reply-To: {first_id}\r\n\r\nReplacement panels ship tomorrow.\r\n"
        ),
    );
    ok(&cfg, &db, &["poll"]);
    let t = ok(&cfg, &db, &["show", &id]);
    let note = t["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["from_addr"] == "sales@example.test")
        .unwrap_or_else(|| panic!("{t}"))
        .clone();
    assert_eq!(note["direction"], "note");
    assert_eq!(t["followers"].as_array().map(Vec::len), Some(2), "{t}");
    // Their own answer is not news to them.
    assert_eq!(
        ok(&cfg, &db, &["followers", "notify"])["told"],
        serde_json::json!([])
    );

    // Unfollowed: a change reaches nobody.
    ok(&cfg, &db, &["unfollow", &id, "sales@example.test"]);
    ok(&cfg, &db, &["state", &id, "pending"]);
    assert_eq!(
        ok(&cfg, &db, &["followers", "notify"])["told"],
        serde_json::json!([])
    );
    let list = ok(&cfg, &db, &["followers", "list", &id]);
    assert_eq!(list[0]["follower"], "alice", "{list}");
    assert!(
        spooled_to(&m, "carla@example.net").is_empty(),
        "nothing to the customer"
    );
}

/// A fixture counted by hand: the week before 2026-12-01 12:00 UTC
/// against the week before that, over `tag:product/*`.
#[test]
fn the_digest_counts_a_fixture_by_hand() {
    use echodesk::inbound::Inbound;
    use echodesk::model::Channel;
    use echodesk::store::{SearchContext, Settings, Store};
    let mut store = Store::open_in_memory(Settings::default()).unwrap();
    let ingest = echodesk::ingest::Ingest::new(store.settings());
    let now = 1_796_126_400; // 2026-12-01 12:00 UTC
    let day = 86_400;
    let mut n = 0;
    let mut add =
        |store: &mut Store, ch: Channel, from: &str, days_ago: i64, tag: &str, text: &str| {
            n += 1;
            let m = Inbound {
                channel: ch,
                account: "a".into(),
                provider_id: format!("p{n}"),
                message_id: (ch == Channel::Email).then(|| format!("m{n}@x")),
                refs: vec![],
                from_addr: from.into(),
                from_name: None,
                to_addr: "support@example.test".into(),
                subject: format!("s{n}"),
                body_text: text.into(),
                body_html: None,
                received_at: now - days_ago * day,
                auto_kind: None,
                attachments: vec![],
                parse_error: None,
                raw: None,
            };
            let tx = store.transaction().unwrap();
            tx.set_clock(Some(now - days_ago * day));
            let t = match ingest.ingest(&tx, &m).unwrap() {
                echodesk::ingest::Outcome::Created { ticket, .. } => ticket,
                o => panic!("{o:?}"),
            };
            tx.tag(t, &[tag.to_string()], &[], "t", None).unwrap();
            tx.commit().unwrap();
            t
        };
    // This week: three spindle complaints (two mails, a text), one display,
    // one billing question (not a product tag).
    add(
        &mut store,
        Channel::Email,
        "a@x.test",
        1,
        "product/spindle",
        "> quoted\nIt grinds at 8000 rpm.",
    );
    let newest = add(
        &mut store,
        Channel::Sms,
        "+14155550101",
        0,
        "product/spindle",
        "Spindle noise again",
    );
    add(
        &mut store,
        Channel::Email,
        "b@x.test",
        3,
        "product/spindle",
        "Grinding spindle",
    );
    add(
        &mut store,
        Channel::Email,
        "c@x.test",
        2,
        "product/display",
        "Display flickers",
    );
    add(
        &mut store,
        Channel::Email,
        "d@x.test",
        2,
        "billing",
        "Invoice wrong",
    );
    // The week before: one spindle, two display.
    add(
        &mut store,
        Channel::Email,
        "e@x.test",
        8,
        "product/spindle",
        "Old spindle",
    );
    add(
        &mut store,
        Channel::Email,
        "f@x.test",
        9,
        "product/display",
        "Old display",
    );
    add(
        &mut store,
        Channel::Email,
        "g@x.test",
        13,
        "product/display",
        "Old display 2",
    );
    // Outside both.
    add(
        &mut store,
        Channel::Email,
        "h@x.test",
        20,
        "product/spindle",
        "Ancient",
    );

    let req = echodesk::voice::Request::last("tag:product/*", "1w", now).unwrap();
    let ctx = SearchContext {
        me: String::new(),
        now,
    };
    let d = echodesk::voice::build(&store, &req, &ctx).unwrap();
    assert_eq!((d.tickets.now, d.tickets.before), (4, 3));
    let tags: Vec<(&str, i64, i64, i64)> = d
        .by_tag
        .iter()
        .map(|r| (r.name.as_str(), r.now, r.before, r.change))
        .collect();
    assert_eq!(
        tags,
        [("product/spindle", 3, 1, 2), ("product/display", 1, 2, -1)]
    );
    let channels: Vec<(&str, i64, i64)> = d
        .by_channel
        .iter()
        .map(|r| (r.name.as_str(), r.now, r.before))
        .collect();
    assert_eq!(channels, [("mail", 3, 3), ("sms", 1, 0)]);
    assert_eq!(d.growing.len(), 1);
    let g = &d.growing[0];
    assert_eq!(g.tag, "product/spindle");
    assert_eq!(g.examples.len(), 3);
    assert_eq!(g.examples[0].ticket, newest, "newest first");
    assert_eq!(
        g.examples[1].text, "It grinds at 8000 rpm.",
        "the customer's words, not the quote"
    );
    let text = echodesk::voice::render(&d);
    assert!(text.contains("Tickets: 4 (before: 3, +1)"), "{text}");
    assert!(
        text.contains("\u{201c}Spindle noise again\u{201d}"),
        "{text}"
    );
}

/// A weekly digest on a schedule: the daemon mails it once into the
/// quality team's mailbox through the real SMTP server.
#[test]
fn a_scheduled_digest_arrives_in_the_quality_mailbox() {
    let m = Mail::up();
    let cfg = m.config(
        "support@example.test",
        "[[digest]]\nname = \"weekly\"\nto = [\"quality@example.test\"]\nevery = \"weekly\"\nat = \"00:00\"\nquery = \"tag:product/*\"\nlast = \"1w\"\n",
    );
    let db = m.dir.path().join("d.db");
    // Written a week ago: inside the week before the latest Monday 00:00
    // (UTC), whatever day the test runs.
    let date = (chrono::Utc::now() - chrono::Duration::days(7)).to_rfc2822();
    m.deliver(
        "support@example.test",
        "1.mail",
        &format!(
            "From: Carla <carla@example.net>\r\nTo: support@example.test\r\nSubject: Spindle grinds\r\n\
             Date: {date}\r\nMessage-ID: <q1@example.net>\r\n\r\nThe spindle grinds.\r\n"
        ),
    );
    ok(&cfg, &db, &["poll"]);
    let id = ok(&cfg, &db, &["list", "--all"])["tickets"][0]["id"].to_string();
    ok(&cfg, &db, &["tag", &id, "+product/spindle"]);
    let by_hand = ok(
        &cfg,
        &db,
        &["digest", "--query", "tag:product/*", "--last", "30d"],
    );
    assert_eq!(
        by_hand["digest"]["by_tag"][0]["name"], "product/spindle",
        "{by_hand}"
    );

    let log = m.dir.path().join("daemon.log");
    let mut d = common::daemon(&cfg, &db, &log);
    common::wait_for("the digest in the quality mailbox", 30, &log, &mut || {
        !spooled_to(&m, "quality@example.test").is_empty()
    });
    // A few more passes: still one.
    std::thread::sleep(std::time::Duration::from_secs(2));
    d.stop();
    let mails = spooled_to(&m, "quality@example.test");
    assert_eq!(mails.len(), 1);
    assert!(
        header(&mails[0], "Subject").starts_with("echodesk digest: tag:product/*"),
        "{}",
        mails[0]
    );
    assert!(mails[0].contains("product/spindle"), "{}", mails[0]);
}
