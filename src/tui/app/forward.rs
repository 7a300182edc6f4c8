//! Forwarding a ticket to another department from the keyboard: the
//! address and the request in one prompt; the answer comes back as a note.

use super::{App, InputKind, Overlay, Screen};
use crate::error::Error;

impl App {
    pub(super) fn forward_prompt(&mut self) {
        if self.one_ticket().is_none() {
            self.set_error("a forward takes one ticket: open or select one");
            return;
        }
        self.overlay = Overlay::Input {
            kind: InputKind::Forward,
            input: String::new(),
            error: None,
        };
    }

    /// `w`: the agent follows the ticket, or stops.
    pub(super) fn toggle_follow(&mut self) -> Result<(), Error> {
        let Some(ticket) = self.one_ticket() else {
            self.set_error("follow one ticket at a time: open or select one");
            return Ok(());
        };
        let tx = self.store.transaction()?;
        let on = !tx.follows(ticket, &self.agent)?;
        if on {
            tx.follow(ticket, &self.agent, &self.agent)?;
        } else {
            tx.unfollow(ticket, &self.agent, &self.agent)?;
        }
        tx.commit()?;
        if self.screen == Screen::Ticket {
            self.open_ticket(ticket)?;
        }
        self.set_info(if on {
            format!("you follow #{ticket} (follower:me lists what you follow)")
        } else {
            format!("you no longer follow #{ticket}")
        });
        Ok(())
    }

    /// `rnd@example.com Known issue?`: the address, then the note.
    pub(super) fn submit_forward(&mut self, input: String) -> Result<(), Error> {
        let Some(ticket) = self.one_ticket() else {
            self.overlay = Overlay::None;
            return Ok(());
        };
        let text = input.trim();
        let (to, note) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
        let to = match self.store.check_forward_address(to) {
            Ok(a) => a,
            Err(e) => {
                self.overlay = Overlay::Input {
                    kind: InputKind::Forward,
                    error: Some((1, e.to_string())),
                    input,
                };
                return Ok(());
            }
        };
        self.overlay = Overlay::None;
        let now = self.now();
        let f = crate::follow::forward(
            &mut self.store,
            ticket,
            &to,
            Some(note).filter(|n| !n.trim().is_empty()),
            &self.agent,
            now,
        )?;
        if self.screen == Screen::Ticket {
            self.open_ticket(ticket)?;
        }
        let what = if f.follow_up {
            "follow-up to"
        } else {
            "forwarded to"
        };
        self.set_info(format!(
            "#{ticket} {what} {} (their answer comes back as a note)",
            crate::sanitize::line(&f.to)
        ));
        Ok(())
    }
}
