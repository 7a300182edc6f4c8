//! `customer import` of a 100,000-row customer list, and the same file
//! again (every row found and unchanged), beside a baseline in the same
//! run: the csv crate reading the file and plain prepared INSERTs of the
//! same customers and identities into two bare tables, one transaction.
//!
//! `cargo bench --bench crm`   (BENCH_ROWS=100000, BENCH_REPS=3)

use std::time::Instant;

use echodesk::crm::{import, Customers, Map};
use echodesk::fields::{Entity, FieldDef, Fields, Kind};
use echodesk::store::{Settings, Store};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn list(rows: usize) -> Vec<u8> {
    let mut s = String::from("Customer ID,Name,Email,Phone,Company,Tier\n");
    let tiers = ["bronze", "silver", "gold"];
    for i in 0..rows {
        s.push_str(&format!(
            "C-{i},\"Person {i}, Jr.\",person{i}@example{}.com,+1 212 55{:05},Company {},{}\n",
            i % 97,
            i % 100_000,
            i % 500,
            tiers[i % 3]
        ));
    }
    s.into_bytes()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn baseline(bytes: &[u8], path: &std::path::Path) -> f64 {
    let _ = std::fs::remove_file(path);
    let started = Instant::now();
    let mut conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;
         CREATE TABLE c (id INTEGER PRIMARY KEY, ext TEXT UNIQUE, name TEXT, company TEXT, tier TEXT);
         CREATE TABLE i (customer INTEGER, kind TEXT, value TEXT, UNIQUE (kind, value));",
    )
    .unwrap();
    let tx = conn.transaction().unwrap();
    {
        let mut c = tx
            .prepare("INSERT INTO c (ext, name, company, tier) VALUES (?, ?, ?, ?)")
            .unwrap();
        let mut i = tx
            .prepare("INSERT INTO i (customer, kind, value) VALUES (?, ?, ?)")
            .unwrap();
        let mut r = csv::Reader::from_reader(bytes);
        for rec in r.records() {
            let rec = rec.unwrap();
            c.execute(rusqlite::params![&rec[0], &rec[1], &rec[4], &rec[5]])
                .unwrap();
            let id = tx.last_insert_rowid();
            i.execute(rusqlite::params![id, "email", rec[2].to_lowercase()])
                .unwrap();
            let phone: String = rec[3]
                .chars()
                .filter(|c| c.is_ascii_digit() || *c == '+')
                .collect();
            i.execute(rusqlite::params![id, "phone", phone]).unwrap();
        }
    }
    tx.commit().unwrap();
    started.elapsed().as_secs_f64()
}

fn main() {
    let rows = env("BENCH_ROWS", 100_000);
    let reps = env("BENCH_REPS", 3);
    let dir = tempfile::tempdir().unwrap();
    let bytes = list(rows);
    let settings = Settings {
        fields: Fields::new(vec![FieldDef {
            on: Entity::Customer,
            name: "tier".into(),
            label: None,
            kind: Kind::Choice,
            choices: vec!["bronze".into(), "silver".into(), "gold".into()],
            required: false,
        }])
        .unwrap(),
        ..Settings::default()
    };
    let (mut first, mut again, mut base) = (Vec::new(), Vec::new(), Vec::new());
    for rep in 0..reps {
        let path = dir.path().join(format!("crm{rep}.db"));
        let mut store = Store::open(&path, settings.clone()).unwrap();
        let t = Instant::now();
        let r =
            import::<Customers>(&mut store, &bytes, &Map::default(), None, false, "bench").unwrap();
        first.push(t.elapsed().as_secs_f64());
        assert_eq!((r.created, r.refused), (rows, 0), "first import");
        let t = Instant::now();
        let r =
            import::<Customers>(&mut store, &bytes, &Map::default(), None, false, "bench").unwrap();
        again.push(t.elapsed().as_secs_f64());
        assert_eq!(r.unchanged, rows, "second import");
        base.push(baseline(&bytes, &dir.path().join(format!("base{rep}.db"))));
    }
    let (f, a, b) = (median(first), median(again), median(base));
    println!(
        "customer import of {rows} rows ({:.1} MB), median of {reps}:",
        bytes.len() as f64 / 1e6
    );
    println!(
        "  first import (all created):         {f:6.2} s  {:8.0} rows/s",
        rows as f64 / f
    );
    println!(
        "  the same file again (all unchanged): {a:6.2} s  {:8.0} rows/s",
        rows as f64 / a
    );
    println!(
        "  baseline: csv + plain INSERTs:       {b:6.2} s  {:8.0} rows/s",
        rows as f64 / b
    );
    println!("  first import / baseline:             {:6.2}x", f / b);
}
