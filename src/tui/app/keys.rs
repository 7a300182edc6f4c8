//! Keys: the main screen's actions, menus, inputs and the palette.

use super::*;

impl App {
    pub fn on_key(&mut self, key: KeyEvent) {
        if self.overlay == Overlay::None {
            self.status = None;
        }
        let result = match self.overlay.clone() {
            Overlay::None => self.on_main_key(key),
            Overlay::Help { scroll } => {
                self.overlay = match key.code {
                    KeyCode::Char('j') | KeyCode::Down => Overlay::Help { scroll: scroll + 1 },
                    KeyCode::Char('k') | KeyCode::Up => Overlay::Help {
                        scroll: scroll.saturating_sub(1),
                    },
                    _ => Overlay::None,
                };
                Ok(())
            }
            Overlay::Confirm { pending, .. } => {
                self.overlay = Overlay::None;
                if matches!(
                    key.code,
                    KeyCode::Char('y') | KeyCode::Char('Y') | KeyCode::Enter
                ) {
                    self.apply(pending);
                } else {
                    self.set_info("cancelled");
                }
                Ok(())
            }
            Overlay::Menu {
                kind,
                items,
                selected,
            } => self.on_menu_key(key, kind, items, selected),
            Overlay::Input { kind, input, .. } => self.on_input_key(key, kind, input),
            Overlay::Palette { input, selected } => self.on_palette_key(key, input, selected),
            Overlay::Compose(c) => {
                self.on_compose_key(key, c);
                Ok(())
            }
            Overlay::Canned {
                input,
                selected,
                compose,
            } => {
                self.on_canned_key(key, input, selected, compose);
                Ok(())
            }
        };
        if let Err(e) = result {
            self.set_error(e);
        }
    }

    pub(super) fn on_main_key(&mut self, key: KeyEvent) -> Result<(), Error> {
        if self.screen == Screen::Dashboard {
            return self.on_dashboard_key(key);
        }
        if self.screen == Screen::Review {
            return self.on_review_key(key);
        }
        if self.screen == Screen::Timeline {
            return self.on_timeline_key(key);
        }
        if self.screen == Screen::Asset {
            return self.on_asset_key(key);
        }
        if self.screen == Screen::Digest {
            return self.on_digest_key(key);
        }
        if let KeyCode::Char(c @ '1'..='9') = key.code {
            if key.modifiers.is_empty() {
                return self.switch_view(c as usize - '1' as usize);
            }
        }
        match self.keymap.action(&key) {
            Some(a) => self.perform(a),
            None => Ok(()),
        }
    }

    pub fn perform(&mut self, a: Action) -> Result<(), Error> {
        let page = self.height.max(2) as isize - 1;
        match (self.screen, a) {
            (_, Action::Quit) => self.quit = true,
            (_, Action::Dashboard) => self.open_dashboard(),
            (_, Action::Review) => self.open_review()?,
            (_, Action::Timeline) => self.open_timeline()?,
            (_, Action::AssetScreen) => self.open_asset()?,
            (_, Action::Digest) => self.open_digest()?,
            (_, Action::LinkAsset) => self.link_asset_prompt()?,
            (_, Action::EditField) => self.field_prompt(),
            (_, Action::Forward) => self.forward_prompt(),
            (_, Action::Follow) => self.toggle_follow()?,
            (Screen::Queue, Action::Back) => {
                if self.visual_anchor.take().is_none() && !self.selection.is_empty() {
                    self.selection.clear();
                } else if self.search.is_some() {
                    self.perform(Action::ClearSearch)?;
                }
            }
            (Screen::Ticket, Action::Back) => {
                self.screen = Screen::Queue;
                self.ticket = None;
                let _ = self.store.touch_presence(&self.agent, None, "queue");
            }
            (Screen::Queue, Action::Down) => self.move_cursor(1)?,
            (Screen::Queue, Action::Up) => self.move_cursor(-1)?,
            (Screen::Queue, Action::PageDown) => self.move_cursor(page)?,
            (Screen::Queue, Action::PageUp) => self.move_cursor(-page)?,
            (Screen::Queue, Action::Top) => {
                self.reload_top()?;
            }
            (Screen::Queue, Action::Bottom) => self.jump_bottom()?,
            (Screen::Ticket, Action::Down) => {
                self.ticket_scroll = self.ticket_scroll.saturating_add(1)
            }
            (Screen::Ticket, Action::Up) => {
                self.ticket_scroll = self.ticket_scroll.saturating_sub(1)
            }
            (Screen::Ticket, Action::PageDown) => {
                self.ticket_scroll = self.ticket_scroll.saturating_add(page as usize)
            }
            (Screen::Ticket, Action::PageUp) => {
                self.ticket_scroll = self.ticket_scroll.saturating_sub(page as usize)
            }
            (Screen::Ticket, Action::Top) => self.ticket_scroll = 0,
            (Screen::Ticket, Action::Bottom) => self.ticket_scroll = usize::MAX / 2,
            (Screen::Queue, Action::Open) => {
                if let Some(id) = self.selected_row().map(|t| t.id) {
                    self.open_ticket(id)?;
                    self.screen = Screen::Ticket;
                    let _ = self.store.touch_presence(&self.agent, Some(id), "viewing");
                }
            }
            (Screen::Ticket, Action::Open) => {}
            (_, Action::Pager) => {
                let id = match self.screen {
                    Screen::Ticket => self.ticket.as_ref().map(|t| t.summary.id),
                    Screen::Queue => self.selected_row().map(|t| t.id),
                    Screen::Dashboard
                    | Screen::Review
                    | Screen::Timeline
                    | Screen::Asset
                    | Screen::Digest => None,
                };
                if let Some(id) = id {
                    let t = self.store.ticket(id)?;
                    self.pager_request = Some(crate::transcript::render(&t, self.now()));
                }
            }
            (_, Action::NextView) => self.switch_view((self.view + 1) % self.views.len())?,
            (_, Action::PrevView) => {
                self.switch_view((self.view + self.views.len() - 1) % self.views.len())?
            }
            (_, Action::Search) => {
                self.overlay = Overlay::Input {
                    kind: InputKind::Search,
                    input: self.search.clone().unwrap_or_default(),
                    error: None,
                }
            }
            (_, Action::ClearSearch) => {
                self.search = None;
                self.query = query::parse(&self.views[self.view].query)?;
                self.screen = Screen::Queue;
                self.reload_top()?;
            }
            (_, Action::StateMenu) => self.state_menu(),
            (_, Action::Solve) => self.request(Pending::Edit(Change::State(
                self.store.settings().workflow.solved_state.clone(),
            ))),
            (_, Action::Pending) => self.request(Pending::Edit(Change::State(
                self.store.settings().workflow.reply_to.clone(),
            ))),
            (_, Action::Spam) => self.request(Pending::Edit(Change::State(
                self.store.settings().workflow.spam_state.clone(),
            ))),
            (_, Action::AssignMenu) => self.assign_menu(),
            (_, Action::AssignMe) => {
                self.request(Pending::Edit(Change::Assign(Some(self.agent.clone()))))
            }
            (_, Action::Tag) => {
                self.overlay = Overlay::Input {
                    kind: InputKind::Tag,
                    input: String::new(),
                    error: None,
                }
            }
            (_, Action::PriorityMenu) => {
                // Start on the current priority of a single target.
                let current = match self.screen {
                    Screen::Ticket => self.ticket.as_ref().map(|t| t.summary.priority),
                    Screen::Queue => self.selected_row().map(|t| t.priority),
                    Screen::Dashboard
                    | Screen::Review
                    | Screen::Timeline
                    | Screen::Asset
                    | Screen::Digest => None,
                }
                .filter(|_| self.selection.is_empty())
                .unwrap_or(Priority::Normal);
                let items: Vec<String> =
                    Priority::ALL.iter().rev().map(|p| p.to_string()).collect();
                let selected = items
                    .iter()
                    .position(|p| p == current.as_str())
                    .unwrap_or(0);
                self.overlay = Overlay::Menu {
                    kind: MenuKind::Priority,
                    items,
                    selected,
                }
            }
            (_, Action::Note) | (_, Action::Reply) => {
                let targets = self.targets();
                if targets.len() != 1 {
                    self.set_error(
                        "notes and replies go to one ticket: open it or move the cursor to it",
                    );
                } else {
                    let direction = if a == Action::Note {
                        Direction::Note
                    } else {
                        Direction::Out
                    };
                    let activity = if a == Action::Note {
                        "writing a note"
                    } else {
                        "replying"
                    };
                    let _ = self
                        .store
                        .touch_presence(&self.agent, Some(targets[0].0), activity);
                    let channel = if direction == Direction::Out {
                        self.target_channel()
                    } else {
                        None
                    };
                    self.overlay = Overlay::Compose(Compose {
                        direction,
                        text: String::new(),
                        channel,
                        canned: None,
                        version: targets[0].1,
                    });
                }
            }
            (_, Action::Snooze) => {
                self.overlay = Overlay::Input {
                    kind: InputKind::Snooze,
                    input: String::new(),
                    error: None,
                }
            }
            (_, Action::Merge) => {
                let mut ids: Vec<i64> = self.targets().iter().map(|t| t.0).collect();
                ids.sort_unstable();
                match ids.first() {
                    Some(&into) if ids.len() >= 2 => {
                        self.overlay = Overlay::Confirm {
                            message: format!(
                                "merge {} tickets into #{into} (the oldest; not undoable)? (y/n)",
                                ids.len()
                            ),
                            pending: Pending::Merge(into),
                        };
                    }
                    _ => self.set_error("select two or more tickets to merge (space, v)"),
                }
            }
            (Screen::Queue, Action::Select) => {
                if let Some((id, v)) = self.selected_row().map(|t| (t.id, t.version)) {
                    if self.selection.remove(&id).is_none() {
                        self.selection.insert(id, Some(v));
                    }
                    self.move_cursor(1)?;
                }
            }
            (Screen::Queue, Action::VisualRange) => match self.visual_anchor.take() {
                Some(_) => self.set_info(format!("{} selected", self.selection.len())),
                None => {
                    self.visual_anchor = Some(self.cursor);
                    self.mark_range(self.cursor, self.cursor);
                }
            },
            (Screen::Queue, Action::SelectAll) => {
                let ids = self.store.search_ids(&self.query, &self.ctx(), 100_000)?;
                let n = ids.len();
                let versions = self.store.ticket_versions(&ids)?;
                self.selection
                    .extend(ids.iter().map(|id| (*id, versions.get(id).copied())));
                self.set_info(format!("{n} selected"));
            }
            (_, Action::ClearSelection) => {
                self.selection.clear();
                self.visual_anchor = None;
            }
            (_, Action::Undo) => self.undo(),
            (_, Action::Refresh) => self.reload_everything()?,
            (_, Action::Help) => self.overlay = Overlay::Help { scroll: 0 },
            (_, Action::Palette) => {
                self.overlay = Overlay::Palette {
                    input: String::new(),
                    selected: 0,
                }
            }
            // Keys of the compose window, menus and pickers, which handle
            // them themselves.
            (
                _,
                Action::ComposeSave
                | Action::ComposeDiscard
                | Action::ComposeCanned
                | Action::ComposeEditor
                | Action::ComposeChannel
                | Action::MenuDown
                | Action::MenuUp
                | Action::MenuChoose
                | Action::PickerDown
                | Action::PickerUp
                | Action::PickerChoose
                | Action::PickerClose
                | Action::DashboardPeriod
                | Action::DashboardPeriodBack
                | Action::DashboardGroup
                | Action::ReviewDown
                | Action::ReviewUp
                | Action::ReviewNext
                | Action::ReviewPrev
                | Action::ReviewComment
                | Action::ReviewSave
                | Action::ReviewScrollDown
                | Action::ReviewScrollUp
                | Action::TimelineChannel
                | Action::TimelineAsset
                | Action::DigestPeriod,
            ) => {}
            (Screen::Ticket, _) => {}
            // Their keys go to `on_dashboard_key` and `on_review_key`.
            (
                Screen::Dashboard
                | Screen::Review
                | Screen::Timeline
                | Screen::Asset
                | Screen::Digest,
                _,
            ) => {}
        }
        Ok(())
    }

    pub(super) fn on_menu_key(
        &mut self,
        key: KeyEvent,
        kind: MenuKind,
        items: Vec<String>,
        selected: usize,
    ) -> Result<(), Error> {
        match self.keymap.action_in(Context::Menu, &key) {
            Some(Action::MenuDown) => {
                self.overlay = Overlay::Menu {
                    kind,
                    selected: (selected + 1).min(items.len() - 1),
                    items,
                };
            }
            Some(Action::MenuUp) => {
                self.overlay = Overlay::Menu {
                    kind,
                    selected: selected.saturating_sub(1),
                    items,
                };
            }
            Some(Action::MenuChoose) => {
                self.overlay = Overlay::None;
                let choice = items[selected].clone();
                match kind {
                    MenuKind::State => self.request(Pending::Edit(Change::State(choice))),
                    MenuKind::Priority => {
                        let p = Priority::parse(&choice).unwrap_or(Priority::Normal);
                        self.request(Pending::Edit(Change::Priority(p)));
                    }
                    MenuKind::Assign => match selected {
                        0 => self.request(Pending::Edit(Change::Assign(Some(self.agent.clone())))),
                        1 => self.request(Pending::Edit(Change::Assign(None))),
                        _ if selected == items.len() - 1 => {
                            self.overlay = Overlay::Input {
                                kind: InputKind::AssignOther,
                                input: String::new(),
                                error: None,
                            };
                        }
                        _ => self.request(Pending::Edit(Change::Assign(Some(choice)))),
                    },
                }
            }
            _ => self.overlay = Overlay::None,
        }
        Ok(())
    }

    pub(super) fn on_input_key(
        &mut self,
        key: KeyEvent,
        kind: InputKind,
        mut input: String,
    ) -> Result<(), Error> {
        match key.code {
            KeyCode::Esc => {
                self.overlay = Overlay::None;
                return Ok(());
            }
            KeyCode::Enter => return self.submit_input(kind, input),
            KeyCode::Backspace => {
                input.pop();
            }
            KeyCode::Char('u') if key.modifiers.contains(KeyModifiers::CONTROL) => input.clear(),
            KeyCode::Char(c) => input.push(c),
            _ => {}
        }
        let error = if kind == InputKind::Search {
            query::parse(&input).err().map(|e| (e.column, e.message))
        } else {
            None
        };
        self.overlay = Overlay::Input { kind, input, error };
        Ok(())
    }

    pub(super) fn submit_input(&mut self, kind: InputKind, input: String) -> Result<(), Error> {
        match kind {
            InputKind::Search => match query::parse(&input) {
                Ok(q) => {
                    // An unknown state is only found when compiling.
                    if let Err(e) = self.store.check(&q, &self.ctx()) {
                        self.overlay = Overlay::Input {
                            kind,
                            error: Some((1, e.to_string())),
                            input,
                        };
                        return Ok(());
                    }
                    self.overlay = Overlay::None;
                    self.search = (!input.trim().is_empty()).then_some(input);
                    self.query = q;
                    self.screen = Screen::Queue;
                    self.selection.clear();
                    self.reload_top()?;
                }
                Err(e) => {
                    self.overlay = Overlay::Input {
                        kind,
                        error: Some((e.column, e.message)),
                        input,
                    };
                }
            },
            InputKind::Tag => {
                self.overlay = Overlay::None;
                let words: Vec<&str> = input.split_whitespace().collect();
                match Change::tags(&words) {
                    _ if words.is_empty() => self.set_info("no tags given"),
                    Ok(change) => self.request(Pending::Edit(change)),
                    Err(e) => self.set_error(e),
                }
            }
            InputKind::Snooze => {
                let text = input.trim();
                if text.is_empty() || text == "none" || text == "wake" {
                    self.overlay = Overlay::None;
                    self.request(Pending::Edit(Change::Snooze(None)));
                } else {
                    match query::parse_until(text, self.now()) {
                        Ok(t) => {
                            self.overlay = Overlay::None;
                            self.request(Pending::Edit(Change::Snooze(Some(t))));
                        }
                        Err(e) => {
                            self.overlay = Overlay::Input {
                                kind,
                                error: Some((1, e)),
                                input,
                            };
                        }
                    }
                }
            }
            InputKind::ReviewComment => {
                self.overlay = Overlay::None;
                self.set_review_comment(input);
            }
            InputKind::Asset => self.submit_asset(input)?,
            InputKind::Field => self.submit_field(input)?,
            InputKind::Forward => self.submit_forward(input)?,
            InputKind::RecordNote => self.submit_record_note(input)?,
            InputKind::AssignOther => {
                self.overlay = Overlay::None;
                let name = input.trim().to_string();
                if !name.is_empty() {
                    self.request(Pending::Edit(Change::Assign(Some(name))));
                }
            }
        }
        Ok(())
    }

    /// Actions whose name or help fuzzily match, best first (the table's
    /// order among equals).
    pub fn palette_matches(input: &str) -> Vec<&'static keymap::ActionDef> {
        let mut fuzzy = crate::canned::Fuzzy::new(input);
        let mut scored: Vec<(i64, usize, &'static keymap::ActionDef)> = keymap::ACTIONS
            .iter()
            .enumerate()
            .filter(|(_, d)| d.in_palette())
            .filter_map(|(i, d)| {
                let by_name = fuzzy.score(d.name).map(|s| s * 2);
                let by_help = fuzzy.score(d.help);
                by_name.max(by_help).map(|s| (s, i, d))
            })
            .collect();
        scored.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        scored.into_iter().map(|(_, _, d)| d).collect()
    }

    pub(super) fn on_palette_key(
        &mut self,
        key: KeyEvent,
        mut input: String,
        mut selected: usize,
    ) -> Result<(), Error> {
        match self.picker_key(key, &mut input, &mut selected) {
            Pick::Close => {
                self.overlay = Overlay::None;
                return Ok(());
            }
            Pick::Choose => {
                self.overlay = Overlay::None;
                if let Some(d) = App::palette_matches(&input).get(selected) {
                    return self.perform(d.action);
                }
                return Ok(());
            }
            Pick::Edited => {}
        }
        let n = App::palette_matches(&input).len();
        selected = selected.min(n.saturating_sub(1));
        self.overlay = Overlay::Palette { input, selected };
        Ok(())
    }
}

/// What a key did in a filtered list.
pub(super) enum Pick {
    Close,
    Choose,
    /// Moved, or typed into the filter.
    Edited,
}

impl App {
    /// Keys shared by the filtered lists (palette, canned picker): the
    /// picker actions, else typing to filter and Backspace to unfilter.
    pub(super) fn picker_key(
        &self,
        key: KeyEvent,
        input: &mut String,
        selected: &mut usize,
    ) -> Pick {
        match self.keymap.action_in(Context::Picker, &key) {
            Some(Action::PickerClose) => return Pick::Close,
            Some(Action::PickerChoose) => return Pick::Choose,
            Some(Action::PickerDown) => *selected += 1,
            Some(Action::PickerUp) => *selected = selected.saturating_sub(1),
            _ => {
                let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
                match key.code {
                    KeyCode::Backspace => {
                        input.pop();
                        *selected = 0;
                    }
                    KeyCode::Char(c) if !ctrl => {
                        input.push(c);
                        *selected = 0;
                    }
                    _ => {}
                }
            }
        }
        Pick::Edited
    }
}
