//! The review screen's state: the review tasks still to score, the one
//! shown (its ticket open beside the rubric), the scores typed so far and
//! the comment.

use super::*;
use crate::store::Review;

#[derive(Debug, Clone, Default)]
pub struct Reviewing {
    /// Tasks not scored yet, oldest period first.
    pub tasks: Vec<Review>,
    pub index: usize,
    /// The criterion the digits score.
    pub criterion: usize,
    /// One per rubric criterion.
    pub scores: Vec<Option<u8>>,
    pub comment: String,
}

impl Reviewing {
    pub fn current(&self) -> Option<&Review> {
        self.tasks.get(self.index)
    }

    /// The scores typed so far, as (criterion, score) of the rubric.
    pub fn scored(&self, rubric: &[crate::config::Criterion]) -> Vec<(String, u8)> {
        rubric
            .iter()
            .zip(&self.scores)
            .filter_map(|(c, s)| s.map(|s| (c.name.clone(), s)))
            .collect()
    }
}

impl App {
    pub(super) fn open_review(&mut self) -> Result<(), Error> {
        let mut tasks = self.store.reviews(None, None)?;
        tasks.retain(|r| r.score.is_none());
        // Nobody reviews their own work.
        tasks.retain(|r| r.agent != self.agent);
        tasks.sort_by(|a, b| a.period.cmp(&b.period).then(a.id.cmp(&b.id)));
        if tasks.is_empty() {
            self.set_info("no review tasks to score (echodesk review sample)");
            return Ok(());
        }
        self.reviewing = Some(Reviewing {
            tasks,
            ..Reviewing::default()
        });
        self.screen = Screen::Review;
        self.show_review_task()
    }

    /// Opens the current task's ticket and starts from its saved scores.
    fn show_review_task(&mut self) -> Result<(), Error> {
        let criteria = self.config.review.criteria.clone();
        let Some(r) = self.reviewing.as_mut() else {
            return Ok(());
        };
        let Some(task) = r.current().cloned() else {
            return Ok(());
        };
        r.criterion = 0;
        r.comment = task.comment.clone().unwrap_or_default();
        r.scores = criteria
            .iter()
            .map(|c| {
                task.scores
                    .iter()
                    .find(|(n, _)| *n == c.name)
                    .map(|(_, s)| *s)
            })
            .collect();
        self.open_ticket(task.ticket)
    }

    pub(super) fn on_review_key(&mut self, key: KeyEvent) -> Result<(), Error> {
        let n = self.config.review.criteria.len();
        if let (KeyCode::Char(c @ '1'..='9'), true) = (key.code, key.modifiers.is_empty()) {
            let v = c as u8 - b'0';
            let criteria = &self.config.review.criteria;
            if let Some(r) = self.reviewing.as_mut() {
                let i = r.criterion.min(n.saturating_sub(1));
                match criteria.get(i) {
                    Some(c) if v <= c.scale => {
                        r.scores[i] = Some(v);
                        // On to the next criterion not yet scored.
                        r.criterion = (i + 1).min(n.saturating_sub(1));
                    }
                    Some(c) => {
                        let msg = format!("{} is scored 1 to {}", c.name, c.scale);
                        self.set_error(msg);
                    }
                    None => {}
                }
            }
            return Ok(());
        }
        if let Some(a) = self.keymap.action_in(Context::Review, &key) {
            match a {
                Action::ReviewDown => {
                    if let Some(r) = self.reviewing.as_mut() {
                        r.criterion = (r.criterion + 1).min(n.saturating_sub(1));
                    }
                }
                Action::ReviewUp => {
                    if let Some(r) = self.reviewing.as_mut() {
                        r.criterion = r.criterion.saturating_sub(1);
                    }
                }
                Action::ReviewNext | Action::ReviewPrev => {
                    if let Some(r) = self.reviewing.as_mut() {
                        let len = r.tasks.len().max(1);
                        r.index = if a == Action::ReviewNext {
                            (r.index + 1) % len
                        } else {
                            (r.index + len - 1) % len
                        };
                    }
                    self.show_review_task()?;
                }
                Action::ReviewComment => {
                    let input = self
                        .reviewing
                        .as_ref()
                        .map(|r| r.comment.clone())
                        .unwrap_or_default();
                    self.overlay = Overlay::Input {
                        kind: InputKind::ReviewComment,
                        input,
                        error: None,
                    };
                }
                Action::ReviewSave => self.save_review()?,
                Action::ReviewScrollDown => {
                    self.ticket_scroll = self.ticket_scroll.saturating_add(self.height.max(2) - 1)
                }
                Action::ReviewScrollUp => {
                    self.ticket_scroll = self.ticket_scroll.saturating_sub(self.height.max(2) - 1)
                }
                _ => {}
            }
            return Ok(());
        }
        match self.keymap.action(&key) {
            Some(a @ (Action::Quit | Action::Help | Action::Palette | Action::Refresh)) => {
                self.perform(a)
            }
            Some(Action::Back | Action::Review) => {
                self.screen = Screen::Queue;
                self.reviewing = None;
                self.ticket = None;
                Ok(())
            }
            _ => Ok(()),
        }
    }

    pub(super) fn set_review_comment(&mut self, text: String) {
        if let Some(r) = self.reviewing.as_mut() {
            r.comment = text;
        }
    }

    /// Stores the scores typed (and the comment); a complete review moves
    /// on to the next task.
    fn save_review(&mut self) -> Result<(), Error> {
        let Some(r) = self.reviewing.clone() else {
            return Ok(());
        };
        let Some(task) = r.current().cloned() else {
            return Ok(());
        };
        let scores = r.scored(&self.config.review.criteria);
        if scores.is_empty() {
            self.set_error("nothing scored yet: a digit scores the marked criterion");
            return Ok(());
        }
        let config = self.config.clone();
        let comment = (!r.comment.trim().is_empty()).then_some(r.comment.trim().to_string());
        let tx = self.store.transaction()?;
        tx.score_review(task.id, &self.agent, &scores, comment.as_deref(), &|all| {
            crate::review::weighted(&config, all)
        })?;
        tx.commit()?;
        let saved = self.store.review(task.id)?;
        match saved.and_then(|s| s.score) {
            Some(score) => {
                self.set_info(format!(
                    "review of #{} saved: {:.0}%",
                    task.ticket,
                    score * 100.0
                ));
                if let Some(r) = self.reviewing.as_mut() {
                    r.tasks.remove(r.index);
                    if r.tasks.is_empty() {
                        self.screen = Screen::Queue;
                        self.reviewing = None;
                        self.ticket = None;
                        self.set_info("every review task is scored");
                        return Ok(());
                    }
                    r.index %= r.tasks.len();
                }
                self.show_review_task()?;
            }
            None => {
                if let (Some(r), Some(fresh)) =
                    (self.reviewing.as_mut(), self.store.review(task.id)?)
                {
                    r.tasks[r.index] = fresh;
                }
                self.set_info(format!(
                    "review of #{} saved; some criteria still to score",
                    task.ticket
                ));
            }
        }
        Ok(())
    }
}
