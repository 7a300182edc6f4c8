//! Acting on tickets: the targets, the question for many, applying a
//! `Change` through `change`, undo, and the state and assign menus.

use super::*;

impl App {
    /// The tickets an action applies to: the selection, else the ticket
    /// under the cursor (or the open ticket).
    pub fn targets(&self) -> Vec<(i64, Option<i64>)> {
        if !self.selection.is_empty() {
            return self.selection.iter().map(|(id, v)| (*id, *v)).collect();
        }
        match self.screen {
            Screen::Ticket => self
                .ticket
                .as_ref()
                .map(|t| vec![(t.summary.id, Some(t.summary.version))])
                .unwrap_or_default(),
            Screen::Queue => self
                .selected_row()
                .map(|t| vec![(t.id, Some(t.version))])
                .unwrap_or_default(),
            Screen::Dashboard
            | Screen::Review
            | Screen::Timeline
            | Screen::Asset
            | Screen::Digest => Vec::new(),
        }
    }

    pub(super) fn request(&mut self, p: Pending) {
        let n = self.targets().len();
        if n == 0 {
            self.set_error("no ticket here");
            return;
        }
        if n > 1 {
            let what = match &p {
                Pending::Edit(c) => c.verb(),
                Pending::Merge(into) => format!("merge into #{into} (the oldest; not undoable)"),
            };
            self.overlay = Overlay::Confirm {
                message: format!("{what} {n} tickets? (y/n)"),
                pending: p,
            };
        } else {
            self.apply(p);
        }
    }

    pub(super) fn apply(&mut self, p: Pending) {
        let targets = self.targets();
        if let Pending::Merge(into) = p {
            let others: Vec<i64> = targets
                .iter()
                .map(|t| t.0)
                .filter(|id| *id != into)
                .collect();
            let agent = self.agent.clone();
            let result = crate::change::merge(&mut self.store, into, &others, &agent);
            match result {
                Ok(n) => {
                    self.set_info(format!(
                        "merged {} tickets into #{into} ({n} messages moved)",
                        others.len()
                    ));
                    self.selection.clear();
                    self.undo = None;
                }
                Err(e) => self.set_error(e),
            }
            if let Err(e) = self.reload_everything() {
                self.set_error(e);
            }
            return;
        }
        let Pending::Edit(change) = p else { return };
        match self.apply_to(&targets, &change, true) {
            Ok(label) => {
                self.set_info(label);
                self.selection.clear();
                self.visual_anchor = None;
            }
            Err(e) => {
                if let Error::Conflict { id, found, .. } = &e {
                    // Seen now: repeating the action applies it.
                    if let Some(v) = self.selection.get_mut(id) {
                        *v = Some(*found);
                    }
                    self.set_error(format!(
                        "{e}: look at it, then repeat to apply anyway; nothing was changed"
                    ));
                    let _ = self.reload_everything();
                } else {
                    self.set_error(e);
                }
            }
        }
        if let Err(e) = self.reload_everything() {
            self.set_error(e);
        }
    }

    /// Applies `change` to every target in one transaction: all or nothing.
    pub(super) fn apply_to(
        &mut self,
        targets: &[(i64, Option<i64>)],
        change: &Change,
        record: bool,
    ) -> Result<String, Error> {
        let agent = self.agent.clone();
        let done = crate::change::apply_all(&mut self.store, targets, change, &agent)?;
        let steps: Vec<(i64, Change)> = done
            .into_iter()
            .filter_map(|a| a.undo.map(|u| (a.ticket, u)))
            .collect();
        let n = targets.len();
        let label = change.label();
        let label = if n > 1 {
            format!("{label} on {n} tickets")
        } else {
            format!("#{}: {label}", targets[0].0)
        };
        if record {
            self.undo = Some(UndoEntry {
                label: label.clone(),
                steps,
            });
        }
        Ok(label)
    }

    pub(super) fn undo(&mut self) {
        let Some(entry) = self.undo.take() else {
            self.set_info("nothing to undo");
            return;
        };
        let result = (|| -> Result<(), Error> {
            for (id, p) in &entry.steps {
                self.apply_to(&[(*id, None)], p, false)?;
            }
            Ok(())
        })();
        match result {
            Ok(()) => self.set_info(format!("undone: {}", entry.label)),
            Err(e) => self.set_error(format!("undo failed: {e}")),
        }
        if let Err(e) = self.reload_everything() {
            self.set_error(e);
        }
    }

    pub(super) fn state_menu(&mut self) {
        let targets = self.targets();
        let wf = &self.store.settings().workflow;
        let items: Vec<String> = match targets.as_slice() {
            [(id, _)] => {
                let current = self
                    .rows
                    .iter()
                    .find(|t| t.id == *id)
                    .map(|t| t.state.clone())
                    .or_else(|| self.ticket.as_ref().map(|t| t.summary.state.clone()))
                    .unwrap_or_default();
                wf.allowed_from(&current).to_vec()
            }
            _ => wf.states.clone(),
        };
        if items.is_empty() {
            self.set_error("this ticket's state is final: no transitions");
            return;
        }
        self.overlay = Overlay::Menu {
            kind: MenuKind::State,
            items,
            selected: 0,
        };
    }

    pub(super) fn assign_menu(&mut self) {
        let mut items = vec![format!("me ({})", self.agent), "none".to_string()];
        for a in self.store.agents().unwrap_or_default() {
            if a != self.agent {
                items.push(a);
            }
        }
        items.push("other…".into());
        self.overlay = Overlay::Menu {
            kind: MenuKind::Assign,
            items,
            selected: 0,
        };
    }
}
