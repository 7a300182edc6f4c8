//! One pass over one mailbox: which UIDs are new, batches bounded by
//! count and bytes, fetch / parse / commit overlapped, and the
//! post-actions the server is owed.

use super::*;

/// A batch's bytes, at most (one bigger message is a batch of its own).
pub(super) const BATCH_BYTES: u64 = 32 << 20;
/// A message bigger than this is fetched as its headers only.
pub const MAX_MESSAGE_BYTES: u64 = 64 << 20;

/// A UID set in IMAP syntax, runs as ranges: `1:5,7,9:12`.
pub(super) fn join_uids(uids: &[u32]) -> String {
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
pub(super) fn batches(
    uids: &[u32],
    sizes: &HashMap<u32, u64>,
    count: usize,
    bytes: u64,
) -> Vec<Vec<u32>> {
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
pub(super) async fn message_sizes(
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
pub(super) fn parse_cursor(c: Option<&str>) -> Option<(u32, u32)> {
    let (v, u) = c?.split_once(':')?;
    Some((v.parse().ok()?, u.parse().ok()?))
}

/// One message as fetched: UID, INTERNALDATE, bytes, whether whole, size.
pub(super) type Raw = (u32, i64, Vec<u8>, bool, u64);

/// Fetches one batch's bytes.
pub(super) async fn fetch_raw(
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
pub(super) struct ParseWith {
    pub(super) account: String,
    pub(super) validity: u32,
    pub(super) fax: Option<crate::channel::fax::Profile>,
    pub(super) region: String,
}

/// Parses a fetched batch: CPU work that may take a while on hostile mail
/// (a fax's PDF reader), so it runs on the blocking pool, beside the next
/// fetch and the previous commit.
pub(super) fn parse_raw(fetched: Vec<Raw>, with: ParseWith) -> Vec<(u32, Inbound)> {
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
pub(super) async fn post_action(
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
pub(super) type Parsing = tokio::task::JoinHandle<Vec<(u32, Inbound)>>;

/// A batch parsed and waiting for its commit.
pub(super) struct Parsed {
    pub(super) uids: Vec<u32>,
    pub(super) messages: Vec<Inbound>,
    pub(super) max_uid: u32,
}

pub(super) async fn poll_mailbox(
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
