//! The edits an agent or a rule makes to a ticket, in one vocabulary: how
//! each is written (one parsing rule for the CLI, the TUI, bulk jobs and
//! rules), how it is applied (through the store, with the ticket's version
//! when the caller saw one, so every caller gets conflict detection), what
//! it is called in messages, and the edit that undoes it.
//!
//! Merging folds several tickets into one and is not undoable, so it is a
//! function here rather than a [`Change`].

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::Priority;
use crate::store::{Store, Tx};

/// One edit of one ticket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Change {
    State(String),
    /// An agent, or nobody.
    Assign(Option<String>),
    Priority(Priority),
    Tags {
        add: Vec<String>,
        remove: Vec<String>,
    },
    /// Hidden from the open views until then; `None` wakes it.
    Snooze(Option<i64>),
}

/// What applying a change did to one ticket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Applied {
    pub ticket: i64,
    /// The field as a person names it: "state", "assignee", "tags", …
    pub field: &'static str,
    pub old: Option<String>,
    pub new: Option<String>,
    pub changed: bool,
    /// The change that puts it back, when it changed anything.
    #[serde(skip)]
    pub undo: Option<Change>,
}

impl Change {
    /// `+t` or `t` adds, `-t` removes (see [`tag_lists`]); at least one.
    pub fn tags<S: AsRef<str>>(ops: &[S]) -> Result<Change> {
        let (add, remove) = tag_lists(ops)?;
        if add.is_empty() && remove.is_empty() {
            return Err(Error::invalid("tags", "", "no tags given"));
        }
        Ok(Change::Tags { add, remove })
    }

    /// An assignee as people write it: `me`, `none` (or `nobody`, `-`), or
    /// an agent's name.
    pub fn assignee(word: &str, me: &str) -> Change {
        Change::Assign(assignee_name(word, me))
    }

    /// A snooze as people write it: `4h`, `tomorrow`, `2026-12-01`, … or
    /// `none` / `wake`.
    pub fn snooze(word: &str, now: i64) -> Result<Change> {
        match word.trim() {
            "" | "none" | "wake" => Ok(Change::Snooze(None)),
            s => crate::query::parse_until(s, now)
                .map(|t| Change::Snooze(Some(t)))
                .map_err(|e| Error::invalid("time", s, e)),
        }
    }

    /// How a status line names the change: "state → solved".
    pub fn label(&self) -> String {
        match self {
            Change::State(s) => format!("state → {s}"),
            Change::Assign(Some(a)) => format!("assigned to {a}"),
            Change::Assign(None) => "unassigned".into(),
            Change::Priority(p) => format!("priority → {p}"),
            Change::Tags { add, remove } => {
                let mut parts: Vec<String> = add.iter().map(|t| format!("+{t}")).collect();
                parts.extend(remove.iter().map(|t| format!("-{t}")));
                format!("tags {}", parts.join(" "))
            }
            Change::Snooze(Some(t)) => {
                format!("snoozed until {}", crate::present::datetime(*t))
            }
            Change::Snooze(None) => "woken".into(),
        }
    }

    /// How a question names it: "set state `solved` on", "assign to bob".
    pub fn verb(&self) -> String {
        match self {
            Change::State(s) => format!("set state `{s}` on"),
            Change::Assign(Some(a)) => format!("assign to {a}"),
            Change::Assign(None) => "unassign".into(),
            Change::Priority(p) => format!("set priority {p} on"),
            Change::Tags { .. } => "change tags on".into(),
            Change::Snooze(Some(_)) => "snooze".into(),
            Change::Snooze(None) => "wake".into(),
        }
    }

    /// Applies the change to ticket `id` inside `tx`. With `version`, a
    /// ticket changed since the caller saw it is a conflict and nothing is
    /// written. The store checks the workflow and the labels.
    pub fn apply(
        &self,
        tx: &Tx<'_>,
        id: i64,
        version: Option<i64>,
        agent: &str,
    ) -> Result<Applied> {
        let applied = |field, c: crate::store::FieldChange, undo: Option<Change>| Applied {
            ticket: c.ticket,
            field,
            undo: if c.changed { undo } else { None },
            old: c.old,
            new: c.new,
            changed: c.changed,
        };
        Ok(match self {
            Change::State(s) => {
                let c = tx.set_state(id, s, agent, version)?;
                let undo = c.old.clone().map(Change::State);
                applied("state", c, undo)
            }
            Change::Assign(a) => {
                let c = tx.assign(id, a.as_deref(), agent, version)?;
                let undo = Some(Change::Assign(c.old.clone()));
                applied("assignee", c, undo)
            }
            Change::Priority(p) => {
                let c = tx.set_priority(id, *p, agent, version)?;
                let undo = c
                    .old
                    .as_deref()
                    .and_then(Priority::parse)
                    .map(Change::Priority);
                applied("priority", c, undo)
            }
            Change::Snooze(until) => {
                let c = tx.snooze(id, *until, agent, version)?;
                let undo = Some(Change::Snooze(
                    c.old.as_deref().and_then(|t| t.parse().ok()),
                ));
                applied("snoozed until", c, undo)
            }
            Change::Tags { add, remove } => {
                let before = tx.tag(id, &[], &[], agent, version)?;
                let after = tx.tag(id, add, remove, agent, None)?;
                let undo = Change::Tags {
                    add: remove
                        .iter()
                        .filter(|t| before.contains(t))
                        .cloned()
                        .collect(),
                    remove: add
                        .iter()
                        .filter(|t| !before.contains(t))
                        .cloned()
                        .collect(),
                };
                let list = |t: &[String]| (!t.is_empty()).then(|| t.join(", "));
                Applied {
                    ticket: id,
                    field: "tags",
                    changed: before != after,
                    undo: (before != after).then_some(undo),
                    old: list(&before),
                    new: list(&after),
                }
            }
        })
    }
}

/// The one tag rule: `+t` or `t` adds, `-t` removes; a tag is one
/// lower-case word without commas. Anything else is an error naming the
/// word, never dropped in silence. No words gives two empty lists.
pub fn tag_lists<S: AsRef<str>>(ops: &[S]) -> Result<(Vec<String>, Vec<String>)> {
    let (mut add, mut remove) = (Vec::new(), Vec::new());
    for op in ops {
        let op = op.as_ref();
        let (list, name) = match op.strip_prefix('-') {
            Some(n) => (&mut remove, n),
            None => (&mut add, op.strip_prefix('+').unwrap_or(op)),
        };
        let name = name.trim().to_lowercase();
        if name.is_empty() || name.contains(char::is_whitespace) || name.contains(',') {
            return Err(Error::invalid(
                "tag",
                crate::sanitize::line(op),
                "a tag is one word without commas",
            ));
        }
        list.push(name);
    }
    Ok((add, remove))
}

/// `me`, `none` (or `nobody`, `-`), or an agent's name.
pub fn assignee_name(word: &str, me: &str) -> Option<String> {
    match word.trim().to_lowercase().as_str() {
        "none" | "nobody" | "-" => None,
        "me" => Some(me.to_string()),
        _ => Some(word.trim().to_string()),
    }
}

/// Applies `change` to every target in one transaction: all or nothing.
/// Each target carries the version the caller saw, if any.
pub fn apply_all(
    store: &mut Store,
    targets: &[(i64, Option<i64>)],
    change: &Change,
    agent: &str,
) -> Result<Vec<Applied>> {
    let tx = store.transaction()?;
    let done = targets
        .iter()
        .map(|(id, version)| change.apply(&tx, *id, *version, agent))
        .collect::<Result<Vec<_>>>()?;
    tx.commit()?;
    Ok(done)
}

/// Folds `others` into `into` (their messages move, they close, linked to
/// it); returns how many messages moved. Not undoable.
pub fn merge(store: &mut Store, into: i64, others: &[i64], agent: &str) -> Result<usize> {
    let tx = store.transaction()?;
    let moved = tx.merge_tickets(into, others, agent)?;
    tx.commit()?;
    Ok(moved)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Settings;

    #[test]
    fn tags_have_one_parsing_rule() {
        assert_eq!(
            Change::tags(&["+VIP", "billing", "-spam"]).unwrap(),
            Change::Tags {
                add: vec!["vip".into(), "billing".into()],
                remove: vec!["spam".into()],
            }
        );
        for bad in ["a,b", "+", "-", "two words"] {
            let e = Change::tags(&[bad]).unwrap_err().to_string();
            assert!(e.contains("one word without commas"), "{bad}: {e}");
        }
        assert!(Change::tags::<&str>(&[]).is_err());
    }

    #[test]
    fn assignees_and_snoozes_read_as_people_write_them() {
        assert_eq!(
            Change::assignee("me", "ann"),
            Change::Assign(Some("ann".into()))
        );
        assert_eq!(Change::assignee("Nobody", "ann"), Change::Assign(None));
        assert_eq!(
            Change::assignee("bob", "ann"),
            Change::Assign(Some("bob".into()))
        );
        assert_eq!(Change::snooze("wake", 0).unwrap(), Change::Snooze(None));
        assert_eq!(
            Change::snooze("4h", 1000).unwrap(),
            Change::Snooze(Some(1000 + 4 * 3600))
        );
        assert!(Change::snooze("someday", 0).is_err());
    }

    fn store_with_ticket() -> (Store, i64, i64) {
        let mut store = Store::open_in_memory(Settings::default()).unwrap();
        let tx = store.transaction().unwrap();
        let customer = tx.create_customer("Ann", &[]).unwrap();
        let id = tx
            .create_ticket(
                &crate::store::NewTicket {
                    subject: "help",
                    channel: crate::model::Channel::Email,
                    customer_id: customer,
                    at: 1,
                    linked_ticket_id: None,
                },
                "ann",
            )
            .unwrap();
        tx.commit().unwrap();
        let version = store.ticket_summary(id).unwrap().version;
        (store, id, version)
    }

    #[test]
    fn every_change_undoes_and_every_caller_gets_conflicts() {
        let (mut store, id, _) = store_with_ticket();
        // `new` cannot be gone back to: start from `open`.
        apply_all(
            &mut store,
            &[(id, None)],
            &Change::State("open".into()),
            "ann",
        )
        .unwrap();
        let v = store.ticket_summary(id).unwrap().version;
        let changes = [
            Change::State("pending".into()),
            Change::Assign(Some("bob".into())),
            Change::Priority(Priority::Urgent),
            Change::tags(&["+vip", "-none"]).unwrap(),
            Change::Snooze(Some(5_000_000_000)),
        ];
        let mut version = v;
        for c in &changes {
            let done = apply_all(&mut store, &[(id, Some(version))], c, "ann").unwrap();
            assert!(done[0].changed, "{c:?}");
            let undo = done[0].undo.clone().expect("an undo");
            // A second agent working from the old version is refused.
            let e = apply_all(&mut store, &[(id, Some(version))], c, "eve").unwrap_err();
            assert!(matches!(e, Error::Conflict { .. }), "{c:?}: {e}");
            version = store.ticket_summary(id).unwrap().version;
            let back = apply_all(&mut store, &[(id, Some(version))], &undo, "ann").unwrap();
            assert!(back[0].changed, "{c:?} undone by {undo:?}");
            version = store.ticket_summary(id).unwrap().version;
        }
        let t = store.ticket_summary(id).unwrap();
        assert_eq!(t.state, "open");
        assert_eq!(t.assignee, None);
        assert_eq!(t.priority, Priority::Normal);
        assert!(t.tags.is_empty());
    }
}
