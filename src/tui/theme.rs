//! Semantic colours. Views ask for a role (`theme.title`, `theme.note`),
//! never for a raw colour, so a theme file changes everything at once.
//! The four themes in `themes/` are built in; `theme = "path.toml"` loads
//! another. NO_COLOR selects the monochrome theme.

use std::collections::BTreeMap;

use ratatui::style::{Color, Modifier, Style};

const BUILT_IN: &[(&str, &str)] = &[
    ("dark", include_str!("../../themes/dark.toml")),
    ("light", include_str!("../../themes/light.toml")),
    (
        "high-contrast",
        include_str!("../../themes/high-contrast.toml"),
    ),
    ("monochrome", include_str!("../../themes/monochrome.toml")),
];

/// Every colour role a theme may set, with what it colours. A theme file
/// that names anything else is refused (a typo must not pass silently);
/// besides these, `state_NAME` colours one workflow state by its name.
pub const ROLES: &[(&str, &str)] = &[
    (
        "background",
        "the screen behind everything (\"reset\": the terminal's own)",
    ),
    ("text", "ordinary text"),
    ("dim", "secondary text: ages, hints, labels"),
    ("title", "titles and keys in help"),
    ("selection_bg", "the selected row's background"),
    ("selection_fg", "the selected row's text"),
    ("border", "borders"),
    ("border_focused", "the focused pane's border"),
    ("inbound", "messages from the customer"),
    ("outbound", "replies to the customer"),
    ("note_bg", "internal notes' background"),
    ("note_fg", "internal notes' text"),
    ("error", "errors"),
    ("warning", "warnings and marked tickets"),
    ("ok", "success"),
    ("priority_urgent", "urgent tickets"),
    ("priority_high", "high-priority tickets"),
    ("state_new", "state new (and states like it)"),
    ("state_open", "state open"),
    ("state_pending", "waiting states: pending, on-hold"),
    ("state_solved", "finished states: solved, closed"),
    ("heat_1", "the dashboard's quietest busy hours (background)"),
    ("heat_2", "busier hours (background)"),
    ("heat_3", "busier still (background)"),
    ("heat_4", "the busiest hours (background)"),
];

fn is_role(name: &str) -> bool {
    ROLES.iter().any(|(r, _)| *r == name)
        || name.strip_prefix("state_").is_some_and(|s| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ThemeFile {
    #[allow(dead_code)]
    name: String,
    #[serde(default)]
    monochrome: bool,
    #[serde(default)]
    colors: BTreeMap<String, String>,
}

#[derive(Debug, Clone)]
pub struct Theme {
    pub mono: bool,
    colors: BTreeMap<String, Color>,
}

fn parse_color(s: &str) -> Option<Color> {
    if let Some(hex) = s.strip_prefix('#') {
        if hex.len() == 6 {
            let v = u32::from_str_radix(hex, 16).ok()?;
            return Some(Color::Rgb((v >> 16) as u8, (v >> 8) as u8, v as u8));
        }
        return None;
    }
    s.parse::<Color>().ok()
}

impl Theme {
    pub fn names() -> Vec<&'static str> {
        BUILT_IN.iter().map(|(n, _)| *n).collect()
    }

    /// A built-in name or a file path.
    pub fn load(name: &str) -> Result<Theme, String> {
        if std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()) {
            return Theme::parse(BUILT_IN[3].1, "monochrome");
        }
        if let Some((_, text)) = BUILT_IN.iter().find(|(n, _)| *n == name) {
            return Theme::parse(text, name);
        }
        let text = std::fs::read_to_string(name).map_err(|e| {
            format!(
                "theme `{name}`: {e}; built-in themes: {}",
                Theme::names().join(", ")
            )
        })?;
        Theme::parse(&text, name)
    }

    fn parse(text: &str, origin: &str) -> Result<Theme, String> {
        let file: ThemeFile = toml::from_str(text).map_err(|e| format!("theme {origin}: {e}"))?;
        let mut colors = BTreeMap::new();
        for (k, v) in file.colors {
            if !is_role(&k) {
                let roles: Vec<&str> = ROLES.iter().map(|(r, _)| *r).collect();
                return Err(format!(
                    "theme {origin}: `{k}` is not a colour role; roles are {}, and state_NAME for a workflow state",
                    roles.join(", ")
                ));
            }
            let c = parse_color(&v)
                .ok_or_else(|| format!("theme {origin}: `{k} = \"{v}\"` is not a colour"))?;
            colors.insert(k, c);
        }
        Ok(Theme {
            mono: file.monochrome,
            colors,
        })
    }

    fn fg(&self, role: &str) -> Style {
        match self.colors.get(role) {
            Some(c) if !self.mono => Style::default().fg(*c),
            _ => Style::default(),
        }
    }

    pub fn text(&self) -> Style {
        self.fg("text")
    }
    pub fn dim(&self) -> Style {
        if self.mono {
            Style::default().add_modifier(Modifier::DIM)
        } else {
            self.fg("dim")
        }
    }
    pub fn title(&self, focused: bool) -> Style {
        let s = self.fg("title").add_modifier(Modifier::BOLD);
        if focused {
            s
        } else {
            s.remove_modifier(Modifier::BOLD)
        }
    }
    pub fn border(&self, focused: bool) -> Style {
        self.fg(if focused { "border_focused" } else { "border" })
    }
    pub fn selected(&self) -> Style {
        if self.mono {
            return Style::default().add_modifier(Modifier::REVERSED);
        }
        let mut s = self.fg("selection_fg");
        if let Some(bg) = self.colors.get("selection_bg") {
            s = s.bg(*bg);
        }
        s.add_modifier(Modifier::BOLD)
    }
    pub fn marked(&self) -> Style {
        self.fg("warning").add_modifier(Modifier::BOLD)
    }
    pub fn outbound(&self) -> Style {
        self.fg("outbound")
    }
    pub fn note(&self) -> Style {
        if self.mono {
            return Style::default().add_modifier(Modifier::ITALIC);
        }
        let mut s = self.fg("note_fg");
        if let Some(bg) = self.colors.get("note_bg") {
            s = s.bg(*bg);
        }
        s
    }
    pub fn error(&self) -> Style {
        self.fg("error").add_modifier(Modifier::BOLD)
    }
    pub fn warning(&self) -> Style {
        self.fg("warning")
    }
    /// A heatmap cell, `level` 0 (nothing) to 4 (the busiest): a
    /// background; in monochrome, reverse video for the busy ones.
    pub fn heat(&self, level: u8) -> Style {
        if level == 0 {
            return Style::default();
        }
        if self.mono {
            let s = Style::default().add_modifier(Modifier::REVERSED);
            return if level < 3 {
                s.add_modifier(Modifier::DIM)
            } else {
                s
            };
        }
        match self.colors.get(&format!("heat_{}", level.min(4))) {
            Some(c) => Style::default().bg(*c),
            None => Style::default().add_modifier(Modifier::REVERSED),
        }
    }

    pub fn ok(&self) -> Style {
        self.fg("ok")
    }
    pub fn priority(&self, p: crate::model::Priority) -> Style {
        use crate::model::Priority::*;
        match p {
            Urgent => self.fg("priority_urgent").add_modifier(Modifier::BOLD),
            High => self.fg("priority_high"),
            Normal => self.text(),
            Low => self.dim(),
        }
    }
    /// A state's own colour (`state_NAME`) when the theme sets one, else
    /// that of the built-in state it resembles.
    pub fn state(&self, state: &str) -> Style {
        let own = format!("state_{state}");
        if self.colors.contains_key(&own) {
            return self.fg(&own);
        }
        match state {
            "new" => self.fg("state_new").add_modifier(Modifier::BOLD),
            "open" => self.fg("state_open"),
            "pending" | "on-hold" => self.fg("state_pending"),
            "solved" | "closed" => self.fg("state_solved"),
            _ => self.dim(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_themes_load() {
        for n in Theme::names() {
            Theme::parse(BUILT_IN.iter().find(|(x, _)| *x == n).unwrap().1, n).unwrap();
        }
        assert!(Theme::load("nope-not-a-theme")
            .unwrap_err()
            .contains("dark"));
    }

    #[test]
    fn an_unknown_role_is_refused_and_a_state_may_have_its_own() {
        let e =
            Theme::parse("name = \"x\"\n[colors]\nselction_bg = \"red\"\n", "x.toml").unwrap_err();
        assert!(e.contains("`selction_bg` is not a colour role"), "{e}");
        let t = Theme::parse(
            "name = \"x\"\n[colors]\nstate_escalated = \"red\"\nstate_pending = \"blue\"\n",
            "x.toml",
        )
        .unwrap();
        assert_eq!(t.state("escalated").fg, Some(Color::Red));
        assert_eq!(t.state("on-hold").fg, Some(Color::Blue));
    }

    #[test]
    fn colours_parse() {
        assert_eq!(parse_color("#ff0000"), Some(Color::Rgb(255, 0, 0)));
        assert_eq!(parse_color("yellow"), Some(Color::Yellow));
        assert_eq!(parse_color("#ff00"), None);
    }
}
