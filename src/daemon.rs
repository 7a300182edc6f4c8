//! `echodesk daemon`: the account pollers and the outbox worker in one
//! long-running process, until SIGTERM or SIGINT.
//!
//! One daemon per database: it holds the `daemon` lease in the store and
//! renews it; a second daemon is refused while the lease is live. Shutdown
//! is graceful: pollers stop at their next await (every batch is committed
//! with its cursor, so nothing is half-stored), and the outbox worker
//! finishes the messages already on the wire before it exits, so no reply
//! is left `sending`.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::watch;

use crate::channel::email::imap::{Poller, Wake};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::intake::{Direct, Writer};
use crate::store::{Settings, Store};

pub const LEASE: &str = "daemon";
/// Seconds a lease lives without renewal; renewed every third of that.
pub const LEASE_TTL: i64 = 30;
/// Longest pause after a failed poll.
const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// What the daemon needs to start.
pub struct Options {
    pub config: Config,
    pub db: PathBuf,
    /// Names this process in the lease (agent@host:pid).
    pub holder: String,
}

/// Runs until `stop` turns true (the CLI wires SIGTERM/SIGINT to it).
pub async fn run(opts: Options, stop: watch::Receiver<bool>) -> Result<()> {
    let settings = Settings::from(&opts.config);
    let mut lease_store =
        Store::open_noting(&opts.db, settings.clone(), &mut |n| tracing::info!("{n}"))?;
    let lease = lease_store.acquire_lease(LEASE, &opts.holder, LEASE_TTL)?;
    tracing::info!(
        holder = %lease.holder,
        db = %opts.db.display(),
        "daemon started"
    );
    let (lost_tx, lost_rx) = watch::channel(false);
    let local = tokio::task::LocalSet::new();
    let result = local
        .run_until(async {
            let mut tasks = Vec::new();
            // A stop from outside, or a lost lease, ends every task.
            let stop_any = merged(stop.clone(), lost_rx.clone());
            for acct in opts.config.accounts.iter().filter(|a| a.imap.is_some()) {
                let store = Store::open(&opts.db, settings.clone())?;
                // Commits on a thread of its own, while the next batch is
                // fetched.
                let writer = Writer::open(&opts.db, settings.clone())?;
                let poller = Poller::new(acct);
                tasks.push(tokio::task::spawn_local(poll_loop(
                    poller,
                    writer,
                    store,
                    opts.config.clone(),
                    stop_any.clone(),
                )));
            }
            for acct in &opts.config.sms {
                let store = Store::open(&opts.db, settings.clone())?;
                tasks.push(tokio::task::spawn_local(sms_loop(
                    acct.clone(),
                    store,
                    opts.config.clone(),
                    stop_any.clone(),
                )));
            }
            if opts.config.accounts.iter().any(|a| a.smtp.is_some()) || !opts.config.sms.is_empty()
            {
                let store = Store::open(&opts.db, settings.clone())?;
                tasks.push(tokio::task::spawn_local(outbox_loop(
                    opts.config.clone(),
                    store,
                    stop_any.clone(),
                )));
            }
            if !opts.config.report.mail.is_empty()
                || opts.config.survey.enabled
                || !opts.config.schedules.is_empty()
                || !opts.config.digests.is_empty()
            {
                let store = Store::open(&opts.db, settings.clone())?;
                tasks.push(tokio::task::spawn_local(mailing_loop(
                    opts.config.clone(),
                    store,
                    stop_any.clone(),
                )));
            }
            if tasks.is_empty() {
                tracing::warn!(
                    "no account with [accounts.imap] or [accounts.smtp]: nothing to do but wait"
                );
            }
            let renew = renew_loop(&mut lease_store, &opts.holder, stop.clone(), lost_tx);
            renew.await;
            for t in tasks {
                let _ = t.await;
            }
            Ok::<(), Error>(())
        })
        .await;
    match lease_store.release_lease(LEASE, &opts.holder) {
        Ok(_) => tracing::info!("daemon stopped; lease released"),
        Err(e) => tracing::warn!("releasing the lease: {e}"),
    }
    if *lost_rx.borrow() {
        return Err(Error::Busy(
            "the daemon lease was taken over by another process; stopped".into(),
        ));
    }
    result
}

/// A receiver that turns true when either input does.
fn merged(a: watch::Receiver<bool>, b: watch::Receiver<bool>) -> watch::Receiver<bool> {
    let (tx, rx) = watch::channel(*a.borrow() || *b.borrow());
    tokio::task::spawn_local(async move {
        let (mut a, mut b) = (a, b);
        loop {
            tokio::select! {
                r = a.changed() => if r.is_err() || *a.borrow() { break },
                r = b.changed() => if r.is_err() || *b.borrow() { break },
            }
        }
        let _ = tx.send(true);
    });
    rx
}

async fn stopped(stop: &mut watch::Receiver<bool>) {
    while !*stop.borrow() {
        if stop.changed().await.is_err() {
            return;
        }
    }
}

/// Renews the lease until stopped; says so on `lost` if it was taken.
async fn renew_loop(
    store: &mut Store,
    holder: &str,
    mut stop: watch::Receiver<bool>,
    lost: watch::Sender<bool>,
) {
    let every = Duration::from_secs((LEASE_TTL / 3) as u64);
    loop {
        tokio::select! {
            _ = stopped(&mut stop) => return,
            _ = tokio::time::sleep(every) => {}
        }
        if let Err(e) = store.acquire_lease(LEASE, holder, LEASE_TTL) {
            tracing::error!("renewing the lease: {e}");
            if matches!(e, Error::Busy(_)) {
                let _ = lost.send(true);
                return;
            }
        }
    }
}

async fn poll_loop(
    mut poller: Poller,
    mut writer: Writer,
    mut store: Store,
    config: Config,
    mut stop: watch::Receiver<bool>,
) {
    let name = poller.account().name.clone();
    let interval = Duration::from_secs(
        poller
            .account()
            .imap
            .as_ref()
            .map_or(60, |c| c.poll_interval.max(1)),
    );
    let mut backoff = Duration::from_secs(5);
    while !*stop.borrow() {
        let pass = tokio::select! {
            _ = stopped(&mut stop) => break,
            r = poller.poll(&mut writer) => r,
        };
        match pass {
            Ok(reports) => {
                backoff = Duration::from_secs(5);
                // The rules see the new messages before the next wait; their
                // automatic replies go out with the outbox's next pass.
                match crate::rules::run_pending(&mut store, &config.rules_setup()) {
                    Ok(r) if r.fired > 0 => tracing::info!(
                        account = %name,
                        fired = r.fired,
                        auto_replies = r.auto_replies,
                        held = r.suppressed,
                        "rules"
                    ),
                    Ok(_) => {}
                    Err(e) => tracing::error!("rules: {e}"),
                }
                for r in reports.iter().filter(|r| r.fetched > 0 || r.rescanned) {
                    tracing::info!(
                        account = %name,
                        mailbox = %r.mailbox,
                        fetched = r.fetched,
                        created = r.created,
                        threaded = r.threaded,
                        duplicates = r.duplicates,
                        rescanned = r.rescanned,
                        "polled"
                    );
                }
            }
            Err(e) => {
                tracing::warn!(account = %name, "{e}; next try in {} s", backoff.as_secs());
                tokio::select! {
                    _ = stopped(&mut stop) => break,
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
        }
        let woke = tokio::select! {
            _ = stopped(&mut stop) => break,
            w = poller.wait(interval) => w,
        };
        match woke {
            Ok(Wake::Announced) => {
                tracing::debug!(account = %name, "IDLE: the server announced a change")
            }
            Ok(Wake::TimedOut) => {}
            Err(e) => tracing::info!(account = %name, "IDLE ended: {e}; reconnecting"),
        }
    }
    poller.logout().await;
}

/// Polls an SMS gateway every `poll_interval`; a gateway that is down is
/// retried with the same backoff as IMAP, and nothing is lost meanwhile
/// (the cursor only moves with what was stored).
async fn sms_loop(
    acct: crate::channel::sms::account::SmsAccount,
    mut store: Store,
    config: Config,
    mut stop: watch::Receiver<bool>,
) {
    let interval = Duration::from_secs(acct.poll_interval.max(1));
    let mut backoff = Duration::from_secs(5);
    while !*stop.borrow() {
        let mut sink = Direct::new(&mut store);
        let pass = tokio::select! {
            _ = stopped(&mut stop) => break,
            r = crate::channel::sms::poll_account(&mut sink, &acct) => r,
        };
        let pause = match pass {
            Ok(r) => {
                backoff = Duration::from_secs(5);
                if r.fetched > 0 {
                    tracing::info!(account = %acct.name, fetched = r.fetched, created = r.created, threaded = r.threaded, "sms polled");
                }
                if let Err(e) = crate::rules::run_pending(&mut store, &config.rules_setup()) {
                    tracing::error!("rules: {e}");
                }
                interval
            }
            Err(e) => {
                tracing::warn!("{e}; next try in {} s", backoff.as_secs());
                let b = backoff;
                backoff = (backoff * 2).min(MAX_BACKOFF);
                b
            }
        };
        tokio::select! {
            _ = stopped(&mut stop) => break,
            _ = tokio::time::sleep(pause) => {}
        }
    }
}

async fn outbox_loop(config: Config, mut store: Store, mut stop: watch::Receiver<bool>) {
    let mut sender = crate::outbox::Sender::new(&config);
    let flag = sender.stop_flag();
    let every = Duration::from_secs(config.daemon.outbox_interval);
    loop {
        // Not raced against the stop signal: a pass ends on its own after
        // the messages on the wire, once the flag is set.
        let watcher = {
            let mut stop = stop.clone();
            let flag = flag.clone();
            tokio::task::spawn_local(async move {
                stopped(&mut stop).await;
                flag.store(true, Ordering::Relaxed);
            })
        };
        match sender.send_due(&mut store).await {
            Ok(r) => {
                if r.sent + r.retrying + r.failed + r.recovered_unknown > 0 {
                    tracing::info!(
                        sent = r.sent,
                        retrying = r.retrying,
                        failed = r.failed,
                        unknown = r.recovered_unknown,
                        copied_to_sent = r.copied_to_sent,
                        "outbox pass"
                    );
                }
            }
            Err(e) => tracing::error!("outbox: {e}"),
        }
        watcher.abort();
        if *stop.borrow() {
            break;
        }
        tokio::select! {
            _ = stopped(&mut stop) => break,
            _ = tokio::time::sleep(every) => {}
        }
    }
    sender.close(&mut store).await;
}

/// Once a minute: mails the scheduled reports whose slots came round
/// (each slot once), runs the proactive-care schedules whose slots came
/// round (or resumes an interrupted run) and queues the satisfaction
/// surveys that are due; the outbox task sends them all.
async fn mailing_loop(config: Config, mut store: Store, mut stop: watch::Receiver<bool>) {
    let agent = config.agent_name();
    loop {
        let ctx = crate::store::SearchContext {
            me: agent.clone(),
            now: crate::store::now(),
        };
        let (done, errors) = crate::mailing::run_due(&mut store, &config, &ctx, &agent, false);
        for d in &done {
            tracing::info!(
                schedule = %d.schedule,
                slot = %d.slot,
                from = %d.from,
                to = %d.to,
                mails = d.tickets.len(),
                "report mailed"
            );
        }
        for (name, e) in &errors {
            tracing::error!(schedule = %name, "report mailing: {e}");
        }
        let (mailed, errors) = crate::voice::run_due(&mut store, &config, &ctx, &agent);
        for m in &mailed {
            tracing::info!(digest = %m.digest, slot = %m.slot, mails = m.tickets.len(), "digest mailed");
        }
        for (name, e) in &errors {
            tracing::error!(digest = %name, "digest: {e}");
        }
        let (runs, errors) = crate::care::run_due(&mut store, &config, &ctx);
        for r in &runs {
            tracing::info!(
                schedule = %r.schedule,
                slot = %r.slot,
                sent = r.sent,
                already = r.already,
                opted_out = r.opted_out,
                failed = r.failed,
                resumed = r.resumed,
                "schedule ran"
            );
        }
        for (name, e) in &errors {
            tracing::error!(schedule = %name, "schedule: {e}");
        }
        match crate::follow::notify(&mut store, false, crate::store::now()) {
            Ok(told) => {
                for t in &told {
                    tracing::info!(ticket = t.ticket, changes = t.changes, "follower told");
                }
            }
            Err(e) => tracing::error!("followers: {e}"),
        }
        if config.survey.enabled {
            match crate::survey::send_due(&mut store, &config, &ctx, false) {
                Ok(out) => {
                    let queued = out.iter().filter(|o| o.status == "queued").count();
                    if queued > 0 {
                        tracing::info!(queued, "surveys queued");
                    }
                }
                Err(e) => tracing::error!("surveys: {e}"),
            }
        }
        tokio::select! {
            _ = stopped(&mut stop) => break,
            _ = tokio::time::sleep(Duration::from_secs(60)) => {}
        }
    }
}

/// Sets up tracing to `file` (or standard error for `-`) at `level`.
pub fn init_logging(file: &std::path::Path, level: &str) -> Result<()> {
    use tracing_subscriber::fmt;
    let level = match level {
        "error" => tracing::Level::ERROR,
        "warn" => tracing::Level::WARN,
        "debug" => tracing::Level::DEBUG,
        "trace" => tracing::Level::TRACE,
        _ => tracing::Level::INFO,
    };
    let builder = fmt()
        .with_max_level(level)
        .with_ansi(false)
        .with_target(false);
    let r = if file.as_os_str() == "-" {
        builder
            .with_writer(|| SafeLog(std::io::stderr()))
            .try_init()
    } else {
        if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        // Mail addresses and subjects go in the log: not for every user.
        let f = std::os::unix::fs::OpenOptionsExt::mode(
            std::fs::OpenOptions::new().create(true).append(true),
            crate::store::file_mode_for(file),
        )
        .open(file)
        .map_err(|e| Error::io(file, e))?;
        let f = std::sync::Arc::new(std::sync::Mutex::new(f));
        builder
            .with_writer(move || SafeLog(LockedFile(f.clone())))
            .try_init()
    };
    r.map_err(|e| Error::Other(format!("setting up the log: {e}")))
}

/// A log writer that neutralises what a terminal would obey. Log lines
/// quote servers and mail (subjects, addresses, server replies), and logs
/// are read with `tail` and `less`: each line passes `sanitize::line`.
struct SafeLog<W: std::io::Write>(W);

impl<W: std::io::Write> std::io::Write for SafeLog<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        let mut out = String::with_capacity(text.len());
        for (i, line) in text.split('\n').enumerate() {
            if i > 0 {
                out.push('\n');
            }
            out.push_str(&crate::sanitize::line(line));
        }
        // One formatted event is one write: keep it whole.
        self.0.write_all(out.as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

struct LockedFile(std::sync::Arc<std::sync::Mutex<std::fs::File>>);

impl std::io::Write for LockedFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        // A panic while logging must not silence the log for good.
        let mut f = self.0.lock().unwrap_or_else(|p| p.into_inner());
        f.write_all(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).flush()
    }
}

#[cfg(test)]
mod log_tests {
    use super::SafeLog;
    use std::io::Write;

    #[test]
    fn log_lines_carry_no_escape_sequences() {
        let mut w = SafeLog(Vec::new());
        let line = "WARN outbox 7: 550 \x1b]0;owned\x07 no \u{202e}such user \u{9b}2J\nnext\n";
        assert_eq!(w.write(line.as_bytes()).unwrap(), line.len());
        let got = String::from_utf8(w.0).unwrap();
        assert!(!got.chars().any(|c| c.is_control() && c != '\n'), "{got:?}");
        assert!(!got.contains('\u{202e}'), "{got:?}");
        assert!(
            got.contains("no ") && got.contains("such user") && got.ends_with("next\n"),
            "{got:?}"
        );
    }
}
