//! Import through the ingest path: the fixture corpus (generated support
//! mail in many charsets, with malformed messages) as .eml files, a Maildir
//! and an mbox.

use std::path::{Path, PathBuf};

use echodesk::import::{import, ImportReport};
use echodesk::store::{Settings, Store};

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/corpus")
}

#[derive(serde::Deserialize)]
struct Entry {
    kind: String,
    message_id: String,
    subject: String,
}

fn manifest() -> Vec<Entry> {
    std::fs::read_to_string(corpus().join("manifest.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn eml_files() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(corpus())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .collect();
    v.sort();
    v
}

fn run(store: &mut Store, path: &Path) -> ImportReport {
    import(store, path, "import", |_| {}).unwrap()
}

#[test]
fn corpus_imports_with_nothing_lost_and_no_duplicates_on_rerun() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("e.db"), Settings::default()).unwrap();
    let n = eml_files().len() as u64;
    let first = run(&mut store, &corpus());
    assert_eq!(first.seen, n);
    assert_eq!(first.created + first.threaded, n, "{first:?}");
    assert!(first.threaded > 20, "replies should thread: {first:?}");
    assert!(first.unreadable.is_empty());
    let (tickets, messages, _) = store.totals().unwrap();
    assert_eq!(messages as u64, n);

    let again = run(&mut store, &corpus());
    assert_eq!(again.duplicates, n, "{again:?}");
    assert_eq!(
        store.totals().unwrap(),
        (tickets, messages, store.totals().unwrap().2)
    );
}

#[test]
fn malformed_messages_are_kept_with_their_error_and_raw_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("e.db"), Settings::default()).unwrap();
    let report = run(&mut store, &corpus());
    assert!(report.with_errors >= 5, "{report:?}");
    let mut checked = 0;
    for e in manifest()
        .iter()
        .filter(|e| e.kind.starts_with("malformed-"))
    {
        let m = store
            .find_message(e.message_id.trim_matches(|c| c == '<' || c == '>'))
            .unwrap()
            .unwrap_or_else(|| panic!("{} ({}) was lost", e.message_id, e.kind));
        if matches!(
            e.kind.as_str(),
            "malformed-no-date" | "malformed-bad-charset" | "malformed-wrong-charset"
        ) {
            assert!(
                m.parse_error.is_some(),
                "{} should carry its parse error",
                e.kind
            );
            assert!(
                store.raw_message(m.id).unwrap().is_some(),
                "raw bytes kept for {}",
                e.kind
            );
        }
        checked += 1;
    }
    assert!(checked >= 10);
}

#[test]
fn charset_zoo_decodes() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("e.db"), Settings::default()).unwrap();
    run(&mut store, &corpus());
    let mut by_prefix = std::collections::BTreeMap::new();
    for e in manifest() {
        let cjk = ["zh-gbk", "zh-big5", "zh-utf8", "ja-iso2022", "ja-sjis"];
        let Some(prefix) = cjk.iter().find(|p| e.kind.starts_with(*p)) else {
            continue;
        };
        let m = store
            .find_message(e.message_id.trim_matches(|c| c == '<' || c == '>'))
            .unwrap()
            .unwrap();
        assert_eq!(m.subject, e.subject, "{} subject", e.kind);
        assert!(
            m.body_text
                .chars()
                .any(|c| ('\u{3040}'..='\u{9fff}').contains(&c)),
            "{} body should be CJK text: {:?}",
            e.kind,
            &m.body_text.chars().take(60).collect::<String>()
        );
        assert!(
            !m.body_text.contains('\u{FFFD}'),
            "{} body has replacement chars",
            e.kind
        );
        *by_prefix.entry(*prefix).or_insert(0) += 1;
    }
    assert_eq!(
        by_prefix.len(),
        5,
        "every charset family present: {by_prefix:?}"
    );

    // Big5 bytes under a gb2312 label: recovered, and the repair noted.
    let mut wrong = 0;
    for e in manifest()
        .iter()
        .filter(|e| e.kind == "malformed-wrong-charset")
    {
        let m = store
            .find_message(e.message_id.trim_matches(['<', '>']))
            .unwrap()
            .unwrap();
        assert!(!m.subject.contains("=?"), "{}", m.subject);
        assert!(m
            .subject
            .chars()
            .all(|c| !('\u{E000}'..='\u{F8FF}').contains(&c)));
        assert!(m.body_text.contains("訂單"), "{}", m.body_text);
        assert!(m.parse_error.as_deref().unwrap_or("").contains("Big5"));
        wrong += 1;
    }
    assert!(wrong > 0);
}

#[test]
fn maildir_and_mbox_give_the_same_result() {
    let dir = tempfile::tempdir().unwrap();
    let files = eml_files();

    let maildir = dir.path().join("Maildir");
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(maildir.join(sub)).unwrap();
    }
    let mut mbox = Vec::new();
    for (i, f) in files.iter().enumerate() {
        let raw = std::fs::read(f).unwrap();
        let sub = if i % 2 == 0 { "cur" } else { "new" };
        std::fs::write(
            maildir.join(sub).join(format!("{:06}.echodesk:2,S", i)),
            &raw,
        )
        .unwrap();
        mbox.extend_from_slice(b"From MAILER-DAEMON Thu Jan  1 00:00:00 2026\n");
        let text = String::from_utf8_lossy(&raw).replace("\r\n", "\n");
        for line in text.lines() {
            if line.trim_start_matches('>').starts_with("From ") {
                mbox.push(b'>');
            }
            mbox.extend_from_slice(line.as_bytes());
            mbox.push(b'\n');
        }
        mbox.push(b'\n');
    }
    let mbox_path = dir.path().join("support.mbox");
    std::fs::write(&mbox_path, &mbox).unwrap();

    let mut a = Store::open(&dir.path().join("a.db"), Settings::default()).unwrap();
    let ra = run(&mut a, &maildir);
    let mut b = Store::open(&dir.path().join("b.db"), Settings::default()).unwrap();
    let rb = run(&mut b, &mbox_path);
    assert_eq!(ra.seen, files.len() as u64);
    assert_eq!(rb.seen, files.len() as u64, "{rb:?}");
    assert_eq!(a.totals().unwrap().1, b.totals().unwrap().1);
    // Re-importing the Maildir adds nothing.
    assert_eq!(run(&mut a, &maildir).duplicates, files.len() as u64);
}

#[test]
fn hylafax_sample_imports_as_mail_with_its_pdf() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("e.db"), Settings::default()).unwrap();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hylafax-success-pdf.eml");
    let r = run(&mut store, &path);
    assert_eq!(r.created, 1);
    let t = store.ticket(1).unwrap();
    let att = &t.messages[0].attachments;
    assert_eq!(att.len(), 1, "{att:?}");
    assert_eq!(att[0].content_type, "application/pdf");
    let data = store.blob(&att[0].sha256).unwrap();
    assert!(data.starts_with(b"%PDF"));
}

/// An import into a file store writes its search documents from a second
/// thread into the index file; an in-memory store writes them in each
/// transaction. Both must find the same tickets, and the file store's
/// queue must be settled when the import returns.
#[test]
fn the_background_indexer_finds_what_inline_indexing_finds() {
    use echodesk::store::SearchContext;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("e.db");
    let mut file = Store::open(&db, Settings::default()).unwrap();
    let mut memory = Store::open_in_memory(Settings::default()).unwrap();
    run(&mut file, &corpus());
    run(&mut memory, &corpus());
    let ctx = SearchContext {
        me: "a".into(),
        now: 0,
    };
    let mut words: Vec<String> = manifest()
        .iter()
        .flat_map(|e| {
            e.subject
                .split_whitespace()
                .filter(|w| w.chars().all(char::is_alphanumeric) && w.chars().count() > 3)
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect();
    words.sort();
    words.dedup();
    assert!(words.len() > 20, "{words:?}");
    let mut found = 0;
    for w in &words {
        let q = echodesk::query::parse(w).unwrap();
        let n = file.count(&q, &ctx).unwrap();
        assert_eq!(n, memory.count(&q, &ctx).unwrap(), "{w}");
        found += usize::from(n > 0);
    }
    assert_eq!(found, words.len(), "every subject word finds its ticket");
    drop(file);
    let mut notes = Vec::new();
    Store::open_noting(&db, Settings::default(), &mut |n| notes.push(n.to_string())).unwrap();
    assert!(notes.is_empty(), "{notes:?}");
    let conn = rusqlite::Connection::open(&db).unwrap();
    let waiting: i64 = conn
        .query_row("SELECT count(*) FROM search_queue", [], |r| r.get(0))
        .unwrap();
    assert_eq!(waiting, 0, "the import settles its queue");
}
