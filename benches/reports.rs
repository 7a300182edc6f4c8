//! Report benchmark: `cargo bench --bench reports` (figures in
//! docs/performance.md).
//!
//! 1. Builds a store of BENCH_TICKETS (default 1,000,000) tickets with a
//!    year of history through the store's own write path — customer
//!    messages through ingest, replies, notes, assignments, priorities,
//!    solves, reopens — in Europe/Berlin, so the rollups are kept as
//!    they would be. BENCH_DIR keeps it for the next run.
//! 2. Times 12-month reports by week (per channel, per agent, and all)
//!    from the rollups, and beside them the brute force: every ticket's
//!    figures recomputed from the history and summed into the same
//!    report. Checks the two agree. Medians.
//! 3. Imports a generated Maildir (BENCH_IMPORT, default 100,000) with
//!    and without keeping the rollups, alternately, to show what keeping
//!    them costs.
//!
//! Scale down for a smoke run: BENCH_TICKETS=20000 BENCH_IMPORT=5000.

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use common::{env_usize, ms, pct};
use echodesk::clock::Zone;
use echodesk::inbound::Inbound;
use echodesk::ingest::{Ingest, Outcome};
use echodesk::kpi::{self, Group, Request};
use echodesk::model::{Channel, Direction, Priority};
use echodesk::report::period::{self, By, Range};
use echodesk::store::{SearchContext, Settings, Store};
use echodesk_corpus::Corpus;

const ZONE: &str = "Europe/Berlin";
const AGENTS: [&str; 6] = ["alice", "bob", "chen", "yuki", "dana", "emil"];

fn settings() -> Settings {
    let zone = Zone::parse(ZONE).expect("zone");
    let policy = echodesk::sla::Policy {
        name: "standard".into(),
        priorities: vec![],
        channels: vec![],
        first_response: Some("8h".into()),
        resolution: Some("5d".into()),
        business_hours: true,
    };
    Settings {
        zone,
        sla: echodesk::sla::Sla::new(&[policy], &Default::default(), zone).expect("sla"),
        ..Settings::default()
    }
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn chance(&mut self, pct: u64) -> bool {
        self.below(100) < pct
    }
    /// Seconds from 5 minutes to about 4 days, most under a working day.
    fn delay(&mut self) -> i64 {
        let u = (self.below(10_000) as f64 + 0.5) / 10_000.0;
        (300.0 * (1200.0f64).powf(u * u)) as i64
    }
}

/// The year before 2026-12-01 in Berlin.
fn year() -> (i64, i64) {
    let z = Zone::parse(ZONE).expect("zone");
    let first = period::parse_date("2025-12-01").expect("date");
    (z.day_start(first), z.day_start(first + 365))
}

fn build(db: &Path, tickets: usize) {
    println!("== building {tickets} tickets with a year of history ==");
    let t = Instant::now();
    let mut store = Store::open(db, settings()).expect("open");
    let ingest = Ingest::new(store.settings());
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let (start, end) = year();
    let span = (end - start) as u64;
    let mut seq = 0u64;
    let mut done = 0;
    while done < tickets {
        let tx = store.transaction().expect("tx");
        for _ in 0..2000.min(tickets - done) {
            done += 1;
            // Arrivals spread over the year, more by day than by night.
            let mut at = start + rng.below(span) as i64;
            if rng.chance(60) {
                let day = at - at.rem_euclid(86_400);
                at = day + 7 * 3600 + rng.below(10 * 3600) as i64;
            }
            let channel = match rng.below(10) {
                0..=5 => Channel::Email,
                6..=8 => Channel::Sms,
                _ => Channel::Fax,
            };
            let cust = rng.below(250_000);
            // Phone channels continue a customer's open ticket: numbers
            // are per ticket here, so every ticket is its own.
            let from = match channel {
                Channel::Email => format!("customer{cust}@example.com"),
                _ => format!("+1555{done:07}"),
            };
            // Email replies thread by the first message's Message-ID.
            let first_mid = format!("r{}@bench.example", seq + 1);
            let msg = |at: i64, seq: &mut u64| {
                *seq += 1;
                let email = channel == Channel::Email;
                Inbound {
                    channel,
                    account: format!("bench-{}", channel.as_str()),
                    provider_id: format!("r{seq}"),
                    message_id: email.then(|| format!("r{seq}@bench.example")),
                    refs: if email && format!("r{seq}@bench.example") != first_mid {
                        vec![first_mid.clone()]
                    } else {
                        vec![]
                    },
                    from_addr: from.clone(),
                    from_name: None,
                    to_addr: "support@example.test".into(),
                    subject: format!("order {}", rng_subject(*seq)),
                    body_text: "Hello, my order has not arrived, please help.".into(),
                    body_html: None,
                    received_at: at,
                    auto_kind: None,
                    attachments: vec![],
                    parse_error: None,
                    raw: None,
                }
            };
            tx.set_clock(Some(at));
            let first = msg(at, &mut seq);
            let id = match ingest.ingest(&tx, &first).expect("ingest") {
                Outcome::Created { ticket, .. } | Outcome::Threaded { ticket, .. } => ticket,
                _ => continue,
            };
            let agent = AGENTS[rng.below(AGENTS.len() as u64) as usize];
            if rng.chance(70) {
                tx.assign(id, Some(agent), agent, None).expect("assign");
            }
            if rng.chance(20) {
                let p = [Priority::Low, Priority::High, Priority::Urgent][rng.below(3) as usize];
                tx.set_priority(id, p, agent, None).expect("priority");
            }
            if !rng.chance(90) {
                continue;
            }
            at += rng.delay();
            tx.set_clock(Some(at));
            if rng.chance(15) {
                tx.add_agent_message(id, Direction::Note, "checking", agent, at)
                    .expect("note");
            }
            tx.add_agent_message(id, Direction::Out, "On its way.", agent, at)
                .expect("reply");
            if rng.chance(30) {
                at += rng.delay();
                let follow = msg(at, &mut seq);
                tx.set_clock(Some(at));
                let _ = ingest.ingest(&tx, &follow).expect("ingest");
                at += rng.delay();
                tx.set_clock(Some(at));
                tx.add_agent_message(id, Direction::Out, "Sorted.", agent, at)
                    .expect("reply");
            }
            if !rng.chance(80) {
                continue;
            }
            at += rng.delay() / 2;
            tx.set_clock(Some(at));
            let _ = tx.set_state(id, "solved", agent, None);
            if rng.chance(6) && channel != Channel::Email {
                // A text within the reopen window reopens it.
                at += rng.delay();
                let again = msg(at, &mut seq);
                tx.set_clock(Some(at));
                let _ = ingest.ingest(&tx, &again).expect("ingest");
                at += rng.delay();
                tx.set_clock(Some(at));
                tx.add_agent_message(id, Direction::Out, "Done now.", agent, at)
                    .expect("reply");
                let _ = tx.set_state(id, "solved", agent, None);
            } else if rng.chance(40) {
                at += 7 * 86_400;
                tx.set_clock(Some(at));
                let _ = tx.set_state(id, "closed", agent, None);
            }
        }
        tx.set_clock(None);
        tx.commit().expect("commit");
        if done % 100_000 == 0 {
            eprintln!("  {done} tickets, {:.0}s", t.elapsed().as_secs_f64());
        }
    }
    let (tickets, messages, customers) = store.totals().expect("totals");
    println!(
        "built in {:.0}s: {tickets} tickets, {messages} messages, {customers} customers",
        t.elapsed().as_secs_f64()
    );
}

fn rng_subject(seq: u64) -> u64 {
    (seq * 2_654_435_761) % 100_000
}

fn request(group: Group) -> Request {
    Request {
        range: Range {
            first: period::parse_date("2025-12-01").expect("date"),
            last: period::parse_date("2026-11-30").expect("date"),
        },
        by: By::Week,
        group,
        query: None,
        compare: false,
        week_starts: chrono::Weekday::Mon,
        targets: vec![
            echodesk::report::figures::Target::parse("frt_p90", "<= 4h").expect("target"),
            echodesk::report::figures::Target::parse("reopen_rate", "<= 5%").expect("target"),
        ],
        near: 0.1,
        live: true,
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    pct(&mut v, 0.5)
}

/// The brute force: every ticket's figures from its history, summed by
/// week and channel, as the report sums its rollups.
fn brute_force(
    store: &Store,
    req: &Request,
) -> HashMap<(usize, Channel), echodesk::report::Counters> {
    let (_, all) = store.recompute_facts().expect("recompute");
    let ivs = period::intervals(req.range, req.by, req.week_starts);
    let channels: HashMap<i64, Channel> = {
        let mut m = HashMap::new();
        let ids: Vec<i64> = all.iter().map(|(id, _)| *id).collect();
        for (id, ch, _) in store.facts_of(&ids).expect("facts") {
            m.insert(id, ch);
        }
        m
    };
    let mut out: HashMap<(usize, Channel), echodesk::report::Counters> = HashMap::new();
    for (id, facts) in &all {
        for f in facts {
            if f.day < req.range.first || f.day > req.range.last {
                continue;
            }
            let i = ivs
                .iter()
                .position(|iv| f.day >= iv.range.first && f.day <= iv.range.last)
                .expect("interval");
            out.entry((i, channels[id])).or_default().record(f, 1);
        }
    }
    out
}

fn bench_reports(db: &Path, reps: usize) {
    let mut store = Store::open(db, settings()).expect("open");
    if let echodesk::store::RollupState::Stale { reason } = store.rollup_state().expect("state") {
        println!("rollups stale ({reason}): rebuilding");
        let t = Instant::now();
        store.rebuild_reports().expect("rebuild");
        println!("rebuilt in {:.1}s", t.elapsed().as_secs_f64());
    }
    let (tickets, messages, _) = store.totals().expect("totals");
    let rollup_rows = store
        .each_rollup(i32::MIN, i32::MAX, &mut |_, _| {})
        .expect("rows");
    println!(
        "== reports on {tickets} tickets, {messages} messages ({rollup_rows} rollup rows), {reps} reps =="
    );
    let ctx = SearchContext {
        me: "alice".into(),
        now: year().1,
    };
    let mut results = Vec::new();
    for (name, group) in [
        ("12 months by week, per channel", Group::Channel),
        ("12 months by week, per agent", Group::Agent),
        ("12 months by week, all", Group::All),
    ] {
        let req = request(group);
        let mut times = Vec::with_capacity(reps);
        let mut last = None;
        for _ in 0..reps {
            let t = Instant::now();
            let r = kpi::build(&store, &req, &ctx).expect("report");
            times.push(t.elapsed());
            last = Some(r);
        }
        let r = last.expect("a run");
        let total = r.totals.last().expect("total").figures.clone();
        println!(
            "{name:<34} median {:>8} (target <= 100 ms)   rows {}, FRT n {} median {}s p90 {}s",
            ms(median(times.clone())),
            r.rows.len(),
            total.first_response.n,
            total.first_response.median.unwrap_or(0),
            total.first_response.p90.unwrap_or(0)
        );
        results.push((name, median(times), r));
    }
    // The brute force, for the per-channel report.
    let req = request(Group::Channel);
    let brute_reps = reps.clamp(1, 3);
    let mut times = Vec::new();
    let mut sums = HashMap::new();
    for _ in 0..brute_reps {
        let t = Instant::now();
        sums = brute_force(&store, &req);
        times.push(t.elapsed());
    }
    let brute = median(times);
    let fast = results[0].1;
    println!(
        "brute force (recompute every ticket's figures from the history, sum by week and channel): median {} over {brute_reps} runs",
        ms(brute)
    );
    println!(
        "ratio brute force / rollups = {:.0}x (target >= 50x)",
        brute.as_secs_f64() / fast.as_secs_f64().max(1e-9)
    );
    // The two must agree: counts exactly, percentiles within the bound.
    let report = &results[0].2;
    let ivs = period::intervals(req.range, req.by, req.week_starts);
    let mut mismatches = 0;
    for row in &report.rows {
        let i = ivs
            .iter()
            .position(|iv| iv.label == row.interval)
            .expect("interval");
        let ch = Channel::parse(&row.group).expect("channel");
        let c = sums.remove(&(i, ch)).unwrap_or_default();
        let f = echodesk::report::figures::Figures::of(&c, row.figures.backlog);
        if f != row.figures {
            mismatches += 1;
        }
    }
    let leftover = sums.values().filter(|c| !c.is_zero()).count();
    println!(
        "rollups vs brute force: {} rows compared, {mismatches} differ, {leftover} only in the brute force",
        report.rows.len()
    );
    assert!(
        mismatches == 0 && leftover == 0,
        "the rollups and the brute force disagree"
    );
}

/// The dashboard's first frame: open the store, build the TUI's state,
/// press `D`, draw it (ratatui's TestBackend, 120×40).
fn bench_dashboard(db: &Path, reps: usize) {
    use echodesk::tui::app::App;
    let mut config = echodesk::config::Config {
        time_zone: ZONE.into(),
        ..Default::default()
    };
    config
        .report
        .targets
        .insert("frt_p90".into(), "<= 4h".into());
    config
        .report
        .targets
        .insert("reopen_rate".into(), "<= 5%".into());
    let mut times = Vec::new();
    let (mut opens, mut keys, mut draws) = (Vec::new(), Vec::new(), Vec::new());
    let mut lines = 0;
    for _ in 0..reps {
        let t = Instant::now();
        let store = Store::open(db, settings()).expect("open");
        let theme = echodesk::tui::theme::Theme::load("dark").expect("theme");
        let mut app = App::new_lazy(store, config.clone(), "alice".into(), theme).expect("app");
        app.clock = Some(year().1 - 3600);
        let opened = t.elapsed();
        app.on_key(crossterm::event::KeyEvent::new(
            crossterm::event::KeyCode::Char('D'),
            crossterm::event::KeyModifiers::NONE,
        ));
        let keyed = t.elapsed();
        let mut term =
            ratatui::Terminal::new(ratatui::backend::TestBackend::new(120, 40)).expect("term");
        term.draw(|f| echodesk::tui::views::draw(f, &mut app))
            .expect("draw");
        times.push(t.elapsed());
        opens.push(opened);
        keys.push(keyed - opened);
        draws.push(t.elapsed() - keyed);
        lines = term
            .backend()
            .buffer()
            .content
            .iter()
            .filter(|c| c.symbol() != " ")
            .count();
    }
    println!(
        "dashboard first frame (open, D, draw 120×40; last 4 weeks): median {} (target <= 50 ms), {lines} cells drawn",
        ms(median(times))
    );
    {
        // The two ways to the carried backlog agree on this store (whose
        // totals the migration may have filled from older rollups).
        let store = Store::open(db, settings()).expect("open");
        let zone = echodesk::clock::Zone::parse(ZONE).expect("zone");
        let today = zone.day(year().1);
        for first in [today - 340, today - 180, today - 27, today] {
            let mut a = store.carried(first, false).expect("carry");
            let mut b = store.carried(first, true).expect("carry");
            a.sort_by(|x, y| (x.0, &x.1, x.2.rank()).cmp(&(y.0, &y.1, y.2.rank())));
            b.sort_by(|x, y| (x.0, &x.1, x.2.rank()).cmp(&(y.0, &y.1, y.2.rank())));
            assert_eq!(a, b, "carried into day {first}: the totals disagree");
        }
    }
    if std::env::var("BENCH_PARTS").is_ok() {
        let now = year().1 - 3600;
        let zone = echodesk::clock::Zone::parse(ZONE).expect("zone");
        let today = zone.day(now);
        let mut t_state = Vec::new();
        let mut t_carry = Vec::new();
        let mut t_open = Vec::new();
        let mut t_scan = Vec::new();
        for _ in 0..reps {
            let store = Store::open(db, settings()).expect("open");
            let t = Instant::now();
            store.rollup_state().expect("state");
            t_state.push(t.elapsed());
            let t = Instant::now();
            store.backlog_before(today - 27).expect("carry");
            t_carry.push(t.elapsed());
            let t = Instant::now();
            store.open_breaches(now).expect("open");
            t_open.push(t.elapsed());
            let t = Instant::now();
            store
                .each_rollup(today - 27, today, &mut |_, _| {})
                .expect("scan");
            t_scan.push(t.elapsed());
        }
        println!(
            "  parts: rollup state {}, carry {}, open breaches {}, 4-week scan {}",
            ms(median(t_state)),
            ms(median(t_carry)),
            ms(median(t_open)),
            ms(median(t_scan))
        );
    }
    println!(
        "  of which: open the store and the queue {}, D (the two reports) {}, draw {}",
        ms(median(opens)),
        ms(median(keys)),
        ms(median(draws))
    );
}

fn bench_import(dir: &Path, n: usize, runs: usize) {
    println!("== import of {n} messages, keeping the report rollups or not ==");
    let maildir = dir.join("Maildir-reports");
    if !maildir.exists() {
        Corpus::new(42, 1_780_000_000)
            .write_maildir(&maildir, n)
            .expect("corpus");
    }
    let mut with = Vec::new();
    let mut without = Vec::new();
    for run in 0..runs * 2 {
        let keep = run % 2 == 1;
        let db = dir.join("import-reports.db");
        for suffix in ["", "-wal", "-shm", "-search", "-search-wal", "-search-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
        }
        let s = Settings {
            keep_reports: keep,
            ..settings()
        };
        let mut store = Store::open(&db, s).expect("open");
        let t = Instant::now();
        let r = echodesk::import::import(&mut store, &maildir, "bench", |_| {}).expect("import");
        let secs = t.elapsed().as_secs_f64();
        let rate = r.seen as f64 / secs;
        println!(
            "  run {}: {} rollups: {:.2}s = {rate:.0} msg/s",
            run / 2 + 1,
            if keep { "with   " } else { "without" },
            secs
        );
        if keep {
            with.push(rate)
        } else {
            without.push(rate)
        }
    }
    let med = |mut v: Vec<f64>| {
        v.sort_by(|a, b| a.total_cmp(b));
        v[v.len() / 2]
    };
    let (a, b) = (med(with), med(without));
    println!(
        "import with rollups {a:.0} msg/s, without {b:.0} msg/s: costs {:.1}% of the rate (target <= 10%)",
        (1.0 - a / b) * 100.0
    );
}

fn main() {
    let tickets = env_usize("BENCH_TICKETS", 1_000_000);
    let import_n = env_usize("BENCH_IMPORT", 100_000);
    let reps = env_usize("BENCH_REPS", 20);
    let runs = env_usize("BENCH_RUNS", 3);
    let keep = std::env::var("BENCH_DIR").ok();
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = keep
        .as_deref()
        .map(Path::new)
        .unwrap_or(tmp.path())
        .to_path_buf();
    std::fs::create_dir_all(&dir).expect("bench dir");
    println!(
        "echodesk report benchmark — {} cores, zone {ZONE}",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    if tickets > 0 {
        let db = dir.join(format!("reports-{tickets}.db"));
        if !db.exists() {
            build(&db, tickets);
        }
        // BENCH_ONLY=dashboard skips the reports and their brute force.
        if std::env::var("BENCH_ONLY").map_or(true, |o| o != "dashboard") {
            bench_reports(&db, reps);
        }
        bench_dashboard(&db, reps);
    }
    if import_n > 0 {
        bench_import(&dir, import_n, runs);
    }
}
