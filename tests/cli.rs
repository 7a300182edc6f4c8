//! The command line, driven as a user would: on a demo store, with JSON
//! where scripts would read it and exit codes where they would branch.

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
            .args(["demo", "--build-only", "--tickets", "120", "--dir"])
            .arg(env.dir.path().join("demo"))
            .assert()
            .success();
        env
    }

    fn empty() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("e.db");
        Env { dir, db }
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

    fn fails(&self, args: &[&str], code: i32) -> String {
        let out = self.cmd().args(args).output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(code),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }
}

fn ids(v: &Value) -> Vec<i64> {
    v["tickets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_i64().unwrap())
        .collect()
}

#[test]
fn list_pages_through_every_ticket_once() {
    let env = Env::demo();
    let all = env.json(&["list", "--limit", "1000"]);
    let total = all["total"].as_i64().unwrap();
    assert_eq!(total, 120);
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let mut args = vec!["list", "--limit", "7"];
        if let Some(a) = &after {
            args.push("--after");
            args.push(a);
        }
        let page = env.json(&args);
        seen.extend(ids(&page));
        match page["next_cursor"].as_str() {
            Some(c) => after = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(
        seen,
        ids(&all),
        "keyset pages must add up to the whole list in order"
    );
}

#[test]
fn queries_filter_and_errors_point_at_the_column() {
    let env = Env::demo();
    let sms = env.json(&["list", "--query", "channel:sms", "--limit", "500"]);
    assert!(ids(&sms).len() > 5);
    for t in sms["tickets"].as_array().unwrap() {
        assert_eq!(t["channel"], "sms");
    }
    let open = env.json(&[
        "list",
        "--query",
        "is:open -state:new sort:id-asc",
        "--limit",
        "500",
    ]);
    let open_ids = ids(&open);
    assert!(open_ids.windows(2).all(|w| w[0] < w[1]));
    for t in open["tickets"].as_array().unwrap() {
        let s = t["state"].as_str().unwrap();
        assert!(["open", "pending", "on-hold"].contains(&s), "{s}");
    }
    // A domain is a domain: LIKE's wildcards in it are plain characters.
    let total = |q: &str| {
        env.json(&["list", "--query", q, "--all"])["total"]
            .as_i64()
            .unwrap()
    };
    assert!(total("from:@example.com") > 0);
    assert_eq!(total("from:@%"), 0);
    assert_eq!(total("from:@_xample.com"), 0);
    // Chinese inside an unspaced sentence.
    let zh = env.json(&["list", "--query", "退款"]);
    assert!(!ids(&zh).is_empty());
    let err = env.fails(&["list", "--query", "state:open colour:red"], 6);
    assert!(err.contains("column 12") && err.contains("colour"), "{err}");
    let err = env.fails(&["list", "--query", "state:limbo"], 6);
    assert!(err.contains("limbo") && err.contains("pending"), "{err}");
    // Hundreds of negations: a query error naming the limit, not SQLite's.
    let many: Vec<String> = (0..600).map(|i| format!("-word{i}")).collect();
    let err = env.fails(&["list", "--query", &many.join(" ")], 6);
    assert!(
        err.contains("at most 200") && !err.contains("Expression tree"),
        "{err}"
    );
}

#[test]
fn state_changes_follow_the_workflow() {
    let env = Env::demo();
    let t = ids(&env.json(&["list", "--query", "state:solved", "--limit", "1"]))[0];
    let id = t.to_string();
    let err = env.fails(&["state", &id, "pending"], 4);
    assert!(err.contains("allowed from `solved`: open, closed"), "{err}");
    let out = env.json(&["state", &id, "open"]);
    assert_eq!(out["changes"][0]["new"], "open");
    env.json(&["state", &id, "closed"]);
    let err = env.fails(&["state", &id, "open"], 4);
    assert!(err.contains("final state"), "{err}");
    let shown = env.json(&["show", &id]);
    let kinds: Vec<&str> = shown["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.iter().filter(|k| **k == "state").count() >= 2);
    assert!(env.fails(&["show", "999999"], 3).contains("#999999"));
}

#[test]
fn assign_tag_priority_and_note() {
    let env = Env::demo();
    let open = ids(&env.json(&["list", "--query", "is:open", "--limit", "2"]));
    let (a, b) = (open[0].to_string(), open[1].to_string());
    env.json(&["assign", &a, &b, "me"]);
    let mine = ids(&env.json(&["list", "--query", "assignee:me", "--limit", "500"]));
    assert!(mine.contains(&open[0]) && mine.contains(&open[1]));
    env.json(&["assign", &a, "none"]);
    assert!(
        !ids(&env.json(&["list", "--query", "assignee:me", "--limit", "500"])).contains(&open[0])
    );

    // Controls and invisible characters are refused at input, naming them.
    let err = env.fails(&["tag", &a, "+\x1b]0;pwned\x07vip"], 6);
    assert!(err.contains("U+001B") && !err.contains('\x1b'), "{err}");
    let err = env.fails(&["assign", &a, "ali\u{200B}ce"], 6);
    assert!(err.contains("U+200B"), "{err}");
    let out = env.json(&["tag", &a, "+outage", "+vip", "-vip"]);
    assert_eq!(
        out["tickets"][0]["tags"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| *t == "vip")
            .count(),
        0
    );
    assert!(ids(&env.json(&["list", "--query", "tag:outage"])).contains(&open[0]));
    assert!(
        !ids(&env.json(&["list", "--query", "-tag:outage", "--limit", "500"])).contains(&open[0])
    );

    env.json(&["priority", &a, "urgent"]);
    assert!(
        ids(&env.json(&["list", "--query", "priority:urgent", "--limit", "500"]))
            .contains(&open[0])
    );
    env.fails(&["priority", &a, "meh"], 6);

    env.cmd()
        .args(["note", &a, "--body-file", "-"])
        .write_stdin("Called the customer back.\n")
        .assert()
        .success();
    let shown = env.json(&["show", &a]);
    let last = shown["messages"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["direction"], "note");
    assert_eq!(last["author"], "tester");
    assert!(ids(&env.json(&["list", "--query", "\"called the customer\""])).contains(&open[0]));
}

#[test]
fn customers_show_and_merge() {
    let env = Env::demo();
    let c = env.json(&["customer", "show", "li.na@example.cn"]);
    let kinds: Vec<&str> = c["customer"]["identities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["kind"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"email") && kinds.contains(&"phone") && kinds.contains(&"fax"),
        "{kinds:?}"
    );
    // A phone number typed any way finds the same customer.
    let phone = c["customer"]["identities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["kind"] == "phone")
        .unwrap()["value"]
        .as_str()
        .unwrap()
        .to_string();
    let by_phone = env.json(&["customer", "show", &phone]);
    assert_eq!(by_phone["customer"]["id"], c["customer"]["id"]);

    let keep = c["customer"]["id"].as_i64().unwrap().to_string();
    let other = env.json(&["customer", "show", "alice.smith@example.com"]);
    let other_id = other["customer"]["id"].as_i64().unwrap().to_string();
    let other_tickets = other["tickets"].as_array().unwrap().len() as i64;
    let merged = env.json(&["customer", "merge", &keep, &other_id]);
    assert_eq!(merged["tickets_moved"].as_i64().unwrap(), other_tickets);
    let after = env.json(&["customer", "show", "alice.smith@example.com"]);
    assert_eq!(after["customer"]["id"].as_i64().unwrap().to_string(), keep);
    env.fails(&["customer", "show", &format!("#{other_id}")], 3);
}

#[test]
fn import_backup_and_views() {
    let env = Env::empty();
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/corpus");
    let r = env.json(&["import", corpus.to_str().unwrap()]);
    assert_eq!(r["seen"], 250);
    let again = env.json(&["import", corpus.to_str().unwrap()]);
    assert_eq!(again["duplicates"], 250);
    let views = env.json(&["views"]);
    assert!(views
        .as_array()
        .unwrap()
        .iter()
        .any(|v| v["name"] == "Open" && v["count"].as_i64().unwrap() > 100));
    let bak = env.dir.path().join("copy.db");
    env.cmd().args(["backup"]).arg(&bak).assert().success();
    assert!(bak.exists());
    env.fails(&["backup", bak.to_str().unwrap()], 6);
}

#[test]
fn config_errors_name_file_line_and_key() {
    let env = Env::empty();
    let cfg = env.dir.path().join("bad.toml");
    std::fs::write(
        &cfg,
        "default_region = \"DE\"\n[workflow]\ninital = \"new\"\n",
    )
    .unwrap();
    let err = env.fails(&["--config", cfg.to_str().unwrap(), "list"], 5);
    assert!(
        err.contains("bad.toml:3:") && err.contains("`inital`"),
        "{err}"
    );

    // init writes a template that then loads.
    let fresh = env.dir.path().join("cfg/echodesk/config.toml");
    env.cmd().arg("init").assert().success();
    assert!(fresh.exists());
    env.fails(&["init"], 1);
    env.cmd().args(["list"]).assert().success();
}

#[test]
fn output_never_carries_escape_sequences() {
    let env = Env::empty();
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/corpus");
    env.cmd()
        .args(["import", corpus.to_str().unwrap()])
        .assert()
        .success();
    let out = env.cmd().args(["list", "--limit", "500"]).output().unwrap();
    assert!(out.status.success());
    assert!(!out.stdout.contains(&0x1b), "ESC reached the table");
    let t = env.json(&["list", "--query", "blinking", "--limit", "1"]);
    let id = ids(&t)[0].to_string();
    let out = env.cmd().args(["show", &id]).output().unwrap();
    assert!(!out.stdout.contains(&0x1b), "ESC reached show");
    assert!(String::from_utf8_lossy(&out.stdout).contains("Blinking red"));

    // A canned answer rendered for a customer whose name carries OSC 52
    // (clipboard), OSC 0 (title) and CSI 2J.
    let mail = env.dir.path().join("osc.eml");
    std::fs::write(
        &mail,
        "From: =?UTF-8?B?RXZlG101MjtjO2FHaz0HIBtdMDtwd25lZAcbWzJKbA==?= <evil@example.net>\r\n\
         Subject: hello\r\nMessage-ID: <osc@x>\r\n\r\nhi\r\n",
    )
    .unwrap();
    env.json(&["import", mail.to_str().unwrap()]);
    let canned = env.dir.path().join("data/echodesk/canned");
    std::fs::create_dir_all(&canned).unwrap();
    std::fs::write(
        canned.join("hi.md"),
        "+++\ntitle = \"Hi\"\n+++\nHello {{ customer.name }}\n",
    )
    .unwrap();
    let t = env.json(&["list", "--query", "from:evil@example.net", "--limit", "1"]);
    let id = ids(&t)[0].to_string();
    let out = env
        .cmd()
        .args(["canned", "render", "hi", "--ticket", &id])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !out.stdout.contains(&0x1b) && !out.stdout.contains(&0x07),
        "{:?}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("Hello Eve"));
}

#[test]
fn completions_and_man_page() {
    let env = Env::empty();
    let out = env.cmd().args(["completions", "bash"]).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("echodesk"));
    let out = env.cmd().arg("man").output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains(".TH echodesk"));
}

#[test]
fn snooze_hides_from_open_views_and_merge_folds_tickets() {
    let env = Env::demo();
    let open = ids(&env.json(&["list", "--view", "open", "--limit", "3"]));
    let a = open[0].to_string();
    env.json(&["snooze", &a, "2d"]);
    assert!(!ids(&env.json(&["list", "--view", "open", "--limit", "500"])).contains(&open[0]));
    assert!(ids(&env.json(&["list", "--query", "is:snoozed"])).contains(&open[0]));
    env.json(&["snooze", &a, "none"]);
    assert!(ids(&env.json(&["list", "--view", "open", "--limit", "500"])).contains(&open[0]));
    env.fails(&["snooze", &a, "someday"], 6);

    let (b, c) = (open[1].to_string(), open[2].to_string());
    let count_b = env.json(&["show", &b])["messages"]
        .as_array()
        .unwrap()
        .len();
    let count_c = env.json(&["show", &c])["messages"]
        .as_array()
        .unwrap()
        .len();
    let out = env.json(&["merge", &b, &c]);
    assert_eq!(out["messages_moved"].as_u64().unwrap() as usize, count_c);
    assert_eq!(
        env.json(&["show", &b])["messages"]
            .as_array()
            .unwrap()
            .len(),
        count_b + count_c
    );
    let gone = env.json(&["show", &c]);
    assert_eq!(gone["state"], "closed");
    assert_eq!(gone["linked_ticket_id"].as_i64(), Some(open[1]));
}

/// An attachment named to run a command, opened with every quoting of
/// `{file}` a user might write: the viewer gets the path, the shell never
/// runs the name.
#[test]
fn a_hostile_attachment_name_runs_nothing_in_the_viewer() {
    let env = Env::empty();
    let mail = env.dir.path().join("m.eml");
    std::fs::write(
        &mail,
        "From: m@example.net\r\nSubject: scan\r\nMessage-ID: <pwn@x>\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n\
         --B\r\nContent-Type: application/pdf; name=\"a$(touch PWNED).pdf\"\r\n\
         Content-Disposition: attachment; filename=\"a$(touch PWNED)`touch PWNED2`.pdf\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--B--\r\n",
    )
    .unwrap();
    env.json(&["import", mail.to_str().unwrap()]);
    let cfg = env.dir.path().join("cfg/echodesk/config.toml");
    std::fs::create_dir_all(cfg.parent().unwrap()).unwrap();
    let work = env.dir.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    for viewer in [r#"echo "{file}""#, "echo '{file}'", "echo {file}", "echo"] {
        let toml = viewer.replace('\\', "\\\\").replace('"', "\\\"");
        std::fs::write(&cfg, format!("viewer = \"{toml}\"\n")).unwrap();
        let out = env
            .cmd()
            .current_dir(&work)
            .args(["attachment", "open", "1", "1"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{viewer}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let printed = String::from_utf8_lossy(&out.stdout);
        assert!(printed.contains("echodesk-view-"), "{viewer}: {printed}");
        for planted in ["PWNED", "PWNED2"] {
            assert!(
                !work.join(planted).exists(),
                "{viewer}: the name ran `touch {planted}`"
            );
        }
        // The private directory is the user's alone.
        let dir = std::path::Path::new(printed.trim())
            .parent()
            .unwrap()
            .to_path_buf();
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "{}", dir.display());
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// A reader that stops early (`| head -1`) ends every command quietly, as
/// it would any Unix tool: no panic, no "Broken pipe" message, never exit
/// 101; the network commands, which ignore SIGPIPE for their sockets, too.
#[test]
fn a_closed_pipe_ends_every_command_quietly() {
    let env = Env::demo();
    let body = env.dir.path().join("b.txt");
    std::fs::write(&body, "Thanks for writing.\n").unwrap();
    let out = env
        .cmd()
        .args(["bulk", "reply", "--query", "is:open", "--body-file"])
        .arg(&body)
        .arg("--yes")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bin = assert_cmd::cargo::cargo_bin("echodesk");
    for args in [
        "list --all",
        "outbox list",
        "--json outbox list",
        "show 1",
        "views",
        "outbox send",
    ] {
        // The reader is gone before the first line is written.
        let script = format!(
            "exec 3>&1; {{ sleep 0.3; \"$0\" {args} 2>&3; echo \"exit $?\" >&3; }} | true",
        );
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(&script)
            .arg(&bin)
            .env("HOME", env.dir.path())
            .env("XDG_CONFIG_HOME", env.dir.path().join("cfg"))
            .env("ECHODESK_DB", &env.db)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(!text.contains("panicked"), "{args}: {text}");
        assert!(!text.contains("Broken pipe"), "{args}: {text}");
        assert!(!text.contains("exit 101"), "{args}: {text}");
    }
}

/// `reply --keep-state` on a new ticket leaves it new: undoing the reply's
/// own move needs no workflow transition back (it failed with "cannot go
/// from `pending` to `new`" before).
#[test]
fn reply_keep_state_leaves_a_new_ticket_new() {
    let env = Env::demo();
    let id = env.json(&["list", "--query", "state:new channel:email", "-n", "1"])["tickets"][0]
        ["id"]
        .as_i64()
        .unwrap()
        .to_string();
    let body = env.dir.path().join("b.txt");
    std::fs::write(&body, "Looking into it.\n").unwrap();
    let out = env
        .cmd()
        .args(["reply", &id, "--keep-state", "--body-file"])
        .arg(&body)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(env.json(&["show", &id])["state"], "new");
}

/// The store and its index are not readable by other local users (0600);
/// `init --group` makes the database's directory a team's (setgid, 2770)
/// and the files created there are then 0660 for the group.
#[test]
fn store_files_are_private_and_init_group_sets_up_a_team_directory() {
    use std::os::unix::fs::MetadataExt;
    let env = Env::empty();
    env.cmd().args(["list"]).assert().success();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().mode() & 0o7777;
    let mut index = env.db.clone().into_os_string();
    index.push("-search");
    assert_eq!(mode(&env.db), 0o600);
    assert_eq!(mode(Path::new(&index)), 0o600);
    let mut wal = env.db.clone().into_os_string();
    wal.push("-wal");
    if Path::new(&wal).exists() {
        assert_eq!(mode(Path::new(&wal)), 0o600);
    }
    // A backup is as private as the store.
    let copy = env.dir.path().join("copy.db");
    env.cmd().args(["backup"]).arg(&copy).assert().success();
    assert_eq!(mode(&copy), 0o600);

    // A team: the database in its own directory, owned by a group.
    let gid = unsafe { libc::getgid() };
    let team_db = env.dir.path().join("team/echodesk.db");
    let out = env
        .cmd()
        .env("ECHODESK_DB", &team_db)
        .args(["init", "--group", &gid.to_string()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dir = team_db.parent().unwrap();
    assert_eq!(mode(dir), 0o2770);
    assert_eq!(std::fs::metadata(dir).unwrap().gid(), gid);
    env.cmd()
        .env("ECHODESK_DB", &team_db)
        .args(["list"])
        .assert()
        .success();
    assert_eq!(mode(&team_db), 0o660);
    let out = env
        .cmd()
        .env("ECHODESK_DB", &team_db)
        .args(["init", "--force", "--group", "no-such-group-here"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(6));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no such group"));
}

/// Emoji are words: a customer's 🫶🏽 or 🧉 finds their ticket, and an emoji
/// nobody sent finds nothing (it used to be dropped and match everything).
#[test]
fn emoji_are_searchable() {
    let env = Env::demo();
    let mail = env.dir.path().join("emoji.eml");
    std::fs::write(
        &mail,
        "From: e@example.net\r\nSubject: thanks\r\nMessage-ID: <emoji@x>\r\n\r\nall fixed \u{1FAF6}\u{1F3FD}, mate\u{1F9C9} is on me\r\n",
    )
    .unwrap();
    env.json(&["import", mail.to_str().unwrap()]);
    for q in [
        "\u{1FAF6}",
        "\u{1FAF6}\u{1F3FD}",
        "\u{1F9C9}",
        "mate \u{1F9C9}",
    ] {
        let v = env.json(&["list", "--query", q]);
        assert_eq!(v["total"], 1, "{q}: {v}");
        assert_eq!(v["tickets"][0]["subject"], "thanks", "{q}");
    }
    let v = env.json(&["list", "--query", "\u{1F642}"]);
    assert_eq!(v["total"], 0, "{v}");
}

/// A word with nothing to search for is a query error, not a silent match
/// of every ticket; a page size beyond the cap is refused (exit 6) instead
/// of a database error.
#[test]
fn empty_words_and_huge_pages_are_query_errors() {
    let env = Env::demo();
    for q in ["^", "refund ^", "\u{301}", "!!"] {
        let err = env.fails(&["list", "--query", q], 6);
        assert!(err.contains("no letters, digits or emoji"), "{q}: {err}");
    }
    let err = env.fails(&["list", "-n", "18446744073709551615"], 6);
    assert!(err.contains("at most 100000"), "{err}");
    assert!(!err.contains("datatype mismatch"), "{err}");
    env.json(&["list", "-n", "100000"]);
}

/// Processes that open a new database at the same moment (a daemon
/// starting while a script already asks `list`) all get it: switching a new
/// file to WAL takes a lock SQLite does not wait for, and the loser used to
/// fail with "database is locked" (about one round in thirty).
#[test]
fn processes_opening_a_new_database_at_once_all_succeed() {
    let env = Env::empty();
    for round in 0..60 {
        let db = env.dir.path().join(format!("race-{round}.db"));
        let children: Vec<_> = ["list", "status", "list", "views", "list", "status"]
            .iter()
            .map(|what| {
                let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_echodesk"));
                c.env("HOME", env.dir.path())
                    .env("XDG_CONFIG_HOME", env.dir.path().join("cfg"))
                    .env("XDG_DATA_HOME", env.dir.path().join("data"))
                    .arg("--db")
                    .arg(&db)
                    .arg(what)
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::piped());
                c.spawn().unwrap()
            })
            .collect();
        for child in children {
            let out = child.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "round {round}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}
