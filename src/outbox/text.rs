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
                let result = self.send_sms(&item).await;
                let unreachable = match &result {
                    Err(e) if e.transient => Some(e.to_string()),
                    _ => None,
                };
                let status = result.as_ref().ok().map(|(_, st)| st.clone());
                let tx = store.transaction()?;
                record_in(&tx, &item, Outcome::from_sms(result), report)?;
                if let Some(st) = status {
                    tx.set_delivery(item.id, &st, None)?;
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

    pub(super) async fn twilio(
        &mut self,
        acct: &crate::channel::sms::account::SmsAccount,
    ) -> Result<&Twilio, SmsError> {
        if !self.twilio.contains_key(&acct.name) {
            let t = Twilio::new(acct).await?;
            self.twilio.insert(acct.name.clone(), t);
        }
        self.twilio
            .get(&acct.name)
            .ok_or_else(|| SmsError::new(&acct.name, "setup", "no client", true))
    }

    /// The message SID (or spool name) and the gateway's status.
    pub(super) async fn send_sms(
        &mut self,
        item: &OutboxItem,
    ) -> Result<(String, String), SmsError> {
        use crate::channel::sms::account::Kind;
        let acct = item
            .account
            .as_deref()
            .and_then(|n| self.config.sms.iter().find(|a| a.name == n))
            .cloned()
            .ok_or_else(|| SmsError::new("", "send", "no [[sms]] account to send from", false))?;
        crate::channel::sms::check_length(&acct, &item.body)
            .map_err(|e| SmsError::new(&acct.name, "send", &e, false))?;
        match acct.kind {
            Kind::Twilio => {
                let m = self
                    .twilio(&acct)
                    .await?
                    .send(&item.recipient, &item.body)
                    .await?;
                Ok((m.sid, m.status))
            }
            Kind::Smstools => crate::channel::sms::smstools::send(&acct, item)
                .map(|name| (name, "queued".to_string())),
            Kind::Gammu => {
                crate::channel::sms::gammu::send(&acct, item).map(|id| (id, "queued".to_string()))
            }
        }
    }

    /// Asks the gateways what became of sent texts whose delivery is open.
    pub(super) async fn check_deliveries(
        &mut self,
        store: &mut Store,
        report: &mut SendReport,
    ) -> crate::Result<()> {
        use crate::channel::sms::account::Kind;
        let waiting = store.awaiting_delivery(200)?;
        for w in waiting {
            let Some(acct) = self
                .config
                .sms
                .iter()
                .find(|a| a.name == w.account)
                .cloned()
            else {
                continue;
            };
            let found = match acct.kind {
                Kind::Twilio => {
                    let Ok(api) = self.twilio(&acct).await else {
                        continue;
                    };
                    match api.fetch(&w.provider_ref).await {
                        Ok(m) => Some((
                            m.status,
                            m.error_code.map(|c| {
                                format!("error {c}: {}", m.error_message.unwrap_or_default())
                            }),
                        )),
                        Err(e) => {
                            tracing::info!("delivery of outbox {}: {e}", w.outbox_id);
                            None
                        }
                    }
                }
                Kind::Smstools => crate::channel::sms::smstools::delivery(&acct, &w.provider_ref),
                Kind::Gammu => crate::channel::sms::gammu::delivery(&acct, &w.provider_ref),
            };
            report.deliveries_checked += 1;
            if let Some((status, detail)) = found {
                if w.delivery.as_deref() != Some(status.as_str()) {
                    let tx = store.transaction()?;
                    tx.set_delivery(w.outbox_id, &status, detail.as_deref())?;
                    tx.commit()?;
                    report.deliveries_changed += 1;
                }
            }
        }
        Ok(())
    }
}
