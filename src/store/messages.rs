//! Messages, their attachments, and the content-addressed blob table.

use rusqlite::{params, OptionalExtension};

use super::{Store, Tx};
use crate::error::{Error, Result};
use crate::model::{Attachment, AutoKind, Channel, Direction, Message};

pub struct NewAttachment<'a> {
    pub filename: &'a str,
    pub content_type: &'a str,
    pub data: &'a [u8],
}

pub struct NewMessage<'a> {
    pub ticket_id: i64,
    pub direction: Direction,
    pub channel: Channel,
    pub account: &'a str,
    pub provider_id: Option<&'a str>,
    pub message_id: Option<&'a str>,
    pub refs: &'a [String],
    pub from_addr: &'a str,
    pub from_name: Option<&'a str>,
    pub to_addr: &'a str,
    pub subject: &'a str,
    pub body_text: &'a str,
    pub body_html: Option<&'a str>,
    pub received_at: i64,
    pub author: Option<&'a str>,
    pub auto_kind: Option<AutoKind>,
    pub parse_error: Option<&'a str>,
    pub raw: Option<&'a [u8]>,
    pub attachments: &'a [NewAttachment<'a>],
}

/// A stable 64-bit hash (FNV-1a) of a lookup value, indexed in place of
/// the text. Collisions only cost a comparison: lookups check the text.
pub(crate) fn lookup_key(text: &str) -> i64 {
    fnv1a(&[text.as_bytes()])
}

/// The lookup key of a provider id, which is unique per account: the hash
/// of `account \0 provider_id`, without building that string per message.
pub(crate) fn provider_key(account: &str, provider_id: &str) -> i64 {
    fnv1a(&[account.as_bytes(), b"\0", provider_id.as_bytes()])
}

fn fnv1a(parts: &[&[u8]]) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in parts.iter().flat_map(|p| p.iter()) {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h as i64
}

pub use crate::digest::sha256_hex;

impl Tx<'_> {
    /// Stores bytes once under their SHA-256 and returns the hash.
    pub fn put_blob(&self, data: &[u8]) -> Result<String> {
        let sha = sha256_hex(data);
        self.tx
            .prepare_cached("INSERT OR IGNORE INTO blobs (sha256, size, data) VALUES (?, ?, ?)")?
            .execute(params![sha, data.len() as i64, data])?;
        Ok(sha)
    }

    pub fn insert_message(&self, m: &NewMessage<'_>) -> Result<i64> {
        let raw_sha = m.raw.map(|r| self.put_blob(r)).transpose()?;
        let refs = (!m.refs.is_empty()).then(|| m.refs.join(" "));
        self.tx
            .prepare_cached(
                "INSERT INTO messages (ticket_id, direction, channel, account, provider_id,
                 message_id, refs, from_addr, from_name, to_addr, subject, body_text, body_html,
                 received_at, author, auto_kind, parse_error, raw_sha256, provider_key, mid_key)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )?
            .execute(params![
                m.ticket_id,
                m.direction.as_str(),
                m.channel.as_str(),
                m.account,
                m.provider_id,
                m.message_id,
                refs,
                m.from_addr,
                m.from_name,
                m.to_addr,
                m.subject,
                m.body_text,
                m.body_html,
                m.received_at,
                m.author,
                m.auto_kind.map(AutoKind::as_str),
                m.parse_error,
                raw_sha,
                m.provider_id.map(|p| provider_key(m.account, p)),
                m.message_id.map(lookup_key),
            ])?;
        let id = self.tx.last_insert_rowid();
        self.mark_dirty(m.ticket_id);
        self.mark_report_dirty(m.ticket_id);
        self.note_text(m.ticket_id, m.subject, m.body_text);
        for a in m.attachments {
            self.attach(id, a)?;
        }
        Ok(id)
    }

    /// Adds an attachment to a stored message (a reply's files).
    pub fn attach(&self, message: i64, a: &NewAttachment<'_>) -> Result<()> {
        let sha = self.put_blob(a.data)?;
        self.tx
            .prepare_cached(
                "INSERT INTO attachments (message_id, filename, content_type, size, sha256)
                 VALUES (?, ?, ?, ?, ?)",
            )?
            .execute(params![
                message,
                a.filename,
                a.content_type,
                a.data.len() as i64,
                sha
            ])?;
        Ok(())
    }

    /// (file name, content type, bytes) of a message's attachments.
    pub fn attachment_files(&self, message: i64) -> Result<Vec<(String, String, Vec<u8>)>> {
        let rows = self
            .tx
            .prepare_cached(
                "SELECT a.filename, a.content_type, b.data FROM attachments a
                 JOIN blobs b ON b.sha256 = a.sha256 WHERE a.message_id = ? ORDER BY a.id",
            )?
            .query_map([message], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    /// Is a message with this provider id already stored for the account?
    pub fn has_provider_id(&self, account: &str, provider_id: &str) -> Result<bool> {
        Ok(self
            .tx
            .prepare_cached(
                "SELECT 1 FROM messages WHERE provider_key = ? AND account = ? AND provider_id = ?",
            )?
            .exists(params![
                provider_key(account, provider_id),
                account,
                provider_id
            ])?)
    }

    pub fn has_message_id(&self, account: &str, message_id: &str) -> Result<bool> {
        Ok(self
            .tx
            .prepare_cached(
                "SELECT 1 FROM messages WHERE mid_key = ? AND message_id = ? AND account = ?",
            )?
            .exists(params![lookup_key(message_id), message_id, account])?)
    }

    /// The ticket of the newest stored message whose Message-ID is among
    /// `ids` (the In-Reply-To and References of an incoming message).
    pub fn ticket_by_message_ids(&self, ids: &[String]) -> Result<Option<i64>> {
        let mut stmt = self.tx.prepare_cached(
            "SELECT ticket_id FROM messages WHERE mid_key = ? AND message_id = ?
             ORDER BY id DESC LIMIT 1",
        )?;
        // The last reference is the direct parent: try it first.
        for id in ids.iter().rev() {
            if let Some(t) = stmt
                .query_row(params![lookup_key(id), id], |r| r.get(0))
                .optional()?
            {
                return Ok(Some(t));
            }
        }
        Ok(None)
    }

    pub fn ticket_exists(&self, id: i64) -> Result<bool> {
        Ok(self
            .tx
            .prepare_cached("SELECT 1 FROM tickets WHERE id = ?")?
            .exists([id])?)
    }

    /// Whether someone may join ticket `id` by its subject tag: its
    /// customer, or whoever already wrote on it from `addr`.
    pub fn is_on_ticket(&self, id: i64, customer_id: i64, addr: &str) -> Result<bool> {
        let own: bool = self
            .tx
            .prepare_cached("SELECT 1 FROM tickets WHERE id = ? AND customer_id = ?")?
            .exists(params![id, customer_id])?;
        if own || addr.trim().is_empty() {
            return Ok(own);
        }
        Ok(self
            .tx
            .prepare_cached(
                "SELECT 1 FROM messages WHERE ticket_id = ? AND direction = 'in'
                   AND from_addr = ? COLLATE NOCASE LIMIT 1",
            )?
            .exists(params![id, addr.trim()])?)
    }

    /// The customer's most recently active ticket on this channel, with its
    /// state; used to thread phone-number channels that have no headers.
    pub fn latest_customer_ticket(
        &self,
        customer_id: i64,
        channel: Channel,
    ) -> Result<Option<(i64, String, Option<i64>)>> {
        Ok(self
            .tx
            .prepare_cached(
                "SELECT id, state, solved_at FROM tickets WHERE customer_id = ? AND channel = ?
                 ORDER BY updated_at DESC, id DESC LIMIT 1",
            )?
            .query_row(params![customer_id, channel.as_str()], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()?)
    }
}

impl Store {
    pub fn messages(&self, ticket_id: i64) -> Result<Vec<Message>> {
        let mut msgs: Vec<Message> = self
            .conn
            .prepare_cached(
                "SELECT id, ticket_id, direction, channel, account, provider_id, message_id,
                 from_addr, from_name, to_addr, subject, body_text, body_html, received_at, author,
                 auto_kind, parse_error FROM messages WHERE ticket_id = ? ORDER BY received_at, id",
            )?
            .query_map([ticket_id], |r| {
                let dir: String = r.get(2)?;
                let ch: String = r.get(3)?;
                let auto: Option<String> = r.get(15)?;
                Ok(Message {
                    id: r.get(0)?,
                    ticket_id: r.get(1)?,
                    direction: Direction::parse(&dir).unwrap_or(Direction::In),
                    channel: Channel::parse(&ch).unwrap_or(Channel::Email),
                    account: r.get(4)?,
                    provider_id: r.get(5)?,
                    message_id: r.get(6)?,
                    from_addr: r.get(7)?,
                    from_name: r.get(8)?,
                    to_addr: r.get(9)?,
                    subject: r.get(10)?,
                    body_text: r.get(11)?,
                    body_html: r.get(12)?,
                    received_at: r.get(13)?,
                    author: r.get(14)?,
                    auto_kind: auto.as_deref().and_then(AutoKind::parse),
                    parse_error: r.get(16)?,
                    attachments: Vec::new(),
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, filename, content_type, size, sha256 FROM attachments WHERE message_id = ? ORDER BY id",
        )?;
        for m in &mut msgs {
            m.attachments = stmt
                .query_map([m.id], |r| {
                    Ok(Attachment {
                        id: r.get(0)?,
                        filename: r.get(1)?,
                        content_type: r.get(2)?,
                        size: r.get(3)?,
                        sha256: r.get(4)?,
                    })
                })?
                .collect::<rusqlite::Result<_>>()?;
        }
        Ok(msgs)
    }

    /// The stored message with this RFC Message-ID (the newest if several
    /// accounts hold it).
    pub fn find_message(&self, message_id: &str) -> Result<Option<Message>> {
        let ticket: Option<(i64, i64)> = self
            .conn
            .prepare_cached(
                "SELECT ticket_id, id FROM messages WHERE mid_key = ? AND message_id = ?
                 ORDER BY id DESC LIMIT 1",
            )?
            .query_row(params![lookup_key(message_id), message_id], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        let Some((ticket, id)) = ticket else {
            return Ok(None);
        };
        Ok(self.messages(ticket)?.into_iter().find(|m| m.id == id))
    }

    /// The start of the newest customer message's text, at most `chars`
    /// characters: what a preview shows.
    pub fn latest_text(&self, ticket: i64, chars: usize) -> Result<Option<String>> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT substr(body_text, 1, ?2) FROM messages
                 WHERE ticket_id = ?1 AND direction = 'in'
                 ORDER BY received_at DESC, id DESC LIMIT 1",
            )?
            .query_row(rusqlite::params![ticket, chars as i64], |r| r.get(0))
            .optional()?)
    }

    /// Where the outbox will send a message: (channel, recipient).
    pub fn outbox_recipient(&self, message_id: i64) -> Result<Option<String>> {
        Ok(self
            .conn
            .prepare_cached("SELECT recipient FROM outbox WHERE message_id = ?")?
            .query_row([message_id], |r| r.get(0))
            .optional()?)
    }

    /// The outbox state of an outbound message, if it went through the outbox.
    pub fn outbox_status(&self, message_id: i64) -> Result<Option<String>> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT status || coalesce(' · ' || delivery, '') FROM outbox WHERE message_id = ?",
            )?
            .query_row([message_id], |r| r.get(0))
            .optional()?)
    }

    pub fn blob(&self, sha256: &str) -> Result<Vec<u8>> {
        self.conn
            .prepare_cached("SELECT data FROM blobs WHERE sha256 = ?")?
            .query_row([sha256], |r| r.get(0))
            .optional()?
            .ok_or_else(|| Error::Other(format!("blob {sha256} is missing from the store")))
    }

    /// The raw bytes kept for a message that could not be parsed.
    pub fn raw_message(&self, message_id: i64) -> Result<Option<Vec<u8>>> {
        let sha: Option<String> = self
            .conn
            .query_row(
                "SELECT raw_sha256 FROM messages WHERE id = ?",
                [message_id],
                |r| r.get(0),
            )
            .optional()?
            .flatten();
        sha.map(|s| self.blob(&s)).transpose()
    }
}
