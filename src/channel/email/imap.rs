//! IMAP polling: new mail in the configured mailboxes becomes tickets.
//!
//! Per mailbox the store keeps `UIDVALIDITY:last UID` (a cursor). A poll
//! fetches only newer UIDs, in batches, handed to a [`Sink`] with the
//! advanced cursor; only after a batch's commit is the post-action (mark
//! seen / move) sent to the server, and a second cursor (`post:MAILBOX`)
//! records how far that got. A crash (or a refusal) between the commit
//! and the post-action repeats the post-action, never the ingest; a
//! crash before the commit fetches the batch again, and dedupe (provider id
//! `UIDVALIDITY:UID`, then Message-ID per account) stores nothing twice.
//! When UIDVALIDITY changes the mailbox is scanned again from UID 1, with
//! the same dedupe.

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use futures::TryStreamExt;
use serde::Serialize;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use super::account::{Account, ImapConfig, PostAction, TlsMode};
use super::mime;
use crate::inbound::{Cursor, Inbound, Sink, Tally};

/// What went wrong, with the account and the step in the message.
#[derive(Debug, thiserror::Error)]
#[error("account `{account}`: {step}: {message}")]
pub struct PollError {
    pub account: String,
    pub step: &'static str,
    pub message: String,
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct MailboxReport {
    pub mailbox: String,
    pub uid_validity: u32,
    pub fetched: u64,
    pub created: u64,
    pub threaded: u64,
    pub duplicates: u64,
    pub with_errors: u64,
    pub rescanned: bool,
    /// UIDNEXT when the pass selected the mailbox.
    pub uid_next: u32,
}

trait Stream: AsyncRead + AsyncWrite + Unpin + Send + fmt::Debug {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + fmt::Debug> Stream for T {}
type Conn = Box<dyn Stream>;

/// The TLS handshake, within the command timeout: a server that accepts
/// the connection and then says nothing must not hang the poller.
async fn tls_wrap(cfg: &ImapConfig, tcp: TcpStream) -> Result<Conn, String> {
    let handshake = super::tls::wrap(&cfg.host, cfg.ca_file.as_deref(), tcp);
    match tokio::time::timeout(Duration::from_secs(cfg.timeout), handshake).await {
        Ok(tls) => Ok(Box::new(tls?)),
        Err(_) => Err(format!("TLS handshake: no answer within {} s", cfg.timeout)),
    }
}

async fn timed<T, E: fmt::Display>(
    secs: u64,
    what: &str,
    f: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, String> {
    match tokio::time::timeout(Duration::from_secs(secs), f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(format!("{what}: {}", server_words(&e.to_string()))),
        Err(_) => Err(format!("{what}: no answer within {secs} s")),
    }
}

type Session = async_imap::Session<Conn>;

/// async-imap reports a server's NO or BAD with Rust's debug form of the
/// response (`no response: code: None, info: Some("[AUTHENTICATIONFAILED]
/// Authentication failed.")`). This turns it into the server's own words:
/// `the server said NO: [AUTHENTICATIONFAILED] Authentication failed.`.
/// Other errors pass unchanged.
pub fn server_words(text: &str) -> String {
    let (verdict, rest) = if let Some(r) = text.strip_prefix("no response: ") {
        ("NO", r)
    } else if let Some(r) = text.strip_prefix("bad response: ") {
        ("BAD", r)
    } else {
        return text.to_string();
    };
    // Every quoted string in the debug text, unescaped: the server's words.
    let mut words = Vec::new();
    let mut chars = rest.chars();
    while let Some(c) = chars.next() {
        if c != '"' {
            continue;
        }
        let mut w = String::new();
        while let Some(c) = chars.next() {
            match c {
                '\\' => {
                    if let Some(n) = chars.next() {
                        w.push(n);
                    }
                }
                '"' => break,
                c => w.push(c),
            }
        }
        if !w.trim().is_empty() {
            words.push(w);
        }
    }
    if words.is_empty() {
        format!("the server said {verdict}")
    } else {
        format!("the server said {verdict}: {}", words.join(" "))
    }
}

/// A mapper from a message to this account's error at `step`.
fn fail(acct: &Account, step: &'static str) -> impl Fn(String) -> PollError {
    let account = acct.name.clone();
    move |message| PollError {
        account: account.clone(),
        step,
        message,
    }
}

async fn connect(acct: &Account, cfg: &ImapConfig, password: &str) -> Result<Session, PollError> {
    let err = |step| fail(acct, step);
    let addr = format!("{}:{}", cfg.host, cfg.port());
    let tcp = timed(cfg.timeout, &addr, TcpStream::connect(&addr))
        .await
        .map_err(err("connect"))?;
    let stream: Conn = match cfg.tls {
        TlsMode::Implicit => tls_wrap(cfg, tcp).await.map_err(err("tls"))?,
        TlsMode::None => Box::new(tcp),
        TlsMode::Starttls => {
            let mut plain = async_imap::Client::new(tcp);
            timed(cfg.timeout, "greeting", async {
                plain.read_response().await.map(|_| ())
            })
            .await
            .map_err(err("connect"))?;
            timed(
                cfg.timeout,
                "STARTTLS",
                plain.run_command_and_check_ok("STARTTLS", None),
            )
            .await
            .map_err(err("starttls"))?;
            tls_wrap(cfg, plain.into_inner())
                .await
                .map_err(err("tls"))?
        }
    };
    let mut client = async_imap::Client::new(stream);
    if cfg.tls != TlsMode::Starttls {
        timed(cfg.timeout, "greeting", async {
            client.read_response().await.map(|_| ())
        })
        .await
        .map_err(err("connect"))?;
    }
    match tokio::time::timeout(
        Duration::from_secs(cfg.timeout),
        client.login(&cfg.user, password),
    )
    .await
    {
        Ok(Ok(s)) => Ok(s),
        // The server's words, never the password.
        Ok(Err((e, _))) => Err(err("login")(format!(
            "{} refused: {}",
            cfg.user,
            server_words(&e.to_string())
        ))),
        Err(_) => Err(err("login")(format!("no answer within {} s", cfg.timeout))),
    }
}

/// What ended a [`Poller::wait`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    /// The server announced a change during IDLE.
    Announced,
    /// The wait ran its full length (IDLE or plain sleep).
    TimedOut,
}

/// An account's poller: keeps its IMAP session between passes, so the
/// daemon logs in once and waits with IDLE where the server offers it.
/// Any error drops the session; the next pass connects afresh.
pub struct Poller {
    acct: Account,
    session: Option<Session>,
    can_idle: bool,
    /// (UIDVALIDITY, UIDNEXT) of the first mailbox at the last pass.
    seen: Option<(u32, u32)>,
}

impl Poller {
    pub fn new(acct: &Account) -> Poller {
        Poller {
            acct: acct.clone(),
            session: None,
            can_idle: false,
            seen: None,
        }
    }

    pub fn account(&self) -> &Account {
        &self.acct
    }

    /// Whether the last session offered IDLE (and the config allows it).
    pub fn uses_idle(&self) -> bool {
        self.can_idle
    }

    async fn ensure_session(&mut self, cfg: &ImapConfig) -> Result<(), PollError> {
        if self.session.is_some() {
            return Ok(());
        }
        let password = cfg.password().await.map_err(fail(&self.acct, "password"))?;
        let mut session = connect(&self.acct, cfg, &password).await?;
        let caps = timed(cfg.timeout, "CAPABILITY", session.capabilities())
            .await
            .map_err(fail(&self.acct, "capability"))?;
        self.can_idle = cfg.idle && caps.has_str("IDLE");
        self.session = Some(session);
        Ok(())
    }

    /// One pass over every mailbox of the account.
    pub async fn poll(&mut self, sink: &mut impl Sink) -> Result<Vec<MailboxReport>, PollError> {
        let Some(cfg) = self.acct.imap.clone() else {
            return Ok(Vec::new());
        };
        if let Err(e) = self.ensure_session(&cfg).await {
            for mailbox in &cfg.mailboxes {
                sink.record_poll(
                    &self.acct.name,
                    &format!("status:{mailbox}"),
                    Err(e.to_string()),
                )
                .await;
            }
            return Err(e);
        }
        let mut reports = Vec::new();
        for mailbox in &cfg.mailboxes {
            let Some(session) = self.session.as_mut() else {
                break;
            };
            match poll_mailbox(sink, &self.acct, &cfg, session, mailbox).await {
                Ok(r) => {
                    if reports.is_empty() {
                        self.seen = Some((r.uid_validity, r.uid_next));
                    }
                    sink.record_poll(&self.acct.name, &format!("status:{mailbox}"), Ok(r.fetched))
                        .await;
                    reports.push(r);
                }
                Err(e) => {
                    // The connection state is unknown now: start over next time.
                    self.session = None;
                    sink.record_poll(
                        &self.acct.name,
                        &format!("status:{mailbox}"),
                        Err(e.to_string()),
                    )
                    .await;
                    return Err(e);
                }
            }
        }
        Ok(reports)
    }

    /// Waits up to `max` for new mail: with IDLE on the first mailbox when
    /// the server offers it, else by sleeping.
    pub async fn wait(&mut self, max: Duration) -> Result<Wake, PollError> {
        let cfg = match &self.acct.imap {
            Some(c) if self.can_idle => c.clone(),
            _ => {
                tokio::time::sleep(max).await;
                return Ok(Wake::TimedOut);
            }
        };
        let (Some(session), Some(mailbox)) = (self.session.take(), cfg.mailboxes.first()) else {
            tokio::time::sleep(max).await;
            return Ok(Wake::TimedOut);
        };
        let err = |step| fail(&self.acct, step);
        let mut session = session;
        let selected = timed(cfg.timeout, mailbox, session.select(mailbox))
            .await
            .map_err(err("select"))?;
        // Mail that arrived between the pass and this SELECT is not
        // announced by IDLE: look at UIDNEXT first.
        if let (Some((validity, seen_next)), Some(next)) = (self.seen, selected.uid_next) {
            if selected.uid_validity != Some(validity) || next != seen_next {
                self.session = Some(session);
                return Ok(Wake::Announced);
            }
        }
        let mut handle = session.idle();
        timed(cfg.timeout, "IDLE", handle.init())
            .await
            .map_err(err("idle"))?;
        let wake = {
            let (fut, _stop) = handle.wait_with_timeout(max);
            // The server's keepalives reset the library's timer; this bounds
            // the whole wait.
            match tokio::time::timeout(max + Duration::from_secs(1), fut).await {
                Ok(Ok(async_imap::extensions::idle::IdleResponse::NewData(_))) => Wake::Announced,
                Ok(Ok(_)) | Err(_) => Wake::TimedOut,
                Ok(Err(e)) => return Err(err("idle")(server_words(&e.to_string()))),
            }
        };
        let session = timed(cfg.timeout, "DONE", handle.done())
            .await
            .map_err(err("idle"))?;
        self.session = Some(session);
        Ok(wake)
    }

    pub async fn logout(&mut self) {
        if let (Some(mut s), Some(cfg)) = (self.session.take(), self.acct.imap.as_ref()) {
            let _ = tokio::time::timeout(Duration::from_secs(cfg.timeout), s.logout()).await;
        }
    }
}

/// One pass over every mailbox of the account, on a fresh connection.
pub async fn poll_account(
    sink: &mut impl Sink,
    acct: &Account,
) -> Result<Vec<MailboxReport>, PollError> {
    let mut poller = Poller::new(acct);
    let r = poller.poll(sink).await;
    poller.logout().await;
    r
}

/// Appends sent messages to `mailbox` (created when missing), flagged \Seen.
pub async fn append(acct: &Account, mailbox: &str, messages: &[Vec<u8>]) -> Result<(), PollError> {
    let err = |step| fail(acct, step);
    let cfg = acct
        .imap
        .as_ref()
        .ok_or_else(|| err("append")("no [accounts.imap] to copy sent mail to".into()))?;
    let password = cfg.password().await.map_err(err("password"))?;
    let mut session = connect(acct, cfg, &password).await?;
    let mut created = false;
    for m in messages {
        let r = timed(
            cfg.timeout,
            "APPEND",
            session.append(mailbox, Some("(\\Seen)"), None, m),
        )
        .await;
        if r.is_err() && !created {
            // Most servers refuse APPEND to a missing mailbox ([TRYCREATE]).
            created = true;
            let _ = timed(cfg.timeout, "CREATE", session.create(mailbox)).await;
            timed(
                cfg.timeout,
                "APPEND",
                session.append(mailbox, Some("(\\Seen)"), None, m),
            )
            .await
            .map_err(err("append"))?;
        } else {
            r.map_err(err("append"))?;
        }
    }
    let _ = tokio::time::timeout(Duration::from_secs(cfg.timeout), session.logout()).await;
    Ok(())
}

/// The mailboxes of the account that hold a message with this
/// Message-ID (searched with `UID SEARCH HEADER Message-ID`), among
/// `mailboxes`; a mailbox that does not exist is skipped.
pub async fn find_message_id(
    acct: &Account,
    mailboxes: &[String],
    message_id: &str,
) -> Result<Vec<String>, PollError> {
    let err = |step| fail(acct, step);
    let cfg = acct
        .imap
        .as_ref()
        .ok_or_else(|| err("search")("no [accounts.imap] to search".into()))?;
    let password = cfg.password().await.map_err(err("password"))?;
    let mut session = connect(acct, cfg, &password).await?;
    // The id is ours (echodesk.N.N.hex@domain), but quote it as IMAP does.
    let quoted = format!(
        "\"<{}>\"",
        message_id.replace('\\', "\\\\").replace('"', "\\\"")
    );
    let mut found = Vec::new();
    for mb in mailboxes {
        if timed(cfg.timeout, "EXAMINE", session.examine(mb))
            .await
            .is_err()
        {
            continue;
        }
        let hits = timed(
            cfg.timeout,
            "UID SEARCH",
            session.uid_search(format!("HEADER Message-ID {quoted}")),
        )
        .await
        .map_err(err("search"))?;
        if !hits.is_empty() {
            found.push(mb.clone());
        }
    }
    let _ = tokio::time::timeout(Duration::from_secs(cfg.timeout), session.logout()).await;
    Ok(found)
}

/// A batch's bytes, at most (one bigger message is a batch of its own).
const BATCH_BYTES: u64 = 32 << 20;
/// A message bigger than this is fetched as its headers only.
pub const MAX_MESSAGE_BYTES: u64 = 64 << 20;

/// A UID set in IMAP syntax, runs as ranges: `1:5,7,9:12`.
fn join_uids(uids: &[u32]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < uids.len() {
        let mut j = i;
        while j + 1 < uids.len() && uids[j + 1] == uids[j] + 1 {
            j += 1;
        }
        if !out.is_empty() {
            out.push(',');
        }
        if j > i {
            out.push_str(&format!("{}:{}", uids[i], uids[j]));
        } else {
            out.push_str(&uids[i].to_string());
        }
        i = j + 1;
    }
    out
}

/// Splits UIDs (in order) into batches of at most `count` messages and
/// `bytes` bytes.
fn batches(uids: &[u32], sizes: &HashMap<u32, u64>, count: usize, bytes: u64) -> Vec<Vec<u32>> {
    let mut out: Vec<Vec<u32>> = Vec::new();
    let mut cur: Vec<u32> = Vec::new();
    let mut cur_bytes = 0u64;
    for &u in uids {
        let size = sizes.get(&u).copied().unwrap_or(0).min(MAX_MESSAGE_BYTES);
        if !cur.is_empty() && (cur.len() >= count || cur_bytes + size > bytes) {
            out.push(std::mem::take(&mut cur));
            cur_bytes = 0;
        }
        cur.push(u);
        cur_bytes += size;
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// RFC822.SIZE of each message, a thousand UIDs per command.
async fn message_sizes(
    cfg: &ImapConfig,
    session: &mut Session,
    uids: &[u32],
) -> Result<HashMap<u32, u64>, String> {
    let mut sizes = HashMap::with_capacity(uids.len());
    for part in uids.chunks(1000) {
        let got: Vec<async_imap::types::Fetch> = timed(cfg.timeout, "UID FETCH", async {
            session
                .uid_fetch(join_uids(part), "(UID RFC822.SIZE)")
                .await?
                .try_collect()
                .await
        })
        .await?;
        for f in got {
            if let (Some(u), Some(s)) = (f.uid, f.size) {
                sizes.insert(u, u64::from(s));
            }
        }
    }
    Ok(sizes)
}

/// `validity:uid` as a cursor stores it.
fn parse_cursor(c: Option<&str>) -> Option<(u32, u32)> {
    let (v, u) = c?.split_once(':')?;
    Some((v.parse().ok()?, u.parse().ok()?))
}

/// One message as fetched: UID, INTERNALDATE, bytes, whether whole, size.
type Raw = (u32, i64, Vec<u8>, bool, u64);

/// Fetches one batch's bytes.
async fn fetch_raw(
    acct: &Account,
    cfg: &ImapConfig,
    session: &mut Session,
    chunk: &[u32],
    sizes: &HashMap<u32, u64>,
) -> Result<Vec<Raw>, PollError> {
    let (whole, oversized): (Vec<u32>, Vec<u32>) = chunk
        .iter()
        .partition(|u| sizes.get(u).is_none_or(|s| *s <= MAX_MESSAGE_BYTES));
    let mut fetched: Vec<Raw> = Vec::with_capacity(chunk.len());
    for (part, query, whole_message) in [
        (&whole, "(UID INTERNALDATE BODY.PEEK[])", true),
        // Too big to take whole: the headers make a ticket that says
        // so, and the message stays on the server.
        (&oversized, "(UID INTERNALDATE BODY.PEEK[HEADER])", false),
    ] {
        if part.is_empty() {
            continue;
        }
        let got: Vec<async_imap::types::Fetch> = timed(cfg.timeout, "UID FETCH", async {
            session
                .uid_fetch(join_uids(part), query)
                .await?
                .try_collect()
                .await
        })
        .await
        .map_err(fail(acct, "fetch"))?;
        for f in got {
            let Some(uid) = f.uid else { continue };
            let bytes = if whole_message { f.body() } else { f.header() };
            let Some(bytes) = bytes else { continue };
            let at = f
                .internal_date()
                .map_or_else(crate::model::now, |d| d.timestamp());
            let size = sizes.get(&uid).copied().unwrap_or(0);
            fetched.push((uid, at, bytes.to_vec(), whole_message, size));
        }
    }
    Ok(fetched)
}

/// What the parser needs besides the bytes.
#[derive(Clone)]
struct ParseWith {
    account: String,
    validity: u32,
    fax: Option<crate::channel::fax::Profile>,
    region: String,
}

/// Parses a fetched batch: CPU work that may take a while on hostile mail
/// (a fax's PDF reader), so it runs on the blocking pool, beside the next
/// fetch and the previous commit.
fn parse_raw(fetched: Vec<Raw>, with: ParseWith) -> Vec<(u32, Inbound)> {
    fetched
        .into_iter()
        .map(|(uid, at, bytes, whole_message, size)| {
            let pid = format!("{}:{uid}", with.validity);
            let mut m = mime::parse(&bytes, &with.account, &pid, at);
            if !whole_message {
                m.parse_error = Some(format!(
                    "the message is {} MiB, over the {} MiB limit: only its headers were fetched; it stays on the server",
                    size >> 20,
                    MAX_MESSAGE_BYTES >> 20
                ));
                m.raw = Some(bytes);
            }
            if let Some(p) = &with.fax {
                crate::channel::fax::apply(p, &mut m, &with.region);
            }
            (uid, m)
        })
        .collect()
}

/// Tells the server what became of stored messages (mark seen, move).
async fn post_action(
    acct: &Account,
    cfg: &ImapConfig,
    session: &mut Session,
    uids: &[u32],
) -> Result<(), PollError> {
    let err = |step| fail(acct, step);
    if uids.is_empty() {
        return Ok(());
    }
    let set = join_uids(uids);
    match cfg.post_action {
        PostAction::None => {}
        PostAction::Seen => {
            timed(cfg.timeout, "UID STORE", async {
                session
                    .uid_store(&set, "+FLAGS.SILENT (\\Seen)")
                    .await?
                    .try_collect::<Vec<_>>()
                    .await
            })
            .await
            .map_err(err("mark seen"))?;
        }
        PostAction::Move => {
            let to = cfg.move_to.as_deref().unwrap_or("Archive");
            timed(cfg.timeout, "UID MOVE", session.uid_mv(&set, to))
                .await
                .map_err(err("move"))?;
        }
    }
    Ok(())
}

/// A batch being parsed on the blocking pool.
type Parsing = tokio::task::JoinHandle<Vec<(u32, Inbound)>>;

/// A batch parsed and waiting for its commit.
struct Parsed {
    uids: Vec<u32>,
    messages: Vec<Inbound>,
    max_uid: u32,
}

async fn poll_mailbox(
    sink: &mut impl Sink,
    acct: &Account,
    cfg: &ImapConfig,
    session: &mut Session,
    mailbox: &str,
) -> Result<MailboxReport, PollError> {
    let err = |step| fail(acct, step);
    let store_err = |e: crate::inbound::SinkError| fail(acct, "store")(e.0);
    let selected = timed(cfg.timeout, mailbox, session.select(mailbox))
        .await
        .map_err(err("select"))?;
    let validity = selected.uid_validity.unwrap_or(0);
    let scope = format!("uid:{mailbox}");
    // How far the post-action got: behind `scope` only after a crash (or
    // a lost connection) between a commit and telling the server.
    let post_scope = format!("post:{mailbox}");
    let cursor = sink.cursor(&acct.name, &scope).await.map_err(store_err)?;
    let (known_validity, mut last) = parse_cursor(cursor.as_deref()).unwrap_or((validity, 0));
    let mut report = MailboxReport {
        mailbox: mailbox.into(),
        uid_validity: validity,
        uid_next: selected.uid_next.unwrap_or(0),
        ..Default::default()
    };
    let post = |uid: u32| Cursor::new(&acct.name, &post_scope, format!("{validity}:{uid}"));
    if known_validity != validity {
        // The server renumbered the mailbox: scan it all again; dedupe on
        // Message-ID keeps what is already stored from coming in twice.
        last = 0;
        report.rescanned = true;
    } else if cfg.post_action != PostAction::None && last > 0 {
        // Stored, but the server was never told: tell it now.
        let done = sink
            .cursor(&acct.name, &post_scope)
            .await
            .map_err(store_err)?;
        let done = match parse_cursor(done.as_deref()) {
            Some((v, u)) if v == validity => u,
            // Recorded before the mailbox was renumbered and scanned again.
            Some(_) => 0,
            // None recorded (a database from before this cursor existed):
            // nothing is owed.
            None => last,
        };
        if done < last {
            let owed = timed(
                cfg.timeout,
                "UID SEARCH",
                session.uid_search(format!("UID {}:{last}", done + 1)),
            )
            .await
            .map_err(err("search"))?;
            let mut owed: Vec<u32> = owed
                .into_iter()
                .filter(|u| *u > done && *u <= last)
                .collect();
            owed.sort_unstable();
            post_action(acct, cfg, session, &owed).await?;
            sink.commit(Vec::new(), vec![post(last)])
                .await
                .map_err(store_err)?;
        }
    }
    let found = timed(
        cfg.timeout,
        "UID SEARCH",
        session.uid_search(format!("UID {}:*", last + 1)),
    )
    .await
    .map_err(err("search"))?;
    // `n:*` always includes the highest UID, even when it is below n.
    let mut uids: Vec<u32> = found.into_iter().filter(|u| *u > last).collect();
    uids.sort_unstable();
    // Checked when the config was loaded.
    let fax = acct
        .fax
        .as_ref()
        .and_then(|c| crate::channel::fax::Profile::from_config(c).ok());
    let region = sink.region().to_string();
    // Sizes first, so that a batch is bounded by bytes as well as by
    // count: twenty 50 MB messages must not be in memory at once.
    let sizes = message_sizes(cfg, session, &uids)
        .await
        .map_err(err("fetch"))?;
    let tracks_post = cfg.post_action != PostAction::None;
    let mut add = |t: Tally| {
        report.fetched += t.fetched;
        report.created += t.created;
        report.threaded += t.threaded;
        report.duplicates += t.duplicates;
        report.with_errors += t.with_errors;
    };
    // Three stages at once: batch n+2 is fetched while n+1 is parsed and
    // n commits. Only when n is safe in the store is the server told (its
    // post-action), and the next commit records that it was.
    let with = ParseWith {
        account: acct.name.clone(),
        validity,
        fax,
        region,
    };
    let mut parsing: Option<(Vec<u32>, Parsing)> = None;
    let mut waiting: Option<Parsed> = None;
    // Everything up to `posted` has had its post-action; recorded with
    // each commit, and once more at the end.
    let mut posted = last;
    let mut posted_unrecorded = false;
    let mut chunks = batches(&uids, &sizes, cfg.batch, BATCH_BYTES).into_iter();
    loop {
        let chunk = chunks.next();
        if chunk.is_none() && parsing.is_none() && waiting.is_none() {
            break;
        }
        let fetch = async {
            match &chunk {
                Some(c) => fetch_raw(acct, cfg, session, c, &sizes).await.map(Some),
                None => Ok(None),
            }
        };
        let (fetched, committed) = match waiting.take() {
            Some(p) => {
                let mut cursors = vec![Cursor::new(
                    &acct.name,
                    &scope,
                    format!("{validity}:{}", p.max_uid),
                )];
                if tracks_post {
                    cursors.push(post(posted));
                    posted_unrecorded = false;
                }
                let (fetched, committed) = tokio::join!(fetch, sink.commit(p.messages, cursors));
                (fetched, Some((p.uids, p.max_uid, committed)))
            }
            None => (fetch.await, None),
        };
        if let Some((done_uids, max_uid, committed)) = committed {
            add(committed.map_err(store_err)?);
            last = max_uid;
            // The commit stands even when the fetch beside it failed: tell
            // the server about it first, then give up.
            post_action(acct, cfg, session, &done_uids).await?;
            posted = max_uid;
            posted_unrecorded = true;
        }
        if let Some((done_uids, handle)) = parsing.take() {
            let parsed = handle.await.map_err(|e| err("parse")(e.to_string()))?;
            let max_uid = parsed.iter().map(|(u, _)| *u).max().unwrap_or(last);
            waiting = Some(Parsed {
                uids: done_uids,
                messages: parsed.into_iter().map(|(_, m)| m).collect(),
                max_uid,
            });
        }
        if let (Some(c), Some(raw)) = (chunk, fetched?) {
            let with = with.clone();
            parsing = Some((c, tokio::task::spawn_blocking(move || parse_raw(raw, with))));
        }
    }
    let mut cursors = Vec::new();
    if tracks_post && (posted_unrecorded || report.rescanned) {
        cursors.push(post(posted));
    }
    if uids.is_empty() && report.rescanned {
        cursors.push(Cursor::new(&acct.name, &scope, format!("{validity}:0")));
    }
    if !cursors.is_empty() {
        sink.commit(Vec::new(), cursors).await.map_err(store_err)?;
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_reads_as_the_servers_words() {
        assert_eq!(
            server_words(
                r#"no response: code: None, info: Some("[AUTHENTICATIONFAILED] Authentication failed.")"#
            ),
            "the server said NO: [AUTHENTICATIONFAILED] Authentication failed."
        );
        assert_eq!(
            server_words(r#"bad response: code: None, info: Some("Say \"hi\" first")"#),
            "the server said BAD: Say \"hi\" first"
        );
        assert_eq!(
            server_words("bad response: outcome: Bad"),
            "the server said BAD"
        );
        assert_eq!(server_words("connection lost"), "connection lost");
    }
}
