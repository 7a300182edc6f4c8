//! The SMS channel through the real binary: a Twilio-compatible gateway
//! (tests/harness/twilio_fake.py, a stateful fake of the 2010-04-01 REST
//! API) and smstools spool directories in smsd's own file format.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::{json, Value};

mod common;

const SID: &str = "AC00000000000000000000000000000001";
const OUR: &str = "+15005550006";

struct Fake {
    child: Child,
    port: u16,
}

impl Fake {
    fn start() -> Fake {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/harness/twilio_fake.py");
        let mut child = Command::new("python3")
            .arg(script)
            .args([SID, "secret-token"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        Fake {
            port: line.trim().parse().unwrap(),
            child,
        }
    }

    /// A request to the fake's control plane (plain HTTP/1.1 on loopback).
    fn control(&self, method: &str, path: &str, body: &Value) -> Value {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        let b = body.to_string();
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{b}",
            b.len()
        )
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        let body = out.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
        serde_json::from_str(body).unwrap_or(Value::Null)
    }

    fn inbound(&self, items: Value) {
        self.control("POST", "/_fake/inbound", &items);
    }

    fn sent(&self) -> Vec<Value> {
        self.control("GET", "/_fake/sent", &json!(null))
            .as_array()
            .cloned()
            .unwrap_or_default()
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Env {
    dir: tempfile::TempDir,
    cfg: PathBuf,
    db: PathBuf,
}

impl Env {
    /// A command's output for people (no --json).
    fn text(&self, args: &[&str]) -> String {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_echodesk"))
            .arg("--config")
            .arg(&self.cfg)
            .arg("--db")
            .arg(&self.db)
            .args(args)
            .env("TWILIO_TOKEN", "secret-token")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn new(config: &str) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("config.toml");
        std::fs::write(&cfg, config).unwrap();
        let db = dir.path().join("sms.db");
        Env { dir, cfg, db }
    }

    fn run(&self, args: &[&str]) -> (Option<i32>, Value, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_echodesk"))
            .arg("--config")
            .arg(&self.cfg)
            .arg("--db")
            .arg(&self.db)
            .arg("--json")
            .args(args)
            .env("TWILIO_TOKEN", "secret-token")
            .output()
            .unwrap();
        (
            out.status.code(),
            serde_json::from_slice(&out.stdout).unwrap_or(Value::Null),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn ok(&self, args: &[&str]) -> Value {
        let (code, v, err) = self.run(args);
        assert_eq!(code, Some(0), "{args:?}: {err}");
        v
    }

    fn body(&self, text: &str) -> String {
        let p = self.dir.path().join(format!("b{}.txt", text.len()));
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_string()
    }

    fn ticket_of(&self, from: &str) -> Value {
        let list = self.ok(&["list", "--query", &format!("from:{from}"), "--all"]);
        let id = list["tickets"][0]["id"]
            .as_i64()
            .unwrap_or_else(|| panic!("no ticket from {from}: {list}"));
        self.ok(&["show", &id.to_string()])
    }
}

fn twilio_config(port: u16, extra: &str) -> String {
    format!(
        "[[sms]]\nname = \"twilio\"\nkind = \"twilio\"\nnumber = \"{OUR}\"\naccount_sid = \"{SID}\"\n\
         token_env = \"TWILIO_TOKEN\"\nbase_url = \"http://127.0.0.1:{port}\"\ntimeout = 10\n{extra}"
    )
}

fn ago(hours: i64) -> i64 {
    chrono::Utc::now().timestamp() - hours * 3600
}

#[test]
fn twilio_texts_become_tickets_and_replies_go_out_with_delivery_states() {
    let fake = Fake::start();
    // The first text is 30 hours old: with the default `history_days = 1`
    // (from yesterday's GMT midnight) it is out of reach before 06:00 GMT,
    // so the first poll reaches two days back.
    let env = Env::new(&twilio_config(
        fake.port,
        "max_segments = 2\nhistory_days = 2\n",
    ));
    let jpeg = base64_encode(b"\xff\xd8\xff\xe0 not really a jpeg");
    fake.inbound(json!([
        {"from": "+14155550100", "to": OUR, "body": "Hi, my order 80301 still hasn't arrived", "date_sent": ago(30)},
        {"from": "+14155550100", "to": OUR, "body": "Any news?", "date_sent": ago(2)},
        {"from": "+14155550101", "to": OUR, "body": "", "date_sent": ago(1),
         "media": [{"content_type": "image/jpeg", "data": jpeg}]},
        {"from": "12345", "to": OUR, "body": "Your code is 9999", "date_sent": ago(1)},
        {"from": "+14155550000", "to": OUR, "body": "", "date_sent": ago(1)},
        {"from": "+14155550100", "to": "+15005550099", "body": "to another number", "date_sent": ago(1)},
    ]));
    let polled = env.ok(&["poll"]);
    assert_eq!(polled[0]["sms"]["fetched"], 5, "{polled}");
    assert_eq!(polled[0]["sms"]["created"], 4, "{polled}");
    assert_eq!(polled[0]["sms"]["threaded"], 1, "{polled}");

    // One customer, one ticket, both texts; the number is the identity.
    let t = env.ticket_of("+14155550100");
    assert_eq!(t["channel"], "sms");
    assert_eq!(t["messages"].as_array().unwrap().len(), 2);
    assert_eq!(t["customer"]["identities"][0]["value"], "+14155550100");
    // MMS media are attachments; an empty text is kept, marked as such.
    let mms = env.ticket_of("+14155550101");
    let atts = mms["messages"][0]["attachments"].as_array().unwrap();
    assert_eq!(atts[0]["content_type"], "image/jpeg");
    let empty = env.ticket_of("+14155550000");
    assert_eq!(empty["messages"][0]["body_text"], "(empty message)");

    // Polling again (from the day before the cursor) stores nothing twice;
    // what was fetched again counts as fetched, and as already stored.
    let again = env.ok(&["poll"]);
    assert_eq!(again[0]["sms"]["created"], 0, "{again}");
    assert_eq!(again[0]["sms"]["threaded"], 0, "{again}");
    // The 30-hour-old text is listed again only when it was sent yesterday
    // (GMT); the four younger ones always are.
    let refetched = again[0]["sms"]["fetched"].as_u64().unwrap_or(0);
    let old_day = chrono::DateTime::from_timestamp(ago(30), 0).map(|d| d.date_naive());
    let yesterday = chrono::Utc::now().date_naive().pred_opt();
    let expected = if old_day == yesterday { 5 } else { 4 };
    assert_eq!(refetched, expected, "{again}");
    assert_eq!(again[0]["sms"]["duplicates"], refetched, "{again}");

    // The gateway failing twice (500) and then throttling (429) is ridden out.
    fake.control("POST", "/_fake/faults", &json!({"status": 500, "times": 2}));
    fake.control(
        "POST",
        "/_fake/faults",
        &json!({"status": 429, "times": 1, "retry_after": 1}),
    );
    fake.inbound(
        json!([{"from": "+14155550100", "to": OUR, "body": "Hello??", "date_sent": ago(0)}]),
    );
    let polled = env.ok(&["poll"]);
    assert_eq!(polled[0]["sms"]["threaded"], 1, "{polled}");

    // A reply goes out form-encoded to the right number, and its delivery
    // state follows the gateway: queued → sending → sent → delivered.
    let id = t["id"].as_i64().unwrap().to_string();
    env.ok(&[
        "reply",
        &id,
        "--body-file",
        &env.body("It ships today. 你好"),
    ]);
    let rep = env.ok(&["outbox", "send"]);
    assert_eq!(rep["sent"], 1, "{rep}");
    let sent = fake.sent();
    assert_eq!(sent[0]["to"], "+14155550100");
    assert_eq!(sent[0]["from"], OUR);
    assert_eq!(sent[0]["body"], "It ships today. 你好");
    for _ in 0..5 {
        env.ok(&["outbox", "send"]);
    }
    let rows = env.ok(&["outbox", "list", "--all"]);
    assert_eq!(rows[0]["delivery"], "delivered", "{rows}");
    // People see the delivery and the message SID too, not only scripts.
    let sid = rows[0]["provider_ref"].as_str().unwrap().to_string();
    assert!(sid.starts_with("SM"), "{rows}");
    let out = env.text(&["outbox", "list", "--all"]);
    assert!(out.contains("sent · delivered"), "{out}");
    assert!(out.contains(&sid), "{out}");
    let out = env.text(&["outbox", "show", &rows[0]["id"].to_string()]);
    assert!(
        out.contains("sent · delivered") && out.contains(&sid),
        "{out}"
    );
    let shown = env.ok(&["show", &id]);
    let last = shown["messages"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["direction"], "out");

    // Undeliverable: the failure and Twilio's code land on the ticket.
    let dead_id = empty["id"].as_i64().unwrap();
    let dead = dead_id.to_string();
    env.ok(&[
        "reply",
        &dead,
        "--body-file",
        &env.body("Did you mean to write?"),
    ]);
    for _ in 0..6 {
        env.ok(&["outbox", "send"]);
    }
    let rows = env.ok(&["outbox", "list", "--all"]);
    let row = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["ticket_id"] == dead_id)
        .unwrap();
    assert_eq!(row["delivery"], "undelivered", "{rows}");
    assert!(row["delivery_detail"].as_str().unwrap().contains("30003"));
    let ev = env.ok(&["show", &dead]);
    assert!(
        ev["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "delivery-failed"),
        "{ev}"
    );

    // A short code cannot be texted back: refused when the reply is
    // written, not queued to fail at the gateway.
    let code = env.ticket_of("12345")["id"].as_i64().unwrap().to_string();
    let before = env
        .ok(&["outbox", "list", "--all"])
        .as_array()
        .unwrap()
        .len();
    let (exit, _, err) = env.run(&["reply", &code, "--body-file", &env.body("Thanks")]);
    assert_eq!(exit, Some(6), "{err}");
    assert!(err.contains("short code"), "{err}");
    assert_eq!(
        env.ok(&["outbox", "list", "--all"])
            .as_array()
            .unwrap()
            .len(),
        before
    );

    // Too long for max_segments = 2: refused at once, naming the count.
    let (code, _, err) = env.run(&["reply", &id, "--body-file", &env.body(&"x".repeat(400))]);
    assert_eq!(code, Some(6), "{err}");
    assert!(err.contains("segments"), "{err}");
}

#[test]
fn wrong_token_is_a_clear_permanent_error() {
    let fake = Fake::start();
    let env = Env::new(&twilio_config(fake.port, "").replace("TWILIO_TOKEN", "WRONG_TOKEN"));
    let out = Command::new(env!("CARGO_BIN_EXE_echodesk"))
        .arg("--config")
        .arg(&env.cfg)
        .arg("--db")
        .arg(&env.db)
        .arg("poll")
        .env("WRONG_TOKEN", "nope")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("sms account `twilio`") && err.contains("20003"),
        "{err}"
    );
    assert!(!err.contains("nope"), "the token never shows: {err}");
}

#[test]
fn smstools_spool_in_and_out() {
    let dir = tempfile::tempdir().unwrap();
    let spool = dir.path().join("spool");
    echodesk::channel::sms::smstools::make_spool(&spool).unwrap();
    let env = Env::new(&format!(
        "[[sms]]\nname = \"modem\"\nkind = \"smstools\"\nnumber = \"+4915100000000\"\nspool = \"{}\"\n",
        spool.display()
    ));
    let mut ucs2 = b"From: 8613800138000\nFrom_TOA: 91 international, ISDN/telephone\nReceived: 26-11-23 10:00:05\nAlphabet: UCS2\n\n".to_vec();
    ucs2.extend(
        "你好，快递到了吗？"
            .encode_utf16()
            .flat_map(|u| u.to_be_bytes()),
    );
    std::fs::write(spool.join("incoming/GSM1.a1"), &ucs2).unwrap();
    std::fs::write(
        spool.join("incoming/GSM1.a2"),
        b"From: 4915112345678\nFrom_TOA: 91 international\nReceived: 26-11-23 10:01:00\nAlphabet: ISO\n\nGr\xfc\xdfe, wo bleibt mein Paket?\n",
    )
    .unwrap();
    let polled = env.ok(&["poll"]);
    assert_eq!(polled[0]["sms"]["created"], 2, "{polled}");
    // Moved only after the commit; none left behind.
    assert_eq!(
        std::fs::read_dir(spool.join("incoming")).unwrap().count(),
        0
    );
    assert_eq!(
        std::fs::read_dir(spool.join("processed")).unwrap().count(),
        2
    );
    let zh = env.ticket_of("+8613800138000");
    assert_eq!(zh["messages"][0]["body_text"], "你好，快递到了吗？");
    let de = env.ticket_of("+4915112345678");
    assert_eq!(
        de["messages"][0]["body_text"],
        "Grüße, wo bleibt mein Paket?"
    );

    // Replies become smsd outgoing files: UCS2 for Chinese.
    let zh_id = zh["id"].as_i64().unwrap().to_string();
    env.ok(&["reply", &zh_id, "--body-file", &env.body("今天发货")]);
    let rep = env.ok(&["outbox", "send"]);
    assert_eq!(rep["sent"], 1, "{rep}");
    let files: Vec<PathBuf> = std::fs::read_dir(spool.join("outgoing"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1);
    let raw = std::fs::read(&files[0]).unwrap();
    let parsed =
        echodesk::channel::sms::smstools::parse(&[b"From: x\n".as_slice(), &raw].concat()).unwrap();
    assert_eq!(parsed.text, "今天发货");
    assert!(String::from_utf8_lossy(&raw).starts_with("To: 8613800138000\nAlphabet: UCS2\n"));

    // smsd gives up on it: the failure and its reason reach the entry.
    let name = files[0].file_name().unwrap();
    let mut failed = raw.clone();
    failed.splice(
        0..0,
        b"Failed: 26-11-23 10:05:00\nFail_reason: No answer from modem\n"
            .iter()
            .copied(),
    );
    std::fs::write(spool.join("failed").join(name), failed).unwrap();
    std::fs::remove_file(&files[0]).unwrap();
    env.ok(&["outbox", "send"]);
    let rows = env.ok(&["outbox", "list", "--all"]);
    assert_eq!(rows[0]["delivery"], "failed", "{rows}");
    assert_eq!(rows[0]["delivery_detail"], "No answer from modem");
}

/// The reply's length is checked against the account the customer wrote
/// to, not the first configured one.
/// Hostile files in the middle of a spool: a symlink to a file outside,
/// a huge file, garbage, two broken files from different senders. The
/// texts around them come in; the symlink's target never does; the broken
/// files do not merge into one customer.
#[test]
fn a_hostile_smstools_spool_stops_nothing_and_imports_no_outside_file() {
    let dir = tempfile::tempdir().unwrap();
    let spool = dir.path().join("spool");
    echodesk::channel::sms::smstools::make_spool(&spool).unwrap();
    let env = Env::new(&format!(
        "[[sms]]\nname = \"modem\"\nkind = \"smstools\"\nnumber = \"+4915100000000\"\nspool = \"{}\"\n",
        spool.display()
    ));
    let text = |from: &str, body: &str| {
        format!("From: {from}\nFrom_TOA: 91 international\nReceived: 26-11-23 10:01:00\nAlphabet: ISO\n\n{body}\n")
    };
    let inc = spool.join("incoming");
    std::fs::write(inc.join("GSM1.a1"), text("4915112345678", "first text")).unwrap();
    let secret = dir.path().join("secret.txt");
    std::fs::write(&secret, text("4915199999999", "SECRET-OUTSIDE-FILE")).unwrap();
    std::os::unix::fs::symlink(&secret, inc.join("GSM1.a2")).unwrap();
    std::fs::write(inc.join("GSM1.a3"), vec![b'x'; 5 << 20]).unwrap();
    std::fs::write(inc.join("GSM1.a4"), b"\x00\xff\xfe garbage with no headers").unwrap();
    std::fs::write(
        inc.join("GSM1.a5"),
        b"Received: 26-11-23 10:02:00\n\nno sender one",
    )
    .unwrap();
    std::fs::write(inc.join("GSM1.a6"), b"Alphabet: ISO\n\nno sender two").unwrap();
    std::fs::write(inc.join("GSM1.a7"), text("4915187654321", "last text")).unwrap();
    let started = std::time::Instant::now();
    let polled = env.ok(&["poll"]);
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
    assert_eq!(polled[0]["sms"]["fetched"], 6, "{polled}");
    assert_eq!(
        env.ticket_of("+4915112345678")["messages"][0]["body_text"],
        "first text"
    );
    assert_eq!(
        env.ticket_of("+4915187654321")["messages"][0]["body_text"],
        "last text"
    );
    let (_, hits, _) = env.run(&["list", "--query", "SECRET-OUTSIDE-FILE", "--all"]);
    assert_eq!(hits["total"], 0, "a symlinked file was imported: {hits}");
    let (_, all, _) = env.run(&["list", "--query", "channel:sms", "--all"]);
    assert_eq!(all["total"], 6, "{all}");
    let mut customers: Vec<String> = all["tickets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["customer_id"].to_string())
        .collect();
    customers.sort();
    customers.dedup();
    assert_eq!(
        customers.len(),
        6,
        "broken files merged into one customer: {all}"
    );
    let (_, big, _) = env.run(&["list", "--query", "channel:sms xxxx*", "--all"]);
    let id = big["tickets"][0]["id"].to_string();
    let (_, t, _) = env.run(&["show", &id]);
    assert!(
        t["messages"][0]["parse_error"]
            .as_str()
            .unwrap()
            .contains("larger than 1 MiB"),
        "{t}"
    );
    // The symlink is left where it was planted, for a person to look at.
    assert!(std::fs::symlink_metadata(inc.join("GSM1.a2")).is_ok());
}

#[test]
fn a_reply_is_held_to_the_limit_of_the_account_the_customer_wrote_to() {
    let dir = tempfile::tempdir().unwrap();
    let (roomy, tight) = (dir.path().join("roomy"), dir.path().join("tight"));
    for s in [&roomy, &tight] {
        echodesk::channel::sms::smstools::make_spool(s).unwrap();
    }
    let env = Env::new(&format!(
        "[[sms]]\nname = \"roomy\"\nkind = \"smstools\"\nnumber = \"+4915100000001\"\nspool = \"{}\"\nmax_segments = 10\n\
         [[sms]]\nname = \"tight\"\nkind = \"smstools\"\nnumber = \"+4915100000002\"\nspool = \"{}\"\nmax_segments = 1\n",
        roomy.display(),
        tight.display()
    ));
    std::fs::write(
        tight.join("incoming/GSM1.b1"),
        b"From: 4915112345678\nFrom_TOA: 91 international\nReceived: 26-11-23 10:01:00\nAlphabet: ISO\n\nHallo?\n",
    )
    .unwrap();
    env.ok(&["poll"]);
    let id = env.ticket_of("+4915112345678")["id"]
        .as_i64()
        .unwrap()
        .to_string();
    // Two segments: fine for `roomy`, too long for `tight`.
    let (code, _, err) = env.run(&["reply", &id, "--body-file", &env.body(&"x".repeat(200))]);
    assert_eq!(code, Some(6), "{err}");
    assert!(err.contains("`tight`"), "{err}");
    env.ok(&["reply", &id, "--body-file", &env.body("Ja, morgen.")]);
}

fn base64_encode(data: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(data)
}

/// A Gammu SMSD database made from Gammu's own schema (shipped by
/// Debian's gammu-smsd): its directory, path and a connection.
fn gammu_db() -> (tempfile::TempDir, PathBuf, rusqlite::Connection) {
    let schema = std::fs::read_to_string("/usr/share/doc/gammu-smsd/examples/sqlite.sql")
        .expect("Gammu's schema: install the Debian package gammu-smsd (scripts/test does)");
    let dir = tempfile::tempdir().unwrap();
    let gdb = dir.path().join("smsd.db");
    let g = rusqlite::Connection::open(&gdb).unwrap();
    g.execute_batch(&schema).unwrap();
    (dir, gdb, g)
}

/// Rows another program wrote badly: invalid UTF-8 in a TEXT column, a
/// blob sender, a time that is not one, a UDH that is not hex. The good rows around
/// them come in and nothing stops the poll.
#[test]
fn gammu_rows_that_are_not_what_the_schema_says_stop_nothing() {
    let (_dir, gdb, g) = gammu_db();
    let now = chrono::Utc::now().format("%Y-%m-%d %H:%M:%S").to_string();
    g.execute_batch(&format!(
        "INSERT INTO inbox (ReceivingDateTime, Text, SenderNumber, Coding, UDH, TextDecoded, RecipientID)
         VALUES ('{now}', '', '+4915111111111', 'Default_No_Compression', '', 'good before', 'modem');
         INSERT INTO inbox (ReceivingDateTime, Text, SenderNumber, Coding, UDH, TextDecoded, RecipientID)
         VALUES ('{now}', '', '+4915122222222', 'Default_No_Compression', '', CAST(X'4761726261676520FFFE' AS TEXT), 'modem');
         INSERT INTO inbox (ReceivingDateTime, Text, SenderNumber, Coding, UDH, TextDecoded, RecipientID)
         VALUES ('not a time', '', X'2B3439313533333333', 'Default_No_Compression', 'ZZZZ', 'blob sender', 'modem');
         INSERT INTO inbox (ReceivingDateTime, Text, SenderNumber, Coding, UDH, TextDecoded, RecipientID)
         VALUES ('{now}', '', '+4915144444444', 'Default_No_Compression', '', 'good after', 'modem');"
    ))
    .unwrap();
    let env = Env::new(&format!(
        "[[sms]]\nname = \"gammu\"\nkind = \"gammu\"\nnumber = \"+4915100000000\"\ndatabase = \"{}\"\n",
        gdb.display()
    ));
    let polled = env.ok(&["poll"]);
    assert_eq!(polled[0]["sms"]["fetched"], 4, "{polled}");
    assert_eq!(
        env.ticket_of("+4915111111111")["messages"][0]["body_text"],
        "good before"
    );
    assert_eq!(
        env.ticket_of("+4915144444444")["messages"][0]["body_text"],
        "good after"
    );
    let bad = env.ticket_of("+4915122222222");
    assert!(bad["messages"][0]["body_text"]
        .as_str()
        .unwrap()
        .starts_with("Garbage "));
}

/// Gammu SMSD's SQL backend, on a database made from Gammu's own schema
/// (shipped by Debian's gammu-smsd).
#[test]
fn gammu_sql_inbox_outbox_and_sentitems() {
    let (_dir, gdb, g) = gammu_db();
    let now = chrono::Utc::now().format("%Y-%m-%d %H:%M:%S").to_string();
    let add = |sender: &str, text: &str, udh: &str, coding: &str| {
        g.execute(
            "INSERT INTO inbox (ReceivingDateTime, Text, SenderNumber, Coding, UDH, TextDecoded, RecipientID)
             VALUES (?, '', ?, ?, ?, ?, 'modem')",
            rusqlite::params![now, sender, coding, udh, text],
        )
        .unwrap();
    };
    add(
        "+4915112345678",
        "Wo bleibt mein Paket?",
        "",
        "Default_No_Compression",
    );
    // A concatenated text, its parts out of order.
    add(
        "+8613800138000",
        "第二部分。",
        "050003A70202",
        "Unicode_No_Compression",
    );
    add(
        "+8613800138000",
        "您好，这是第一部分，",
        "050003A70201",
        "Unicode_No_Compression",
    );
    // Two of three parts: it waits for the third.
    add(
        "+8613800138001",
        "part one ",
        "0500030C0301",
        "Default_No_Compression",
    );
    add(
        "+8613800138001",
        "part two ",
        "0500030C0302",
        "Default_No_Compression",
    );

    let env = Env::new(&format!(
        "[[sms]]\nname = \"gammu\"\nkind = \"gammu\"\nnumber = \"+4915100000000\"\ndatabase = \"{}\"\n",
        gdb.display()
    ));
    let polled = env.ok(&["poll"]);
    assert_eq!(polled[0]["sms"]["created"], 2, "{polled}");
    let zh = env.ticket_of("+8613800138000");
    assert_eq!(
        zh["messages"][0]["body_text"],
        "您好，这是第一部分，第二部分。"
    );
    let waiting: i64 = g
        .query_row(
            "SELECT count(*) FROM inbox WHERE Processed = 'false'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(waiting, 2, "the incomplete text stays for later");
    // Nothing twice on the next pass.
    assert_eq!(env.ok(&["poll"])[0]["sms"]["fetched"], 0);

    // A long Chinese reply goes out as a two-part UCS-2 text, as Gammu expects.
    let reply = "您好！".repeat(30);
    let zh_id = zh["id"].as_i64().unwrap().to_string();
    env.ok(&["reply", &zh_id, "--body-file", &env.body(&reply)]);
    assert_eq!(env.ok(&["outbox", "send"])["sent"], 1);
    let (id, multi, coding, udh1, part1): (i64, String, String, String, String) = g
        .query_row(
            "SELECT ID, MultiPart, Coding, UDH, TextDecoded FROM outbox WHERE DestinationNumber = '+8613800138000'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .unwrap();
    assert_eq!(
        (multi.as_str(), coding.as_str()),
        ("true", "Unicode_No_Compression")
    );
    let (udh2, part2): (String, String) = g
        .query_row(
            "SELECT UDH, TextDecoded FROM outbox_multipart WHERE ID = ? AND SequencePosition = 2",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert!(
        udh1.starts_with("050003") && udh1.ends_with("0201"),
        "{udh1}"
    );
    assert_eq!(&udh2[..8], &udh1[..8], "one reference for both parts");
    assert!(udh2.ends_with("0202"));
    assert_eq!(format!("{part1}{part2}"), reply);

    // Gammu sends it: the parts move to sentitems; delivery follows.
    env.ok(&["outbox", "send"]);
    assert_eq!(
        env.ok(&["outbox", "list", "--all"])[0]["delivery"],
        "queued"
    );
    for seq in [1, 2] {
        g.execute(
            "INSERT INTO sentitems (ID, SequencePosition, Text, DestinationNumber, UDH, SenderID, CreatorID, Status)
             VALUES (?, ?, '', '+8613800138000', '', 'modem', 'echodesk', 'DeliveryOK')",
            rusqlite::params![id, seq],
        )
        .unwrap();
    }
    g.execute("DELETE FROM outbox WHERE ID = ?", [id]).unwrap();
    g.execute("DELETE FROM outbox_multipart WHERE ID = ?", [id])
        .unwrap();
    env.ok(&["outbox", "send"]);
    assert_eq!(
        env.ok(&["outbox", "list", "--all"])[0]["delivery"],
        "delivered"
    );
}

/// The daemon works an SMS gateway on its own: texts arrive within the
/// poll interval, a reply goes out, and its delivery state moves on.
#[test]
fn the_daemon_polls_the_gateway_and_follows_delivery() {
    let fake = Fake::start();
    let env = Env::new(
        &(twilio_config(fake.port, "poll_interval = 1\n") + "[daemon]\noutbox_interval = 1\n"),
    );
    let log = env.dir.path().join("daemon.log");
    let mut daemon = common::daemon(&env.cfg, &env.db, &log);
    let wait = |what: &str, f: &mut dyn FnMut() -> bool| common::wait_for(what, 20, &log, f);
    fake.inbound(json!([{"from": "+14155550100", "to": OUR, "body": "Is my order on its way?", "date_sent": ago(0)}]));
    wait("the text to become a ticket", &mut || {
        env.run(&["list"]).1["total"] == 1
    });
    let t = env.ticket_of("+14155550100");
    env.ok(&[
        "reply",
        &t["id"].to_string(),
        "--body-file",
        &env.body("Yes, it arrives tomorrow."),
    ]);
    wait("the reply to be delivered", &mut || {
        env.run(&["outbox", "list", "--all"]).1[0]["delivery"] == "delivered"
    });
    assert_eq!(fake.sent()[0]["body"], "Yes, it arrives tomorrow.");
    unsafe { libc::kill(daemon.0.id() as i32, libc::SIGTERM) };
    let status = daemon.0.wait().unwrap();
    assert!(status.success(), "{status:?}");
}

/// Entries a crash left `unknown` are settled from the gateway's own
/// message list: one the gateway has is sent (with its SID), one it never
/// got is queued again and goes out once. A sender id that is a name is
/// refused at queue time.
#[test]
fn resolve_asks_the_gateway_what_a_crash_left_unknown() {
    let fake = Fake::start();
    let env = Env::new(&twilio_config(fake.port, ""));
    fake.inbound(json!([
        {"from": "+14155550111", "to": OUR, "body": "Is it fixed?", "date_sent": ago(1)},
        {"from": "+14155550112", "to": OUR, "body": "Hello?", "date_sent": ago(1)},
        {"from": "ACME", "to": OUR, "body": "Your parcel is on its way", "date_sent": ago(1)},
    ]));
    env.ok(&["poll"]);
    let acme = env.ticket_of("ACME")["id"].as_i64().unwrap().to_string();
    let (exit, _, err) = env.run(&["reply", &acme, "--body-file", &env.body("Thanks")]);
    assert_eq!(exit, Some(6), "{err}");
    assert!(err.contains("alphanumeric sender id"), "{err}");

    let a = env.ticket_of("+14155550111")["id"].as_i64().unwrap();
    let b = env.ticket_of("+14155550112")["id"].as_i64().unwrap();
    env.ok(&[
        "reply",
        &a.to_string(),
        "--body-file",
        &env.body("Yes, since noon."),
    ]);
    // A reaches the gateway, then the record of it is lost to a "crash".
    env.ok(&["outbox", "send"]);
    let conn = rusqlite::Connection::open(&env.db).unwrap();
    conn.execute(
        "UPDATE outbox SET status = 'unknown', provider_ref = NULL WHERE ticket_id = ?",
        [a],
    )
    .unwrap();
    // B was claimed by a sender that died before it posted anything.
    env.ok(&[
        "reply",
        &b.to_string(),
        "--body-file",
        &env.body("Hello to you."),
    ]);
    {
        let mut store = echodesk::store::Store::open(&env.db, Default::default()).unwrap();
        let tx = store.transaction().unwrap();
        assert_eq!(tx.claim_due("sms", 10, "died-mid-send").unwrap().len(), 1);
        tx.commit().unwrap();
    }
    let (exit, rep, _) = env.run(&["outbox", "send"]);
    assert_eq!(exit, Some(10), "{rep}");
    assert_eq!(rep["recovered_unknown"], 1, "{rep}");
    assert_eq!(fake.sent().len(), 1);

    let dry = env.ok(&["outbox", "resolve", "--dry-run"]);
    assert_eq!(dry.as_array().unwrap().len(), 2, "{dry}");
    assert!(dry
        .as_array()
        .unwrap()
        .iter()
        .all(|f| f["applied"] == false));
    let found = env.ok(&["outbox", "resolve"]);
    let by_ticket = |t: i64| {
        found
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["ticket_id"] == t)
            .unwrap()
            .clone()
    };
    let fa = by_ticket(a);
    assert_eq!(fa["verdict"], "sent", "{found}");
    assert_eq!(fa["reference"], fake.sent()[0]["sid"], "{found}");
    let fb = by_ticket(b);
    assert_eq!(fb["verdict"], "not-sent", "{found}");
    assert!(
        fb["how"].as_str().unwrap().contains("lists no message"),
        "{fb}"
    );
    let rep = env.ok(&["outbox", "send"]);
    assert_eq!(rep["sent"], 1, "{rep}");
    let sent = fake.sent();
    assert_eq!(
        sent.len(),
        2,
        "each reply reached the gateway once: {sent:?}"
    );
    assert_eq!(sent[1]["to"], "+14155550112");
    let rows = env.ok(&["outbox", "list", "--all"]);
    assert!(
        rows.as_array()
            .unwrap()
            .iter()
            .all(|r| r["status"] == "sent"),
        "{rows}"
    );
}
