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
        let t = self.store.ticket(ticket)?;
        let now = self.now();
        let (subject, body) = crate::transcript::forward(
            &t,
            Some(note).filter(|n| !n.trim().is_empty()),
            &self.agent,
            now,
        );
        let tx = self.store.transaction()?;
        tx.queue_forward(ticket, &to, &subject, &body, &self.agent)?;
        tx.commit()?;
        if self.screen == Screen::Ticket {
            self.open_ticket(ticket)?;
        }
        self.set_info(format!(
            "#{ticket} forwarded to {} (their answer comes back as a note)",
            crate::sanitize::line(&to)
        ));
        Ok(())
    }
}
