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

-- Full-text index (moved to its own file by V8): one document per ticket.
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

/// Lookup keys: provider ids (71-character hashes for imports) and
/// Message-IDs were indexed as text. Random long keys dirty a different
/// index page for nearly every message a batch stores, so those two
/// indexes were much of what an import wrote to the WAL. They are now
/// 64-bit hashes of the text (`messages::lookup_key`), and a lookup
/// compares the text itself too.
const V7: &str = r#"
ALTER TABLE messages ADD COLUMN provider_key INTEGER;
ALTER TABLE messages ADD COLUMN mid_key INTEGER;
DROP INDEX messages_provider;
DROP INDEX messages_message_id;
"#;

/// Run after V7's SQL: fill the keys, then index them.
fn v7_keys(tx: &rusqlite::Transaction) -> rusqlite_migration::HookResult {
    {
        let mut update =
            tx.prepare("UPDATE messages SET provider_key = ?, mid_key = ? WHERE id = ?")?;
        let mut select = tx.prepare(
            "SELECT id, account, provider_id, message_id FROM messages
             WHERE provider_id IS NOT NULL OR message_id IS NOT NULL",
        )?;
        let mut rows = select.query([])?;
        while let Some(r) = rows.next()? {
            let id: i64 = r.get(0)?;
            let account: String = r.get(1)?;
            let pid: Option<String> = r.get(2)?;
            let mid: Option<String> = r.get(3)?;
            update.execute(rusqlite::params![
                pid.map(|p| super::messages::provider_key(&account, &p)),
                mid.map(|m| super::messages::lookup_key(&m)),
                id
            ])?;
        }
    }
    tx.execute_batch(
        "CREATE INDEX messages_provider_key ON messages(provider_key)
             WHERE provider_key IS NOT NULL;
         CREATE INDEX messages_mid_key ON messages(mid_key) WHERE mid_key IS NOT NULL;",
    )?;
    Ok(())
}

/// The full-text index moves to its own file (`search_index.rs`), so a
/// bulk import can write it from a second thread. The store keeps the
/// queue of tickets whose documents are to be written; the new file is
/// built when the store is next opened.
const V8: &str = r#"
DROP TABLE tickets_fts;
DELETE FROM store_meta WHERE key = 'fts_layout';
CREATE TABLE search_queue (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id INTEGER NOT NULL
);
"#;

/// Who is sending an outbox entry: a sender holds the lease
/// `sender:<claim_owner>` while it works, so recovery marks `unknown` only
/// the entries of a sender that is gone, never another live one's.
const V9: &str = r#"
ALTER TABLE outbox ADD COLUMN claim_owner TEXT;
ALTER TABLE outbox ADD COLUMN claimed_at INTEGER;
"#;

/// Report rollups (`store/reports.rs`): each ticket's facts, and their
/// sums by the team's day, channel, agent and priority. A store that
/// already has tickets builds them at its first report.
const V10: &str = r#"
CREATE TABLE report_tickets (
    ticket_id INTEGER PRIMARY KEY,
    facts     BLOB NOT NULL
);
CREATE TABLE report_rollup (
    day      INTEGER NOT NULL,
    channel  TEXT NOT NULL,
    agent    TEXT NOT NULL,
    priority INTEGER NOT NULL,
    backlog  INTEGER NOT NULL,
    data     BLOB NOT NULL,
    PRIMARY KEY (day, channel, agent, priority)
) WITHOUT ROWID;
"#;

/// Open tickets past an SLA target, per policy, for reports: covering
/// indexes over only the tickets still waiting for a first reply or a
/// solve, so the count reads the overdue ones and nothing else.
const V11: &str = r#"
CREATE INDEX tickets_waiting_reply ON tickets(first_response_due, sla_policy, state)
    WHERE first_response_at IS NULL AND first_response_due IS NOT NULL;
CREATE INDEX tickets_waiting_solve ON tickets(resolution_due, sla_policy, state)
    WHERE solved_at IS NULL AND resolution_due IS NOT NULL;
"#;

/// Rollup rows also count the open tickets waiting for a first reply or a
/// solve by the day their deadline falls, as columns, so the breaches
/// still open are a sum over the days before today.
const V12: &str = r#"
ALTER TABLE report_rollup ADD COLUMN waiting_reply INTEGER NOT NULL DEFAULT 0;
ALTER TABLE report_rollup ADD COLUMN waiting_solve INTEGER NOT NULL DEFAULT 0;
"#;

/// What is carried into a period (the backlog, the waiting tickets) is
/// summed over every earlier day: a narrow covering index lets that sum
/// read a few bytes a row instead of each row's figures.
const V13: &str = r#"
CREATE INDEX report_rollup_carry
    ON report_rollup(day, backlog, waiting_reply, waiting_solve);
"#;

/// Team mail (a report sent to a manager, later digests): a ticket whose
/// other party is a colleague, not a customer. It threads replies like
/// any ticket, and the reports do not count it.
const V14: &str = r#"
ALTER TABLE tickets ADD COLUMN internal INTEGER NOT NULL DEFAULT 0;
"#;

/// The rollups summed over every day, per key: what is carried into a
/// recent period is this total less the days from its start on, which
/// reads a few weeks of rows instead of a year's.
const V15: &str = r#"
CREATE TABLE report_totals (
    channel       TEXT NOT NULL,
    agent         TEXT NOT NULL,
    priority      INTEGER NOT NULL,
    backlog       INTEGER NOT NULL,
    waiting_reply INTEGER NOT NULL,
    waiting_solve INTEGER NOT NULL,
    PRIMARY KEY (channel, agent, priority)
) WITHOUT ROWID;
INSERT INTO report_totals
    SELECT channel, agent, priority, sum(backlog), sum(waiting_reply), sum(waiting_solve)
    FROM report_rollup GROUP BY channel, agent, priority;
"#;

/// Satisfaction surveys (one per ticket: sent with the agent who solved
/// it, answered with a rating and a comment) and the numbers and
/// addresses that asked for no more surveys or notices (SMS STOP).
const V16: &str = r#"
CREATE TABLE surveys (
    id                INTEGER PRIMARY KEY,
    ticket_id         INTEGER NOT NULL UNIQUE REFERENCES tickets(id),
    customer_id       INTEGER NOT NULL REFERENCES customers(id),
    channel           TEXT NOT NULL,
    token             TEXT NOT NULL UNIQUE,
    agent             TEXT,
    message_id        INTEGER REFERENCES messages(id),
    sent_at           INTEGER NOT NULL,
    expires_at        INTEGER NOT NULL,
    rating            INTEGER,
    comment           TEXT,
    answered_at       INTEGER,
    answer_message_id INTEGER REFERENCES messages(id)
);
CREATE INDEX surveys_customer ON surveys(customer_id, sent_at);
CREATE INDEX surveys_sent ON surveys(sent_at);
CREATE INDEX tickets_solved ON tickets(solved_at) WHERE solved_at IS NOT NULL;
CREATE TABLE opt_outs (
    kind   TEXT NOT NULL,
    value  TEXT NOT NULL,
    at     INTEGER NOT NULL,
    reason TEXT NOT NULL,
    PRIMARY KEY (kind, value)
) WITHOUT ROWID;
"#;

/// Quality review: solved tickets sampled per agent and period, each a
/// task scored on the rubric's criteria.
const V17: &str = r#"
CREATE TABLE reviews (
    id         INTEGER PRIMARY KEY,
    ticket_id  INTEGER NOT NULL REFERENCES tickets(id),
    agent      TEXT NOT NULL,
    period     TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    reviewer   TEXT,
    scored_at  INTEGER,
    comment    TEXT,
    score      REAL,
    UNIQUE (ticket_id, period)
);
CREATE INDEX reviews_period ON reviews(period, agent);
CREATE TABLE review_scores (
    review_id INTEGER NOT NULL REFERENCES reviews(id),
    criterion TEXT NOT NULL,
    score     INTEGER NOT NULL,
    PRIMARY KEY (review_id, criterion)
) WITHOUT ROWID;
"#;

/// The customer file: organisations (with the email domains whose new
/// customers join them), assets a customer or organisation owns (a
/// ticket may be about one: its repair record), custom field values of
/// all four kinds of record, and notes on customers, organisations and
/// assets. Audit events can name an organisation or an asset.
const V19: &str = r#"
CREATE TABLE orgs (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE COLLATE NOCASE,
    external_id TEXT UNIQUE,
    created_at  INTEGER NOT NULL
);
CREATE TABLE org_domains (
    domain TEXT PRIMARY KEY,
    org_id INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX org_domains_org ON org_domains(org_id);
ALTER TABLE customers ADD COLUMN org_id INTEGER REFERENCES orgs(id);
ALTER TABLE customers ADD COLUMN external_id TEXT;
CREATE UNIQUE INDEX customers_external ON customers(external_id) WHERE external_id IS NOT NULL;
CREATE INDEX customers_org ON customers(org_id) WHERE org_id IS NOT NULL;
CREATE TABLE assets (
    id             INTEGER PRIMARY KEY,
    customer_id    INTEGER REFERENCES customers(id),
    org_id         INTEGER REFERENCES orgs(id),
    model          TEXT NOT NULL,
    serial         TEXT,
    serial_key     TEXT,
    purchased      TEXT,
    warranty_until TEXT,
    location       TEXT,
    external_id    TEXT UNIQUE,
    created_at     INTEGER NOT NULL,
    CHECK (customer_id IS NOT NULL OR org_id IS NOT NULL)
);
CREATE UNIQUE INDEX assets_serial ON assets(serial_key) WHERE serial_key IS NOT NULL;
CREATE INDEX assets_customer ON assets(customer_id) WHERE customer_id IS NOT NULL;
CREATE INDEX assets_org ON assets(org_id) WHERE org_id IS NOT NULL;
ALTER TABLE tickets ADD COLUMN asset_id INTEGER REFERENCES assets(id);
CREATE INDEX tickets_asset ON tickets(asset_id) WHERE asset_id IS NOT NULL;
CREATE TABLE field_values (
    entity TEXT NOT NULL,
    owner  INTEGER NOT NULL,
    name   TEXT NOT NULL,
    value  ANY NOT NULL,
    PRIMARY KEY (entity, owner, name)
) WITHOUT ROWID;
CREATE INDEX field_values_value ON field_values(entity, name, value);
CREATE TABLE record_notes (
    id     INTEGER PRIMARY KEY,
    entity TEXT NOT NULL,
    owner  INTEGER NOT NULL,
    at     INTEGER NOT NULL,
    agent  TEXT NOT NULL,
    body   TEXT NOT NULL
);
CREATE INDEX record_notes_owner ON record_notes(entity, owner, id);
ALTER TABLE events ADD COLUMN org_id INTEGER;
ALTER TABLE events ADD COLUMN asset_id INTEGER;
"#;

/// Proactive care: a schedule's run is a job whose items are customers,
/// each with the asset the message is about; `care_sent` holds each
/// schedule's once-only keys, written in the transaction that queues the
/// message, so no key is sent twice across restarts and crashes.
const V20: &str = r#"
ALTER TABLE job_items ADD COLUMN asset_id INTEGER;
CREATE TABLE care_sent (
    schedule    TEXT NOT NULL,
    key         TEXT NOT NULL,
    customer_id INTEGER NOT NULL,
    asset_id    INTEGER,
    ticket_id   INTEGER,
    slot        TEXT NOT NULL,
    at          INTEGER NOT NULL,
    PRIMARY KEY (schedule, key)
) WITHOUT ROWID;
"#;

/// Side conversations: a ticket forwarded to another department, whose
/// answers come back as internal notes; the forward's outbox entry has a
/// subject of its own ("Fwd: …") and threads under no customer message.
const V21: &str = r#"
CREATE TABLE side_conversations (
    id         INTEGER PRIMARY KEY,
    ticket_id  INTEGER NOT NULL REFERENCES tickets(id),
    to_addr    TEXT NOT NULL,
    message_id INTEGER NOT NULL,
    agent      TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX side_conversations_ticket ON side_conversations(ticket_id, to_addr);
ALTER TABLE outbox ADD COLUMN subject TEXT;
"#;

/// A record's audit history (`customer show`, `asset show`) is read by
/// its owner; most events are a ticket's and hold none, so the indexes
/// are partial and ingest never writes them. Followers: an agent (by
/// name) or an outside address (lower-case) per ticket, with how far the
/// updates they were sent reach (event and message ids).
const V22: &str = r#"
CREATE INDEX events_customer ON events(customer_id, id) WHERE customer_id IS NOT NULL;
CREATE INDEX events_org ON events(org_id, id) WHERE org_id IS NOT NULL;
CREATE INDEX events_asset ON events(asset_id, id) WHERE asset_id IS NOT NULL;

CREATE TABLE followers (
    ticket_id  INTEGER NOT NULL REFERENCES tickets(id),
    follower   TEXT NOT NULL,
    added_by   TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    seen_event INTEGER NOT NULL,
    seen_message INTEGER NOT NULL,
    PRIMARY KEY (ticket_id, follower)
) WITHOUT ROWID;
CREATE INDEX followers_by ON followers(follower);
"#;

/// The outbox's indexes hold only the rows their queries look for:
/// entries still in play, and sent texts whose delivery is open. Sent
/// mail is most of the table and was in both, so every send rewrote two
/// index pages it never needed (a fifth of a send's write-ahead log;
/// docs/performance.md). The `WHERE` clauses repeat the queries' terms
/// word for word: that is how SQLite knows a partial index applies.
const V18: &str = r#"
DROP INDEX outbox_due;
CREATE INDEX outbox_due ON outbox(status, next_attempt_at)
    WHERE status = 'queued' OR status = 'sending' OR status = 'unknown' OR status = 'failed';
DROP INDEX outbox_delivery;
CREATE INDEX outbox_awaiting ON outbox(id)
    WHERE channel = 'sms' AND status = 'sent' AND provider_ref IS NOT NULL
    AND coalesce(delivery, '') NOT IN ('delivered', 'undelivered', 'failed', 'read');
"#;

pub fn migrations() -> Migrations<'static> {
    Migrations::new(vec![
        M::up(V1),
        M::up(V2),
        M::up(V3),
        M::up(V4),
        M::up(V5),
        M::up(V6),
        M::up_with_hook(V7, v7_keys),
        M::up(V8),
        M::up(V9),
        M::up(V10),
        M::up(V11),
        M::up(V12),
        M::up(V13),
        M::up(V14),
        M::up(V15),
        M::up(V16),
        M::up(V17),
        M::up(V18),
        M::up(V19),
        M::up(V20),
        M::up(V21),
        M::up(V22),
    ])
}

#[cfg(test)]
mod tests {
    #[test]
    fn migrations_are_valid() {
        super::migrations().validate().unwrap();
    }

    /// The outbox's partial indexes answer the sender's queries: a change
    /// to a query's words that SQLite no longer matches to the index's
    /// `WHERE` would turn each pass into a scan of every entry ever sent.
    #[test]
    fn outbox_queries_use_the_partial_indexes() {
        let mut conn = rusqlite::Connection::open_in_memory().unwrap();
        super::migrations().to_latest(&mut conn).unwrap();
        let plan = |sql: &str| -> String {
            conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                .unwrap()
                .query_map(
                    rusqlite::params_from_iter(std::iter::repeat_n(1, sql.matches('?').count())),
                    |r| r.get::<_, String>(3),
                )
                .unwrap()
                .collect::<rusqlite::Result<Vec<_>>>()
                .unwrap()
                .join("; ")
        };
        assert!(plan(crate::store::outbox::DUE_SQL).contains("INDEX outbox_due"));
        assert!(plan(crate::store::outbox_rows::AWAITING_SQL).contains("INDEX outbox_awaiting"));
        for status in ["queued", "sending", "unknown", "failed"] {
            let sql = format!("SELECT count(*) FROM outbox WHERE status = '{status}'");
            assert!(plan(&sql).contains("INDEX outbox_due"), "{status}");
        }
    }

    /// Messages stored before V7 get their lookup keys, and the keyed
    /// indexes answer the lookups.
    #[test]
    fn v7_fills_lookup_keys_of_existing_messages() {
        use crate::store::messages::{lookup_key, provider_key};
        let mut conn = rusqlite::Connection::open_in_memory().unwrap();
        let m = super::migrations();
        m.to_version(&mut conn, 6).unwrap();
        conn.execute_batch(
            "INSERT INTO customers (id, name, created_at) VALUES (1, 'c', 1);
             INSERT INTO tickets (id, subject, state, channel, customer_id, created_at, updated_at)
             VALUES (1, 's', 'new', 'email', 1, 1, 1);
             INSERT INTO messages (ticket_id, direction, channel, account, provider_id,
                                   message_id, from_addr, received_at)
             VALUES (1, 'in', 'email', 'acct', 'sha256:ab', 'x@y', 'a@b', 1),
                    (1, 'out', 'email', 'acct', NULL, NULL, 'me@b', 2);",
        )
        .unwrap();
        m.to_latest(&mut conn).unwrap();
        let keys: Vec<(Option<i64>, Option<i64>)> = conn
            .prepare("SELECT provider_key, mid_key FROM messages ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(
            keys,
            vec![
                (
                    Some(provider_key("acct", "sha256:ab")),
                    Some(lookup_key("x@y"))
                ),
                (None, None)
            ]
        );
        let plan: String = conn
            .query_row(
                "EXPLAIN QUERY PLAN SELECT 1 FROM messages WHERE mid_key = 5 AND message_id = 'x'",
                [],
                |r| r.get(3),
            )
            .unwrap();
        assert!(plan.contains("messages_mid_key"), "{plan}");
    }
}
