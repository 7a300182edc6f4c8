//! The asset screen (a machine's details and its repair record, newest
//! first) and the two prompts that edit the customer file from the
//! keyboard: which asset a ticket is about, and a custom field.

use crossterm::event::KeyEvent;

use super::{App, InputKind, Overlay, Screen};
use crate::error::Error;
use crate::fields::Entity;
use crate::model::TicketSummary;
use crate::store::{Asset, AssetInput, RecordNote};
use crate::tui::keymap::Action;

pub struct AssetView {
    pub asset: Asset,
    /// The owning customer's name, and the owning organisation's.
    pub owner: Option<String>,
    pub org: Option<String>,
    pub notes: Vec<RecordNote>,
    /// The repair record: tickets about the asset, newest first.
    pub tickets: Vec<TicketSummary>,
    pub selected: usize,
    /// Where `esc` goes back to.
    back: Screen,
}

/// How an asset is named in messages: `VMC-850 SN VMC-00042`.
pub fn asset_name(a: &Asset) -> String {
    match &a.serial {
        Some(s) => format!("{} SN {s}", a.model),
        None => format!("{} #{}", a.model, a.id),
    }
}

impl App {
    /// The one ticket a prompt acts on: the open one, or the one under the
    /// cursor (a selection of several is refused by the caller).
    pub(super) fn one_ticket(&self) -> Option<i64> {
        match self.targets()[..] {
            [(id, _)] => Some(id),
            _ => None,
        }
    }

    pub(super) fn open_asset(&mut self) -> Result<(), Error> {
        let Some(ticket) = self.one_ticket() else {
            self.set_error("the asset screen shows one ticket's asset: open or select one");
            return Ok(());
        };
        match self.store.ticket_asset(ticket)? {
            Some(a) => self.show_asset(a),
            None => {
                self.set_error(format!(
                    "ticket #{ticket} is about no asset: {} links one",
                    self.keymap.keys_of(Action::LinkAsset)
                ));
                Ok(())
            }
        }
    }

    fn show_asset(&mut self, id: i64) -> Result<(), Error> {
        let asset = self.store.asset(id)?;
        let owner = match asset.customer_id {
            Some(c) => Some(self.store.customer(c)?.name),
            None => None,
        };
        let org = match asset.org_id {
            Some(o) => Some(self.store.org(o)?.name),
            None => None,
        };
        let tickets = self
            .store
            .asset_ticket_ids(id)?
            .into_iter()
            .map(|t| self.store.ticket_summary(t))
            .collect::<Result<Vec<_>, _>>()?;
        let back = match self.screen {
            Screen::Asset => self.asset.as_ref().map_or(Screen::Queue, |a| a.back),
            s => s,
        };
        self.asset = Some(AssetView {
            notes: self.store.record_notes(Entity::Asset, id)?,
            asset,
            owner,
            org,
            tickets,
            selected: 0,
            back,
        });
        self.screen = Screen::Asset;
        Ok(())
    }

    pub(super) fn on_asset_key(&mut self, key: KeyEvent) -> Result<(), Error> {
        let Some(v) = self.asset.as_mut() else {
            self.screen = Screen::Queue;
            return Ok(());
        };
        let last = v.tickets.len().saturating_sub(1);
        match self.keymap.action(&key) {
            Some(Action::Down) => v.selected = (v.selected + 1).min(last),
            Some(Action::Up) => v.selected = v.selected.saturating_sub(1),
            Some(Action::Top) => v.selected = 0,
            Some(Action::Bottom) => v.selected = last,
            Some(Action::Open) => {
                if let Some(id) = v.tickets.get(v.selected).map(|t| t.id) {
                    self.asset = None;
                    self.open_ticket(id)?;
                    self.screen = Screen::Ticket;
                }
            }
            Some(Action::Back | Action::AssetScreen) => {
                self.screen = v.back;
                self.asset = None;
                if self.screen == Screen::Ticket {
                    if let Some(id) = self.ticket.as_ref().map(|t| t.summary.id) {
                        self.open_ticket(id)?;
                    }
                }
            }
            Some(Action::EditField) => self.field_prompt(),
            Some(Action::Note) => self.record_note_prompt(),
            Some(a @ (Action::Quit | Action::Help | Action::Palette)) => return self.perform(a),
            _ => {}
        }
        Ok(())
    }

    pub(super) fn link_asset_prompt(&mut self) -> Result<(), Error> {
        let Some(ticket) = self.one_ticket() else {
            self.set_error("an asset is set on one ticket at a time: open or select one");
            return Ok(());
        };
        let input = match self.store.ticket_asset(ticket)? {
            Some(a) => {
                let a = self.store.asset(a)?;
                a.serial.unwrap_or_else(|| format!("#{}", a.id))
            }
            // A customer with one machine: offer it.
            None => {
                let customer = self.store.ticket_summary(ticket)?.customer_id;
                match &self.store.assets_of(Some(customer), None)?[..] {
                    [one] => one.serial.clone().unwrap_or_else(|| format!("#{}", one.id)),
                    _ => String::new(),
                }
            }
        };
        self.overlay = Overlay::Input {
            kind: InputKind::Asset,
            input,
            error: None,
        };
        Ok(())
    }

    pub(super) fn submit_asset(&mut self, input: String) -> Result<(), Error> {
        let Some(ticket) = self.one_ticket() else {
            self.overlay = Overlay::None;
            return Ok(());
        };
        let text = input.trim();
        if let Some(new) = text.strip_prefix('+') {
            return self.add_asset(ticket, new.trim(), input.clone());
        }
        let asset = if text.is_empty() || text.eq_ignore_ascii_case("none") {
            None
        } else {
            match self.store.find_asset(text) {
                Ok(a) => Some(a),
                Err(e) => {
                    self.overlay = Overlay::Input {
                        kind: InputKind::Asset,
                        error: Some((1, e.to_string())),
                        input,
                    };
                    return Ok(());
                }
            }
        };
        self.overlay = Overlay::None;
        let tx = self.store.transaction()?;
        let changed = tx.set_ticket_asset(ticket, asset.as_ref().map(|a| a.id), &self.agent)?;
        tx.commit()?;
        if self.screen == Screen::Ticket {
            self.open_ticket(ticket)?;
        }
        match (&asset, changed) {
            (_, false) => self.set_info(format!("ticket #{ticket} unchanged")),
            (Some(a), true) => self.set_info(format!(
                "ticket #{ticket} is about {}",
                crate::sanitize::line(&asset_name(a))
            )),
            (None, true) => self.set_info(format!("ticket #{ticket} is about no asset")),
        }
        Ok(())
    }

    /// `+SN-4891 VMC 850`: a new machine of the ticket's customer, with
    /// that serial number and model, which the ticket is then about.
    fn add_asset(&mut self, ticket: i64, spec: &str, input: String) -> Result<(), Error> {
        let (serial, model) = spec.split_once(char::is_whitespace).unwrap_or((spec, ""));
        let customer = self.store.ticket_summary(ticket)?.customer_id;
        let new = AssetInput {
            customer_id: Some(customer),
            model: Some(model.trim().to_string()),
            serial: Some(serial.to_string()).filter(|s| !s.is_empty()),
            ..AssetInput::default()
        };
        let tx = self.store.transaction()?;
        let id = match tx.create_asset(&new, &self.agent) {
            Ok(id) => id,
            Err(e @ Error::Invalid { .. }) => {
                self.overlay = Overlay::Input {
                    kind: InputKind::Asset,
                    error: Some((1, format!("{e} (write +SERIAL MODEL)"))),
                    input,
                };
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        tx.set_ticket_asset(ticket, Some(id), &self.agent)?;
        tx.commit()?;
        self.overlay = Overlay::None;
        if self.screen == Screen::Ticket {
            self.open_ticket(ticket)?;
        }
        let a = self.store.asset(id)?;
        self.set_info(format!(
            "new asset #{id} {}; ticket #{ticket} is about it",
            crate::sanitize::line(&asset_name(&a))
        ));
        Ok(())
    }

    pub(super) fn field_prompt(&mut self) {
        if self.screen != Screen::Asset && self.one_ticket().is_none() {
            self.set_error("fields are set for one ticket's file at a time: open or select one");
            return;
        }
        self.overlay = Overlay::Input {
            kind: InputKind::Field,
            input: String::new(),
            error: None,
        };
    }

    /// `tier=gold` (the customer's), `org.account_manager=Dana`,
    /// `asset.service_due=2027-01-31`, `ticket.order_no=123`; an empty
    /// value clears the field.
    pub(super) fn submit_field(&mut self, input: String) -> Result<(), Error> {
        let ticket = self.one_ticket();
        if ticket.is_none() && self.screen != Screen::Asset {
            self.overlay = Overlay::None;
            return Ok(());
        }
        match self.write_field(ticket, &input)? {
            Ok(done) => {
                self.overlay = Overlay::None;
                if let (Screen::Ticket, Some(t)) = (self.screen, ticket) {
                    self.open_ticket(t)?;
                }
                self.set_info(done);
            }
            Err(why) => {
                self.overlay = Overlay::Input {
                    kind: InputKind::Field,
                    error: Some((1, why)),
                    input,
                };
            }
        }
        Ok(())
    }

    fn write_field(
        &mut self,
        ticket: Option<i64>,
        input: &str,
    ) -> Result<std::result::Result<String, String>, Error> {
        let Some((lhs, raw)) = input.split_once('=') else {
            return Ok(Err(
                "write NAME=VALUE (customer), or org./asset./ticket.NAME=VALUE".into(),
            ));
        };
        let lhs = lhs.trim();
        // On the asset screen a bare name is the asset's.
        let shown_asset = match self.screen {
            Screen::Asset => self.asset.as_ref().map(|v| v.asset.id),
            _ => None,
        };
        let (entity, name) = match lhs.split_once('.') {
            Some((e, n)) => match Entity::parse(e) {
                Some(e) => (e, n),
                None => {
                    return Ok(Err(format!(
                        "`{e}` is not a record: customer, org, asset or ticket"
                    )))
                }
            },
            None if shown_asset.is_some() => (Entity::Asset, lhs),
            None => (Entity::Customer, lhs),
        };
        let owner = match (entity, shown_asset) {
            (Entity::Asset, Some(a)) => Some(a),
            (_, Some(_)) => {
                return Ok(Err(
                    "the asset screen sets the asset's fields: NAME=VALUE".into()
                ))
            }
            _ => {
                let Some(ticket) = ticket else {
                    return Ok(Err("open or select one ticket".into()));
                };
                match entity {
                    Entity::Customer => Some(self.store.ticket_summary(ticket)?.customer_id),
                    Entity::Ticket => Some(ticket),
                    Entity::Org => {
                        let customer = self.store.ticket_summary(ticket)?.customer_id;
                        self.store.customer_org(customer)?.0.map(|o| o.id)
                    }
                    Entity::Asset => self.store.ticket_asset(ticket)?,
                }
            }
        };
        let Some(owner) = owner else {
            return Ok(Err(match entity {
                Entity::Org => "the customer belongs to no organisation".into(),
                _ => "the ticket is about no asset: link one first".into(),
            }));
        };
        if let Some(done) = self.write_built_in(entity, owner, name.trim(), raw)? {
            return Ok(done);
        }
        let fields = &self.store.settings().fields;
        let (name, value) = match fields.parse(entity, name, raw) {
            Ok(v) => v,
            Err(e) => return Ok(Err(e.to_string())),
        };
        if value.is_none() && fields.get(entity, &name).is_some_and(|d| d.required) {
            return Ok(Err(format!(
                "{} field `{name}` is required: it cannot be cleared",
                entity.as_str()
            )));
        }
        let tx = self.store.transaction()?;
        let changed = tx.set_field(entity, owner, &name, value.as_ref(), &self.agent)?;
        tx.commit()?;
        if entity == Entity::Asset {
            self.show_asset_again(owner)?;
        }
        let shown = value.as_ref().map(|v| v.display()).unwrap_or_default();
        Ok(Ok(match (changed, value.is_some()) {
            (false, _) => format!("{} {name} unchanged", entity.as_str()),
            (true, true) => format!(
                "{} {name} = {}",
                entity.as_str(),
                crate::sanitize::line(&shown)
            ),
            (true, false) => format!("{} {name} cleared", entity.as_str()),
        }))
    }

    /// The attributes every record has (an asset's model, serial, dates and
    /// location; a customer's name and external id) are columns, not
    /// declared fields: written through their own checks. `None` when
    /// `name` is not one of them.
    #[allow(clippy::type_complexity)]
    fn write_built_in(
        &mut self,
        entity: Entity,
        owner: i64,
        name: &str,
        raw: &str,
    ) -> Result<Option<std::result::Result<String, String>>, Error> {
        let value = raw.trim().to_string();
        let column = match (entity, name) {
            (Entity::Asset, "model") => "model",
            (Entity::Asset, "serial") => "serial",
            (Entity::Asset, "purchased" | "purchase_date") => "purchased",
            (Entity::Asset, "warranty" | "warranty_until") => "warranty_until",
            (Entity::Asset, "location") => "location",
            (Entity::Asset | Entity::Customer, "external_id") => "external_id",
            (Entity::Customer, "name") => "name",
            _ => return Ok(None),
        };
        let tx = self.store.transaction()?;
        let written = match entity {
            Entity::Asset => {
                let mut input = AssetInput::default();
                let v = Some(value.clone());
                match column {
                    "model" => input.model = v,
                    "serial" => input.serial = v,
                    "purchased" => input.purchased = v,
                    "warranty_until" => input.warranty_until = v,
                    "location" => input.location = v,
                    _ => input.external_id = v,
                }
                tx.update_asset(owner, &input, &self.agent)
                    .map(|c| !c.is_empty())
            }
            _ if column == "name" => tx.set_customer_name(owner, &value, &self.agent),
            _ => tx.set_customer_external_id(
                owner,
                Some(value.as_str()).filter(|v| !v.is_empty()),
                &self.agent,
            ),
        };
        let changed = match written {
            Ok(c) => c,
            // A refused value (a taken serial, a bad date) stays in the
            // prompt with the reason.
            Err(e @ Error::Invalid { .. }) => return Ok(Some(Err(e.to_string()))),
            Err(e) => return Err(e),
        };
        tx.commit()?;
        if entity == Entity::Asset {
            self.show_asset_again(owner)?;
        }
        let what = entity.as_str();
        Ok(Some(Ok(match (changed, value.is_empty()) {
            (false, _) => format!("{what} {column} unchanged"),
            (true, true) => format!("{what} {column} cleared"),
            (true, false) => format!("{what} {column} = {}", crate::sanitize::line(&value)),
        })))
    }

    pub(super) fn record_note_prompt(&mut self) {
        self.overlay = Overlay::Input {
            kind: InputKind::RecordNote,
            input: String::new(),
            error: None,
        };
    }

    /// A note on the asset on screen, or on the customer whose timeline
    /// is on screen.
    pub(super) fn submit_record_note(&mut self, input: String) -> Result<(), Error> {
        let target = match self.screen {
            Screen::Asset => self.asset.as_ref().map(|v| (Entity::Asset, v.asset.id)),
            Screen::Timeline => self
                .timeline
                .as_ref()
                .map(|t| (Entity::Customer, t.customer)),
            _ => None,
        };
        let Some((entity, owner)) = target else {
            self.overlay = Overlay::None;
            return Ok(());
        };
        let tx = self.store.transaction()?;
        match tx.add_record_note(entity, owner, &self.agent, &input) {
            Ok(_) => tx.commit()?,
            Err(e @ Error::Invalid { .. }) => {
                self.overlay = Overlay::Input {
                    kind: InputKind::RecordNote,
                    error: Some((1, e.to_string())),
                    input,
                };
                return Ok(());
            }
            Err(e) => return Err(e),
        }
        self.overlay = Overlay::None;
        match entity {
            Entity::Asset => self.show_asset_again(owner)?,
            _ => {
                let notes = self.store.record_notes(Entity::Customer, owner)?;
                if let Some(t) = self.timeline.as_mut() {
                    t.notes = notes;
                }
            }
        }
        self.set_info(format!("note added to the {}'s file", entity.as_str()));
        Ok(())
    }

    /// After an edit, the asset screen shows the asset as stored now.
    fn show_asset_again(&mut self, id: i64) -> Result<(), Error> {
        if self.screen == Screen::Asset && self.asset.as_ref().is_some_and(|v| v.asset.id == id) {
            let selected = self.asset.as_ref().map_or(0, |v| v.selected);
            self.show_asset(id)?;
            if let Some(v) = self.asset.as_mut() {
                v.selected = selected.min(v.tickets.len().saturating_sub(1));
            }
        }
        Ok(())
    }
}
