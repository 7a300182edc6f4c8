//! Faults between echodesk and its servers, injected by a loopback proxy
//! (tests/harness/fault_proxy.py) in front of the real Dovecot, the real
//! SMTP server and the Twilio fake, and by the servers themselves (4xx,
//! 5xx, 429). For each: what the user sees (`status`, the TUI's status
//! bar), that retries back off and recover, and that nothing is lost or
//! repeated. The backoff is shortened (`[outbox] retry_first = "1s"`,
//! `retry_max = "2s"`) so that "down for an hour" is many retries long
//! but the test is not.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

mod common;
use common::{mail, run, Mail, Proxy, Twilio};

fn text(cfg: &Path, db: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_echodesk"))
        .arg("--config")
        .arg(cfg)
        .arg("--db")
        .arg(db)
        .args(args)
        .env("ECHODESK_TEST_PW", "secret")
        .env("TWILIO_TOKEN", "secret-token")
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

/// The TUI's status bar on this store, as an agent would see it.
fn status_bar(cfg: &Path, db: &Path) -> String {
    let config = echodesk::config::Config::load(cfg).unwrap();
    let store = echodesk::store::Store::open(db, (&config).into()).unwrap();
    let theme = echodesk::tui::theme::Theme::load("monochrome").unwrap();
    let mut app = echodesk::tui::app::App::new(store, config, "agent".into(), theme).unwrap();
    let mut term = ratatui::Terminal::new(ratatui::backend::TestBackend::new(160, 20)).unwrap();
    term.draw(|f| echodesk::tui::views::draw(f, &mut app))
        .unwrap();
    let buf = term.backend().buffer().clone();
    (0..buf.area.height)
        .map(|y| {
            (0..buf.area.width)
                .map(|x| buf[(x, y)].symbol().to_string())
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn outbox(db: &Path) -> Vec<(String, i64, i64, i64)> {
    let c = rusqlite::Connection::open(db).unwrap();
    let mut st = c
        .prepare("SELECT status, attempts, next_attempt_at, updated_at FROM outbox ORDER BY id")
        .unwrap();
    st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
}

/// A config reading the support mailbox through `imap_port` and sending
/// through `smtp_port` (either may be the proxy).
fn config(m: &Mail, imap_port: u16, smtp_port: u16, extra: &str) -> PathBuf {
    let base = std::fs::read_to_string(m.config("support@example.test", "")).unwrap();
    let text = base
        .replace(
            &format!("port = {}\ntls = \"implicit\"", m.get("IMAPS_PORT")),
            &format!("port = {imap_port}\ntls = \"implicit\"\ntimeout = 3\nbatch = 20"),
        )
        .replace(
            &format!("port = {}\ntls = \"starttls\"", m.get("SMTP_PORT")),
            &format!("port = {smtp_port}\ntls = \"starttls\""),
        )
        .replace("timeout = 10", "timeout = 2")
        + "[outbox]\nretry_first = \"1s\"\nretry_max = \"2s\"\n"
        + extra;
    let p = m
        .dir
        .path()
        .join(format!("faults-{imap_port}-{smtp_port}.toml"));
    std::fs::write(&p, text).unwrap();
    p
}

fn queue_answers(m: &Mail, cfg: &Path, db: &Path, tag: &str, n: usize) {
    for i in 0..n {
        m.deliver(
            "support@example.test",
            &format!("{tag}{i}"),
            &mail(
                &format!("{tag}.{i}@example.net"),
                &format!("Customer <{tag}{i}@example.net>"),
                "Help",
                "",
            ),
        );
    }
    let (code, _, err) = run(cfg, db, &["poll"]);
    assert_eq!(code, Some(0), "{err}");
    let body = m.dir.path().join("answer.txt");
    std::fs::write(&body, "Here you are.\n").unwrap();
    let (code, _, err) = run(
        cfg,
        db,
        &[
            "bulk",
            "reply",
            "--query",
            "is:open",
            "--body-file",
            body.to_str().unwrap(),
            "--yes",
        ],
    );
    assert_eq!(code, Some(0), "{err}");
}

fn wait_due() {
    std::thread::sleep(Duration::from_millis(2100));
}

/// The SMTP server refused, reset, stalled, answered garbage and cut off
/// mid-command, one after another (the server "down for an hour" with the
/// backoff capped at 2 s): every pass keeps the replies queued and says
/// why, in `status` and the TUI; the waits grow to the cap; when the
/// server is back, each reply arrives exactly once.
#[test]
fn smtp_faults_back_off_are_shown_and_recover_with_each_reply_once() {
    let m = Mail::up();
    let proxy = Proxy::start(m.get("SMTP_PORT").parse().unwrap(), m.dir.path());
    let cfg = config(&m, m.get("IMAPS_PORT").parse().unwrap(), proxy.port, "");
    let db = m.dir.path().join("smtp.db");
    queue_answers(&m, &cfg, &db, "s", 5);
    let mut last_attempts = 0;
    for mode in [
        "down",
        "reset",
        "stall",
        "garbage",
        "cut_up 40",
        "down",
        "down",
    ] {
        proxy.set(mode);
        let t = Instant::now();
        let (code, rep, err) = run(&cfg, &db, &["outbox", "send"]);
        assert_eq!(code, Some(0), "{mode}: a retry is no failure: {err}");
        assert_eq!(rep["sent"], 0, "{mode}: {rep}");
        assert_eq!(rep["failed"], 0, "{mode}: {rep}");
        assert_eq!(rep["interrupted"], 0, "{mode}: {rep}");
        assert!(rep["retrying"].as_u64().unwrap() >= 1, "{mode}: {rep}");
        // One failed connection stops the account for the pass: not one
        // dial (and one timeout) per reply.
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "{mode}: {:?}",
            t.elapsed()
        );
        let rows = outbox(&db);
        assert!(rows.iter().all(|r| r.0 == "queued"), "{mode}: {rows:?}");
        let attempts = rows.iter().map(|r| r.1).max().unwrap();
        assert!(attempts > last_attempts, "{mode}: {rows:?}");
        last_attempts = attempts;
        for r in &rows {
            assert!(r.2 - r.3 <= 2, "the wait is capped at retry_max: {rows:?}");
        }
        let st = text(&cfg, &db, &["status"]);
        assert!(
            st.contains("sending through support: last error"),
            "{mode}: {st}"
        );
        assert!(st.contains("5 waiting"), "{st}");
        let bar = status_bar(&cfg, &db);
        assert!(bar.contains("support unreachable"), "{mode}: {bar}");
        wait_due();
    }
    // The 4xx and 5xx answers come from the server itself.
    proxy.set("pass");
    std::fs::write(m.spool().join("script"), "451 4.3.0 try later\n").unwrap();
    let (code, rep, _) = run(&cfg, &db, &["outbox", "send"]);
    assert_eq!(code, Some(0));
    assert_eq!(rep["retrying"], 1, "{rep}");
    assert_eq!(rep["sent"], 4, "{rep}");
    wait_due();
    let (code, rep, err) = run(&cfg, &db, &["outbox", "send"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(rep["sent"], 1, "{rep}");
    let st = text(&cfg, &db, &["status"]);
    assert!(!st.contains("sending through support"), "recovered: {st}");
    assert!(!status_bar(&cfg, &db).contains("unreachable"));
    let ids = m.spooled_ids();
    let unique: HashSet<&String> = ids.iter().collect();
    assert_eq!(ids.len(), 5, "{ids:?}");
    assert_eq!(unique.len(), 5, "a reply went out twice: {ids:?}");
    assert!(proxy.log().iter().filter(|l| *l == "pass").count() >= 2);
}

/// The server takes the message but its answer never reaches us (the
/// proxy passes no more answers once the message is up): the entry is
/// `unknown`, exit 10, the TUI says so, and no later pass sends it again.
#[test]
fn a_lost_answer_after_the_message_is_unknown_never_resent() {
    let m = Mail::up();
    let proxy = Proxy::start(m.get("SMTP_PORT").parse().unwrap(), m.dir.path());
    let cfg = config(&m, m.get("IMAPS_PORT").parse().unwrap(), proxy.port, "");
    let db = m.dir.path().join("lost.db");
    m.deliver(
        "support@example.test",
        "l0",
        &mail("l.0@example.net", "C <l0@example.net>", "Help", ""),
    );
    assert_eq!(run(&cfg, &db, &["poll"]).0, Some(0));
    let body = m.dir.path().join("long.txt");
    std::fs::write(&body, "A long and careful answer.\n".repeat(800)).unwrap();
    let (code, _, err) = run(
        &cfg,
        &db,
        &["reply", "1", "--body-file", body.to_str().unwrap()],
    );
    assert_eq!(code, Some(0), "{err}");
    proxy.set("mute_after_up 8000");
    let (code, rep, err) = run(&cfg, &db, &["outbox", "send"]);
    assert_eq!(code, Some(10), "{rep} {err}");
    assert_eq!(rep["interrupted"], 1, "{rep}");
    assert!(err.contains("unknown fate"), "{err}");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(m.spooled_ids().len(), 1, "the server did take it");
    let rows = outbox(&db);
    assert_eq!(rows[0].0, "unknown", "{rows:?}");
    let (_, list, _) = run(&cfg, &db, &["outbox", "list"]);
    assert!(
        list[0]["last_error"]
            .as_str()
            .unwrap()
            .contains("may have arrived"),
        "{list}"
    );
    assert!(status_bar(&cfg, &db).contains("1 unknown"));
    proxy.set("pass");
    wait_due();
    let (code, rep, _) = run(&cfg, &db, &["outbox", "send"]);
    assert_eq!(code, Some(10));
    assert_eq!(rep["sent"], 0, "{rep}");
    assert_eq!(m.spooled_ids().len(), 1, "never sent twice");
}

/// IMAP through the proxy: refused, TLS handshake garbage, a stalled
/// server, a connection cut mid-session and answers muted mid-FETCH. Each
/// poll fails with a sentence naming the step, `status` keeps the last
/// error, and when the path is clear every message is in the store once.
#[test]
fn imap_faults_are_reported_and_nothing_is_lost_or_fetched_twice() {
    let m = Mail::up();
    let proxy = Proxy::start(m.get("IMAPS_PORT").parse().unwrap(), m.dir.path());
    let cfg = config(&m, proxy.port, m.get("SMTP_PORT").parse().unwrap(), "");
    let db = m.dir.path().join("imap.db");
    let mut ids = HashSet::new();
    for i in 0..120 {
        let id = format!("f.{i}@example.net");
        m.deliver(
            "support@example.test",
            &format!("f{i}"),
            &mail(&id, &format!("C <f{}@example.net>", i % 30), "Fault", ""),
        );
        ids.insert(id);
    }
    for (mode, words) in [
        ("down", "connect"),
        ("garbage", "tls"),
        ("stall", "within 3 s"),
        ("reset", "account `support`"),
        ("cut_up 900", "account `support`"),
        ("mute_down 12000", "within 3 s"),
    ] {
        proxy.set(mode);
        let (code, _, err) = run(&cfg, &db, &["poll"]);
        assert_eq!(code, Some(1), "{mode}: {err}");
        assert!(
            err.to_lowercase().contains(&words.to_lowercase()),
            "{mode}: {err}"
        );
        assert!(
            !err.contains("Some(") && !err.contains("Os {"),
            "{mode}: {err}"
        );
        let (_, st, _) = run(&cfg, &db, &["status"]);
        assert!(
            st["mailboxes"][0]["status"]["last_error"].is_string(),
            "{mode}: {st}"
        );
    }
    proxy.set("pass");
    let (code, _, err) = run(&cfg, &db, &["poll"]);
    assert_eq!(code, Some(0), "{err}");
    let c = rusqlite::Connection::open(&db).unwrap();
    let mut st = c
        .prepare("SELECT message_id FROM messages WHERE direction = 'in'")
        .unwrap();
    let found: Vec<String> = st
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    let unique: HashSet<&String> = found.iter().collect();
    assert_eq!(found.len(), 120, "fetched twice or lost");
    assert_eq!(unique.len(), 120);
    assert!(found.iter().all(|f| ids.contains(f)));
    let (_, st, _) = run(&cfg, &db, &["status"]);
    assert!(st["mailboxes"][0]["status"]["last_error"].is_null(), "{st}");
}

/// The Twilio gateway: a 500 and a lost answer to the send (the fake made
/// the message, the reply never came), a 429 with Retry-After, and the
/// gateway unreachable. The gateway's own list decides an open question,
/// so each text goes out exactly once; the unreachable spell shows in
/// `status` and clears when it is back.
#[test]
fn twilio_faults_send_each_text_exactly_once() {
    let fake = Twilio::start();
    let dir = tempfile::tempdir().unwrap();
    let proxy = Proxy::start(fake.port, dir.path());
    let cfg = dir.path().join("twilio.toml");
    std::fs::write(
        &cfg,
        format!(
            "[[sms]]\nname = \"twilio\"\nkind = \"twilio\"\nnumber = \"+15005550006\"\n\
             account_sid = \"AC00000000000000000000000000000001\"\ntoken_env = \"TWILIO_TOKEN\"\n\
             base_url = \"http://127.0.0.1:{}\"\ntimeout = 2\n\
             [outbox]\nretry_first = \"1s\"\nretry_max = \"2s\"\n",
            proxy.port
        ),
    )
    .unwrap();
    let db = dir.path().join("t.db");
    let now = chrono::Utc::now().timestamp();
    let senders: Vec<String> = (0..4).map(|i| format!("+1415555020{i}")).collect();
    fake.control(
        "POST",
        "/_fake/inbound",
        &Value::Array(
            senders
                .iter()
                .map(|s| json!({"from": s, "to": "+15005550006", "body": "help", "date_sent": now - 60}))
                .collect(),
        ),
    );
    let (code, _, err) = run(&cfg, &db, &["poll"]);
    assert_eq!(code, Some(0), "{err}");
    let reply = |n: usize| {
        let body = dir.path().join("r.txt");
        std::fs::write(&body, format!("Answer number {n}.")).unwrap();
        let (code, _, err) = run(
            &cfg,
            &db,
            &[
                "reply",
                &(n + 1).to_string(),
                "--body-file",
                body.to_str().unwrap(),
            ],
        );
        assert_eq!(code, Some(0), "{err}");
    };
    let sent_count = |body: &str| {
        fake.control("GET", "/_fake/sent", &Value::Null)
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["body"] == body)
            .count()
    };

    // A 500 to the send: not in the gateway's list, so tried again.
    reply(0);
    fake.control("POST", "/_fake/faults", &json!({"status": 500, "times": 1}));
    let (code, rep, err) = run(&cfg, &db, &["outbox", "send"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(rep["sent"], 1, "{rep}");
    assert_eq!(sent_count("Answer number 0."), 1);

    // The answer to the send is lost after the gateway made the message:
    // its list shows it, so it is sent, with the gateway's SID, once.
    reply(1);
    proxy.set("mute_down 0 once");
    let (code, rep, err) = run(&cfg, &db, &["outbox", "send"]);
    assert_eq!(code, Some(0), "{rep} {err}");
    assert_eq!(rep["sent"], 1, "{rep}");
    assert_eq!(sent_count("Answer number 1."), 1);
    let (_, rows, _) = run(&cfg, &db, &["outbox", "list", "--all"]);
    assert!(
        rows.as_array()
            .unwrap()
            .iter()
            .all(|r| r["provider_ref"].as_str().unwrap_or("").starts_with("SM")),
        "{rows}"
    );

    // 429 with Retry-After: waited out, sent once.
    reply(2);
    fake.control(
        "POST",
        "/_fake/faults",
        &json!({"status": 429, "times": 1, "retry_after": 1}),
    );
    let t = Instant::now();
    let (code, rep, _) = run(&cfg, &db, &["outbox", "send"]);
    assert_eq!(code, Some(0));
    assert_eq!(rep["sent"], 1, "{rep}");
    assert!(t.elapsed() >= Duration::from_secs(1));
    assert_eq!(sent_count("Answer number 2."), 1);

    // Unreachable: queued with backoff and shown; then back.
    reply(3);
    proxy.set("down");
    for _ in 0..3 {
        let (code, rep, _) = run(&cfg, &db, &["outbox", "send"]);
        assert_eq!(code, Some(0));
        assert_eq!(rep["retrying"], 1, "{rep}");
        let st = text(&cfg, &db, &["status"]);
        assert!(st.contains("sending through twilio: last error"), "{st}");
        wait_due();
    }
    proxy.set("pass");
    let (code, rep, _) = run(&cfg, &db, &["outbox", "send"]);
    assert_eq!(code, Some(0));
    assert_eq!(rep["sent"], 1, "{rep}");
    assert_eq!(sent_count("Answer number 3."), 1);
    assert!(!text(&cfg, &db, &["status"]).contains("sending through twilio"));
}
