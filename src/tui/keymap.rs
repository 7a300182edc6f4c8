//! Every action the TUI can take, defined once: its name (for the command
//! palette and the config's `[keys]`), its help text and its default keys.
//! The help screen and the palette are generated from this table, so they
//! cannot drift from what the keys do.

use std::collections::HashMap;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Quit,
    Back,
    Down,
    Up,
    Top,
    Bottom,
    PageDown,
    PageUp,
    Open,
    Pager,
    NextView,
    PrevView,
    Search,
    ClearSearch,
    StateMenu,
    Solve,
    Pending,
    Spam,
    AssignMenu,
    AssignMe,
    Tag,
    PriorityMenu,
    Note,
    Reply,
    Snooze,
    Merge,
    Select,
    VisualRange,
    SelectAll,
    ClearSelection,
    Undo,
    Refresh,
    Help,
    Palette,
}

/// Every action, to check that each has a definition.
#[cfg(test)]
const ALL: &[Action] = &[
    Action::Quit,
    Action::Back,
    Action::Down,
    Action::Up,
    Action::Top,
    Action::Bottom,
    Action::PageDown,
    Action::PageUp,
    Action::Open,
    Action::Pager,
    Action::NextView,
    Action::PrevView,
    Action::Search,
    Action::ClearSearch,
    Action::StateMenu,
    Action::Solve,
    Action::Pending,
    Action::Spam,
    Action::AssignMenu,
    Action::AssignMe,
    Action::Tag,
    Action::PriorityMenu,
    Action::Note,
    Action::Reply,
    Action::Snooze,
    Action::Merge,
    Action::Select,
    Action::VisualRange,
    Action::SelectAll,
    Action::ClearSelection,
    Action::Undo,
    Action::Refresh,
    Action::Help,
    Action::Palette,
];

pub struct ActionDef {
    pub action: Action,
    pub name: &'static str,
    pub help: &'static str,
    pub keys: &'static [&'static str],
}

pub const ACTIONS: &[ActionDef] = &[
    ActionDef {
        action: Action::Down,
        name: "down",
        help: "Next ticket / scroll down",
        keys: &["j", "down"],
    },
    ActionDef {
        action: Action::Up,
        name: "up",
        help: "Previous ticket / scroll up",
        keys: &["k", "up"],
    },
    ActionDef {
        action: Action::Top,
        name: "top",
        help: "First ticket",
        keys: &["g", "home"],
    },
    ActionDef {
        action: Action::Bottom,
        name: "bottom",
        help: "Last ticket",
        keys: &["G", "end"],
    },
    ActionDef {
        action: Action::PageDown,
        name: "page-down",
        help: "One screen down",
        keys: &["pgdn", "ctrl-d"],
    },
    ActionDef {
        action: Action::PageUp,
        name: "page-up",
        help: "One screen up",
        keys: &["pgup", "ctrl-u"],
    },
    ActionDef {
        action: Action::Open,
        name: "open",
        help: "Open the ticket",
        keys: &["enter", "l"],
    },
    ActionDef {
        action: Action::Pager,
        name: "pager",
        help: "Read the whole conversation in $PAGER",
        keys: &["o"],
    },
    ActionDef {
        action: Action::Back,
        name: "back",
        help: "Back to the queue / close",
        keys: &["esc", "h"],
    },
    ActionDef {
        action: Action::NextView,
        name: "next-view",
        help: "Next saved view (1-9 jump)",
        keys: &["tab"],
    },
    ActionDef {
        action: Action::PrevView,
        name: "prev-view",
        help: "Previous saved view",
        keys: &["backtab"],
    },
    ActionDef {
        action: Action::Search,
        name: "search",
        help: "Search with the query language",
        keys: &["/"],
    },
    ActionDef {
        action: Action::ClearSearch,
        name: "clear-search",
        help: "Back to the view's own query",
        keys: &["\\"],
    },
    ActionDef {
        action: Action::StateMenu,
        name: "state",
        help: "Change state (allowed transitions only)",
        keys: &["s"],
    },
    ActionDef {
        action: Action::Solve,
        name: "solve",
        help: "Mark solved",
        keys: &["S"],
    },
    ActionDef {
        action: Action::Pending,
        name: "pending",
        help: "Mark pending (waiting on customer)",
        keys: &["P"],
    },
    ActionDef {
        action: Action::Spam,
        name: "spam",
        help: "Mark as spam",
        keys: &["!"],
    },
    ActionDef {
        action: Action::AssignMenu,
        name: "assign",
        help: "Assign: me, none or another agent",
        keys: &["a"],
    },
    ActionDef {
        action: Action::AssignMe,
        name: "assign-me",
        help: "Assign to me",
        keys: &["A"],
    },
    ActionDef {
        action: Action::Tag,
        name: "tag",
        help: "Tags: +add -remove",
        keys: &["t"],
    },
    ActionDef {
        action: Action::PriorityMenu,
        name: "priority",
        help: "Set priority",
        keys: &["p"],
    },
    ActionDef {
        action: Action::Note,
        name: "note",
        help: "Add an internal note",
        keys: &["n"],
    },
    ActionDef {
        action: Action::Snooze,
        name: "snooze",
        help: "Snooze until a time (2h, tomorrow, 2026-12-01); empty wakes",
        keys: &["z"],
    },
    ActionDef {
        action: Action::Merge,
        name: "merge",
        help: "Merge the selected tickets into the oldest",
        keys: &["M"],
    },
    ActionDef {
        action: Action::Reply,
        name: "reply",
        help: "Reply to the customer",
        keys: &["r"],
    },
    ActionDef {
        action: Action::Select,
        name: "select",
        help: "Select / unselect ticket",
        keys: &["space"],
    },
    ActionDef {
        action: Action::VisualRange,
        name: "visual",
        help: "Select a range (press again to end)",
        keys: &["v"],
    },
    ActionDef {
        action: Action::SelectAll,
        name: "select-all",
        help: "Select every ticket in the view",
        keys: &["*"],
    },
    ActionDef {
        action: Action::ClearSelection,
        name: "clear-selection",
        help: "Clear the selection",
        keys: &["x"],
    },
    ActionDef {
        action: Action::Undo,
        name: "undo",
        help: "Undo the last change",
        keys: &["u"],
    },
    ActionDef {
        action: Action::Refresh,
        name: "refresh",
        help: "Reload now",
        keys: &["ctrl-r"],
    },
    ActionDef {
        action: Action::Palette,
        name: "palette",
        help: "Command palette: every action by name",
        keys: &[":"],
    },
    ActionDef {
        action: Action::Help,
        name: "help",
        help: "This help",
        keys: &["?"],
    },
    ActionDef {
        action: Action::Quit,
        name: "quit",
        help: "Quit",
        keys: &["q"],
    },
];

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
        for (name, ks) in overrides {
            let def = ACTIONS.iter().find(|d| d.name == name).ok_or_else(|| {
                let names: Vec<_> = ACTIONS.iter().map(|d| d.name).collect();
                format!(
                    "[keys]: unknown action `{name}`; actions are: {}",
                    names.join(", ")
                )
            })?;
            for k in ks {
                if parse_key(k).is_none() {
                    return Err(format!(
                        "[keys] {name}: `{k}` is not a key (try j, G, ctrl-d, enter, space, pgdn)"
                    ));
                }
            }
            keys.insert(def.action, ks.clone());
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
    fn every_action_has_a_unique_default_key() {
        let km = Keymap::new(&Default::default()).unwrap();
        for a in ALL {
            assert!(
                ACTIONS.iter().any(|d| d.action == *a),
                "{a:?} has no definition"
            );
        }
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
