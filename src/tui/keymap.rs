//! Every action the TUI can take, defined once: the context its keys work
//! in, its name (for the command palette and the config's `[keys]`), its
//! help text and its default keys. The help screen, the palette and the
//! compose window's key line are generated from this table, so they cannot
//! drift from what the keys do. A key belongs to one action per context:
//! `ctrl-s` may save in the compose window and do something else in the
//! queue, but two actions of one context cannot share it.

use std::collections::HashMap;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// Defines `Action` and `ACTIONS` from one list, so an action cannot exist
/// without its name, help and default keys.
macro_rules! actions {
    ($($context:ident $action:ident $name:literal $help:literal [$($key:literal),*];)*) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Action {
            $($action,)*
        }

        pub const ACTIONS: &[ActionDef] = &[
            $(ActionDef {
                context: Context::$context,
                action: Action::$action,
                name: $name,
                help: $help,
                keys: &[$($key),*],
            },)*
        ];
    };
}

/// Where an action's keys work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Context {
    /// The queue and the ticket view.
    General,
    /// The compose window (reply or note): other keys type text.
    Compose,
    /// The state, assignee and priority menus: any other key closes them.
    Menu,
    /// The lists filtered by typing (command palette, canned answers):
    /// other keys type the filter.
    Picker,
    /// The dashboard (its other keys: quit, help, palette, refresh, back).
    Dashboard,
    /// The review screen (digits score the marked criterion).
    Review,
    /// The customer's timeline.
    Timeline,
    /// The digest screen.
    Digest,
}

impl Context {
    pub fn title(self) -> &'static str {
        match self {
            Context::General => "Queue and ticket",
            Context::Compose => "Compose window (other keys type)",
            Context::Menu => "Menus (other keys close them)",
            Context::Picker => "Palette and canned answers (other keys filter)",
            Context::Dashboard => "Dashboard",
            Context::Review => "Review screen (1-9 score the marked criterion)",
            Context::Timeline => {
                "Customer timeline (j/k and pages scroll; n notes the file; esc back)"
            }
            Context::Digest => "Digest (j/k and pages scroll; esc back)",
        }
    }
}

pub struct ActionDef {
    pub context: Context,
    pub action: Action,
    pub name: &'static str,
    pub help: &'static str,
    pub keys: &'static [&'static str],
}

impl ActionDef {
    /// Whether the command palette offers it (compose actions are keys
    /// inside the compose window, not commands).
    pub fn in_palette(&self) -> bool {
        self.context == Context::General
    }
}

actions! {
    General Down "down" "Next ticket / scroll down" ["j", "down"];
    General Up "up" "Previous ticket / scroll up" ["k", "up"];
    General Top "top" "First ticket" ["g", "home"];
    General Bottom "bottom" "Last ticket" ["G", "end"];
    General PageDown "page-down" "One screen down" ["pgdn", "ctrl-d"];
    General PageUp "page-up" "One screen up" ["pgup", "ctrl-u"];
    General Open "open" "Open the ticket" ["enter", "l"];
    General Pager "pager" "Read the whole conversation in $PAGER" ["o"];
    General Back "back" "Back to the queue / close" ["esc", "h"];
    General NextView "next-view" "Next saved view (1-9 jump)" ["tab"];
    General PrevView "prev-view" "Previous saved view" ["backtab"];
    General Search "search" "Search with the query language" ["/"];
    General ClearSearch "clear-search" "Back to the view's own query" ["\\"];
    General StateMenu "state" "Change state (allowed transitions only)" ["s"];
    General Solve "solve" "Mark solved" ["S"];
    General Pending "pending" "Mark pending (waiting on customer)" ["P"];
    General Spam "spam" "Mark as spam" ["!"];
    General AssignMenu "assign" "Assign: me, none or another agent" ["a"];
    General AssignMe "assign-me" "Assign to me" ["A"];
    General Tag "tag" "Tags: +add -remove" ["t"];
    General PriorityMenu "priority" "Set priority" ["p"];
    General Note "note" "Internal note (asset screen, timeline: a note on that file)" ["n"];
    General Snooze "snooze" "Snooze until a time (2h, tomorrow, 2026-12-01); empty wakes" ["z"];
    General Merge "merge" "Merge the selected tickets into the oldest" ["M"];
    General Reply "reply" "Reply to the customer" ["r"];
    General Forward "forward" "Forward to another department; their answer comes back as a note" ["f"];
    General Follow "follow" "Follow the ticket, or stop (find yours with follower:me)" ["w"];
    General Select "select" "Select / unselect ticket" ["space"];
    General VisualRange "visual" "Select a range (press again to end)" ["v"];
    General SelectAll "select-all" "Select every ticket in the view" ["*"];
    General ClearSelection "clear-selection" "Clear the selection" ["x"];
    General Undo "undo" "Undo the last change" ["u"];
    General Refresh "refresh" "Reload now" ["ctrl-r"];
    General Dashboard "dashboard" "Team dashboard: volume, first replies, targets, busiest hours" ["D"];
    General Review "review" "Quality review: score sampled tickets on the rubric" ["Q"];
    General Timeline "timeline" "The customer's timeline: every message of every ticket and channel" ["T"];
    General LinkAsset "link-asset" "Which asset (machine) the ticket is about" ["m"];
    General AssetScreen "asset" "The ticket's asset: its details and repair record" ["H"];
    General EditField "field" "Set a field: tier=gold, org.NAME=…, asset.model=… (on the asset screen, its own)" ["F"];
    General Digest "digest" "Digest of the list: topics against the week before" ["V"];
    General Palette "palette" "Command palette: every action by name" [":"];
    General Help "help" "This help" ["?"];
    General Quit "quit" "Quit" ["q"];
    Compose ComposeSave "compose-save" "Save: queue the reply, or add the note" ["ctrl-s"];
    Compose ComposeDiscard "compose-discard" "Discard the text" ["esc"];
    Compose ComposeCanned "compose-canned" "Insert a canned answer" ["ctrl-t"];
    Compose ComposeEditor "compose-editor" "Edit the text in $EDITOR" ["ctrl-e"];
    Compose ComposeChannel "compose-channel" "Reply on the customer's next channel" ["ctrl-n"];
    Menu MenuDown "menu-down" "Next item" ["j", "down"];
    Menu MenuUp "menu-up" "Previous item" ["k", "up"];
    Menu MenuChoose "menu-choose" "Choose the item" ["enter", "l"];
    Picker PickerDown "picker-down" "Next match" ["down", "ctrl-n"];
    Picker PickerUp "picker-up" "Previous match" ["up", "ctrl-p"];
    Picker PickerChoose "picker-choose" "Take the match" ["enter"];
    Picker PickerClose "picker-close" "Close without taking one" ["esc"];
    Dashboard DashboardPeriod "dashboard-period" "Next period (4 weeks, this or last week or month, 12 weeks)" ["p", "right", "l"];
    Dashboard DashboardPeriodBack "dashboard-period-back" "Previous period" ["P", "left"];
    Dashboard DashboardGroup "dashboard-group" "Bars by channel, agent or priority" ["g", "tab"];
    Review ReviewDown "review-down" "Next criterion" ["j", "down"];
    Review ReviewUp "review-up" "Previous criterion" ["k", "up"];
    Review ReviewNext "review-next" "Next review task" ["n", "]"];
    Review ReviewPrev "review-prev" "Previous review task" ["N", "["];
    Review ReviewComment "review-comment" "Write the review's comment" ["c"];
    Review ReviewSave "review-save" "Save the scores (a complete review moves on)" ["ctrl-s", "enter"];
    Review ReviewScrollDown "review-scroll-down" "Scroll the conversation down" ["pgdn", "ctrl-d"];
    Review ReviewScrollUp "review-scroll-up" "Scroll the conversation up" ["pgup", "ctrl-u"];
    Timeline TimelineChannel "timeline-channel" "Only one channel: all, email, SMS, fax in turn" ["c", "tab"];
    Digest DigestPeriod "digest-period" "Next period: a week, a day, four weeks" ["p", "tab"];
    Timeline TimelineAsset "timeline-asset" "Only one asset's tickets: all, then each machine they own" ["m"];
}

/// A key as written in the config and shown in help: `j`, `G`, `ctrl-d`,
/// `enter`, `space`, `pgdn`.
pub fn parse_key(s: &str) -> Option<(KeyCode, KeyModifiers)> {
    let (mods, name) = match s.strip_prefix("ctrl-") {
        Some(rest) => (KeyModifiers::CONTROL, rest),
        None => match s.strip_prefix("alt-") {
            Some(rest) => (KeyModifiers::ALT, rest),
            None => (KeyModifiers::NONE, s),
        },
    };
    let code = match name {
        "enter" => KeyCode::Enter,
        "esc" => KeyCode::Esc,
        "tab" => KeyCode::Tab,
        "backtab" => KeyCode::BackTab,
        "space" => KeyCode::Char(' '),
        "up" => KeyCode::Up,
        "down" => KeyCode::Down,
        "left" => KeyCode::Left,
        "right" => KeyCode::Right,
        "home" => KeyCode::Home,
        "end" => KeyCode::End,
        "pgup" => KeyCode::PageUp,
        "pgdn" => KeyCode::PageDown,
        "backspace" => KeyCode::Backspace,
        "delete" => KeyCode::Delete,
        _ => {
            let mut chars = name.chars();
            let c = chars.next()?;
            if chars.next().is_some() {
                return None;
            }
            KeyCode::Char(c)
        }
    };
    Some((code, mods))
}

#[derive(Debug)]
pub struct Keymap {
    map: HashMap<(Context, KeyCode, KeyModifiers), Action>,
    keys: HashMap<Action, Vec<String>>,
}

impl Keymap {
    /// The defaults, patched by the config's `[keys]` (action name → keys).
    pub fn new(
        overrides: &std::collections::BTreeMap<String, Vec<String>>,
    ) -> Result<Keymap, String> {
        let mut keys: HashMap<Action, Vec<String>> = ACTIONS
            .iter()
            .map(|d| (d.action, d.keys.iter().map(|k| k.to_string()).collect()))
            .collect();
        // Which action the config gave each key, per context, to find a
        // key given twice.
        let mut claimed: HashMap<(Context, KeyCode, KeyModifiers), &str> = HashMap::new();
        for (name, ks) in overrides {
            let def = ACTIONS.iter().find(|d| d.name == name).ok_or_else(|| {
                let names: Vec<_> = ACTIONS.iter().map(|d| d.name).collect();
                format!(
                    "[keys]: unknown action `{name}`; actions are: {}",
                    names.join(", ")
                )
            })?;
            for k in ks {
                let Some((code, mods)) = parse_key(k) else {
                    return Err(format!(
                        "[keys] {name}: `{k}` is not a key (try j, G, ctrl-d, enter, space, pgdn)"
                    ));
                };
                if matches!(def.context, Context::Compose | Context::Picker)
                    && mods == KeyModifiers::NONE
                    && matches!(
                        code,
                        KeyCode::Char(_) | KeyCode::Enter | KeyCode::Backspace | KeyCode::Tab
                    )
                {
                    return Err(format!(
                        "[keys] {name}: `{k}` types text there; use a ctrl- or alt- key, an arrow, or esc"
                    ));
                }
                if let Some(other) = claimed.insert((def.context, code, mods), name) {
                    if other != name {
                        return Err(format!(
                            "[keys]: `{k}` is given to both `{other}` and `{name}`"
                        ));
                    }
                }
            }
            keys.insert(def.action, ks.clone());
        }
        // A key the config gives one action leaves the action of the same
        // context that had it by default: `down = ["k"]` takes `k` from
        // `up` rather than losing to it.
        for d in ACTIONS {
            if overrides.contains_key(d.name) {
                continue;
            }
            if let Some(list) = keys.get_mut(&d.action) {
                list.retain(|k| {
                    parse_key(k).is_none_or(|(c, m)| !claimed.contains_key(&(d.context, c, m)))
                });
            }
        }
        let mut map = HashMap::new();
        for d in ACTIONS {
            for k in &keys[&d.action] {
                if let Some((code, mods)) = parse_key(k) {
                    map.insert((d.context, code, mods), d.action);
                }
            }
        }
        Ok(Keymap { map, keys })
    }

    /// The queue's and ticket view's action for a key.
    pub fn action(&self, key: &KeyEvent) -> Option<Action> {
        self.action_in(Context::General, key)
    }

    pub fn action_in(&self, context: Context, key: &KeyEvent) -> Option<Action> {
        let mods = key.modifiers & (KeyModifiers::CONTROL | KeyModifiers::ALT);
        self.map.get(&(context, key.code, mods)).copied()
    }

    pub fn keys_of(&self, a: Action) -> String {
        self.keys.get(&a).map(|k| k.join(" ")).unwrap_or_default()
    }

    /// The action's first key as people write it in prose: `Ctrl-S`, `Esc`.
    pub fn key_label(&self, a: Action) -> String {
        self.keys
            .get(&a)
            .and_then(|k| k.first())
            .map(|k| label(k))
            .unwrap_or_default()
    }
}

/// `ctrl-s` → `Ctrl-S`, `esc` → `Esc`, `pgdn` → `PgDn`; a single
/// character stays as it is.
fn label(key: &str) -> String {
    let (prefix, name) = match key.split_once('-') {
        Some((m @ ("ctrl" | "alt"), rest)) if !rest.is_empty() => (Some(m), rest),
        _ => (None, key),
    };
    let name = match name {
        "pgdn" => "PgDn".to_string(),
        "pgup" => "PgUp".to_string(),
        n if n.chars().count() == 1 => match prefix {
            Some(_) => n.to_uppercase(),
            None => n.to_string(),
        },
        n => {
            let mut c = n.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect())
                .unwrap_or_default()
        }
    };
    match prefix {
        Some("ctrl") => format!("Ctrl-{name}"),
        Some(_) => format!("Alt-{name}"),
        None => name,
    }
}

pub fn def(a: Action) -> &'static ActionDef {
    ACTIONS
        .iter()
        .find(|d| d.action == a)
        .expect("every action has a definition")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_remapped_key_moves_and_a_key_given_twice_is_an_error() {
        let mut o = std::collections::BTreeMap::new();
        o.insert("down".to_string(), vec!["k".to_string()]);
        let km = Keymap::new(&o).unwrap();
        let k = KeyEvent::new(KeyCode::Char('k'), KeyModifiers::NONE);
        assert_eq!(km.action(&k), Some(Action::Down));
        assert_eq!(km.keys_of(Action::Up), "up");
        let j = KeyEvent::new(KeyCode::Char('j'), KeyModifiers::NONE);
        assert_eq!(km.action(&j), None);
        o.insert("quit".to_string(), vec!["k".to_string()]);
        let e = Keymap::new(&o).unwrap_err();
        assert!(e.contains("`k` is given to both `down` and `quit`"), "{e}");
    }

    #[test]
    fn every_action_has_a_unique_default_key() {
        let km = Keymap::new(&Default::default()).unwrap();
        let mut seen = std::collections::HashSet::new();
        for d in ACTIONS {
            for k in d.keys {
                assert!(parse_key(k).is_some(), "{k}");
                assert!(seen.insert((d.context, *k)), "{k} bound twice");
            }
            assert!(!km.keys_of(d.action).is_empty());
        }
    }

    #[test]
    fn overrides_replace_defaults_and_typos_are_errors() {
        let mut o = std::collections::BTreeMap::new();
        o.insert("down".to_string(), vec!["ctrl-n".to_string()]);
        let km = Keymap::new(&o).unwrap();
        let ev = KeyEvent::new(KeyCode::Char('n'), KeyModifiers::CONTROL);
        assert_eq!(km.action(&ev), Some(Action::Down));
        assert_eq!(
            km.action(&KeyEvent::new(KeyCode::Char('j'), KeyModifiers::NONE)),
            None
        );
        o.insert("dwn".to_string(), vec!["j".to_string()]);
        assert!(Keymap::new(&o).unwrap_err().contains("dwn"));
    }

    #[test]
    fn keys_read_as_people_write_them() {
        assert_eq!(label("ctrl-s"), "Ctrl-S");
        assert_eq!(label("esc"), "Esc");
        assert_eq!(label("alt-x"), "Alt-X");
        assert_eq!(label("pgdn"), "PgDn");
        assert_eq!(label("G"), "G");
        assert_eq!(label("-"), "-");
    }

    #[test]
    fn contexts_keep_their_keys_apart() {
        let km = Keymap::new(&Default::default()).unwrap();
        let ctrl_n = KeyEvent::new(KeyCode::Char('n'), KeyModifiers::CONTROL);
        assert_eq!(
            km.action_in(Context::Compose, &ctrl_n),
            Some(Action::ComposeChannel)
        );
        let esc = KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE);
        assert_eq!(km.action(&esc), Some(Action::Back));
        assert_eq!(
            km.action_in(Context::Compose, &esc),
            Some(Action::ComposeDiscard)
        );
        // The same key in two contexts is fine; twice in one is not.
        let mut o = std::collections::BTreeMap::new();
        o.insert("compose-save".to_string(), vec!["ctrl-r".to_string()]);
        let km = Keymap::new(&o).unwrap();
        let ctrl_r = KeyEvent::new(KeyCode::Char('r'), KeyModifiers::CONTROL);
        assert_eq!(km.action(&ctrl_r), Some(Action::Refresh));
        assert_eq!(
            km.action_in(Context::Compose, &ctrl_r),
            Some(Action::ComposeSave)
        );
        o.insert("compose-editor".to_string(), vec!["ctrl-r".to_string()]);
        let e = Keymap::new(&o).unwrap_err();
        assert!(e.contains("given to both"), "{e}");
        // Menus and the palette read their keys from the table too.
        let j = KeyEvent::new(KeyCode::Char('j'), KeyModifiers::NONE);
        assert_eq!(km.action_in(Context::Menu, &j), Some(Action::MenuDown));
        let ctrl_p = KeyEvent::new(KeyCode::Char('p'), KeyModifiers::CONTROL);
        assert_eq!(
            km.action_in(Context::Picker, &ctrl_p),
            Some(Action::PickerUp)
        );
        // A plain letter would be lost to typing.
        let mut o = std::collections::BTreeMap::new();
        o.insert("compose-save".to_string(), vec!["s".to_string()]);
        let e = Keymap::new(&o).unwrap_err();
        assert!(e.contains("types text"), "{e}");
    }
}
