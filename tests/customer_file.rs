//! The customer file through the real binary: an organisation by email
//! domain, an asset recognised from a serial number in the mail, custom
//! fields checked on write, the query terms that reach them, a timeline
//! across tickets, and a merge that carries the file along.

use std::path::PathBuf;

use serde_json::Value;

mod common;

struct Env {
    dir: tempfile::TempDir,
    db: PathBuf,
    config: PathBuf,
}

const CONFIG: &str = r#"
[assets]
serial_pattern = '(?i)\bVMC[- ]?\d{5}\b'

[[field]]
on = "customer"
name = "tier"
type = "choice"
choices = ["bronze", "silver", "gold"]

[[field]]
on = "asset"
name = "service_due"
type = "date"

[[field]]
on = "org"
name = "account_manager"
type = "text"
required = true
"#;

impl Env {
    fn new() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("c.db");
        let config = dir.path().join("config.toml");
        std::fs::write(&config, CONFIG).unwrap();
        Env { dir, db, config }
    }

    fn json(&self, args: &[&str]) -> Value {
        let (code, out, err) = common::run(&self.config, &self.db, args);
        assert_eq!(code, Some(0), "{args:?}: {err}");
        out
    }

    fn fails(&self, args: &[&str], code: i32) -> String {
        let (got, _, err) = common::run(&self.config, &self.db, args);
        assert_eq!(got, Some(code), "{args:?}: {err}");
        err
    }

    fn mail(&self, name: &str, from: &str, subject: &str, date: &str, body: &str) {
        let path = self.dir.path().join(name);
        std::fs::write(
            &path,
            format!(
                "From: {from}\r\nTo: support@example.test\r\nSubject: {subject}\r\n\
                 Date: {date}\r\nMessage-ID: <{name}@example.test>\r\n\r\n{body}\r\n"
            ),
        )
        .unwrap();
        self.json(&["import", path.to_str().unwrap()]);
    }

    fn ids(&self, query: &str) -> Vec<i64> {
        let v = self.json(&["list", "--all", "--query", query]);
        let rows = v
            .as_array()
            .cloned()
            .unwrap_or_else(|| v["tickets"].as_array().cloned().unwrap_or_default());
        let mut ids: Vec<i64> = rows.iter().map(|t| t["id"].as_i64().unwrap()).collect();
        ids.sort();
        ids
    }
}

#[test]
fn organisation_assets_fields_and_timeline() {
    let env = Env::new();
    // A required field is held on the organisation's first write.
    let err = env.fails(&["org", "add", "Acme Tools", "--domain", "acme.example"], 6);
    assert!(err.contains("account_manager"), "{err}");
    env.json(&[
        "org",
        "add",
        "Acme Tools",
        "--domain",
        "ACME.example",
        "--set",
        "account_manager=Dana",
    ]);

    // A new customer from the organisation's domain joins it.
    env.mail(
        "m1",
        "Bob Stone <bob@acme.example>",
        "Quote for a second machine",
        "Mon, 02 Nov 2026 09:00:00 +0000",
        "Hello, please send a quote.",
    );
    let bob = env.json(&["customer", "show", "bob@acme.example"]);
    assert_eq!(bob["org"]["name"], "Acme Tools");

    // An asset, then a mail naming its serial as people write it.
    env.json(&[
        "asset",
        "add",
        "--customer",
        "bob@acme.example",
        "--model",
        "VMC-850",
        "--serial",
        "VMC-12345",
        "--purchased",
        "2024-05-02",
        "--warranty-until",
        "2027-01-10",
        "--set",
        "service_due=31.12.2026",
    ]);
    let dup = env.fails(
        &[
            "asset",
            "add",
            "--customer",
            "bob@acme.example",
            "--model",
            "VMC-850",
            "--serial",
            "vmc 12345",
        ],
        6,
    );
    assert!(dup.contains("asset #1 has it already"), "{dup}");
    env.mail(
        "m2",
        "Bob Stone <bob@acme.example>",
        "Spindle noise",
        "Tue, 03 Nov 2026 10:00:00 +0000",
        "Our vmc 12345 makes a grinding noise since Monday.",
    );
    let asset = env.json(&["asset", "show", "VMC12345"]);
    assert_eq!(asset["tickets"].as_array().unwrap().len(), 1);
    assert_eq!(
        asset["asset"]["fields"][0],
        serde_json::json!(["service_due", "2026-12-31"])
    );
    let repair = asset["tickets"][0]["id"].as_i64().unwrap();
    let shown = env.json(&["show", &repair.to_string()]);
    assert_eq!(shown["asset"]["serial"], "VMC-12345");

    // Fields are checked against their declaration, with the choices named.
    let bad = env.fails(
        &[
            "customer",
            "edit",
            "bob@acme.example",
            "--set",
            "tier=platinum",
        ],
        6,
    );
    assert!(bad.contains("bronze, silver, gold"), "{bad}");
    let unknown = env.fails(
        &[
            "customer",
            "edit",
            "bob@acme.example",
            "--set",
            "colour=red",
        ],
        6,
    );
    assert!(unknown.contains("known: tier"), "{unknown}");
    env.json(&[
        "customer",
        "edit",
        "bob@acme.example",
        "--set",
        "tier=Gold",
        "--external-id",
        "CRM-7",
    ]);
    env.json(&[
        "customer",
        "note",
        "bob@acme.example",
        "Prefers calls before 10",
    ]);

    // The query language reaches all of it.
    let all = env.ids("");
    assert_eq!(all.len(), 2);
    assert_eq!(env.ids("org:acme.example"), all);
    assert_eq!(env.ids("org:\"acme tools\""), all);
    assert_eq!(env.ids("org:none"), Vec::<i64>::new());
    assert_eq!(env.ids("customer.tier:gold"), all);
    assert_eq!(env.ids("customer.tier:silver"), Vec::<i64>::new());
    assert_eq!(env.ids("asset.model:\"VMC-850\""), vec![repair]);
    assert_eq!(env.ids("asset.warranty_until<2027-02-01"), vec![repair]);
    assert_eq!(
        env.ids("asset.warranty_until>2027-02-01"),
        Vec::<i64>::new()
    );
    assert_eq!(env.ids("asset.service_due<=2026-12-31"), vec![repair]);
    assert_eq!(
        env.ids("asset:none"),
        all.iter()
            .copied()
            .filter(|t| *t != repair)
            .collect::<Vec<_>>()
    );
    assert_eq!(env.ids("org.account_manager:dana"), all);
    let q = env.fails(&["list", "--query", "customer.tier:platinum"], 6);
    assert!(q.contains("bronze, silver, gold"), "{q}");

    // The file and the timeline.
    let bob = env.json(&["customer", "show", "CRM-7"]);
    assert_eq!(bob["fields"]["tier"], "gold");
    assert_eq!(bob["external_id"], "CRM-7");
    assert_eq!(bob["assets"][0]["serial"], "VMC-12345");
    assert_eq!(bob["notes"][0]["body"], "Prefers calls before 10");
    let tl = env.json(&["customer", "timeline", "bob@acme.example"]);
    let subjects: Vec<&str> = tl["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["subject"].as_str().unwrap())
        .collect();
    assert_eq!(subjects, ["Quote for a second machine", "Spindle noise"]);
    let only = env.json(&["customer", "timeline", "bob@acme.example", "--asset", "#1"]);
    assert_eq!(only["timeline"].as_array().unwrap().len(), 1);

    // A merge carries the file along (assets point at customers).
    env.mail(
        "m3",
        "Bob <bob.stone@home.example>",
        "Private question",
        "Wed, 04 Nov 2026 10:00:00 +0000",
        "Is the training on Friday?",
    );
    env.json(&[
        "asset",
        "add",
        "--customer",
        "bob.stone@home.example",
        "--model",
        "Lathe L2",
    ]);
    env.json(&[
        "customer",
        "merge",
        "bob@acme.example",
        "bob.stone@home.example",
    ]);
    let merged = env.json(&["customer", "show", "bob@acme.example"]);
    assert_eq!(merged["assets"].as_array().unwrap().len(), 2);
    assert_eq!(merged["org"]["name"], "Acme Tools");
    let orgs = env.json(&["org", "list"]);
    assert_eq!(orgs[0]["people"], 1);
    assert_eq!(orgs[0]["tickets"], 3);
    assert_eq!(orgs[0]["assets"], 2);
}
