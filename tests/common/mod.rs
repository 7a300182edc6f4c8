//! Servers for the tests that need several at once (crash trials, faults):
//! Dovecot and the SMTP sink from tests/harness/mail-up, the Twilio fake,
//! and the fault proxy. Each test file uses what it needs.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

pub const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// A child that is killed and reaped however the scope ends.
pub struct Reaped(pub Child);

impl Reaped {
    pub fn stop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Reaped {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `echodesk daemon` on a test's config and store, logging to `log`, with
/// the secrets the test configs name; stopped however the test ends.
pub fn daemon(cfg: &Path, db: &Path, log: &Path) -> Reaped {
    Reaped(
        Command::new(env!("CARGO_BIN_EXE_echodesk"))
            .arg("--config")
            .arg(cfg)
            .arg("--db")
            .arg(db)
            .args(["daemon", "--log"])
            .arg(log)
            .env("ECHODESK_TEST_PW", "secret")
            .env("TWILIO_TOKEN", "secret-token")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

/// Waits up to `secs` for `f`; fails naming `what`, with the daemon's log.
pub fn wait_for(what: &str, secs: u64, log: &Path, f: &mut dyn FnMut() -> bool) {
    let until = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while std::time::Instant::now() < until {
        if f() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    panic!(
        "timed out waiting for {what}; log:\n{}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
}

pub struct Mail {
    pub dir: tempfile::TempDir,
    env: HashMap<String, String>,
}

impl Mail {
    pub fn up() -> Mail {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new(Path::new(ROOT).join("tests/harness/mail-up"))
            .arg(dir.path().join("srv"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "mail-up: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let env = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Mail { dir, env }
    }

    pub fn get(&self, k: &str) -> &str {
        &self.env[k]
    }

    pub fn maildir(&self, user: &str) -> PathBuf {
        let (local, domain) = user.split_once('@').unwrap();
        Path::new(self.get("MAILDIR_ROOT"))
            .join(domain)
            .join(local)
            .join("Maildir")
    }

    pub fn deliver(&self, user: &str, name: &str, raw: &str) {
        let md = self.maildir(user);
        let meta = std::fs::metadata(&md).unwrap();
        let tmp = md.join("tmp").join(name);
        std::fs::write(&tmp, raw).unwrap();
        std::os::unix::fs::chown(&tmp, Some(meta.uid()), Some(meta.gid())).unwrap();
        std::fs::rename(&tmp, md.join("new").join(name)).unwrap();
    }

    /// A config reading `user`'s mailbox, sending through the sink.
    pub fn config(&self, user: &str, extra: &str) -> PathBuf {
        let text = format!(
            "[[accounts]]\nname = \"support\"\naddress = \"{user}\"\n\
             [accounts.imap]\nhost = \"127.0.0.1\"\nport = {}\ntls = \"implicit\"\n\
             user = \"{user}\"\npassword_env = \"ECHODESK_TEST_PW\"\nca_file = \"{ca}\"\npoll_interval = 1\n\
             [accounts.smtp]\nhost = \"127.0.0.1\"\nport = {}\ntls = \"starttls\"\nca_file = \"{ca}\"\ntimeout = 10\n\
             [daemon]\noutbox_interval = 1\n{extra}",
            self.get("IMAPS_PORT"),
            self.get("SMTP_PORT"),
            ca = self.get("CA_CERT"),
        );
        let p = self
            .dir
            .path()
            .join(format!("{}.toml", user.replace('@', "_")));
        std::fs::write(&p, text).unwrap();
        p
    }

    pub fn spool(&self) -> PathBuf {
        PathBuf::from(self.get("SMTP_SPOOL"))
    }

    pub fn clear_spool(&self) {
        for e in std::fs::read_dir(self.spool()).unwrap().flatten() {
            if e.path().extension().is_some_and(|x| x == "eml") {
                std::fs::remove_file(e.path()).unwrap();
            }
        }
    }

    /// The Message-IDs in the spool, as often as each arrived.
    pub fn spooled_ids(&self) -> Vec<String> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(self.spool()).unwrap().flatten() {
            if e.path().extension().is_none_or(|x| x != "eml") {
                continue;
            }
            let raw = std::fs::read_to_string(e.path()).unwrap_or_default();
            if let Some(l) = raw
                .lines()
                .find(|l| l.to_ascii_lowercase().starts_with("message-id:"))
            {
                out.push(l[11..].trim().trim_matches(['<', '>']).to_string());
            }
        }
        out
    }
}

impl Drop for Mail {
    fn drop(&mut self) {
        let _ = Command::new(Path::new(ROOT).join("tests/harness/mail-down"))
            .arg(self.dir.path().join("srv"))
            .status();
    }
}

pub struct Twilio {
    child: Child,
    pub port: u16,
}

impl Twilio {
    pub fn start() -> Twilio {
        let mut child = Command::new("python3")
            .arg(Path::new(ROOT).join("tests/harness/twilio_fake.py"))
            .args(["AC00000000000000000000000000000001", "secret-token"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        Twilio {
            port: line.trim().parse().unwrap(),
            child,
        }
    }

    pub fn control(&self, method: &str, path: &str, body: &Value) -> Value {
        twilio_control(self.port, method, path, body)
    }
}

/// A request to the Twilio fake's control plane (plain HTTP on loopback).
pub fn twilio_control(port: u16, method: &str, path: &str, body: &Value) -> Value {
    use std::io::Read;
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
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

impl Drop for Twilio {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn mail(id: &str, from: &str, subject: &str, extra: &str) -> String {
    format!(
        "From: {from}\r\nTo: support@example.test\r\nSubject: {subject}\r\n\
         Date: Mon, 23 Nov 2026 10:00:00 +0000\r\nMessage-ID: <{id}>\r\n{extra}\r\n\
         Hello, this is message {id}. The heater in room {id} is broken again.\r\n"
    )
}

/// The fault proxy (tests/harness/fault_proxy.py) in front of a port; its
/// mode is a file the test writes.
pub struct Proxy {
    child: Child,
    pub port: u16,
    control: PathBuf,
}

impl Proxy {
    pub fn start(target: u16, dir: &Path) -> Proxy {
        let control = dir.join(format!("proxy-{target}"));
        let mut child = Command::new("python3")
            .arg(Path::new(ROOT).join("tests/harness/fault_proxy.py"))
            .arg(target.to_string())
            .arg(&control)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        let p = Proxy {
            port: line.trim().parse().unwrap(),
            child,
            control,
        };
        p.set("pass");
        p
    }

    /// `pass`, `down`, `reset`, `stall`, `garbage`, `cut_up N`, `mute_down N`.
    pub fn set(&self, mode: &str) {
        let tmp = self.control.with_extension("tmp");
        std::fs::write(&tmp, mode).unwrap();
        std::fs::rename(&tmp, &self.control).unwrap();
        // `down` closes the listener on the proxy's next look (50 ms).
        std::thread::sleep(std::time::Duration::from_millis(120));
    }

    /// The modes of the connections accepted so far.
    pub fn log(&self) -> Vec<String> {
        let mut p = self.control.clone().into_os_string();
        p.push(".log");
        std::fs::read_to_string(p)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs echodesk with `--json` on this config and store, with the test
/// servers' secrets: the exit code, stdout as JSON (or null), stderr.
pub fn run(cfg: &Path, db: &Path, args: &[&str]) -> (Option<i32>, Value, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_echodesk"))
        .arg("--config")
        .arg(cfg)
        .arg("--db")
        .arg(db)
        .arg("--json")
        .args(args)
        .env("ECHODESK_TEST_PW", "secret")
        .env("TWILIO_TOKEN", "secret-token")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code(),
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A fixture's bytes, un-gzipped when stored compressed (`NAME.gz`), and
/// its name without the `.gz`.
pub fn read_fixture(p: &Path) -> (String, Vec<u8>) {
    use std::io::Read;
    let name = p.file_name().unwrap().to_string_lossy().into_owned();
    let raw = std::fs::read(p).unwrap();
    match name.strip_suffix(".gz") {
        Some(base) => {
            let mut d = Vec::new();
            flate2::read::GzDecoder::new(raw.as_slice())
                .read_to_end(&mut d)
                .unwrap();
            (base.to_string(), d)
        }
        None => (name, raw),
    }
}
