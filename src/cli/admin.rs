//! Set-up and housekeeping: init, demo, import, backup, completions, man.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, CommandFactory};

use super::{output, Cli, Ctx};
use crate::config::TEMPLATE;
use crate::error::Error;

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Overwrite an existing config file
    #[arg(long)]
    pub force: bool,
}

pub fn init(ctx: &Ctx, a: &InitArgs) -> anyhow::Result<()> {
    let path = &ctx.config_path;
    if path.exists() && !a.force {
        anyhow::bail!(
            "{} already exists; pass --force to overwrite it",
            path.display()
        );
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    std::fs::write(path, TEMPLATE).map_err(|e| Error::io(path, e))?;
    if ctx.json {
        return output::json(&serde_json::json!({ "config": path, "database": ctx.db_path }));
    }
    println!("wrote {}", path.display());
    println!("database: {}", ctx.db_path.display());
    Ok(())
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Directory for the demo database [default: $XDG_DATA_HOME/echodesk/demo]
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// How many tickets to generate
    #[arg(long, default_value_t = 300)]
    pub tickets: usize,
    /// Only build the demo store and print where it is (without a
    /// terminal, the queue is printed instead of opening the TUI)
    #[arg(long)]
    pub build_only: bool,
}

pub fn demo(ctx: &Ctx, a: &DemoArgs) -> anyhow::Result<()> {
    let dir = match &a.dir {
        Some(d) => d.clone(),
        None => crate::config::Paths::xdg()?.data_dir.join("demo"),
    };
    let report = crate::demo::build(&dir, a.tickets, &ctx.config)
        .with_context(|| format!("building the demo inbox in {}", dir.display()))?;
    if ctx.json {
        return output::json(&report);
    }
    eprintln!(
        "demo inbox: {} tickets, {} messages, {} customers in {}",
        report.tickets,
        report.messages,
        report.customers,
        report.database.display()
    );
    eprintln!(
        "try: echodesk --db {} list --query 'is:open channel:sms'",
        report.database.display()
    );
    if a.build_only {
        return Ok(());
    }
    let mut config = ctx.config.clone();
    if config.canned_dir.is_none() {
        config.canned_dir = Some(report.canned_dir.clone());
    }
    let demo_ctx = Ctx {
        config,
        config_path: ctx.config_path.clone(),
        db_path: report.database.clone(),
        agent: ctx.agent.clone(),
        json: false,
    };
    // On a terminal the demo opens in the TUI; piped, it prints the queue.
    if std::io::stdout().is_terminal() {
        return super::tui(&demo_ctx);
    }
    super::tickets::list(
        &demo_ctx,
        &super::tickets::ListArgs {
            query: "is:open".into(),
            view: None,
            limit: 40,
            after: None,
            ids: false,
            all: false,
        },
    )
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// An mbox file, a Maildir, a directory of .eml files, or one .eml file
    pub path: PathBuf,
    /// The account name the messages are recorded under (dedupe is per account)
    #[arg(long, default_value = "import")]
    pub account: String,
}

pub fn import(ctx: &Ctx, a: &ImportArgs) -> anyhow::Result<()> {
    let mut store = ctx.open()?;
    let tty = std::io::stderr().is_terminal() && !ctx.json;
    let report = crate::import::import(&mut store, &a.path, &a.account, |r| {
        if tty {
            eprint!("\rimported {} messages…", r.seen);
        }
    })?;
    if tty {
        eprintln!();
    }
    store.optimize()?;
    if ctx.json {
        return output::json(&report);
    }
    println!(
        "{} messages: {} new tickets, {} threaded, {} duplicates skipped, {} with parse problems (kept), in {:.1}s",
        report.seen,
        report.created,
        report.threaded,
        report.duplicates,
        report.with_errors,
        report.elapsed.as_secs_f64()
    );
    for u in &report.unreadable {
        println!("unreadable: {}", crate::sanitize::line(u));
    }
    Ok(())
}

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// The new file to write
    pub path: PathBuf,
}

pub fn backup(ctx: &Ctx, a: &BackupArgs) -> anyhow::Result<()> {
    let store = ctx.open()?;
    store.backup(&a.path)?;
    if ctx.json {
        return output::json(&serde_json::json!({ "backup": a.path }));
    }
    println!(
        "backed up {} to {}",
        ctx.db_path.display(),
        a.path.display()
    );
    Ok(())
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// bash, zsh, fish, elvish or powershell
    pub shell: clap_complete::Shell,
}

pub fn completions(a: &CompletionsArgs) -> anyhow::Result<()> {
    let mut cmd = Cli::command();
    clap_complete::generate(a.shell, &mut cmd, "echodesk", &mut std::io::stdout());
    Ok(())
}

pub fn man() -> anyhow::Result<()> {
    let cmd = Cli::command();
    clap_mangen::Man::new(cmd)
        .render(&mut std::io::stdout())
        .context("writing the man page")?;
    Ok(())
}
