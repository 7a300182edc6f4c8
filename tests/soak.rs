//! The soak: the daemon (IMAP with IDLE, the Twilio gateway, the outbox)
//! and four agents working one database at once while mail and texts keep
//! arriving; a TUI refreshes beside them. Checked at the end: no "database
//! is locked" (or any other) error shown to an agent, no lost update
//! (every agent's change is in the store and its events), every message
//! and text stored once, every reply sent once. Prints the latency of the
//! agents' writes (median and p99).
//!
//! `SOAK_SECS` sets the length (20 s by default, as CI runs it;
//! `scripts/soak` runs ten minutes).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;

mod common;
use common::{mail, Mail, Reaped, Twilio};

fn cli(cfg: &Path, db: &Path, agent: &str, args: &[&str], stdin: Option<&str>) -> (bool, String) {
    let mut c = Command::new(env!("CARGO_BIN_EXE_echodesk"));
    c.arg("--config")
        .arg(cfg)
        .arg("--db")
        .arg(db)
        .arg("--agent")
        .arg(agent)
        .args(args)
        .env("ECHODESK_TEST_PW", "secret")
        .env("TWILIO_TOKEN", "secret-token")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    if let Some(text) = stdin {
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn strings(db: &Path, sql: &str) -> Vec<String> {
    let c = rusqlite::Connection::open(db).unwrap();
    c.busy_timeout(Duration::from_secs(30)).unwrap();
    let mut st = c.prepare(sql).unwrap();
    st.query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
}

/// What one agent did, to look for afterwards.
#[derive(Default)]
struct Done {
    tags: Vec<(i64, String)>,
    notes: Vec<(i64, String)>,
    replies: usize,
    errors: Vec<String>,
    latencies: Vec<Duration>,
}

#[test]
fn the_daemon_and_four_agents_on_one_database() {
    let secs: u64 = std::env::var("SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let m = Mail::up();
    let fake = Twilio::start();
    let base = std::fs::read_to_string(m.config("support@example.test", "")).unwrap();
    let cfg: PathBuf = m.dir.path().join("soak.toml");
    std::fs::write(
        &cfg,
        format!(
            "{base}[[sms]]\nname = \"twilio\"\nkind = \"twilio\"\nnumber = \"+15005550006\"\n\
             account_sid = \"AC00000000000000000000000000000001\"\ntoken_env = \"TWILIO_TOKEN\"\n\
             base_url = \"http://127.0.0.1:{}\"\ntimeout = 10\npoll_interval = 1\n",
            fake.port
        ),
    )
    .unwrap();
    let db = m.dir.path().join("soak.db");
    let mut delivered = HashSet::new();
    for i in 0..40 {
        let id = format!("base.{i}@example.net");
        m.deliver(
            "support@example.test",
            &format!("b{i}"),
            &mail(
                &id,
                &format!("C{i} <c{i}@example.net>"),
                &format!("Case {i}"),
                "",
            ),
        );
        delivered.insert(id);
    }
    let (ok, err) = cli(&cfg, &db, "setup", &["poll"], None);
    assert!(ok, "{err}");
    let tickets: Vec<i64> = strings(&db, "SELECT CAST(id AS TEXT) FROM tickets")
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();

    let mut daemon = Reaped(
        Command::new(env!("CARGO_BIN_EXE_echodesk"))
            .arg("--config")
            .arg(&cfg)
            .arg("--db")
            .arg(&db)
            .args(["daemon", "--log"])
            .arg(m.dir.path().join("daemon.log"))
            .env("ECHODESK_TEST_PW", "secret")
            .env("TWILIO_TOKEN", "secret-token")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let stop = Arc::new(AtomicBool::new(false));
    let deadline = Instant::now() + Duration::from_secs(secs);

    // Mail and texts keep arriving.
    let texts = Arc::new(Mutex::new(0usize));
    let feeder = {
        let stop = stop.clone();
        let texts = texts.clone();
        let fake_port = fake.port;
        let maildir = m.maildir("support@example.test");
        std::thread::spawn(move || {
            let mut sent = Vec::new();
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                let id = format!("live.{n}@example.net");
                let raw = mail(
                    &id,
                    &format!("L{} <l{}@example.net>", n % 7, n % 7),
                    "Live",
                    "",
                );
                let meta = std::fs::metadata(&maildir).unwrap();
                let tmp = maildir.join("tmp").join(format!("live{n}"));
                std::fs::write(&tmp, raw).unwrap();
                use std::os::unix::fs::MetadataExt;
                std::os::unix::fs::chown(&tmp, Some(meta.uid()), Some(meta.gid())).unwrap();
                std::fs::rename(&tmp, maildir.join("new").join(format!("live{n}"))).unwrap();
                sent.push(id);
                if n % 2 == 0 {
                    let now = chrono::Utc::now().timestamp();
                    let body = json!([{"from": format!("+1415555{:04}", n % 13), "to": "+15005550006",
                                        "body": format!("text {n}"), "date_sent": now}]);
                    common::twilio_control(fake_port, "POST", "/_fake/inbound", &body);
                    *texts.lock().unwrap() += 1;
                }
                n += 1;
                std::thread::sleep(Duration::from_millis(250));
            }
            sent
        })
    };

    // A TUI beside them, refreshing as agents' screens do.
    let tui = {
        let stop = stop.clone();
        let (cfg, db) = (cfg.clone(), db.clone());
        std::thread::spawn(move || {
            let config = echodesk::config::Config::load(&cfg).unwrap();
            let store = echodesk::store::Store::open(&db, (&config).into()).unwrap();
            let theme = echodesk::tui::theme::Theme::load("monochrome").unwrap();
            let mut app =
                echodesk::tui::app::App::new(store, config, "erin".into(), theme).unwrap();
            let mut errors = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                app.tick();
                if let Some((msg, true)) = &app.status {
                    errors.push(msg.clone());
                    app.status = None;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            errors
        })
    };

    let agents: Vec<_> = ["alice", "bob", "carol", "dave"]
        .into_iter()
        .enumerate()
        .map(|(k, agent)| {
            let (cfg, db, tickets) = (cfg.clone(), db.clone(), tickets.clone());
            std::thread::spawn(move || {
                let mut done = Done::default();
                let mut seed = 0x9E37_79B9_7F4A_7C15u64 ^ (k as u64 + 1);
                let mut next = move || {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    seed
                };
                let mut n = 0;
                while Instant::now() < deadline {
                    let t = tickets[(next() % tickets.len() as u64) as usize];
                    let id = t.to_string();
                    let op = next() % 5;
                    let start = Instant::now();
                    let (ok, err) = match op {
                        0 => {
                            let tag = format!("{agent}-{n}");
                            let r = cli(&cfg, &db, agent, &["tag", &id, &format!("+{tag}")], None);
                            if r.0 {
                                done.tags.push((t, tag));
                            }
                            r
                        }
                        1 => {
                            let text = format!("note {agent} {n}");
                            let r = cli(
                                &cfg,
                                &db,
                                agent,
                                &["note", &id, "--body-file", "-"],
                                Some(&text),
                            );
                            if r.0 {
                                done.notes.push((t, text));
                            }
                            r
                        }
                        2 => cli(&cfg, &db, agent, &["assign", &id, "me"], None),
                        3 => cli(
                            &cfg,
                            &db,
                            agent,
                            &["priority", &id, if n % 2 == 0 { "high" } else { "normal" }],
                            None,
                        ),
                        _ => {
                            let r = cli(
                                &cfg,
                                &db,
                                agent,
                                &["reply", &id, "--body-file", "-", "--keep-state"],
                                Some(&format!("Reply {agent} {n}")),
                            );
                            if r.0 {
                                done.replies += 1;
                            }
                            r
                        }
                    };
                    done.latencies.push(start.elapsed());
                    if !ok {
                        done.errors.push(err);
                    }
                    n += 1;
                }
                done
            })
        })
        .collect();
    let results: Vec<(&str, Done)> = ["alice", "bob", "carol", "dave"]
        .into_iter()
        .zip(agents.into_iter().map(|h| h.join().unwrap()))
        .collect();
    stop.store(true, Ordering::Relaxed);
    let live = feeder.join().unwrap();
    let tui_errors = tui.join().unwrap();
    // Let the daemon take in the last arrivals and send the last replies,
    // then stop it as an operator would.
    std::thread::sleep(Duration::from_secs(4));
    // SAFETY: signalling a child we spawned and still own.
    unsafe {
        libc::kill(daemon.0.id() as i32, libc::SIGTERM);
    }
    let _ = daemon.0.wait();
    let (ok, err) = cli(&cfg, &db, "check", &["poll"], None);
    assert!(ok, "{err}");
    let (ok, err) = cli(&cfg, &db, "check", &["outbox", "send"], None);
    assert!(ok, "{err}");

    let mut problems = Vec::new();
    let mut all: Vec<Duration> = Vec::new();
    let (mut changes, mut replies) = (0, 0);
    for (agent, done) in &results {
        for e in &done.errors {
            problems.push(format!("{agent}: {e}"));
        }
        for (t, tag) in &done.tags {
            let n = strings(
                &db,
                &format!(
                    "SELECT agent FROM events WHERE ticket_id = {t} AND kind = 'tag' AND new = '{tag}' AND agent = '{agent}'"
                ),
            );
            let on = strings(
                &db,
                &format!("SELECT tag FROM ticket_tags WHERE ticket_id = {t} AND tag = '{tag}'"),
            );
            if n.is_empty() || on.is_empty() {
                problems.push(format!("{agent}: tag {tag} on #{t} lost"));
            }
        }
        for (t, text) in &done.notes {
            let n = strings(
                &db,
                &format!(
                    "SELECT body_text FROM messages WHERE ticket_id = {t} AND body_text = '{text}'"
                ),
            );
            if n.len() != 1 {
                problems.push(format!("{agent}: note `{text}` on #{t}: {} found", n.len()));
            }
        }
        changes += done.tags.len() + done.notes.len() + done.latencies.len();
        replies += done.replies;
        all.extend(&done.latencies);
    }
    for e in &tui_errors {
        problems.push(format!("TUI: {e}"));
    }
    // Every message and text stored once.
    let ids = strings(
        &db,
        "SELECT message_id FROM messages WHERE direction = 'in' AND channel = 'email'",
    );
    let mut seen = HashSet::new();
    for i in &ids {
        if !seen.insert(i.clone()) {
            problems.push(format!("mail {i} stored twice"));
        }
    }
    for i in delivered.iter().chain(live.iter()) {
        if !seen.contains(i) {
            problems.push(format!("mail {i} lost"));
        }
    }
    let stored_texts = strings(
        &db,
        "SELECT provider_id FROM messages WHERE channel = 'sms' AND direction = 'in'",
    );
    let unique: HashSet<&String> = stored_texts.iter().collect();
    if unique.len() != stored_texts.len() || stored_texts.len() != *texts.lock().unwrap() {
        problems.push(format!(
            "texts: {} sent in, {} stored, {} distinct",
            texts.lock().unwrap(),
            stored_texts.len(),
            unique.len()
        ));
    }
    // Every reply sent once.
    let not_sent = strings(&db, "SELECT status FROM outbox WHERE status != 'sent'");
    if !not_sent.is_empty() {
        problems.push(format!("outbox: {not_sent:?} not sent"));
    }
    let spooled = m.spooled_ids();
    let unique: HashSet<&String> = spooled.iter().collect();
    if unique.len() != spooled.len() || spooled.len() != replies {
        problems.push(format!(
            "replies: {replies} queued, {} arrived, {} distinct",
            spooled.len(),
            unique.len()
        ));
    }
    all.sort();
    let pct = |p: f64| all[((all.len() as f64 * p) as usize).min(all.len() - 1)];
    println!(
        "soak {secs} s: {} agent writes ({changes} checked), {replies} replies, {} mails and {} texts arriving; \
         write latency median {:.0} ms, p99 {:.0} ms, max {:.0} ms; \"database is locked\": {}; problems: {}",
        all.len(),
        live.len(),
        texts.lock().unwrap(),
        pct(0.5).as_secs_f64() * 1000.0,
        pct(0.99).as_secs_f64() * 1000.0,
        all.last().unwrap().as_secs_f64() * 1000.0,
        problems.iter().filter(|p| p.contains("locked")).count(),
        problems.len()
    );
    assert!(problems.is_empty(), "{problems:#?}");
}
