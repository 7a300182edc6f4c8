//! Writing a reply or a note: saving it, canned answers, the reply
//! channels, the external editor, and the compose and picker keys.

use super::keys::Pick;
use super::*;

impl App {
    pub(super) fn save_compose(&mut self, c: Compose) {
        let Some(id) = self.targets().first().map(|t| t.0) else {
            return;
        };
        if c.text.trim().is_empty() {
            self.set_error("empty message not saved");
            return;
        }
        let agent = self.agent.clone();
        let used = c
            .canned
            .as_ref()
            .and_then(|n| self.canned.iter().find(|x| &x.name == n))
            .cloned();
        let result = (|| -> Result<(), Error> {
            let tx = self.store.transaction()?;
            if used
                .as_ref()
                .is_some_and(|k| k.meta.state.is_some() || !k.meta.add_tags.is_empty())
            {
                tx.expect_version(id, c.version)?;
            }
            match c.direction {
                Direction::Note => {
                    tx.add_agent_message(
                        id,
                        Direction::Note,
                        &c.text,
                        &agent,
                        crate::store::now(),
                    )?;
                }
                _ => {
                    tx.queue_reply(id, &c.text, &agent, c.channel)?;
                }
            }
            // A canned answer may move the ticket and tag it.
            if let Some(k) = &used {
                if let Some(state) = &k.meta.state {
                    Change::State(state.clone()).apply(&tx, id, None, &agent)?;
                }
                if !k.meta.add_tags.is_empty() {
                    let tags = Change::Tags {
                        add: k.meta.add_tags.clone(),
                        remove: Vec::new(),
                    };
                    tags.apply(&tx, id, None, &agent)?;
                }
            }
            tx.commit()
        })();
        match result {
            Ok(()) => {
                let _ = self.store.touch_presence(&self.agent, Some(id), "viewing");
                self.set_info(match c.direction {
                    Direction::Note => format!("#{id}: note added"),
                    _ => format!("#{id}: reply queued in the outbox"),
                })
            }
            Err(Error::Conflict { found, .. }) => {
                // Nothing was queued: the text stays in the editor, and a
                // second send applies the answer's state over the change.
                self.set_error(format!(
                    "#{id} was changed by someone else while you wrote; nothing was sent. \
                     Look at the ticket, then send again to apply `{}` anyway",
                    c.canned.as_deref().unwrap_or("the answer")
                ));
                let mut again = c;
                again.version = Some(found);
                self.overlay = Overlay::Compose(again);
            }
            Err(e) => {
                let _ = self.store.touch_presence(&self.agent, Some(id), "viewing");
                self.set_error(e)
            }
        }
        if let Err(e) = self.reload_everything() {
            self.set_error(e);
        }
    }

    /// Loads (again) the canned answers from the configured directory.
    pub fn load_canned(&mut self) {
        let dir = self.config.canned_path();
        let (ok, bad) = canned::load_dir(&dir);
        self.canned = ok;
        self.canned_errors = bad.into_iter().map(|e| e.to_string()).collect();
    }

    /// The ticket a compose is about, in full.
    pub(super) fn compose_ticket(&self) -> Option<TicketDetail> {
        let id = self.targets().first()?.0;
        match &self.ticket {
            Some(t) if t.summary.id == id => Some(t.clone()),
            _ => self.store.ticket(id).ok(),
        }
    }

    /// Channels the customer can be answered on, the ticket's own first.
    pub fn reply_channels(&self) -> Vec<Channel> {
        let Some(t) = self.compose_ticket() else {
            return Vec::new();
        };
        let mut out = vec![t.summary.channel];
        for (kind, ch) in [
            (IdentityKind::Email, Channel::Email),
            (IdentityKind::Phone, Channel::Sms),
            (IdentityKind::Fax, Channel::Fax),
        ] {
            if !out.contains(&ch) && t.customer.identities.iter().any(|i| i.kind == kind) {
                out.push(ch);
            }
        }
        out
    }

    pub(super) fn target_channel(&self) -> Option<Channel> {
        self.reply_channels().first().copied()
    }

    /// Canned answers for the picker: fitting the channel, best match first.
    pub fn canned_matches(&self, input: &str, channel: Option<Channel>) -> Vec<&Canned> {
        let mut fuzzy = canned::Fuzzy::new(input);
        let mut scored: Vec<(i64, &Canned)> = self
            .canned
            .iter()
            .filter(|c| channel.is_none_or(|ch| c.fits(ch)))
            .filter_map(|c| {
                let hay = format!(
                    "{} {} {}",
                    c.meta.shortcut.as_deref().unwrap_or(""),
                    c.meta.title,
                    c.name
                );
                fuzzy.score(&hay).map(|s| (s, c))
            })
            .collect();
        scored.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.name.cmp(&b.1.name)));
        scored.into_iter().map(|(_, c)| c).collect()
    }

    /// The answer rendered for the ticket being answered, or the error.
    pub fn canned_preview(&self, c: &Canned, channel: Option<Channel>) -> Result<String, String> {
        let t = self.compose_ticket().ok_or("no ticket")?;
        let signature = self.config.signature.clone();
        let vars = canned::Vars::new(
            &t,
            &self.agent,
            &signature,
            &self.config.subject_tag,
            self.now(),
        );
        c.render(&vars, channel.unwrap_or(t.summary.channel))
            .map_err(|e| e.to_string())
    }

    /// The editor ($EDITOR) returned this text.
    pub fn editor_done(&mut self, text: Option<String>) {
        if let Overlay::Compose(c) = &mut self.overlay {
            match text {
                Some(t) => c.text = t,
                None => {
                    self.status = Some(("the editor failed; the text is unchanged".into(), true))
                }
            }
        }
    }

    pub(super) fn on_compose_key(&mut self, key: KeyEvent, mut c: Compose) {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match self.keymap.action_in(Context::Compose, &key) {
            Some(Action::ComposeDiscard) => {
                self.overlay = Overlay::None;
                self.set_info("discarded");
                let id = self.targets().first().map(|t| t.0);
                let _ = self.store.touch_presence(&self.agent, id, "viewing");
                return;
            }
            Some(Action::ComposeSave) => {
                self.overlay = Overlay::None;
                self.save_compose(c);
                return;
            }
            Some(Action::ComposeCanned) => {
                self.load_canned();
                self.overlay = Overlay::Canned {
                    input: String::new(),
                    selected: 0,
                    compose: c,
                };
                return;
            }
            Some(Action::ComposeEditor) => {
                self.editor_request = Some(c.text.clone());
            }
            Some(Action::ComposeChannel) => {
                if c.direction == Direction::Out {
                    let chans = self.reply_channels();
                    if let Some(i) = c.channel.and_then(|ch| chans.iter().position(|x| *x == ch)) {
                        c.channel = chans.get((i + 1) % chans.len()).copied();
                    }
                }
            }
            Some(_) => {}
            None => match key.code {
                KeyCode::Enter => c.text.push('\n'),
                KeyCode::Backspace => {
                    c.text.pop();
                }
                KeyCode::Tab => c.text.push_str("    "),
                KeyCode::Char(ch) if !ctrl => c.text.push(ch),
                _ => {}
            },
        }
        self.overlay = Overlay::Compose(c);
    }

    pub(super) fn on_canned_key(
        &mut self,
        key: KeyEvent,
        mut input: String,
        mut selected: usize,
        mut compose: Compose,
    ) {
        match self.picker_key(key, &mut input, &mut selected) {
            Pick::Close => {
                self.overlay = Overlay::Compose(compose);
                return;
            }
            Pick::Choose => {
                let found = self
                    .canned_matches(&input, compose.channel)
                    .get(selected)
                    .map(|c| (*c).clone());
                if let Some(c) = found {
                    match self.canned_preview(&c, compose.channel) {
                        Ok(text) => {
                            if !compose.text.is_empty() && !compose.text.ends_with('\n') {
                                compose.text.push('\n');
                            }
                            compose.text.push_str(&text);
                            compose.canned = Some(c.name.clone());
                            self.overlay = Overlay::Compose(compose);
                        }
                        // Never insert a half-rendered answer.
                        Err(e) => {
                            self.set_error(e);
                            self.overlay = Overlay::Canned {
                                input,
                                selected,
                                compose,
                            };
                        }
                    }
                }
                return;
            }
            Pick::Edited => {}
        }
        let n = self.canned_matches(&input, compose.channel).len();
        selected = selected.min(n.saturating_sub(1));
        self.overlay = Overlay::Canned {
            input,
            selected,
            compose,
        };
    }
}
