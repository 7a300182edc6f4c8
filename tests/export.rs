//! `echodesk export` on the demo inbox: JSON Lines (a ticket a line with
//! its customer, organisation, asset and messages), CSV (a row a message,
//! read back by the csv crate and by Python's csv module), and an mbox
//! that `echodesk import` reads into a fresh store as the same tickets:
//! the same customers' mails grouped the same way.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_echodesk");

fn echodesk(db: &Path, args: &[&str]) -> String {
    let out = Command::new(BIN)
        .arg("--db")
        .arg(db)
        .args(args)
        .env("ECHODESK_CONFIG", db.with_extension("toml"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Each ticket's customer mail, as the set of their Message-IDs.
fn mail_groups(jsonl: &str) -> BTreeSet<BTreeSet<String>> {
    jsonl
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .map(|t| {
            t["messages"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|m| m["direction"] == "in" && m["channel"] == "email")
                // Who and when: a message without a Message-ID gets one
                // in the mbox, so the id cannot be the key.
                .map(|m| format!("{} {}", m["from"], m["at"]))
                .collect::<BTreeSet<String>>()
        })
        .filter(|g| !g.is_empty())
        .collect()
}

#[test]
fn the_demo_exports_and_its_mbox_imports_as_the_same_tickets() {
    let dir = tempfile::tempdir().unwrap();
    let demo = dir.path().join("demo");
    let st = Command::new(BIN)
        .args(["demo", "--build-only", "--tickets", "150", "--dir"])
        .arg(&demo)
        .status()
        .unwrap();
    assert!(st.success());
    let db = demo.join("demo.db");
    std::fs::write(db.with_extension("toml"), "").unwrap();
    std::fs::write(dir.path().join("fresh.toml"), "").unwrap();

    let jsonl = echodesk(&db, &["export"]);
    let tickets: Vec<Value> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(tickets.len(), 150);
    let claim = tickets
        .iter()
        .find(|t| t["asset"]["serial"] == "SN-4890")
        .expect("the claim fax's machine is on its ticket");
    assert_eq!(claim["customer"]["org"], "Example Corp", "{claim}");
    assert!(claim["messages"][0]["attachments"][0]["filename"]
        .as_str()
        .unwrap()
        .ends_with(".pdf"));

    let csv_text = echodesk(
        &db,
        &["export", "--format", "csv", "--query", "channel:fax"],
    );
    let mut r = csv::Reader::from_reader(csv_text.as_bytes());
    let header = r.headers().unwrap().clone();
    assert!(header.iter().any(|h| h == "asset_serial"));
    let rows: Vec<csv::StringRecord> = r.records().map(|x| x.unwrap()).collect();
    assert!(!rows.is_empty());
    let channel = header.iter().position(|h| h == "ticket_channel").unwrap();
    assert!(rows.iter().all(|row| &row[channel] == "fax"));
    // Another program's reader agrees on the row count.
    let py = Command::new("python3")
        .args([
            "-c",
            "import csv,sys; print(sum(1 for _ in csv.DictReader(sys.stdin)))",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(csv_text.as_bytes())?;
            c.wait_with_output()
        })
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&py.stdout).trim(),
        rows.len().to_string()
    );

    let mbox = dir.path().join("export.mbox");
    echodesk(
        &db,
        &[
            "export",
            "--format",
            "mbox",
            "--out",
            mbox.to_str().unwrap(),
        ],
    );
    let fresh = dir.path().join("fresh.db");
    echodesk(&fresh, &["import", mbox.to_str().unwrap()]);
    let again = echodesk(&fresh, &["export"]);
    let before = mail_groups(&jsonl);
    let after = mail_groups(&again);
    assert!(before.len() > 50, "{}", before.len());
    assert_eq!(before, after, "the same mails in the same tickets");
}
