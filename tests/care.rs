//! Proactive care through the real binary: a daily maintenance-reminder
//! schedule over machines imported from CSV, sent as texts through the
//! Twilio fake. The clock is the command line's `--now`: the right owners
//! get one text each, opted-out ones none, the next day's run and a
//! re-run send nothing again, a later service date sends again, and the
//! owner's answer threads back into the reminder's ticket.

use serde_json::{json, Value};

mod common;

struct Env {
    dir: tempfile::TempDir,
    cfg: std::path::PathBuf,
    db: std::path::PathBuf,
    twilio: common::Twilio,
}

const OUR: &str = "+15005550006";

impl Env {
    fn new(extra: &str) -> Env {
        let twilio = common::Twilio::start();
        let dir = tempfile::tempdir().unwrap();
        let canned = dir.path().join("canned");
        std::fs::create_dir_all(&canned).unwrap();
        std::fs::write(
            canned.join("service-reminder.md"),
            "+++\ntitle = \"Your {{ asset.model }} is due for service\"\n\
             [variants]\nsms = \"Hello {{ customer.first_name }}, your {{ asset.model }} ({{ asset.serial }}) is due for service on {{ asset.fields.service_due }}. Reply to book a visit.\"\n\
             +++\nHello {{ customer.first_name }},\n\nyour {{ asset.model }} is due for service on {{ asset.fields.service_due }}.\n",
        )
        .unwrap();
        let cfg = dir.path().join("care.toml");
        std::fs::write(
            &cfg,
            format!(
                "default_region = \"US\"\ntime_zone = \"Europe/Berlin\"\ncanned_dir = \"{}\"\n\
                 [[field]]\non = \"asset\"\nname = \"service_due\"\ntype = \"date\"\n\
                 [[field]]\non = \"customer\"\nname = \"no_reminders\"\ntype = \"yes/no\"\n\
                 [care]\nopt_out_field = \"no_reminders\"\n\
                 [[schedule]]\nname = \"maintenance\"\nevery = \"daily\"\nat = \"08:00\"\n\
                 who = \"asset.service_due<7d\"\ncanned = \"service-reminder\"\nchannel = \"sms\"\n\
                 once = [\"customer\", \"asset\", \"asset.service_due\"]\ntags = [\"proactive\"]\n\
                 [[sms]]\nname = \"twilio\"\nkind = \"twilio\"\nnumber = \"{OUR}\"\n\
                 account_sid = \"AC00000000000000000000000000000001\"\ntoken_env = \"TWILIO_TOKEN\"\n\
                 base_url = \"http://127.0.0.1:{}\"\ntimeout = 10\n{extra}",
                canned.display(),
                twilio.port
            ),
        )
        .unwrap();
        let db = dir.path().join("care.db");
        Env {
            dir,
            cfg,
            db,
            twilio,
        }
    }

    fn run(&self, args: &[&str]) -> (Option<i32>, Value, String) {
        common::run(&self.cfg, &self.db, args)
    }

    fn ok(&self, args: &[&str]) -> Value {
        let (code, v, err) = self.run(args);
        assert_eq!(code, Some(0), "{args:?}: {err}");
        v
    }

    fn file(&self, name: &str, text: &str) -> String {
        let p = self.dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_string()
    }

    fn sent(&self) -> Vec<Value> {
        self.twilio
            .control("GET", "/_fake/sent", &json!(null))
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    fn statuses(&self, r: &Value) -> Vec<(i64, String)> {
        r["steps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                (
                    s["customer"].as_i64().unwrap(),
                    s["status"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }
}

/// Ann's machine is due in three days, Ben's in a month; Cat texted STOP;
/// Dan's file says no reminders; Eve's organisation owns a due machine.
fn owners(env: &Env) {
    let customers = env.file(
        "customers.csv",
        "id,name,mobile,no_reminders,company\n\
         C1,Ann Archer,+1 415 555 0101,,\n\
         C2,Ben Baker,+1 415 555 0102,,\n\
         C3,Cat Cole,+1 415 555 0103,,\n\
         C4,Dan Dale,+1 415 555 0104,yes,\n\
         C5,Eve Evans,+1 415 555 0105,,Evans Dairy\n",
    );
    let r = env.ok(&["customer", "import", &customers]);
    assert_eq!(r["created"], 5, "{r}");
    let assets = env.file(
        "assets.csv",
        "serial,model,customer,company,service_due\n\
         M-1,Milker 3000,C1,,2026-12-05\n\
         M-2,Milker 3000,C2,,2027-01-02\n\
         M-3,Milker 3000,C3,,2026-12-04\n\
         M-4,Milker 3000,C4,,2026-12-03\n\
         M-5,Cooler 200,,Evans Dairy,2026-12-06\n",
    );
    let r = env.ok(&["asset", "import", &assets]);
    assert_eq!(r["created"], 5, "{r}");
    env.ok(&["survey", "opt-out", "+14155550103"]);
}

#[test]
fn a_daily_reminder_reaches_each_due_owner_once() {
    let env = Env::new("");
    owners(&env);
    let id = |ext: &str| {
        env.ok(&["customer", "show", ext])["customer"]["id"]
            .as_i64()
            .unwrap()
    };
    let (ann, cat, dan, eve) = (id("C1"), id("C3"), id("C4"), id("C5"));

    // Before 08:00 the last slot is yesterday's: the dry run shows it all.
    let dry = env.ok(&[
        "schedule",
        "run",
        "maintenance",
        "--dry-run",
        "--now",
        "2026-12-02 08:05",
    ]);
    assert_eq!(dry["slot"], "2026-12-02T08:00", "{dry}");
    assert_eq!(
        env.statuses(&dry),
        [
            (ann, "planned".to_string()),
            (cat, "opted-out".into()),
            (dan, "opted-out".into()),
            (eve, "planned".into())
        ],
        "{dry}"
    );
    let text = dry["steps"][0]["text"].as_str().unwrap();
    assert_eq!(
        text,
        "Hello Ann, your Milker 3000 (M-1) is due for service on 2026-12-05. Reply to book a visit."
    );
    assert_eq!(
        env.ok(&["outbox", "list"]).as_array().map(Vec::len),
        Some(0)
    );

    // The daemon's pass at 08:05: two texts queued, then sent.
    let r = env.ok(&[
        "schedule",
        "run",
        "maintenance",
        "--now",
        "2026-12-02 08:05",
    ]);
    assert_eq!(
        (r["sent"].as_u64(), r["opted_out"].as_u64()),
        (Some(2), Some(2)),
        "{r}"
    );
    env.ok(&["outbox", "send"]);
    let sent = env.sent();
    let to: Vec<&str> = sent
        .iter()
        .map(|m| m["to"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(to, ["+14155550101", "+14155550105"], "{sent:?}");

    // The same slot again, and the next day's: nothing new.
    let again = env.ok(&[
        "schedule",
        "run",
        "maintenance",
        "--now",
        "2026-12-02 09:00",
    ]);
    assert_eq!(again["sent"], 0, "{again}");
    let next = env.ok(&[
        "schedule",
        "run",
        "maintenance",
        "--now",
        "2026-12-03 08:01",
    ]);
    assert_eq!(next["sent"], 0, "{next}");
    assert_eq!(next["already"], 2, "{next}");
    env.ok(&["outbox", "send"]);
    assert_eq!(env.sent().len(), 2);

    // The reminder is an outbound ticket about the machine; Ann's answer
    // threads into it.
    let list = env.ok(&["list", "--all", "--query", "tag:proactive"]);
    assert_eq!(list["total"], 2, "{list}");
    let reminder = env.ok(&["list", "--all", "--query", "tag:proactive asset:M-1"]);
    let ticket = reminder["tickets"][0]["id"].as_i64().unwrap();
    let now = chrono::Utc::now().timestamp();
    env.twilio.control(
        "POST",
        "/_fake/inbound",
        &json!([{"from": "+14155550101", "to": OUR, "body": "Thursday morning works", "date_sent": now}]),
    );
    env.ok(&["poll"]);
    let t = env.ok(&["show", &ticket.to_string()]);
    let bodies: Vec<&str> = t["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body_text"].as_str().unwrap())
        .collect();
    assert_eq!(bodies.len(), 2, "{t}");
    assert_eq!(bodies[1], "Thursday morning works");

    // Serviced: the next service date is a new key, sent once in its time.
    let due = env.file("due.csv", "serial,service_due\nM-1,2027-06-01\n");
    env.ok(&["asset", "import", &due]);
    let june = env.ok(&[
        "schedule",
        "run",
        "maintenance",
        "--now",
        "2027-05-28 08:30",
    ]);
    let who: Vec<i64> = june["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["status"] == "sent")
        .map(|s| s["customer"].as_i64().unwrap())
        .collect();
    // Ben's (2027-01-02) is long overdue by then and was never sent: he
    // gets it too.
    assert!(who.contains(&ann), "{june}");
    let list = env.ok(&["schedule", "list", "--now", "2027-05-28 08:31"]);
    assert_eq!(list[0]["last_run"]["slot"], "2027-05-28T08:00", "{list}");
    assert_eq!(list[0]["next"], "2027-05-29T08:00", "{list}");
}

/// A config that names an unknown field in `once`, or no `once` at all,
/// is refused when it loads, with the schedule's name.
#[test]
fn a_schedule_without_a_once_key_is_refused() {
    let env = Env::new("");
    let text = std::fs::read_to_string(&env.cfg).unwrap().replace(
        "once = [\"customer\", \"asset\", \"asset.service_due\"]",
        "once = [\"customer\", \"asset.colour\"]",
    );
    std::fs::write(&env.cfg, text).unwrap();
    let (code, _, err) = env.run(&["schedule", "list"]);
    assert_eq!(code, Some(5), "{err}");
    assert!(
        err.contains("schedule `maintenance`") && err.contains("colour"),
        "{err}"
    );
}

/// The daemon runs the schedule's due slot by itself, and after a restart
/// sends nothing again.
#[test]
fn the_daemon_runs_the_due_slot_once_across_restarts() {
    let env = Env::new("poll_interval = 60\n[daemon]\noutbox_interval = 1\n");
    let soon = (chrono::Utc::now() + chrono::Duration::days(2))
        .format("%Y-%m-%d")
        .to_string();
    let later = (chrono::Utc::now() + chrono::Duration::days(60))
        .format("%Y-%m-%d")
        .to_string();
    let customers = env.file(
        "c.csv",
        "id,name,mobile\nC1,Ann Archer,+1 415 555 0101\nC2,Ben Baker,+1 415 555 0102\nC3,Cy Cole,+1 415 555 0103\n",
    );
    env.ok(&["customer", "import", &customers]);
    let assets = env.file(
        "a.csv",
        &format!(
            "serial,model,customer,service_due\nM-1,Milker,C1,{soon}\nM-2,Milker,C2,{later}\nM-3,Milker,C3,{soon}\n"
        ),
    );
    env.ok(&["asset", "import", &assets]);
    let log = env.dir.path().join("daemon.log");
    let start = || common::daemon(&env.cfg, &env.db, &log);
    let wait = |what: &str, f: &mut dyn FnMut() -> bool| common::wait_for(what, 30, &log, f);
    let mut d = start();
    wait("two reminders to go out", &mut || env.sent().len() == 2);
    d.stop();
    let mut d = start();
    // The new daemon's first pass (at once) and a few outbox rounds.
    wait("the daemon to log its start", &mut || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .matches("daemon started")
            .count()
            >= 2
    });
    std::thread::sleep(std::time::Duration::from_secs(3));
    d.stop();
    let to: Vec<String> = env
        .sent()
        .iter()
        .map(|m| m["to"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(to, ["+14155550101", "+14155550103"]);
    let list = env.ok(&["schedule", "list"]);
    assert_eq!(list[0]["due_done"], true, "{list}");
    assert_eq!(list[0]["last_run"]["done"], 2, "{list}");
}
