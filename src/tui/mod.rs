//! The terminal UI: what `echodesk` and `echodesk demo` open.
//!
//! `app` holds state and handles keys, `views` draws it, `keymap` and
//! `theme` are configuration. This module owns the terminal: raw mode and
//! the alternate screen are set up once and always restored, also when
//! something panics.

pub mod app;
pub mod counter;
pub mod keymap;
pub mod theme;
pub mod views;
pub mod wrap;

use std::io::{self, Stdout};
use std::time::{Duration, Instant};

use crossterm::event::{self, Event, KeyEventKind};
use crossterm::execute;
use crossterm::terminal::{
    disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen,
};
use ratatui::backend::CrosstermBackend;
use ratatui::Terminal;

pub use app::App;

/// How often changes by other agents are looked for.
const TICK: Duration = Duration::from_millis(500);

fn restore() {
    let _ = disable_raw_mode();
    let _ = execute!(io::stdout(), LeaveAlternateScreen, crossterm::cursor::Show);
}

fn setup() -> io::Result<Terminal<CrosstermBackend<Stdout>>> {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore();
        hook(info);
    }));
    enable_raw_mode()?;
    execute!(io::stdout(), EnterAlternateScreen)?;
    Terminal::new(CrosstermBackend::new(io::stdout()))
}

/// Hands the screen to $VISUAL / $EDITOR (default vi) for `text` and takes
/// it back; None if the editor could not run or failed.
fn edit_externally(
    terminal: &mut Terminal<CrosstermBackend<Stdout>>,
    text: &str,
) -> Option<String> {
    let editor = std::env::var("VISUAL")
        .or_else(|_| std::env::var("EDITOR"))
        .unwrap_or_else(|_| "vi".into());
    let (_dir, path) = private_file("echodesk-edit-", "reply.txt", text)?;
    let ok = hand_over(terminal, &editor, &path);
    ok.then(|| std::fs::read_to_string(&path).ok()).flatten()
}

/// Hands the screen to $PAGER (default less) to read `text`; false if it
/// could not run.
fn page_externally(terminal: &mut Terminal<CrosstermBackend<Stdout>>, text: &str) -> bool {
    let pager = std::env::var("PAGER")
        .ok()
        .filter(|p| !p.trim().is_empty())
        .unwrap_or_else(|| "less".into());
    match private_file("echodesk-read-", "ticket.txt", text) {
        Some((_dir, path)) => hand_over(terminal, &pager, &path),
        None => false,
    }
}

/// `text` in a new file in a new directory only this user can open (0700,
/// random name), so nobody can plant a link there or read it meanwhile;
/// both go when the returned guard drops.
fn private_file(
    prefix: &str,
    name: &str,
    text: &str,
) -> Option<(tempfile::TempDir, std::path::PathBuf)> {
    use std::io::Write;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let dir = tempfile::Builder::new()
        .prefix(prefix)
        .permissions(std::fs::Permissions::from_mode(0o700))
        .tempdir()
        .ok()?;
    let path = dir.path().join(name);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .ok()?;
    f.write_all(text.as_bytes()).ok()?;
    Some((dir, path))
}

/// Runs `command` (the user's own, which may carry arguments) on `path`
/// with the terminal restored, then takes the screen back. The path goes
/// in as `$1`, never into the command line itself.
fn hand_over(
    terminal: &mut Terminal<CrosstermBackend<Stdout>>,
    command: &str,
    path: &std::path::Path,
) -> bool {
    restore();
    let status = crate::shell::command_with_file(command, path).status();
    let _ = enable_raw_mode();
    let _ = execute!(io::stdout(), EnterAlternateScreen);
    let _ = terminal.clear();
    matches!(status, Ok(s) if s.success())
}

/// Runs the TUI until the user quits.
pub fn run(mut app: App) -> anyhow::Result<()> {
    let mut terminal = setup()?;
    let result = event_loop(&mut terminal, &mut app);
    restore();
    let _ = app.store.touch_presence(&app.agent, None, "away");
    result
}

fn event_loop(
    terminal: &mut Terminal<CrosstermBackend<Stdout>>,
    app: &mut App,
) -> anyhow::Result<()> {
    let mut last_tick = Instant::now();
    terminal.draw(|f| views::draw(f, app))?;
    while !app.quit {
        // Short polls while counts are outstanding, so they show promptly.
        let timeout = if app.counts_pending() {
            Duration::from_millis(20)
        } else {
            TICK.saturating_sub(last_tick.elapsed())
        };
        let mut dirty = false;
        if event::poll(timeout)? {
            match event::read()? {
                Event::Key(k) if k.kind != KeyEventKind::Release => {
                    app.on_key(k);
                    dirty = true;
                }
                Event::Resize(_, _) => dirty = true,
                _ => {}
            }
        }
        if app.collect_counts() {
            dirty = true;
        }
        if let Some(text) = app.editor_request.take() {
            let edited = edit_externally(terminal, &text);
            app.editor_done(edited);
            terminal.clear()?;
            dirty = true;
        }
        if let Some(text) = app.pager_request.take() {
            if !page_externally(terminal, &text) {
                app.status = Some(("the pager ($PAGER) could not run".into(), true));
            }
            terminal.clear()?;
            dirty = true;
        }
        if last_tick.elapsed() >= TICK {
            let before = app.store.data_version().unwrap_or(0);
            app.tick();
            dirty |= app.store.data_version().unwrap_or(0) != before || !app.presence.is_empty();
            last_tick = Instant::now();
        }
        if dirty {
            terminal.draw(|f| views::draw(f, app))?;
        }
    }
    Ok(())
}
