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
    let dir = tempfile_dir()?;
    let path = dir.join(format!("echodesk-{}.txt", std::process::id()));
    std::fs::write(&path, text).ok()?;
    restore();
    let editor = std::env::var("VISUAL")
        .or_else(|_| std::env::var("EDITOR"))
        .unwrap_or_else(|_| "vi".into());
    // The editor may carry arguments ("code --wait"): run it through sh.
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("{editor} \"$1\""))
        .arg("sh")
        .arg(&path)
        .status();
    let _ = enable_raw_mode();
    let _ = execute!(io::stdout(), EnterAlternateScreen);
    let _ = terminal.clear();
    let result = match status {
        Ok(s) if s.success() => std::fs::read_to_string(&path).ok(),
        _ => None,
    };
    let _ = std::fs::remove_file(&path);
    result
}

fn tempfile_dir() -> Option<std::path::PathBuf> {
    let d = std::env::temp_dir();
    d.is_dir().then_some(d)
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
