//! Crash trials: each command that writes the store or sends is killed with
//! SIGKILL at a random moment, then run again to the end, and the
//! invariants are checked from the store and from the servers' own records
//! (the SMTP server's spool, the Twilio fake's message list, Dovecot's
//! mailbox, smstools' directories):
//!
//! - no inbound message lost: every server-side message is in the store
//!   exactly once after the next run;
//! - no reply sent twice, none silently dropped: each is `sent`, or
//!   `unknown` and counted in `status` and `outbox list`; a crash leaves at
//!   most one unknown entry per SMTP session in flight;
//! - `PRAGMA integrity_check` passes and the search index has a document
//!   for exactly the store's tickets.
//!
//! `CRASH_TRIALS` sets the trials per command (10 by default, as CI runs
//! it; `scripts/crash-trials` runs 100 and prints the table for
//! docs/reliability.md). `CRASH_SEED` repeats a run.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

mod common;
use common::{mail, run, Mail, Reaped, Twilio};

const BIN: &str = env!("CARGO_BIN_EXE_echodesk");

/// A small deterministic generator (xorshift64*): the trials' kill times.
struct Rng(u64);

impl Rng {
    fn new() -> Rng {
        let seed = std::env::var("CRASH_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(1, |d| d.as_nanos() as u64)
            })
            | 1;
        eprintln!("crash trials: CRASH_SEED={seed}");
        Rng(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A duration uniform in [0, max).
    fn upto(&mut self, max: Duration) -> Duration {
        let ns = max.as_nanos().max(1) as u64;
        Duration::from_nanos(self.next() % ns)
    }
}

fn trials() -> usize {
    std::env::var("CRASH_TRIALS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10)
}

/// What one command's trials found.
#[derive(Default)]
struct Tally {
    trials: usize,
    /// Kills that landed while the command was still running.
    mid_run: usize,
    lost: usize,
    duplicated: usize,
    resent: usize,
    unknown_total: usize,
    unknown_max: usize,
    broken_store: usize,
    index_disagrees: usize,
    median_run: Duration,
}

impl Tally {
    fn clean(&self) -> bool {
        self.lost + self.duplicated + self.resent + self.broken_store + self.index_disagrees == 0
    }

    fn print(&self, name: &str) {
        println!(
            "| {name} | {} | {} | {} | {} | {} | {} ({} max per crash) | {} | {} | {:.2} s |",
            self.trials,
            self.mid_run,
            self.lost,
            self.duplicated,
            self.resent,
            self.unknown_total,
            self.unknown_max,
            self.broken_store,
            self.index_disagrees,
            self.median_run.as_secs_f64()
        );
    }
}

fn echodesk(cfg: &Path, db: &Path) -> Command {
    let mut c = Command::new(BIN);
    c.arg("--config")
        .arg(cfg)
        .arg("--db")
        .arg(db)
        .env("ECHODESK_TEST_PW", "secret")
        .env("TWILIO_TOKEN", "secret-token")
        .stdin(Stdio::null());
    c
}

fn ok(cfg: &Path, db: &Path, args: &[&str]) -> Value {
    let (code, v, err) = run(cfg, db, args);
    assert!(code == Some(0), "{args:?} exited {code:?}: {err}");
    v
}

/// Starts `args`, kills it with SIGKILL after `after`; whether it was still
/// running then.
fn kill_after(cmd: &mut Command, after: Duration) -> bool {
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let until = Instant::now() + after;
    loop {
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        let now = Instant::now();
        if now >= until {
            break;
        }
        std::thread::sleep((until - now).min(Duration::from_millis(2)));
    }
    let running = child.try_wait().unwrap().is_none();
    child.kill().unwrap();
    child.wait().unwrap();
    running
}

/// How long a command takes unkilled (the window the kills fall in).
fn timed(cmd: &mut Command) -> Duration {
    let t = Instant::now();
    let st = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success(), "calibration run failed");
    t.elapsed()
}

/// Copies a store and its search index file.
fn copy_store(from: &Path, to: &Path) {
    for suffix in ["", "-search"] {
        let mut src = from.as_os_str().to_owned();
        src.push(suffix);
        let mut dest = to.as_os_str().to_owned();
        dest.push(suffix);
        std::fs::copy(&src, &dest).unwrap();
    }
}

/// Runs `echodesk daemon` while `feed(n)` is called `rounds` times, `gap`
/// apart, and kills it at a random moment in [0.2, 2) s. Returns whether
/// the kill landed while it was still running.
fn daemon_killed_while(
    cfg: &Path,
    db: &Path,
    rng: &mut Rng,
    rounds: usize,
    gap: Duration,
    mut feed: impl FnMut(usize),
) -> bool {
    let mut child = Reaped(
        echodesk(cfg, db)
            .args(["daemon", "--log", "-"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let kill_at = Duration::from_millis(200) + rng.upto(Duration::from_millis(1800));
    let start = Instant::now();
    let mut mid_run = None;
    for n in 0..rounds {
        feed(n);
        std::thread::sleep(gap);
        if mid_run.is_none() && start.elapsed() >= kill_at {
            mid_run = Some(child.0.try_wait().unwrap().is_none());
            child.stop();
        }
    }
    child.stop();
    mid_run.unwrap_or(true)
}

fn conn(db: &Path) -> rusqlite::Connection {
    let c = rusqlite::Connection::open(db).unwrap();
    c.busy_timeout(Duration::from_secs(30)).unwrap();
    c
}

/// The store is sound and its search index covers exactly its tickets.
/// (Opening the store through the CLI first lets it catch up on queued
/// index documents, as any next command would.)
fn check_store(cfg: &Path, db: &Path, t: &mut Tally) {
    ok(cfg, db, &["list", "-n", "1"]);
    let c = conn(db);
    let integrity: String = c
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    if integrity != "ok" {
        eprintln!("integrity_check: {integrity}");
        t.broken_store += 1;
    }
    let mut index = PathBuf::from(db.as_os_str());
    index.as_mut_os_string().push("-search");
    c.execute("ATTACH DATABASE ? AS s", [index.to_str().unwrap()])
        .unwrap();
    let missing: i64 = c
        .query_row(
            "SELECT (SELECT count(*) FROM tickets t WHERE NOT EXISTS (
                 SELECT 1 FROM s.search_docs d WHERE d.ticket_id = t.id AND d.present = 1))
             + (SELECT count(*) FROM s.search_docs d WHERE d.present = 1 AND NOT EXISTS (
                 SELECT 1 FROM tickets t WHERE t.id = d.ticket_id))
             + (SELECT count(*) FROM search_queue WHERE seq NOT IN (SELECT seq FROM s.search_done))",
            [],
            |r| r.get(0),
        )
        .unwrap();
    if missing != 0 {
        eprintln!("search index: {missing} tickets without a document, documents without a ticket, or documents not written");
        t.index_disagrees += 1;
    }
}

/// Counts each key's occurrences against what must be there once each.
fn compare(expected: &HashSet<String>, found: &[String], t: &mut Tally) {
    let mut n: HashMap<&str, usize> = HashMap::new();
    for f in found {
        *n.entry(f.as_str()).or_default() += 1;
    }
    for e in expected {
        match n.get(e.as_str()).copied().unwrap_or(0) {
            0 => t.lost += 1,
            1 => {}
            _ => t.duplicated += 1,
        }
    }
}

fn strings(db: &Path, sql: &str) -> Vec<String> {
    let c = conn(db);
    let mut st = c.prepare(sql).unwrap();
    st.query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

/// `n` messages from `n / 3` customers, some of them replies, as files.
fn write_mails(dir: &Path, tag: &str, n: usize) -> HashSet<String> {
    std::fs::create_dir_all(dir).unwrap();
    let mut ids = HashSet::new();
    for i in 0..n {
        let id = format!("{tag}.{i}@example.net");
        let extra = if i % 4 == 3 {
            format!("In-Reply-To: <{tag}.{}@example.net>\r\n", i - 1)
        } else {
            String::new()
        };
        let from = format!("Customer {} <c{}@example.net>", i / 3, i / 3);
        std::fs::write(
            dir.join(format!("{i}.eml")),
            mail(&id, &from, &format!("Question {i}"), &extra),
        )
        .unwrap();
        ids.insert(id);
    }
    ids
}

// ----- the trials -------------------------------------------------------------

/// One command: `prepare` makes a trial's starting state and returns the
/// command to kill; `finish` runs what a user would next and checks.
fn trial_loop(
    name: &str,
    rng: &mut Rng,
    results: &mut BTreeMap<String, Tally>,
    mut prepare: impl FnMut(usize) -> Command,
    mut finish: impl FnMut(usize, &mut Tally),
) {
    let mut t = Tally::default();
    // Calibrate the window on an unkilled run (trial 0's state).
    let mut cal = prepare(usize::MAX);
    let full = timed(&mut cal);
    let window = full.mul_f64(1.3).max(Duration::from_millis(20));
    for i in 0..trials() {
        let mut cmd = prepare(i);
        let at = rng.upto(window);
        if kill_after(&mut cmd, at) {
            t.mid_run += 1;
        }
        finish(i, &mut t);
        t.trials += 1;
    }
    t.median_run = full;
    results.insert(name.to_string(), t);
}

/// Trials of `poll` on a source whose messages stay put: a fresh store
/// each time, killed, polled again; `sql` lists what was stored, to be
/// `expected` exactly once each.
fn poll_trials(
    name: &str,
    rng: &mut Rng,
    results: &mut BTreeMap<String, Tally>,
    cfg: &Path,
    db: &dyn Fn(usize) -> PathBuf,
    sql: &str,
    expected: &HashSet<String>,
) {
    trial_loop(
        name,
        rng,
        results,
        |i| {
            let mut c = echodesk(cfg, &db(i));
            c.arg("poll");
            c
        },
        |i, t| {
            ok(cfg, &db(i), &["poll"]);
            let found = strings(&db(i), sql);
            compare(expected, &found, t);
            check_store(cfg, &db(i), t);
        },
    );
}

#[test]
fn kill_nine_at_random_moments_loses_and_repeats_nothing() {
    let mut rng = Rng::new();
    let mut results: BTreeMap<String, Tally> = BTreeMap::new();
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let m = Mail::up();

    // import of a Maildir-like directory of 300 messages.
    {
        let files = w.join("import-mail");
        let ids = write_mails(&files, "imp", 300);
        let cfg = w.join("empty.toml");
        std::fs::write(&cfg, "").unwrap();
        let db = |i: usize| w.join(format!("import-{i}.db"));
        trial_loop(
            "import of 300 messages",
            &mut rng,
            &mut results,
            |i| {
                let mut c = echodesk(&cfg, &db(i));
                c.arg("import").arg(&files);
                c
            },
            |i, t| {
                ok(&cfg, &db(i), &["import", files.to_str().unwrap()]);
                let found = strings(
                    &db(i),
                    "SELECT message_id FROM messages WHERE direction = 'in'",
                );
                compare(&ids, &found, t);
                check_store(&cfg, &db(i), t);
            },
        );
    }

    // poll of IMAP: 200 messages in the mailbox, a fresh store each trial.
    {
        let user = "customer@example.test";
        let dir = w.join("imap-mail");
        let ids = write_mails(&dir, "imap", 200);
        for (n, e) in std::fs::read_dir(&dir).unwrap().flatten().enumerate() {
            m.deliver(
                user,
                &format!("{n}.imap"),
                &std::fs::read_to_string(e.path()).unwrap(),
            );
        }
        let cfg = m.config(user, "");
        poll_trials(
            "poll of IMAP, 200 messages",
            &mut rng,
            &mut results,
            &cfg,
            &|i| w.join(format!("imap-{i}.db")),
            "SELECT message_id FROM messages WHERE direction = 'in'",
            &ids,
        );
    }

    // poll of a Twilio gateway with 200 texts.
    {
        let fake = Twilio::start();
        let now = chrono::Utc::now().timestamp();
        let items: Vec<Value> = (0..200)
            .map(|i| {
                json!({"from": format!("+1415555{:04}", i % 50), "to": "+15005550006",
                       "body": format!("text {i}"), "date_sent": now - 3600 + i})
            })
            .collect();
        let added = fake.control("POST", "/_fake/inbound", &Value::Array(items));
        let listed: HashSet<String> = added["sids"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|s| s.as_str().map(str::to_string))
            .collect();
        assert_eq!(listed.len(), 200);
        let cfg = w.join("twilio.toml");
        std::fs::write(
            &cfg,
            format!(
                "[[sms]]\nname = \"twilio\"\nkind = \"twilio\"\nnumber = \"+15005550006\"\n\
                 account_sid = \"AC00000000000000000000000000000001\"\ntoken_env = \"TWILIO_TOKEN\"\n\
                 base_url = \"http://127.0.0.1:{}\"\ntimeout = 10\n",
                fake.port
            ),
        )
        .unwrap();
        poll_trials(
            "poll of Twilio, 200 texts",
            &mut rng,
            &mut results,
            &cfg,
            &|i| w.join(format!("twilio-{i}.db")),
            "SELECT provider_id FROM messages WHERE direction = 'in'",
            &listed,
        );
    }

    // poll of an smstools spool with 200 files.
    {
        let spool = |i: usize| w.join(format!("spool-{i}"));
        let cfg_for = |i: usize| {
            let p = w.join(format!("smstools-{i}.toml"));
            std::fs::write(
                &p,
                format!(
                    "[[sms]]\nname = \"modem\"\nkind = \"smstools\"\nnumber = \"+4915100000000\"\nspool = \"{}\"\n",
                    spool(i).display()
                ),
            )
            .unwrap();
            p
        };
        let fill = |i: usize| {
            let s = spool(i);
            let _ = std::fs::remove_dir_all(&s);
            echodesk::channel::sms::smstools::make_spool(&s).unwrap();
            for n in 0..200 {
                std::fs::write(
                    s.join(format!("incoming/GSM1.t{n}")),
                    format!(
                        "From: 4915112{:06}\nReceived: 26-11-23 10:{:02}:{:02}\nAlphabet: ISO\n\ntext number {n}\n",
                        n % 40,
                        n / 60,
                        n % 60
                    ),
                )
                .unwrap();
            }
        };
        let db = |i: usize| w.join(format!("smstools-{i}.db"));
        let expected: HashSet<String> = (0..200).map(|n| format!("text number {n}")).collect();
        trial_loop(
            "poll of an smstools spool, 200 files",
            &mut rng,
            &mut results,
            |i| {
                fill(i);
                let mut c = echodesk(&cfg_for(i), &db(i));
                c.arg("poll");
                c
            },
            |i, t| {
                ok(&cfg_for(i), &db(i), &["poll"]);
                let found: Vec<String> = strings(
                    &db(i),
                    "SELECT trim(body_text) FROM messages WHERE direction = 'in'",
                );
                compare(&expected, &found, t);
                let left = std::fs::read_dir(spool(i).join("incoming"))
                    .unwrap()
                    .count();
                if left != 0 {
                    eprintln!("smstools: {left} files left in incoming/");
                    t.lost += left;
                }
                check_store(&cfg_for(i), &db(i), t);
            },
        );
    }

    // daemon while mail arrives: 40 messages delivered during the run.
    {
        let user = "fax@example.test";
        let cfg = m.config(user, "");
        let db = |i: usize| w.join(format!("daemon-{i}.db"));
        let mut t = Tally::default();
        let mut mid = 0;
        for i in 0..trials() {
            let mut ids = HashSet::new();
            let landed =
                daemon_killed_while(&cfg, &db(i), &mut rng, 40, Duration::from_millis(50), |n| {
                    let id = format!("dmn.{i}.{n}@example.net");
                    m.deliver(
                        user,
                        &format!("d{i}-{n}"),
                        &mail(&id, &format!("Customer <d{n}@example.net>"), "Daemon", ""),
                    );
                    ids.insert(id);
                });
            mid += usize::from(landed);
            ok(&cfg, &db(i), &["poll"]);
            let found = strings(
                &db(i),
                "SELECT message_id FROM messages WHERE direction = 'in'",
            );
            // Earlier trials' mail is in the same mailbox: only this one's counts.
            let mine: Vec<String> = found
                .into_iter()
                .filter(|f| f.starts_with(&format!("dmn.{i}.")))
                .collect();
            compare(&ids, &mine, &mut t);
            check_store(&cfg, &db(i), &mut t);
            t.trials += 1;
        }
        t.mid_run = mid;
        // Mail arrives for 2 s; the kill falls in [0.2, 2) s.
        t.median_run = Duration::from_secs(2);
        results.insert("daemon while 40 messages arrive".into(), t);
    }

    // The daemon on an SMS gateway: texts arrive while queued replies go
    // out, one at a time, and the daemon is killed at a random moment.
    {
        let twilio_cfg = |port: u16| -> PathBuf {
            let cfg = w.join(format!("sms-daemon-{port}.toml"));
            std::fs::write(
                &cfg,
                format!(
                    "[[sms]]\nname = \"twilio\"\nkind = \"twilio\"\nnumber = \"+15005550006\"\n\
                     account_sid = \"AC00000000000000000000000000000001\"\ntoken_env = \"TWILIO_TOKEN\"\n\
                     base_url = \"http://127.0.0.1:{port}\"\ntimeout = 10\npoll_interval = 1\n\
                     [daemon]\noutbox_interval = 1\n"
                ),
            )
            .unwrap();
            cfg
        };
        let now = chrono::Utc::now().timestamp();
        let text = |from: usize, body: String, at: i64| json!({"from": format!("+1415666{from:04}"), "to": "+15005550006", "body": body, "date_sent": at});
        // A store with 30 SMS tickets and a reply queued on each.
        let base = w.join("sms-daemon-base.db");
        {
            let fake = Twilio::start();
            let items: Vec<Value> = (0..30)
                .map(|i| text(i, format!("question {i}"), now - 7200 + i as i64))
                .collect();
            fake.control("POST", "/_fake/inbound", &Value::Array(items));
            let cfg = twilio_cfg(fake.port);
            ok(&cfg, &base, &["poll"]);
            let body = w.join("sms-answer.txt");
            std::fs::write(&body, "Answer to ticket {{ ticket.id }}\n").unwrap();
            ok(
                &cfg,
                &base,
                &[
                    "bulk",
                    "reply",
                    "--query",
                    "channel:sms",
                    "--body-file",
                    body.to_str().unwrap(),
                    "--yes",
                ],
            );
        }
        let replies = strings(&base, "SELECT CAST(id AS TEXT) FROM outbox").len();
        assert_eq!(replies, 30);
        let db = |i: usize| w.join(format!("sms-daemon-{i}.db"));
        let mut t = Tally::default();
        let mut mid = 0;
        for i in 0..trials() {
            // A fresh gateway each trial: its lists hold only this trial's
            // texts, and what this trial's daemon sent.
            let fake = Twilio::start();
            let cfg = twilio_cfg(fake.port);
            let d = db(i);
            copy_store(&base, &d);
            let mut sids = HashSet::new();
            let landed =
                daemon_killed_while(&cfg, &d, &mut rng, 20, Duration::from_millis(100), |n| {
                    let added = fake.control(
                        "POST",
                        "/_fake/inbound",
                        &json!([text(100 + n, format!("trial {i} text {n}"), now - 60)]),
                    );
                    for s in added["sids"].as_array().into_iter().flatten() {
                        sids.insert(s.as_str().unwrap_or_default().to_string());
                    }
                });
            mid += usize::from(landed);
            // What a person runs next: a poll and a send, then (below)
            // `outbox resolve` for what the kill left unknown.
            ok(&cfg, &d, &["poll"]);
            let (code, _, err) = run(&cfg, &d, &["outbox", "send"]);
            assert!(
                matches!(code, Some(0) | Some(10)),
                "outbox send exited {code:?}: {err}"
            );
            let found = strings(
                &d,
                "SELECT provider_id FROM messages WHERE direction = 'in' AND provider_id LIKE 'SM%'",
            );
            let mine: Vec<String> = found.into_iter().filter(|f| sids.contains(f)).collect();
            compare(&sids, &mine, &mut t);
            // Texts go one at a time: a kill leaves at most one unknown.
            let unknown = strings(
                &d,
                "SELECT CAST(id AS TEXT) FROM outbox WHERE status = 'unknown'",
            )
            .len();
            t.unknown_total += unknown;
            t.unknown_max = t.unknown_max.max(unknown);
            if unknown > 1 {
                eprintln!("{unknown} unknown after one crash, with one text in flight");
                t.lost += unknown - 1;
            }
            // The gateway's own list settles them: sent, or safe to send.
            let (code, _, err) = run(&cfg, &d, &["outbox", "resolve"]);
            assert!(
                matches!(code, Some(0) | Some(10)),
                "outbox resolve exited {code:?}: {err}"
            );
            let (code, _, err) = run(&cfg, &d, &["outbox", "send"]);
            assert!(
                matches!(code, Some(0) | Some(10)),
                "outbox send exited {code:?}: {err}"
            );
            let still = strings(
                &d,
                "SELECT CAST(id AS TEXT) FROM outbox WHERE status = 'unknown'",
            );
            if !still.is_empty() {
                eprintln!("{} unknown after outbox resolve", still.len());
                t.lost += still.len();
            }
            let sent = fake.control("GET", "/_fake/sent", &Value::Null);
            let listed: Vec<String> = sent
                .as_array()
                .into_iter()
                .flatten()
                .map(|m| {
                    format!(
                        "{} {}",
                        m["to"].as_str().unwrap_or_default(),
                        m["body"].as_str().unwrap_or_default().trim_end()
                    )
                })
                .collect();
            let mut seen = HashSet::new();
            for key in &listed {
                if !seen.insert(key) {
                    t.resent += 1;
                }
            }
            // Every entry marked sent is in the gateway's list; nothing else
            // is left undone.
            let marked = strings(
                &d,
                "SELECT o.recipient || ' ' || m.body_text FROM outbox o JOIN messages m ON m.id = o.message_id WHERE o.status = 'sent'",
            );
            for s in &marked {
                if !seen.contains(&s.trim_end().to_string()) {
                    t.lost += 1;
                }
            }
            let other = strings(
                &d,
                "SELECT CAST(id AS TEXT) FROM outbox WHERE status NOT IN ('sent', 'unknown')",
            );
            t.lost += other.len();
            check_store(&cfg, &d, &mut t);
            t.trials += 1;
        }
        t.mid_run = mid;
        // Texts arrive for 2 s; the kill falls in [0.2, 2) s.
        t.median_run = Duration::from_secs(2);
        results.insert("daemon on SMS: 20 texts in, 30 replies out".into(), t);
    }

    // bulk reply of 500 tickets, and outbox send of the 500 replies.
    {
        let user = "support@example.test";
        let cfg = m.config(user, "[bulk]\nchunk = 25\n");
        let files = w.join("bulk-mail");
        write_mails(&files, "blk", 750);
        let base = w.join("bulk-base.db");
        ok(&cfg, &base, &["import", files.to_str().unwrap()]);
        let targets: Vec<i64> = strings(
            &base,
            "SELECT CAST(id AS TEXT) FROM tickets ORDER BY id LIMIT 500",
        )
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
        let ids_file = w.join("targets.txt");
        std::fs::write(
            &ids_file,
            targets.iter().map(|t| format!("{t}\n")).collect::<String>(),
        )
        .unwrap();
        let body = w.join("answer.txt");
        std::fs::write(&body, "Hello {{ customer.first_name }}, it is fixed.\n").unwrap();
        let copy = |to: &Path| copy_store(&base, to);
        let db = |i: usize| w.join(format!("bulk-{i}.db"));
        let reply_args = |ids: &Path, body: &Path| -> Vec<String> {
            vec![
                "bulk".into(),
                "reply".into(),
                "--ids".into(),
                ids.display().to_string(),
                "--body-file".into(),
                body.display().to_string(),
                "--job".into(),
                "trial".into(),
                "--yes".into(),
            ]
        };
        trial_loop(
            "bulk reply to 500 tickets",
            &mut rng,
            &mut results,
            |i| {
                let d = db(i);
                let _ = std::fs::remove_file(&d);
                copy(&d);
                let mut c = echodesk(&cfg, &d);
                c.args(reply_args(&ids_file, &body));
                c
            },
            |i, t| {
                let d = db(i);
                // The same command again: it resumes the job, or starts it
                // if the kill came before the job was recorded.
                let again = reply_args(&ids_file, &body);
                ok(
                    &cfg,
                    &d,
                    &again.iter().map(String::as_str).collect::<Vec<_>>(),
                );
                let expected: HashSet<String> = targets.iter().map(|t| t.to_string()).collect();
                let found = strings(&d, "SELECT CAST(ticket_id AS TEXT) FROM outbox");
                compare(&expected, &found, t);
                let outbound = strings(
                    &d,
                    "SELECT CAST(ticket_id AS TEXT) FROM messages WHERE direction = 'out'",
                );
                compare(&expected, &outbound, t);
                check_store(&cfg, &d, t);
            },
        );

        // A store with the 500 replies queued.
        let queued = w.join("queued.db");
        copy(&queued);
        ok(
            &cfg,
            &queued,
            &reply_args(&ids_file, &body)
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
        );
        let copy_queued = |to: &Path| copy_store(&queued, to);
        let db = |i: usize| w.join(format!("send-{i}.db"));
        trial_loop(
            "outbox send of 500 replies",
            &mut rng,
            &mut results,
            |i| {
                let d = db(i);
                let _ = std::fs::remove_file(&d);
                copy_queued(&d);
                m.clear_spool();
                let mut c = echodesk(&cfg, &d);
                c.args(["outbox", "send"]);
                c
            },
            |i, t| {
                let d = db(i);
                let sending = strings(
                    &d,
                    "SELECT CAST(id AS TEXT) FROM outbox WHERE status = 'sending'",
                )
                .len();
                // The next sender marks the stranded ones unknown and sends the rest.
                let (code, rep, err) = run(&cfg, &d, &["outbox", "send"]);
                assert!(
                    matches!(code, Some(0) | Some(10)),
                    "outbox send exited {code:?}: {err}"
                );
                assert_eq!(
                    rep["recovered_unknown"].as_u64(),
                    Some(sending as u64),
                    "{rep}"
                );
                let unknown = strings(
                    &d,
                    "SELECT CAST(id AS TEXT) FROM outbox WHERE status = 'unknown'",
                )
                .len();
                t.unknown_total += unknown;
                t.unknown_max = t.unknown_max.max(unknown);
                if unknown > 4 {
                    eprintln!("{unknown} unknown after one crash, with 4 sessions");
                    t.lost += unknown - 4;
                }
                // Visible where a person looks.
                let st = ok(&cfg, &d, &["status"]);
                if st["outbox"]["unknown"].as_u64().unwrap_or(0) < unknown as u64 {
                    t.lost += 1;
                }
                let spooled = m.spooled_ids();
                let mut seen = HashSet::new();
                for s in &spooled {
                    if !seen.insert(s) {
                        t.resent += 1;
                    }
                }
                // Every entry marked sent arrived; none is silently dropped.
                let sent = strings(
                    &d,
                    "SELECT m.message_id FROM outbox o JOIN messages m ON m.id = o.message_id WHERE o.status = 'sent'",
                );
                for s in &sent {
                    if !seen.contains(s) {
                        t.lost += 1;
                    }
                }
                let other = strings(
                    &d,
                    "SELECT CAST(id AS TEXT) FROM outbox WHERE status NOT IN ('sent', 'unknown')",
                );
                t.lost += other.len();
                check_store(&cfg, &d, t);
            },
        );
    }

    // customer merge and ticket merge while a poll runs.
    {
        let user = "support@example.test";
        let cfg = m.config(user, "");
        let files = w.join("merge-mail");
        write_mails(&files, "mrg", 120);
        let base = w.join("merge-base.db");
        ok(&cfg, &base, &["import", files.to_str().unwrap()]);
        let db = |i: usize| w.join(format!("merge-{i}.db"));
        let mut t = Tally::default();
        let mut cal = Vec::new();
        for i in 0..trials() {
            let d = db(i);
            copy_store(&base, &d);
            let before: i64 = conn(&d)
                .query_row("SELECT count(*) FROM messages", [], |r| r.get(0))
                .unwrap();
            let mut poll = echodesk(&cfg, &d)
                .arg("poll")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            let start = Instant::now();
            let mut a = echodesk(&cfg, &d);
            a.args([
                "customer",
                "merge",
                &format!("{}", 2 + i % 5),
                &format!("{}", 8 + i % 5),
            ]);
            if kill_after(&mut a, rng.upto(Duration::from_millis(40))) {
                t.mid_run += 1;
            }
            let mut b = echodesk(&cfg, &d);
            b.args([
                "merge",
                &format!("{}", 20 + i),
                &format!("{}", 30 + i),
                &format!("{}", 31 + i),
            ]);
            let (into, others) = (20 + i as i64, [30 + i as i64, 31 + i as i64]);
            let in_three = |d: &Path| -> i64 {
                conn(d)
                    .query_row(
                        "SELECT count(*) FROM messages WHERE ticket_id IN (?, ?, ?)",
                        [into, others[0], others[1]],
                        |r| r.get(0),
                    )
                    .unwrap()
            };
            let three_before = in_three(&d);
            if kill_after(&mut b, rng.upto(Duration::from_millis(40))) {
                t.mid_run += 1;
            }
            cal.push(start.elapsed());
            let polled = poll.wait().unwrap();
            assert!(polled.success());
            // The ticket merge happened whole or not at all.
            let linked: i64 = conn(&d)
                .query_row(
                    "SELECT count(*) FROM tickets WHERE id IN (?, ?) AND linked_ticket_id = ?",
                    [others[0], others[1], into],
                    |r| r.get(0),
                )
                .unwrap();
            let moved: i64 = conn(&d)
                .query_row(
                    "SELECT count(*) FROM messages WHERE ticket_id IN (?, ?)",
                    [others[0], others[1]],
                    |r| r.get(0),
                )
                .unwrap();
            if !(linked == 0 || (linked == 2 && moved == 0)) {
                eprintln!("merge half done: {linked} linked, {moved} messages left behind");
                t.lost += 1;
            }
            // (A poll may thread new mail into them: never fewer.)
            let three_after = in_three(&d);
            if three_after < three_before {
                t.lost += (three_before - three_after) as usize;
            }
            let after: i64 = conn(&d)
                .query_row("SELECT count(*) FROM messages", [], |r| r.get(0))
                .unwrap();
            let in_mailbox = strings(&d, "SELECT message_id FROM messages WHERE message_id NOT LIKE 'mrg.%' AND direction = 'in'").len() as i64;
            if after != before + in_mailbox {
                eprintln!("merge: {before} + {in_mailbox} polled, {after} after");
                t.lost += 1;
            }
            let orphans: i64 = conn(&d)
                .query_row(
                    "SELECT count(*) FROM messages m WHERE NOT EXISTS (SELECT 1 FROM tickets t WHERE t.id = m.ticket_id)",
                    [],
                    |r| r.get(0),
                )
                .unwrap();
            t.lost += orphans as usize;
            check_store(&cfg, &d, &mut t);
            t.trials += 1;
        }
        t.median_run = median(cal);
        results.insert("customer merge and merge during a poll".into(), t);
    }

    // A maintenance-reminder schedule's run over 400 machine owners,
    // killed and run again: every owner gets one reminder.
    {
        let canned = w.join("care-canned");
        std::fs::create_dir_all(&canned).unwrap();
        std::fs::write(
            canned.join("reminder.md"),
            "+++\ntitle = \"Service due\"\n+++\nHello {{ customer.first_name }}, your {{ asset.model }} is due.\n",
        )
        .unwrap();
        let cfg = m.config(
            "support@example.test",
            &format!(
                "canned_dir = \"{}\"\n[bulk]\nchunk = 20\n\
                 [[schedule]]\nname = \"care\"\nevery = \"daily\"\nat = \"08:00\"\n\
                 who = \"asset.model:Milker\"\ncanned = \"reminder\"\nchannel = \"email\"\n\
                 once = [\"customer\", \"asset\", \"month\"]\n",
                canned.display()
            ),
        );
        // `canned_dir` must come before the tables.
        let text = std::fs::read_to_string(&cfg).unwrap();
        let (top, tables): (Vec<&str>, Vec<&str>) =
            text.lines().partition(|l| l.starts_with("canned_dir"));
        std::fs::write(&cfg, format!("{}\n{}\n", top.join("\n"), tables.join("\n"))).unwrap();
        let base = w.join("care-base.db");
        let mut customers = String::from("id,name,email\n");
        let mut assets = String::from("serial,model,customer\n");
        for i in 0..400 {
            customers.push_str(&format!("C{i},Owner {i},owner{i}@farm.example\n"));
            assets.push_str(&format!("M-{i},Milker,C{i}\n"));
        }
        let (cf, af) = (w.join("care-c.csv"), w.join("care-a.csv"));
        std::fs::write(&cf, customers).unwrap();
        std::fs::write(&af, assets).unwrap();
        ok(&cfg, &base, &["customer", "import", cf.to_str().unwrap()]);
        ok(&cfg, &base, &["asset", "import", af.to_str().unwrap()]);
        let expected: HashSet<String> = strings(&base, "SELECT CAST(id AS TEXT) FROM customers")
            .into_iter()
            .collect();
        let db = |i: usize| w.join(format!("care-{i}.db"));
        let args = ["schedule", "run", "care", "--now", "2026-12-02 09:00"];
        trial_loop(
            "schedule run: reminders to 400 machine owners",
            &mut rng,
            &mut results,
            |i| {
                let d = db(i);
                let _ = std::fs::remove_file(&d);
                copy_store(&base, &d);
                let mut c = echodesk(&cfg, &d);
                c.args(args);
                c
            },
            |i, t| {
                let d = db(i);
                ok(&cfg, &d, &args);
                // And once more: the slot is done, the keys are kept.
                ok(
                    &cfg,
                    &d,
                    &["schedule", "run", "care", "--now", "2026-12-03 09:00"],
                );
                let found = strings(
                    &d,
                    "SELECT CAST(t.customer_id AS TEXT) FROM outbox o JOIN tickets t ON t.id = o.ticket_id",
                );
                compare(&expected, &found, t);
                let keys = strings(&d, "SELECT CAST(customer_id AS TEXT) FROM care_sent");
                compare(&expected, &keys, t);
                check_store(&cfg, &d, t);
            },
        );
    }

    println!();
    println!(
        "| command | trials | killed mid-run | lost | duplicated | re-sent | unknown left | store broken | index disagrees | unkilled run |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for (name, t) in &results {
        t.print(name);
    }
    let bad: Vec<&String> = results
        .iter()
        .filter(|(_, t)| !t.clean() || t.unknown_max > 4)
        .map(|(n, _)| n)
        .collect();
    assert!(bad.is_empty(), "invariants broken in: {bad:?}");
}

/// `followers notify` over one outside follower on each of a store's
/// changed tickets, killed at a random moment and run again: each
/// follower is told once (an update and its mark are one transaction),
/// and a third run finds nothing new.
#[test]
fn followers_notify_killed_tells_each_follower_once() {
    let mut rng = Rng::new();
    let mut results: BTreeMap<String, Tally> = BTreeMap::new();
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let m = Mail::up();
    let cfg = m.config("support@example.test", "");
    let base = w.join("follow-base.db");
    let files = w.join("follow-mail");
    write_mails(&files, "fol", 160);
    ok(&cfg, &base, &["import", files.to_str().unwrap()]);
    let ids = strings(&base, "SELECT CAST(id AS TEXT) FROM tickets ORDER BY id");
    assert!(ids.len() > 100, "{} tickets", ids.len());
    for id in &ids {
        ok(&cfg, &base, &["follow", id, &format!("f{id}@dept.example")]);
    }
    let mut assign = vec!["assign"];
    assign.extend(ids.iter().map(String::as_str));
    assign.push("bob");
    ok(&cfg, &base, &assign);
    let expected: HashSet<String> = ids.iter().map(|i| format!("f{i}@dept.example")).collect();
    let db = |i: usize| w.join(format!("follow-{i}.db"));
    let name = format!("followers notify: {} outside followers", ids.len());
    trial_loop(
        &name,
        &mut rng,
        &mut results,
        |i| {
            let d = db(i);
            let _ = std::fs::remove_file(&d);
            copy_store(&base, &d);
            let mut c = echodesk(&cfg, &d);
            c.args(["followers", "notify"]);
            c
        },
        |i, t| {
            let d = db(i);
            ok(&cfg, &d, &["followers", "notify"]);
            let again = ok(&cfg, &d, &["followers", "notify"]);
            if again["told"].as_array().is_some_and(|a| !a.is_empty()) {
                t.duplicated += 1;
            }
            compare(&expected, &strings(&d, "SELECT recipient FROM outbox"), t);
            check_store(&cfg, &d, t);
        },
    );
    for (name, t) in &results {
        t.print(name);
    }
    let bad: Vec<&String> = results
        .iter()
        .filter(|(_, t)| !t.clean())
        .map(|(n, _)| n)
        .collect();
    assert!(bad.is_empty(), "invariants broken in: {bad:?}");
}
