//! Satisfaction surveys through the real binary: against the real
//! Dovecot and SMTP server (the survey by mail after the delay, answers by
//! reply and by a `mailto:` link, a reply that is not a rating, a late
//! answer, a rule on a low rating) and against the Twilio fake (the SMS
//! survey, "5 thanks", STOP honoured by a later notice).

mod common;

use std::path::Path;

use common::{run, Mail, Twilio};
use serde_json::{json, Value};

fn ok(cfg: &Path, db: &Path, args: &[&str]) -> Value {
    let (code, v, err) = run(cfg, db, args);
    assert_eq!(code, Some(0), "{args:?}: {err}");
    v
}

/// `YYYY-MM-DD HH:MM` (UTC, the default team zone) `hours` from now.
fn in_hours(hours: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::hours(hours))
        .format("%Y-%m-%d %H:%M")
        .to_string()
}

fn date_now() -> String {
    chrono::Utc::now().to_rfc2822()
}

fn customer_mail(id: &str, from: &str, subject: &str, extra: &str, body: &str) -> String {
    format!(
        "From: {from}\r\nTo: support@example.test\r\nSubject: {subject}\r\nDate: {}\r\n\
         Message-ID: <{id}>\r\n{extra}\r\n{body}\r\n",
        date_now()
    )
}

/// Quoted-printable decoded (soft breaks joined, =XX bytes).
fn qp(s: &str) -> String {
    let joined = s.replace("=\r\n", "").replace("=\n", "");
    let b = joined.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'=' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&joined[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn header<'a>(raw: &'a str, name: &str) -> Option<&'a str> {
    raw.lines()
        .take_while(|l| !l.is_empty())
        .find(|l| {
            l.to_ascii_lowercase()
                .starts_with(&format!("{}:", name.to_ascii_lowercase()))
        })
        .map(|l| l[name.len() + 1..].trim())
}

/// The surveys in the SMTP spool: (recipient, Message-ID, token, text).
fn surveys_sent(m: &Mail) -> Vec<(String, String, String, String)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(m.spool()).unwrap().flatten() {
        if e.path().extension().is_none_or(|x| x != "eml") {
            continue;
        }
        let raw = std::fs::read_to_string(e.path()).unwrap();
        let text = qp(&raw);
        let Some(at) = text.find("csat%3A") else {
            continue;
        };
        let token: String = text[at + 7..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        out.push((
            header(&raw, "To").unwrap_or("").to_string(),
            header(&raw, "Message-ID").unwrap_or("").to_string(),
            token,
            text,
        ));
    }
    out
}

fn survey_of(cfg: &Path, db: &Path, ticket: i64) -> Value {
    ok(cfg, db, &["show", &ticket.to_string()])["survey"].clone()
}

/// Opens, answers and solves a ticket from `from`; returns its id.
fn solved_ticket(m: &Mail, cfg: &Path, db: &Path, n: usize, from: &str) -> i64 {
    m.deliver(
        "support@example.test",
        &format!("{n}.in"),
        &customer_mail(
            &format!("c{n}@example.net"),
            from,
            "Broken kettle",
            "",
            "It leaks.",
        ),
    );
    ok(cfg, db, &["poll"]);
    let list = ok(
        cfg,
        db,
        &[
            "list",
            "--query",
            &format!(
                "from:{}",
                from.split('<').nth(1).unwrap_or(from).trim_end_matches('>')
            ),
            "--all",
        ],
    );
    let id = list["tickets"][0]["id"].as_i64().expect("ticket");
    let body = m.dir.path().join(format!("reply{n}.txt"));
    std::fs::write(&body, "A new kettle is on its way.\n").unwrap();
    ok(
        cfg,
        db,
        &[
            "reply",
            &id.to_string(),
            "--body-file",
            body.to_str().unwrap(),
        ],
    );
    ok(cfg, db, &["state", &id.to_string(), "solved"]);
    id
}

const SURVEY: &str = "[survey]\nenabled = true\ndelay = \"24h\"\nwindow = \"14d\"\n\
    [survey.words]\n\"非常满意\" = 5\n\"满意\" = 4\n";

#[test]
fn email_surveys_after_the_delay_answered_by_reply_and_by_link() {
    let m = Mail::up();
    let rule = "[[rules]]\nname = \"unhappy\"\non = \"rating\"\nrating = \"<= 2\"\n\
        set_state = \"open\"\nadd_tags = [\"unhappy\"]\n";
    let cfg = m.config("support@example.test", &format!("{SURVEY}{rule}"));
    let db = m.dir.path().join("s.db");
    let carol = solved_ticket(&m, &cfg, &db, 1, "Carol <carol@example.net>");
    let dan = solved_ticket(&m, &cfg, &db, 2, "Dan <dan@example.net>");
    let erin = solved_ticket(&m, &cfg, &db, 3, "Erin <erin@example.net>");
    let gus = solved_ticket(&m, &cfg, &db, 4, "Gus <gus@example.net>");
    ok(&cfg, &db, &["outbox", "send"]);
    m.clear_spool();

    // Not before the delay; the dry run an hour after it lists all four.
    let v = ok(&cfg, &db, &["survey", "send-due"]);
    assert_eq!(v["tickets"].as_array().map(Vec::len), Some(0), "{v}");
    let v = ok(
        &cfg,
        &db,
        &["survey", "send-due", "--dry-run", "--now", &in_hours(25)],
    );
    let due: Vec<&str> = v["tickets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["status"].as_str().unwrap())
        .collect();
    assert_eq!(due, ["due"; 4], "{v}");
    assert!(
        survey_of(&cfg, &db, carol).is_null(),
        "a dry run queues nothing"
    );
    let v = ok(&cfg, &db, &["survey", "send-due", "--now", &in_hours(25)]);
    assert_eq!(v["tickets"][0]["status"], "queued", "{v}");
    assert_eq!(
        v["tickets"][0]["agent"], "agent",
        "the solver is attributed: {v}"
    );
    // Sent once: a second run finds nothing more.
    let v = ok(&cfg, &db, &["survey", "send-due", "--now", &in_hours(26)]);
    assert_eq!(v["tickets"].as_array().map(Vec::len), Some(0), "{v}");
    let rep = ok(&cfg, &db, &["outbox", "send"]);
    assert_eq!(rep["sent"], 4, "{rep}");
    // The survey goes out in the ticket's thread, and leaves it solved.
    assert_eq!(
        ok(&cfg, &db, &["show", &carol.to_string()])["state"],
        "solved"
    );

    let sent = surveys_sent(&m);
    assert_eq!(sent.len(), 4, "{sent:?}");
    let of = |who: &str| {
        sent.iter()
            .find(|s| s.0.contains(who))
            .cloned()
            .unwrap_or_else(|| panic!("no survey to {who}: {sent:?}"))
    };
    let (_, carol_mid, _, text) = of("carol@");
    assert!(
        text.contains("Reply to this message with a number from 1 to 5"),
        "{text}"
    );
    assert!(
        text.contains("mailto:support@example.test?subject=5%20%5Bcsat%3A"),
        "{text}"
    );
    let raw_carol = std::fs::read_dir(m.spool())
        .unwrap()
        .flatten()
        .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
        .find(|r| r.contains(&carol_mid))
        .unwrap();
    assert!(
        header(&raw_carol, "In-Reply-To").is_some_and(|h| h.contains("c1@example.net")),
        "{raw_carol}"
    );
    assert!(
        header(&raw_carol, "Auto-Submitted").is_some(),
        "{raw_carol}"
    );

    // Carol replies in the thread with a rating and a comment, over the
    // quoted survey; Dan clicks the 4 link (a new mail, no thread headers);
    // Erin writes something that is not a rating; Gus answers 1.
    let (_, dan_mid, dan_token, _) = of("dan@");
    assert!(!dan_token.is_empty() && !dan_mid.is_empty());
    let (_, erin_mid, _, _) = of("erin@");
    let (_, gus_mid, _, _) = of("gus@");
    m.deliver(
        "support@example.test",
        "a1",
        &customer_mail(
            "a1@example.net",
            "Carol <carol@example.net>",
            &format!("Re: Broken kettle [#{carol}]"),
            &format!("In-Reply-To: {carol_mid}\r\nReferences: {carol_mid}\r\n"),
            "5 great service!\r\n\r\nOn Tue, Support wrote:\r\n> How satisfied are you",
        ),
    );
    m.deliver(
        "support@example.test",
        "a2",
        &customer_mail(
            "a2@example.net",
            "dan@example.net",
            &format!("4 [csat:{dan_token}]"),
            "",
            "",
        ),
    );
    m.deliver(
        "support@example.test",
        "a3",
        &customer_mail(
            "a3@example.net",
            "Erin <erin@example.net>",
            &format!("Re: Broken kettle [#{erin}]"),
            &format!("In-Reply-To: {erin_mid}\r\nReferences: {erin_mid}\r\n"),
            "The new kettle leaks too.",
        ),
    );
    m.deliver(
        "support@example.test",
        "a4",
        &customer_mail(
            "a4@example.net",
            "Gus <gus@example.net>",
            &format!("Re: Broken kettle [#{gus}]"),
            &format!("In-Reply-To: {gus_mid}\r\n"),
            "1 - nobody called me back",
        ),
    );
    ok(&cfg, &db, &["poll"]);

    let s = survey_of(&cfg, &db, carol);
    assert_eq!(
        (s["rating"].as_u64(), s["comment"].as_str()),
        (Some(5), Some("great service!")),
        "{s}"
    );
    assert_eq!(
        ok(&cfg, &db, &["show", &carol.to_string()])["state"],
        "solved",
        "a rating does not reopen"
    );
    let s = survey_of(&cfg, &db, dan);
    assert_eq!(s["rating"], 4, "the mailto token path: {s}");
    assert_eq!(
        ok(&cfg, &db, &["show", &dan.to_string()])["state"],
        "solved"
    );
    let shown = ok(&cfg, &db, &["show", &erin.to_string()]);
    assert_eq!(
        shown["state"], "open",
        "not a rating: the normal path reopens"
    );
    assert!(shown["survey"]["rating"].is_null(), "{shown}");
    // The low rating drove the rule: reopened with a tag.
    let shown = ok(&cfg, &db, &["show", &gus.to_string()]);
    assert_eq!(shown["survey"]["rating"], 1, "{shown}");
    assert_eq!(shown["state"], "open", "{shown}");
    assert!(
        shown["tags"]
            .as_array()
            .unwrap()
            .contains(&json!("unhappy")),
        "{shown}"
    );

    // Carol changes her mind within the window: the latest answer wins.
    m.deliver(
        "support@example.test",
        "a5",
        &customer_mail(
            "a5@example.net",
            "Carol <carol@example.net>",
            &format!("Re: Broken kettle [#{carol}]"),
            &format!("In-Reply-To: {carol_mid}\r\n"),
            "满意，谢谢",
        ),
    );
    ok(&cfg, &db, &["poll"]);
    let s = survey_of(&cfg, &db, carol);
    assert_eq!(
        (s["rating"].as_u64(), s["comment"].as_str()),
        (Some(4), Some("谢谢")),
        "{s}"
    );

    let list = ok(&cfg, &db, &["survey", "list"]);
    let rated = list
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| !s["rating"].is_null())
        .count();
    assert_eq!(rated, 3, "{list}");

    // The figures: 4 sent, 3 answered (4, 4, 1 — Carol's latest): CSAT 2 of 3, average 3,
    // all under the agent who solved them.
    let r = ok(
        &cfg,
        &db,
        &[
            "report", "--last", "1w", "--by", "total", "--group", "agent",
        ],
    );
    let all = r["totals"].as_array().unwrap().last().unwrap()["satisfaction"].clone();
    assert_eq!(
        (all["sent"].as_i64(), all["answered"].as_i64()),
        (Some(4), Some(3)),
        "{all}"
    );
    assert!(
        (all["csat"].as_f64().unwrap() - 2.0 / 3.0).abs() < 1e-9,
        "{all}"
    );
    assert!(
        (all["average"].as_f64().unwrap() - 3.0).abs() < 1e-9,
        "{all}"
    );
    let agent = r["totals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["group"] == "agent")
        .unwrap_or(&Value::Null);
    assert_eq!(
        (
            agent["group"].as_str(),
            agent["satisfaction"]["sent"].as_i64()
        ),
        (Some("agent"), Some(4)),
        "{r}"
    );
    let text = std::process::Command::new(env!("CARGO_BIN_EXE_echodesk"))
        .args([
            "--config",
            cfg.to_str().unwrap(),
            "--db",
            db.to_str().unwrap(),
        ])
        .args(["report", "--last", "1w", "--by", "total"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("SATISFACTION"), "{text}");
    assert!(text.contains("67%"), "{text}");
}

#[test]
fn an_answer_after_the_window_is_a_normal_message() {
    let m = Mail::up();
    let cfg = m.config(
        "support@example.test",
        "[survey]\nenabled = true\ndelay = \"24h\"\nwindow = \"2s\"\n",
    );
    let db = m.dir.path().join("late.db");
    let t = solved_ticket(&m, &cfg, &db, 1, "Carol <carol@example.net>");
    ok(&cfg, &db, &["outbox", "send"]);
    m.clear_spool();
    ok(&cfg, &db, &["survey", "send-due", "--now", &in_hours(25)]);
    ok(&cfg, &db, &["outbox", "send"]);
    let (_, mid, _, _) = surveys_sent(&m).pop().expect("survey");
    std::thread::sleep(std::time::Duration::from_secs(4));
    m.deliver(
        "support@example.test",
        "late",
        &customer_mail(
            "late@example.net",
            "Carol <carol@example.net>",
            &format!("Re: Broken kettle [#{t}]"),
            &format!("In-Reply-To: {mid}\r\n"),
            "5",
        ),
    );
    ok(&cfg, &db, &["poll"]);
    let shown = ok(&cfg, &db, &["show", &t.to_string()]);
    assert!(shown["survey"]["rating"].is_null(), "{shown}");
    assert_eq!(
        shown["state"], "open",
        "late: threaded and reopened like any message"
    );
}

const OUR: &str = "+15005550006";

#[test]
fn sms_surveys_ratings_and_stop() {
    let fake = Twilio::start();
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.toml");
    std::fs::write(
        &cfg,
        format!(
            "[[sms]]\nname = \"twilio\"\nkind = \"twilio\"\nnumber = \"{OUR}\"\n\
             account_sid = \"AC00000000000000000000000000000001\"\ntoken_env = \"TWILIO_TOKEN\"\n\
             base_url = \"http://127.0.0.1:{}\"\ntimeout = 10\n{SURVEY}",
            fake.port
        ),
    )
    .unwrap();
    // An automatic acknowledgement for every text: held for a number that
    // said STOP.
    let canned = dir.path().join("canned");
    std::fs::create_dir_all(&canned).unwrap();
    std::fs::write(
        canned.join("ack.md"),
        "+++\ntitle = \"Thanks\"\n+++\nThanks, we got your message.\n",
    )
    .unwrap();
    let text = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(
        &cfg,
        format!(
            "canned_dir = \"{}\"\n{text}[[rules]]\nname = \"ack\"\nauto_reply = \"ack\"\n",
            canned.display()
        ),
    )
    .unwrap();
    let db = dir.path().join("s.db");
    let now = chrono::Utc::now().timestamp();
    fake.control(
        "POST",
        "/_fake/inbound",
        &json!([
            {"from": "+14155550100", "to": OUR, "body": "My order has not arrived", "date_sent": now - 60},
            {"from": "+14155550101", "to": OUR, "body": "Wrong size delivered", "date_sent": now - 60},
        ]),
    );
    ok(&cfg, &db, &["poll"]);
    let ids: Vec<i64> = ok(&cfg, &db, &["list", "--all"])["tickets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids.len(), 2);
    let body = dir.path().join("r.txt");
    std::fs::write(&body, "Sorted, sorry for the trouble.").unwrap();
    for id in &ids {
        ok(
            &cfg,
            &db,
            &[
                "reply",
                &id.to_string(),
                "--body-file",
                body.to_str().unwrap(),
            ],
        );
        ok(&cfg, &db, &["state", &id.to_string(), "solved"]);
    }
    ok(&cfg, &db, &["survey", "send-due", "--now", &in_hours(25)]);
    ok(&cfg, &db, &["outbox", "send"]);
    let sent = fake.control("GET", "/_fake/sent", &json!(null));
    let surveys: Vec<&Value> = sent
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["body"].as_str().unwrap_or("").contains("Reply 1-5"))
        .collect();
    assert_eq!(surveys.len(), 2, "{sent}");
    assert!(surveys[0]["body"].as_str().unwrap().contains("STOP"));

    // "5 thanks" is a rating; STOP opts the other number out.
    let now = chrono::Utc::now().timestamp();
    fake.control(
        "POST",
        "/_fake/inbound",
        &json!([
            {"from": "+14155550100", "to": OUR, "body": "5 thanks", "date_sent": now},
            {"from": "+14155550101", "to": OUR, "body": "STOP", "date_sent": now},
        ]),
    );
    ok(&cfg, &db, &["poll"]);
    let by_number = |n: &str| {
        let list = ok(
            &cfg,
            &db,
            &["list", "--query", &format!("from:{n}"), "--all"],
        );
        ok(&cfg, &db, &["show", &list["tickets"][0]["id"].to_string()])
    };
    let rated = by_number("+14155550100");
    assert_eq!(rated["survey"]["rating"], 5, "{rated}");
    assert_eq!(rated["survey"]["comment"], "thanks");
    assert_eq!(rated["state"], "solved");
    let stopped = by_number("+14155550101");
    assert_eq!(
        stopped["state"], "solved",
        "STOP reopens nothing: {stopped}"
    );
    let held = stopped["events"].as_array().unwrap().iter().any(|e| {
        e["kind"] == "auto-reply-held" && e["new"].as_str().unwrap_or("").contains("opted out")
    });
    assert!(held, "no automatic text after STOP: {stopped}");
    let c = ok(&cfg, &db, &["customer", "show", "+14155550101"]);
    assert_eq!(c["opted_out"], json!(["+14155550101"]), "{c}");
    let c = ok(&cfg, &db, &["customer", "show", "+14155550100"]);
    assert_eq!(
        c["surveys"][0]["rating"], 5,
        "the customer shows the rating: {c}"
    );

    // A later notice to every SMS customer leaves the opted-out number out.
    let notice = dir.path().join("n.txt");
    std::fs::write(&notice, "Our shop is closed on Friday.").unwrap();
    let (code, v, err) = run(
        &cfg,
        &db,
        &[
            "send",
            "--customers",
            "channel:sms",
            "--channel",
            "sms",
            "--body-file",
            notice.to_str().unwrap(),
            "--yes",
        ],
    );
    assert_ne!(code, Some(0), "one target failed: {v} {err}");
    let job = err
        .split("bulk job ")
        .nth(1)
        .and_then(|r| r.split('`').next())
        .unwrap_or_else(|| panic!("no job named: {err}"));
    let (_, items, _) = run(&cfg, &db, &["bulk", "job", job]);
    assert!(items.to_string().contains("opted out"), "{items}");
    ok(&cfg, &db, &["outbox", "send"]);
    let sent = fake.control("GET", "/_fake/sent", &json!(null));
    let notices: Vec<&str> = sent
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| {
            s["body"]
                .as_str()
                .unwrap_or("")
                .contains("closed on Friday")
        })
        .map(|s| s["to"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(notices, ["+14155550100"], "{sent}");
    // START lets it in again.
    fake.control(
        "POST",
        "/_fake/inbound",
        &json!([{"from": "+14155550101", "to": OUR, "body": "START", "date_sent": chrono::Utc::now().timestamp()}]),
    );
    ok(&cfg, &db, &["poll"]);
    let (code, v, err) = run(
        &cfg,
        &db,
        &[
            "send",
            "--customers",
            "from:+14155550101",
            "--channel",
            "sms",
            "--body-file",
            notice.to_str().unwrap(),
            "--yes",
        ],
    );
    assert_eq!(code, Some(0), "{v} {err}");
}
