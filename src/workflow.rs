//! Ticket states, the transitions allowed between them, and the automatic
//! transitions that messages cause.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use thiserror::Error;

#[derive(Debug, Error, PartialEq)]
pub enum WorkflowError {
    #[error("unknown state `{state}`; the states are: {known}")]
    UnknownState { state: String, known: String },
    #[error("ticket #{id} cannot go from `{from}` to `{to}`; allowed from `{from}`: {allowed}")]
    Illegal {
        id: i64,
        from: String,
        to: String,
        allowed: String,
    },
    #[error("workflow: {0}")]
    Invalid(String),
}

/// The workflow as the config file spells it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Workflow {
    /// Every state, in display order.
    pub states: Vec<String>,
    /// The states that count as open (shown in the queue, measured by SLAs).
    pub open_states: Vec<String>,
    /// The state a new ticket starts in.
    pub initial: String,
    /// Where a customer message moves a ticket that is in `reopen_from`.
    pub reopen_to: String,
    pub reopen_from: Vec<String>,
    /// Where an agent reply moves the ticket unless the agent says otherwise.
    pub reply_to: String,
    /// States a ticket never leaves; a new message starts a new linked ticket.
    pub final_states: Vec<String>,
    /// The state for "mark as spam".
    pub spam_state: String,
    /// The state for "solve" (`S` in the TUI): it stamps the resolution
    /// time, as a final state does.
    pub solved_state: String,
    /// Allowed transitions: from-state → list of to-states.
    pub transitions: BTreeMap<String, Vec<String>>,
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

impl Default for Workflow {
    fn default() -> Self {
        let mut transitions = BTreeMap::new();
        transitions.insert(
            "new".into(),
            s(&["open", "pending", "on-hold", "solved", "closed", "spam"]),
        );
        transitions.insert(
            "open".into(),
            s(&["pending", "on-hold", "solved", "closed", "spam"]),
        );
        transitions.insert(
            "pending".into(),
            s(&["open", "on-hold", "solved", "closed", "spam"]),
        );
        transitions.insert(
            "on-hold".into(),
            s(&["open", "pending", "solved", "closed", "spam"]),
        );
        transitions.insert("solved".into(), s(&["open", "closed"]));
        transitions.insert("spam".into(), s(&["open", "closed"]));
        transitions.insert("closed".into(), vec![]);
        Workflow {
            states: s(&[
                "new", "open", "pending", "on-hold", "solved", "closed", "spam",
            ]),
            open_states: s(&["new", "open", "pending", "on-hold"]),
            initial: "new".into(),
            reopen_to: "open".into(),
            reopen_from: s(&["pending", "solved"]),
            reply_to: "pending".into(),
            final_states: s(&["closed"]),
            spam_state: "spam".into(),
            solved_state: "solved".into(),
            transitions,
        }
    }
}

impl Workflow {
    /// Checks that every name used refers to a declared state.
    pub fn validate(&self) -> Result<(), WorkflowError> {
        let known = |name: &str, role: &str| -> Result<(), WorkflowError> {
            if self.states.iter().any(|s| s == name) {
                Ok(())
            } else {
                Err(WorkflowError::Invalid(format!(
                    "{role} names `{name}`, which is not in `states` ({})",
                    self.states.join(", ")
                )))
            }
        };
        if self.states.is_empty() {
            return Err(WorkflowError::Invalid("`states` is empty".into()));
        }
        known(&self.initial, "`initial`")?;
        known(&self.reopen_to, "`reopen_to`")?;
        known(&self.reply_to, "`reply_to`")?;
        known(&self.spam_state, "`spam_state`")?;
        known(&self.solved_state, "`solved_state`")?;
        for st in self
            .open_states
            .iter()
            .chain(&self.reopen_from)
            .chain(&self.final_states)
        {
            known(st, "a state list")?;
        }
        for (from, tos) in &self.transitions {
            known(from, "`transitions`")?;
            for to in tos {
                known(to, &format!("`transitions.{from}`"))?;
            }
            if self.final_states.contains(from) && !tos.is_empty() {
                return Err(WorkflowError::Invalid(format!(
                    "`{from}` is final but `transitions.{from}` allows leaving it"
                )));
            }
        }
        Ok(())
    }

    pub fn check_state(&self, state: &str) -> Result<(), WorkflowError> {
        if self.states.iter().any(|s| s == state) {
            Ok(())
        } else {
            Err(WorkflowError::UnknownState {
                state: state.into(),
                known: self.states.join(", "),
            })
        }
    }

    pub fn allowed_from(&self, from: &str) -> &[String] {
        self.transitions.get(from).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Ok when `from → to` is allowed (or a no-op), otherwise an error that
    /// lists the allowed targets.
    pub fn check_transition(&self, id: i64, from: &str, to: &str) -> Result<(), WorkflowError> {
        self.check_state(to)?;
        if from == to || self.allowed_from(from).iter().any(|t| t == to) {
            return Ok(());
        }
        let allowed = self.allowed_from(from);
        Err(WorkflowError::Illegal {
            id,
            from: from.into(),
            to: to.into(),
            allowed: if allowed.is_empty() {
                "nothing (final state)".into()
            } else {
                allowed.join(", ")
            },
        })
    }

    pub fn is_open(&self, state: &str) -> bool {
        self.open_states.iter().any(|s| s == state)
    }

    pub fn is_final(&self, state: &str) -> bool {
        self.final_states.iter().any(|s| s == state)
    }

    /// The state a customer message moves a ticket to, if any.
    pub fn on_customer_message(&self, current: &str) -> Option<&str> {
        if self.reopen_from.iter().any(|s| s == current) {
            Some(&self.reopen_to)
        } else {
            None
        }
    }

    /// The state an agent reply moves a ticket to, if the transition exists.
    pub fn on_agent_reply(&self, current: &str) -> Option<&str> {
        let to = self.reply_to.as_str();
        (current != to && self.allowed_from(current).iter().any(|t| t == to)).then_some(to)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_valid() {
        Workflow::default().validate().unwrap();
    }

    #[test]
    fn illegal_transition_names_allowed_ones() {
        let wf = Workflow::default();
        let err = wf.check_transition(7, "solved", "pending").unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("#7"), "{msg}");
        assert!(msg.contains("open, closed"), "{msg}");
        let err = wf.check_transition(7, "closed", "open").unwrap_err();
        assert!(err.to_string().contains("final state"));
    }

    #[test]
    fn automatic_transitions() {
        let wf = Workflow::default();
        assert_eq!(wf.on_customer_message("pending"), Some("open"));
        assert_eq!(wf.on_customer_message("solved"), Some("open"));
        assert_eq!(wf.on_customer_message("new"), None);
        assert_eq!(wf.on_agent_reply("open"), Some("pending"));
        assert_eq!(wf.on_agent_reply("closed"), None);
    }

    #[test]
    fn validation_catches_unknown_names() {
        let mut wf = Workflow::default();
        wf.transitions.insert("open".into(), vec!["nowhere".into()]);
        assert!(wf.validate().unwrap_err().to_string().contains("nowhere"));
    }
}
