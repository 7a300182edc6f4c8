//! The command line: one clap struct per subcommand group, each printing a
//! table for people or JSON (`--json`) for scripts.

mod admin;
mod assets;
mod attachments;
mod bulk;
mod canned;
mod customers;
mod digest;
mod export;
mod mail;
mod orgs;
pub mod output;
mod records;
pub mod report;
mod review;
mod schedule;
mod survey;
mod tickets;

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

use crate::config::{Config, Paths};
use crate::error::Error;
use crate::store::{SearchContext, Settings, Store};

#[derive(Debug, Parser)]
#[command(
    name = "echodesk",
    version,
    about = "Terminal omnichannel support inbox: email, fax and SMS in one SQLite ticket queue"
)]
pub struct Cli {
    /// Config file [default: $XDG_CONFIG_HOME/echodesk/config.toml]
    #[arg(long, global = true, env = "ECHODESK_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Database file [default: from the config, else $XDG_DATA_HOME/echodesk/echodesk.db]
    #[arg(long, global = true, env = "ECHODESK_DB", value_name = "FILE")]
    pub db: Option<PathBuf>,
    /// Act as this agent [default: from the config, else $USER]
    #[arg(long, global = true, env = "ECHODESK_AGENT")]
    pub agent: Option<String>,
    /// Print JSON instead of a table (read and write commands alike)
    #[arg(long, global = true)]
    pub json: bool,
    /// Without a command, the TUI opens on the configured database.
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a commented config template
    Init(admin::InitArgs),
    /// Build a generated demo inbox and show it
    Demo(admin::DemoArgs),
    /// List tickets matching a query
    #[command(alias = "ls")]
    List(tickets::ListArgs),
    /// The saved views with their counts
    Views,
    /// Show a ticket: conversation, customer, history
    Show(tickets::ShowArgs),
    /// Change the state of tickets: state ID... STATE
    State(tickets::StateArgs),
    /// Assign tickets: assign ID... AGENT|me|none
    Assign(tickets::AssignArgs),
    /// Add or remove tags: tag ID... +t|-t...
    Tag(tickets::TagArgs),
    /// Set the priority: priority ID... low|normal|high|urgent
    Priority(tickets::PriorityArgs),
    /// Add an internal note to a ticket
    Note(tickets::NoteArgs),
    /// Forward a ticket's conversation to another department; their answer
    /// comes back as an internal note: forward ID --to rnd@example.com
    Forward(tickets::ForwardArgs),
    /// Follow a ticket: you (or the agents and addresses named) from now
    /// on; an address is mailed each change, and its answers come back as
    /// internal notes
    Follow(tickets::FollowArgs),
    /// Stop following a ticket (you, or those named)
    Unfollow(tickets::FollowArgs),
    /// Who follows a ticket, and sending outside followers their updates
    #[command(subcommand)]
    Followers(tickets::FollowersCmd),
    /// Hide tickets from the open views until a time: snooze ID... UNTIL
    Snooze(tickets::SnoozeArgs),
    /// Fold tickets into one: merge INTO OTHER...
    Merge(tickets::MergeArgs),
    /// The customer file: show, edit, note, timeline, merge
    #[command(subcommand)]
    Customer(customers::CustomerCmd),
    /// Organisations: their people, domains, fields, assets and tickets
    #[command(subcommand)]
    Org(orgs::OrgCmd),
    /// Products customers own, and their repair records
    #[command(subcommand)]
    Asset(assets::AssetCmd),
    /// Act on many tickets at once, as a resumable job: reply, state, assign, tag
    #[command(subcommand)]
    Bulk(bulk::BulkCmd),
    /// Open outbound tickets to many customers with one message (notices)
    Send(bulk::SendArgs),
    /// A ticket's files: list, save, open (fax documents, MMS media, mail attachments)
    #[command(subcommand)]
    Attachment(attachments::AttachmentCmd),
    /// Canned answers: list, show, render for a ticket, check
    #[command(subcommand)]
    Canned(canned::CannedCmd),
    /// Import an mbox, a Maildir, or .eml files through the ingest path
    Import(admin::ImportArgs),
    /// Tickets for other departments' tools: csv, jsonl or mbox, streamed
    Export(export::ExportArgs),
    /// What customers wrote about, against the period before: counts by tag
    /// and channel, the fastest-growing topics with their words; --to mails it
    Digest(digest::DigestArgs),
    /// Poll every account once, then exit (for cron and scripts): each
    /// [accounts.imap] mailbox and each [[sms]] gateway, spool or database
    Poll,
    /// Poll and send continuously until SIGTERM (one per database)
    Daemon(mail::DaemonArgs),
    /// Queue a reply to the customer: reply ID --body-file F|-
    Reply(mail::ReplyArgs),
    /// The send queue: list, show, send, retry, cancel, resolve
    #[command(subcommand)]
    Outbox(mail::OutboxCmd),
    /// Per account: last poll, last error, messages fetched; the outbox
    Status,
    /// The team's figures: volume, first reply and resolution times, SLA,
    /// busiest hours, targets (table, --json or --csv); export, rebuild
    Report(report::ReportArgs),
    /// Satisfaction surveys: send the due ones (cron), list answers, opt-outs
    #[command(subcommand)]
    Survey(survey::SurveyCmd),
    /// Quality review: sample agents' solved tickets, score them, see the scores
    #[command(subcommand)]
    Review(review::ReviewCmd),
    /// Proactive care: list the schedules, run one now (cron) or see what it would send
    #[command(subcommand)]
    Schedule(schedule::ScheduleCmd),
    /// Copy the live database to a new file (SQLite online backup)
    Backup(admin::BackupArgs),
    /// Print shell completions
    Completions(admin::CompletionsArgs),
    /// Print the man page (roff)
    Man,
}

/// What every command needs: the config, the store, who is acting.
pub struct Ctx {
    pub config: Config,
    pub config_path: PathBuf,
    pub db_path: PathBuf,
    pub agent: String,
    pub json: bool,
}

impl Ctx {
    pub fn load(cli: &Cli) -> anyhow::Result<Ctx> {
        let explicit = cli.config.clone();
        let config_path = match &explicit {
            Some(p) => p.clone(),
            None => Paths::xdg()?.config_file,
        };
        let config = if explicit.is_some() || config_path.exists() {
            Config::load(&config_path)?
        } else {
            Config::default()
        };
        let db_path = match (&cli.db, &config.database) {
            (Some(p), _) => p.clone(),
            (None, Some(p)) => p.clone(),
            (None, None) => Paths::xdg()?.data_dir.join("echodesk.db"),
        };
        let agent = cli.agent.clone().unwrap_or_else(|| config.agent_name());
        // Times people read and type are on their own wall clock.
        crate::clock::set_local(config.my_zone());
        Ok(Ctx {
            config,
            config_path,
            db_path,
            agent,
            json: cli.json,
        })
    }

    pub fn open(&self) -> anyhow::Result<Store> {
        Store::open_noting(&self.db_path, Settings::from(&self.config), &mut |n| {
            eprintln!("echodesk: {n}")
        })
        .with_context(|| format!("opening the database {}", self.db_path.display()))
    }

    pub fn search_ctx(&self) -> SearchContext {
        SearchContext {
            me: self.agent.clone(),
            now: crate::store::now(),
        }
    }

    /// [`Ctx::search_ctx`], at `--now "YYYY-MM-DD HH:MM"` on the team's
    /// clock when given (checking a schedule or a delay as if it were then).
    pub fn search_ctx_at(&self, now: Option<&str>) -> anyhow::Result<SearchContext> {
        let mut sctx = self.search_ctx();
        if let Some(t) = now {
            let local = chrono::NaiveDateTime::parse_from_str(t.trim(), "%Y-%m-%d %H:%M")
                .map_err(|_| anyhow::anyhow!("--now `{t}`: expected YYYY-MM-DD HH:MM"))?;
            sctx.now = self.config.team_zone().at(local.date(), local.time());
        }
        Ok(sctx)
    }
}

/// Runs the parsed command line; returns the process exit code.
pub fn run(cli: Cli) -> i32 {
    match dispatch(cli) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("echodesk: {}", crate::sanitize::line(&format!("{e:#}")));
            exit_code(&e)
        }
    }
}

fn exit_code(e: &anyhow::Error) -> i32 {
    for cause in e.chain() {
        if let Some(err) = cause.downcast_ref::<Error>() {
            return err.exit_code();
        }
        if cause.downcast_ref::<crate::config::ConfigError>().is_some() {
            return 5;
        }
        if cause.downcast_ref::<crate::query::QueryError>().is_some() {
            return 6;
        }
        if cause
            .downcast_ref::<crate::workflow::WorkflowError>()
            .is_some()
        {
            return 4;
        }
        if cause.downcast_ref::<crate::canned::CannedError>().is_some() {
            return 6;
        }
    }
    1
}

fn dispatch(cli: Cli) -> anyhow::Result<()> {
    // Commands that need no config or store.
    match &cli.command {
        Some(Command::Completions(a)) => return admin::completions(a),
        Some(Command::Man) => return admin::man(),
        _ => {}
    }
    if matches!(cli.command, Some(Command::Poll | Command::Daemon(_))) {
        keep_running_on_broken_sockets();
    }
    let ctx = Ctx::load(&cli)?;
    let Some(command) = cli.command else {
        return tui(&ctx);
    };
    match command {
        Command::Init(a) => admin::init(&ctx, &a),
        Command::Demo(a) => admin::demo(&ctx, &a),
        Command::List(a) => tickets::list(&ctx, &a),
        Command::Views => tickets::views(&ctx),
        Command::Show(a) => tickets::show(&ctx, &a),
        Command::State(a) => tickets::state(&ctx, &a),
        Command::Assign(a) => tickets::assign(&ctx, &a),
        Command::Tag(a) => tickets::tag(&ctx, &a),
        Command::Priority(a) => tickets::priority(&ctx, &a),
        Command::Note(a) => tickets::note(&ctx, &a),
        Command::Forward(a) => tickets::forward(&ctx, &a),
        Command::Follow(a) => tickets::follow(&ctx, &a, true),
        Command::Unfollow(a) => tickets::follow(&ctx, &a, false),
        Command::Followers(c) => tickets::followers(&ctx, c),
        Command::Snooze(a) => tickets::snooze(&ctx, &a),
        Command::Merge(a) => tickets::merge(&ctx, &a),
        Command::Customer(c) => customers::run(&ctx, c),
        Command::Org(c) => orgs::run_org(&ctx, c),
        Command::Asset(c) => assets::run_asset(&ctx, c),
        Command::Canned(c) => canned::run(&ctx, c),
        Command::Bulk(c) => bulk::run(&ctx, c),
        Command::Attachment(c) => attachments::run(&ctx, c),
        Command::Send(a) => bulk::send(&ctx, &a),
        Command::Import(a) => admin::import(&ctx, &a),
        Command::Export(a) => export::export(&ctx, &a),
        Command::Digest(a) => digest::digest(&ctx, &a),
        Command::Backup(a) => admin::backup(&ctx, &a),
        Command::Poll => mail::poll(&ctx),
        Command::Daemon(a) => mail::daemon(&ctx, &a),
        Command::Reply(a) => mail::reply(&ctx, &a),
        Command::Outbox(c) => mail::outbox(&ctx, c),
        Command::Status => mail::status(&ctx),
        Command::Report(a) => report::run(&ctx, a),
        Command::Survey(c) => survey::run(&ctx, c),
        Command::Review(c) => review::run(&ctx, c),
        Command::Schedule(c) => schedule::run(&ctx, c),
        Command::Completions(_) | Command::Man => Ok(()),
    }
}

/// main() lets a closed stdout pipe end the process quietly (SIGPIPE's
/// default); commands that talk to servers must instead see a dropped
/// connection as an error on the write, or the daemon dies without a word.
pub(crate) fn keep_running_on_broken_sockets() {
    #[cfg(unix)]
    // SAFETY: ignoring SIGPIPE changes no memory; writes to a closed socket
    // or pipe then fail with EPIPE, which the callers handle.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
}

/// Opens the TUI on the context's database.
pub fn tui(ctx: &Ctx) -> anyhow::Result<()> {
    use std::io::IsTerminal;
    if !std::io::stdout().is_terminal() {
        anyhow::bail!(
            "the TUI needs a terminal; for scripts use the subcommands (echodesk --help)"
        );
    }
    let store = ctx.open()?;
    let theme = crate::tui::theme::Theme::load(&ctx.config.theme).map_err(anyhow::Error::msg)?;
    let mut app = crate::tui::App::new_lazy(store, ctx.config.clone(), ctx.agent.clone(), theme)?;
    app.count_in_background();
    crate::tui::run(app)
}

/// Parses a ticket id written as `12` or `#12`.
pub fn ticket_id(s: &str) -> Result<i64, Error> {
    s.trim_start_matches('#')
        .parse()
        .map_err(|_| Error::invalid("ticket id", s, "expected a number such as 12 or #12"))
}

/// Reads a body from a file, or from stdin when the path is `-`.
pub fn read_body(path: &std::path::Path) -> anyhow::Result<String> {
    use std::io::Read;
    let mut s = String::new();
    if path.as_os_str() == "-" {
        std::io::stdin()
            .read_to_string(&mut s)
            .context("reading the body from standard input")?;
    } else {
        s = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    }
    Ok(s)
}
