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
    /// Set the database's directory up for a team of agents with their own
    /// Unix accounts: owned by this group, setgid, 2770; the files echodesk
    /// creates there are then 0660 (else 0600)
    #[arg(long, value_name = "GROUP")]
    pub group: Option<String>,
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
    let team = match &a.group {
        Some(g) => Some(team_directory(&ctx.db_path, g)?),
        None => None,
    };
    if ctx.json {
        return output::json(
            &serde_json::json!({ "config": path, "database": ctx.db_path, "team_directory": team }),
        );
    }
    println!("wrote {}", path.display());
    println!("database: {}", ctx.db_path.display());
    if let Some(dir) = team {
        println!(
            "team directory: {} (group {}, setgid, 2770; new store files 0660)",
            dir.display(),
            crate::sanitize::line(a.group.as_deref().unwrap_or(""))
        );
    }
    Ok(())
}

/// Makes the database's directory a team's: group `group`, setgid (files
/// made in it belong to the group), 2770; an existing store there and its
/// index, WAL and shared-memory files get the group and 0660.
fn team_directory(db: &std::path::Path, group: &str) -> anyhow::Result<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let dir = db
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."))
        .to_path_buf();
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    let gid = group_id(group).ok_or_else(|| {
        Error::invalid(
            "group",
            group,
            "no such group (see /etc/group; make it with groupadd)",
        )
    })?;
    std::os::unix::fs::chown(&dir, None, Some(gid)).map_err(|e| Error::io(&dir, e))?;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o2770))
        .map_err(|e| Error::io(&dir, e))?;
    let search = crate::store::search_index::path_for(db);
    for f in [db.to_path_buf(), search] {
        for suffix in ["", "-wal", "-shm"] {
            let mut p = f.clone().into_os_string();
            p.push(suffix);
            let p = PathBuf::from(p);
            if p.exists() {
                std::os::unix::fs::chown(&p, None, Some(gid)).map_err(|e| Error::io(&p, e))?;
                std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o660))
                    .map_err(|e| Error::io(&p, e))?;
            }
        }
    }
    Ok(dir)
}

/// A group's id, from its name (as the system's group database knows it,
/// LDAP included) or number.
fn group_id(group: &str) -> Option<u32> {
    if let Ok(n) = group.parse() {
        return Some(n);
    }
    let name = std::ffi::CString::new(group).ok()?;
    // SAFETY: getgrnam reads the group database into static storage; the
    // CLI is single-threaded here, and gr_gid is copied out at once.
    let entry = unsafe { libc::getgrnam(name.as_ptr()) };
    if entry.is_null() {
        return None;
    }
    // SAFETY: a non-null result points at a valid group record.
    Some(unsafe { (*entry).gr_gid })
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Directory for the demo database [default: $XDG_DATA_HOME/echodesk/demo]
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// How many tickets to generate
    #[arg(long, default_value_t = 1000)]
    pub tickets: usize,
    /// Only build the demo store and print where it is (without a
    /// terminal, the queue is printed instead of opening the TUI)
    #[arg(long)]
    pub build_only: bool,
}

/// The config the demo inbox is built and shown with: the user's, plus an
/// SLA policy and KPI targets where it has none, so that the queue's SLA
/// column and every panel of the dashboard have something to show.
fn with_demo_targets(c: &crate::config::Config) -> crate::config::Config {
    let mut c = c.clone();
    if c.sla.is_empty() {
        c.sla.push(crate::sla::Policy {
            name: "standard".into(),
            priorities: vec![],
            channels: vec![],
            first_response: Some("8h".into()),
            resolution: Some("3d".into()),
            business_hours: false,
        });
    }
    if c.report.targets.is_empty() {
        for (k, v) in [
            ("frt_median", "<= 4h"),
            ("frt_p90", "<= 1d"),
            ("reopen_rate", "<= 10%"),
            ("frt_sla", ">= 80%"),
            ("csat", ">= 85%"),
        ] {
            c.report.targets.insert(k.into(), v.into());
        }
    }
    c
}

pub fn demo(ctx: &Ctx, a: &DemoArgs) -> anyhow::Result<()> {
    let dir = match &a.dir {
        Some(d) => d.clone(),
        None => crate::config::Paths::xdg()?.data_dir.join("demo"),
    };
    let demo_config = with_demo_targets(&ctx.config);
    let report = crate::demo::build(&dir, a.tickets, &demo_config)
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
    let mut config = demo_config;
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
    /// The account name the messages are recorded under (dedupe is per
    /// account). A configured account with a `[fax]` section files the
    /// messages from its fax service as faxes
    #[arg(long, default_value = "import")]
    pub account: String,
    /// File messages from this fax-to-email service as faxes (hylafax,
    /// t38modem, efax, ...; `auto` tries them all), whatever the account
    #[arg(long, value_name = "PROFILE")]
    pub fax: Option<String>,
}

pub fn import(ctx: &Ctx, a: &ImportArgs) -> anyhow::Result<()> {
    let mut store = ctx.open()?;
    let tty = std::io::stderr().is_terminal() && !ctx.json;
    let fax_config = match &a.fax {
        Some(profile) => Some(crate::channel::fax::FaxConfig {
            profile: Some(profile.clone()),
            ..Default::default()
        }),
        None => ctx
            .config
            .accounts
            .iter()
            .find(|x| x.name == a.account)
            .and_then(|x| x.fax.clone()),
    };
    let fax = match fax_config {
        Some(c) => Some(crate::import::FaxImport {
            profile: crate::channel::fax::Profile::from_config(&c)
                .map_err(|e| anyhow::anyhow!("--fax: {e}"))?,
            region: store.settings().default_region.clone(),
        }),
        None => None,
    };
    let report = crate::import::import_with(&mut store, &a.path, &a.account, fax, |r| {
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
