//! Tickets out for other departments' tools: JSON Lines (one ticket with
//! its customer, fields, asset and messages per line), CSV (one row per
//! message, with the ticket's and customer's columns), or mbox (the
//! customers' mail, which `echodesk import` reads back into the same
//! tickets). Streamed ticket by ticket: memory holds one ticket at a time.

use std::io::Write;

use serde::Serialize;
use serde_json::{json, Value};

use crate::error::{Error, Result};
use crate::fields::Entity;
use crate::model::{Channel, Direction, TicketDetail};
use crate::store::Store;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Jsonl,
    Csv,
    Mbox,
}

impl Format {
    pub fn parse(s: &str) -> std::result::Result<Format, String> {
        match s {
            "jsonl" | "json" | "ndjson" => Ok(Format::Jsonl),
            "csv" => Ok(Format::Csv),
            "mbox" => Ok(Format::Mbox),
            other => Err(format!("`{other}` is not a format: csv, jsonl or mbox")),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Exported {
    pub tickets: usize,
    pub messages: usize,
    /// mbox: messages that are not customers' mail (texts, faxes, our
    /// replies, notes), left out.
    pub left_out: usize,
}

fn io(e: impl std::fmt::Display) -> Error {
    Error::Other(format!("writing the export: {e}"))
}

/// Writes the tickets `ids` (in this order) as `format`.
pub fn export(store: &Store, ids: &[i64], format: Format, out: &mut dyn Write) -> Result<Exported> {
    let mut n = Exported::default();
    let customer_fields: Vec<String> = store
        .settings()
        .fields
        .of(Entity::Customer)
        .map(|d| d.name.clone())
        .collect();
    let ticket_fields: Vec<String> = store
        .settings()
        .fields
        .of(Entity::Ticket)
        .map(|d| d.name.clone())
        .collect();
    let mut sink = match format {
        Format::Csv => Sink::Csv(Box::new(csv::Writer::from_writer(out))),
        Format::Jsonl | Format::Mbox => Sink::Bytes(out),
    };
    if let Sink::Csv(w) = &mut sink {
        let mut header: Vec<String> = [
            "ticket_id",
            "subject",
            "state",
            "priority",
            "ticket_channel",
            "tags",
            "assignee",
            "created",
            "customer_id",
            "customer_name",
            "customer_email",
            "customer_phone",
            "org",
            "asset_model",
            "asset_serial",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        header.extend(customer_fields.iter().map(|f| format!("customer.{f}")));
        header.extend(ticket_fields.iter().map(|f| format!("ticket.{f}")));
        header.extend(
            [
                "message_id",
                "at",
                "direction",
                "channel",
                "from",
                "author",
                "attachments",
                "text",
            ]
            .iter()
            .map(|s| s.to_string()),
        );
        w.write_record(&header).map_err(io)?;
    }
    for &id in ids {
        let t = store.ticket(id)?;
        let cfile = store.customer_org(t.customer.id)?.0;
        let cfields = store.fields_of(Entity::Customer, t.customer.id)?;
        let tfields = store.fields_of(Entity::Ticket, id)?;
        let asset = match store.ticket_asset(id)? {
            Some(a) => Some(store.asset(a)?),
            None => None,
        };
        n.tickets += 1;
        match (&mut sink, format) {
            (Sink::Bytes(out), Format::Jsonl) => {
                let v = json!({
                    "ticket": {
                        "id": t.summary.id,
                        "subject": t.summary.subject,
                        "state": t.summary.state,
                        "priority": t.summary.priority,
                        "channel": t.summary.channel,
                        "assignee": t.summary.assignee,
                        "tags": t.summary.tags,
                        "created_at": t.summary.created_at,
                        "updated_at": t.summary.updated_at,
                        "solved_at": t.summary.solved_at,
                        "fields": pairs(&tfields),
                    },
                    "customer": {
                        "id": t.customer.id,
                        "name": t.customer.name,
                        "external_id": store.customer_external_id(t.customer.id)?,
                        "identities": t.customer.identities,
                        "org": cfile.as_ref().map(|o| o.name.clone()),
                        "fields": pairs(&cfields),
                    },
                    "asset": asset,
                    "messages": t.messages.iter().map(|m| json!({
                        "id": m.id,
                        "message_id": m.message_id,
                        "direction": m.direction,
                        "channel": m.channel,
                        "at": m.received_at,
                        "from": m.from_addr,
                        "from_name": m.from_name,
                        "author": m.author,
                        "subject": m.subject,
                        "text": m.body_text,
                        "attachments": m.attachments.iter().map(|a| json!({
                            "filename": a.filename, "content_type": a.content_type, "size": a.size,
                        })).collect::<Vec<_>>(),
                    })).collect::<Vec<_>>(),
                });
                n.messages += t.messages.len();
                let line = crate::sanitize::json(&v, false).map_err(io)?;
                writeln!(out, "{line}").map_err(io)?;
            }
            (Sink::Csv(w), _) => {
                let cell = crate::tables::cell;
                let ident = |k: crate::model::IdentityKind| {
                    t.customer
                        .identities
                        .iter()
                        .filter(|i| i.kind == k)
                        .map(|i| i.value.clone())
                        .collect::<Vec<_>>()
                        .join("; ")
                };
                let mut lead = vec![
                    t.summary.id.to_string(),
                    cell(&t.summary.subject),
                    cell(&t.summary.state),
                    t.summary.priority.to_string(),
                    t.summary.channel.as_str().to_string(),
                    cell(&t.summary.tags.join(" ")),
                    cell(t.summary.assignee.as_deref().unwrap_or("")),
                    crate::present::datetime(t.summary.created_at),
                    t.customer.id.to_string(),
                    cell(&t.customer.name),
                    cell(&ident(crate::model::IdentityKind::Email)),
                    cell(&ident(crate::model::IdentityKind::Phone)),
                    cell(cfile.as_ref().map_or("", |o| o.name.as_str())),
                    cell(asset.as_ref().map_or("", |a| a.model.as_str())),
                    cell(
                        asset
                            .as_ref()
                            .and_then(|a| a.serial.as_deref())
                            .unwrap_or(""),
                    ),
                ];
                lead.extend(customer_fields.iter().map(|f| cell(&value(&cfields, f))));
                lead.extend(ticket_fields.iter().map(|f| cell(&value(&tfields, f))));
                for m in &t.messages {
                    let mut row = lead.clone();
                    row.extend([
                        m.id.to_string(),
                        crate::present::datetime(m.received_at),
                        m.direction.as_str().to_string(),
                        m.channel.as_str().to_string(),
                        cell(&m.from_addr),
                        cell(m.author.as_deref().unwrap_or("")),
                        cell(
                            &m.attachments
                                .iter()
                                .map(|a| a.filename.as_str())
                                .collect::<Vec<_>>()
                                .join("; "),
                        ),
                        text_cell(&m.body_text),
                    ]);
                    w.write_record(&row).map_err(io)?;
                    n.messages += 1;
                }
            }
            (Sink::Bytes(out), _) => mbox_ticket(store, &t, *out, &mut n)?,
        }
    }
    match &mut sink {
        Sink::Csv(w) => w.flush().map_err(io)?,
        Sink::Bytes(out) => out.flush().map_err(io)?,
    }
    Ok(n)
}

enum Sink<'a> {
    Csv(Box<csv::Writer<&'a mut dyn Write>>),
    Bytes(&'a mut dyn Write),
}

fn pairs(fields: &[(String, String)]) -> Value {
    fields
        .iter()
        .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

fn value(fields: &[(String, String)], name: &str) -> String {
    fields
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

/// A message's text as a CSV cell: lines kept, controls gone, and a
/// leading formula character quoted for spreadsheets.
fn text_cell(s: &str) -> String {
    let s = crate::sanitize::text(s);
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s
    }
}

/// The customers' mail of one ticket, each as RFC 5322 in an mbox
/// ("From " lines in bodies quoted). Every message after the ticket's
/// first refers to the first, so an import threads them into one ticket
/// whatever our replies' Message-IDs were.
fn mbox_ticket(
    store: &Store,
    t: &TicketDetail,
    out: &mut dyn Write,
    n: &mut Exported,
) -> Result<()> {
    use lettre::message::header::ContentType;
    use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
    let mut root: Option<String> = None;
    for m in &t.messages {
        let mail = m.direction == Direction::In && m.channel == Channel::Email;
        let from: Option<Mailbox> = mail
            .then(|| {
                let addr = m.from_addr.parse().ok()?;
                Some(Mailbox::new(m.from_name.clone(), addr))
            })
            .flatten();
        let Some(from) = from else {
            n.left_out += 1;
            continue;
        };
        let from_addr = from.email.clone();
        let mid = m
            .message_id
            .clone()
            .unwrap_or_else(|| format!("echodesk-export.{}.{}@localhost", t.summary.id, m.id));
        let mut b = lettre::Message::builder()
            .from(from)
            .subject(m.subject.clone())
            .date(
                std::time::UNIX_EPOCH + std::time::Duration::from_secs(m.received_at.max(0) as u64),
            )
            .message_id(Some(format!("<{mid}>")))
            .header(ExportTicket(t.summary.id.to_string()));
        match m.to_addr.parse::<Mailbox>() {
            Ok(to) => b = b.to(to),
            // No readable recipient: no To header, and an envelope (which
            // an mbox does not keep) that satisfies the builder.
            Err(_) => {
                let env = lettre::address::Envelope::new(
                    Some(from_addr.clone()),
                    vec![from_addr.clone()],
                )
                .map_err(|e| Error::Other(format!("ticket #{}: {e}", t.summary.id)))?;
                b = b.envelope(env);
            }
        }
        if let Some(r) = &root {
            b = b.in_reply_to(format!("<{r}>")).references(format!("<{r}>"));
        }
        let built = if m.attachments.is_empty() {
            b.header(ContentType::TEXT_PLAIN).body(m.body_text.clone())
        } else {
            let mut parts = MultiPart::mixed().singlepart(SinglePart::plain(m.body_text.clone()));
            for a in &m.attachments {
                let data = store.blob(&a.sha256)?;
                let ct = ContentType::parse(&a.content_type).unwrap_or_else(|_| {
                    ContentType::parse("application/octet-stream").expect("valid")
                });
                parts = parts.singlepart(Attachment::new(a.filename.clone()).body(data, ct));
            }
            b.multipart(parts)
        }
        .map_err(|e| Error::Other(format!("ticket #{} message {}: {e}", t.summary.id, m.id)))?;
        let raw = built.formatted();
        let when = chrono::DateTime::from_timestamp(m.received_at, 0)
            .map(|d| d.format("%a %b %e %H:%M:%S %Y").to_string())
            .unwrap_or_default();
        let sender = m.from_addr.replace(char::is_whitespace, "");
        writeln!(out, "From {sender} {when}").map_err(io)?;
        for line in raw.split(|b| *b == b'\n') {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            // mboxrd: ">From " and "From " lines gain one more ">".
            let quoted = line
                .iter()
                .position(|b| *b != b'>')
                .is_some_and(|i| line[i..].starts_with(b"From "));
            if quoted {
                out.write_all(b">").map_err(io)?;
            }
            out.write_all(line).map_err(io)?;
            out.write_all(b"\n").map_err(io)?;
        }
        n.messages += 1;
        if root.is_none() {
            root = Some(mid);
        }
    }
    Ok(())
}

/// `X-Echodesk-Ticket`: the ticket a message was exported from.
#[derive(Clone)]
struct ExportTicket(String);

impl lettre::message::header::Header for ExportTicket {
    fn name() -> lettre::message::header::HeaderName {
        lettre::message::header::HeaderName::new_from_ascii_str("X-Echodesk-Ticket")
    }
    fn parse(s: &str) -> std::result::Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(ExportTicket(s.to_string()))
    }
    fn display(&self) -> lettre::message::header::HeaderValue {
        lettre::message::header::HeaderValue::new(Self::name(), self.0.clone())
    }
}
