//! The IMAP channel against a real Dovecot started by tests/harness/mail-up,
//! driven through the real binary (`echodesk poll`, `list`, `show`).

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

struct Mail {
    dir: tempfile::TempDir,
    env: HashMap<String, String>,
}

impl Mail {
    fn up() -> Mail {
        let dir = tempfile::tempdir().unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/harness/mail-up");
        let out = Command::new(script).arg(dir.path()).output().unwrap();
        assert!(
            out.status.success(),
            "mail-up failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let env = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Mail { dir, env }
    }

    fn get(&self, k: &str) -> &str {
        &self.env[k]
    }

    fn maildir(&self, user: &str) -> PathBuf {
        let (local, domain) = user.split_once('@').unwrap();
        Path::new(self.get("MAILDIR_ROOT"))
            .join(domain)
            .join(local)
            .join("Maildir")
    }

    /// Delivers a message the way an MTA would: into new/, owned by the
    /// mail user.
    fn deliver(&self, user: &str, name: &str, raw: &str) {
        let md = self.maildir(user);
        let meta = std::fs::metadata(&md).unwrap();
        let tmp = md.join("tmp").join(name);
        std::fs::write(&tmp, raw).unwrap();
        std::os::unix::fs::chown(&tmp, Some(meta.uid()), Some(meta.gid())).unwrap();
        std::fs::rename(&tmp, md.join("new").join(name)).unwrap();
    }

    fn stop_dovecot(&self) {
        let st = Command::new("/usr/sbin/dovecot")
            .args(["-c", self.get("DOVECOT_CONF"), "stop"])
            .status()
            .unwrap();
        assert!(st.success());
        std::thread::sleep(std::time::Duration::from_millis(500));
    }

    fn start_dovecot(&self) {
        let st = Command::new("/usr/sbin/dovecot")
            .args(["-c", self.get("DOVECOT_CONF")])
            .status()
            .unwrap();
        assert!(st.success());
        let port = self.get("IMAPS_PORT").to_string();
        for _ in 0..100 {
            if std::net::TcpStream::connect(format!("127.0.0.1:{port}")).is_ok() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("dovecot did not come back");
    }

    /// A config with IMAP (implicit TLS) and SMTP (STARTTLS) on this server.
    fn config_with_smtp(&self) -> PathBuf {
        self.config_with_smtp_and("", "")
    }

    /// The same, with extra `[accounts.imap]` keys and extra tables after.
    fn config_with_smtp_and(&self, imap_extra: &str, tables: &str) -> PathBuf {
        let p = self.config("implicit", imap_extra);
        let mut text = std::fs::read_to_string(&p).unwrap();
        text.push_str(&format!(
            "[accounts.smtp]\nhost = \"127.0.0.1\"\nport = {}\ntls = \"starttls\"\nca_file = \"{}\"\ntimeout = 10\n",
            self.get("SMTP_PORT"),
            self.get("CA_CERT")
        ));
        text.push_str(tables);
        let p = self.dir.path().join("config-smtp.toml");
        std::fs::write(&p, text).unwrap();
        p
    }

    fn spooled(&self) -> Vec<String> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(self.get("SMTP_SPOOL"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "eml"))
            .collect();
        names.sort();
        names
            .iter()
            .map(|p| std::fs::read_to_string(p).unwrap())
            .collect()
    }

    /// A config with one account on this server.
    fn config(&self, tls: &str, extra: &str) -> PathBuf {
        let port = match tls {
            "implicit" => self.get("IMAPS_PORT"),
            _ => self.get("IMAP_PORT"),
        };
        let text = format!(
            "[[accounts]]\nname = \"support\"\naddress = \"support@example.test\"\n\
             [accounts.imap]\nhost = \"127.0.0.1\"\nport = {port}\ntls = \"{tls}\"\n\
             user = \"support@example.test\"\npassword_env = \"ECHODESK_TEST_PW\"\n\
             ca_file = \"{}\"\n{extra}",
            self.get("CA_CERT")
        );
        let p = self.dir.path().join(format!("config-{tls}.toml"));
        std::fs::write(&p, text).unwrap();
        p
    }
}

impl Drop for Mail {
    fn drop(&mut self) {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/harness/mail-down");
        let _ = Command::new(script).arg(self.dir.path()).status();
    }
}

fn echodesk(config: &Path, db: &Path, args: &[&str]) -> (bool, Value, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_echodesk"))
        .arg("--config")
        .arg(config)
        .arg("--db")
        .arg(db)
        .arg("--json")
        .args(args)
        .env("ECHODESK_TEST_PW", "secret")
        .output()
        .unwrap();
    let v = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (
        out.status.success(),
        v,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn mail(id: &str, subject: &str, extra: &str, body: &str) -> String {
    format!(
        "From: Carol Customer <carol@example.net>\r\nTo: support@example.test\r\nSubject: {subject}\r\n\
         Date: Mon, 23 Nov 2026 10:00:00 +0000\r\nMessage-ID: <{id}>\r\n{extra}\r\n{body}\r\n"
    )
}

fn mailbox_total(v: &Value) -> (u64, u64, u64) {
    let m = &v[0]["mailboxes"][0];
    (
        m["fetched"].as_u64().unwrap(),
        m["created"].as_u64().unwrap(),
        m["threaded"].as_u64().unwrap(),
    )
}

#[test]
fn new_mail_becomes_a_ticket_and_the_reply_threads() {
    let m = Mail::up();
    let cfg = m.config("implicit", "post_action = \"seen\"\n");
    let db = m.dir.path().join("e.db");
    m.deliver(
        "support@example.test",
        "1.a",
        &mail(
            "q1@example.net",
            "Parcel missing",
            "",
            "Where is my parcel?",
        ),
    );
    let (ok, v, err) = echodesk(&cfg, &db, &["poll"]);
    assert!(ok, "{err}");
    assert_eq!(mailbox_total(&v), (1, 1, 0));
    // Seen only after the commit: the file now carries the S flag.
    let cur: Vec<String> = std::fs::read_dir(m.maildir("support@example.test").join("cur"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(cur.iter().any(|n| n.ends_with(",S")), "{cur:?}");

    m.deliver(
        "support@example.test",
        "2.b",
        &mail(
            "q2@example.net",
            "Re: Parcel missing",
            "In-Reply-To: <q1@example.net>\r\nReferences: <q1@example.net>\r\n",
            "Any news?",
        ),
    );
    let (ok, v, _) = echodesk(&cfg, &db, &["poll"]);
    assert!(ok);
    assert_eq!(mailbox_total(&v), (1, 0, 1));
    let (_, list, _) = echodesk(&cfg, &db, &["list"]);
    assert_eq!(list["total"], 1);
    assert_eq!(list["tickets"][0]["message_count"], 2);

    // A restart (new process) resumes: nothing again, nothing twice.
    let (ok, v, _) = echodesk(&cfg, &db, &["poll"]);
    assert!(ok);
    assert_eq!(mailbox_total(&v), (0, 0, 0));
    for i in 3..6 {
        m.deliver(
            "support@example.test",
            &format!("{i}.c"),
            &mail(
                &format!("q{i}@example.net"),
                &format!("Question {i}"),
                "",
                "hi",
            ),
        );
    }
    let (_, v, _) = echodesk(&cfg, &db, &["poll"]);
    assert_eq!(mailbox_total(&v), (3, 3, 0));
    let (_, st, _) = echodesk(&cfg, &db, &["status"]);
    assert_eq!(st["mailboxes"][0]["status"]["fetched_total"], 5);
}

#[test]
fn starttls_and_loopback_plaintext_work_and_bad_login_is_reported() {
    let m = Mail::up();
    let db = m.dir.path().join("e.db");
    m.deliver(
        "support@example.test",
        "1.a",
        &mail("s1@example.net", "Hello", "", "body"),
    );
    let (ok, v, err) = echodesk(&m.config("starttls", ""), &db, &["poll"]);
    assert!(ok, "{err}");
    assert_eq!(mailbox_total(&v).0, 1);
    let (ok, v, err) = echodesk(&m.config("none", ""), &db, &["poll"]);
    assert!(ok, "{err}");
    assert_eq!(mailbox_total(&v).0, 0, "same account, same cursor");

    let bad = m.dir.path().join("bad.toml");
    let text = std::fs::read_to_string(m.config("implicit", ""))
        .unwrap()
        .replace("ECHODESK_TEST_PW", "ECHODESK_TEST_WRONG");
    std::fs::write(&bad, text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_echodesk"))
        .args([
            "--config",
            bad.to_str().unwrap(),
            "--db",
            db.to_str().unwrap(),
            "poll",
        ])
        .env("ECHODESK_TEST_WRONG", "not-the-password")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("account `support`: login"), "{err}");
    // A sentence with the server's words, not Rust's debug form.
    assert!(
        err.contains("the server said NO: [AUTHENTICATIONFAILED]"),
        "{err}"
    );
    assert!(
        !err.contains("Some(") && !err.contains("code: None"),
        "{err}"
    );
    assert!(
        !err.contains("not-the-password"),
        "the password leaked: {err}"
    );
    let (_, st, _) = echodesk(&bad, &db, &["status"]);
    assert!(
        st["mailboxes"][0]["status"]["last_error"]
            .as_str()
            .unwrap()
            .contains("login"),
        "{st}"
    );
}

#[test]
fn uidvalidity_change_rescans_without_duplicates() {
    let m = Mail::up();
    let cfg = m.config("implicit", "");
    let db = m.dir.path().join("e.db");
    for i in 0..4 {
        m.deliver(
            "support@example.test",
            &format!("{i}.u"),
            &mail(&format!("u{i}@example.net"), &format!("U{i}"), "", "x"),
        );
    }
    let (_, v, _) = echodesk(&cfg, &db, &["poll"]);
    assert_eq!(mailbox_total(&v), (4, 4, 0));
    // Forget the UID list and the index: Dovecot numbers the mailbox afresh
    // under a new UIDVALIDITY.
    m.stop_dovecot();
    for e in std::fs::read_dir(m.maildir("support@example.test")).unwrap() {
        let p = e.unwrap().path();
        if p.file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("dovecot")
            && p.is_file()
        {
            std::fs::remove_file(p).unwrap();
        }
    }
    std::thread::sleep(std::time::Duration::from_millis(1100));
    m.start_dovecot();
    m.deliver(
        "support@example.test",
        "9.u",
        &mail("u9@example.net", "U9", "", "new one"),
    );
    let (ok, v, err) = echodesk(&cfg, &db, &["poll"]);
    assert!(ok, "{err}");
    let mb = &v[0]["mailboxes"][0];
    assert_eq!(mb["rescanned"], true, "{v}");
    assert_eq!(mb["duplicates"], 4);
    assert_eq!(mb["created"], 1);
    let (_, list, _) = echodesk(&cfg, &db, &["list"]);
    assert_eq!(list["total"], 5);
}

/// Messages in a Maildir folder's cur/ and new/.
fn maildir_count(dir: &Path) -> usize {
    ["cur", "new"]
        .iter()
        .filter_map(|d| std::fs::read_dir(dir.join(d)).ok())
        .map(|r| r.count())
        .sum()
}

#[test]
fn a_post_action_the_server_refused_is_sent_on_the_next_poll() {
    let m = Mail::up();
    // A folder that does not exist yet: Dovecot refuses the MOVE after
    // the messages are already stored.
    let cfg = m.config(
        "implicit",
        "post_action = \"move\"\nmove_to = \"Handled\"\nbatch = 2\n",
    );
    let db = m.dir.path().join("e.db");
    for i in 0..5 {
        m.deliver(
            "support@example.test",
            &format!("{i}.p"),
            &mail(&format!("p{i}@example.net"), &format!("P{i}"), "", "x"),
        );
    }
    let (ok, _, err) = echodesk(&cfg, &db, &["poll"]);
    assert!(!ok, "the MOVE should have been refused");
    assert!(err.contains("move"), "{err}");
    let inbox = m.maildir("support@example.test");
    assert_eq!(maildir_count(&inbox), 5, "nothing moved yet");
    // What was stored before the refusal stays stored.
    let (_, list, _) = echodesk(&cfg, &db, &["list"]);
    let stored = list["total"].as_u64().unwrap();
    assert!(stored >= 2, "{list}");
    // The folder appears; the next poll owes the server the MOVE of what
    // it stored, and then takes the rest.
    let handled = inbox.join(".Handled");
    let meta = std::fs::metadata(&inbox).unwrap();
    for d in ["", "cur", "new", "tmp"] {
        let p = handled.join(d);
        std::fs::create_dir_all(&p).unwrap();
        std::os::unix::fs::chown(&p, Some(meta.uid()), Some(meta.gid())).unwrap();
    }
    let (ok, v, err) = echodesk(&cfg, &db, &["poll"]);
    assert!(ok, "{err}");
    let (fetched, created, _) = mailbox_total(&v);
    assert_eq!(fetched, 5 - stored, "{v}");
    assert_eq!(created, 5 - stored, "{v}");
    assert_eq!(maildir_count(&inbox), 0, "all moved");
    assert_eq!(maildir_count(&handled), 5);
    let (_, list, _) = echodesk(&cfg, &db, &["list"]);
    assert_eq!(list["total"], 5);
    // And nothing more is owed.
    let (ok, v, _) = echodesk(&cfg, &db, &["poll"]);
    assert!(ok);
    assert_eq!(mailbox_total(&v), (0, 0, 0));
}

#[test]
fn server_down_is_an_error_and_nothing_is_lost_after_restart() {
    let m = Mail::up();
    let cfg = m.config("implicit", "timeout = 5\n");
    let db = m.dir.path().join("e.db");
    m.deliver(
        "support@example.test",
        "1.d",
        &mail("d1@example.net", "D1", "", "x"),
    );
    let (_, v, _) = echodesk(&cfg, &db, &["poll"]);
    assert_eq!(mailbox_total(&v).0, 1);
    m.stop_dovecot();
    m.deliver(
        "support@example.test",
        "2.d",
        &mail("d2@example.net", "D2", "", "x"),
    );
    let (ok, _, err) = echodesk(&cfg, &db, &["poll"]);
    assert!(!ok);
    assert!(err.contains("account `support`: connect"), "{err}");
    m.start_dovecot();
    let (ok, v, err) = echodesk(&cfg, &db, &["poll"]);
    assert!(ok, "{err}");
    assert_eq!(mailbox_total(&v), (1, 1, 0));
    let (_, list, _) = echodesk(&cfg, &db, &["list"]);
    assert_eq!(list["total"], 2);
}

fn header<'a>(raw: &'a str, name: &str) -> Option<&'a str> {
    raw.lines()
        .find(|l| {
            l.to_ascii_lowercase()
                .starts_with(&format!("{}:", name.to_ascii_lowercase()))
        })
        .map(|l| l[name.len() + 1..].trim())
}

#[test]
fn reply_goes_out_by_smtp_and_the_answer_threads_back() {
    let m = Mail::up();
    let cfg = m.config_with_smtp();
    let db = m.dir.path().join("e.db");
    m.deliver(
        "support@example.test",
        "1.r",
        &mail("r1@example.net", "Broken kettle", "", "It leaks."),
    );
    assert!(echodesk(&cfg, &db, &["poll"]).0);
    let body = m.dir.path().join("reply.txt");
    std::fs::write(&body, "Sorry! A new kettle is on its way.\n").unwrap();
    let (ok, _, err) = echodesk(
        &cfg,
        &db,
        &["reply", "1", "--body-file", body.to_str().unwrap()],
    );
    assert!(ok, "{err}");
    let (_, show, _) = echodesk(&cfg, &db, &["show", "1"]);
    assert_eq!(
        show["state"], "pending",
        "an agent reply moves the ticket to pending"
    );
    let (ok, rep, err) = echodesk(&cfg, &db, &["outbox", "send"]);
    assert!(ok, "{err}");
    assert_eq!(rep["sent"], 1, "{rep}");

    let sent = m.spooled();
    assert_eq!(sent.len(), 1);
    let raw = &sent[0];
    assert_eq!(
        header(raw, "In-Reply-To"),
        Some("<r1@example.net>"),
        "{raw}"
    );
    assert!(header(raw, "References")
        .unwrap()
        .contains("<r1@example.net>"));
    assert!(
        header(raw, "Subject")
            .unwrap()
            .contains("Re: Broken kettle [#1]"),
        "{raw}"
    );
    assert!(header(raw, "To").unwrap().contains("carol@example.net"));
    assert!(header(raw, "From")
        .unwrap()
        .contains("support@example.test"));
    assert!(raw.contains("A new kettle is on its way."));
    let our_id = header(raw, "Message-ID").unwrap().to_string();

    // The customer answers our mail: it threads back into ticket 1 and reopens it.
    m.deliver(
        "support@example.test",
        "2.r",
        &mail(
            "r2@example.net",
            "Re: Broken kettle [#1]",
            &format!("In-Reply-To: {our_id}\r\nReferences: <r1@example.net> {our_id}\r\n"),
            "Thanks!",
        ),
    );
    let (_, v, _) = echodesk(&cfg, &db, &["poll"]);
    assert_eq!(mailbox_total(&v), (1, 0, 1));
    let (_, show, _) = echodesk(&cfg, &db, &["show", "1"]);
    assert_eq!(show["state"], "open");
    assert_eq!(show["messages"].as_array().unwrap().len(), 3);
}

#[test]
fn smtp_451_is_retried_and_550_fails_with_the_servers_words() {
    let m = Mail::up();
    let cfg = m.config_with_smtp();
    let db = m.dir.path().join("e.db");
    m.deliver(
        "support@example.test",
        "1.s",
        &mail("s1@example.net", "Hi", "", "x"),
    );
    assert!(echodesk(&cfg, &db, &["poll"]).0);
    let body = m.dir.path().join("reply.txt");
    std::fs::write(&body, "Answer\n").unwrap();
    std::fs::write(
        Path::new(m.get("SMTP_SPOOL")).join("script"),
        "451 4.3.0 mailbox busy, try later\n550 5.1.1 no such user here\n",
    )
    .unwrap();

    assert!(
        echodesk(
            &cfg,
            &db,
            &["reply", "1", "--body-file", body.to_str().unwrap()]
        )
        .0
    );
    let (_, rep, _) = echodesk(&cfg, &db, &["outbox", "send"]);
    assert_eq!(rep["retrying"], 1, "{rep}");
    let (_, rows, _) = echodesk(&cfg, &db, &["outbox", "list"]);
    assert_eq!(rows[0]["status"], "queued");
    assert!(
        rows[0]["last_error"]
            .as_str()
            .unwrap()
            .contains("try later"),
        "{rows}"
    );
    // Not due yet: a second pass sends nothing.
    let (_, rep, _) = echodesk(&cfg, &db, &["outbox", "send"]);
    assert_eq!(rep["sent"], 0);
    // Due now: the second attempt meets the 550.
    assert!(echodesk(&cfg, &db, &["outbox", "retry", "1"]).0);
    let (_, rep, _) = echodesk(&cfg, &db, &["outbox", "send"]);
    assert_eq!(rep["failed"], 1, "{rep}");
    let (_, rows, _) = echodesk(&cfg, &db, &["outbox", "list"]);
    assert_eq!(rows[0]["status"], "failed");
    assert!(
        rows[0]["last_error"]
            .as_str()
            .unwrap()
            .contains("no such user"),
        "{rows}"
    );
    let (_, show, _) = echodesk(&cfg, &db, &["show", "1"]);
    assert!(show["events"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["kind"] == "send-failed"));
    // Retried on purpose, the script is used up: 250.
    assert!(echodesk(&cfg, &db, &["outbox", "retry", "1"]).0);
    let (_, rep, _) = echodesk(&cfg, &db, &["outbox", "send"]);
    assert_eq!(rep["sent"], 1, "{rep}");
    assert_eq!(m.spooled().len(), 1);
}

#[test]
fn a_send_interrupted_by_a_crash_becomes_unknown_not_repeated() {
    let m = Mail::up();
    let cfg = m.config_with_smtp();
    let db = m.dir.path().join("e.db");
    m.deliver(
        "support@example.test",
        "1.c",
        &mail("c1@example.net", "Hi", "", "x"),
    );
    assert!(echodesk(&cfg, &db, &["poll"]).0);
    let body = m.dir.path().join("reply.txt");
    std::fs::write(&body, "Answer\n").unwrap();
    assert!(
        echodesk(
            &cfg,
            &db,
            &["reply", "1", "--body-file", body.to_str().unwrap()]
        )
        .0
    );
    // A worker that claimed the entry and died before recording the result.
    {
        let mut store = echodesk::store::Store::open(&db, Default::default()).unwrap();
        let tx = store.transaction().unwrap();
        assert_eq!(
            tx.claim_due("email", 10, "a-sender-that-died")
                .unwrap()
                .len(),
            1
        );
        tx.commit().unwrap();
    }
    let (_, rep, _) = echodesk(&cfg, &db, &["outbox", "send"]);
    assert_eq!(rep["recovered_unknown"], 1, "{rep}");
    assert_eq!(rep["sent"], 0, "never silently repeated");
    let (_, rows, _) = echodesk(&cfg, &db, &["outbox", "list"]);
    assert_eq!(rows[0]["status"], "unknown");
    assert!(m.spooled().is_empty());
    assert!(echodesk(&cfg, &db, &["outbox", "retry", "1"]).0);
    let (_, rep, _) = echodesk(&cfg, &db, &["outbox", "send"]);
    assert_eq!(rep["sent"], 1);
}

#[test]
fn the_fixture_corpus_comes_through_imap_intact() {
    let m = Mail::up();
    let cfg = m.config("implicit", "batch = 40\n");
    let db = m.dir.path().join("e.db");
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/corpus");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&corpus)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .collect();
    files.sort();
    for (i, f) in files.iter().enumerate() {
        m.deliver(
            "support@example.test",
            &format!("{i:05}.corpus"),
            &String::from_utf8_lossy(&std::fs::read(f).unwrap()),
        );
    }
    let (ok, v, err) = echodesk(&cfg, &db, &["poll"]);
    assert!(ok, "{err}");
    let mb = &v[0]["mailboxes"][0];
    assert_eq!(mb["fetched"].as_u64().unwrap() as usize, files.len(), "{v}");
    assert!(
        mb["with_errors"].as_u64().unwrap() >= 5,
        "malformed mail is kept, with its errors: {v}"
    );
    // Charsets survive the trip: a Big5 and a Shift_JIS subject from the manifest.
    let manifest = std::fs::read_to_string(corpus.join("manifest.jsonl")).unwrap();
    let mut checked = 0;
    for line in manifest.lines() {
        let e: Value = serde_json::from_str(line).unwrap();
        let kind = e["kind"].as_str().unwrap();
        if !(kind == "zh-big5" || kind == "ja-sjis" || kind == "zh-gbk" || kind == "ja-iso2022") {
            continue;
        }
        let subject = e["subject"].as_str().unwrap();
        let (_, found, _) = echodesk(
            &cfg,
            &db,
            &["list", "--query", &format!("\"{subject}\""), "--limit", "5"],
        );
        assert!(
            found["total"].as_i64().unwrap() >= 1,
            "{kind} `{subject}` not found after IMAP"
        );
        checked += 1;
        if checked >= 8 {
            break;
        }
    }
    assert!(checked >= 4);
    // Polling again adds nothing.
    let (_, v, _) = echodesk(&cfg, &db, &["poll"]);
    assert_eq!(mailbox_total(&v), (0, 0, 0));
}

/// A child process killed when the test ends, passed or not, so that no
/// daemon outlives its test (and holds the test runner's output open).
struct Reaped(std::process::Child);

impl std::ops::Deref for Reaped {
    type Target = std::process::Child;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl std::ops::DerefMut for Reaped {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `echodesk daemon` on this config and database, logging to `log`.
fn daemon(cfg: &Path, db: &Path, log: &Path) -> Reaped {
    Reaped(
        Command::new(env!("CARGO_BIN_EXE_echodesk"))
            .arg("--config")
            .arg(cfg)
            .arg("--db")
            .arg(db)
            .args(["daemon", "--log"])
            .arg(log)
            .env("ECHODESK_TEST_PW", "secret")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    )
}

fn wait_for(what: &str, secs: u64, f: impl FnMut() -> bool) {
    wait_logged(what, secs, None, f)
}

/// Waits for `f`; on timeout the panic shows the daemon's log, if any.
fn wait_logged(what: &str, secs: u64, log: Option<&Path>, mut f: impl FnMut() -> bool) {
    let until = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while std::time::Instant::now() < until {
        if f() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let log = log
        .and_then(|l| std::fs::read_to_string(l).ok())
        .unwrap_or_default();
    panic!("timed out after {secs} s waiting for {what}; daemon log:\n{log}");
}

fn files_in(dir: &Path) -> Vec<String> {
    ["new", "cur"]
        .iter()
        .flat_map(|s| std::fs::read_dir(dir.join(s)).into_iter().flatten())
        .filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
        .collect()
}

/// The daemon as a user runs it: new mail arrives through IDLE (the poll
/// interval is far longer than the test waits), a CLI reply with an
/// attachment leaves through the daemon's outbox worker and is copied to
/// Sent, the customer's answer threads back, a second daemon is refused,
/// and SIGTERM stops it cleanly.
#[test]
fn the_daemon_receives_with_idle_sends_copies_to_sent_and_stops_on_sigterm() {
    let m = Mail::up();
    let cfg = m.config_with_smtp_and(
        "poll_interval = 600\nsent_mailbox = \"Sent\"\n",
        "[daemon]\noutbox_interval = 1\nlog_level = \"debug\"\n",
    );
    let db = m.dir.path().join("d.db");
    let log = m.dir.path().join("daemon.log");
    let mut daemon = daemon(&cfg, &db, &log);
    let logged = |s: &str| {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains(s)
    };
    wait_for("the daemon to start", 20, || logged("daemon started"));
    // The first pass has run (and found nothing) once status shows a poll.
    wait_for("the first poll", 20, || {
        let (_, st, _) = echodesk(&cfg, &db, &["status"]);
        st["mailboxes"][0]["status"]["last_poll"].is_i64()
    });
    let (_, st, _) = echodesk(&cfg, &db, &["status"]);
    assert!(
        st["daemon"]["pid"].as_i64() == Some(daemon.id() as i64),
        "{st}"
    );

    m.deliver(
        "support@example.test",
        "1.d",
        &mail("d1@example.net", "Heater broken", "", "It is cold in here."),
    );
    // IDLE, not the ten-minute poll interval, brings it in.
    wait_for("the new mail to become a ticket", 20, || {
        echodesk(&cfg, &db, &["list"]).1["total"] == 1
    });

    let body = m.dir.path().join("reply.txt");
    std::fs::write(
        &body,
        "A technician comes tomorrow; the form is attached.\n",
    )
    .unwrap();
    let form = m.dir.path().join("visit-form.pdf");
    std::fs::write(&form, b"%PDF-1.4 not really a pdf\n").unwrap();
    let (ok, _, err) = echodesk(
        &cfg,
        &db,
        &[
            "reply",
            "1",
            "--body-file",
            body.to_str().unwrap(),
            "--attach",
            form.to_str().unwrap(),
        ],
    );
    assert!(ok, "{err}");
    wait_for("the daemon to send the reply", 20, || {
        m.spooled().len() == 1
    });
    let raw = m.spooled().remove(0);
    assert!(
        header(&raw, "Content-Type")
            .unwrap()
            .starts_with("multipart/mixed"),
        "{raw}"
    );
    assert!(raw.contains("visit-form.pdf"), "{raw}");
    assert!(raw.contains("A technician comes tomorrow"), "{raw}");
    let our_id = header(&raw, "Message-ID").unwrap().to_string();

    // A copy lands in the Sent mailbox.
    let sent_dir = m.maildir("support@example.test").join(".Sent");
    wait_for("the copy in Sent", 20, || {
        files_in(&sent_dir).iter().any(|f| f.contains(&our_id))
    });

    // Only one daemon per database. `outbox send` may run beside it: each
    // sender claims its own entries (nothing is due now).
    let second = Command::new(env!("CARGO_BIN_EXE_echodesk"))
        .arg("--config")
        .arg(&cfg)
        .arg("--db")
        .arg(&db)
        .args(["daemon", "--log", "-"])
        .env("ECHODESK_TEST_PW", "secret")
        .output()
        .unwrap();
    assert_eq!(second.status.code(), Some(8));
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(err.contains("held by pid"), "{err}");
    let out = Command::new(env!("CARGO_BIN_EXE_echodesk"))
        .arg("--config")
        .arg(&cfg)
        .arg("--db")
        .arg(&db)
        .args(["outbox", "send", "--json"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rep: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        rep["recovered_unknown"], 0,
        "the daemon's entries are its own"
    );

    // The customer answers: it threads into ticket 1 and reopens it.
    m.deliver(
        "support@example.test",
        "2.d",
        &mail(
            "d2@example.net",
            "Re: Heater broken [#1]",
            &format!("In-Reply-To: {our_id}\r\n"),
            "Tomorrow is fine.",
        ),
    );
    wait_for("the answer to thread back", 20, || {
        let (_, show, _) = echodesk(&cfg, &db, &["show", "1"]);
        show["messages"].as_array().is_some_and(|a| a.len() == 3)
    });
    let (_, show, _) = echodesk(&cfg, &db, &["show", "1"]);
    assert_eq!(show["state"], "open", "{show}");
    assert_eq!(echodesk(&cfg, &db, &["list"]).1["total"], 1);

    unsafe { libc::kill(daemon.id() as i32, libc::SIGTERM) };
    let mut status = None;
    wait_for("the daemon to exit", 15, || {
        status = daemon.try_wait().unwrap();
        status.is_some()
    });
    assert!(status.unwrap().success(), "{status:?}");
    assert!(
        logged("SIGTERM"),
        "{}",
        std::fs::read_to_string(&log).unwrap()
    );
    assert!(logged("lease released"));
    let (_, st, _) = echodesk(&cfg, &db, &["status"]);
    assert!(st["daemon"].is_null(), "{st}");
    // Nothing was left half-sent.
    let (_, rows, _) = echodesk(&cfg, &db, &["outbox", "list", "--all"]);
    assert_eq!(rows[0]["status"], "sent", "{rows}");
}

/// Dovecot going away under a running daemon: the error shows in
/// `status`, the daemon backs off and reconnects by itself, and mail that
/// arrived meanwhile comes in once, with nothing lost.
#[test]
fn the_daemon_rides_out_a_dovecot_restart() {
    let m = Mail::up();
    let cfg = m.config_with_smtp_and("poll_interval = 600\n", "");
    let db = m.dir.path().join("r.db");
    let log = m.dir.path().join("daemon.log");
    let mut daemon = daemon(&cfg, &db, &log);
    m.deliver(
        "support@example.test",
        "1.x",
        &mail("x1@example.net", "First", "", "one"),
    );
    wait_logged("the first ticket", 20, Some(&log), || {
        echodesk(&cfg, &db, &["list"]).1["total"] == 1
    });
    // Dovecot lets open sessions finish for a few seconds after `stop`:
    // the mail goes in once the daemon has seen the server gone.
    m.stop_dovecot();
    wait_logged("the error to show in status", 30, Some(&log), || {
        let (_, st, _) = echodesk(&cfg, &db, &["status"]);
        st["mailboxes"][0]["status"]["last_error"].is_string()
    });
    m.deliver(
        "support@example.test",
        "2.x",
        &mail("x2@example.net", "Second", "", "two"),
    );
    m.start_dovecot();
    wait_logged("the mail from the outage", 40, Some(&log), || {
        echodesk(&cfg, &db, &["list"]).1["total"] == 2
    });
    let (_, st, _) = echodesk(&cfg, &db, &["status"]);
    assert!(st["mailboxes"][0]["status"]["last_error"].is_null(), "{st}");
    unsafe { libc::kill(daemon.id() as i32, libc::SIGTERM) };
    wait_for("the daemon to exit", 15, || {
        daemon.try_wait().unwrap().is_some()
    });
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("next try in"), "{text}");
    // Exactly two messages: nothing fetched twice across the reconnects.
    let (_, all, _) = echodesk(&cfg, &db, &["list", "--query", "state:new"]);
    assert_eq!(all["total"], 2, "{all}");
}

/// A bulk reply killed mid-job (SIGKILL, between two of its commits) and
/// resumed with its job id: every ticket gets exactly one reply, which the
/// outbox then delivers to the real SMTP server once.
#[test]
fn an_interrupted_bulk_reply_resumes_and_sends_nothing_twice() {
    let m = Mail::up();
    // One ticket per transaction, so the kill lands between commits.
    let cfg = m.config_with_smtp_and("", "[bulk]\nchunk = 1\n");
    let db = m.dir.path().join("b.db");
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/corpus");
    let (ok, _, err) = echodesk(&cfg, &db, &["import", corpus.to_str().unwrap()]);
    assert!(ok, "{err}");
    let body = m.dir.path().join("fixed.txt");
    std::fs::write(
        &body,
        "Hello {{ customer.first_name }}, the outage is over.\n",
    )
    .unwrap();
    let mut bulk = Reaped(
        Command::new(env!("CARGO_BIN_EXE_echodesk"))
            .arg("--config")
            .arg(&cfg)
            .arg("--db")
            .arg(&db)
            .args(["bulk", "reply", "--query", "-is:auto", "--body-file"])
            .arg(&body)
            .args(["--job", "outage", "--yes"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .unwrap();
    let done = || -> i64 {
        conn.query_row(
            "SELECT count(*) FROM job_items WHERE job_id = 'outage' AND status = 'done'",
            [],
            |r| r.get(0),
        )
        .unwrap_or(0)
    };
    // Take the write lock in turns with the job, so it advances a few
    // commits at a time; once it has done some, kill it while it waits for
    // the lock, between two of its commits.
    let until = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let done_at_kill = loop {
        conn.execute_batch("BEGIN IMMEDIATE").unwrap();
        let n = done();
        if n >= 3 || std::time::Instant::now() > until {
            break n;
        }
        conn.execute_batch("ROLLBACK").unwrap();
        std::thread::sleep(std::time::Duration::from_millis(30));
    };
    bulk.kill().unwrap();
    bulk.wait().unwrap();
    conn.execute_batch("ROLLBACK").unwrap();
    let total: i64 = conn
        .query_row(
            "SELECT count(*) FROM job_items WHERE job_id = 'outage'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(
        done_at_kill < total,
        "killed after {done_at_kill} of {total}"
    );
    let queued_at_kill: i64 = conn
        .query_row("SELECT count(*) FROM outbox", [], |r| r.get(0))
        .unwrap();
    assert_eq!(
        queued_at_kill, done_at_kill,
        "each done item has its reply, no more"
    );

    // Resume: the text and targets come from the job.
    let (ok, _, err) = echodesk(&cfg, &db, &["bulk", "reply", "--job", "outage", "--yes"]);
    let (_, job, _) = echodesk(&cfg, &db, &["bulk", "job", "outage"]);
    let (done, failed) = (
        job["job"]["done"].as_i64().unwrap(),
        job["job"]["failed"].as_i64().unwrap(),
    );
    assert_eq!(done + failed, total);
    assert!(ok || failed > 0, "{err}");
    assert!(done > total / 2, "{job}");

    let (ok, rep, err) = echodesk(&cfg, &db, &["outbox", "send"]);
    // On a failure, say what each entry's error was (a loaded server once
    // made every send fail "permanently" here).
    let (_, rows, _) = echodesk(&cfg, &db, &["outbox", "list"]);
    assert!(ok, "{err}\n{rows}");
    assert_eq!(rep["sent"], done, "{rep}\n{rows}");
    assert_eq!(m.spooled().len() as i64, done);
    let (_, rows, _) = echodesk(&cfg, &db, &["outbox", "list", "--all"]);
    let tickets: std::collections::HashSet<i64> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["ticket_id"].as_i64().unwrap())
        .collect();
    assert_eq!(tickets.len() as i64, done, "one reply per ticket");
    assert_eq!(rows.as_array().unwrap().len() as i64, done);
}

/// Automation rules on live mail, with the replies delivered to the real
/// SMTP server: an acknowledgement per new ticket, held back for automatic
/// mail, robot senders and a customer acknowledged recently; a VIP rule
/// that sets priority, tag and assignee, recorded under its name.
#[test]
fn rules_act_on_new_mail_and_loop_protection_holds_auto_replies() {
    let m = Mail::up();
    let canned = m.dir.path().join("canned");
    std::fs::create_dir_all(&canned).unwrap();
    std::fs::write(
        canned.join("ack.md"),
        "+++\ntitle = \"We got your message\"\n+++\nHello {{ customer.first_name }}, we have your message {{ ticket.tag }} and answer soon.\n",
    )
    .unwrap();
    let base = m.config_with_smtp_and(
        "",
        "[[rules]]\nname = \"vip\"\nquery = \"from:@vip.example\"\nset_priority = \"urgent\"\n\
         add_tags = [\"vip\"]\nassign = \"alice\"\n\
         [[rules]]\nname = \"ack\"\non = \"new-ticket\"\nauto_reply = \"ack\"\n",
    );
    let cfg = m.dir.path().join("rules.toml");
    std::fs::write(
        &cfg,
        format!(
            "canned_dir = \"{}\"\nauto_reply_period = \"1h\"\n{}",
            canned.display(),
            std::fs::read_to_string(&base).unwrap()
        ),
    )
    .unwrap();
    let db = m.dir.path().join("r.db");
    let from = |who: &str, id: &str, subject: &str, extra: &str| {
        format!(
            "From: {who}\r\nTo: support@example.test\r\nSubject: {subject}\r\n\
             Date: Mon, 23 Nov 2026 10:00:00 +0000\r\nMessage-ID: <{id}>\r\n{extra}\r\nHello.\r\n"
        )
    };
    m.deliver(
        "support@example.test",
        "1.r",
        &from(
            "Carol Customer <carol@example.net>",
            "c1@example.net",
            "Printer jams",
            "",
        ),
    );
    m.deliver(
        "support@example.test",
        "2.r",
        &from(
            "Carol Customer <carol@example.net>",
            "c2@example.net",
            "Also the scanner",
            "",
        ),
    );
    m.deliver(
        "support@example.test",
        "3.r",
        &from(
            "Dave <dave@example.net>",
            "d1@example.net",
            "Out of office",
            "Auto-Submitted: auto-replied\r\n",
        ),
    );
    m.deliver(
        "support@example.test",
        "4.r",
        &from(
            "MAILER-DAEMON@example.org",
            "b1@example.org",
            "Undelivered Mail",
            "",
        ),
    );
    m.deliver(
        "support@example.test",
        "5.r",
        &from(
            "Boss <boss@vip.example>",
            "v1@vip.example",
            "Contract renewal",
            "",
        ),
    );
    let (ok, _, err) = echodesk(&cfg, &db, &["poll"]);
    assert!(ok, "{err}");
    let (ok, rep, err) = echodesk(&cfg, &db, &["outbox", "send"]);
    assert!(ok, "{err}");
    // Carol once (not twice), and the VIP; not the autoresponder, not the daemon.
    assert_eq!(rep["sent"], 2, "{rep}");
    let sent = m.spooled();
    let to: Vec<&str> = sent.iter().map(|r| header(r, "To").unwrap()).collect();
    assert!(to.iter().any(|t| t.contains("carol@example.net")), "{to:?}");
    assert!(to.iter().any(|t| t.contains("boss@vip.example")), "{to:?}");
    for raw in &sent {
        assert_eq!(header(raw, "Auto-Submitted"), Some("auto-replied"), "{raw}");
        assert!(raw.contains("we have your message [#"), "{raw}");
    }

    let (_, list, _) = echodesk(&cfg, &db, &["list", "--all"]);
    let by_subject = |s: &str| -> i64 {
        list["tickets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["subject"] == s)
            .unwrap()["id"]
            .as_i64()
            .unwrap()
    };
    let show = |s: &str| echodesk(&cfg, &db, &["show", &by_subject(s).to_string()]).1;
    // An acknowledgement leaves the ticket as it was and is no first response.
    let first = show("Printer jams");
    assert_eq!(first["state"], "new");
    assert!(first["first_response_at"].is_null(), "{first}");
    let kinds = |t: &Value| -> Vec<String> {
        t["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["kind"].as_str().unwrap().to_string())
            .collect()
    };
    assert!(kinds(&first).contains(&"auto-reply".to_string()));
    for s in ["Also the scanner", "Out of office", "Undelivered Mail"] {
        let t = show(s);
        assert!(
            kinds(&t).contains(&"auto-reply-held".to_string()),
            "{s}: {t}"
        );
        assert_eq!(
            t["messages"].as_array().unwrap().len(),
            1,
            "{s}: nothing sent"
        );
    }
    let vip = show("Contract renewal");
    assert_eq!(vip["priority"], "urgent");
    assert_eq!(vip["assignee"], "alice");
    assert!(vip["tags"].as_array().unwrap().iter().any(|t| t == "vip"));
    let by_rule: Vec<&Value> = vip["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["agent"] == "rule:vip")
        .collect();
    assert!(
        by_rule.len() >= 3,
        "priority, tag, assignee, summary: {vip}"
    );
    assert!(by_rule.iter().any(|e| e["rule"] == "vip"));

    // A later poll with nothing new runs no rule twice.
    let (ok, _, _) = echodesk(&cfg, &db, &["poll"]);
    assert!(ok);
    let (_, rep, _) = echodesk(&cfg, &db, &["outbox", "send"]);
    assert_eq!(rep["sent"], 0, "{rep}");
}

/// A fax-to-email mailbox with the HylaFAX preset, over the real Dovecot:
/// genuine `faxrcvd` mail becomes fax tickets from the sending number with
/// the document attached; ordinary mail there stays email, with a warning.
#[test]
fn hylafax_mail_becomes_fax_tickets_from_the_sending_number() {
    let m = Mail::up();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    for (i, name) in ["hylafax-success-pdf.eml", "hylafax-success-tiff.eml"]
        .iter()
        .enumerate()
    {
        let raw = std::fs::read_to_string(fixtures.join(name)).unwrap();
        m.deliver("fax@example.test", &format!("{i}.fax"), &raw);
    }
    m.deliver(
        "fax@example.test",
        "9.mail",
        &mail(
            "lost@example.net",
            "Wrong address?",
            "",
            "Is this the fax line?",
        ),
    );
    let cfg = m.dir.path().join("fax.toml");
    std::fs::write(
        &cfg,
        format!(
            "[[accounts]]\nname = \"fax\"\naddress = \"fax@example.test\"\n\
             [accounts.imap]\nhost = \"127.0.0.1\"\nport = {}\nuser = \"fax@example.test\"\n\
             password_env = \"ECHODESK_TEST_PW\"\nca_file = \"{}\"\n\
             [accounts.fax]\nprofile = \"hylafax\"\n",
            m.get("IMAPS_PORT"),
            m.get("CA_CERT")
        ),
    )
    .unwrap();
    let db = m.dir.path().join("f.db");
    let (ok, _, err) = echodesk(&cfg, &db, &["poll"]);
    assert!(ok, "{err}");
    let (_, faxes, _) = echodesk(&cfg, &db, &["list", "--query", "channel:fax", "--all"]);
    // Both faxes come from the same number: one customer, one conversation.
    assert_eq!(faxes["total"], 1, "{faxes}");
    let id = faxes["tickets"][0]["id"].as_i64().unwrap().to_string();
    let (_, t, _) = echodesk(&cfg, &db, &["show", &id]);
    assert_eq!(t["channel"], "fax");
    let idents = t["customer"]["identities"].as_array().unwrap();
    assert!(idents.iter().any(|i| i["kind"] == "fax"), "{t}");
    let msgs = t["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 2, "{t}");
    for msg in msgs {
        let body = msg["body_text"].as_str().unwrap();
        assert!(
            body.starts_with("Fax from +15550199 (RIVERA CLINIC), 2 pages"),
            "{body}"
        );
        assert!(body.contains("[image only, 2 pages]"), "{body}");
        assert_eq!(msg["channel"], "fax");
        assert!(!msg["attachments"].as_array().unwrap().is_empty());
    }
    let types: Vec<&str> = msgs
        .iter()
        .map(|m| m["attachments"][0]["content_type"].as_str().unwrap())
        .collect();
    assert!(
        types.iter().any(|t| t.contains("pdf")) && types.iter().any(|t| t.contains("tif")),
        "{types:?}"
    );
    // Searchable by number and by the sender's name.
    let (_, hits, _) = echodesk(&cfg, &db, &["list", "--query", "RIVERA"]);
    assert_eq!(hits["total"], 1);

    // The documents can be listed and saved, byte for byte.
    let (_, files, _) = echodesk(
        &cfg,
        &db,
        &["attachment", "list", &faxes["tickets"][0]["id"].to_string()],
    );
    assert_eq!(files.as_array().unwrap().len(), 2, "{files}");
    let out = m.dir.path().join("saved");
    let (ok, saved, err) = echodesk(
        &cfg,
        &db,
        &[
            "attachment",
            "save",
            &faxes["tickets"][0]["id"].to_string(),
            "--all",
            "--to",
            out.to_str().unwrap(),
        ],
    );
    assert!(ok, "{err}");
    let heads: Vec<Vec<u8>> = saved
        .as_array()
        .unwrap()
        .iter()
        .map(|p| std::fs::read(p.as_str().unwrap()).unwrap()[..4].to_vec())
        .collect();
    assert!(
        heads.contains(&b"%PDF".to_vec()) && heads.contains(&b"II*\0".to_vec()),
        "{heads:?}"
    );

    // Not a fax: kept as email, never dropped, with the reason.
    let (_, mails, _) = echodesk(&cfg, &db, &["list", "--query", "channel:email"]);
    assert_eq!(mails["total"], 1);
    let id = mails["tickets"][0]["id"].as_i64().unwrap().to_string();
    let (_, t, _) = echodesk(&cfg, &db, &["show", &id]);
    let warn = t["messages"][0]["parse_error"].as_str().unwrap();
    assert!(warn.contains("fax profile `hylafax`"), "{warn}");
}

/// A PDF whose text layer says `text` (one page, Helvetica).
fn text_pdf(text: &str) -> Vec<u8> {
    let content = format!("BT /F1 12 Tf 72 720 Td ({text}) Tj ET");
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_string(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>".to_string(),
        format!("<< /Length {} >>\nstream\n{content}\nendstream", content.len()),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>".to_string(),
    ];
    echodesk::channel::fax::pdf::assemble(&objects.map(String::into_bytes))
}

fn b64(data: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(data)
}

/// eFax-shaped mail on a second fax account: a PDF with a text layer is
/// searchable by its words; a fax notice without a document still makes a
/// ticket, with a warning; a custom profile on the same server.
#[test]
fn efax_pdf_text_layer_no_attachment_and_a_custom_profile() {
    let m = Mail::up();
    let pdf = b64(&text_pdf(
        "Please ship replacement valve 4711 to Rivera Clinic",
    ));
    let efax = |id: &str, subject: &str, attach: bool| {
        let part = if attach {
            format!(
                "--B\r\nContent-Type: application/pdf; name=\"fax.pdf\"\r\nContent-Disposition: attachment; filename=\"fax.pdf\"\r\n\
                 Content-Transfer-Encoding: base64\r\n\r\n{pdf}\r\n"
            )
        } else {
            String::new()
        };
        format!(
            "From: eFax <message@inbound.efax.com>\r\nTo: customer@example.test\r\nSubject: {subject}\r\n\
             Message-ID: <{id}>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"B\"\r\n\r\n\
             --B\r\nContent-Type: text/plain\r\n\r\nYou have received a fax.\r\n{part}--B--\r\n"
        )
    };
    m.deliver(
        "customer@example.test",
        "1.e",
        &efax(
            "e1@efax",
            "eFax from Rivera Clinic - 1 page(s), caller ID: +1 415 555 0142",
            true,
        ),
    );
    m.deliver(
        "customer@example.test",
        "2.e",
        &efax(
            "e2@efax",
            "eFax from Acme - 2 page(s), caller ID: +1 212 555 0100",
            false,
        ),
    );
    m.deliver(
        "support@example.test",
        "3.c",
        "From: Fax Robot <robot@faxgw.example.org>\r\nTo: support@example.test\r\nSubject: New fax\r\n\
         Message-ID: <c1@faxgw>\r\n\r\nCalling station: +14155550177\r\nStation ID: HARBOR LOGISTICS\r\n",
    );
    let cfg = m.dir.path().join("efax.toml");
    let account = |name: &str, user: &str, fax: &str| {
        format!(
            "[[accounts]]\nname = \"{name}\"\naddress = \"{user}\"\n[accounts.imap]\nhost = \"127.0.0.1\"\nport = {}\n\
             user = \"{user}\"\npassword_env = \"ECHODESK_TEST_PW\"\nca_file = \"{}\"\n[accounts.fax]\n{fax}\n",
            m.get("IMAPS_PORT"),
            m.get("CA_CERT")
        )
    };
    std::fs::write(
        &cfg,
        account(
            "efax",
            "customer@example.test",
            &format!(
                "profile = \"efax\"\nsend_to = \"efax\"\n[accounts.smtp]\nhost = \"127.0.0.1\"\nport = {}\n\
                 tls = \"starttls\"\nca_file = \"{}\"\n",
                m.get("SMTP_PORT"),
                m.get("CA_CERT")
            ),
        )
            + &account(
                "gateway",
                "support@example.test",
                "sender = '@faxgw\\.example\\.org$'\nnumber = 'Calling station: (\\+?\\d+)'\ncsid = 'Station ID: (.+)'",
            ),
    )
    .unwrap();
    let db = m.dir.path().join("e.db");
    let (ok, _, err) = echodesk(&cfg, &db, &["poll"]);
    assert!(ok, "{err}");
    let (_, hits, _) = echodesk(&cfg, &db, &["list", "--query", "valve 4711"]);
    assert_eq!(hits["total"], 1, "the PDF's text is searchable: {hits}");
    let id = hits["tickets"][0]["id"].to_string();
    let (_, t, _) = echodesk(&cfg, &db, &["show", &id]);
    assert_eq!(t["channel"], "fax");
    let body = t["messages"][0]["body_text"].as_str().unwrap();
    assert!(
        body.starts_with("Fax from +14155550142 (Rivera Clinic), 1 page"),
        "{body}"
    );
    assert!(body.contains("replacement valve 4711"), "{body}");

    // Reply by fax: a PDF through the eFax gateway address for the number,
    // whose text is the reply under a cover line naming the ticket.
    let body = m.dir.path().join("fax-reply.txt");
    std::fs::write(
        &body,
        "The valve ships today.\n零件今天发货。部品は本日発送します。\n",
    )
    .unwrap();
    let (ok, _, err) = echodesk(
        &cfg,
        &db,
        &["reply", &id, "--body-file", body.to_str().unwrap()],
    );
    assert!(ok, "{err}");
    let (ok, rep, err) = echodesk(&cfg, &db, &["outbox", "send"]);
    assert!(ok && rep["sent"] == 1, "{rep} {err}");
    let sent = m.spooled();
    assert_eq!(sent.len(), 1);
    assert_eq!(
        header(&sent[0], "To"),
        Some("14155550142@efaxsend.com"),
        "{}",
        &sent[0][..400]
    );
    let parsed = mail_parser::MessageParser::default()
        .parse(sent[0].as_bytes())
        .unwrap();
    let pdf = parsed
        .attachments()
        .find(|a| mail_parser::MimeHeaders::is_content_type(*a, "application", "pdf"))
        .expect("a PDF attachment");
    let text = echodesk::channel::fax::pdf_text(pdf.contents()).unwrap();
    assert!(text.contains("The valve ships today."), "{text}");
    assert!(
        text.contains("零件今天发货。部品は本日発送します。"),
        "{text}"
    );
    assert!(
        text.contains(&format!("[#{}]", id.trim_matches('"'))),
        "{text}"
    );

    let (_, acme, _) = echodesk(&cfg, &db, &["list", "--query", "Acme"]);
    let (_, t, _) = echodesk(&cfg, &db, &["show", &acme["tickets"][0]["id"].to_string()]);
    assert_eq!(t["channel"], "fax");
    assert!(t["messages"][0]["body_text"]
        .as_str()
        .unwrap()
        .contains("[no fax document attached]"));
    assert!(t["messages"][0]["parse_error"]
        .as_str()
        .unwrap()
        .contains("without a PDF or TIFF"));

    let (_, harbor, _) = echodesk(&cfg, &db, &["list", "--query", "HARBOR"]);
    let (_, t, _) = echodesk(
        &cfg,
        &db,
        &["show", &harbor["tickets"][0]["id"].to_string()],
    );
    assert_eq!(t["channel"], "fax");
    assert!(
        t["customer"]["identities"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["kind"] == "fax" && i["value"] == "+14155550177"),
        "{t}"
    );
}

/// A hostile fixture, un-gzipped when stored compressed.
fn hostile_mail(name: &str) -> Vec<u8> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hostile/mail");
    match std::fs::read(dir.join(name)) {
        Ok(raw) => raw,
        Err(_) => {
            use std::io::Read;
            let gz = std::fs::read(dir.join(format!("{name}.gz"))).unwrap();
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(gz.as_slice())
                .read_to_end(&mut out)
                .unwrap();
            out
        }
    }
}

#[derive(serde::Deserialize)]
struct ExpectedFax {
    file: String,
    kind: String,
    number: Option<String>,
    order: Option<String>,
}

/// A fax mailbox as populate.py fills it (all four shapes), the genuine
/// HylaFAX samples, a forged "fax" from a customer and hostile messages
/// in the middle of small batches: every number in E.164, every text
/// layer searchable, nothing stopped by the hostile ones.
#[test]
fn a_populated_fax_mailbox_comes_in_with_every_number_and_text_right() {
    let m = Mail::up();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let expected: Vec<ExpectedFax> =
        std::fs::read_to_string(fixtures.join("fax-mailbox/expected.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
    assert_eq!(expected.len(), 40);
    let mut n = 0;
    let mut put = |raw: &[u8]| {
        n += 1;
        m.deliver(
            "fax@example.test",
            &format!("{n:04}.fax"),
            &String::from_utf8_lossy(raw),
        );
    };
    for (i, e) in expected.iter().enumerate() {
        put(&std::fs::read(fixtures.join("fax-mailbox").join(&e.file)).unwrap());
        if i == 10 {
            put(&hostile_mail("fax-self-drawing.eml"));
            put(&hostile_mail("fax-flate-bomb.eml"));
            put(&hostile_mail("nested-divs.eml"));
        }
    }
    for name in [
        "hylafax-success-pdf.eml",
        "hylafax-success-tiff.eml",
        "hylafax-error-pdf.eml",
    ] {
        put(&std::fs::read(fixtures.join(name)).unwrap());
    }
    // A customer's own mail that quotes a HylaFAX notice.
    put(mail(
        "mallory@example.net",
        "Fax received from \"+1 555 0199\"",
        "",
        "CallID1: +1 555 0199\r\nPages: 1\r\n",
    )
    .as_bytes());
    let total = n;
    let cfg = m.dir.path().join("fax.toml");
    std::fs::write(
        &cfg,
        format!(
            "[[accounts]]\nname = \"fax\"\naddress = \"fax@example.test\"\n\
             [accounts.imap]\nhost = \"127.0.0.1\"\nport = {}\nuser = \"fax@example.test\"\n\
             password_env = \"ECHODESK_TEST_PW\"\nca_file = \"{}\"\nbatch = 7\n\
             [accounts.fax]\nprofile = \"auto\"\n",
            m.get("IMAPS_PORT"),
            m.get("CA_CERT")
        ),
    )
    .unwrap();
    let db = m.dir.path().join("f.db");
    let started = std::time::Instant::now();
    let (ok, report, err) = echodesk(&cfg, &db, &["poll"]);
    assert!(ok, "{err}");
    assert!(started.elapsed() < std::time::Duration::from_secs(120));
    assert_eq!(mailbox_total(&report).0, total as u64, "{report}");

    // Each populate.py fax: a fax ticket from its number in E.164, or, with
    // no number, one of its own; its text layer searchable.
    let (_, all, _) = echodesk(
        &cfg,
        &db,
        &["list", "--query", "channel:fax", "--all", "-n", "500"],
    );
    let fax_tickets = all["tickets"].as_array().unwrap();
    let fax_hits = |words: &str| {
        let (_, hits, _) = echodesk(
            &cfg,
            &db,
            &["list", "--query", &format!("channel:fax {words}"), "--all"],
        );
        hits
    };
    for e in &expected {
        match &e.number {
            Some(num) => {
                let hits = fax_hits(num);
                assert!(
                    hits["total"].as_i64().unwrap() >= 1,
                    "{} ({}): {num} not found",
                    e.file,
                    e.kind
                );
                let id = hits["tickets"][0]["id"].to_string();
                let (_, t, _) = echodesk(&cfg, &db, &["show", &id]);
                let idents = t["customer"]["identities"].as_array().unwrap();
                assert!(
                    idents
                        .iter()
                        .any(|i| i["kind"] == "fax" && i["value"] == num.as_str()),
                    "{}: {t}",
                    e.file
                );
                let msgs = t["messages"].as_array().unwrap();
                assert!(
                    msgs.iter().any(|mm| mm["body_text"]
                        .as_str()
                        .unwrap()
                        .starts_with(&format!("Fax from {num}"))),
                    "{}: {t}",
                    e.file
                );
            }
            None => {
                // A name but no number: its own customer with no identity.
                let who = fax_tickets
                    .iter()
                    .filter(|t| {
                        t["customer_name"]
                            .as_str()
                            .is_some_and(|c| c == "ACME LOGISTICS")
                    })
                    .count();
                assert!(who >= 1, "{}: {all}", e.file);
            }
        }
        if let Some(order) = &e.order {
            let hits = fax_hits(order);
            assert!(
                hits["total"].as_i64().unwrap() >= 1,
                "{}: order {order} not searchable",
                e.file
            );
        }
    }
    // Every fax identity is a number in E.164.
    for t in fax_tickets {
        let (_, d, _) = echodesk(&cfg, &db, &["show", &t["id"].to_string()]);
        for i in d["customer"]["identities"].as_array().unwrap() {
            let v = i["value"].as_str().unwrap();
            assert!(
                v.starts_with('+') && v[1..].chars().all(|c| c.is_ascii_digit()),
                "not E.164: {v}"
            );
        }
    }
    // The hostile fax documents still made fax tickets, with the reason.
    let (_, bomb, _) = echodesk(
        &cfg,
        &db,
        &["list", "--query", "channel:fax +15550123", "--all"],
    );
    let id = bomb["tickets"][0]["id"].to_string();
    let (_, t, _) = echodesk(&cfg, &db, &["show", &id]);
    let msgs = t["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 2, "{t}");
    assert!(msgs.iter().any(|mm| mm["body_text"]
        .as_str()
        .unwrap()
        .contains("self drawing form")));
    assert!(msgs.iter().any(|mm| mm["parse_error"]
        .as_str()
        .is_some_and(|e| e.contains("inflates to more than"))));
    // HTML hostile mail in a fax mailbox: an email with a warning, text kept.
    let (_, deep, _) = echodesk(
        &cfg,
        &db,
        &["list", "--query", "channel:email 4711", "--all"],
    );
    assert_eq!(deep["total"], 1, "{deep}");
    // The forged fax stayed an email from its sender.
    let (_, forged, _) = echodesk(
        &cfg,
        &db,
        &["list", "--query", "channel:email mallory", "--all"],
    );
    assert_eq!(forged["total"], 1, "{forged}");
}

/// Like `echodesk`, with the exit code.
fn echodesk_code(config: &Path, db: &Path, args: &[&str]) -> (Option<i32>, Value, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_echodesk"))
        .arg("--config")
        .arg(config)
        .arg("--db")
        .arg(db)
        .arg("--json")
        .args(args)
        .env("ECHODESK_TEST_PW", "secret")
        .output()
        .unwrap();
    (
        out.status.code(),
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `n` customers write in, and a bulk reply queues an answer to each.
fn queue_answers(m: &Mail, cfg: &Path, db: &Path, n: usize) {
    for i in 0..n {
        m.deliver(
            "support@example.test",
            &format!("{i}.q"),
            &mail(
                &format!("q{i}@example.net"),
                &format!("Question {i}"),
                "",
                "?",
            ),
        );
    }
    let (ok, _, err) = echodesk(cfg, db, &["poll"]);
    assert!(ok, "{err}");
    let body = m.dir.path().join("answer.txt");
    std::fs::write(&body, "Here is the answer, {{ customer.first_name }}.\n").unwrap();
    let (ok, _, err) = echodesk(
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
    assert!(ok, "{err}");
}

/// Message-IDs the SMTP server accepted, each as often as it arrived.
fn spooled_ids(m: &Mail) -> Vec<String> {
    m.spooled()
        .iter()
        .filter_map(|raw| header(raw, "message-id").map(str::to_string))
        .collect()
}

fn outbox_statuses(db: &Path) -> HashMap<String, i64> {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .unwrap();
    let mut st = conn
        .prepare("SELECT status, count(*) FROM outbox GROUP BY status")
        .unwrap();
    st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
}

/// `outbox send` killed with SIGKILL while its four sessions are busy: at
/// most one entry per session is left `sending`; the next sender marks
/// exactly those unknown and exits 10; `outbox resolve` settles each from
/// the Sent mailbox (the server files what it accepts), and in the end
/// every customer has exactly one answer.
#[test]
fn a_killed_sender_strands_at_most_one_entry_per_session_and_resolve_settles_them() {
    let m = Mail::up();
    let cfg = m.config_with_smtp_and("sent_mailbox = \"Sent\"\nserver_saves_sent = true\n", "");
    let db = m.dir.path().join("k.db");
    let n = 40;
    queue_answers(&m, &cfg, &db, n);
    let spool = Path::new(m.get("SMTP_SPOOL")).to_path_buf();
    std::fs::write(spool.join("delay"), "0.15").unwrap();
    let mut sender = Reaped(
        Command::new(env!("CARGO_BIN_EXE_echodesk"))
            .arg("--config")
            .arg(&cfg)
            .arg("--db")
            .arg(&db)
            .args(["outbox", "send"])
            .env("ECHODESK_TEST_PW", "secret")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for("a few sends", 30, || m.spooled().len() >= 8);
    sender.kill().unwrap();
    sender.wait().unwrap();
    let stranded = outbox_statuses(&db).get("sending").copied().unwrap_or(0);
    eprintln!(
        "at the kill: {:?}, {} spooled",
        outbox_statuses(&db),
        m.spooled().len()
    );
    assert!(
        stranded <= 4,
        "{stranded} entries left sending by 4 sessions"
    );
    std::fs::remove_file(spool.join("delay")).unwrap();
    // The server finishes what was on the wire; then it files its copies
    // in Sent, as a provider that keeps sent mail does.
    std::thread::sleep(std::time::Duration::from_millis(500));
    let sent_dir = m.maildir("support@example.test").join(".Sent/cur");
    std::fs::create_dir_all(&sent_dir).unwrap();
    let owner = std::fs::metadata(m.maildir("support@example.test")).unwrap();
    for (i, raw) in m.spooled().iter().enumerate() {
        let p = sent_dir.join(format!("{i}.sent:2,S"));
        std::fs::write(&p, raw).unwrap();
        std::os::unix::fs::chown(&p, Some(owner.uid()), Some(owner.gid())).unwrap();
    }
    std::os::unix::fs::chown(&sent_dir, Some(owner.uid()), Some(owner.gid())).unwrap();
    std::os::unix::fs::chown(
        sent_dir.parent().unwrap(),
        Some(owner.uid()),
        Some(owner.gid()),
    )
    .unwrap();
    let arrived_before = m.spooled().len();

    // Nothing else is due in this pass: the unknown ones are only marked.
    let (code, rep, err) = echodesk_code(&cfg, &db, &["outbox", "send"]);
    let rep = if rep.is_null() { Value::Null } else { rep };
    assert_eq!(code, Some(10), "unknown entries are left: {err}");
    assert_eq!(rep["recovered_unknown"], stranded, "{rep}");
    assert!(err.contains("unknown fate"), "{err}");
    assert_eq!(
        m.spooled().len() as u64,
        arrived_before as u64 + rep["sent"].as_u64().unwrap()
    );

    let (ok, found, err) = echodesk(&cfg, &db, &["outbox", "resolve"]);
    assert!(ok, "{err}");
    let found = found.as_array().unwrap().clone();
    assert_eq!(found.len() as i64, stranded, "{found:?}");
    let ids = spooled_ids(&m);
    for f in &found {
        let (_, show, _) = echodesk(&cfg, &db, &["outbox", "show", &f["id"].to_string()]);
        let how = f["how"].as_str().unwrap();
        assert!(f["applied"] == true, "{f}");
        match f["verdict"].as_str().unwrap() {
            "sent" => assert!(how.contains("found in Sent"), "{f}"),
            "not-sent" => assert!(how.contains("not in Sent"), "{f}"),
            other => panic!("{other}: {f}"),
        }
        assert!(
            show["events"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["kind"] == "outbox-resolved"),
            "{show}"
        );
    }
    // The ones not sent go out now; then everyone has exactly one answer.
    let (code, _, err) = echodesk_code(&cfg, &db, &["outbox", "send"]);
    assert_eq!(code, Some(0), "{err}");
    let ids_after = spooled_ids(&m);
    let unique: std::collections::HashSet<&String> = ids_after.iter().collect();
    assert_eq!(unique.len(), ids_after.len(), "a reply went out twice");
    assert_eq!(ids_after.len(), n, "{:?}", outbox_statuses(&db));
    assert_eq!(outbox_statuses(&db).get("sent"), Some(&(n as i64)));
    assert!(ids.len() <= ids_after.len());
}

/// Two `outbox send` at once on one database: each claims its own
/// entries, neither takes the other's for interrupted ones, and every
/// reply arrives exactly once.
#[test]
fn two_senders_at_once_neither_duplicate_nor_strand() {
    let m = Mail::up();
    let cfg = m.config_with_smtp();
    let db = m.dir.path().join("two.db");
    let n = 40;
    queue_answers(&m, &cfg, &db, n);
    std::fs::write(Path::new(m.get("SMTP_SPOOL")).join("delay"), "0.05").unwrap();
    let spawn = || {
        Command::new(env!("CARGO_BIN_EXE_echodesk"))
            .arg("--config")
            .arg(&cfg)
            .arg("--db")
            .arg(&db)
            .args(["--json", "outbox", "send"])
            .env("ECHODESK_TEST_PW", "secret")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let a = spawn();
    wait_for("the first sender to start", 30, || !m.spooled().is_empty());
    let b = spawn();
    let mut sent = 0;
    for child in [a, b] {
        let out = child.wait_with_output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let rep: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(rep["recovered_unknown"], 0, "{rep}");
        assert_eq!(rep["failed"], 0, "{rep}");
        sent += rep["sent"].as_u64().unwrap();
    }
    assert_eq!(sent, n as u64);
    let ids = spooled_ids(&m);
    let unique: std::collections::HashSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), n, "{ids:?}");
    assert_eq!(ids.len(), n);
    assert_eq!(outbox_statuses(&db).get("sent"), Some(&(n as i64)));
}

/// The "all" total of `report --json` over the last year.
fn year_total(cfg: &Path, db: &Path) -> Value {
    let (ok, v, err) = echodesk(cfg, db, &["report", "--last", "1y", "--by", "total"]);
    assert!(ok, "{err}");
    v["totals"]
        .as_array()
        .and_then(|t| t.last())
        .cloned()
        .unwrap_or(Value::Null)
}

#[test]
fn a_report_mailed_to_a_manager_arrives_with_its_csv_and_the_answer_threads_back() {
    let m = Mail::up();
    let cfg = m.config_with_smtp();
    let db = m.dir.path().join("e.db");
    m.deliver(
        "support@example.test",
        "1.r",
        &mail("r1@example.net", "Broken kettle", "", "It leaks."),
    );
    assert!(echodesk(&cfg, &db, &["poll"]).0);
    let before = year_total(&cfg, &db);
    assert_eq!(before["created"], 1, "{before}");

    let (ok, q, err) = echodesk(
        &cfg,
        &db,
        &[
            "report",
            "--last",
            "1y",
            "--group",
            "channel",
            "--mail-to",
            "Boss <boss@example.test>",
        ],
    );
    assert!(ok, "{err}");
    let ticket = q["queued"][0]["ticket"].as_i64().expect("queued ticket");
    // A bad address refuses the whole mailing, naming the address.
    let (ok, _, err) = echodesk(
        &cfg,
        &db,
        &[
            "report",
            "--mail-to",
            "ok@example.test",
            "--mail-to",
            "not an address",
        ],
    );
    assert!(!ok);
    assert!(err.contains("not an address"), "{err}");

    // Team mail is not the team's work: the figures are what they were.
    let after = year_total(&cfg, &db);
    assert_eq!(after["created"], 1, "{after}");
    assert_eq!(after["messages_out"], before["messages_out"], "{after}");
    let (ok, export, _) = echodesk(&cfg, &db, &["report", "export"]);
    assert!(ok);
    assert_eq!(export["id"], 1, "only the customer ticket: {export}");

    let (ok, rep, err) = echodesk(&cfg, &db, &["outbox", "send"]);
    assert!(ok, "{err}");
    assert_eq!(rep["sent"], 1, "{rep}");
    let sent = m.spooled();
    assert_eq!(sent.len(), 1);
    let raw = &sent[0];
    // The subject, unfolded.
    let mut unfolded = String::new();
    for l in raw.lines().take_while(|l| !l.is_empty()) {
        if l.starts_with([' ', '\t']) {
            unfolded.push_str(l);
        } else {
            unfolded.push('\n');
            unfolded.push_str(l);
        }
    }
    let subject = unfolded
        .lines()
        .find_map(|l| l.strip_prefix("Subject: "))
        .unwrap_or("")
        .to_string();
    assert!(subject.starts_with("echodesk report "), "{raw}");
    assert!(subject.contains("per channel"), "{raw}");
    assert!(subject.contains(&format!("[#{ticket}]")), "{raw}");
    assert!(header(raw, "To").unwrap().contains("boss@example.test"));
    assert!(header(raw, "In-Reply-To").is_none(), "{raw}");
    assert!(raw.contains("multipart/mixed"), "{raw}");
    assert!(raw.contains("Content-Disposition: attachment"), "{raw}");
    assert!(raw.contains("\"echodesk-report-"), "{raw}");
    assert!(raw.contains("text/csv"), "{raw}");
    assert!(raw.contains("Report "), "the table is the text: {raw}");
    let our_id = header(raw, "Message-ID").unwrap().to_string();

    // The manager answers: it threads into the report's ticket, which
    // reopens for the team; still not counted.
    m.deliver(
        "support@example.test",
        "2.r",
        &format!(
            "From: Boss <boss@example.test>\r\nTo: support@example.test\r\nSubject: Re: {subject}\r\n\
             Date: Tue, 24 Nov 2026 10:00:00 +0000\r\nMessage-ID: <boss1@example.test>\r\n\
             In-Reply-To: {our_id}\r\nReferences: {our_id}\r\n\r\nWhy is email so slow?\r\n"
        ),
    );
    let (_, v, _) = echodesk(&cfg, &db, &["poll"]);
    assert_eq!(mailbox_total(&v), (1, 0, 1), "{v}");
    let (_, show, _) = echodesk(&cfg, &db, &["show", &ticket.to_string()]);
    assert_eq!(show["state"], "open", "{show}");
    assert_eq!(show["messages"].as_array().unwrap().len(), 2);
    let last = year_total(&cfg, &db);
    assert_eq!(last["created"], 1, "{last}");
    assert_eq!(last["messages_in"], before["messages_in"], "{last}");
}

/// A config with SMTP, the team in Berlin, and these `[[report.mail]]`
/// schedules.
fn scheduled(m: &Mail, schedules: &str, tables: &str) -> PathBuf {
    let p = m.config_with_smtp_and("poll_interval = 600\n", &format!("{tables}{schedules}"));
    let text = std::fs::read_to_string(&p).unwrap();
    std::fs::write(&p, format!("time_zone = \"Europe/Berlin\"\n{text}")).unwrap();
    p
}

fn report_subjects(m: &Mail) -> Vec<String> {
    m.spooled()
        .iter()
        .filter_map(|raw| {
            raw.lines()
                .find_map(|l| l.strip_prefix("Subject: "))
                .filter(|s| s.starts_with("echodesk report"))
                .map(str::to_string)
        })
        .collect()
}

/// A weekly schedule: each Monday 07:00 (Berlin) slot is mailed once,
/// whatever the runs; a dry run queues nothing; what is queued arrives.
#[test]
fn a_weekly_report_schedule_mails_each_slot_once() {
    let m = Mail::up();
    let cfg = scheduled(
        &m,
        "[[report.mail]]\nname = \"weekly\"\nto = [\"lead@example.test\"]\nevery = \"week\"\nat = \"07:00\"\ngroup = \"channel\"\n",
        "",
    );
    let db = m.dir.path().join("s.db");
    m.deliver(
        "support@example.test",
        "1.r",
        &mail("r1@example.net", "Broken kettle", "", "It leaks."),
    );
    assert!(echodesk(&cfg, &db, &["poll"]).0);
    let due = |now: &str, extra: &[&str]| -> Value {
        let mut args = vec!["report", "mail-due", "--now", now];
        args.extend_from_slice(extra);
        let (ok, v, err) = echodesk(&cfg, &db, &args);
        assert!(ok, "{now}: {err}");
        v
    };
    // Monday 06:59: the week's slot is still to come; the one before was
    // never mailed, so it is.
    let v = due("2026-11-30 06:59", &[]);
    assert_eq!(v["mailed"][0]["slot"], "2026-11-23", "{v}");
    assert_eq!(v["mailed"][0]["from"], "2026-11-16", "{v}");
    // 07:00: this week's, for the week just ended.
    let v = due("2026-11-30 07:00", &[]);
    assert_eq!(v["mailed"][0]["slot"], "2026-11-30", "{v}");
    assert_eq!(
        (&v["mailed"][0]["from"], &v["mailed"][0]["to"]),
        (&Value::from("2026-11-23"), &Value::from("2026-11-29"))
    );
    // Later the same week, and in a new process: nothing more.
    for now in ["2026-11-30 09:00", "2026-12-06 23:59"] {
        let v = due(now, &[]);
        assert_eq!(v["mailed"].as_array().map(Vec::len), Some(0), "{now}: {v}");
    }
    // A dry run says what next Monday mails, and queues nothing.
    let v = due("2026-12-07 07:01", &["--dry-run"]);
    assert_eq!(v["mailed"][0]["from"], "2026-11-30", "{v}");
    assert_eq!(v["mailed"][0]["tickets"].as_array().map(Vec::len), Some(0));
    let (_, outbox, _) = echodesk(&cfg, &db, &["outbox", "list", "--all"]);
    assert_eq!(outbox.as_array().map(Vec::len), Some(2), "{outbox}");

    let (ok, rep, err) = echodesk(&cfg, &db, &["outbox", "send"]);
    assert!(ok, "{err}");
    assert_eq!(rep["sent"], 2, "{rep}");
    let subjects = report_subjects(&m);
    assert_eq!(subjects.len(), 2, "{subjects:?}");
    assert!(
        subjects
            .iter()
            .any(|s| s.contains("2026-11-16 to 2026-11-22")),
        "{subjects:?}"
    );
    assert!(
        subjects
            .iter()
            .any(|s| s.contains("2026-11-23 to 2026-11-29")),
        "{subjects:?}"
    );

    // A schedule with a bad address is refused when the config is read.
    let bad = scheduled(
        &m,
        "[[report.mail]]\nname = \"bad\"\nto = [\"nobody\"]\nevery = \"week\"\n",
        "",
    );
    let (ok, _, err) = echodesk(&bad, &db, &["report", "mail-due"]);
    assert!(!ok);
    assert!(
        err.contains("report.mail `bad`") && err.contains("nobody"),
        "{err}"
    );
}

/// The daemon mails a due schedule by itself, once: restarted, it does
/// not mail the same slot again.
#[test]
fn the_daemon_mails_a_scheduled_report_once_across_restarts() {
    let m = Mail::up();
    // Daily at midnight: the latest slot is always today's, already due.
    let cfg = scheduled(
        &m,
        "[[report.mail]]\nname = \"daily\"\nto = [\"lead@example.test\"]\nevery = \"day\"\nat = \"00:00\"\n",
        "[daemon]\noutbox_interval = 1\n",
    );
    let db = m.dir.path().join("d.db");
    let log = m.dir.path().join("daemon.log");
    let mut d = daemon(&cfg, &db, &log);
    wait_logged("the scheduled report", 60, Some(&log), || {
        report_subjects(&m).len() == 1
    });
    term(&mut d);
    let mut again = daemon(&cfg, &db, &log);
    // Long enough for its first look at the schedules and an outbox pass.
    wait_logged("the restarted daemon's first look", 30, Some(&log), || {
        std::fs::read_to_string(&log)
            .map(|l| l.matches("daemon started").count() >= 2)
            .unwrap_or(false)
    });
    std::thread::sleep(std::time::Duration::from_secs(3));
    term(&mut again);
    assert_eq!(report_subjects(&m).len(), 1, "{:?}", report_subjects(&m));
    let log_text = std::fs::read_to_string(&log).unwrap_or_default();
    assert_eq!(log_text.matches("report mailed").count(), 1, "{log_text}");
}

/// Stops a daemon as an init system would, and waits for it.
fn term(d: &mut Reaped) {
    unsafe { libc::kill(d.id() as i32, libc::SIGTERM) };
    let _ = d.wait();
}
