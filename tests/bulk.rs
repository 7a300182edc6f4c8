//! Bulk actions and proactive sends through the real binary, on a demo
//! store: the dry run, the real run, resuming, refusing, pipelines.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

struct Env {
    dir: tempfile::TempDir,
    db: PathBuf,
}

impl Env {
    fn demo() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("demo/demo.db");
        let env = Env { dir, db };
        env.cmd()
            .args(["demo", "--build-only", "--tickets", "300", "--dir"])
            .arg(env.dir.path().join("demo"))
            .assert()
            .success();
        let cfg = env.dir.path().join("cfg/echodesk");
        std::fs::create_dir_all(&cfg).unwrap();
        std::fs::write(
            cfg.join("config.toml"),
            format!(
                "canned_dir = \"{}\"\n",
                env.dir.path().join("demo/canned").display()
            ),
        )
        .unwrap();
        env
    }

    fn cmd(&self) -> Command {
        let mut c = Command::cargo_bin("echodesk").unwrap();
        c.env_clear()
            .env("HOME", self.dir.path())
            .env("XDG_CONFIG_HOME", self.dir.path().join("cfg"))
            .env("XDG_DATA_HOME", self.dir.path().join("data"))
            .env("USER", "tester")
            .env("ECHODESK_DB", &self.db);
        c
    }

    fn json(&self, args: &[&str]) -> Value {
        let out = self.cmd().arg("--json").args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// A command printing JSON lines.
    fn lines(&self, args: &[&str], stdin: &str) -> (Option<i32>, Vec<Value>, String) {
        let out = self
            .cmd()
            .arg("--json")
            .args(args)
            .write_stdin(stdin)
            .output()
            .unwrap();
        let v = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        (
            out.status.code(),
            v,
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

fn write(p: &Path, text: &str) -> String {
    std::fs::write(p, text).unwrap();
    p.to_str().unwrap().to_string()
}

#[test]
fn the_dry_run_prints_exactly_what_the_real_run_queues() {
    let env = Env::demo();
    let args = [
        "bulk",
        "reply",
        "--query",
        "outage is:open",
        "--canned",
        "outage-fixed",
        "--tag",
        "+announced",
    ];
    let (code, dry, err) = env.lines(&[&args[..], &["--dry-run"]].concat(), "");
    assert_eq!(code, Some(0), "{err}");
    assert!(dry.len() >= 3, "the demo has outage tickets: {dry:?}");
    assert!(env
        .json(&["outbox", "list", "--all"])
        .as_array()
        .unwrap()
        .is_empty());

    let (code, done, err) = env.lines(&[&args[..], &["--yes", "--job", "outage"]].concat(), "");
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(done.len(), dry.len());
    let outbox = env.json(&["outbox", "list", "--all"]);
    assert_eq!(outbox.as_array().unwrap().len(), dry.len());
    for planned in &dry {
        let id = planned["ticket"].as_i64().unwrap();
        let t = env.json(&["show", &id.to_string()]);
        let last = t["messages"].as_array().unwrap().last().unwrap().clone();
        assert_eq!(last["direction"], "out");
        // Word for word what the dry run printed, rendered for this customer.
        assert_eq!(last["body_text"], planned["text"], "#{id}");
        assert!(planned["text"].as_str().unwrap().starts_with("Hello "));
        // The canned answer's own state, and the tag from the command line.
        assert_eq!(t["state"], "solved", "#{id}");
        let tags: Vec<&str> = t["tags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert!(tags.contains(&"announced"), "#{id}: {tags:?}");
        let entry = outbox
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["ticket_id"] == id)
            .unwrap();
        assert_eq!(entry["recipient"], planned["recipient"]);
        assert_eq!(entry["channel"], planned["channel"]);
    }
    // Running the finished job again does nothing.
    let out = env
        .cmd()
        .args(&args[..])
        .args(["--yes", "--job", "outage"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("nothing left"));
    assert_eq!(
        env.json(&["outbox", "list", "--all"])
            .as_array()
            .unwrap()
            .len(),
        dry.len()
    );
    let jobs = env.json(&["bulk", "jobs"]);
    assert_eq!(jobs[0]["id"], "outage");
    assert_eq!(jobs[0]["done"], dry.len() as i64);
    assert!(jobs[0]["finished_at"].is_i64());
}

#[test]
fn without_yes_and_a_terminal_it_refuses_and_changes_nothing() {
    let env = Env::demo();
    let before = env.json(&["list", "--query", "is:open"])["total"].clone();
    // In a new session there is no controlling terminal to ask on, even
    // when the tests run from one.
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_echodesk"));
    cmd.env("XDG_CONFIG_HOME", env.dir.path().join("cfg"))
        .env("ECHODESK_DB", &env.db)
        .args(["bulk", "state", "--query", "is:open", "solved"]);
    // SAFETY: setsid() is async-signal-safe and touches no memory.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut cmd, || {
            libc::setsid();
            Ok(())
        });
    }
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(9));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--yes"));
    assert_eq!(env.json(&["list", "--query", "is:open"])["total"], before);
    assert!(env.json(&["bulk", "jobs"]).as_array().unwrap().is_empty());
}

#[test]
fn ids_from_a_pipeline_and_per_ticket_failures() {
    let env = Env::demo();
    let sms = env
        .cmd()
        .args(["list", "--query", "channel:sms is:open", "--all", "--ids"])
        .output()
        .unwrap();
    let ids = String::from_utf8_lossy(&sms.stdout).into_owned();
    let n = ids.lines().count();
    assert!(n > 0);
    let (code, steps, err) = env.lines(&["bulk", "assign", "--ids", "-", "bob", "--yes"], &ids);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(steps.len(), n);
    let bobs = env.json(&[
        "list",
        "--query",
        "channel:sms is:open assignee:bob",
        "--all",
    ]);
    assert_eq!(bobs["total"], n as i64);

    // `list --json` output works as input too.
    let solved = env
        .cmd()
        .args(["--json", "list", "--query", "state:solved", "--all"])
        .output()
        .unwrap();
    let solved_json = String::from_utf8_lossy(&solved.stdout).into_owned();
    let total = serde_json::from_str::<Value>(&solved_json).unwrap()["total"]
        .as_i64()
        .unwrap();
    assert!(total > 0);
    // solved → pending is not allowed: every target fails, with the reason,
    // and the command says so in its exit code.
    let (code, steps, _) = env.lines(
        &[
            "bulk", "state", "--ids", "-", "pending", "--yes", "--job", "bad",
        ],
        &solved_json,
    );
    assert_eq!(code, Some(1));
    assert!(steps.iter().all(|s| s["status"] == "failed"), "{steps:?}");
    assert!(
        steps[0]["error"].as_str().unwrap().contains("open"),
        "{steps:?}"
    );
    let job = env.json(&["bulk", "job", "bad"]);
    assert_eq!(job["job"]["failed"], total);
    assert_eq!(
        env.json(&["list", "--query", "state:solved"])["total"],
        total
    );
}

#[test]
fn send_opens_one_outbound_ticket_per_customer() {
    let env = Env::demo();
    let body = write(
        &env.path("notice.txt"),
        "Dear {{ customer.first_name }}, maintenance on Sunday 02:00-04:00.\n",
    );
    let (code, dry, err) = env.lines(
        &[
            "send",
            "--customers",
            "outage",
            "--body-file",
            &body,
            "--subject",
            "Planned maintenance",
            "--dry-run",
        ],
        "",
    );
    assert_eq!(code, Some(0), "{err}");
    let customers: std::collections::HashSet<i64> =
        dry.iter().map(|s| s["target"].as_i64().unwrap()).collect();
    assert_eq!(customers.len(), dry.len(), "one message per customer");
    let (code, done, err) = env.lines(
        &[
            "send",
            "--customers",
            "outage",
            "--body-file",
            &body,
            "--subject",
            "Planned maintenance",
            "--yes",
        ],
        "",
    );
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(done.len(), dry.len());
    for (d, p) in done.iter().zip(&dry) {
        let t = env.json(&["show", &d["ticket"].as_i64().unwrap().to_string()]);
        assert_eq!(t["subject"], "Planned maintenance");
        assert_eq!(t["customer_id"], d["target"]);
        assert_eq!(t["state"], "pending");
        let msgs = t["messages"].as_array().unwrap();
        assert_eq!(msgs.len(), 1);
        assert_eq!(msgs[0]["body_text"], p["text"]);
        assert!(p["text"].as_str().unwrap().starts_with("Dear "));
    }
}

/// A job killed midway resumes with the canned answer as it read when the
/// job was created, even after the file is edited and renamed; the dry run
/// shows the reply's own move to `pending` as well as the tags.
#[test]
fn a_resumed_job_keeps_its_text_and_the_dry_run_shows_every_change() {
    let env = Env::demo();
    let cfg = env.dir.path().join("cfg/echodesk/config.toml");
    let mut text = std::fs::read_to_string(&cfg).unwrap();
    text.push_str("[bulk]\nchunk = 1\n");
    std::fs::write(&cfg, text).unwrap();
    let canned = env.dir.path().join("demo/canned");
    std::fs::write(
        canned.join("notice.md"),
        "+++\ntitle = \"Notice\"\n+++\nVersion one for {{ customer.first_name }}.\n",
    )
    .unwrap();
    let news: Vec<i64> = env.json(&["list", "--query", "state:new", "--all"])["tickets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_i64().unwrap())
        .collect();
    assert!(!news.is_empty(), "the demo has new tickets");

    let args = [
        "bulk", "reply", "--query", "is:open", "--canned", "notice", "--tag", "+told",
    ];
    let (code, dry, err) = env.lines(&[&args[..], &["--dry-run"]].concat(), "");
    assert_eq!(code, Some(0), "{err}");
    for step in &dry {
        let id = step["ticket"].as_i64().unwrap();
        let change = step["change"].as_str().unwrap_or("");
        assert!(change.contains("+told"), "#{id}: {change}");
        if news.contains(&id) {
            assert!(change.contains("new → pending"), "#{id}: {change}");
        }
    }

    let db = env.db.clone();
    let mut job = std::process::Command::new(env!("CARGO_BIN_EXE_echodesk"))
        .env("HOME", env.dir.path())
        .env("XDG_CONFIG_HOME", env.dir.path().join("cfg"))
        .env("USER", "tester")
        .env("ECHODESK_DB", &db)
        .args(args)
        .args(["--job", "notice", "--yes"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .unwrap();
    let done = || -> i64 {
        conn.query_row(
            "SELECT count(*) FROM job_items WHERE job_id = 'notice' AND status = 'done'",
            [],
            |r| r.get(0),
        )
        .unwrap_or(0)
    };
    // Hold the write lock in turns with the job; kill it between commits.
    let until = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        conn.execute_batch("BEGIN IMMEDIATE").unwrap();
        if done() >= 3 || std::time::Instant::now() > until {
            break;
        }
        conn.execute_batch("ROLLBACK").unwrap();
        std::thread::sleep(std::time::Duration::from_millis(30));
    }
    job.kill().unwrap();
    job.wait().unwrap();
    conn.execute_batch("ROLLBACK").unwrap();
    let at_kill = done();
    assert!(at_kill >= 1 && (at_kill as usize) < dry.len(), "{at_kill}");

    // The answer changes and moves away before the resume.
    std::fs::write(
        canned.join("notice.md"),
        "+++\ntitle = \"Notice\"\n+++\nVersion two.\n",
    )
    .unwrap();
    std::fs::rename(canned.join("notice.md"), canned.join("notice-old.md")).unwrap();
    let out = env
        .cmd()
        .args(["bulk", "reply", "--job", "notice", "--yes"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let outbox = env.json(&["outbox", "list", "--all"]);
    assert_eq!(outbox.as_array().unwrap().len(), dry.len());
    for step in &dry {
        let id = step["ticket"].as_i64().unwrap();
        let t = env.json(&["show", &id.to_string()]);
        let last = t["messages"].as_array().unwrap().last().unwrap().clone();
        assert_eq!(last["body_text"], step["text"], "#{id}");
        assert!(
            last["body_text"]
                .as_str()
                .unwrap()
                .starts_with("Version one for"),
            "#{id}: {last}"
        );
    }
}

/// `--agent` names who acts, also beside a positional agent: a bulk
/// assignment to bob by lead is logged as lead's.
#[test]
fn the_actor_of_a_bulk_assignment_is_the_agent_flag_not_the_assignee() {
    let env = Env::demo();
    let (code, _, err) = env.lines(
        &[
            "--agent", "lead", "bulk", "assign", "--ids", "-", "bob", "--yes",
        ],
        "3\n",
    );
    assert_eq!(code, Some(0), "{err}");
    let conn = rusqlite::Connection::open(&env.db).unwrap();
    let (agent, new): (String, String) = conn
        .query_row(
            "SELECT agent, new FROM events WHERE ticket_id = 3 AND kind = 'assignee'
             ORDER BY id DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((agent.as_str(), new.as_str()), ("lead", "bob"));
}
