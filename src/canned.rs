//! Canned answers: one file per answer in a directory the team shares,
//! Markdown with TOML front matter between `+++` lines:
//!
//! ```text
//! +++
//! title = "Shipping delay"
//! shortcut = "ship"
//! tags = ["shipping"]            # the answer's own tags, for finding it
//! channels = ["email", "sms"]    # where it fits; empty = everywhere
//! state = "pending"              # optional: set when used
//! add_tags = ["delayed"]         # optional: added to the ticket when used
//! [variants]
//! sms = "Hi {{ customer.first_name }}, your parcel ships in 2 days."
//! +++
//! Hello {{ customer.first_name }}, ...
//! ```
//!
//! Bodies are minijinja templates with strict undefined handling: a typo
//! in a variable is an error naming the file and line, never a
//! half-rendered message.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::model::{Channel, TicketDetail};

pub use crate::error::CannedError;

#[derive(Debug, Clone, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields)]
pub struct FrontMatter {
    pub title: String,
    #[serde(default)]
    pub shortcut: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub channels: Vec<Channel>,
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub add_tags: Vec<String>,
    #[serde(default)]
    pub variants: std::collections::BTreeMap<Channel, String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Canned {
    /// File name without extension: what `--canned NAME` refers to.
    pub name: String,
    pub path: PathBuf,
    #[serde(flatten)]
    pub meta: FrontMatter,
    pub body: String,
    /// Line in the file where the body starts (for error positions).
    #[serde(skip)]
    pub body_line: usize,
}

impl Canned {
    pub fn parse(path: &Path, text: &str) -> Result<Canned, CannedError> {
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let at = |line: usize, message: String| CannedError::At {
            path: path.into(),
            line,
            message,
        };
        let rest = text
            .strip_prefix("+++\n")
            .or_else(|| text.strip_prefix("+++\r\n"))
            .ok_or_else(|| {
                at(
                    1,
                    "expected TOML front matter opening with a `+++` line".into(),
                )
            })?;
        let end = rest
            .find("\n+++")
            .ok_or_else(|| at(1, "front matter is not closed by a `+++` line".into()))?;
        let front = &rest[..end + 1];
        let after = &rest[end + 4..];
        let body = after
            .strip_prefix("\r\n")
            .or_else(|| after.strip_prefix('\n'))
            .unwrap_or(after);
        let meta: FrontMatter = toml::from_str(front).map_err(|e| {
            let line = e.span().map_or(0, |s| {
                front[..s.start.min(front.len())].matches('\n').count()
            }) + 2;
            at(line, format!("front matter: {}", e.message()))
        })?;
        let body_line = front.matches('\n').count() + 3;
        let c = Canned {
            name,
            path: path.into(),
            meta,
            body: body.to_string(),
            body_line,
        };
        // Syntax errors are found at load, not at use.
        c.environment().map_err(|e| c.template_error(&e, 0))?;
        Ok(c)
    }

    pub fn load(path: &Path) -> Result<Canned, CannedError> {
        let text = std::fs::read_to_string(path).map_err(|cause| CannedError::Io {
            path: path.into(),
            cause,
        })?;
        Canned::parse(path, &text)
    }

    /// The text for a channel: its variant if there is one, else the body.
    pub fn text_for(&self, channel: Channel) -> (&str, usize) {
        match self.meta.variants.get(&channel) {
            Some(v) => (v.as_str(), 0),
            None => (self.body.as_str(), self.body_line),
        }
    }

    pub fn fits(&self, channel: Channel) -> bool {
        self.meta.channels.is_empty() || self.meta.channels.contains(&channel)
    }

    fn environment(&self) -> Result<minijinja::Environment<'static>, minijinja::Error> {
        let mut env = minijinja::Environment::new();
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        env.set_keep_trailing_newline(true);
        env.add_template_owned("body".to_string(), self.body.clone())?;
        for (ch, v) in &self.meta.variants {
            env.add_template_owned(ch.as_str().to_string(), v.clone())?;
        }
        Ok(env)
    }

    fn template_error(&self, e: &minijinja::Error, base: usize) -> CannedError {
        // Lines count from the file's top: the body starts after the front
        // matter; a variant's lines are reported at the front matter.
        let base = match e.name() {
            Some("body") => self.body_line,
            Some(_) => 1,
            None => base,
        };
        let line = e.line().map_or(base.max(1), |l| {
            if e.name() == Some("body") {
                base + l - 1
            } else {
                base
            }
        });
        let mut message = e.kind().to_string();
        if let Some(d) = e.detail() {
            message.push_str(": ");
            message.push_str(d);
        }
        CannedError::At {
            path: self.path.clone(),
            line,
            message,
        }
    }

    /// Renders the answer for a ticket on a channel. To render one answer
    /// many times (a bulk job), compile it once with [`Renderer`].
    pub fn render(&self, vars: &Vars, channel: Channel) -> Result<String, CannedError> {
        let env = self
            .environment()
            .map_err(|e| self.template_error(&e, self.body_line))?;
        self.render_in(&env, vars, channel)
    }

    fn render_in(
        &self,
        env: &minijinja::Environment<'static>,
        vars: &Vars,
        channel: Channel,
    ) -> Result<String, CannedError> {
        let (name, base) = match self.meta.variants.contains_key(&channel) {
            true => (channel.as_str(), 0),
            false => ("body", self.body_line),
        };
        let tmpl = env
            .get_template(name)
            .map_err(|e| self.template_error(&e, base))?;
        tmpl.render(minijinja::Value::from_serialize(vars))
            .map_err(|e| self.template_error(&e, base))
    }
}

/// A canned answer with its templates compiled once: a bulk job renders
/// it for every target without parsing it again each time.
pub struct Renderer {
    pub canned: Canned,
    env: minijinja::Environment<'static>,
}

impl Renderer {
    pub fn new(canned: Canned) -> Result<Renderer, CannedError> {
        let env = canned
            .environment()
            .map_err(|e| canned.template_error(&e, canned.body_line))?;
        Ok(Renderer { canned, env })
    }

    pub fn render(&self, vars: &Vars, channel: Channel) -> Result<String, CannedError> {
        self.canned.render_in(&self.env, vars, channel)
    }
}

/// Everything a template can use.
#[derive(Debug, Clone, Serialize)]
pub struct Vars {
    pub customer: CustomerVars,
    pub ticket: TicketVars,
    pub agent: AgentVars,
    pub today: String,
    pub now: String,
    /// The machine a scheduled message is about (`asset.model`,
    /// `asset.serial`, `asset.fields.service_due`…); none elsewhere.
    pub asset: Option<AssetVars>,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct AssetVars {
    pub model: String,
    pub serial: String,
    pub purchased: String,
    pub warranty_until: String,
    pub location: String,
    /// Declared asset fields by name.
    pub fields: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CustomerVars {
    pub name: String,
    pub first_name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub fax: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TicketVars {
    pub id: i64,
    pub subject: String,
    pub tag: String,
    pub state: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct AgentVars {
    pub name: String,
    pub signature: String,
}

impl Vars {
    pub fn new(
        t: &TicketDetail,
        agent: &str,
        signature: &str,
        subject_tag: &str,
        now: i64,
    ) -> Vars {
        let c = &t.customer;
        let ident = |k: crate::model::IdentityKind| {
            c.identities
                .iter()
                .find(|i| i.kind == k)
                .map(|i| i.value.clone())
        };
        // "李娜" has no space: the whole name is the first name.
        let first_name = c
            .name
            .split_whitespace()
            .next()
            .unwrap_or(&c.name)
            .to_string();
        // The writer's wall clock, as everywhere a person reads a time.
        let dt = crate::clock::local().local(now);
        Vars {
            customer: CustomerVars {
                name: c.name.clone(),
                first_name,
                email: ident(crate::model::IdentityKind::Email),
                phone: ident(crate::model::IdentityKind::Phone),
                fax: ident(crate::model::IdentityKind::Fax),
            },
            ticket: TicketVars {
                id: t.summary.id,
                subject: t.summary.subject.clone(),
                tag: subject_tag.replace("{id}", &t.summary.id.to_string()),
                state: t.summary.state.clone(),
            },
            agent: AgentVars {
                name: agent.to_string(),
                signature: signature.replace("{agent}", agent),
            },
            today: dt.format("%Y-%m-%d").to_string(),
            now: dt.format("%Y-%m-%d %H:%M").to_string(),
            asset: None,
        }
    }
}

impl Vars {
    /// Every variable with a placeholder value: rendering against it finds
    /// undefined variables (typos) without a real ticket.
    pub fn sample() -> Vars {
        Vars {
            customer: CustomerVars {
                name: "Alice Example".into(),
                first_name: "Alice".into(),
                email: Some("alice@example.com".into()),
                phone: Some("+14155550100".into()),
                fax: Some("+14155550199".into()),
            },
            ticket: TicketVars {
                id: 1,
                subject: "Subject".into(),
                tag: "[#1]".into(),
                state: "open".into(),
            },
            agent: AgentVars {
                name: "agent".into(),
                signature: "— agent".into(),
            },
            today: "2026-01-01".into(),
            now: "2026-01-01 00:00".into(),
            asset: Some(AssetVars {
                model: "VMC-850".into(),
                serial: "VMC-00042".into(),
                purchased: "2024-05-02".into(),
                warranty_until: "2027-05-02".into(),
                location: "Hall 2".into(),
                fields: std::collections::BTreeMap::new(),
            }),
        }
    }
}

impl Canned {
    /// Renders every text of the answer against sample variables: what
    /// `echodesk canned check` reports, before anyone uses the answer.
    pub fn check(&self) -> Result<(), CannedError> {
        self.check_with_fields(&[])
    }

    /// [`Canned::check`], with the declared asset fields given sample
    /// values so that `asset.fields.service_due` is known.
    pub fn check_with_fields(&self, asset_fields: &[String]) -> Result<(), CannedError> {
        let mut vars = Vars::sample();
        if let Some(a) = vars.asset.as_mut() {
            for f in asset_fields {
                a.fields.insert(f.clone(), "2027-01-31".into());
            }
        }
        self.render(&vars, Channel::Email)?;
        for ch in self.meta.variants.keys() {
            self.render(&vars, *ch)?;
        }
        Ok(())
    }
}

/// Every answer in a directory (`*.md`), sorted by name. Files that do not
/// load are returned as errors beside the good ones, so one broken file
/// does not hide the rest.
pub fn load_dir(dir: &Path) -> (Vec<Canned>, Vec<CannedError>) {
    let mut ok = Vec::new();
    let mut bad = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return (ok, bad);
    };
    let mut paths: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    paths.sort();
    for p in paths {
        match Canned::load(&p) {
            Ok(c) => ok.push(c),
            Err(e) => bad.push(e),
        }
    }
    (ok, bad)
}

/// The picker's and the palette's fuzzy matching: nucleo's matcher (what
/// helix uses), case- and accent-insensitive, every space-separated word a
/// subsequence that must be found, scored higher for word starts and
/// consecutive letters. It replaced a greedy first-occurrence scorer that
/// neither ignored accents nor preferred word starts.
pub struct Fuzzy {
    pattern: nucleo_matcher::pattern::Pattern,
    matcher: nucleo_matcher::Matcher,
    buf: Vec<char>,
}

impl Fuzzy {
    pub fn new(needle: &str) -> Fuzzy {
        use nucleo_matcher::pattern::{AtomKind, CaseMatching, Normalization, Pattern};
        Fuzzy {
            pattern: Pattern::new(
                needle,
                CaseMatching::Ignore,
                Normalization::Smart,
                AtomKind::Fuzzy,
            ),
            matcher: nucleo_matcher::Matcher::new(nucleo_matcher::Config::DEFAULT),
            buf: Vec::new(),
        }
    }

    /// None if some word of the needle is not in `haystack`; higher is
    /// better. An empty needle matches everything with 0.
    pub fn score(&mut self, haystack: &str) -> Option<i64> {
        let hay = nucleo_matcher::Utf32Str::new(haystack, &mut self.buf);
        self.pattern.score(hay, &mut self.matcher).map(i64::from)
    }
}

/// One haystack against one needle (see [`Fuzzy`]).
pub fn fuzzy_score(haystack: &str, needle: &str) -> Option<i64> {
    Fuzzy::new(needle).score(haystack)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> Vars {
        Vars {
            customer: CustomerVars {
                name: "李娜".into(),
                first_name: "李娜".into(),
                email: Some("li.na@example.cn".into()),
                phone: None,
                fax: None,
            },
            ticket: TicketVars {
                id: 7,
                subject: "退款".into(),
                tag: "[#7]".into(),
                state: "open".into(),
            },
            agent: AgentVars {
                name: "yuki".into(),
                signature: "— yuki, Support".into(),
            },
            today: "2026-11-23".into(),
            now: "2026-11-23 10:00".into(),
            asset: None,
        }
    }

    #[test]
    fn renders_cjk_and_variants() {
        let text = "+++\ntitle = \"Thanks\"\n[variants]\nsms = \"{{ customer.name }}, OK {{ ticket.tag }}\"\n+++\n{{ customer.name }} 您好，\n{{ agent.signature }}\n";
        let c = Canned::parse(Path::new("/c/thanks.md"), text).unwrap();
        assert_eq!(c.name, "thanks");
        assert_eq!(
            c.render(&vars(), Channel::Email).unwrap(),
            "李娜 您好，\n— yuki, Support\n"
        );
        assert_eq!(c.render(&vars(), Channel::Sms).unwrap(), "李娜, OK [#7]");
    }

    #[test]
    fn missing_variable_names_file_and_line() {
        let text = "+++\ntitle = \"X\"\n+++\nHello\n{{ customer.nickname }}\n";
        let c = Canned::parse(Path::new("/c/x.md"), text).unwrap();
        let e = c.render(&vars(), Channel::Email).unwrap_err().to_string();
        assert!(e.starts_with("/c/x.md:5:"), "{e}");
        assert!(e.contains("undefined"), "{e}");
    }

    #[test]
    fn syntax_and_front_matter_errors_at_load() {
        let e = Canned::parse(
            Path::new("/c/y.md"),
            "+++\ntitle = \"Y\"\n+++\nline\n{% if %}\n",
        )
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("/c/y.md:5:"), "{e}");
        let e = Canned::parse(Path::new("/c/z.md"), "+++\ntitel = \"Z\"\n+++\nbody\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("/c/z.md:2:") && e.contains("titel"), "{e}");
        assert!(Canned::parse(Path::new("/c/w.md"), "no front matter").is_err());
    }

    #[test]
    fn check_finds_undefined_variables_before_use() {
        let c = Canned::parse(Path::new("/c/t.md"), "+++\ntitle = \"T\"\n[variants]\nsms = \"{{ custmer.name }}\"\n+++\nHi {{ customer.first_name }}\n").unwrap();
        let e = c.check().unwrap_err().to_string();
        assert!(e.contains("/c/t.md") && e.contains("undefined"), "{e}");
        let ok = Canned::parse(
            Path::new("/c/u.md"),
            "+++\ntitle = \"U\"\n+++\n{{ agent.signature }} {{ today }}\n",
        )
        .unwrap();
        ok.check().unwrap();
    }

    /// A scheduled message may name the asset and its declared fields;
    /// a field nobody declared is a typo.
    #[test]
    fn asset_fields_are_known_when_declared() {
        let c = Canned::parse(
            Path::new("/c/r.md"),
            "+++\ntitle = \"R\"\n+++\n{{ asset.model }} due {{ asset.fields.service_due }}\n",
        )
        .unwrap();
        assert!(c.check().unwrap_err().to_string().contains("undefined"));
        c.check_with_fields(&["service_due".into()]).unwrap();
    }

    #[test]
    fn fuzzy_prefers_consecutive() {
        assert!(
            fuzzy_score("Shipping delay", "ship").unwrap()
                > fuzzy_score("Shipping delay", "sdly").unwrap()
        );
        assert!(fuzzy_score("Refund", "xyz").is_none());
        // Accents and case do not matter; every word must be found.
        assert!(fuzzy_score("Café fermé", "cafe ferme").is_some());
        assert!(fuzzy_score("Shipping delay", "ship delay").is_some());
        assert!(fuzzy_score("Shipping delay", "ship xyz").is_none());
        assert_eq!(fuzzy_score("anything", ""), Some(0));
        // Word starts beat letters scattered inside words.
        assert!(
            fuzzy_score("Shipping delay", "sd").unwrap() > fuzzy_score("passwords", "sd").unwrap()
        );
        assert!(fuzzy_score("退款申请", "退款").is_some());
    }
}
