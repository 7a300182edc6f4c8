//! Reports against figures worked out by hand, against an independent
//! recomputation over generated histories, and across a DST change.

use chrono::TimeZone;
use echodesk::clock::Zone;
use echodesk::inbound::Inbound;
use echodesk::ingest::Ingest;
use echodesk::kpi::{self, Group, Request};
use echodesk::model::{Channel, Direction, Priority};
use echodesk::report::period::{By, Range};
use echodesk::store::{SearchContext, Settings, Store};

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> i64 {
    chrono::Utc
        .with_ymd_and_hms(y, mo, d, h, mi, 0)
        .unwrap()
        .timestamp()
}

fn day(s: &str) -> i32 {
    echodesk::report::period::parse_date(s).unwrap()
}

fn settings(zone: &str) -> Settings {
    let zone = Zone::parse(zone).unwrap();
    Settings {
        zone,
        sla: echodesk::sla::Sla::new(&[], &Default::default(), zone).unwrap(),
        ..Settings::default()
    }
}

struct Desk {
    store: Store,
    ingest: Ingest,
    seq: u32,
}

impl Desk {
    fn new(zone: &str) -> Desk {
        let s = settings(zone);
        Desk {
            ingest: Ingest::new(&s),
            store: Store::open_in_memory(s).unwrap(),
            seq: 0,
        }
    }

    /// A customer message at `at`; returns its ticket.
    fn customer(&mut self, channel: Channel, from: &str, subject: &str, at: i64) -> i64 {
        self.seq += 1;
        let m = Inbound {
            channel,
            account: format!("{}-acct", channel.as_str()),
            provider_id: format!("p{}", self.seq),
            message_id: (channel == Channel::Email).then(|| format!("m{}@x", self.seq)),
            refs: vec![],
            from_addr: from.into(),
            from_name: None,
            to_addr: "support@example.test".into(),
            subject: subject.into(),
            body_text: "hello".into(),
            body_html: None,
            received_at: at,
            auto_kind: None,
            attachments: vec![],
            parse_error: None,
            raw: None,
        };
        let tx = self.store.transaction().unwrap();
        tx.set_clock(Some(at));
        let out = self.ingest.ingest(&tx, &m).unwrap();
        tx.commit().unwrap();
        match out {
            echodesk::ingest::Outcome::Created { ticket, .. }
            | echodesk::ingest::Outcome::Threaded { ticket, .. } => ticket,
            o => panic!("{o:?}"),
        }
    }

    fn with<T>(&mut self, at: i64, f: impl FnOnce(&echodesk::store::Tx<'_>) -> T) -> T {
        let tx = self.store.transaction().unwrap();
        tx.set_clock(Some(at));
        let v = f(&tx);
        tx.commit().unwrap();
        v
    }

    fn reply(&mut self, t: i64, agent: &str, at: i64) {
        self.with(at, |tx| {
            tx.add_agent_message(t, Direction::Out, "answer", agent, at)
                .unwrap()
        });
    }

    fn state(&mut self, t: i64, to: &str, agent: &str, at: i64) {
        self.with(at, |tx| tx.set_state(t, to, agent, None).unwrap());
    }

    fn report(&mut self, first: &str, last: &str, by: By, group: Group) -> kpi::Report {
        let req = Request {
            range: Range {
                first: day(first),
                last: day(last),
            },
            by,
            group,
            query: None,
            compare: false,
            week_starts: chrono::Weekday::Mon,
            targets: vec![],
            near: 0.1,
            live: true,
        };
        let ctx = SearchContext {
            me: "alice".into(),
            now: utc(2026, 11, 20, 0, 0),
        };
        kpi::build(&self.store, &req, &ctx).unwrap()
    }
}

/// Five tickets in November 2026, Berlin (UTC+1, business hours 09–17 on
/// weekdays), with every figure worked out by hand in the comments.
fn hand_fixture() -> Desk {
    let mut d = Desk::new("Europe/Berlin");
    // T1 email: Monday 2 Nov 08:00 UTC (09:00 local). Alice answers at
    // 09:30 UTC (first reply 1h30m, in business hours too) and solves at
    // 11:00 UTC (resolution 3h, one reply: one touch).
    let t1 = d.customer(
        Channel::Email,
        "ann@example.test",
        "Broken kettle",
        utc(2026, 11, 2, 8, 0),
    );
    d.reply(t1, "alice", utc(2026, 11, 2, 9, 30));
    d.state(t1, "solved", "alice", utc(2026, 11, 2, 11, 0));
    // T2 sms: Friday 6 Nov 15:30 UTC (16:30 local). Bob answers Monday
    // 9 Nov 08:30 UTC (09:30 local): 2d17h calendar, 30m Friday + 30m
    // Monday = 1h in business hours. He solves at 09:00 UTC: 2d17h30m,
    // in business hours 30m + 1h = 1h30m.
    let t2 = d.customer(Channel::Sms, "+14155550101", "", utc(2026, 11, 6, 15, 30));
    d.reply(t2, "bob", utc(2026, 11, 9, 8, 30));
    d.state(t2, "solved", "bob", utc(2026, 11, 9, 9, 0));
    // The customer texts again Tuesday 10 Nov 10:00 UTC: the ticket
    // reopens (a second cycle). Alice answers at 10:20 (20m) and solves
    // at 10:30 (30m, one touch).
    let again = d.customer(Channel::Sms, "+14155550101", "", utc(2026, 11, 10, 10, 0));
    assert_eq!(again, t2);
    d.reply(t2, "alice", utc(2026, 11, 10, 10, 20));
    d.state(t2, "solved", "alice", utc(2026, 11, 10, 10, 30));
    // T3 email: Tuesday 10 Nov 12:00 UTC. A rule's acknowledgement and a
    // note do not answer it; Alice's reply at 13:00 does (1h). It stays
    // pending: open at the end.
    let t3 = d.customer(
        Channel::Email,
        "bo@example.test",
        "Invoice",
        utc(2026, 11, 10, 12, 0),
    );
    d.reply(t3, "rule:ack", utc(2026, 11, 10, 12, 0));
    d.with(utc(2026, 11, 10, 12, 10), |tx| {
        tx.add_agent_message(
            t3,
            Direction::Note,
            "checking",
            "alice",
            utc(2026, 11, 10, 12, 10),
        )
        .unwrap()
    });
    d.reply(t3, "alice", utc(2026, 11, 10, 13, 0));
    d.state(t3, "pending", "alice", utc(2026, 11, 10, 13, 0));
    // T4: spam, counted as spam only.
    let t4 = d.customer(
        Channel::Email,
        "win@spam.test",
        "You won",
        utc(2026, 11, 11, 7, 0),
    );
    d.state(t4, "spam", "alice", utc(2026, 11, 11, 7, 5));
    // T5 fax on Wednesday 11 Nov 09:00 UTC, merged into T3 at 10:00: it
    // was created, it closed by a merge (not solved), and its message now
    // counts on T3.
    let t5 = d.customer(
        Channel::Fax,
        "+12125550199",
        "Order form",
        utc(2026, 11, 11, 9, 0),
    );
    d.with(utc(2026, 11, 11, 10, 0), |tx| {
        tx.merge_tickets(t3, &[t5], "alice").unwrap()
    });
    d
}

#[test]
fn a_hand_computed_fortnight() {
    let mut d = hand_fixture();
    let r = d.report("2026-11-02", "2026-11-15", By::Week, Group::All);
    assert_eq!(r.rows.len(), 2);
    let (w45, w46, total) = (&r.rows[0].figures, &r.rows[1].figures, &r.totals[0].figures);
    assert_eq!(r.rows[0].interval, "2026-W45");
    // Volume.
    assert_eq!(
        (w45.created, w45.solved, w45.reopened, w45.backlog),
        (2, 1, 0, 1)
    );
    assert_eq!(
        (
            w46.created,
            w46.solved,
            w46.reopened,
            w46.merged,
            w46.spam,
            w46.backlog
        ),
        (2, 2, 1, 1, 1, 1)
    );
    assert_eq!((w45.messages_in, w45.messages_out, w45.notes), (2, 1, 0));
    // In W46: the reopening text, T3's mail, T5's fax; out: Bob, Alice
    // (T2), the rule, Alice (T3); one note.
    assert_eq!((w46.messages_in, w46.messages_out, w46.notes), (3, 4, 1));
    // First replies: W45 {1h30m}; W46 {2d17h, 20m, 1h}.
    assert_eq!(w45.first_response.n, 1);
    assert_eq!(w45.first_response.median, Some(5400));
    assert_eq!(w46.first_response.n, 3);
    assert_eq!(w46.first_response.median, Some(3600));
    let p90 = w46.first_response.p90.unwrap();
    assert!(
        (p90 - 234_000).abs() <= echodesk::report::dist::allowed_error(234_000),
        "p90 {p90}"
    );
    assert_eq!(w46.first_response.mean, Some((234_000 + 1200 + 3600) / 3));
    assert_eq!(w46.first_response.bands, [1, 1, 0, 0, 1]);
    // In business hours: {1h, 20m, 1h}.
    assert_eq!(w46.first_response_business.median, Some(3600));
    assert_eq!(
        w46.first_response_business.mean,
        Some((3600 + 1200 + 3600) / 3)
    );
    // Resolution: W45 {3h}; W46 {2d17h30m, 30m}; business {1h30m, 30m}.
    // Percentiles past 100 minutes are bucketed: within 1 %.
    let near = |got: Option<i64>, want: i64| {
        let got = got.unwrap();
        assert!(
            (got - want).abs() <= echodesk::report::dist::allowed_error(want),
            "{got} vs {want}"
        );
    };
    near(w45.resolution.median, 10_800);
    assert_eq!(w46.resolution.n, 2);
    assert_eq!(w46.resolution.mean, Some((235_800 + 1800) / 2));
    assert_eq!(w46.resolution_business.mean, Some((5400 + 1800) / 2));
    assert_eq!(w46.one_touch_rate, Some(1.0));
    assert_eq!(w46.reopen_rate, Some(0.5));
    assert_eq!(total.solved, 3);
    assert_eq!(total.backlog, 1);
    // By agent: Bob's one first reply, Alice's two in W46.
    let by = d.report("2026-11-09", "2026-11-15", By::Total, Group::Agent);
    let of = |who: &str| {
        by.totals
            .iter()
            .find(|r| r.group == who)
            .map(|r| r.figures.first_response.n)
    };
    assert_eq!((of("alice"), of("bob")), (Some(2), Some(1)));
    // The heatmap: T1's mail arrived Monday 09:00 local.
    let r = d.report("2026-11-02", "2026-11-08", By::Total, Group::All);
    assert_eq!(r.heatmap[0][9], 1);
    assert_eq!(r.heatmap[4][16], 1, "T2's text, Friday 16:30 local");
    // Open load: T3 is unassigned.
    assert_eq!(
        d.report("2026-11-02", "2026-11-30", By::Total, Group::All)
            .workload,
        vec![(String::new(), 1)]
    );
}

#[test]
fn the_rollups_equal_a_rebuild() {
    let mut d = hand_fixture();
    let before = d.report("2026-11-01", "2026-11-30", By::Day, Group::Channel);
    let n = d.store.rebuild_reports().unwrap();
    assert_eq!(n, 5);
    let after = d.report("2026-11-01", "2026-11-30", By::Day, Group::Channel);
    assert_eq!(
        serde_json::to_value(&before.rows).unwrap(),
        serde_json::to_value(&after.rows).unwrap()
    );
}

/// Grouped by the account the customer first wrote to: one row per
/// account, adding up to the total (each ticket has one account).
#[test]
fn by_account_each_ticket_counts_once() {
    let mut d = hand_fixture();
    let r = d.report("2026-11-01", "2026-11-30", By::Total, Group::Account);
    let groups: Vec<&str> = r.totals.iter().map(|t| t.group.as_str()).collect();
    // T5 gave its fax to T3 when merged: with no message of its own it
    // counts under "-".
    assert_eq!(groups, ["-", "email-acct", "sms-acct", "all"], "{groups:?}");
    let created: Vec<i64> = r.totals.iter().map(|t| t.figures.created).collect();
    assert_eq!(created, [1, 2, 1, 4], "T4 is spam");
    let all = d.report("2026-11-01", "2026-11-30", By::Total, Group::All);
    assert_eq!(r.totals[3].figures.created, all.totals[0].figures.created);
}

/// Grouped by the customer's organisation and by the model of the asset
/// the ticket is about: tickets without one count under "-".
#[test]
fn by_org_and_by_model() {
    let mut d = hand_fixture();
    let at = utc(2026, 11, 12, 0, 0);
    let t1 = d
        .store
        .search_ids(
            &echodesk::query::parse("kettle").unwrap(),
            &SearchContext {
                me: "alice".into(),
                now: at,
            },
            10,
        )
        .unwrap()[0];
    let ann = d.store.ticket(t1).unwrap().customer.id;
    d.with(at, |tx| {
        let org = tx.create_org("Kettle Works", None, "alice").unwrap();
        tx.set_customer_org(ann, Some(org), "alice").unwrap();
        let asset = tx
            .create_asset(
                &echodesk::store::AssetInput {
                    customer_id: Some(ann),
                    model: Some("KT-2".into()),
                    serial: Some("SN-0001".into()),
                    ..Default::default()
                },
                "alice",
            )
            .unwrap();
        tx.set_ticket_asset(t1, Some(asset), "alice").unwrap();
    });
    let r = d.report("2026-11-01", "2026-11-30", By::Total, Group::Org);
    let rows: Vec<(&str, i64)> = r
        .totals
        .iter()
        .map(|t| (t.group.as_str(), t.figures.created))
        .collect();
    assert_eq!(
        rows,
        [("-", 3), ("Kettle Works", 1), ("all", 4)],
        "{rows:?}"
    );
    let r = d.report("2026-11-01", "2026-11-30", By::Total, Group::Model);
    let rows: Vec<(&str, i64, i64)> = r
        .totals
        .iter()
        .map(|t| (t.group.as_str(), t.figures.created, t.figures.solved))
        .collect();
    assert_eq!(
        rows,
        [("-", 3, 2), ("KT-2", 1, 1), ("all", 4, 3)],
        "{rows:?}"
    );
}

/// Rollups are kept by the team's days: opened under another zone, the
/// store says they are stale, and a rebuild moves each figure to its day
/// in the new zone.
#[test]
fn a_new_team_zone_rebuilds_the_rollups() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("z.db");
    {
        let mut d = Desk::new("Europe/Berlin");
        d.store = Store::open(&path, settings("Europe/Berlin")).unwrap();
        d.customer(
            Channel::Email,
            "a@example.test",
            "late",
            utc(2026, 11, 3, 23, 30),
        );
        assert_eq!(
            d.store.rollup_state().unwrap(),
            echodesk::store::RollupState::Current
        );
        let r = d.report("2026-11-01", "2026-11-07", By::Day, Group::All);
        assert!(r
            .rows
            .iter()
            .any(|r| r.interval == "2026-11-04" && r.figures.created == 1));
    }
    let mut d = Desk::new("America/New_York");
    d.store = Store::open(&path, settings("America/New_York")).unwrap();
    match d.store.rollup_state().unwrap() {
        echodesk::store::RollupState::Stale { reason } => {
            assert!(
                reason.contains("Europe/Berlin") && reason.contains("America/New_York"),
                "{reason}"
            )
        }
        s => panic!("{s:?}"),
    }
    d.store.rebuild_reports().unwrap();
    assert_eq!(
        d.store.rollup_state().unwrap(),
        echodesk::store::RollupState::Current
    );
    let r = d.report("2026-11-01", "2026-11-07", By::Day, Group::All);
    assert!(r
        .rows
        .iter()
        .any(|r| r.interval == "2026-11-03" && r.figures.created == 1));
}

/// The open tickets past their SLA targets, from the rollups and today's
/// index range, equal a count straight from the tickets table.
#[test]
fn open_breaches_equal_a_count_of_the_tickets() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sla.db");
    let zone = Zone::parse("Asia/Shanghai").unwrap();
    let policy = echodesk::sla::Policy {
        name: "standard".into(),
        priorities: vec![],
        channels: vec![],
        first_response: Some("4h".into()),
        resolution: Some("2d".into()),
        business_hours: false,
    };
    let texts = echodesk::sla::Policy {
        name: "texts".into(),
        priorities: vec![],
        channels: vec![Channel::Sms],
        first_response: Some("1h".into()),
        resolution: Some("1d".into()),
        business_hours: false,
    };
    let s = Settings {
        zone,
        sla: echodesk::sla::Sla::new(&[texts, policy], &Default::default(), zone).unwrap(),
        ..Settings::default()
    };
    let mut d = Desk::new("Asia/Shanghai");
    d.ingest = Ingest::new(&s);
    d.store = Store::open(&path, s).unwrap();
    let now = utc(2026, 11, 20, 6, 0);
    let mut ids = Vec::new();
    for i in 0..40i64 {
        // Every 3 hours back from now: some due today, some long past,
        // some not yet.
        let at = now - i * 3 * 3600 - 600;
        ids.push(if i % 4 == 1 {
            d.customer(Channel::Sms, &format!("+1415555{i:04}"), "q", at)
        } else {
            d.customer(Channel::Email, &format!("c{i}@example.test"), "q", at)
        });
    }
    for (i, &t) in ids.iter().enumerate() {
        let at = now - (i as i64) * 3 * 3600 + 1200;
        if i % 3 == 0 {
            d.reply(t, "alice", at.min(now - 1));
        }
        if i % 5 == 0 {
            d.state(t, "solved", "alice", at.min(now - 1));
        }
    }
    d.store.rebuild_reports().unwrap();
    let got = d.store.open_breaches(now).unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    let count = |sql: &str| -> i64 { conn.query_row(sql, [now], |r| r.get(0)).unwrap() };
    let open = "state IN ('new', 'open', 'pending', 'on-hold')";
    let reply = count(&format!(
        "SELECT count(*) FROM tickets WHERE {open} AND first_response_at IS NULL AND first_response_due < ?"
    ));
    let solve = count(&format!(
        "SELECT count(*) FROM tickets WHERE {open} AND resolution_due < ?"
    ));
    assert!(reply > 0 && solve > 0 && reply < 40);
    assert_eq!((got[0].first_response, got[0].resolution), (reply, solve));

    // Per policy (a report grouped by policy), then "all" = the same total.
    let by = d.store.open_breaches_by_policy(now).unwrap();
    let names: Vec<&str> = by.iter().map(|b| b.policy.as_str()).collect();
    assert_eq!(names, ["standard", "texts", "all"]);
    for b in &by[..2] {
        let of = |sql: String| -> i64 {
            conn.query_row(&sql, rusqlite::params![now, b.policy], |r| r.get(0))
                .unwrap()
        };
        let reply = of(format!(
            "SELECT count(*) FROM tickets WHERE {open} AND first_response_at IS NULL
             AND first_response_due < ?1 AND sla_policy = ?2"
        ));
        let solve = of(format!(
            "SELECT count(*) FROM tickets WHERE {open} AND resolution_due < ?1 AND sla_policy = ?2"
        ));
        assert!(reply > 0, "{}", b.policy);
        assert_eq!(
            (b.first_response, b.resolution),
            (reply, solve),
            "{}",
            b.policy
        );
    }
    assert_eq!(
        (by[2].first_response, by[2].resolution),
        (got[0].first_response, got[0].resolution)
    );
}

/// Berlin falls back on Sunday 25 October 2026: a message at 22:30 UTC on
/// the 24th is 00:30 CEST on the 25th; one at 23:30 UTC on the 25th is
/// 00:30 CET on the 26th. In Tokyo both are daytime on the next day.
#[test]
fn days_follow_the_team_zone_across_dst() {
    for (zone, days) in [
        ("Europe/Berlin", ["2026-10-25", "2026-10-26"]),
        ("UTC", ["2026-10-24", "2026-10-25"]),
        ("Asia/Tokyo", ["2026-10-25", "2026-10-26"]),
    ] {
        let mut d = Desk::new(zone);
        d.customer(
            Channel::Email,
            "a@example.test",
            "one",
            utc(2026, 10, 24, 22, 30),
        );
        d.customer(
            Channel::Email,
            "b@example.test",
            "two",
            utc(2026, 10, 25, 23, 30),
        );
        let r = d.report("2026-10-23", "2026-10-27", By::Day, Group::All);
        let created: Vec<(&str, i64)> = r
            .rows
            .iter()
            .filter(|r| r.figures.created > 0)
            .map(|r| (r.interval.as_str(), r.figures.created))
            .collect();
        assert_eq!(created, vec![(days[0], 1), (days[1], 1)], "{zone}");
    }
    // The hour of the heatmap is the wall clock's: 00 in Berlin.
    let mut d = Desk::new("Europe/Berlin");
    d.customer(
        Channel::Email,
        "a@example.test",
        "one",
        utc(2026, 10, 24, 22, 30),
    );
    d.customer(
        Channel::Email,
        "b@example.test",
        "two",
        utc(2026, 10, 25, 23, 30),
    );
    let r = d.report("2026-10-19", "2026-11-01", By::Total, Group::All);
    assert_eq!(r.heatmap[6][0], 1, "Sunday 00:30 CEST");
    assert_eq!(r.heatmap[0][0], 1, "Monday 00:30 CET");
}

mod generated {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Op {
        Customer {
            who: u8,
            channel: u8,
            gap: u32,
        },
        Reply {
            ticket: u8,
            agent: u8,
            gap: u32,
            rule: bool,
        },
        Note {
            ticket: u8,
            gap: u32,
        },
        State {
            ticket: u8,
            to: u8,
            gap: u32,
        },
        Assign {
            ticket: u8,
            agent: u8,
        },
        Priority {
            ticket: u8,
            p: u8,
        },
        Merge {
            into: u8,
            other: u8,
        },
    }

    fn op() -> impl Strategy<Value = Op> {
        let gap = 0u32..40_000;
        prop_oneof![
            4 => (0u8..6, 0u8..3, gap.clone()).prop_map(|(who, channel, gap)| Op::Customer { who, channel, gap }),
            4 => (0u8..12, 0u8..3, gap.clone(), proptest::bool::weighted(0.2))
                .prop_map(|(ticket, agent, gap, rule)| Op::Reply { ticket, agent, gap, rule }),
            1 => (0u8..12, gap.clone()).prop_map(|(ticket, gap)| Op::Note { ticket, gap }),
            3 => (0u8..12, 0u8..7, gap).prop_map(|(ticket, to, gap)| Op::State { ticket, to, gap }),
            1 => (0u8..12, 0u8..4).prop_map(|(ticket, agent)| Op::Assign { ticket, agent }),
            1 => (0u8..12, 0u8..4).prop_map(|(ticket, p)| Op::Priority { ticket, p }),
            1 => (0u8..12, 0u8..12).prop_map(|(into, other)| Op::Merge { into, other }),
        ]
    }

    const AGENTS: [&str; 3] = ["alice", "bob", "chen"];
    const STATES: [&str; 7] = [
        "new", "open", "pending", "on-hold", "solved", "closed", "spam",
    ];

    /// Plays `ops` into a desk in `zone`, starting on a Friday before
    /// Berlin's autumn change, so business hours and DST both matter.
    fn play(ops: &[Op], zone: &str) -> Desk {
        let mut d = Desk::new(zone);
        let mut at = utc(2026, 10, 23, 14, 0);
        let mut tickets: Vec<i64> = Vec::new();
        for op in ops {
            let pick = |i: u8| (!tickets.is_empty()).then(|| tickets[i as usize % tickets.len()]);
            match op {
                Op::Customer { who, channel, gap } => {
                    at += i64::from(*gap);
                    let (ch, from) = match channel {
                        0 => (Channel::Email, format!("c{who}@example.test")),
                        1 => (
                            Channel::Sms,
                            format!("+1415555{:04}", 100 + u32::from(*who)),
                        ),
                        _ => (
                            Channel::Fax,
                            format!("+1212555{:04}", 100 + u32::from(*who)),
                        ),
                    };
                    let t = d.customer(ch, &from, "help", at);
                    if !tickets.contains(&t) {
                        tickets.push(t);
                    }
                }
                Op::Reply {
                    ticket,
                    agent,
                    gap,
                    rule,
                } => {
                    if let Some(t) = pick(*ticket) {
                        at += i64::from(*gap);
                        let who = if *rule {
                            "rule:ack".to_string()
                        } else {
                            AGENTS[*agent as usize].to_string()
                        };
                        let a = at;
                        d.with(at, |tx| {
                            let _ = tx.add_agent_message(t, Direction::Out, "x", &who, a);
                        });
                    }
                }
                Op::Note { ticket, gap } => {
                    if let Some(t) = pick(*ticket) {
                        at += i64::from(*gap);
                        let a = at;
                        d.with(at, |tx| {
                            let _ = tx.add_agent_message(t, Direction::Note, "n", "bob", a);
                        });
                    }
                }
                Op::State { ticket, to, gap } => {
                    if let Some(t) = pick(*ticket) {
                        at += i64::from(*gap);
                        d.with(at, |tx| {
                            let _ = tx.set_state(t, STATES[*to as usize], "chen", None);
                        });
                    }
                }
                Op::Assign { ticket, agent } => {
                    if let Some(t) = pick(*ticket) {
                        let who = AGENTS.get(*agent as usize).copied();
                        d.with(at, |tx| {
                            let _ = tx.assign(t, who, "alice", None);
                        });
                    }
                }
                Op::Priority { ticket, p } => {
                    if let Some(t) = pick(*ticket) {
                        let p = [
                            Priority::Low,
                            Priority::Normal,
                            Priority::High,
                            Priority::Urgent,
                        ][*p as usize];
                        d.with(at, |tx| {
                            let _ = tx.set_priority(t, p, "alice", None);
                        });
                    }
                }
                Op::Merge { into, other } => {
                    if let (Some(a), Some(b)) = (pick(*into), pick(*other)) {
                        if a != b {
                            d.with(at, |tx| {
                                let _ = tx.merge_tickets(a, &[b], "alice");
                            });
                        }
                    }
                }
            }
        }
        d
    }

    /// What the store holds, counted straight from its tables: the
    /// oracle for the totals.
    fn oracle(d: &Desk) -> (i64, i64, i64, i64, i64, i64) {
        let wf = &d.store.settings().workflow;
        let all = echodesk::query::parse("").unwrap();
        let ctx = SearchContext {
            me: "x".into(),
            now: 0,
        };
        let ids = d.store.search_ids(&all, &ctx, 1 << 30).unwrap();
        let (mut open, mut spam, mut live, mut msgs_in, mut out, mut notes) = (0, 0, 0, 0, 0, 0);
        for id in ids {
            let t = d.store.ticket(id).unwrap();
            if t.summary.state == wf.spam_state {
                spam += 1;
                continue;
            }
            live += 1;
            if wf.is_open(&t.summary.state) {
                open += 1;
            }
            for m in &t.messages {
                match m.direction {
                    Direction::In => msgs_in += 1,
                    Direction::Out => out += 1,
                    Direction::Note => notes += 1,
                }
            }
        }
        (open, spam, live, msgs_in, out, notes)
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

        /// After any history: the rollups kept at each commit equal a
        /// rebuild from the log, and their totals equal what the tables
        /// hold (open tickets, spam, messages by direction).
        #[test]
        fn rollups_match_the_log(ops in proptest::collection::vec(op(), 1..60),
                                 zone in prop_oneof![Just("Europe/Berlin"), Just("Asia/Shanghai"), Just("UTC")]) {
            let mut d = play(&ops, zone);
            let wide = |d: &mut Desk| d.report("2026-10-01", "2027-06-30", By::Week, Group::Agent);
            let kept = wide(&mut d);
            let (open, spam, live, msgs_in, out, notes) = oracle(&d);
            let all = kept.totals.last().unwrap().figures.clone();
            prop_assert_eq!(all.backlog, open);
            prop_assert_eq!(all.spam, spam);
            prop_assert_eq!(all.created, live);
            prop_assert_eq!((all.messages_in, all.messages_out, all.notes), (msgs_in, out, notes));
            let load: i64 = kept.workload.iter().map(|(_, n)| n).sum();
            prop_assert_eq!(load, open);
            carry_paths_agree(&d.store);
            d.store.rebuild_reports().unwrap();
            carry_paths_agree(&d.store);
            let rebuilt = wide(&mut d);
            prop_assert_eq!(
                serde_json::to_value(&kept.rows).unwrap(),
                serde_json::to_value(&rebuilt.rows).unwrap()
            );
        }
    }

    /// What is carried into a day is the same summed over the days before
    /// it and as the kept totals less the days from it on.
    fn carry_paths_agree(store: &Store) {
        let sorted = |mut v: Vec<(Channel, String, echodesk::model::Priority, i64)>| {
            v.sort_by(|a, b| (a.0, &a.1, a.2.rank()).cmp(&(b.0, &b.1, b.2.rank())));
            v
        };
        let mut first = day("2026-09-20");
        while first < day("2027-07-10") {
            let direct = sorted(store.carried(first, false).unwrap());
            let totals = sorted(store.carried(first, true).unwrap());
            assert_eq!(direct, totals, "carried into day {first}");
            first += 5;
        }
    }
}

/// The real binary on the demo inbox: a report as a person, a script and
/// a spreadsheet read it, and the per-ticket export.
#[test]
fn the_command_line_on_the_demo_inbox() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.toml");
    std::fs::write(
        &cfg,
        "time_zone = \"Asia/Shanghai\"\n[report.targets]\nfrt_p90 = \"<= 4h\"\nreopen_rate = \"<= 5%\"\n",
    )
    .unwrap();
    let run = |args: &[&str]| {
        let out = assert_cmd::Command::cargo_bin("echodesk")
            .unwrap()
            .env_clear()
            .env("USER", "alice")
            .arg("--config")
            .arg(&cfg)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let demo = dir.path().join("demo");
    run(&[
        "demo",
        "--dir",
        demo.to_str().unwrap(),
        "--tickets",
        "200",
        "--build-only",
    ]);
    let db = demo.join("demo.db");
    let db = db.to_str().unwrap();
    // A tag a spreadsheet would run as a formula, on the newest ticket.
    let newest: serde_json::Value = serde_json::from_str(&run(&[
        "--db",
        db,
        "--json",
        "list",
        "--query",
        "sort:created-desc",
        "--limit",
        "1",
    ]))
    .unwrap();
    let id = newest["tickets"][0]["id"].as_i64().unwrap().to_string();
    run(&["--db", db, "tag", &id, "+=HYPERLINK(\"http://x\")"]);

    let table = run(&["--db", db, "report", "--last", "4w", "--group", "channel"]);
    for section in [
        "VOLUME",
        "FIRST REPLY",
        "RESOLUTION",
        "BUSIEST HOURS",
        "TARGETS",
        "Asia/Shanghai",
    ] {
        assert!(table.contains(section), "{section} missing:\n{table}");
    }
    assert!(!table.contains('\x1b'));

    let json: serde_json::Value = serde_json::from_str(&run(&[
        "--db", db, "--json", "report", "--last", "4w", "--by", "total",
    ]))
    .unwrap();
    let total = &json["totals"].as_array().unwrap().last().unwrap();
    assert!(total["created"].as_i64().unwrap() > 50, "{total}");
    assert!(total["first_response"]["median"].as_i64().is_some());
    assert_eq!(json["kpis"].as_array().unwrap().len(), 2);
    let list: serde_json::Value = serde_json::from_str(&run(&[
        "--db", db, "--json", "list", "--query", "is:open", "--all",
    ]))
    .unwrap();
    assert_eq!(
        total["backlog"].as_i64().unwrap(),
        list["total"].as_i64().unwrap()
    );

    let csv_text = run(&[
        "--db", db, "report", "--last", "4w", "--by", "week", "--group", "tag", "--csv",
    ]);
    let mut rd = csv::Reader::from_reader(csv_text.as_bytes());
    let header = rd.headers().unwrap().clone();
    assert_eq!(&header[0], "interval");
    assert!(header.iter().any(|h| h == "frt_median_s"));
    let rows: Vec<csv::StringRecord> = rd.records().map(Result::unwrap).collect();
    assert!(rows.len() > 5);
    assert!(
        rows.iter().any(|r| &r[3] == "'=hyperlink(\"http://x\")"),
        "the formula tag is defused"
    );
    assert!(rows.iter().all(|r| r.len() == header.len()));
    // Read by another program's CSV reader too (Python's, which follows
    // the dialect spreadsheets write): the same rows, every one as wide
    // as the header, the tag a text cell.
    let file = dir.path().join("report.csv");
    std::fs::write(&file, &csv_text).unwrap();
    let py = std::process::Command::new("python3")
        .arg("-c")
        .arg(
            [
                "import csv, json, sys",
                "rows = list(csv.reader(open(sys.argv[1], newline='', encoding='utf-8')))",
                "print(json.dumps({'rows': len(rows) - 1,",
                "    'widths': sorted({len(r) for r in rows}),",
                "    'tags': sorted({r[3] for r in rows[1:]})}))",
            ]
            .join("\n"),
        )
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        py.status.success(),
        "{}",
        String::from_utf8_lossy(&py.stderr)
    );
    let seen: serde_json::Value = serde_json::from_slice(&py.stdout).unwrap();
    assert_eq!(seen["rows"].as_u64(), Some(rows.len() as u64), "{seen}");
    assert_eq!(seen["widths"], serde_json::json!([header.len()]), "{seen}");
    assert!(
        seen["tags"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("'=hyperlink(\"http://x\")")),
        "{seen}"
    );

    let export = run(&["--db", db, "report", "export"]);
    let mut rd = csv::Reader::from_reader(export.as_bytes());
    assert_eq!(rd.records().count(), 200);
    let lines = run(&[
        "--db",
        db,
        "--json",
        "report",
        "export",
        "--query",
        "channel:sms",
    ]);
    for l in lines.lines() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        assert_eq!(v["channel"], "sms");
        assert!(v["created"].as_str().unwrap().ends_with("+08:00"));
    }
    // Bad input names what is wrong.
    let out = assert_cmd::Command::cargo_bin("echodesk")
        .unwrap()
        .env_clear()
        .arg("--config")
        .arg(&cfg)
        .args(["--db", db, "report", "--period", "2026-13"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("2026-13"));
}
