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
    // Every change to the record is in its audit history, who and when.
    let kinds: Vec<(&str, Option<&str>)> = bob["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["kind"].as_str().unwrap(), e["new"].as_str()))
        .collect();
    for want in [
        ("field", Some("tier: gold")),
        ("external-id", Some("CRM-7")),
    ] {
        assert!(kinds.contains(&want), "{want:?} in {kinds:?}");
    }
    assert!(kinds.iter().any(|(k, _)| k.contains("note")), "{kinds:?}");
    env.json(&["asset", "edit", "VMC-12345", "--location", "Hall 7"]);
    let history = &env.json(&["asset", "show", "VMC-12345"])["history"];
    let last = history.as_array().unwrap().last().unwrap();
    assert_eq!(
        (&last["kind"], &last["new"]),
        (&"location".into(), &"Hall 7".into())
    );
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

fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/crm/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// A messy CRM export: BOM, semicolons, German headers, a quoted newline,
/// an invalid phone, a value that is not a choice, a repeated key, a row
/// that matches two customers, an empty key, a blank line, doubled quotes.
#[test]
fn a_messy_csv_imports_row_by_row_and_again_changes_nothing() {
    let env = Env::new();
    env.mail(
        "m1",
        "Bob <bob@acme.example>",
        "Order status",
        "Mon, 02 Nov 2026 09:00:00 +0000",
        "Where is my order?",
    );
    let file = fixture("customers_messy.csv");
    let map = fixture("customers_messy.toml");
    let args = ["customer", "import", file.as_str(), "--map", map.as_str()];
    let (code, r, err) = common::run(&env.config, &env.db, &args);
    assert_eq!(code, Some(11), "{err}");
    assert!(err.contains("5 of 9 rows refused"), "{err}");
    let rows: Vec<(u64, String, String)> = r["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["line"].as_u64().unwrap(),
                x["action"].as_str().unwrap().to_string(),
                x["detail"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let at = |line: u64| {
        rows.iter()
            .find(|r| r.0 == line)
            .unwrap_or_else(|| panic!("line {line}: {rows:?}"))
    };
    assert_eq!(at(2).1, "created");
    assert_eq!(at(4).1, "created");
    assert_eq!(at(5).1, "refused");
    assert!(at(5).2.contains("column Telefon: `12`"), "{:?}", at(5));
    assert!(
        at(6)
            .2
            .contains("column Tier: customer field `tier`: `platinum` is not one of"),
        "{:?}",
        at(6)
    );
    assert!(at(7).2.contains("the same key as line 2"), "{:?}", at(7));
    assert_eq!(at(8).1, "updated");
    assert!(
        at(8).2.contains("name") && at(8).2.contains("+14155550199"),
        "{:?}",
        at(8)
    );
    assert!(at(9).2.contains("matches several customers"), "{:?}", at(9));
    assert!(
        at(10).2.contains("key column (external id) is empty"),
        "{:?}",
        at(10)
    );
    assert_eq!(at(12).1, "created");
    assert_eq!(
        (
            r["created"].as_u64(),
            r["updated"].as_u64(),
            r["refused"].as_u64()
        ),
        (Some(3), Some(1), Some(5))
    );
    assert_eq!(r["orgs_created"], 2);
    assert_eq!(r["encoding"], "UTF-8 (BOM)");

    let anna = env.json(&["customer", "show", "C-100"]);
    assert_eq!(anna["customer"]["name"], "Anna Berger");
    assert_eq!(anna["org"]["name"], "Acme Tools");
    assert_eq!(anna["fields"]["tier"], "gold");
    let eve = env.json(&["customer", "show", "bob@acme.example"]);
    assert_eq!(eve["external_id"], "C-104");
    assert_eq!(eve["tickets"].as_array().unwrap().len(), 1);
    let q = env.json(&["customer", "show", "C-106"]);
    assert_eq!(q["customer"]["name"], "Quote \"Q\" Person");
    // A refused row wrote nothing.
    env.fails(&["customer", "show", "C-102"], 3);
    env.fails(&["customer", "show", "chloe@initech.example"], 3);

    // The same file again: nothing to do but the same refusals.
    let (code, again, _) = common::run(&env.config, &env.db, &args);
    assert_eq!(code, Some(11));
    assert_eq!(
        (
            again["created"].as_u64(),
            again["updated"].as_u64(),
            again["unchanged"].as_u64()
        ),
        (Some(0), Some(0), Some(4))
    );

    // A dry run reports and saves nothing.
    let gbk = fixture("customers_gbk.csv");
    let gbk_map = fixture("customers_gbk.toml");
    let dry = env.json(&[
        "customer",
        "import",
        gbk.as_str(),
        "--map",
        gbk_map.as_str(),
        "--dry-run",
    ]);
    assert_eq!(dry["created"], 2);
    env.fails(&["customer", "show", "CN-1"], 3);
    let real = env.json(&[
        "customer",
        "import",
        gbk.as_str(),
        "--map",
        gbk_map.as_str(),
    ]);
    assert_eq!(real["created"], 2);
    assert_eq!(real["orgs_created"], 1);
    assert_eq!(
        env.json(&["customer", "show", "+8613800138000"])["customer"]["name"],
        "王伟"
    );

    // The export reads back as no change at all.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_echodesk"))
        .arg("--config")
        .arg(&env.config)
        .arg("--db")
        .arg(&env.db)
        .args(["customer", "export"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let csv_path = env.dir.path().join("export.csv");
    std::fs::write(&csv_path, &out.stdout).unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with("external_id,name,email,phone,fax,org,tier,echodesk_id"),
        "{text}"
    );
    let back = env.json(&["customer", "import", csv_path.to_str().unwrap()]);
    assert_eq!(
        (
            back["created"].as_u64(),
            back["updated"].as_u64(),
            back["refused"].as_u64()
        ),
        (Some(0), Some(0), Some(0)),
        "{back}"
    );
}

/// Outlook's contact export, as it names its columns: no map needed.
#[test]
fn an_outlook_export_maps_itself() {
    let env = Env::new();
    let file = fixture("outlook_contacts.csv");
    let r = env.json(&["customer", "import", file.as_str()]);
    assert_eq!(r["created"], 2, "{r}");
    assert_eq!(
        r["ignored_columns"],
        serde_json::json!(["Middle Name", "Notes"])
    );
    let h = env.json(&["customer", "show", "h.fischer@gmail.example"]);
    assert_eq!(h["customer"]["name"], "Hannah Fischer");
    assert_eq!(h["org"]["name"], "Fischer Metallbau GmbH");
    let kinds: Vec<(String, String)> = h["customer"]["identities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["kind"].as_str().unwrap().to_string(),
                i["value"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        kinds.contains(&("fax".into(), "+49891234568".into())),
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&("phone".into(), "+49891234567".into())),
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&("email".into(), "hannah@fischer-metall.example".into())),
        "{kinds:?}"
    );
    assert_eq!(
        env.json(&["customer", "show", "+447911123456"])["customer"]["name"],
        "Tom Baker"
    );
}

/// The csv-spectrum test files (quoted commas, doubled quotes, newlines
/// inside values, CRLF, empty cells, UTF-8, JSON in a cell), each with
/// its first column as the key and its second as the name: every record
/// is accounted for, and a second import finds them all.
#[test]
fn the_csv_spectrum_files_import_and_reimport() {
    let dir = format!(
        "{}/tests/fixtures/crm/csv-spectrum",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "csv"))
        .collect();
    files.sort();
    assert!(files.len() >= 10);
    for file in files {
        let env = Env::new();
        let mut reader = csv::Reader::from_path(&file).unwrap();
        let headers: Vec<String> = reader
            .headers()
            .unwrap()
            .iter()
            .map(str::to_string)
            .collect();
        let records = reader
            .records()
            .filter(|r| r.as_ref().unwrap().iter().any(|c| !c.trim().is_empty()))
            .count() as u64;
        let map = env.dir.path().join("map.toml");
        let name_column = headers.get(1).cloned().unwrap_or_else(|| "none".into());
        std::fs::write(
            &map,
            format!(
                "key = \"external_id\"\n[columns]\n{:?} = \"external_id\"\n{:?} = \"name\"\n",
                headers[0], name_column
            ),
        )
        .unwrap();
        let args = [
            "customer",
            "import",
            file.to_str().unwrap(),
            "--map",
            map.to_str().unwrap(),
        ];
        let (code, r, err) = common::run(&env.config, &env.db, &args);
        assert!(
            matches!(code, Some(0) | Some(11)),
            "{}: {err}",
            file.display()
        );
        let n = |k: &str| r[k].as_u64().unwrap();
        assert_eq!(
            n("created") + n("updated") + n("unchanged") + n("refused"),
            records,
            "{}: {r}",
            file.display()
        );
        assert_eq!(n("created"), records, "{}: {r}", file.display());
        let (_, again, _) = common::run(&env.config, &env.db, &args);
        assert_eq!(
            again["unchanged"].as_u64(),
            Some(records),
            "{}: {again}",
            file.display()
        );
    }
}

/// The demo inbox carries the customer file: two companies by domain, and
/// machines whose serial numbers the claim faxes name, each with its
/// repair record.
#[test]
fn the_demo_has_organisations_and_machines() {
    let env = Env::new();
    let demo = env.dir.path().join("demo");
    let (code, _, err) = common::run(
        &env.config,
        &env.db,
        &[
            "demo",
            "--build-only",
            "--tickets",
            "300",
            "--dir",
            demo.to_str().unwrap(),
        ],
    );
    assert_eq!(code, Some(0), "{err}");
    let db = demo.join("demo.db");
    let run = |args: &[&str]| {
        let (code, out, err) = common::run(&env.config, &db, args);
        assert_eq!(code, Some(0), "{args:?}: {err}");
        out
    };
    let orgs = run(&["org", "list"]);
    let names: Vec<&str> = orgs
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Example Corp", "Example Org"]);
    assert!(orgs[0]["people"].as_i64().unwrap() > 0 && orgs[0]["tickets"].as_i64().unwrap() > 0);
    let assets = run(&["asset", "list"]);
    let assets = assets.as_array().unwrap();
    assert!(!assets.is_empty());
    for a in assets {
        let serial = a["serial"].as_str().unwrap();
        let shown = run(&["asset", "show", serial]);
        assert!(
            !shown["tickets"].as_array().unwrap().is_empty(),
            "{serial} has no repair record"
        );
    }
}

/// Machines from a CSV after the customer list: owners by the CRM's id or
/// email, an organisation's machine, German dates, serials in any spacing.
#[test]
fn assets_import_after_the_customers() {
    let env = Env::new();
    let customers = fixture("customers_messy.csv");
    let map = fixture("customers_messy.toml");
    let (code, _, err) = common::run(
        &env.config,
        &env.db,
        &["customer", "import", &customers, "--map", &map],
    );
    assert_eq!(code, Some(11), "{err}");
    let assets = fixture("assets.csv");
    let (code, r, err) = common::run(&env.config, &env.db, &["asset", "import", &assets]);
    assert_eq!(code, Some(11), "{err}");
    let rows: Vec<(u64, String, String)> = r["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["line"].as_u64().unwrap(),
                x["action"].as_str().unwrap().into(),
                x["detail"].as_str().unwrap().into(),
            )
        })
        .collect();
    let expect = [
        (2, "created", ""),
        (3, "created", ""),
        (4, "created", ""),
        (5, "refused", "no customer `nobody@nowhere.example`"),
        (6, "refused", "a new asset needs a model"),
        (
            7,
            "refused",
            "column Install Date: `13/31/2024` is not a date",
        ),
        (8, "refused", "the same key as line 2"),
    ];
    for (line, action, detail) in expect {
        let got = rows
            .iter()
            .find(|r| r.0 == line)
            .unwrap_or_else(|| panic!("line {line}: {rows:?}"));
        assert_eq!(got.1, action, "{got:?}");
        assert!(got.2.contains(detail), "{got:?}");
    }
    let vmc = env.json(&["asset", "show", "VMC-12345"]);
    assert_eq!(vmc["asset"]["purchased"], "2024-05-02");
    assert_eq!(vmc["asset"]["location"], "Hall 2");
    assert_eq!(
        vmc["asset"]["fields"][0],
        serde_json::json!(["service_due", "2026-12-31"])
    );
    let anna = env.json(&["customer", "show", "C-100"]);
    assert_eq!(anna["assets"][0]["serial"], "VMC-12345");
    assert_eq!(
        env.json(&["asset", "show", "VMC12346"])["asset"]["model"],
        "VMC-850"
    );
    let org = env.json(&["org", "show", "Acme Tools"]);
    assert!(org["assets"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["serial"] == "K3-0001"));
    let (_, again, _) = common::run(&env.config, &env.db, &["asset", "import", &assets]);
    assert_eq!(
        (
            again["created"].as_u64(),
            again["updated"].as_u64(),
            again["unchanged"].as_u64()
        ),
        (Some(0), Some(0), Some(3))
    );
}

/// A CRM's companies list (HubSpot's column names): organisations by the
/// CRM's id with their domains, a note spanning lines and a required
/// field; refused rows name what stopped them, and a second run changes
/// nothing. Customers from a listed domain then join the organisation.
#[test]
fn organisations_import_with_their_domains() {
    let env = Env::new();
    let orgs = fixture("orgs_hubspot.csv");
    let (code, r, err) = common::run(&env.config, &env.db, &["org", "import", &orgs]);
    assert_eq!(code, Some(11), "{err}");
    let rows: Vec<(u64, String, String)> = r["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["line"].as_u64().unwrap(),
                x["action"].as_str().unwrap().into(),
                x["detail"].as_str().unwrap().into(),
            )
        })
        .collect();
    let expect = [
        (2, "created", ""),
        (4, "created", ""),
        (5, "created", ""),
        (6, "refused", "a new organisation needs a name"),
        (
            7,
            "refused",
            "the domain acme.example belongs to organisation #2",
        ),
        (
            8,
            "refused",
            "column Company Domain Name: `not` is not a domain",
        ),
        (9, "refused", "the same key as line 4"),
        (10, "refused", "required org field account_manager empty"),
    ];
    assert_eq!(rows.len(), expect.len(), "{rows:?}");
    for (line, action, detail) in expect {
        let got = rows
            .iter()
            .find(|r| r.0 == line)
            .unwrap_or_else(|| panic!("line {line}: {rows:?}"));
        assert_eq!(got.1, action, "{got:?}");
        assert!(got.2.contains(detail), "{got:?}");
    }
    let globex = env.json(&["org", "show", "1003"]);
    assert_eq!(
        globex["org"]["domains"],
        serde_json::json!(["globex-mail.example", "globex.example"])
    );
    let clinic = env.json(&["org", "show", "rivera clinic"]);
    assert_eq!(clinic["org"]["external_id"], "1001");
    assert_eq!(
        clinic["org"]["fields"][0],
        serde_json::json!(["account_manager", "Dana"])
    );
    assert_eq!(
        clinic["notes"][0]["body"],
        "Dental clinic, two sites.\nNight line for emergencies."
    );
    let (code, again, _) = common::run(&env.config, &env.db, &["org", "import", &orgs]);
    assert_eq!(code, Some(11));
    assert_eq!(
        (
            again["created"].as_u64(),
            again["updated"].as_u64(),
            again["unchanged"].as_u64()
        ),
        (Some(0), Some(0), Some(3)),
        "{again}"
    );
    // A rename in the CRM is an update on the same id.
    let renamed = env.dir.path().join("renamed.csv");
    std::fs::write(&renamed, "Record ID,Company name\n1002,Acme Tools GmbH\n").unwrap();
    let r = env.json(&["org", "import", renamed.to_str().unwrap()]);
    assert_eq!(r["rows"][0]["action"], "updated", "{r}");
    assert_eq!(
        env.json(&["org", "show", "1002"])["org"]["name"],
        "Acme Tools GmbH"
    );
    // New mail from a listed domain joins the organisation.
    env.mail(
        "g1",
        "Hank <hank@globex-mail.example>",
        "Login trouble",
        "Tue, 01 Dec 2026 09:00:00 +0000",
        "Cannot log in.",
    );
    let people = env.json(&["org", "show", "Globex"])["people"].clone();
    assert_eq!(people[0]["name"], "Hank", "{people}");
}

/// One person on all three channels, end to end over the real servers:
/// organisations, customers and machines imported from CSV, then a mail
/// (naming the machine's serial) through Dovecot, a text through the
/// Twilio fake and a HylaFAX fax-to-email through Dovecot. Every contact
/// lands on the one customer file: one timeline, the organisation, and
/// the machine's repair record holding all three tickets (the text and
/// the fax linked by a rule, as she owns one machine).
#[test]
fn one_person_by_mail_sms_and_fax_has_one_file() {
    let m = common::Mail::up();
    let twilio = common::Twilio::start();
    let ca = m.get("CA_CERT");
    let imaps = m.get("IMAPS_PORT");
    let cfg = m.dir.path().join("three.toml");
    std::fs::write(
        &cfg,
        format!(
            "default_region = \"US\"\n{CONFIG}\n\
             [[rules]]\nname = \"machine\"\nquery = \"\"\nset_asset = \"owned\"\n\
             [[accounts]]\nname = \"support\"\naddress = \"support@example.test\"\n\
             [accounts.imap]\nhost = \"127.0.0.1\"\nport = {imaps}\nuser = \"support@example.test\"\n\
             password_env = \"ECHODESK_TEST_PW\"\nca_file = \"{ca}\"\n\
             [[accounts]]\nname = \"fax\"\naddress = \"fax@example.test\"\n\
             [accounts.imap]\nhost = \"127.0.0.1\"\nport = {imaps}\nuser = \"fax@example.test\"\n\
             password_env = \"ECHODESK_TEST_PW\"\nca_file = \"{ca}\"\n\
             [accounts.fax]\nprofile = \"hylafax\"\n\
             [[sms]]\nname = \"twilio\"\nkind = \"twilio\"\nnumber = \"+15005550006\"\n\
             account_sid = \"AC00000000000000000000000000000001\"\ntoken_env = \"TWILIO_TOKEN\"\n\
             base_url = \"http://127.0.0.1:{}\"\ntimeout = 10\n",
            twilio.port
        ),
    )
    .unwrap();
    let db = m.dir.path().join("three.db");
    let ok = |args: &[&str]| {
        let (code, v, err) = common::run(&cfg, &db, args);
        assert_eq!(code, Some(0), "{args:?}: {err}");
        v
    };
    for (kind, file) in [
        ("org", "rivera_orgs.csv"),
        ("customer", "rivera_customers.csv"),
        ("asset", "rivera_assets.csv"),
    ] {
        let r = ok(&[kind, "import", &fixture(file)]);
        assert_eq!(r["refused"], 0, "{kind}: {r}");
    }

    m.deliver(
        "support@example.test",
        "1.mail",
        "From: Rosa Rivera <Rosa@Rivera-Clinic.example>\r\nTo: support@example.test\r\n\
         Subject: Spindle noise\r\nDate: Tue, 01 Dec 2026 08:00:00 +0000\r\n\
         Message-ID: <rosa-1@rivera-clinic.example>\r\n\r\n\
         Our VMC 00042 makes a grinding noise since Monday.\r\n",
    );
    let now = chrono::Utc::now().timestamp();
    twilio.control(
        "POST",
        "/_fake/inbound",
        &serde_json::json!([{"from": "+14155550123", "to": "+15005550006",
            "body": "Rosa here - the machine stopped completely", "date_sent": now - 600}]),
    );
    // Genuine HylaFAX faxrcvd mail, from her fax line.
    let fax = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/hylafax-success-pdf.eml"),
    )
    .unwrap()
    .replace("+1 555 0199", "+1 415 555 0199")
    .replace("+15550199", "+14155550199");
    m.deliver("fax@example.test", "2.fax", &fax);
    let polled = ok(&["poll"]);
    assert!(!polled.to_string().contains("\"error\""), "{polled}");

    let rosa = ok(&["customer", "show", "C-7"]);
    let tickets = rosa["tickets"].as_array().unwrap();
    let channels: std::collections::BTreeSet<&str> = tickets
        .iter()
        .map(|t| t["channel"].as_str().unwrap())
        .collect();
    assert_eq!(
        channels.into_iter().collect::<Vec<_>>(),
        ["email", "fax", "sms"],
        "{rosa}"
    );
    assert_eq!(rosa["org"]["name"], "Rivera Clinic", "{rosa}");
    // Nobody else was created: Tomás is still the only other customer.
    let everyone = ok(&["customer", "list"]);
    assert_eq!(everyone.as_array().map(Vec::len), Some(2), "{everyone}");

    let timeline = ok(&["customer", "timeline", "C-7"]);
    let entries = timeline["timeline"].as_array().unwrap();
    let mut seen: Vec<&str> = entries
        .iter()
        .map(|e| e["channel"].as_str().unwrap())
        .collect();
    seen.sort();
    assert_eq!(seen, ["email", "fax", "sms"], "{timeline}");
    let at: Vec<i64> = entries.iter().map(|e| e["at"].as_i64().unwrap()).collect();
    assert!(at.windows(2).all(|w| w[0] <= w[1]), "in time order: {at:?}");

    // The machine's repair record: the mail by its serial, the text and
    // the fax by the rule.
    let machine = ok(&["asset", "show", "VMC00042"]);
    let record: Vec<&str> = machine["tickets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["channel"].as_str().unwrap())
        .collect();
    assert_eq!(record.len(), 3, "{machine}");
    let org = ok(&["org", "show", "1001"]);
    assert_eq!(org["people"].as_array().map(Vec::len), Some(2), "{org}");
    assert_eq!(org["tickets"].as_array().map(Vec::len), Some(3), "{org}");
    assert_eq!(org["assets"][0]["serial"], "VMC-00042");
}
