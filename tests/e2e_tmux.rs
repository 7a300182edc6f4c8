//! The real binary in a real terminal: tmux runs `echodesk` on a demo
//! store, keys are sent as a person would type them, and both the screen
//! and the store are checked. Needs tmux (scripts/test installs it).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

struct Tmux {
    session: String,
}

impl Tmux {
    fn start(cmd: &str, env: &[(&str, &str)]) -> Tmux {
        let available = Command::new("tmux")
            .arg("-V")
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        assert!(
            available,
            "tmux is required for this test; scripts/test installs it (apt-get install tmux)"
        );
        // Tests run in parallel in one process: one session each.
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let session = format!("echodesk-e2e-{}-{n}", std::process::id());
        let mut c = Command::new("tmux");
        c.args(["new-session", "-d", "-s", &session, "-x", "110", "-y", "32"]);
        for (k, v) in env {
            c.args(["-e", &format!("{k}={v}")]);
        }
        c.arg(cmd);
        assert!(c.status().unwrap().success());
        Tmux { session }
    }

    fn screen(&self) -> String {
        let out = Command::new("tmux")
            .args(["capture-pane", "-p", "-t", &self.session])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn wait_for(&self, needle: &str) -> String {
        let start = Instant::now();
        loop {
            let s = self.screen();
            if s.contains(needle) {
                return s;
            }
            assert!(
                start.elapsed() < Duration::from_secs(15),
                "`{needle}` never appeared; screen:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Sends keys one at a time with a pause, so that Escape is never
    /// merged with the next key into an Alt chord.
    fn keys(&self, keys: &[&str]) {
        for k in keys {
            let st = Command::new("tmux")
                .args(["send-keys", "-t", &self.session, k])
                .status()
                .unwrap();
            assert!(st.success());
            std::thread::sleep(Duration::from_millis(60));
        }
    }

    fn text(&self, s: &str) {
        let st = Command::new("tmux")
            .args(["send-keys", "-t", &self.session, "-l", s])
            .status()
            .unwrap();
        assert!(st.success());
        std::thread::sleep(Duration::from_millis(60));
    }

    fn alive(&self) -> bool {
        Command::new("tmux")
            .args(["has-session", "-t", &self.session])
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["kill-session", "-t", &self.session])
            .status();
    }
}

fn show_json(bin: &Path, db: &Path, id: &str) -> serde_json::Value {
    let out = Command::new(bin)
        .arg("--db")
        .arg(db)
        .args(["--json", "show", id])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn triage_a_ticket_in_the_real_terminal() {
    let bin = Path::new(env!("CARGO_BIN_EXE_echodesk"));
    let dir = tempfile::tempdir().unwrap();
    let demo = dir.path().join("demo");
    let st = Command::new(bin)
        .args(["demo", "--build-only", "--tickets", "150", "--dir"])
        .arg(&demo)
        .status()
        .unwrap();
    assert!(st.success());
    let db = demo.join("demo.db");
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "canned_dir = \"{}\"\nsignature = \"— {{agent}}\"\n",
            demo.join("canned").display()
        ),
    )
    .unwrap();
    let cmd = format!(
        "{} --config {} --db {} ; sleep 30",
        bin.display(),
        config.display(),
        db.display()
    );
    let home = dir.path().to_str().unwrap();
    let tmp = dir.path().join("tmp");
    let paged = dir.path().join("paged");
    std::fs::create_dir(&tmp).unwrap();
    std::fs::create_dir(&paged).unwrap();
    // A "pager" that keeps a copy of what it was given, and its mode.
    let pager = format!(
        "stat -c %a \"$(dirname \"$1\")\" > {p}/mode; cp -t {p}",
        p = paged.display()
    );
    let t = Tmux::start(
        &cmd,
        &[
            ("TMPDIR", tmp.to_str().unwrap()),
            ("PAGER", &pager),
            ("ECHODESK_AGENT", "e2e"),
            ("HOME", home),
            ("XDG_CONFIG_HOME", home),
            ("TERM", "xterm-256color"),
        ],
    );

    let s = t.wait_for("? help");
    assert!(s.contains("STATE") && s.contains("SUBJECT"), "{s}");

    // Search in Chinese, open the first hit.
    t.keys(&["/"]);
    t.text("退款 is:open");
    t.keys(&["Enter"]);
    t.wait_for("search: 退款 is:open");
    t.keys(&["Enter"]);
    let s = t.wait_for("Customer");
    let title_line = s
        .lines()
        .find(|l| l.contains("┌ #"))
        .expect("ticket title")
        .to_string();
    let id: String = title_line
        .split("┌ #")
        .nth(1)
        .unwrap()
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    assert!(!id.is_empty(), "{title_line}");

    // Change the state from the menu (only allowed transitions are listed).
    // The last step sets the state again through the canned answer.
    t.keys(&["s"]);
    let s = t.wait_for("┌ State");
    // The menu box only (the customer panel beside it lists other tickets
    // with their states).
    let mut menu = Vec::new();
    let mut col = None;
    for line in s.lines() {
        let chars: Vec<char> = line.chars().collect();
        if col.is_none() {
            col = line.find("┌ State").map(|b| line[..b].chars().count());
        }
        let Some(c) = col else { continue };
        let part: String = chars.iter().skip(c).take(30).collect();
        let done = part.starts_with('└');
        menu.push(part);
        if done {
            break;
        }
    }
    assert!(menu.len() > 2, "{s}");
    assert!(
        !menu.iter().any(|l| l.contains(" new ")),
        "new is never a target: {s}"
    );
    let before = show_json(bin, &db, &id)["state"]
        .as_str()
        .unwrap()
        .to_string();
    t.keys(&["Enter"]);
    t.wait_for(&format!("#{id}: state →"));
    let after = show_json(bin, &db, &id)["state"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(before, after);

    // Compose a reply with a canned answer and send it: it lands in the
    // outbox, queued, and the answer's state and tag apply.
    t.keys(&["r"]);
    t.wait_for("Ctrl-S save");
    t.text("Dear customer,");
    t.keys(&["Enter", "C-t"]);
    t.wait_for("Canned answers");
    t.text("ship");
    t.wait_for("Shipping delay");
    t.keys(&["Enter"]);
    t.wait_for("using `shipping-delay`");
    t.keys(&["C-s"]);
    t.wait_for("reply queued");
    let v = show_json(bin, &db, &id);
    let last = v["messages"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["direction"], "out");
    let body = last["body_text"].as_str().unwrap();
    assert!(body.starts_with("Dear customer,\n"), "{body}");
    assert!(
        body.contains("your parcel is with the carrier")
            || body.contains("Your parcel is with the carrier"),
        "{body}"
    );
    assert!(body.contains("— e2e"), "{body}");
    assert_eq!(last["author"], "e2e");
    assert_eq!(v["state"], "pending");
    assert!(v["tags"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t == "shipping"));
    t.wait_for("· queued");

    // The pager gets the whole conversation from a private directory that
    // is gone afterwards, and the screen comes back.
    t.keys(&["o"]);
    let start = Instant::now();
    while !paged.join("ticket.txt").exists() {
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "the pager never ran"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    t.wait_for("Customer");
    let text = std::fs::read_to_string(paged.join("ticket.txt")).unwrap();
    assert!(text.starts_with(&format!("#{id} ")), "{text}");
    assert!(text.contains("Dear customer,"), "{text}");
    let mode = std::fs::read_to_string(paged.join("mode")).unwrap();
    assert_eq!(mode.trim(), "700");
    let left: Vec<_> = std::fs::read_dir(&tmp).unwrap().collect();
    assert!(left.is_empty(), "left behind in TMPDIR: {left:?}");

    // A claim fax's machine: the asset screen with its repair record.
    t.keys(&["Escape"]);
    t.keys(&["/", "C-u"]);
    t.text("asset:SN-4890");
    t.keys(&["Enter"]);
    t.wait_for("search: asset:SN-4890");
    t.keys(&["Enter"]);
    t.wait_for("Customer");
    t.keys(&["H"]);
    let s = t.wait_for("Repair record");
    assert!(s.contains("SN-4890") && s.contains("warranty"), "{s}");
    t.keys(&["Escape"]);
    t.wait_for("Customer");

    // Quit: the terminal is restored (the shell's sleep runs on a normal screen).
    t.keys(&["Escape"]);
    t.keys(&["q"]);
    std::thread::sleep(Duration::from_millis(400));
    assert!(t.alive());
    let s = t.screen();
    assert!(!s.contains("1 Open"), "alternate screen left behind:\n{s}");
}

#[test]
fn the_readmes_first_command_opens_the_tui_on_the_demo() {
    let bin = Path::new(env!("CARGO_BIN_EXE_echodesk"));
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let cmd = format!("{} demo --tickets 80 ; sleep 30", bin.display());
    let t = Tmux::start(
        &cmd,
        &[
            ("XDG_DATA_HOME", data.to_str().unwrap()),
            ("XDG_CONFIG_HOME", dir.path().to_str().unwrap()),
            ("TERM", "xterm-256color"),
        ],
    );
    // The status bar is drawn last: waiting for it means a whole frame
    // (a loaded machine can be caught between the first line and the last).
    let s = t.wait_for("? help");
    assert!(s.contains("1 Open"), "the TUI's view bar: {s}");
    // The demo's canned answers are there without any configuration.
    t.keys(&["Enter"]);
    t.wait_for("Customer");
    t.keys(&["r"]);
    t.wait_for("Ctrl-S save");
    t.keys(&["C-t"]);
    t.wait_for("Shipping delay");
    t.keys(&["Escape"]);
    t.keys(&["Escape"]);
    t.keys(&["Escape"]);
    t.keys(&["q"]);
    std::thread::sleep(Duration::from_millis(400));
    assert!(!t.screen().contains("1 Open"));
}
