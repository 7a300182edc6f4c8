//! TUI benchmark: `cargo bench --bench tui` (figures in docs/performance.md).
//!
//! Builds (once, in BENCH_DIR if set) a store of BENCH_TICKETS tickets
//! (default 1,000,000) through the ingest path, then measures in process,
//! drawing into ratatui's TestBackend at 120×40:
//! - first full frame: open the store, build the app, draw;
//! - key → frame: handling a key and drawing the next frame, while
//!   scrolling (j, k, PgDn, G, g) and switching views (1-8), p50/p99;
//! - search: `/`, a query, Enter, and the frame with the results.
//!
//! scripts/bench-tui adds the real binary in tmux, its memory, and neomutt.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{env_usize, ms, pct};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use echodesk::config::Config;
use echodesk::inbound::Inbound;
use echodesk::ingest::Ingest;
use echodesk::model::Channel;
use echodesk::store::{Settings, Store};
use echodesk::tui::app::App;
use echodesk::tui::theme::Theme;
use ratatui::backend::TestBackend;
use ratatui::Terminal;

const WORDS: &[&str] = &[
    "order",
    "refund",
    "invoice",
    "delivery",
    "login",
    "password",
    "warranty",
    "broken",
    "late",
    "charger",
    "kettle",
    "router",
    "printer",
    "subscription",
    "cancel",
    "address",
    "payment",
];

fn build(db: &Path, tickets: usize) {
    println!("building {tickets} tickets through ingest…");
    let t = Instant::now();
    let mut store = Store::open(db, Settings::default()).expect("open");
    let ingest = Ingest::new(store.settings());
    let mut rng: u64 = 0x1234_5678_9abc_def1;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let start = 1_760_000_000i64;
    let mut done = 0;
    while done < tickets {
        let tx = store.transaction().expect("tx");
        for _ in 0..5000.min(tickets - done) {
            done += 1;
            let r = next();
            // Email only, so every message opens a ticket (phone channels
            // would thread into the customer's open one); channels are
            // spread over the tickets afterwards.
            let channel = Channel::Email;
            let cust = (r >> 8) % 250_000;
            let from = format!("customer{cust}@example.com");
            let w1 = WORDS[(r >> 20) as usize % WORDS.len()];
            let w2 = WORDS[(r >> 28) as usize % WORDS.len()];
            let subject = format!("{w1} {w2} {}", (r >> 36) % 100_000);
            let body = format!(
                "Hello, my {w1} has a problem with the {w2}. Order {} please help.",
                (r >> 40) % 1_000_000
            );
            let m = Inbound {
                channel,
                account: "bench".into(),
                provider_id: format!("t{done}"),
                message_id: None,
                refs: vec![],
                from_addr: from,
                from_name: Some(format!("Customer {cust}")),
                to_addr: "support@example.test".into(),
                subject,
                body_text: body,
                body_html: None,
                received_at: start + done as i64 * 30,
                auto_kind: None,
                attachments: vec![],
                parse_error: None,
                raw: None,
            };
            let _ = ingest.ingest(&tx, &m).expect("ingest");
        }
        tx.commit().expect("commit");
    }
    drop(store);
    common::shape(db);
    println!("built in {:.0}s", t.elapsed().as_secs_f64());
}

fn draw(term: &mut Terminal<TestBackend>, app: &mut App) {
    term.draw(|f| echodesk::tui::views::draw(f, app))
        .expect("draw");
}

/// What `echodesk` does at start: open the store, build the app without
/// counting, start the counter, draw the first frame.
fn start(db: &Path) -> (App, Terminal<TestBackend>) {
    let store = Store::open(db, Settings::default()).expect("open");
    let theme = Theme::load("dark").expect("theme");
    let mut app = App::new_lazy(store, Config::default(), "alice".into(), theme).expect("app");
    app.count_in_background();
    let mut term = Terminal::new(TestBackend::new(120, 40)).expect("term");
    draw(&mut term, &mut app);
    (app, term)
}

fn key(c: KeyCode) -> KeyEvent {
    KeyEvent::new(c, KeyModifiers::NONE)
}

fn main() {
    let n = env_usize("BENCH_TICKETS", 1_000_000);
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = std::env::var("BENCH_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or(tmp.path().to_path_buf());
    std::fs::create_dir_all(&dir).expect("dir");
    let db = dir.join(format!("tui-{n}.db"));
    if !db.exists() {
        build(&db, n);
    }
    // Other benchmarks (scripts/bench-export) only need the store.
    if std::env::var_os("BENCH_BUILD_ONLY").is_some() {
        println!("store of {n} tickets: {}", db.display());
        return;
    }
    println!("== TUI on {n} tickets, 120×40 ==");

    // First frame, measured from a cold start of the app (the OS page
    // cache is warm from the build or a previous run).
    let mut firsts = Vec::new();
    for _ in 0..7 {
        let t = Instant::now();
        let _ = start(&db);
        firsts.push(t.elapsed());
    }
    println!(
        "first full frame: median {} (target <= 50 ms)",
        ms(pct(&mut firsts, 0.5))
    );

    let (mut app, mut term) = start(&db);

    let mut lat = Vec::new();
    let mut slowest: Vec<(Duration, String)> = Vec::new();
    let mut press =
        |app: &mut App, term: &mut Terminal<TestBackend>, k: KeyEvent, lat: &mut Vec<Duration>| {
            let view = app.view_title();
            let t = Instant::now();
            app.on_key(k);
            app.collect_counts();
            draw(term, app);
            let d = t.elapsed();
            lat.push(d);
            slowest.push((d, format!("{:?} in {view}", k.code)));
            slowest.sort_by_key(|s| std::cmp::Reverse(s.0));
            slowest.truncate(5);
        };
    for round in 0..3 {
        for _ in 0..1500 {
            press(&mut app, &mut term, key(KeyCode::Char('j')), &mut lat);
        }
        for _ in 0..40 {
            press(&mut app, &mut term, key(KeyCode::PageDown), &mut lat);
        }
        for _ in 0..500 {
            press(&mut app, &mut term, key(KeyCode::Char('k')), &mut lat);
        }
        press(&mut app, &mut term, key(KeyCode::Char('G')), &mut lat);
        for _ in 0..300 {
            press(&mut app, &mut term, key(KeyCode::Char('k')), &mut lat);
        }
        press(&mut app, &mut term, key(KeyCode::Char('g')), &mut lat);
        for v in 1..=8 {
            let c = char::from_digit(((v + round) % 8 + 1) as u32, 10).expect("digit");
            press(&mut app, &mut term, key(KeyCode::Char(c)), &mut lat);
            for _ in 0..50 {
                press(&mut app, &mut term, key(KeyCode::Char('j')), &mut lat);
            }
        }
    }
    let p50 = pct(&mut lat, 0.5);
    let p99 = pct(&mut lat, 0.99);
    let max = pct(&mut lat, 1.0);
    println!(
        "key → frame over {} keys: p50 {}, p99 {} (target <= 10 ms), max {}",
        lat.len(),
        ms(p50),
        ms(p99),
        ms(max)
    );
    for (d, what) in &slowest {
        println!("  slow: {} {what}", ms(*d));
    }

    let mut searches = Vec::new();
    for q in [
        "refund",
        "kettle is:open",
        "customer4711",
        "state:pending printer",
        "order 4242",
        "-tag:x charger",
    ] {
        let t = Instant::now();
        app.on_key(key(KeyCode::Char('/')));
        // `/` offers the previous search for editing: clear it first.
        app.on_key(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL));
        for c in q.chars() {
            app.on_key(key(KeyCode::Char(c)));
        }
        app.on_key(key(KeyCode::Enter));
        draw(&mut term, &mut app);
        let d = t.elapsed();
        assert!(app.search.as_deref() == Some(q), "search `{q}` did not run");
        println!(
            "  search {q:<24} {:>10}  ({} rows in the window)",
            ms(d),
            app.rows.len()
        );
        searches.push(d);
    }
    println!(
        "search → results frame: median {} (target <= 50 ms)",
        ms(pct(&mut searches, 0.5))
    );
}
