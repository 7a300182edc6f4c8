//! SLA policies through the real binary: deadlines from the first fitting
//! policy, `is:breached` and `sla:<DUR>` in queries, recomputed on a
//! priority change, met by a reply.

use std::path::PathBuf;

use assert_cmd::Command;
use serde_json::Value;

struct Env {
    dir: tempfile::TempDir,
    db: PathBuf,
    cfg: PathBuf,
}

impl Env {
    fn new() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("s.db");
        let cfg = dir.path().join("config.toml");
        std::fs::write(
            &cfg,
            "[[sla]]\nname = \"urgent\"\npriorities = [\"urgent\"]\nfirst_response = \"1h\"\nresolution = \"4h\"\n\
             [[sla]]\nname = \"standard\"\nfirst_response = \"1d\"\nresolution = \"30d\"\n",
        )
        .unwrap();
        Env { dir, db, cfg }
    }

    fn json(&self, args: &[&str]) -> Value {
        let out = Command::cargo_bin("echodesk")
            .unwrap()
            .env_clear()
            .env("USER", "tester")
            .arg("--config")
            .arg(&self.cfg)
            .arg("--db")
            .arg(&self.db)
            .arg("--json")
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
    }

    fn ids(&self, query: &str) -> Vec<i64> {
        let mut ids: Vec<i64> = self.json(&["list", "--query", query, "--all"])["tickets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["id"].as_i64().unwrap())
            .collect();
        ids.sort();
        ids
    }
}

fn mail(dir: &std::path::Path, name: &str, from: &str, subject: &str, ago_minutes: i64) {
    let date = (chrono::Utc::now() - chrono::Duration::minutes(ago_minutes)).to_rfc2822();
    std::fs::write(
        dir.join(format!("{name}.eml")),
        format!(
            "From: {from}\r\nTo: support@example.test\r\nSubject: {subject}\r\nDate: {date}\r\n\
             Message-ID: <{name}@example.net>\r\n\r\nHelp.\r\n"
        ),
    )
    .unwrap();
}

#[test]
fn deadlines_breaches_and_near_breaches() {
    let env = Env::new();
    let inbox = env.dir.path().join("in");
    std::fs::create_dir_all(&inbox).unwrap();
    mail(
        &inbox,
        "a",
        "ann@example.net",
        "Old and unanswered",
        48 * 60,
    );
    mail(&inbox, "b", "bob@example.net", "Came in an hour ago", 60);
    mail(&inbox, "c", "cat@example.net", "Half an hour ago", 30);
    env.json(&["import", inbox.to_str().unwrap()]);
    let id = |s: &str| -> i64 {
        env.json(&["list", "--query", &format!("\"{s}\"")])["tickets"][0]["id"]
            .as_i64()
            .unwrap()
    };
    let (a, b, c) = (
        id("Old and unanswered"),
        id("Came in an hour ago"),
        id("Half an hour ago"),
    );

    // The standard policy: first response within a day.
    let ta = env.json(&["show", &a.to_string()]);
    let created = ta["created_at"].as_i64().unwrap();
    assert_eq!(ta["first_response_due"].as_i64(), Some(created + 86_400));
    assert_eq!(ta["resolution_due"].as_i64(), Some(created + 30 * 86_400));
    assert_eq!(env.ids("is:breached"), vec![a]);
    assert_eq!(env.ids("-is:breached"), {
        let mut v = vec![b, c];
        v.sort();
        v
    });
    // Nothing is due within two hours yet; b and c within a day.
    assert!(env.ids("sla:<2h").is_empty());
    assert_eq!(env.ids("sla:<1d"), {
        let mut v = vec![b, c];
        v.sort();
        v
    });

    // Urgent: c's first response is now due an hour after it came in.
    env.json(&["priority", &c.to_string(), "urgent"]);
    let tc = env.json(&["show", &c.to_string()]);
    assert_eq!(
        tc["first_response_due"].as_i64(),
        Some(tc["created_at"].as_i64().unwrap() + 3600)
    );
    assert_eq!(env.ids("sla:<2h"), vec![c]);
    assert_eq!(env.ids("sla:>2h"), vec![b]);

    // A reply meets b's first-response target: its next deadline is the
    // resolution, a month out.
    let body = env.dir.path().join("r.txt");
    std::fs::write(&body, "On it.\n").unwrap();
    env.json(&[
        "reply",
        &b.to_string(),
        "--body-file",
        body.to_str().unwrap(),
    ]);
    assert!(!env.ids("sla:<1d").contains(&b));
    assert!(env.ids("sla:>7d").contains(&b));
    // Answering late still counts as a breach.
    env.json(&[
        "reply",
        &a.to_string(),
        "--body-file",
        body.to_str().unwrap(),
    ]);
    assert_eq!(env.ids("is:breached"), vec![a]);
}

#[test]
fn a_bad_policy_is_a_config_error() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.toml");
    std::fs::write(&cfg, "[[sla]]\nname = \"x\"\nfirst_response = \"soon\"\n").unwrap();
    let out = Command::cargo_bin("echodesk")
        .unwrap()
        .arg("--config")
        .arg(&cfg)
        .arg("--db")
        .arg(dir.path().join("d.db"))
        .arg("list")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(5));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("sla `x`") && err.contains("soon"), "{err}");
}
