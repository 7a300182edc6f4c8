//! The search language shared by the TUI's `/`, saved views and `--query`.
//!
//! `state:open assignee:me -tag:spam after:7d "exact phrase" refund sort:updated-desc`
//!
//! This module only parses; `store::search` turns a [`Query`] into SQL.

use serde::Serialize;

use crate::model::{Channel, Priority};

pub use crate::error::QueryError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Who {
    Me,
    Nobody,
    Agent(String),
}

/// A point in time, absolute or relative to when the query runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum When {
    /// Unix seconds (UTC).
    At(i64),
    /// This many seconds before now.
    Ago(i64),
}

impl When {
    pub fn resolve(self, now: i64) -> i64 {
        match self {
            When::At(t) => t,
            When::Ago(s) => now - s,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Is {
    Open,
    Closed,
    Unassigned,
    Assigned,
    Auto,
    Snoozed,
    /// An SLA target was missed (or is overdue now).
    Breached,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Filter {
    Id(i64),
    State(String),
    Assignee(Who),
    /// Tickets someone follows: an agent (`me`), or an outside address.
    Follower(Who),
    Channel(Channel),
    Tag(String),
    From(String),
    Priority(Priority),
    Customer(i64),
    /// Last activity before / after.
    Before(When),
    After(When),
    CreatedBefore(When),
    CreatedAfter(When),
    Is(Is),
    /// The next SLA deadline is less (`true`) or more (`false`) than this
    /// many seconds away, and not yet passed.
    Sla {
        within: bool,
        secs: i64,
    },
    HasAttachment,
    /// The customer's organisation: number, name, external id or domain;
    /// `none` for customers without one.
    Org(String),
    /// The asset the ticket is about: number, serial or external id;
    /// `none` for tickets about none, `any` for tickets about one.
    Asset(String),
    /// A field of the ticket's customer, their organisation, the ticket's
    /// asset or the ticket itself: built in (`asset.model`) or declared
    /// (`customer.tier`). The value is checked against the field's type
    /// when the query runs, where the declarations are known.
    Field {
        entity: crate::fields::Entity,
        name: String,
        op: Op,
        value: String,
    },
    /// A bare word (a trailing `*` makes it a prefix).
    Word(String),
    Phrase(String),
}

/// How a field compares with the query's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Op {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Op {
    pub fn sql(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
        }
    }

    /// Splits a leading `<`, `<=`, `>` or `>=` off a value.
    fn split(v: &str) -> (Op, &str) {
        for (p, op) in [("<=", Op::Le), (">=", Op::Ge), ("<", Op::Lt), (">", Op::Gt)] {
            if let Some(rest) = v.strip_prefix(p) {
                return (op, rest);
            }
        }
        (Op::Eq, v)
    }
}

/// `customer.tier`, `asset.warranty_until`: a record and a field name.
fn field_key(key: &str) -> Option<(crate::fields::Entity, String)> {
    let (entity, name) = key.split_once('.')?;
    let entity = crate::fields::Entity::parse(entity)?;
    let ok = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    ok.then(|| (entity, name.to_ascii_lowercase()))
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Term {
    pub negated: bool,
    pub filter: Filter,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
pub enum Sort {
    #[default]
    UpdatedDesc,
    UpdatedAsc,
    CreatedDesc,
    CreatedAsc,
    PriorityDesc,
    PriorityAsc,
    IdDesc,
    IdAsc,
}

impl Sort {
    const NAMES: &'static [(&'static str, Sort)] = &[
        ("updated-desc", Sort::UpdatedDesc),
        ("updated-asc", Sort::UpdatedAsc),
        ("created-desc", Sort::CreatedDesc),
        ("created-asc", Sort::CreatedAsc),
        ("priority-desc", Sort::PriorityDesc),
        ("priority-asc", Sort::PriorityAsc),
        ("id-desc", Sort::IdDesc),
        ("id-asc", Sort::IdAsc),
    ];

    /// The same order backwards (for paging up from a cursor).
    pub fn reversed(self) -> Sort {
        match self {
            Sort::UpdatedDesc => Sort::UpdatedAsc,
            Sort::UpdatedAsc => Sort::UpdatedDesc,
            Sort::CreatedDesc => Sort::CreatedAsc,
            Sort::CreatedAsc => Sort::CreatedDesc,
            Sort::PriorityDesc => Sort::PriorityAsc,
            Sort::PriorityAsc => Sort::PriorityDesc,
            Sort::IdDesc => Sort::IdAsc,
            Sort::IdAsc => Sort::IdDesc,
        }
    }

    pub fn as_str(self) -> &'static str {
        Sort::NAMES
            .iter()
            .find(|(_, s)| *s == self)
            .map_or("updated-desc", |(n, _)| n)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Query {
    pub terms: Vec<Term>,
    pub sort: Sort,
}

const KEYS: &str =
    "id, state, assignee, follower, channel, tag, from, priority, customer, org, asset, before, after, \
created-before, created-after, is, sla, has, sort, and customer./org./asset./ticket. fields";

/// Terms one query may have. SQLite's expression tree is 1,000 deep at
/// most, and each term is a few levels of it.
pub const MAX_TERMS: usize = 200;

/// Parses a query string. An empty string is the query that matches all.
pub fn parse(input: &str) -> Result<Query, QueryError> {
    let chars: Vec<char> = input.chars().collect();
    let mut q = Query::default();
    let mut i = 0;
    let err = |column: usize, message: String| QueryError {
        column: column + 1,
        message,
    };
    while i < chars.len() {
        if chars[i].is_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        let negated = chars[i] == '-';
        if negated {
            i += 1;
            if i >= chars.len() || chars[i].is_whitespace() {
                return Err(err(
                    start,
                    "`-` must be followed by a term to negate".into(),
                ));
            }
        }
        if chars[i] == '"' {
            let (phrase, next) = quoted(&chars, i).map_err(|c| {
                err(
                    c,
                    "unterminated quote: a phrase needs a closing `\"`".into(),
                )
            })?;
            i = next;
            if phrase.trim().is_empty() {
                return Err(err(start, "empty phrase".into()));
            }
            q.terms.push(Term {
                negated,
                filter: Filter::Phrase(phrase),
            });
            continue;
        }
        // A word, possibly key:value with a quoted value.
        let word_start = i;
        while i < chars.len() && !chars[i].is_whitespace() && chars[i] != ':' && chars[i] != '"' {
            i += 1;
        }
        if i < chars.len() && chars[i] == ':' {
            let key: String = chars[word_start..i]
                .iter()
                .collect::<String>()
                .to_lowercase();
            i += 1;
            let value_start = i;
            let value = if i < chars.len() && chars[i] == '"' {
                let (v, next) =
                    quoted(&chars, i).map_err(|c| err(c, "unterminated quote in value".into()))?;
                i = next;
                v
            } else {
                while i < chars.len() && !chars[i].is_whitespace() {
                    i += 1;
                }
                chars[value_start..i].iter().collect()
            };
            if value.is_empty() {
                return Err(err(value_start, format!("`{key}:` needs a value")));
            }
            if key == "sort" {
                if negated {
                    return Err(err(start, "`sort:` cannot be negated".into()));
                }
                q.sort = Sort::NAMES
                    .iter()
                    .find(|(n, _)| *n == value)
                    .map(|(_, s)| *s)
                    .ok_or_else(|| {
                        let names: Vec<_> = Sort::NAMES.iter().map(|(n, _)| *n).collect();
                        err(
                            value_start,
                            format!(
                                "unknown sort `{value}`; expected one of {}",
                                names.join(", ")
                            ),
                        )
                    })?;
                continue;
            }
            let filter = keyed(&key, &value).map_err(|m| {
                let col = if m.starts_with("unknown key") {
                    word_start
                } else {
                    value_start
                };
                err(col, m)
            })?;
            q.terms.push(Term { negated, filter });
        } else {
            if i < chars.len() && chars[i] == '"' {
                return Err(err(i, "a quote must start a phrase or a value".into()));
            }
            let word: String = chars[word_start..i].iter().collect();
            // `asset.warranty_until<30d`: a field compared without a colon.
            if let Some(at) = word.find(['<', '>']) {
                if let Some((entity, name)) = field_key(&word[..at]) {
                    let (op, value) = Op::split(&word[at..]);
                    if value.is_empty() {
                        return Err(err(
                            word_start,
                            format!("`{word}` needs a value to compare with"),
                        ));
                    }
                    q.terms.push(Term {
                        negated,
                        filter: Filter::Field {
                            entity,
                            name,
                            op,
                            value: value.to_string(),
                        },
                    });
                    continue;
                }
            }
            if word.trim_end_matches('*').is_empty() {
                return Err(err(word_start, "a word is needed before `*`".into()));
            }
            q.terms.push(Term {
                negated,
                filter: Filter::Word(word),
            });
        }
    }
    if q.terms.len() > MAX_TERMS {
        return Err(QueryError {
            column: 1,
            message: format!("{} terms; a query has at most {MAX_TERMS}", q.terms.len()),
        });
    }
    Ok(q)
}

/// Reads a quoted string starting at `open` (a `"`); `\"` and `\\` escape.
/// Returns the content and the index after the closing quote, or the
/// position of the unmatched quote.
fn quoted(chars: &[char], open: usize) -> Result<(String, usize), usize> {
    let mut out = String::new();
    let mut i = open + 1;
    while i < chars.len() {
        match chars[i] {
            '\\' if i + 1 < chars.len() && matches!(chars[i + 1], '"' | '\\') => {
                out.push(chars[i + 1]);
                i += 2;
            }
            '"' => return Ok((out, i + 1)),
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Err(open)
}

fn keyed(key: &str, value: &str) -> Result<Filter, String> {
    let lower = value.to_lowercase();
    if let Some((entity, name)) = field_key(key) {
        let (op, v) = Op::split(value);
        if v.is_empty() {
            return Err(format!("`{key}:{value}` needs a value to compare with"));
        }
        return Ok(Filter::Field {
            entity,
            name,
            op,
            value: v.to_string(),
        });
    }
    Ok(match key {
        "org" | "organisation" | "organization" => Filter::Org(value.to_string()),
        "asset" => Filter::Asset(value.to_string()),
        "id" => Filter::Id(
            value
                .trim_start_matches('#')
                .parse()
                .map_err(|_| format!("`{value}` is not a ticket number"))?,
        ),
        "state" => Filter::State(lower),
        "assignee" => Filter::Assignee(match lower.as_str() {
            "me" => Who::Me,
            "none" | "nobody" => Who::Nobody,
            _ => Who::Agent(value.to_string()),
        }),
        "follower" | "followed" => Filter::Follower(match lower.as_str() {
            "me" => Who::Me,
            "none" | "nobody" => Who::Nobody,
            _ => Who::Agent(value.to_string()),
        }),
        "channel" => Filter::Channel(Channel::parse(&lower).ok_or_else(|| {
            format!(
                "unknown channel `{value}`; expected one of {}",
                Channel::names()
            )
        })?),
        "tag" => Filter::Tag(lower),
        "from" => Filter::From(lower),
        "priority" => Filter::Priority(Priority::parse(&lower).ok_or_else(|| {
            format!(
                "unknown priority `{value}`; expected one of {}",
                Priority::names()
            )
        })?),
        "customer" => Filter::Customer(
            value
                .parse()
                .map_err(|_| format!("`{value}` is not a customer number"))?,
        ),
        "before" => Filter::Before(when(&lower)?),
        "after" => Filter::After(when(&lower)?),
        "created-before" => Filter::CreatedBefore(when(&lower)?),
        "created-after" => Filter::CreatedAfter(when(&lower)?),
        "is" => Filter::Is(match lower.as_str() {
            "open" => Is::Open,
            "closed" => Is::Closed,
            "unassigned" => Is::Unassigned,
            "assigned" => Is::Assigned,
            "auto" => Is::Auto,
            "snoozed" => Is::Snoozed,
            "breached" => Is::Breached,
            _ => {
                return Err(format!(
                    "unknown `is:{value}`; expected open, closed, unassigned, assigned, auto, snoozed or breached"
                ))
            }
        }),
        "sla" => {
            let (within, rest) = match (lower.strip_prefix('<'), lower.strip_prefix('>')) {
                (Some(r), _) => (true, r),
                (_, Some(r)) => (false, r),
                _ => return Err(format!("`sla:{value}`: expected sla:<2h or sla:>1d")),
            };
            Filter::Sla {
                within,
                secs: parse_duration(rest)?,
            }
        }
        "has" => match lower.as_str() {
            "attachment" | "attachments" => Filter::HasAttachment,
            _ => return Err(format!("unknown `has:{value}`; expected attachment")),
        },
        _ => return Err(format!("unknown key `{key}:`; known keys: {KEYS}")),
    })
}

/// A duration such as `30s`, `30m`, `12h`, `7d` or `2w`, in seconds.
pub fn parse_duration(v: &str) -> Result<i64, String> {
    let unit = v
        .chars()
        .last()
        .filter(|c| c.is_ascii_alphabetic())
        .ok_or_else(|| {
            format!("`{v}` is not a duration; use a number and m, h, d or w, like 2h")
        })?;
    let n: i64 = v[..v.len() - 1]
        .parse()
        .map_err(|_| format!("`{v}` is not a duration; use a number and m, h, d or w, like 2h"))?;
    let secs = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        'w' => 7 * 86_400,
        _ => {
            return Err(format!(
                "unknown unit `{unit}` in `{v}`; use s, m, h, d or w"
            ))
        }
    };
    n.checked_mul(secs)
        .ok_or_else(|| format!("`{v}` is too long"))
}

/// `2026-11-01`, `2026-11-01T14:30`, `today`, `yesterday`, or a relative
/// age: `30m`, `12h`, `7d`, `2w`. Dates and times are on the wall clock
/// of the person typing (`clock::local`).
fn when(v: &str) -> Result<When, String> {
    when_in(v, crate::clock::local())
}

fn when_in(v: &str, zone: crate::clock::Zone) -> Result<When, String> {
    let today = zone.day(crate::model::now());
    match v {
        "today" => return Ok(When::At(zone.day_start(today))),
        "yesterday" => return Ok(When::At(zone.day_start(today - 1))),
        _ => {}
    }
    if v.chars().last().is_some_and(|c| c.is_ascii_alphabetic())
        && v[..v.len() - 1].parse::<i64>().is_ok()
    {
        return parse_duration(v).map(When::Ago);
    }
    for fmt in ["%Y-%m-%dT%H:%M", "%Y-%m-%dt%H:%M", "%Y-%m-%d %H:%M"] {
        if let Ok(dt) = chrono::NaiveDateTime::parse_from_str(v, fmt) {
            return Ok(When::At(zone.at(dt.date(), dt.time())));
        }
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d") {
        return Ok(When::At(zone.at(d, chrono::NaiveTime::MIN)));
    }
    Err(format!(
        "`{v}` is not a date; use 2026-11-01, 2026-11-01T14:30, today, yesterday or an age like 7d"
    ))
}

/// A time in the future for snoozing: `30m`, `4h`, `2d`, `1w` from now,
/// `tomorrow` (09:00), `2026-11-30` (09:00) or `2026-11-30T14:00`, on the
/// wall clock of the person typing.
pub fn parse_until(v: &str, now: i64) -> Result<i64, String> {
    parse_until_in(v, now, crate::clock::local())
}

fn parse_until_in(v: &str, now: i64, zone: crate::clock::Zone) -> Result<i64, String> {
    let v = v.trim().to_lowercase();
    let nine = chrono::NaiveTime::from_hms_opt(9, 0, 0).unwrap_or_default();
    if v == "tomorrow" {
        let tomorrow = crate::clock::date_of(zone.day(now) + 1);
        return Ok(zone.at(tomorrow, nine));
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(&v, "%Y-%m-%d") {
        return Ok(zone.at(d, nine));
    }
    match when_in(&v, zone)? {
        When::Ago(secs) => Ok(now + secs),
        When::At(t) => Ok(t),
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn customer_file_terms() {
        use crate::fields::Entity;
        let q = parse("org:\"Acme Tools\" customer.tier:gold asset.warranty_until<30d -ticket.order_no:>=100 asset:none").unwrap();
        let f: Vec<_> = q
            .terms
            .iter()
            .map(|t| (t.negated, t.filter.clone()))
            .collect();
        assert_eq!(f[0], (false, Filter::Org("Acme Tools".into())));
        assert_eq!(
            f[1],
            (
                false,
                Filter::Field {
                    entity: Entity::Customer,
                    name: "tier".into(),
                    op: Op::Eq,
                    value: "gold".into()
                }
            )
        );
        assert_eq!(
            f[2],
            (
                false,
                Filter::Field {
                    entity: Entity::Asset,
                    name: "warranty_until".into(),
                    op: Op::Lt,
                    value: "30d".into()
                }
            )
        );
        assert_eq!(
            f[3],
            (
                true,
                Filter::Field {
                    entity: Entity::Ticket,
                    name: "order_no".into(),
                    op: Op::Ge,
                    value: "100".into()
                }
            )
        );
        assert_eq!(f[4], (false, Filter::Asset("none".into())));
        assert!(parse("asset.model<").is_err());
        // A dotted word that names no record stays a search word.
        assert_eq!(
            parse("v1.2<3").unwrap().terms[0].filter,
            Filter::Word("v1.2<3".into())
        );
    }

    use super::*;
    use proptest::prelude::*;

    /// "tomorrow" and dates are nine o'clock on the typist's wall clock,
    /// across the spring change in Berlin too.
    #[test]
    fn snooze_times_are_on_the_wall_clock() {
        use chrono::TimeZone;
        let utc = |y, mo, d, h, mi| {
            chrono::Utc
                .with_ymd_and_hms(y, mo, d, h, mi, 0)
                .unwrap()
                .timestamp()
        };
        let tokyo = crate::clock::Zone::parse("Asia/Tokyo").unwrap();
        // 23:00 UTC on the 1st is already the 2nd in Tokyo.
        let now = utc(2026, 12, 1, 23, 0);
        assert_eq!(
            parse_until_in("tomorrow", now, tokyo),
            Ok(utc(2026, 12, 3, 0, 0))
        );
        assert_eq!(
            parse_until_in("2026-12-05", now, tokyo),
            Ok(utc(2026, 12, 5, 0, 0))
        );
        assert_eq!(
            parse_until_in("2026-12-05T14:30", now, tokyo),
            Ok(utc(2026, 12, 5, 5, 30))
        );
        let berlin = crate::clock::Zone::parse("Europe/Berlin").unwrap();
        // Saturday 28 March: tomorrow 09:00 is already summer time.
        let sat = utc(2026, 3, 28, 12, 0);
        assert_eq!(
            parse_until_in("tomorrow", sat, berlin),
            Ok(utc(2026, 3, 29, 7, 0))
        );
        assert_eq!(parse_until_in("4h", sat, berlin), Ok(sat + 4 * 3600));
        match when_in("2026-11-01", berlin) {
            Ok(When::At(t)) => assert_eq!(t, utc(2026, 10, 31, 23, 0)),
            other => panic!("{other:?}"),
        }
    }

    fn f(input: &str) -> Vec<Filter> {
        parse(input)
            .unwrap()
            .terms
            .into_iter()
            .map(|t| t.filter)
            .collect()
    }

    #[test]
    fn the_design_example_parses() {
        let q = parse(
            "state:open assignee:me channel:sms tag:billing from:alice@example.com \
             priority:high before:2026-11-01 after:7d is:unassigned \"exact phrase\" refund",
        )
        .unwrap();
        assert_eq!(q.terms.len(), 11);
        assert_eq!(q.terms[0].filter, Filter::State("open".into()));
        assert_eq!(q.terms[1].filter, Filter::Assignee(Who::Me));
        assert_eq!(q.terms[2].filter, Filter::Channel(Channel::Sms));
        assert_eq!(q.terms[6].filter, Filter::Before(When::At(1_793_491_200)));
        assert_eq!(q.terms[7].filter, Filter::After(When::Ago(7 * 86_400)));
        assert_eq!(q.terms[9].filter, Filter::Phrase("exact phrase".into()));
        assert_eq!(q.terms[10].filter, Filter::Word("refund".into()));
    }

    #[test]
    fn negation_and_sort() {
        let q = parse("-tag:spam sort:created-asc -refund").unwrap();
        assert!(q.terms[0].negated);
        assert_eq!(q.terms[0].filter, Filter::Tag("spam".into()));
        assert_eq!(q.sort, Sort::CreatedAsc);
        assert!(q.terms[1].negated);
    }

    #[test]
    fn quoted_values_and_cjk() {
        assert_eq!(
            f("assignee:\"Ann Lee\" 退款"),
            vec![
                Filter::Assignee(Who::Agent("Ann Lee".into())),
                Filter::Word("退款".into())
            ]
        );
    }

    #[test]
    fn errors_point_at_the_problem() {
        let e = parse("state:open bogus:1").unwrap_err();
        assert_eq!(e.column, 12);
        assert!(e.message.contains("bogus"));
        let e = parse("refund \"unclosed").unwrap_err();
        assert_eq!(e.column, 8);
        let e = parse("after:7y").unwrap_err();
        assert_eq!(e.column, 7);
        let e = parse("channel:pigeon").unwrap_err();
        assert!(e.message.contains("email, fax, sms"));
        let e = parse("a - b").unwrap_err();
        assert_eq!(e.column, 3);
        let e = parse("state:").unwrap_err();
        assert!(e.to_string().contains("column 7"));
    }

    #[test]
    fn empty_matches_all() {
        assert_eq!(parse("   ").unwrap(), Query::default());
    }

    proptest! {
        // Whatever is typed, the parser answers without panicking, and an
        // error's column lies inside the input (or just past its end).
        #[test]
        fn never_panics(s in "\\PC{0,60}") {
            match parse(&s) {
                Ok(_) => {}
                Err(e) => prop_assert!(e.column >= 1 && e.column <= s.chars().count() + 1),
            }
        }

        // Plain words always parse to exactly those words.
        #[test]
        fn words_round_trip(words in prop::collection::vec("[a-z0-9\u{4e00}-\u{4e20}]{1,8}", 0..6)) {
            let q = parse(&words.join(" ")).unwrap();
            let got: Vec<_> = q.terms.into_iter().map(|t| t.filter).collect();
            let want: Vec<_> = words.into_iter().map(Filter::Word).collect();
            prop_assert_eq!(got, want);
        }

        // A quoted phrase with escapes comes back as written.
        #[test]
        fn phrases_round_trip(p in "[a-z \"\\\\]{1,20}") {
            prop_assume!(!p.trim().is_empty());
            let escaped = p.replace('\\', "\\\\").replace('"', "\\\"");
            let q = parse(&format!("\"{escaped}\"")).unwrap();
            prop_assert_eq!(&q.terms[0].filter, &Filter::Phrase(p));
        }

        // Every known key with a valid value parses, negated or not.
        #[test]
        fn keyed_terms_parse(neg in any::<bool>(), idx in 0usize..8, n in 1i64..1000) {
            let terms = [
                format!("id:{n}"), "state:open".into(), "tag:vip".into(),
                format!("after:{n}d"), "priority:urgent".into(), "is:open".into(),
                format!("customer:{n}"), "from:a@b.c".into(),
            ];
            let t = format!("{}{}", if neg { "-" } else { "" }, terms[idx]);
            let q = parse(&t).unwrap();
            prop_assert_eq!(q.terms.len(), 1);
            prop_assert_eq!(q.terms[0].negated, neg);
        }
    }
}
