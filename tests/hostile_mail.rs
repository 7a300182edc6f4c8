//! Messages built to hurt (tests/fixtures/hostile/mail, made by
//! scripts/make-hostile-mail): each is filed in bounded time with its
//! problem recorded, and an import with all of them between good messages
//! loses nothing and stops for none.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use echodesk::channel::email::mime;
use echodesk::import::import;
use echodesk::store::{SearchContext, Settings, Store};

fn hostile_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hostile/mail")
}

/// (file name without .gz, raw bytes), sorted.
fn hostile() -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(hostile_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| common::read_fixture(&p))
        .collect();
    v.sort();
    assert!(v.len() >= 11, "hostile set incomplete: {}", v.len());
    v
}

/// The word each message hides, which must come out searchable.
fn marker(name: &str) -> Option<&'static str> {
    Some(match name {
        "nested-divs.eml" => "4711",
        "nested-lists.eml" => "5512",
        "deep-multipart.eml" => "9981",
        "huge-headers.eml" => "7001",
        "future-date.eml" => "3131",
        "broken-boundary.eml" => "6060",
        "escapes.eml" => "9090",
        "latin1-headers.eml" => "München",
        "attachment-names.eml" => "7171",
        "encoded-escapes.eml" => "6262",
        "zero-width-names.eml" => "5353",
        "huge-body.eml" => "4848",
        "wide-lines.eml" => "3939",
        _ => return None,
    })
}

#[test]
fn every_hostile_message_parses_quickly_and_says_what_was_wrong() {
    for (name, raw) in hostile() {
        let started = Instant::now();
        let m = mime::parse(&raw, "a", "1", 1_800_000_000);
        let took = started.elapsed();
        // Debug builds; release is about ten times faster.
        assert!(took < Duration::from_secs(3), "{name}: {took:?}");
        if let Some(word) = marker(&name) {
            let all = format!("{}\n{}", m.subject, m.body_text);
            assert!(all.contains(word), "{name}: `{word}` not in {:.300}", all);
        }
        match name.as_str() {
            "future-date.eml" => {
                assert_eq!(m.received_at, 1_800_000_000);
                assert!(m.parse_error.as_deref().unwrap().contains("2099"));
            }
            "latin1-headers.eml" => {
                assert_eq!(m.subject, "Rückerstattung für Bestellung 8080");
                assert_eq!(m.from_name.as_deref(), Some("Jürgen Groß"));
            }
            "broken-boundary.eml" => {
                assert!(m.parse_error.as_deref().unwrap().contains("boundary"));
            }
            _ => {}
        }
    }
}

#[test]
fn an_import_with_every_hostile_message_in_the_middle_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("mail");
    std::fs::create_dir(&src).unwrap();
    let good = |i: usize| {
        format!(
            "From: c{i}@example.com\r\nTo: support@example.test\r\nSubject: good {i}\r\n\
             Message-ID: <good{i}@example.com>\r\nDate: Mon, 02 Nov 2026 10:00:00 +0000\r\n\r\nfine {i}\r\n"
        )
    };
    let set = hostile();
    let mut n = 0;
    for (i, (name, raw)) in set.iter().enumerate() {
        std::fs::write(src.join(format!("{:03}-a.eml", 2 * i)), good(i)).unwrap();
        std::fs::write(src.join(format!("{:03}-b-{name}", 2 * i + 1)), raw).unwrap();
        n += 2;
    }
    std::fs::write(src.join("999-z.eml"), good(999)).unwrap();
    n += 1;
    let mut store = Store::open(&dir.path().join("e.db"), Settings::default()).unwrap();
    let started = Instant::now();
    let r = import(&mut store, &src, "import", |_| {}).unwrap();
    assert!(started.elapsed() < Duration::from_secs(60));
    assert_eq!(r.seen, n as u64, "{r:?}");
    assert_eq!(r.created + r.threaded, n as u64, "{r:?}");
    let (_, messages, _) = store.totals().unwrap();
    assert_eq!(messages, n as i64);
    // The words inside are searchable, the last good message came in.
    let ctx = SearchContext {
        me: "tester".into(),
        now: 1_800_000_000,
    };
    for (name, _) in &set {
        if let Some(word) = marker(name) {
            let q = echodesk::query::parse(word).unwrap();
            let hits = store.count(&q, &ctx).unwrap();
            assert!(hits >= 1, "{name}: `{word}` not searchable");
        }
    }
    let q = echodesk::query::parse("\"fine 999\"").unwrap();
    assert_eq!(store.count(&q, &ctx).unwrap(), 1);
}

#[test]
fn an_mbox_with_every_hostile_message_in_the_middle_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut mbox = Vec::new();
    let mut n = 0;
    let mut add = |raw: &[u8]| {
        mbox.extend_from_slice(b"From someone@example.com Mon Nov  2 10:00:00 2026\n");
        for line in raw.split_inclusive(|b| *b == b'\n') {
            // mboxrd: a body line that looks like a separator is quoted.
            let bare = line.iter().skip_while(|b| **b == b'>').collect::<Vec<_>>();
            if bare.starts_with(&[&b'F', &b'r', &b'o', &b'm', &b' ']) {
                mbox.push(b'>');
            }
            mbox.extend_from_slice(line);
        }
        if !mbox.ends_with(b"\n") {
            mbox.push(b'\n');
        }
        mbox.push(b'\n');
        n += 1;
    };
    for (i, (_, raw)) in hostile().iter().enumerate() {
        add(format!(
            "From: c{i}@example.com\nSubject: good {i}\nMessage-ID: <mgood{i}@x>\n\nfine {i}\n"
        )
        .as_bytes());
        add(raw);
    }
    add(b"From: last@example.com\nSubject: the last one\nMessage-ID: <mlast@x>\n\nfinal words 8642\n");
    let path = dir.path().join("hostile.mbox");
    std::fs::write(&path, &mbox).unwrap();
    let mut store = Store::open(&dir.path().join("e.db"), Settings::default()).unwrap();
    let r = import(&mut store, &path, "import", |_| {}).unwrap();
    assert_eq!(r.seen, n as u64, "{r:?}");
    assert_eq!(r.created + r.threaded, n as u64, "{r:?}");
    let ctx = SearchContext {
        me: "tester".into(),
        now: 1_800_000_000,
    };
    let q = echodesk::query::parse("8642").unwrap();
    assert_eq!(store.count(&q, &ctx).unwrap(), 1);
}

/// A message the store refuses (here a trigger stands in for any failure a
/// message can cause) costs only itself: the batch is written again
/// message by message and the refused one is kept raw with the error.
#[test]
fn an_import_batch_with_a_message_the_store_refuses_keeps_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("mail");
    std::fs::create_dir(&src).unwrap();
    for (i, from) in ["a@example.com", "poison@example.com", "b@example.com"]
        .iter()
        .enumerate()
    {
        std::fs::write(
            src.join(format!("{i}.eml")),
            format!(
                "From: {from}\r\nSubject: number {i}\r\nMessage-ID: <p{i}@x>\r\n\r\nbody {i}\r\n"
            ),
        )
        .unwrap();
    }
    let db = dir.path().join("e.db");
    let mut store = Store::open(&db, Settings::default()).unwrap();
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute_batch(
            "CREATE TRIGGER poison BEFORE INSERT ON messages WHEN NEW.from_addr = 'poison@example.com'
             BEGIN SELECT RAISE(ABORT, 'poisoned'); END;",
        )
        .unwrap();
    let r = import(&mut store, &src, "import", |_| {}).unwrap();
    assert_eq!((r.seen, r.created), (3, 3), "{r:?}");
    let ctx = SearchContext {
        me: "tester".into(),
        now: 1_800_000_000,
    };
    for word in ["\"body 0\"", "\"body 1\"", "\"body 2\""] {
        let q = echodesk::query::parse(word).unwrap();
        assert_eq!(store.count(&q, &ctx).unwrap(), 1, "{word}");
    }
    let again = import(&mut store, &src, "import", |_| {}).unwrap();
    assert_eq!(again.duplicates, 3, "{again:?}");
}
