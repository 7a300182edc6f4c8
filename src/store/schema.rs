//! Versioned schema. Each entry is one migration; never edit a released one,
//! append a new one.

use rusqlite_migration::{Migrations, M};

const V1: &str = r#"
CREATE TABLE customers (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    preferred_channel TEXT
);

CREATE TABLE identities (
    id          INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    kind        TEXT NOT NULL CHECK (kind IN ('email', 'phone', 'fax')),
    value       TEXT NOT NULL,
    UNIQUE (kind, value)
);
CREATE INDEX identities_customer ON identities(customer_id);

CREATE TABLE tickets (
    id                INTEGER PRIMARY KEY,
    subject           TEXT NOT NULL,
    state             TEXT NOT NULL,
    priority          INTEGER NOT NULL DEFAULT 1,
    assignee          TEXT,
    channel           TEXT NOT NULL CHECK (channel IN ('email', 'fax', 'sms')),
    customer_id       INTEGER NOT NULL REFERENCES customers(id),
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    first_response_at INTEGER,
    solved_at         INTEGER,
    linked_ticket_id  INTEGER REFERENCES tickets(id),
    snoozed_until     INTEGER,
    version           INTEGER NOT NULL DEFAULT 1
);
-- Indexes ending in the keyset (updated_at, id), so that a page at any
-- depth is an index range scan, also for a view with few matches (walking
-- tickets_updated to find them would read the whole table).
CREATE INDEX tickets_updated  ON tickets(updated_at, id);
CREATE INDEX tickets_created  ON tickets(created_at, id);
CREATE INDEX tickets_state    ON tickets(state, updated_at, id);
CREATE INDEX tickets_assignee ON tickets(assignee, updated_at, id);
CREATE INDEX tickets_channel  ON tickets(channel, updated_at, id);
CREATE INDEX tickets_priority ON tickets(priority, updated_at, id);
CREATE INDEX tickets_customer ON tickets(customer_id, updated_at);

CREATE TABLE ticket_tags (
    ticket_id INTEGER NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
    tag       TEXT NOT NULL,
    PRIMARY KEY (ticket_id, tag)
) WITHOUT ROWID;
CREATE INDEX ticket_tags_tag ON ticket_tags(tag, ticket_id);

-- Content-addressed blobs: attachments and the raw bytes of messages that
-- could not be parsed. Identical files are stored once.
CREATE TABLE blobs (
    sha256 TEXT PRIMARY KEY,
    size   INTEGER NOT NULL,
    data   BLOB NOT NULL
);

CREATE TABLE messages (
    id          INTEGER PRIMARY KEY,
    ticket_id   INTEGER NOT NULL REFERENCES tickets(id),
    direction   TEXT NOT NULL CHECK (direction IN ('in', 'out', 'note')),
    channel     TEXT NOT NULL,
    account     TEXT NOT NULL,
    provider_id TEXT,
    message_id  TEXT,
    refs        TEXT,
    from_addr   TEXT NOT NULL,
    from_name   TEXT,
    to_addr     TEXT NOT NULL DEFAULT '',
    subject     TEXT NOT NULL DEFAULT '',
    body_text   TEXT NOT NULL DEFAULT '',
    body_html   TEXT,
    received_at INTEGER NOT NULL,
    author      TEXT,
    auto_kind   TEXT,
    parse_error TEXT,
    raw_sha256  TEXT REFERENCES blobs(sha256)
);
CREATE UNIQUE INDEX messages_provider ON messages(account, provider_id)
    WHERE provider_id IS NOT NULL;
CREATE INDEX messages_message_id ON messages(message_id) WHERE message_id IS NOT NULL;
CREATE INDEX messages_ticket ON messages(ticket_id, received_at);

CREATE TABLE attachments (
    id           INTEGER PRIMARY KEY,
    message_id   INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    filename     TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size         INTEGER NOT NULL,
    sha256       TEXT NOT NULL REFERENCES blobs(sha256)
);
CREATE INDEX attachments_message ON attachments(message_id);

CREATE TABLE events (
    id          INTEGER PRIMARY KEY,
    ticket_id   INTEGER REFERENCES tickets(id),
    customer_id INTEGER,
    at          INTEGER NOT NULL,
    agent       TEXT NOT NULL,
    kind        TEXT NOT NULL,
    old         TEXT,
    new         TEXT,
    rule        TEXT
);
CREATE INDEX events_ticket ON events(ticket_id, id);

-- Durable send queue, worked by the outbox worker alone.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    message_id      INTEGER NOT NULL REFERENCES messages(id),
    ticket_id       INTEGER NOT NULL REFERENCES tickets(id),
    channel         TEXT NOT NULL,
    account         TEXT NOT NULL,
    recipient       TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('queued', 'sending', 'sent', 'failed', 'unknown', 'cancelled')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT,
    provider_ref    TEXT,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE INDEX outbox_due ON outbox(status, next_attempt_at);

-- Per-account poll positions (IMAP UIDVALIDITY/UID, SMS date cursors, ...).
CREATE TABLE cursors (
    account    TEXT NOT NULL,
    scope      TEXT NOT NULL,
    value      TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (account, scope)
) WITHOUT ROWID;

-- Which agent is looking at or replying to which ticket.
CREATE TABLE presence (
    agent        TEXT PRIMARY KEY,
    ticket_id    INTEGER,
    activity     TEXT NOT NULL,
    heartbeat_at INTEGER NOT NULL
);

-- Full-text index: one document per ticket (rowid = ticket id) holding the
-- subject, every message's text and the customer's name and addresses, so
-- a search is one MATCH with no join and "all words somewhere in the
-- ticket" is what matches. Contentless: the text lives in messages and
-- customers; the store writes CJK-segmented copies here so Chinese and
-- Japanese words match inside unspaced sentences.
CREATE VIRTUAL TABLE tickets_fts USING fts5(
    subject, body, customer, content='', contentless_delete=1,
    tokenize='unicode61 remove_diacritics 2'
);
"#;

/// Who runs the daemon for this database: one row per lease name, held
/// while `expires_at` is in the future and renewed by its holder.
const V2: &str = r#"
CREATE TABLE leases (
    name        TEXT PRIMARY KEY,
    holder      TEXT NOT NULL,
    pid         INTEGER NOT NULL,
    host        TEXT NOT NULL,
    acquired_at INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
);
"#;

/// Bulk jobs: the tickets a bulk action covers, fixed when the job starts,
/// and which are done, so an interrupted job resumes without repeating.
const V3: &str = r#"
CREATE TABLE jobs (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    spec        TEXT NOT NULL,
    agent       TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    finished_at INTEGER
);
CREATE TABLE job_items (
    job_id     TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    seq        INTEGER NOT NULL,
    ticket_id  INTEGER NOT NULL,
    status     TEXT NOT NULL CHECK (status IN ('pending', 'done', 'failed')),
    detail     TEXT,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (job_id, seq)
) WITHOUT ROWID;
"#;

/// Automation: customer messages waiting for the rules (written in the
/// ingest transaction, so none is lost to a crash), and SLA deadlines on
/// tickets (set from the policies at creation and on priority changes).
const V4: &str = r#"
CREATE TABLE rule_queue (
    message_id INTEGER PRIMARY KEY REFERENCES messages(id) ON DELETE CASCADE,
    ticket_id  INTEGER NOT NULL,
    new_ticket INTEGER NOT NULL,
    queued_at  INTEGER NOT NULL
);
ALTER TABLE tickets ADD COLUMN sla_policy TEXT;
ALTER TABLE tickets ADD COLUMN first_response_due INTEGER;
ALTER TABLE tickets ADD COLUMN resolution_due INTEGER;
CREATE INDEX tickets_resolution_due ON tickets(resolution_due) WHERE resolution_due IS NOT NULL;
"#;

/// Delivery reports: what the gateway says happened to a sent SMS
/// (queued, sent, delivered, undelivered, failed) and its error.
const V5: &str = r#"
ALTER TABLE outbox ADD COLUMN delivery TEXT;
ALTER TABLE outbox ADD COLUMN delivery_detail TEXT;
CREATE INDEX outbox_delivery ON outbox(channel, status, delivery) WHERE status = 'sent';
"#;

/// Facts about the store itself, such as the layout its search documents
/// were written in (see `fts::LAYOUT`).
const V6: &str = r#"
CREATE TABLE store_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"#;

pub fn migrations() -> Migrations<'static> {
    Migrations::new(vec![
        M::up(V1),
        M::up(V2),
        M::up(V3),
        M::up(V4),
        M::up(V5),
        M::up(V6),
    ])
}

#[cfg(test)]
mod tests {
    #[test]
    fn migrations_are_valid() {
        super::migrations().validate().unwrap();
    }
}
