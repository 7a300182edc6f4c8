//! Every action the TUI can take, defined once: its name (for the command
//! palette and the config's `[keys]`), its help text and its default keys.
//! The help screen and the palette are generated from this table, so they
//! cannot drift from what the keys do.

use std::collections::HashMap;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// Defines `Action` and `ACTIONS` from one list, so an action cannot exist
/// without its name, help and default keys.
macro_rules! actions {
    ($($action:ident $name:literal $help:literal [$($key:literal),*];)*) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Action {
            $($action,)*
        }

        pub const ACTIONS: &[ActionDef] = &[
            $(ActionDef {
                action: Action::$action,
                name: $name,
                help: $help,
                keys: &[$($key),*],
            },)*
        ];
    };
}

pub struct ActionDef {
    pub action: Action,
    pub name: &'static str,
    pub help: &'static str,
    pub keys: &'static [&'static str],
}

actions! {
    Down "down" "Next ticket / scroll down" ["j", "down"];
    Up "up" "Previous ticket / scroll up" ["k", "up"];
    Top "top" "First ticket" ["g", "home"];
    Bottom "bottom" "Last ticket" ["G", "end"];
    PageDown "page-down" "One screen down" ["pgdn", "ctrl-d"];
    PageUp "page-up" "One screen up" ["pgup", "ctrl-u"];
    Open "open" "Open the ticket" ["enter", "l"];
    Pager "pager" "Read the whole conversation in $PAGER" ["o"];
    Back "back" "Back to the queue / close" ["esc", "h"];
    NextView "next-view" "Next saved view (1-9 jump)" ["tab"];
    PrevView "prev-view" "Previous saved view" ["backtab"];
    Search "search" "Search with the query language" ["/"];
    ClearSearch "clear-search" "Back to the view's own query" ["\\"];
    StateMenu "state" "Change state (allowed transitions only)" ["s"];
    Solve "solve" "Mark solved" ["S"];
    Pending "pending" "Mark pending (waiting on customer)" ["P"];
    Spam "spam" "Mark as spam" ["!"];
    AssignMenu "assign" "Assign: me, none or another agent" ["a"];
    AssignMe "assign-me" "Assign to me" ["A"];
    Tag "tag" "Tags: +add -remove" ["t"];
    PriorityMenu "priority" "Set priority" ["p"];
    Note "note" "Add an internal note" ["n"];
    Snooze "snooze" "Snooze until a time (2h, tomorrow, 2026-12-01); empty wakes" ["z"];
    Merge "merge" "Merge the selected tickets into the oldest" ["M"];
    Reply "reply" "Reply to the customer" ["r"];
    Select "select" "Select / unselect ticket" ["space"];
    VisualRange "visual" "Select a range (press again to end)" ["v"];
    SelectAll "select-all" "Select every ticket in the view" ["*"];
    ClearSelection "clear-selection" "Clear the selection" ["x"];
    Undo "undo" "Undo the last change" ["u"];
    Refresh "refresh" "Reload now" ["ctrl-r"];
    Palette "palette" "Command palette: every action by name" [":"];
    Help "help" "This help" ["?"];
    Quit "quit" "Quit" ["q"];
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
    map: HashMap<(KeyCode, KeyModifiers), Action>,
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
        // Which action the config gave each key, to find a key given twice.
        let mut claimed: HashMap<(KeyCode, KeyModifiers), &str> = HashMap::new();
        for (name, ks) in overrides {
            let def = ACTIONS.iter().find(|d| d.name == name).ok_or_else(|| {
                let names: Vec<_> = ACTIONS.iter().map(|d| d.name).collect();
                format!(
                    "[keys]: unknown action `{name}`; actions are: {}",
                    names.join(", ")
                )
            })?;
            for k in ks {
                let Some(parsed) = parse_key(k) else {
                    return Err(format!(
                        "[keys] {name}: `{k}` is not a key (try j, G, ctrl-d, enter, space, pgdn)"
                    ));
                };
                if let Some(other) = claimed.insert(parsed, name) {
                    if other != name {
                        return Err(format!(
                            "[keys]: `{k}` is given to both `{other}` and `{name}`"
                        ));
                    }
                }
            }
            keys.insert(def.action, ks.clone());
        }
        // A key the config gives one action leaves the action it had by
        // default: `down = ["k"]` takes `k` from `up` rather than losing to it.
        for d in ACTIONS {
            if overrides.contains_key(d.name) {
                continue;
            }
            if let Some(list) = keys.get_mut(&d.action) {
                list.retain(|k| parse_key(k).is_none_or(|p| !claimed.contains_key(&p)));
            }
        }
        let mut map = HashMap::new();
        for d in ACTIONS {
            for k in &keys[&d.action] {
                if let Some(parsed) = parse_key(k) {
                    map.insert(parsed, d.action);
                }
            }
        }
        Ok(Keymap { map, keys })
    }

    pub fn action(&self, key: &KeyEvent) -> Option<Action> {
        let mods = key.modifiers & (KeyModifiers::CONTROL | KeyModifiers::ALT);
        self.map.get(&(key.code, mods)).copied()
    }

    pub fn keys_of(&self, a: Action) -> String {
        self.keys.get(&a).map(|k| k.join(" ")).unwrap_or_default()
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
                assert!(seen.insert(*k), "{k} bound twice");
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
}
