//! The customer timeline: every message of every ticket of the customer
//! whose ticket is open (or selected), oldest first, on one channel or all.

use crossterm::event::KeyEvent;

use super::{App, Screen};
use crate::error::Error;
use crate::model::Channel;
use crate::store::TimelineEntry;
use crate::tui::keymap::{Action, Context};

pub struct Timeline {
    pub customer: i64,
    pub name: String,
    pub entries: Vec<TimelineEntry>,
    /// Only this channel's messages (`None`: all).
    pub channel: Option<Channel>,
    /// Only the tickets about this asset (`None`: all), and the assets
    /// the customer owns, which `m` turns through.
    pub asset: Option<(i64, String)>,
    pub assets: Vec<(i64, String)>,
    /// Notes on the customer's file, oldest first.
    pub notes: Vec<crate::store::RecordNote>,
    /// The first entry on screen.
    pub scroll: usize,
    /// Where `esc` goes back to.
    back: Screen,
}

/// Messages on screen when the timeline opens (the newest).
const RECENT: usize = 4;

/// The channel filter's turns.
const CHANNELS: [Option<Channel>; 4] = [
    None,
    Some(Channel::Email),
    Some(Channel::Sms),
    Some(Channel::Fax),
];

impl App {
    pub(super) fn open_timeline(&mut self) -> Result<(), Error> {
        let customer = match self.screen {
            Screen::Ticket => self.ticket.as_ref().map(|t| t.customer.id),
            Screen::Queue => self.selected_row().map(|t| t.customer_id),
            _ => None,
        };
        let Some(customer) = customer else {
            self.set_error("no customer here: open or select a ticket");
            return Ok(());
        };
        let name = self.store.customer(customer)?.name;
        let entries = self.store.timeline(customer, None, None)?;
        let assets = self
            .store
            .assets_of(Some(customer), None)?
            .iter()
            .map(|a| (a.id, super::asset::asset_name(a)))
            .collect();
        // The newest messages are what an agent looks for first: the
        // last few fill the screen.
        let scroll = entries.len().saturating_sub(RECENT);
        self.timeline = Some(Timeline {
            customer,
            name,
            entries,
            channel: None,
            asset: None,
            assets,
            notes: self
                .store
                .record_notes(crate::fields::Entity::Customer, customer)?,
            scroll,
            back: self.screen,
        });
        self.screen = Screen::Timeline;
        Ok(())
    }

    pub(super) fn on_timeline_key(&mut self, key: KeyEvent) -> Result<(), Error> {
        let filter = self.keymap.action_in(Context::Timeline, &key);
        if let (Some(a @ (Action::TimelineChannel | Action::TimelineAsset)), Some(t)) =
            (filter, self.timeline.as_mut())
        {
            if a == Action::TimelineChannel {
                let next = CHANNELS
                    .iter()
                    .position(|c| *c == t.channel)
                    .map_or(0, |i| (i + 1) % CHANNELS.len());
                t.channel = CHANNELS[next];
            } else {
                // All, then each asset in turn, then all again.
                let at = t
                    .asset
                    .as_ref()
                    .and_then(|(id, _)| t.assets.iter().position(|(a, _)| a == id));
                t.asset = match at {
                    None => t.assets.first().cloned(),
                    Some(i) => t.assets.get(i + 1).cloned(),
                };
            }
            t.entries =
                self.store
                    .timeline(t.customer, t.channel, t.asset.as_ref().map(|(id, _)| *id))?;
            t.scroll = t.entries.len().saturating_sub(RECENT);
            return Ok(());
        }
        let page = self.height.max(2) / 3;
        let Some(t) = self.timeline.as_mut() else {
            self.screen = Screen::Queue;
            return Ok(());
        };
        let last = t.entries.len().saturating_sub(1);
        match self.keymap.action(&key) {
            Some(Action::Down) => t.scroll = (t.scroll + 1).min(last),
            Some(Action::Up) => t.scroll = t.scroll.saturating_sub(1),
            Some(Action::PageDown) => t.scroll = (t.scroll + page).min(last),
            Some(Action::PageUp) => t.scroll = t.scroll.saturating_sub(page),
            Some(Action::Top) => t.scroll = 0,
            Some(Action::Bottom) => t.scroll = last,
            Some(Action::Back | Action::Timeline) => {
                self.screen = t.back;
                self.timeline = None;
                // A note written here shows in the ticket's customer panel.
                if let (Screen::Ticket, Some(id)) =
                    (self.screen, self.ticket.as_ref().map(|t| t.summary.id))
                {
                    self.open_ticket(id)?;
                }
            }
            Some(Action::Note) => self.record_note_prompt(),
            Some(a @ (Action::Quit | Action::Help | Action::Palette)) => return self.perform(a),
            _ => {}
        }
        Ok(())
    }
}
