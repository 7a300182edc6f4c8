//! The TUI without a terminal: screens rendered to ratatui's TestBackend
//! and compared as insta snapshots, and key sequences checked against the
//! store. The demo store is built at a fixed clock so screens are stable.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use echodesk::config::Config;
use echodesk::store::{Settings, Store};
use echodesk::tui::app::{App, Overlay, Screen};
use echodesk::tui::theme::Theme;
use echodesk::tui::views;
use ratatui::backend::TestBackend;
use ratatui::Terminal;

const NOW: i64 = 1_795_000_000;

struct Fixture {
    _dir: tempfile::TempDir,
    db: std::path::PathBuf,
    canned: std::path::PathBuf,
}

fn fixture(tickets: usize) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let report = echodesk::demo::build_at(dir.path(), tickets, &Config::default(), NOW).unwrap();
    Fixture {
        db: report.database,
        canned: report.canned_dir,
        _dir: dir,
    }
}

fn config(fx: &Fixture) -> Config {
    Config {
        canned_dir: Some(fx.canned.clone()),
        signature: "— {agent}, Support".into(),
        ..Config::default()
    }
}

fn app(fx: &Fixture, agent: &str) -> App {
    let store = Store::open(&fx.db, Settings::default()).unwrap();
    let theme = Theme::load("monochrome").unwrap();
    let mut app = App::new(store, config(fx), agent.into(), theme).unwrap();
    app.clock = Some(NOW);
    app
}

fn screen(app: &mut App, w: u16, h: u16) -> String {
    let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
    term.draw(|f| views::draw(f, app)).unwrap();
    let buf = term.backend().buffer().clone();
    let mut out = String::new();
    for y in 0..buf.area.height {
        let mut line = String::new();
        let mut skip = 0;
        for x in 0..buf.area.width {
            if skip > 0 {
                skip -= 1;
                continue;
            }
            let sym = buf[(x, y)].symbol();
            line.push_str(sym);
            skip = unicode_width::UnicodeWidthStr::width(sym).saturating_sub(1);
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn key(app: &mut App, code: KeyCode) {
    app.on_key(KeyEvent::new(code, KeyModifiers::NONE));
}

fn keys(app: &mut App, s: &str) {
    for c in s.chars() {
        key(app, KeyCode::Char(c));
    }
}

#[test]
fn queue_screen() {
    let fx = fixture(150);
    let mut a = app(&fx, "alice");
    insta::assert_snapshot!("queue_80x24", screen(&mut a, 80, 24));
}

#[test]
fn wide_queue_with_cjk_lines_up() {
    let fx = fixture(150);
    let mut a = app(&fx, "alice");
    let s = screen(&mut a, 120, 30);
    insta::assert_snapshot!("queue_120x30", s.clone());
    // Every table line is exactly as wide as the screen or shorter: a CJK
    // name never pushes the columns right.
    for line in s.lines() {
        assert!(unicode_width::UnicodeWidthStr::width(line) <= 120, "{line}");
    }
}

/// The customer panel carries the customer file: organisation, fields,
/// the asset the ticket is about and the others the customer owns.
#[test]
fn customer_panel_shows_the_customer_file() {
    let fx = fixture(60);
    let mut a = app(&fx, "alice");
    key(&mut a, KeyCode::Enter);
    let t = a.ticket.as_ref().unwrap();
    let (ticket, customer) = (t.summary.id, t.customer.id);
    {
        let mut store = Store::open(&fx.db, Settings::default()).unwrap();
        let tx = store.transaction().unwrap();
        let org = tx.create_org("Acme Tools", None, "lead").unwrap();
        tx.set_customer_org(customer, Some(org), "lead").unwrap();
        let gold = echodesk::fields::Value::Text("gold".into());
        tx.set_field(
            echodesk::fields::Entity::Customer,
            customer,
            "tier",
            Some(&gold),
            "lead",
        )
        .unwrap();
        let asset = |model: &str, serial: &str| echodesk::store::AssetInput {
            customer_id: Some(customer),
            model: Some(model.into()),
            serial: Some(serial.into()),
            warranty_until: Some("2027-01-10".into()),
            ..Default::default()
        };
        let vmc = tx
            .create_asset(&asset("VMC-850", "VMC-12345"), "lead")
            .unwrap();
        tx.create_asset(&asset("Lathe L2", "L2-778"), "lead")
            .unwrap();
        tx.set_ticket_asset(ticket, Some(vmc), "lead").unwrap();
        tx.commit().unwrap();
    }
    key(&mut a, KeyCode::Esc);
    key(&mut a, KeyCode::Enter);
    assert_eq!(a.ticket.as_ref().unwrap().summary.id, ticket);
    let s = screen(&mut a, 100, 30);
    assert!(
        s.contains("Acme Tools") && s.contains("VMC-850 VMC-12345"),
        "{s}"
    );
    insta::assert_snapshot!("ticket_customer_file_100x30", s);
}

/// `T` on a ticket: every message of the customer's tickets, the newest
/// on screen, one channel at a time with `c`; `esc` goes back.
#[test]
fn customer_timeline_screen() {
    let fx = fixture(150);
    let mut a = app(&fx, "alice");
    key(&mut a, KeyCode::Enter);
    let customer = a.ticket.as_ref().unwrap().customer.id;
    key(&mut a, KeyCode::Char('T'));
    assert_eq!(a.screen, Screen::Timeline);
    let tl = a.timeline.as_ref().unwrap();
    assert_eq!(tl.customer, customer);
    let all = tl.entries.len();
    assert!(tl.entries.windows(2).all(|w| w[0].at <= w[1].at));
    insta::assert_snapshot!("timeline_100x30", screen(&mut a, 100, 30));
    key(&mut a, KeyCode::Char('c'));
    let tl = a.timeline.as_ref().unwrap();
    assert!(tl.entries.iter().all(|e| e.channel == "email"));
    assert!(
        tl.entries.len() < all,
        "the customer wrote on more than one channel"
    );
    assert!(screen(&mut a, 100, 30).contains("· mail "));
    key(&mut a, KeyCode::Esc);
    assert_eq!(a.screen, Screen::Ticket);
}

/// The customer file from the keyboard on the demo inbox: `H` on a claim
/// fax opens its machine (owner, warranty as of today, the repair record),
/// `enter` opens a ticket of the record; `m` says which asset another
/// ticket is about (an unknown serial is refused in the prompt); `F` sets
/// a declared field, refusing a value the field cannot hold; `m` in the
/// timeline keeps one machine's tickets.
#[test]
fn asset_screen_and_editing_the_file_from_the_keyboard() {
    let fx = fixture(150);
    let tier: echodesk::fields::FieldDef = toml::from_str(
        "on = \"customer\"\nname = \"tier\"\ntype = \"choice\"\nchoices = [\"silver\", \"gold\"]",
    )
    .unwrap();
    let settings = Settings {
        fields: echodesk::fields::Fields::new(vec![tier]).unwrap(),
        ..Settings::default()
    };
    let store = Store::open(&fx.db, settings).unwrap();
    let mut a = App::new(
        store,
        config(&fx),
        "alice".into(),
        Theme::load("monochrome").unwrap(),
    )
    .unwrap();
    a.clock = Some(NOW);
    let machine = a
        .store
        .find_asset("SN-4890")
        .expect("the demo's claim faxes name SN-4890");
    let record = a.store.asset_ticket_ids(machine.id).unwrap();
    assert!(!record.is_empty());
    keys(&mut a, "/");
    keys(&mut a, &format!("id:{}", record[0]));
    key(&mut a, KeyCode::Enter);
    key(&mut a, KeyCode::Enter);
    assert_eq!(a.screen, Screen::Ticket);
    keys(&mut a, "H");
    assert_eq!(a.screen, Screen::Asset, "{:?}", a.status);
    let s = screen(&mut a, 100, 30);
    assert!(s.contains("SN-4890") && s.contains("Repair record"), "{s}");
    insta::assert_snapshot!("asset_100x30", s);
    key(&mut a, KeyCode::Enter);
    assert_eq!(a.screen, Screen::Ticket);
    assert_eq!(a.ticket.as_ref().unwrap().summary.id, record[0]);

    // Another ticket, about no asset: link the machine by serial.
    key(&mut a, KeyCode::Esc);
    keys(&mut a, "\\");
    let other = a
        .rows
        .iter()
        .position(|t| a.store.ticket_asset(t.id).unwrap().is_none())
        .unwrap();
    for _ in 0..other {
        key(&mut a, KeyCode::Char('j'));
    }
    let id = a.selected_row().unwrap().id;
    keys(&mut a, "m");
    let Overlay::Input { input, .. } = &a.overlay else {
        panic!("{:?}", a.overlay)
    };
    let prefilled = input.len();
    for _ in 0..prefilled {
        key(&mut a, KeyCode::Backspace);
    }
    keys(&mut a, "SN-0000");
    key(&mut a, KeyCode::Enter);
    match &a.overlay {
        Overlay::Input {
            error: Some((_, e)),
            ..
        } => assert!(e.contains("no asset"), "{e}"),
        o => panic!("an unknown serial stays in the prompt: {o:?}"),
    }
    for _ in 0..4 {
        key(&mut a, KeyCode::Backspace);
    }
    keys(&mut a, "4890");
    key(&mut a, KeyCode::Enter);
    assert_eq!(a.overlay, Overlay::None);
    assert_eq!(a.store.ticket_asset(id).unwrap(), Some(machine.id));
    assert!(
        a.status.as_ref().unwrap().0.contains("SN SN-4890"),
        "{:?}",
        a.status
    );

    // A field: refused when the value is not a choice, then set.
    keys(&mut a, "F");
    keys(&mut a, "tier=platinum");
    key(&mut a, KeyCode::Enter);
    let s = screen(&mut a, 100, 30);
    assert!(s.contains("silver"), "the refusal names the choices: {s}");
    for _ in 0.."platinum".len() {
        key(&mut a, KeyCode::Backspace);
    }
    keys(&mut a, "gold");
    key(&mut a, KeyCode::Enter);
    assert_eq!(a.overlay, Overlay::None);
    let customer = a.selected_row().unwrap().customer_id;
    assert_eq!(
        a.store
            .fields_of(echodesk::fields::Entity::Customer, customer)
            .unwrap(),
        [("tier".to_string(), "gold".to_string())]
    );

    // The machine owner's timeline, one machine at a time.
    keys(&mut a, "/");
    keys(&mut a, &format!("id:{}", record[0]));
    key(&mut a, KeyCode::Enter);
    keys(&mut a, "T");
    let all = a.timeline.as_ref().unwrap().entries.len();
    keys(&mut a, "m");
    let tl = a.timeline.as_ref().unwrap();
    assert_eq!(
        tl.asset.as_ref().map(|a| a.0),
        Some(machine.id),
        "{:?}",
        tl.assets
    );
    assert!(tl.entries.iter().all(|e| e.asset_id == Some(machine.id)));
    assert!(tl.entries.len() <= all);
    assert!(screen(&mut a, 100, 30).contains("SN SN-4890"));
}

/// `F` on the asset screen writes the asset's own attributes (a bad date
/// or a serial another machine has stays in the prompt with the reason);
/// from a ticket, `asset.model=…` and the customer's `name=…` are written
/// the same way.
#[test]
fn asset_attributes_are_edited_from_the_keyboard() {
    let fx = fixture(150);
    let mut a = app(&fx, "alice");
    a.clock = Some(NOW);
    let machine = a.store.find_asset("SN-4890").unwrap();
    let other = a
        .store
        .assets_of(None, None)
        .unwrap()
        .into_iter()
        .find(|o| o.id != machine.id && o.serial.is_some())
        .expect("the demo has more than one machine");
    let ticket = a.store.asset_ticket_ids(machine.id).unwrap()[0];
    keys(&mut a, "/");
    keys(&mut a, &format!("id:{ticket}"));
    key(&mut a, KeyCode::Enter);
    key(&mut a, KeyCode::Enter);
    keys(&mut a, "H");
    assert_eq!(a.screen, Screen::Asset, "{:?}", a.status);
    let prompt = |a: &mut App, text: &str| -> Option<String> {
        keys(a, "F");
        keys(a, text);
        key(a, KeyCode::Enter);
        match &a.overlay {
            Overlay::None => None,
            Overlay::Input {
                error: Some((_, e)),
                ..
            } => {
                let e = e.clone();
                key(a, KeyCode::Esc);
                Some(e)
            }
            o => panic!("{o:?}"),
        }
    };
    let e = prompt(&mut a, "warranty=31.13.2027").expect("not a date");
    assert!(e.contains("2027-03-31"), "the refusal shows the forms: {e}");
    assert_eq!(prompt(&mut a, "warranty=2031-12-31"), None);
    assert_eq!(prompt(&mut a, "location=Hall 7, bay 2"), None);
    let taken = other.serial.clone().unwrap();
    let e = prompt(&mut a, &format!("serial={taken}")).expect("serial taken");
    assert!(e.contains(&taken) || e.contains("another"), "{e}");
    let e = prompt(&mut a, "customer.name=Mallory").expect("not the asset's");
    assert!(e.contains("asset"), "{e}");
    let now = a.store.asset(machine.id).unwrap();
    assert_eq!(now.warranty_until.as_deref(), Some("2031-12-31"));
    assert_eq!(now.location.as_deref(), Some("Hall 7, bay 2"));
    assert_eq!(
        now.serial, machine.serial,
        "a refused serial changes nothing"
    );
    let s = screen(&mut a, 100, 30);
    assert!(
        s.contains("until 2031-12-31") && s.contains("Hall 7"),
        "{s}"
    );

    // From the ticket: the asset's model, the customer's name.
    key(&mut a, KeyCode::Esc);
    assert_eq!(a.screen, Screen::Ticket);
    assert_eq!(prompt(&mut a, "asset.model=VMC-900"), None);
    assert_eq!(a.store.asset(machine.id).unwrap().model, "VMC-900");
    let customer = a.store.ticket_summary(ticket).unwrap().customer_id;
    assert_eq!(prompt(&mut a, "name=Dana Example"), None);
    assert_eq!(a.store.customer(customer).unwrap().name, "Dana Example");
    assert!(
        prompt(&mut a, "asset.model=").is_some(),
        "a model is required"
    );

    // Notes on the files: the asset's on its screen, the customer's on
    // the timeline; an empty one stays in the prompt.
    keys(&mut a, "H");
    keys(&mut a, "n");
    key(&mut a, KeyCode::Enter);
    assert!(
        matches!(&a.overlay, Overlay::Input { error: Some(_), .. }),
        "{:?}",
        a.overlay
    );
    keys(&mut a, "Coolant pump replaced");
    key(&mut a, KeyCode::Enter);
    assert_eq!(a.overlay, Overlay::None);
    let notes = a
        .store
        .record_notes(echodesk::fields::Entity::Asset, machine.id)
        .unwrap();
    assert_eq!(notes.len(), 1);
    assert_eq!(
        (notes[0].body.as_str(), notes[0].agent.as_str()),
        ("Coolant pump replaced", "alice")
    );
    assert!(screen(&mut a, 100, 30).contains("Coolant pump replaced"));
    key(&mut a, KeyCode::Esc);
    keys(&mut a, "T");
    assert_eq!(a.screen, Screen::Timeline);
    keys(&mut a, "n");
    keys(&mut a, "Prefers SMS before noon");
    key(&mut a, KeyCode::Enter);
    assert_eq!(a.overlay, Overlay::None);
    assert!(screen(&mut a, 100, 30).contains("Prefers SMS before noon"));
    key(&mut a, KeyCode::Esc);
    assert_eq!(a.screen, Screen::Ticket);
    assert!(
        screen(&mut a, 140, 40).contains("Prefers SMS"),
        "the customer panel shows the newest note"
    );

    // A machine the file lacks: `+SERIAL MODEL` in the asset prompt adds
    // it to the customer and links the ticket; no model, no machine.
    keys(&mut a, "m");
    let Overlay::Input { input, .. } = &a.overlay else {
        panic!("{:?}", a.overlay)
    };
    for _ in 0..input.chars().count() {
        key(&mut a, KeyCode::Backspace);
    }
    keys(&mut a, "+SN-9999");
    key(&mut a, KeyCode::Enter);
    assert!(
        matches!(&a.overlay, Overlay::Input { error: Some((_, e)), .. } if e.contains("model")),
        "{:?}",
        a.overlay
    );
    keys(&mut a, " Lathe L2");
    key(&mut a, KeyCode::Enter);
    assert_eq!(a.overlay, Overlay::None);
    let new = a.store.find_asset("SN-9999").unwrap();
    assert_eq!(
        (new.model.as_str(), new.customer_id),
        ("Lathe L2", Some(customer))
    );
    assert_eq!(a.store.ticket_asset(ticket).unwrap(), Some(new.id));
}

/// `w` follows the ticket under the cursor: another agent's change to it
/// shows in the status line (not one's own), opening it marks it seen,
/// `follower:me` lists it, and `w` again stops.
#[test]
fn following_from_the_keyboard() {
    let fx = fixture(30);
    let mut a = app(&fx, "alice");
    let id = a.selected_row().unwrap().id;
    keys(&mut a, "w");
    let tx = a.store.transaction().unwrap();
    assert!(tx.follows(id, "alice").unwrap(), "{:?}", a.status);
    drop(tx);
    // Alice's own change is not news to her; Bob's is.
    keys(&mut a, "A");
    a.refresh_counts();
    assert_eq!(a.followed_news, Vec::<i64>::new());
    let mut bob = Store::open(&fx.db, Settings::default()).unwrap();
    let tx = bob.transaction().unwrap();
    tx.assign(id, Some("bob"), "bob", None).unwrap();
    tx.commit().unwrap();
    a.refresh_counts();
    assert_eq!(a.followed_news, vec![id]);
    assert!(
        screen(&mut a, 140, 30).contains(&format!("#{id} you follow changed")),
        "the status line says so"
    );
    key(&mut a, KeyCode::Enter);
    assert_eq!(a.followed_news, Vec::<i64>::new());
    assert!(a.store.followed_news("alice").unwrap().is_empty(), "seen");
    assert!(screen(&mut a, 140, 30).contains("Followed by alice"));
    key(&mut a, KeyCode::Esc);
    keys(&mut a, "/");
    keys(&mut a, "follower:me");
    key(&mut a, KeyCode::Enter);
    assert_eq!(a.rows.iter().map(|t| t.id).collect::<Vec<_>>(), vec![id]);
    keys(&mut a, "w");
    let tx = a.store.transaction().unwrap();
    assert!(!tx.follows(id, "alice").unwrap(), "w again stops");
}

/// `f` forwards the open ticket: a bad address stays in the prompt; a
/// good one queues the forward (to the department, not the customer) and
/// records the side conversation.
#[test]
fn forward_from_the_keyboard() {
    let fx = fixture(30);
    let mut a = app(&fx, "alice");
    key(&mut a, KeyCode::Enter);
    let id = a.ticket.as_ref().unwrap().summary.id;
    keys(&mut a, "f");
    keys(&mut a, "not-an-address please look");
    key(&mut a, KeyCode::Enter);
    assert!(
        matches!(&a.overlay, Overlay::Input { error: Some(_), .. }),
        "{:?}",
        a.overlay
    );
    for _ in 0.."not-an-address please look".len() {
        key(&mut a, KeyCode::Backspace);
    }
    keys(&mut a, "rnd@example.com Known issue?");
    key(&mut a, KeyCode::Enter);
    assert_eq!(a.overlay, Overlay::None);
    let sides = a.store.side_conversations(id).unwrap();
    assert_eq!(sides.len(), 1);
    assert_eq!(sides[0].to, "rnd@example.com");
    let t = a.store.ticket(id).unwrap();
    let note = t
        .messages
        .iter()
        .find(|m| m.id == sides[0].message_id)
        .unwrap();
    assert!(
        note.body_text.starts_with("Known issue?"),
        "{}",
        note.body_text
    );
    assert!(a
        .status
        .as_ref()
        .unwrap()
        .0
        .contains("forwarded to rnd@example.com"));
}

/// `V`: the digest of the list for the team meeting; `p` turns the
/// period; `esc` goes back.
#[test]
fn digest_screen() {
    let fx = fixture(150);
    let mut a = app(&fx, "alice");
    keys(&mut a, "V");
    assert_eq!(a.screen, Screen::Digest);
    let s = screen(&mut a, 100, 30);
    assert!(s.contains("By tag") && s.contains("last 1w"), "{s}");
    insta::assert_snapshot!("digest_100x30", s);
    keys(&mut a, "p");
    assert!(screen(&mut a, 100, 30).contains("last 1d"));
    key(&mut a, KeyCode::Esc);
    assert_eq!(a.screen, Screen::Queue);
}

#[test]
fn ticket_screen_with_customer_panel() {
    let fx = fixture(60);
    let mut a = app(&fx, "alice");
    key(&mut a, KeyCode::Enter);
    assert_eq!(a.screen, Screen::Ticket);
    insta::assert_snapshot!("ticket_100x30", screen(&mut a, 100, 30));
}

#[test]
fn help_and_palette_list_every_action() {
    let fx = fixture(20);
    let mut a = app(&fx, "alice");
    key(&mut a, KeyCode::Char('?'));
    let s = screen(&mut a, 100, 45);
    insta::assert_snapshot!("help", s.clone());
    // Every action, the compose window's too, on a screen tall enough.
    let tall = screen(&mut a, 100, 90);
    for d in echodesk::tui::keymap::ACTIONS {
        assert!(tall.contains(d.name), "{} missing from help", d.name);
    }
    key(&mut a, KeyCode::Esc);
    key(&mut a, KeyCode::Char(':'));
    keys(&mut a, "solv");
    assert!(screen(&mut a, 80, 24).contains("solve"));
}

#[test]
fn tiny_terminal_degrades_with_a_message() {
    let fx = fixture(10);
    let mut a = app(&fx, "alice");
    insta::assert_snapshot!("tiny", screen(&mut a, 40, 8));
}

#[test]
fn search_error_is_shown_in_place_with_its_column() {
    let fx = fixture(150);
    let mut a = app(&fx, "alice");
    key(&mut a, KeyCode::Char('/'));
    keys(&mut a, "state:open colour:x");
    key(&mut a, KeyCode::Enter);
    assert!(matches!(
        a.overlay,
        Overlay::Input {
            error: Some((12, _)),
            ..
        }
    ));
    insta::assert_snapshot!("search_error", screen(&mut a, 80, 24));
    // Fix it: the results replace the view.
    for _ in 0.."colour:x".len() {
        key(&mut a, KeyCode::Backspace);
    }
    keys(&mut a, "退款");
    key(&mut a, KeyCode::Enter);
    assert_eq!(a.overlay, Overlay::None);
    assert!(a.total.unwrap() > 0);
    assert!(a.rows.iter().all(|t| t.state == "open"));
}

#[test]
fn state_menu_offers_only_allowed_transitions_and_undo_restores() {
    let fx = fixture(40);
    let mut a = app(&fx, "alice");
    key(&mut a, KeyCode::Char('/'));
    keys(&mut a, "state:solved");
    key(&mut a, KeyCode::Enter);
    let id = a.selected_row().unwrap().id;
    key(&mut a, KeyCode::Char('s'));
    match &a.overlay {
        Overlay::Menu { items, .. } => {
            assert_eq!(items, &vec!["open".to_string(), "closed".to_string()])
        }
        o => panic!("{o:?}"),
    }
    key(&mut a, KeyCode::Char('j'));
    key(&mut a, KeyCode::Enter);
    assert_eq!(a.store.ticket_summary(id).unwrap().state, "closed");
    key(&mut a, KeyCode::Char('u'));
    // closed is final: undo is refused by the workflow, and says so.
    assert_eq!(a.store.ticket_summary(id).unwrap().state, "closed");
    assert!(a.status.as_ref().unwrap().1, "{:?}", a.status);

    // A reversible change undoes.
    key(&mut a, KeyCode::Char('\\'));
    let id = a.selected_row().unwrap().id;
    let before = a.store.ticket_summary(id).unwrap().priority;
    key(&mut a, KeyCode::Char('p'));
    for _ in 0..3 {
        key(&mut a, KeyCode::Char('k')); // up to the first item: urgent
    }
    key(&mut a, KeyCode::Enter);
    assert_eq!(
        a.store.ticket_summary(id).unwrap().priority.as_str(),
        "urgent"
    );
    key(&mut a, KeyCode::Char('u'));
    assert_eq!(a.store.ticket_summary(id).unwrap().priority, before);
}

#[test]
fn bulk_selection_asks_with_the_count_then_applies() {
    let fx = fixture(40);
    let mut a = app(&fx, "alice");
    key(&mut a, KeyCode::Char(' '));
    key(&mut a, KeyCode::Char(' '));
    key(&mut a, KeyCode::Char('v'));
    key(&mut a, KeyCode::Char('j'));
    key(&mut a, KeyCode::Char('v'));
    assert_eq!(a.selection.len(), 4);
    let ids: Vec<i64> = a.selection.keys().copied().collect();
    keys(&mut a, "t");
    keys(&mut a, "+outage");
    key(&mut a, KeyCode::Enter);
    match &a.overlay {
        Overlay::Confirm { message, .. } => assert!(message.contains("4 tickets"), "{message}"),
        o => panic!("{o:?}"),
    }
    insta::assert_snapshot!("confirm", screen(&mut a, 80, 24));
    key(&mut a, KeyCode::Char('y'));
    for id in &ids {
        assert!(a
            .store
            .ticket_summary(*id)
            .unwrap()
            .tags
            .contains(&"outage".to_string()));
    }
    assert!(a.selection.is_empty());
    // Select all in view, then cancel.
    key(&mut a, KeyCode::Char('*'));
    assert_eq!(Some(a.selection.len() as i64), a.total);
    key(&mut a, KeyCode::Char('A'));
    key(&mut a, KeyCode::Char('n'));
    assert!(a.status.as_ref().unwrap().0.contains("cancelled"));
}

#[test]
fn note_and_reply_from_the_ticket_screen() {
    let fx = fixture(20);
    let mut a = app(&fx, "alice");
    key(&mut a, KeyCode::Enter);
    let id = a.ticket.as_ref().unwrap().summary.id;
    key(&mut a, KeyCode::Char('n'));
    keys(&mut a, "Checked the depot.");
    insta::assert_snapshot!("compose_note", screen(&mut a, 80, 24));
    a.on_key(KeyEvent::new(KeyCode::Char('s'), KeyModifiers::CONTROL));
    let t = a.store.ticket(id).unwrap();
    let last = t.messages.last().unwrap();
    assert_eq!(last.body_text, "Checked the depot.");
    assert_eq!(last.direction, echodesk::model::Direction::Note);

    key(&mut a, KeyCode::Char('r'));
    keys(&mut a, "We are on it.");
    a.on_key(KeyEvent::new(KeyCode::Char('s'), KeyModifiers::CONTROL));
    let t = a.store.ticket(id).unwrap();
    let last = t.messages.last().unwrap();
    assert_eq!(last.direction, echodesk::model::Direction::Out);
    assert_eq!(
        a.store.outbox_status(last.id).unwrap().as_deref(),
        Some("queued")
    );
    assert!(screen(&mut a, 100, 40).contains("queued"));
}

#[test]
fn another_agents_change_appears_without_a_key() {
    let fx = fixture(30);
    let mut alice = app(&fx, "alice");
    let mut bob = app(&fx, "bob");
    let id = alice.selected_row().unwrap().id;
    let bob_sees = bob
        .rows
        .iter()
        .find(|t| t.id == id)
        .unwrap()
        .assignee
        .clone();
    assert_ne!(bob_sees.as_deref(), Some("alice"));
    key(&mut alice, KeyCode::Char('A'));
    bob.tick();
    let now_sees = bob
        .rows
        .iter()
        .find(|t| t.id == id)
        .unwrap()
        .assignee
        .clone();
    assert_eq!(now_sees.as_deref(), Some("alice"));

    // Presence: bob opens the ticket and starts replying; alice sees it.
    while bob.selected_row().unwrap().id != id {
        key(&mut bob, KeyCode::Char('j'));
    }
    key(&mut bob, KeyCode::Enter);
    key(&mut bob, KeyCode::Char('r'));
    // Bob's own periodic refresh while the editor is open keeps saying so.
    bob.tick();
    key(&mut alice, KeyCode::Enter);
    alice.tick();
    assert_eq!(
        alice.presence,
        vec![("bob".to_string(), "replying".to_string())]
    );
    assert!(screen(&mut alice, 100, 30).contains("bob is replying"));
}

#[test]
fn concurrent_change_is_a_conflict_not_an_overwrite() {
    let fx = fixture(30);
    let mut alice = app(&fx, "alice");
    let mut bob = app(&fx, "bob");
    let id = alice.selected_row().unwrap().id;
    // Alice changes the ticket; bob's screen is stale (no tick yet).
    key(&mut alice, KeyCode::Char('p'));
    for _ in 0..3 {
        key(&mut alice, KeyCode::Char('k'));
    }
    key(&mut alice, KeyCode::Enter);
    key(&mut bob, KeyCode::Char('p'));
    for _ in 0..3 {
        key(&mut bob, KeyCode::Char('j'));
    }
    key(&mut bob, KeyCode::Enter);
    let (msg, is_err) = bob.status.clone().unwrap();
    assert!(is_err && msg.contains("changed by someone else"), "{msg}");
    assert_eq!(
        alice.store.ticket_summary(id).unwrap().priority.as_str(),
        "urgent"
    );
}

/// A change through a selection checks each ticket's version as it was
/// when selected: someone else's change in between is a conflict, nothing
/// changes, and repeating the action applies it.
#[test]
fn a_selection_change_over_someone_elses_is_a_conflict() {
    let fx = fixture(30);
    let mut alice = app(&fx, "alice");
    let mut bob = app(&fx, "bob");
    let first = alice.selected_row().unwrap().id;
    key(&mut alice, KeyCode::Char(' '));
    let second = alice.selected_row().unwrap().id;
    key(&mut alice, KeyCode::Char(' '));
    assert_eq!(alice.selection.len(), 2);
    // Bob raises the second ticket's priority meanwhile.
    while bob.selected_row().unwrap().id != second {
        key(&mut bob, KeyCode::Char('j'));
    }
    key(&mut bob, KeyCode::Char('p'));
    for _ in 0..3 {
        key(&mut bob, KeyCode::Char('k'));
    }
    key(&mut bob, KeyCode::Enter);
    assert_eq!(
        bob.store.ticket_summary(second).unwrap().priority.as_str(),
        "urgent"
    );
    // Alice lowers both, through her selection.
    let lower = |a: &mut App| {
        key(a, KeyCode::Char('p'));
        for _ in 0..3 {
            key(a, KeyCode::Char('j'));
        }
        key(a, KeyCode::Enter);
        key(a, KeyCode::Char('y'));
    };
    lower(&mut alice);
    let (msg, is_err) = alice.status.clone().unwrap();
    assert!(is_err && msg.contains("changed by someone else"), "{msg}");
    assert!(msg.contains(&format!("#{second}")), "{msg}");
    assert_eq!(
        alice
            .store
            .ticket_summary(second)
            .unwrap()
            .priority
            .as_str(),
        "urgent",
        "nothing was changed"
    );
    assert_ne!(
        alice.store.ticket_summary(first).unwrap().priority.as_str(),
        "low"
    );
    // Seen now: the same action again applies to both.
    assert_eq!(alice.selection.len(), 2);
    lower(&mut alice);
    let (msg, is_err) = alice.status.clone().unwrap();
    assert!(!is_err, "{msg}");
    for id in [first, second] {
        assert_eq!(
            alice.store.ticket_summary(id).unwrap().priority.as_str(),
            "low"
        );
    }
}

#[test]
fn scrolling_far_keeps_a_bounded_window() {
    let dir = tempfile::tempdir().unwrap();
    let report = echodesk::demo::build_at(dir.path(), 900, &Config::default(), NOW).unwrap();
    let fx = Fixture {
        db: report.database,
        canned: report.canned_dir,
        _dir: dir,
    };
    let mut a = app(&fx, "alice");
    key(&mut a, KeyCode::Char('\\'));
    let total = a.total.unwrap() as usize;
    for _ in 0..total + 5 {
        key(&mut a, KeyCode::Char('j'));
    }
    assert_eq!(a.cursor, total - 1);
    assert!(a.rows.len() <= 400, "window holds {}", a.rows.len());
    key(&mut a, KeyCode::Char('g'));
    assert_eq!(a.cursor, 0);
    key(&mut a, KeyCode::Char('G'));
    assert_eq!(a.cursor, total - 1);
    let last = a.selected_row().unwrap().id;
    for _ in 0..total - 1 {
        key(&mut a, KeyCode::Char('k'));
    }
    assert_eq!(a.cursor, 0);
    key(&mut a, KeyCode::Char('G'));
    assert_eq!(a.selected_row().unwrap().id, last);
}

#[test]
fn counts_arrive_from_the_background_worker() {
    let fx = fixture(30);
    let mut a = app(&fx, "alice");
    let inline: Vec<Option<i64>> = a.counts.clone();
    let total = a.total;
    a.count_in_background();
    assert!(a.counts_pending());
    let start = std::time::Instant::now();
    while a.counts_pending() && start.elapsed() < std::time::Duration::from_secs(10) {
        a.collect_counts();
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert_eq!(a.counts, inline);
    assert_eq!(a.total, total);
}

#[test]
fn bottom_before_the_count_arrives_settles_its_position() {
    let dir = tempfile::tempdir().unwrap();
    let report = echodesk::demo::build_at(dir.path(), 500, &Config::default(), NOW).unwrap();
    let store = Store::open(&report.database, Settings::default()).unwrap();
    let mut a = App::new_lazy(
        store,
        Config::default(),
        "alice".into(),
        Theme::load("monochrome").unwrap(),
    )
    .unwrap();
    a.clock = Some(NOW);
    key(&mut a, KeyCode::Char('G'));
    assert_eq!(a.position(), None, "position unknown until counted");
    let last = a.selected_row().unwrap().id;
    a.count_in_background();
    let start = std::time::Instant::now();
    while a.counts_pending() && start.elapsed() < std::time::Duration::from_secs(10) {
        a.collect_counts();
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let total = a.total.unwrap() as usize;
    assert_eq!(a.position(), Some(total));
    assert_eq!(a.selected_row().unwrap().id, last);
    for _ in 0..total - 1 {
        key(&mut a, KeyCode::Char('k'));
    }
    assert_eq!(a.position(), Some(1));
}

#[test]
fn canned_answer_from_the_picker_is_rendered_inserted_and_applied() {
    let fx = fixture(150);
    let mut a = app(&fx, "yuki");
    // An open email ticket.
    key(&mut a, KeyCode::Char('/'));
    keys(&mut a, "channel:email state:open");
    key(&mut a, KeyCode::Enter);
    key(&mut a, KeyCode::Enter);
    let id = a.ticket.as_ref().unwrap().summary.id;
    let first = a
        .ticket
        .as_ref()
        .unwrap()
        .customer
        .name
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    key(&mut a, KeyCode::Char('r'));
    a.on_key(KeyEvent::new(KeyCode::Char('t'), KeyModifiers::CONTROL));
    keys(&mut a, "ship");
    assert!(a.canned_errors.is_empty(), "{:?}", a.canned_errors);
    assert!(
        a.canned.len() >= 5,
        "{} answers loaded from {:?}",
        a.canned.len(),
        a.config.canned_dir
    );
    let s = screen(&mut a, 110, 34);
    assert!(s.contains("Shipping delay"), "{s}");
    assert!(
        s.contains(&format!("Hello {first},")),
        "preview is rendered for this ticket:\n{s}"
    );
    insta::assert_snapshot!("canned_picker", s);
    key(&mut a, KeyCode::Enter);
    match &a.overlay {
        Overlay::Compose(c) => {
            assert!(c.text.contains("— yuki, Support"), "{}", c.text);
            assert_eq!(c.canned.as_deref(), Some("shipping-delay"));
        }
        o => panic!("{o:?}"),
    }
    a.on_key(KeyEvent::new(KeyCode::Char('s'), KeyModifiers::CONTROL));
    let t = a.store.ticket_summary(id).unwrap();
    assert_eq!(t.state, "pending", "the answer's state applies");
    assert!(t.tags.contains(&"shipping".to_string()), "{:?}", t.tags);
}

/// A canned answer's state and tags are not applied over a change someone
/// else made while the reply was written: nothing is sent, the text stays
/// in the editor, and a second send applies it.
#[test]
fn a_canned_answer_over_someone_elses_change_is_a_conflict_and_keeps_the_text() {
    let fx = fixture(150);
    let mut a = app(&fx, "yuki");
    let mut b = app(&fx, "bob");
    key(&mut a, KeyCode::Char('/'));
    keys(&mut a, "channel:email state:open");
    key(&mut a, KeyCode::Enter);
    key(&mut a, KeyCode::Enter);
    let id = a.ticket.as_ref().unwrap().summary.id;
    let messages = a.ticket.as_ref().unwrap().messages.len();
    key(&mut a, KeyCode::Char('r'));
    a.on_key(KeyEvent::new(KeyCode::Char('t'), KeyModifiers::CONTROL));
    keys(&mut a, "ship");
    key(&mut a, KeyCode::Enter);
    // Bob hands the ticket to Zed meanwhile.
    {
        let tx = b.store.transaction().unwrap();
        tx.assign(id, Some("zed"), "bob", None).unwrap();
        tx.commit().unwrap();
    }
    a.on_key(KeyEvent::new(KeyCode::Char('s'), KeyModifiers::CONTROL));
    let (msg, is_err) = a.status.clone().unwrap();
    assert!(is_err && msg.contains("changed by someone else"), "{msg}");
    assert!(matches!(&a.overlay, Overlay::Compose(c) if c.text.contains("Hello")));
    let t = a.store.ticket(id).unwrap();
    assert_eq!(t.messages.len(), messages, "nothing was queued");
    assert_eq!(t.summary.state, "open");
    a.on_key(KeyEvent::new(KeyCode::Char('s'), KeyModifiers::CONTROL));
    let t = a.store.ticket(id).unwrap();
    assert_eq!(t.messages.len(), messages + 1);
    assert_eq!(t.summary.state, "pending");
    assert_eq!(t.summary.assignee.as_deref(), Some("zed"));
}

#[test]
fn reply_channel_switches_and_sms_shows_segments() {
    let fx = fixture(60);
    let mut a = app(&fx, "alice");
    // A customer known by email and phone (the demo registers most).
    key(&mut a, KeyCode::Char('/'));
    keys(&mut a, "channel:email from:li.na@example.cn");
    key(&mut a, KeyCode::Enter);
    key(&mut a, KeyCode::Enter);
    let id = a.ticket.as_ref().unwrap().summary.id;
    key(&mut a, KeyCode::Char('r'));
    assert_eq!(
        a.reply_channels(),
        vec![
            echodesk::model::Channel::Email,
            echodesk::model::Channel::Sms,
            echodesk::model::Channel::Fax
        ]
    );
    a.on_key(KeyEvent::new(KeyCode::Char('n'), KeyModifiers::CONTROL));
    keys(&mut a, "您好，包裹明天到。");
    let s = screen(&mut a, 100, 30);
    assert!(s.contains("by sms · UCS-2 · 1 segment (9/70)"), "{s}");
    a.on_key(KeyEvent::new(KeyCode::Char('s'), KeyModifiers::CONTROL));
    let t = a.store.ticket(id).unwrap();
    let last = t.messages.last().unwrap();
    assert_eq!(
        last.channel,
        echodesk::model::Channel::Email,
        "stored on the ticket's thread"
    );
    assert_eq!(
        a.store.outbox_recipient(last.id).unwrap().as_deref(),
        Some("+8613810007919")
    );
}

/// Tags follow the CLI's rule: a comma is an error naming the word, never
/// dropped in silence; good tags apply and undo takes them back.
#[test]
fn tags_from_the_keyboard_follow_the_one_tag_rule() {
    let fx = fixture(40);
    let mut a = app(&fx, "alice");
    let id = a.selected_row().unwrap().id;
    let before = a.store.ticket(id).unwrap().summary.tags;
    key(&mut a, KeyCode::Char('t'));
    keys(&mut a, "+urgent,vip");
    key(&mut a, KeyCode::Enter);
    let (msg, is_error) = a.status.clone().expect("a status");
    assert!(is_error && msg.contains("one word without commas"), "{msg}");
    assert!(msg.contains("urgent,vip"), "{msg}");
    assert_eq!(a.store.ticket(id).unwrap().summary.tags, before);
    key(&mut a, KeyCode::Char('t'));
    keys(&mut a, "+Escalated");
    key(&mut a, KeyCode::Enter);
    let tags = a.store.ticket(id).unwrap().summary.tags;
    assert!(tags.contains(&"escalated".to_string()), "{tags:?}");
    key(&mut a, KeyCode::Char('u'));
    assert_eq!(a.store.ticket(id).unwrap().summary.tags, before);
}

#[test]
fn snooze_and_merge_from_the_keyboard() {
    let fx = fixture(40);
    let mut a = app(&fx, "alice");
    let id = a.selected_row().unwrap().id;
    key(&mut a, KeyCode::Char('z'));
    keys(&mut a, "soon");
    key(&mut a, KeyCode::Enter);
    assert!(
        matches!(a.overlay, Overlay::Input { error: Some(_), .. }),
        "bad time is an error in place"
    );
    a.on_key(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL));
    keys(&mut a, "4h");
    key(&mut a, KeyCode::Enter);
    assert!(
        a.rows.iter().all(|t| t.id != id),
        "snoozed ticket left the Open view"
    );
    key(&mut a, KeyCode::Char('u'));
    assert!(a.rows.iter().any(|t| t.id == id), "undo wakes it");

    key(&mut a, KeyCode::Char('M'));
    assert!(a.status.as_ref().unwrap().1, "merge needs a selection");
    key(&mut a, KeyCode::Char(' '));
    key(&mut a, KeyCode::Char(' '));
    let mut sel: Vec<i64> = a.selection.keys().copied().collect();
    sel.sort();
    key(&mut a, KeyCode::Char('M'));
    match &a.overlay {
        Overlay::Confirm { message, .. } => {
            assert!(message.contains(&format!("#{}", sel[0])), "{message}")
        }
        o => panic!("{o:?}"),
    }
    key(&mut a, KeyCode::Char('y'));
    let merged = a.store.ticket(sel[1]).unwrap();
    assert_eq!(merged.summary.state, "closed");
    assert_eq!(merged.linked_ticket_id, Some(sel[0]));
    assert!(merged.messages.is_empty());
}

#[test]
fn sla_deadlines_show_in_the_queue_and_on_the_ticket() {
    let dir = tempfile::tempdir().unwrap();
    let cfg: Config = toml::from_str(
        "[[sla]]\nname = \"standard\"\nfirst_response = \"3d\"\nresolution = \"20d\"\n",
    )
    .unwrap();
    let report = echodesk::demo::build_at(dir.path(), 40, &cfg, NOW).unwrap();
    let store = Store::open(&report.database, Settings::from(&cfg)).unwrap();
    let theme = Theme::load("monochrome").unwrap();
    let mut a = App::new(store, cfg, "alice".into(), theme).unwrap();
    a.clock = Some(NOW);
    let s = screen(&mut a, 100, 20);
    insta::assert_snapshot!("queue_sla_100x20", s.clone());
    // Overdue tickets are marked with `!` and how late they are.
    assert!(s.lines().any(|l| l.contains(" !")), "{s}");
    key(&mut a, KeyCode::Enter);
    let t = screen(&mut a, 100, 30);
    assert!(t.contains("SLA: "), "{t}");
}

/// A store holding one ticket of two messages, the first with `body`.
fn long_ticket(body: &str) -> (tempfile::TempDir, App) {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("mail");
    std::fs::create_dir(&src).unwrap();
    let head = |id: &str, extra: &str| {
        format!(
            "From: Long Writer <long@example.com>\r\nTo: support@example.test\r\n\
             Subject: a long one\r\nMessage-ID: <{id}@example.com>\r\n{extra}\
             Date: Mon, 02 Nov 2026 10:00:00 +0000\r\n\r\n"
        )
    };
    std::fs::write(src.join("1.eml"), head("first", "") + "placeholder\r\n").unwrap();
    std::fs::write(
        src.join("2.eml"),
        head("second", "In-Reply-To: <first@example.com>\r\n") + "the second message ends here\r\n",
    )
    .unwrap();
    let db = dir.path().join("e.db");
    let mut store = Store::open(&db, Settings::default()).unwrap();
    echodesk::import::import(&mut store, &src, "import", |_| {}).unwrap();
    drop(store);
    // The body goes in directly: parsing 60 MB in a debug build is not what
    // this test is about.
    let conn = rusqlite::Connection::open(&db).unwrap();
    let n = conn
        .execute(
            "UPDATE messages SET body_text = ?1 WHERE message_id = 'first@example.com'",
            [body],
        )
        .unwrap();
    assert_eq!(n, 1);
    drop(conn);
    let store = Store::open(&db, Settings::default()).unwrap();
    let theme = Theme::load("monochrome").unwrap();
    let mut a = App::new(store, Config::default(), "alice".into(), theme).unwrap();
    a.clock = Some(NOW);
    (dir, a)
}

#[test]
fn a_message_of_100000_lines_does_not_hide_the_next_one() {
    // More rows than a u16 can count, all within what the view lays out.
    let body = "x\n".repeat(100_000);
    let (_dir, mut a) = long_ticket(&body);
    key(&mut a, KeyCode::Enter);
    assert_eq!(a.screen, Screen::Ticket);
    key(&mut a, KeyCode::Char('G'));
    let s = screen(&mut a, 100, 30);
    assert!(s.contains("the second message ends here"), "{s}");
    assert!(
        a.ticket_scroll > usize::from(u16::MAX),
        "{}",
        a.ticket_scroll
    );
    // And back to the top.
    key(&mut a, KeyCode::Char('g'));
    let s = screen(&mut a, 100, 30);
    assert!(s.contains("a long one"), "{s}");
}

#[test]
fn a_60_mb_message_is_laid_out_once_and_shown_truncated() {
    let line = "0123456789 abcdefghij klmnopqrst uvwxyz ".repeat(2) + "\n";
    let body = line.repeat(60 * 1024 * 1024 / line.len());
    let (_dir, mut a) = long_ticket(&body);
    // The queue's preview reads only the start of it.
    let started = std::time::Instant::now();
    for _ in 0..20 {
        screen(&mut a, 100, 40);
    }
    assert!(
        started.elapsed() < std::time::Duration::from_secs(3),
        "20 queue frames took {:?}",
        started.elapsed()
    );
    key(&mut a, KeyCode::Enter);
    screen(&mut a, 100, 40);
    let started = std::time::Instant::now();
    for i in 0..20 {
        key(
            &mut a,
            if i % 2 == 0 {
                KeyCode::Char('j')
            } else {
                KeyCode::PageDown
            },
        );
        screen(&mut a, 100, 40);
    }
    assert!(
        started.elapsed() < std::time::Duration::from_secs(3),
        "20 keys on the ticket took {:?}",
        started.elapsed()
    );
    let rows: usize = a.body_rows.values().map(|r| r.len()).sum();
    assert!(rows < 20_000, "{rows} rows laid out");
    key(&mut a, KeyCode::Char('G'));
    let s = screen(&mut a, 100, 40);
    assert!(s.contains("more of this message; o reads all of it"), "{s}");
    assert!(s.contains("the second message ends here"), "{s}");
    // The pager gets all of it.
    key(&mut a, KeyCode::Char('o'));
    let text = a.pager_request.take().expect("a pager request");
    assert!(text.len() >= body.len(), "{} < {}", text.len(), body.len());
}

/// The palette matches fuzzily, best first: the exact name wins, initials
/// find multi-word names, help text counts too, nonsense finds nothing.
#[test]
fn the_palette_ranks_fuzzy_matches() {
    let names = |q: &str| -> Vec<&str> { App::palette_matches(q).iter().map(|d| d.name).collect() };
    assert_eq!(names("solve")[0], "solve");
    assert_eq!(names("assign-me")[0], "assign-me");
    assert_eq!(names("pgr")[0], "pager");
    assert!(
        names("conversation").contains(&"pager"),
        "help text is searched"
    );
    assert!(names("qqqzzz").is_empty());
    let commands = echodesk::tui::keymap::ACTIONS
        .iter()
        .filter(|d| d.in_palette());
    assert_eq!(names("").len(), commands.count());
    assert!(
        !names("compose").contains(&"compose-save"),
        "compose keys are not commands"
    );
}

fn dashboard_config(fx: &Fixture) -> Config {
    let mut c = config(fx);
    c.time_zone = "Europe/Berlin".into();
    c.report.targets.insert("frt_p90".into(), "<= 4h".into());
    c.report
        .targets
        .insert("reopen_rate".into(), "<= 5%".into());
    c
}

#[test]
fn dashboard_panels_and_keys() {
    let fx = fixture(300);
    let cfg = dashboard_config(&fx);
    let store = Store::open(&fx.db, Settings::from(&cfg)).unwrap();
    let mut a = App::new(
        store,
        cfg,
        "alice".into(),
        Theme::load("monochrome").unwrap(),
    )
    .unwrap();
    a.clock = Some(NOW);
    key(&mut a, KeyCode::Char('D'));
    assert_eq!(a.screen, Screen::Dashboard);
    let wide = screen(&mut a, 120, 32);
    insta::assert_snapshot!("dashboard_120x32", wide);
    let small = screen(&mut a, 80, 24);
    insta::assert_snapshot!("dashboard_80x24", small);
    for panel in [
        "last 4 weeks",
        "Created vs solved per day",
        "Figures and targets",
        "frt_p90 <= 4h",
        "First reply in",
        "Created by channel",
        "Busiest hours (Europe/Berlin)",
    ] {
        assert!(small.contains(panel), "{panel} missing at 80×24:\n{small}");
    }
    // The figures are the report's.
    let d = a.dashboard.as_ref().unwrap();
    let total = d
        .daily
        .as_ref()
        .unwrap()
        .totals
        .last()
        .unwrap()
        .figures
        .clone();
    assert!(
        small.contains(&format!("{} created", total.created))
            && small.contains(&format!("Open: {}, by assignee", total.backlog)),
        "{small}"
    );
    // Grouping and period from the keyboard.
    key(&mut a, KeyCode::Char('g'));
    assert!(screen(&mut a, 80, 24).contains("Created by agent"));
    key(&mut a, KeyCode::Char('p'));
    assert!(screen(&mut a, 80, 24).contains("this week"));
    key(&mut a, KeyCode::Char('P'));
    key(&mut a, KeyCode::Char('P'));
    assert!(screen(&mut a, 80, 24).contains("last 12 weeks"));
    // Back to the queue, and in again from the palette.
    key(&mut a, KeyCode::Esc);
    assert_eq!(a.screen, Screen::Queue);
    key(&mut a, KeyCode::Char(':'));
    keys(&mut a, "dashboard");
    key(&mut a, KeyCode::Enter);
    assert_eq!(a.screen, Screen::Dashboard);
}

/// Another agent's solve shows on an open dashboard at the next tick.
#[test]
fn the_dashboard_is_live() {
    let fx = fixture(60);
    let mut watcher = app(&fx, "alice");
    watcher.clock = None;
    key(&mut watcher, KeyCode::Char('D'));
    let solved = |a: &App| {
        a.dashboard
            .as_ref()
            .unwrap()
            .daily
            .as_ref()
            .unwrap()
            .totals
            .last()
            .unwrap()
            .figures
            .solved
    };
    let before = solved(&watcher);
    let mut bob = app(&fx, "bob");
    bob.clock = None;
    // Bob solves the first open ticket of his queue.
    let id = bob.selected_row().unwrap().id;
    key(&mut bob, KeyCode::Char('S'));
    let after_bob = bob.store.ticket_summary(id).unwrap().state;
    assert_eq!(after_bob, "solved");
    watcher.tick();
    assert_eq!(solved(&watcher), before + 1);
}

/// A rated ticket shows its rating and comment; the customer panel the
/// customer's ratings.
#[test]
fn a_survey_rating_shows_on_the_ticket_and_the_customer() {
    let fx = fixture(60);
    let mut store = Store::open(&fx.db, Settings::default()).unwrap();
    let solved = store
        .search_ids(
            &echodesk::query::parse("state:solved channel:email").unwrap(),
            &echodesk::store::SearchContext {
                me: "alice".into(),
                now: NOW,
            },
            100,
        )
        .unwrap()
        .into_iter()
        .find(|t| store.ticket_survey(*t).unwrap().is_none())
        .expect("a solved email ticket the demo did not survey");
    let customer = store.ticket_summary(solved).unwrap().customer_id;
    {
        let tx = store.transaction().unwrap();
        tx.set_clock(Some(NOW - 3600));
        let id = tx
            .queue_survey(&echodesk::store::NewSurvey {
                ticket: solved,
                customer,
                channel: echodesk::model::Channel::Email,
                body: "How did we do?",
                token: "0123456789abcdef",
                agent: Some("yuki"),
                expires_at: NOW + 86_400,
            })
            .unwrap();
        let s = tx.survey_by_token("0123456789abcdef").unwrap().unwrap();
        assert_eq!(s.id, id);
        let m = tx
            .add_agent_message(solved, echodesk::model::Direction::Note, "x", "alice", NOW)
            .unwrap();
        tx.record_answer(&s, 2, "took three weeks", m, NOW - 600)
            .unwrap();
        tx.commit().unwrap();
    }
    let mut a = app(&fx, "alice");
    key(&mut a, KeyCode::Char('/'));
    keys(&mut a, &format!("id:{solved}"));
    key(&mut a, KeyCode::Enter);
    key(&mut a, KeyCode::Enter);
    assert_eq!(a.ticket.as_ref().unwrap().summary.id, solved);
    let s = screen(&mut a, 100, 30);
    assert!(
        s.contains("Satisfaction: rated 2 · took three weeks"),
        "{s}"
    );
    // The customer's ratings, newest first: this one, then the demo's.
    assert!(s.contains("│rated 2"), "{s}");
    assert!(s.contains(" surveys)"), "{s}");
    insta::assert_snapshot!("ticket_rated_100x30", s);
}

/// The review screen: a sampled ticket beside the rubric, scored with
/// digits, a comment, saved; the next task follows.
#[test]
fn review_tasks_are_scored_from_the_keyboard() {
    let fx = fixture(150);
    let mut store = Store::open(&fx.db, Settings::default()).unwrap();
    let ctx = echodesk::store::SearchContext {
        me: "lead".into(),
        now: NOW,
    };
    let range = echodesk::report::period::Range {
        first: echodesk::clock::Zone::default().day(NOW) - 83,
        last: echodesk::clock::Zone::default().day(NOW),
    };
    let s = echodesk::review::sample(&mut store, range, 1, None, Some(3), &ctx).unwrap();
    assert!(s.added >= 2, "{s:?}");
    let mut a = app(&fx, "lead");
    key(&mut a, KeyCode::Char('Q'));
    assert_eq!(a.screen, Screen::Review);
    let first = a.reviewing.as_ref().unwrap().current().unwrap().clone();
    assert_eq!(a.ticket.as_ref().unwrap().summary.id, first.ticket);
    keys(&mut a, "54543");
    key(&mut a, KeyCode::Char('c'));
    keys(&mut a, "friendly, but no follow-up");
    key(&mut a, KeyCode::Enter);
    insta::assert_snapshot!("review_100x30", screen(&mut a, 100, 30));
    key(&mut a, KeyCode::Enter);
    let saved = store.review(first.id).unwrap().unwrap();
    assert!((saved.score.unwrap() - 5.5 / 7.0).abs() < 1e-9, "{saved:?}");
    assert_eq!(saved.comment.as_deref(), Some("friendly, but no follow-up"));
    assert_eq!(saved.reviewer.as_deref(), Some("lead"));
    // On to the next task; a digit beyond a criterion's scale is refused.
    let next = a.reviewing.as_ref().unwrap().current().unwrap().clone();
    assert_ne!(next.id, first.id);
    key(&mut a, KeyCode::Char('9'));
    assert!(screen(&mut a, 100, 30).contains("is scored 1 to 5"));
    key(&mut a, KeyCode::Esc);
    assert_eq!(a.screen, Screen::Queue);
}
