//! `echodesk poll` and `echodesk status`.

use super::{output, Ctx};
use crate::channel::email::imap;
use crate::intake::Direct;

pub fn poll(ctx: &Ctx) -> anyhow::Result<()> {
    let mut store = ctx.open()?;
    let accounts: Vec<_> = ctx
        .config
        .accounts
        .iter()
        .filter(|a| a.imap.is_some())
        .cloned()
        .collect();
    if accounts.is_empty() && ctx.config.sms.is_empty() {
        anyhow::bail!(
            "no account with [accounts.imap] and no [[sms]] account in {}",
            ctx.config_path.display()
        );
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut out = Vec::new();
    let mut failures = 0;
    // Mail commits on a thread of its own while the next batch is fetched.
    let mut writer = match (accounts.is_empty(), store.path()) {
        (false, Some(path)) => Some(crate::intake::Writer::open(path, store.settings().clone())?),
        _ => None,
    };
    for a in &accounts {
        // One account failing does not stop the others.
        let polled = match writer.as_mut() {
            Some(w) => rt.block_on(imap::poll_account(w, a)),
            None => rt.block_on(imap::poll_account(&mut Direct::new(&mut store), a)),
        };
        match polled {
            Ok(reports) => out.push(serde_json::json!({ "account": a.name, "mailboxes": reports })),
            Err(e) => {
                failures += 1;
                eprintln!("echodesk: {}", crate::sanitize::line(&e.to_string()));
                out.push(serde_json::json!({ "account": a.name, "error": e.to_string() }));
            }
        }
    }
    for a in &ctx.config.sms {
        match rt.block_on(crate::channel::sms::poll_account(
            &mut Direct::new(&mut store),
            a,
        )) {
            Ok(r) => out.push(serde_json::json!({ "account": a.name, "sms": r })),
            Err(e) => {
                failures += 1;
                eprintln!("echodesk: {}", crate::sanitize::line(&e.to_string()));
                out.push(serde_json::json!({ "account": a.name, "error": e.to_string() }));
            }
        }
    }
    drop(writer);
    let rules = crate::rules::run_pending(&mut store, &ctx.config.rules_setup())?;
    if ctx.json {
        output::json(&out)?;
    } else {
        for o in out.iter().filter(|o| o.get("sms").is_some()) {
            let r = &o["sms"];
            output::say(&format!(
                "{} (sms): {} fetched: {} new tickets, {} threaded, {} already stored",
                crate::sanitize::line(o["account"].as_str().unwrap_or("")),
                r["fetched"],
                r["created"],
                r["threaded"],
                r["duplicates"]
            ));
        }
        for o in &out {
            for m in o["mailboxes"].as_array().into_iter().flatten() {
                output::say(&format!(
                    "{}/{}: {} fetched: {} new tickets, {} threaded, {} already stored{}",
                    crate::sanitize::line(o["account"].as_str().unwrap_or("")),
                    crate::sanitize::line(m["mailbox"].as_str().unwrap_or("")),
                    m["fetched"],
                    m["created"],
                    m["threaded"],
                    m["duplicates"],
                    if m["rescanned"] == true {
                        " (UIDVALIDITY changed: rescanned)"
                    } else {
                        ""
                    }
                ));
            }
        }
    }
    if !ctx.json && rules.fired > 0 {
        output::say(&format!(
            "rules: {} fired on {} messages; {} automatic replies queued, {} held back by loop protection",
            rules.fired, rules.messages, rules.auto_replies, rules.suppressed
        ));
    }
    for p in &rules.problems {
        eprintln!("echodesk: {}", crate::sanitize::line(p));
    }
    if failures > 0 {
        anyhow::bail!(
            "{failures} of {} accounts failed",
            accounts.len() + ctx.config.sms.len()
        );
    }
    Ok(())
}

pub fn status(ctx: &Ctx) -> anyhow::Result<()> {
    // Read only: `status` never waits behind the daemon's writes.
    let store = ctx.open()?;
    let health = store.outbox_health()?;
    let daemon = store.lease_holder(crate::daemon::LEASE)?;
    let (mut rows, mut sms) = (Vec::new(), Vec::new());
    for a in &ctx.config.accounts {
        for m in a.imap.iter().flat_map(|i| i.mailboxes.iter()) {
            let st = store.poll_status(&a.name, &format!("status:{m}"))?;
            let cursor = store.cursor(&a.name, &format!("uid:{m}"))?;
            rows.push(serde_json::json!({ "account": a.name, "mailbox": m, "cursor": cursor, "status": st }));
        }
    }
    for a in &ctx.config.sms {
        let st = store.poll_status(&a.name, "status")?;
        sms.push(serde_json::json!({ "account": a.name, "kind": a.kind(), "number": a.number, "status": st }));
    }
    if ctx.json {
        return output::json(&serde_json::json!({
            "daemon": daemon,
            "sms": sms,
            "mailboxes": rows,
            "outbox": health
        }));
    }
    match &daemon {
        Some(l) => println!(
            "daemon: running, pid {} on {} since {}",
            l.pid,
            crate::sanitize::line(&l.host),
            output::datetime(l.acquired_at)
        ),
        None => println!("daemon: not running"),
    }
    for r in &rows {
        let name = format!(
            "{}/{}",
            r["account"].as_str().unwrap_or(""),
            r["mailbox"].as_str().unwrap_or("")
        );
        print_poll_status(&name, &r["status"]);
    }
    for r in &sms {
        let name = format!(
            "{} (sms {})",
            r["account"].as_str().unwrap_or(""),
            r["number"].as_str().unwrap_or("")
        );
        print_poll_status(&name, &r["status"]);
    }
    println!(
        "outbox: {} waiting, {} failed, {} of unknown fate{}",
        health.queued,
        health.failed,
        health.unknown,
        if health.unknown > 0 {
            " (`echodesk outbox resolve`)"
        } else {
            ""
        }
    );
    for (account, e) in &health.troubles {
        println!(
            "sending through {}: last error: {}",
            crate::sanitize::line(account),
            crate::sanitize::line(e)
        );
    }
    Ok(())
}

/// One line of `status`: when the source was last polled, and how it went.
fn print_poll_status(name: &str, st: &serde_json::Value) {
    let last = st["last_poll"]
        .as_i64()
        .map(output::datetime)
        .unwrap_or_else(|| "never".into());
    let err = st["last_error"]
        .as_str()
        .map(|e| format!(" · last error: {}", crate::sanitize::line(e)))
        .unwrap_or_default();
    println!(
        "{}: last poll {last} · {} fetched in all{err}",
        crate::sanitize::line(name),
        st["fetched_total"].as_u64().unwrap_or(0)
    );
}

#[derive(Debug, clap::Args)]
pub struct ReplyArgs {
    /// Ticket id
    pub id: String,
    /// File holding the reply, or - for standard input
    #[arg(long, value_name = "FILE")]
    pub body_file: std::path::PathBuf,
    /// Leave the state alone instead of the workflow's reply state (pending)
    #[arg(long)]
    pub keep_state: bool,
    /// Attach a file (repeat for several)
    #[arg(long, value_name = "FILE")]
    pub attach: Vec<std::path::PathBuf>,
}

/// Reads files to attach, with a content type guessed from the extension.
fn read_attachments(
    paths: &[std::path::PathBuf],
) -> anyhow::Result<Vec<(String, String, Vec<u8>)>> {
    let mut out = Vec::new();
    for p in paths {
        let data = std::fs::read(p).map_err(|e| crate::error::Error::io(p, e))?;
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "attachment".into());
        out.push((name.clone(), content_type_for(&name).to_string(), data));
    }
    Ok(out)
}

fn content_type_for(name: &str) -> &'static str {
    let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    match ext.as_deref() {
        Some("pdf") => "application/pdf",
        Some("txt") | Some("log") => "text/plain",
        Some("csv") => "text/csv",
        Some("png") => "image/png",
        Some("jpg") | Some("jpeg") => "image/jpeg",
        Some("gif") => "image/gif",
        Some("tif") | Some("tiff") => "image/tiff",
        Some("zip") => "application/zip",
        Some("html") | Some("htm") => "text/html",
        _ => "application/octet-stream",
    }
}

/// Queues a reply; the outbox worker sends it.
pub fn reply(ctx: &Ctx, a: &ReplyArgs) -> anyhow::Result<()> {
    let id = super::ticket_id(&a.id)?;
    let body = super::read_body(&a.body_file)?;
    if body.trim().is_empty() {
        return Err(crate::error::Error::invalid("reply", "", "the reply is empty").into());
    }
    let files = read_attachments(&a.attach)?;
    let mut store = ctx.open()?;
    let (channel, _) = store.reply_recipient(id, None)?;
    let tx = store.transaction()?;
    // Refuse an SMS too long for the gateway now, not at send time, by the
    // limit of the account the reply will go out through.
    if channel == crate::model::Channel::Sms {
        let wrote_to = tx.inbound_account(id)?;
        if let Some(acct) = crate::channel::sms::account_for(&ctx.config.sms, wrote_to.as_deref()) {
            let seg = crate::channel::sms::check_length(acct, &body)
                .map_err(|e| crate::error::Error::invalid("reply", format!("#{id}"), e))?;
            if !ctx.json {
                eprintln!("sms: {seg}");
            }
        }
    }
    let before = tx.ticket_state(id)?.0;
    let msg = tx.queue_reply(id, &body, &ctx.agent, None)?;
    for (name, ctype, data) in &files {
        tx.attach(
            msg,
            &crate::store::NewAttachment {
                filename: name,
                content_type: ctype,
                data,
            },
        )?;
    }
    if a.keep_state {
        // Undoing the reply's own move, not a move of the agent's: the
        // workflow need not allow going back (pending → new).
        let now = tx.ticket_state(id)?.0;
        if now != before {
            tx.apply_state(id, &now, &before, &ctx.agent)?;
        }
    }
    tx.commit()?;
    if ctx.json {
        return output::json(
            &serde_json::json!({ "ticket": id, "message": msg, "status": "queued" }),
        );
    }
    println!("#{id}: reply queued (send with `echodesk outbox send`, or the daemon)");
    Ok(())
}

#[derive(Debug, clap::Subcommand)]
pub enum OutboxCmd {
    /// What waits, failed or is unknown (--all: sent too)
    List {
        #[arg(long)]
        all: bool,
    },
    /// One entry: its state, delivery, provider reference and history
    Show { id: i64 },
    /// Send everything due now, once (what the daemon does continuously);
    /// exits 10 if anything failed or is left unknown
    Send,
    /// Queue entries again: failed, unknown (check first!) or waiting
    #[command(arg_required_else_help = true)]
    Retry { ids: Vec<i64> },
    /// Withdraw entries that are queued, failed or unknown: never sent
    #[command(arg_required_else_help = true)]
    Cancel { ids: Vec<i64> },
    /// Find out whether unknown entries arrived, from the provider's own
    /// records (the Sent mailbox, the gateway's message list); all unknown
    /// entries when no id is given
    Resolve {
        ids: Vec<i64>,
        /// Say what was found; change nothing
        #[arg(long)]
        dry_run: bool,
    },
}

/// `sent · delivered`, `sent · undelivered (30003 …)`, or the plain state.
pub fn outbox_state(r: &crate::store::OutboxRow) -> String {
    match (&r.delivery, r.status.as_str()) {
        (Some(d), "sent") if d != "sent" => match &r.delivery_detail {
            Some(detail) if !detail.is_empty() => format!("sent · {d} ({detail})"),
            _ => format!("sent · {d}"),
        },
        _ => r.status.clone(),
    }
}

fn print_outbox_row(r: &crate::store::OutboxRow) {
    let note = match (&r.last_error, r.status.as_str(), &r.provider_ref) {
        (Some(e), s, _) if s != "sent" => e.clone(),
        (_, "sent", Some(p)) => p.clone(),
        _ => String::new(),
    };
    println!(
        "{:>5}  #{:<6} {:<5} {:<22} {} attempts  {}  {}",
        r.id,
        r.ticket_id,
        r.channel,
        crate::sanitize::line(&outbox_state(r)),
        r.attempts,
        crate::sanitize::line(&r.recipient),
        crate::sanitize::line(&note)
    );
}

pub fn outbox(ctx: &Ctx, cmd: OutboxCmd) -> anyhow::Result<()> {
    let mut store = ctx.open()?;
    match cmd {
        OutboxCmd::List { all } => {
            let rows = store.outbox_rows(all)?;
            if ctx.json {
                return output::json(&rows);
            }
            for r in &rows {
                print_outbox_row(r);
            }
            Ok(())
        }
        OutboxCmd::Show { id } => {
            let row = store.outbox_row(id)?.ok_or_else(|| {
                crate::error::Error::invalid("outbox entry", id.to_string(), "no such entry")
            })?;
            let events = store.outbox_events(&row)?;
            if ctx.json {
                return output::json(&serde_json::json!({ "entry": row, "events": events }));
            }
            let line = |k: &str, v: &str| println!("{k:<10} {}", crate::sanitize::line(v));
            line("entry", &format!("{} (ticket #{})", row.id, row.ticket_id));
            line("state", &outbox_state(&row));
            line("channel", &format!("{} via {}", row.channel, row.account));
            line("to", &row.recipient);
            line("attempts", &row.attempts.to_string());
            if let Some(p) = &row.provider_ref {
                line(if row.channel == "sms" { "sid" } else { "reply" }, p);
            }
            if let Some(e) = &row.last_error {
                line("error", e);
            }
            if row.status == "queued" {
                line("next try", &output::datetime(row.next_attempt_at));
            }
            line("updated", &output::datetime(row.updated_at));
            for e in events {
                println!(
                    "  {}  {:<16} {}  {}",
                    output::datetime(e.at),
                    crate::sanitize::line(&e.kind),
                    crate::sanitize::line(&e.agent),
                    crate::sanitize::line(e.new.as_deref().unwrap_or(""))
                );
            }
            Ok(())
        }
        OutboxCmd::Send => {
            super::keep_running_on_broken_sockets();
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let report = rt.block_on(crate::outbox::send_due(&mut store, &ctx.config))?;
            if ctx.json {
                output::json(&report)?;
            } else {
                output::say(&format!(
                    "{} sent, {} will be retried, {} failed, {} interrupted earlier (now unknown)",
                    report.sent, report.retrying, report.failed, report.recovered_unknown
                ));
                if report.copied_to_sent > 0 {
                    output::say(&format!(
                        "{} copied to the Sent mailbox",
                        report.copied_to_sent
                    ));
                }
            }
            for e in &report.copy_errors {
                eprintln!(
                    "echodesk: copy to the Sent mailbox failed (the mail was sent): {}",
                    crate::sanitize::line(e)
                );
            }
            if report.failed > 0 || report.unknown > 0 {
                let mut parts = Vec::new();
                if report.failed > 0 {
                    parts.push(format!("{} failed", report.failed));
                }
                if report.unknown > 0 {
                    parts.push(format!(
                        "{} of unknown fate (`echodesk outbox resolve`, then retry or cancel)",
                        report.unknown
                    ));
                }
                return Err(crate::error::Error::Undelivered(format!(
                    "outbox: {} (see `echodesk outbox list`)",
                    parts.join(", ")
                ))
                .into());
            }
            Ok(())
        }
        OutboxCmd::Retry { ids } => {
            let tx = store.transaction()?;
            for id in &ids {
                tx.retry_outbox(*id, &ctx.agent)?;
            }
            tx.commit()?;
            if ctx.json {
                return output::json(&serde_json::json!({ "ids": ids, "status": "queued" }));
            }
            for id in ids {
                println!("outbox {id}: queued again");
            }
            Ok(())
        }
        OutboxCmd::Cancel { ids } => {
            let tx = store.transaction()?;
            for id in &ids {
                tx.cancel_outbox(*id, &ctx.agent)?;
            }
            tx.commit()?;
            if ctx.json {
                return output::json(&serde_json::json!({ "ids": ids, "status": "cancelled" }));
            }
            for id in ids {
                println!("outbox {id}: cancelled; it will not be sent");
            }
            Ok(())
        }
        OutboxCmd::Resolve { ids, dry_run } => {
            super::keep_running_on_broken_sockets();
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let found = rt.block_on(crate::outbox::resolve::resolve(
                &mut store,
                &ctx.config,
                &ids,
                dry_run,
                &ctx.agent,
            ))?;
            if ctx.json {
                return output::json(&found);
            }
            for f in &found {
                output::say(&format!(
                    "outbox {}: {} — {}{}",
                    f.id,
                    f.verdict.as_str(),
                    crate::sanitize::line(&f.how),
                    if dry_run { " (dry run: unchanged)" } else { "" }
                ));
            }
            if found.is_empty() {
                output::say("no unknown entries");
            }
            Ok(())
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct DaemonArgs {
    /// Log file, or - for standard error [default: from the config, else
    /// $XDG_STATE_HOME/echodesk/daemon.log]
    #[arg(long, value_name = "FILE")]
    pub log: Option<std::path::PathBuf>,
}

/// Pollers and the outbox worker until SIGTERM or SIGINT.
pub fn daemon(ctx: &Ctx, a: &DaemonArgs) -> anyhow::Result<()> {
    use anyhow::Context as _;
    let log = match (&a.log, &ctx.config.daemon.log_file) {
        (Some(p), _) | (None, Some(p)) => p.clone(),
        (None, None) => crate::config::Paths::xdg()?.state_dir.join("daemon.log"),
    };
    crate::daemon::init_logging(&log, &ctx.config.daemon.log_level)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let holder = format!("{}:{}", ctx.agent, std::process::id());
    let opts = crate::daemon::Options {
        config: ctx.config.clone(),
        db: ctx.db_path.clone(),
        holder,
    };
    rt.block_on(async {
        let (tx, rx) = tokio::sync::watch::channel(false);
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .context("listening for SIGTERM")?;
        let mut int = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
            .context("listening for SIGINT")?;
        tokio::spawn(async move {
            tokio::select! {
                _ = term.recv() => tracing::info!("SIGTERM: stopping"),
                _ = int.recv() => tracing::info!("SIGINT: stopping"),
            }
            let _ = tx.send(true);
        });
        if log.as_os_str() != "-" && !ctx.json {
            eprintln!("echodesk daemon: logging to {}", log.display());
        }
        crate::daemon::run(opts, rx).await.map_err(|e| {
            tracing::error!("{e}");
            anyhow::Error::from(e)
        })
    })
}
