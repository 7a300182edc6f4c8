//! Work on untrusted files in a child process with limits.
//!
//! A parser of a hostile file can overflow its stack (which no
//! `catch_unwind` catches), loop for ever or allocate without end. Run in a
//! child, any of that costs the child only: the caller gets a typed error
//! naming the limit, stores what it has, and moves on. The child gets an
//! address-space limit, a CPU-time limit, a wall-clock deadline and its own
//! process group, so a command that forks is killed whole.
//!
//! Two kinds of child: an external command (`pdftotext`, an `ocr_command`),
//! and echodesk's own helper (`echodesk __helper TASK`), which runs a
//! built-in parser on standard input. [`helper_exe`] finds the binary.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The argument that turns the echodesk binary into a helper.
pub const HELPER_ARG: &str = "__helper";

/// What a child may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Wall-clock time until the child's process group is killed.
    pub wall: Duration,
    /// Address space (RLIMIT_AS), in bytes.
    pub memory: u64,
    /// Standard output kept; the rest is read and dropped.
    pub max_output: usize,
}

impl Limits {
    /// For parsing one attachment: 10 s, 512 MiB, 4 MiB of text.
    pub const PARSER: Limits = Limits {
        wall: Duration::from_secs(10),
        memory: 512 << 20,
        max_output: 4 << 20,
    };
    /// For an OCR command: 120 s, 1 GiB (tesseract needs a few hundred MB).
    pub const OCR: Limits = Limits {
        wall: Duration::from_secs(120),
        memory: 1 << 30,
        max_output: 4 << 20,
    };
}

/// Why a child gave no usable answer.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IsolateError {
    #[error("could not start {what}: {reason}")]
    Spawn { what: String, reason: String },
    #[error("{what} did not finish within {secs} s and was stopped")]
    Timeout { what: String, secs: u64 },
    #[error("{what} was stopped by signal {signal} (crashed, or hit the {mib} MiB memory limit)")]
    Killed { what: String, signal: i32, mib: u64 },
    #[error("{what} exited with status {code}{}", if detail.is_empty() { String::new() } else { format!(": {detail}") })]
    Failed {
        what: String,
        code: i32,
        detail: String,
    },
}

/// A child's standard output and error, when it exited 0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// Whether stdout was longer than `max_output` and cut.
    pub truncated: bool,
}

/// The echodesk binary that can run `__helper` tasks: `ECHODESK_HELPER`,
/// else this process when it is echodesk, else (for the crate's own test
/// binaries in `target/*/deps`) the `echodesk` beside their directory.
pub fn helper_exe() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("ECHODESK_HELPER") {
        return Some(PathBuf::from(p));
    }
    let exe = std::env::current_exe().ok()?;
    if exe.file_stem().is_some_and(|s| s == "echodesk") {
        return Some(exe);
    }
    let beside = exe.parent()?.parent()?.join("echodesk");
    beside.is_file().then_some(beside)
}

/// Runs echodesk's helper for `task` on `input`.
pub fn run_helper(task: &str, input: &[u8], limits: Limits) -> Result<Finished, IsolateError> {
    let what = format!("the built-in {task} helper");
    let Some(exe) = helper_exe() else {
        return Err(IsolateError::Spawn {
            what,
            reason: "the echodesk binary was not found (set ECHODESK_HELPER)".into(),
        });
    };
    let mut cmd = Command::new(exe);
    cmd.arg(HELPER_ARG).arg(task);
    run(cmd, &what, input, limits)
}

/// Runs `cmd` with `input` on its standard input, under `limits`. `what`
/// names it in errors.
pub fn run(
    mut cmd: Command,
    what: &str,
    input: &[u8],
    limits: Limits,
) -> Result<Finished, IsolateError> {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    confine(&mut cmd, limits);
    let mut child = cmd.spawn().map_err(|e| IsolateError::Spawn {
        what: what.into(),
        reason: e.to_string(),
    })?;
    let pid = child.id();
    // Feed and drain on threads, so a child that stops reading or writes a
    // lot can neither block us nor itself.
    let feeder = child.stdin.take().map(|mut stdin| {
        let input = input.to_vec();
        std::thread::spawn(move || {
            // A child that exits without reading all its input is fine.
            let _ = stdin.write_all(&input);
        })
    });
    let max = limits.max_output;
    let out = child
        .stdout
        .take()
        .map(|s| std::thread::spawn(move || drain(s, max)));
    let err = child
        .stderr
        .take()
        .map(|s| std::thread::spawn(move || drain(s, 64 << 10)));
    let deadline = Instant::now() + limits.wall;
    let status: Option<ExitStatus> = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() >= deadline => {
                kill_group(pid);
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(2)),
            Err(_) => {
                kill_group(pid);
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
        }
    };
    // Whatever the child started is done for too: its output pipes close.
    kill_group(pid);
    if let Some(f) = feeder {
        let _ = f.join();
    }
    let (stdout, truncated) = out
        .and_then(|h| h.join().ok())
        .unwrap_or((Vec::new(), false));
    let (stderr, _) = err
        .and_then(|h| h.join().ok())
        .unwrap_or((Vec::new(), false));
    let Some(status) = status else {
        return Err(IsolateError::Timeout {
            what: what.into(),
            secs: limits.wall.as_secs().max(1),
        });
    };
    if status.success() {
        return Ok(Finished {
            stdout,
            stderr,
            truncated,
        });
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return Err(IsolateError::Killed {
                what: what.into(),
                signal,
                mib: limits.memory >> 20,
            });
        }
    }
    let detail = String::from_utf8_lossy(&stderr)
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(|l| crate::sanitize::line(l).chars().take(300).collect())
        .unwrap_or_default();
    Err(IsolateError::Failed {
        what: what.into(),
        code: status.code().unwrap_or(-1),
        detail,
    })
}

fn drain(mut r: impl Read, max: usize) -> (Vec<u8>, bool) {
    let mut kept = Vec::new();
    let mut buf = [0u8; 16 << 10];
    let mut truncated = false;
    loop {
        match r.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let room = max.saturating_sub(kept.len());
                if n > room {
                    truncated = true;
                }
                kept.extend_from_slice(&buf[..n.min(room)]);
            }
        }
    }
    (kept, truncated)
}

#[cfg(unix)]
fn confine(cmd: &mut Command, limits: Limits) {
    use std::os::unix::process::CommandExt;
    let memory = limits.memory;
    // CPU seconds as a second line behind the wall clock, for a child that
    // outlives us.
    let cpu = limits.wall.as_secs().saturating_mul(2).max(2);
    // SAFETY: between fork and exec only async-signal-safe calls are made
    // (setpgid, setrlimit), on values computed before the fork.
    unsafe {
        cmd.pre_exec(move || {
            libc::setpgid(0, 0);
            let as_limit = libc::rlimit {
                rlim_cur: memory as libc::rlim_t,
                rlim_max: memory as libc::rlim_t,
            };
            libc::setrlimit(libc::RLIMIT_AS, &as_limit);
            let cpu_limit = libc::rlimit {
                rlim_cur: cpu as libc::rlim_t,
                rlim_max: cpu as libc::rlim_t,
            };
            libc::setrlimit(libc::RLIMIT_CPU, &cpu_limit);
            let no_core = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            libc::setrlimit(libc::RLIMIT_CORE, &no_core);
            Ok(())
        });
    }
}

#[cfg(not(unix))]
fn confine(_cmd: &mut Command, _limits: Limits) {}

#[cfg(unix)]
fn kill_group(pid: u32) {
    // SAFETY: signalling a process group we created; a group that is gone
    // makes this a no-op (ESRCH).
    unsafe {
        libc::kill(-(pid as libc::pid_t), libc::SIGKILL);
    }
}

#[cfg(not(unix))]
fn kill_group(_pid: u32) {}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Command {
        let mut c = Command::new("sh");
        c.arg("-c").arg(script);
        c
    }

    #[test]
    fn output_comes_back_and_is_capped() {
        let f = run(sh("cat; printf tail"), "cat", b"head ", Limits::PARSER).unwrap();
        assert_eq!(f.stdout, b"head tail");
        let small = Limits {
            max_output: 4,
            ..Limits::PARSER
        };
        let f = run(sh("printf 0123456789"), "printf", b"", small).unwrap();
        assert_eq!((f.stdout.as_slice(), f.truncated), (&b"0123"[..], true));
    }

    #[test]
    fn a_hang_is_stopped_with_its_children() {
        let quick = Limits {
            wall: Duration::from_millis(300),
            ..Limits::PARSER
        };
        let started = Instant::now();
        // The grandchild keeps stdout open: only killing the group ends it.
        let e = run(sh("sleep 30 & sleep 30"), "sleeper", b"", quick).unwrap_err();
        assert!(matches!(e, IsolateError::Timeout { .. }), "{e}");
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(e.to_string().contains("did not finish"), "{e}");
    }

    #[test]
    fn memory_is_limited_and_failures_say_what_happened() {
        let tight = Limits {
            memory: 64 << 20,
            ..Limits::PARSER
        };
        // python3 cannot allocate 200 MB under a 64 MiB address-space limit.
        let e = run(
            sh("exec python3 -c 'x = bytearray(200 << 20)' 2>/dev/null"),
            "hog",
            b"",
            tight,
        )
        .unwrap_err();
        assert!(
            matches!(e, IsolateError::Failed { .. } | IsolateError::Killed { .. }),
            "{e}"
        );
        let e = run(
            sh("echo 'bad \x1b[2Jthing' >&2; exit 3"),
            "tool",
            b"",
            tight,
        )
        .unwrap_err();
        assert_eq!(e.to_string(), "tool exited with status 3: bad thing");
        let e = run(Command::new("/nonexistent/tool"), "tool", b"", tight).unwrap_err();
        assert!(matches!(e, IsolateError::Spawn { .. }), "{e}");
    }
}
