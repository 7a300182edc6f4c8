//! Texts out: one send at a time through the account's gateway (Twilio,
//! smstools, Gammu), and the delivery reports asked for afterwards.

use super::*;

impl Sender {
    pub(super) async fn send_sms_due(
        &mut self,
        store: &mut Store,
        report: &mut SendReport,
    ) -> crate::Result<()> {
        let mut last_beat = Instant::now();
        'rounds: while !self.stop.load(Ordering::Relaxed) {
            let candidates = {
                let tx = store.transaction()?;
                let mut out = Vec::new();
                for (id, ticket) in tx.due_ids("sms", ROUND)? {
                    let wrote_to = tx.inbound_account(ticket)?;
                    let acct =
                        crate::channel::sms::account_for(&self.config.sms, wrote_to.as_deref())
                            .map(|a| a.name.clone());
                    if !acct.as_deref().is_some_and(|a| self.is_down(a)) {
                        out.push((id, acct));
                    }
                }
                tx.commit()?;
                out
            };
            if candidates.is_empty() {
                break;
            }
            for (id, account) in candidates {
                if self.stop.load(Ordering::Relaxed) {
                    break 'rounds;
                }
                if account.as_deref().is_some_and(|a| self.is_down(a)) {
                    continue;
                }
                let item = {
                    let tx = store.transaction()?;
                    if last_beat.elapsed() > HEARTBEAT {
                        tx.sender_heartbeat(&self.owner)?;
                        last_beat = Instant::now();
                    }
                    let item = tx.claim(id, &self.owner)?;
                    tx.commit()?;
                    item
                };
                let Some(mut item) = item else { continue };
                item.account.clone_from(&account);
                let outcome = self.send_sms(&item).await;
                let unreachable = match &outcome {
                    Outcome::Retry {
                        reason,
                        unreachable: true,
                        ..
                    } => Some(reason.clone()),
                    _ => None,
                };
                let tx = store.transaction()?;
                if let Outcome::Sent {
                    status: Some(st), ..
                } = &outcome
                {
                    let st = st.clone();
                    record_in(&tx, &item, outcome, report)?;
                    tx.set_delivery(item.id, &st, None)?;
                } else {
                    record_in(&tx, &item, outcome, report)?;
                }
                tx.commit()?;
                if let Some(a) = &account {
                    match &unreachable {
                        Some(why) => {
                            self.mark_down(a);
                            store.record_poll(a, crate::store::SEND_STATUS, Err(why));
                        }
                        None => {
                            self.down.remove(a);
                            store.record_poll(a, crate::store::SEND_STATUS, Ok(0));
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// The gateway of the account an entry leaves through, made once.
    fn gateway(&mut self, account: &str) -> Option<&mut Gateway> {
        if !self.gateways.contains_key(account) {
            let acct = self.config.sms_account(account)?;
            self.gateways
                .insert(account.to_string(), Gateway::new(acct));
        }
        self.gateways.get_mut(account)
    }

    /// Prepares and sends one text through its account's gateway.
    pub(super) async fn send_sms(&mut self, item: &OutboxItem) -> Outcome {
        let Some(gateway) = item.account.clone().and_then(|n| self.gateway(&n)) else {
            return Outcome::Permanent("no [[sms]] account to send from".into());
        };
        match gateway.prepare(item) {
            Ok(text) => gateway.send(&text, item).await,
            Err(why) => Outcome::Permanent(why),
        }
    }

    /// Asks the gateways what became of sent texts whose delivery is open.
    pub(super) async fn check_deliveries(
        &mut self,
        store: &mut Store,
        report: &mut SendReport,
    ) -> crate::Result<()> {
        let waiting = store.awaiting_delivery(200)?;
        for w in waiting {
            let Some(gateway) = self.gateway(&w.account) else {
                continue;
            };
            let found = gateway.delivery(&w.provider_ref).await;
            report.deliveries_checked += 1;
            if let Some(d) = found {
                if w.delivery.as_deref() != Some(d.status.as_str()) {
                    let tx = store.transaction()?;
                    tx.set_delivery(w.outbox_id, &d.status, d.detail.as_deref())?;
                    tx.commit()?;
                    report.deliveries_changed += 1;
                }
            }
        }
        Ok(())
    }
}
