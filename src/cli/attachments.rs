//! `echodesk attachment list|save|open`: a ticket's files (fax documents,
//! MMS media, mail attachments).

use std::path::PathBuf;

use super::{output, ticket_id, Ctx};
use crate::error::Error;
use crate::sanitize;

#[derive(Debug, clap::Subcommand)]
pub enum AttachmentCmd {
    /// Every file on a ticket, numbered
    List { ticket: String },
    /// Save one file (by number from `list`, or all with --all)
    Save {
        ticket: String,
        /// The number `attachment list` shows [default: 1]
        #[arg(default_value_t = 1)]
        n: usize,
        /// Directory or file to write to [default: the current directory]
        #[arg(long, short = 'o', value_name = "PATH")]
        to: Option<PathBuf>,
        /// Save every file of the ticket (into --to, a directory)
        #[arg(long)]
        all: bool,
    },
    /// Open one file with the configured viewer (`viewer` in the config)
    Open {
        ticket: String,
        #[arg(default_value_t = 1)]
        n: usize,
    },
}

/// A ticket's attachments in conversation order: (message id, attachment).
fn files(ctx: &Ctx, ticket: &str) -> anyhow::Result<Vec<(i64, crate::model::Attachment)>> {
    let store = ctx.open()?;
    let t = store.ticket(ticket_id(ticket)?)?;
    Ok(t.messages
        .into_iter()
        .flat_map(|m| m.attachments.into_iter().map(move |a| (m.id, a)))
        .collect())
}

/// A file name safe to create: no directories, no control characters.
/// Longest file name written, in bytes (most file systems allow 255).
const MAX_NAME: usize = 200;

/// A file name from a stranger made safe to create: the last path
/// component only, no control, bidi or invisible characters, no leading
/// dots, at most [`MAX_NAME`] bytes with the extension kept.
fn safe_name(name: &str, fallback: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("");
    let clean: String = base
        .chars()
        .filter(|c| {
            !c.is_control()
                && !matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}' | '\u{061C}' | '\u{180E}' | '\u{2028}' | '\u{2029}')
        })
        .collect::<String>()
        .trim()
        // A leading dot hides the file; a leading dash makes it an option
        // to the next `rm *`.
        .trim_start_matches(['.', '-'])
        .trim()
        .to_string();
    if clean.is_empty() {
        return fallback.to_string();
    }
    shorten(&clean, MAX_NAME)
}

/// `name` cut to `max` bytes at a character boundary, its extension kept.
fn shorten(name: &str, max: usize) -> String {
    if name.len() <= max {
        return name.to_string();
    }
    let ext = name
        .rfind('.')
        .map(|i| &name[i..])
        .filter(|e| e.len() <= 16)
        .unwrap_or("");
    let mut cut = max - ext.len();
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}{ext}", &name[..cut])
}

/// `dir/name`, or `dir/stem-2.ext` and so on when that is taken or was
/// written in this run.
fn free_path(dir: &std::path::Path, name: &str, taken: &[PathBuf]) -> PathBuf {
    let (stem, ext) = match name.rfind('.').filter(|i| *i > 0) {
        Some(i) => (&name[..i], &name[i..]),
        None => (name, ""),
    };
    let mut n = 1;
    loop {
        let candidate = if n == 1 {
            dir.join(name)
        } else {
            dir.join(format!("{stem}-{n}{ext}"))
        };
        let exists = std::fs::symlink_metadata(&candidate).is_ok();
        if !exists && !taken.contains(&candidate) {
            return candidate;
        }
        n += 1;
    }
}

/// Writes a new file: never through a symlink, never over a file.
fn write_new(path: &std::path::Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .custom_flags(libc::O_NOFOLLOW)
        .mode(0o600)
        .open(path)?
        .write_all(data)
}

pub fn run(ctx: &Ctx, cmd: AttachmentCmd) -> anyhow::Result<()> {
    match cmd {
        AttachmentCmd::List { ticket } => {
            let all = files(ctx, &ticket)?;
            if ctx.json {
                let rows: Vec<_> = all
                    .iter()
                    .enumerate()
                    .map(|(i, (m, a))| serde_json::json!({ "n": i + 1, "message": m, "attachment": a }))
                    .collect();
                return output::json(&rows);
            }
            for (i, (m, a)) in all.iter().enumerate() {
                println!(
                    "{:>3}  {:<40} {:<24} {:>9} bytes  (message {m})",
                    i + 1,
                    sanitize::line(&a.filename),
                    sanitize::line(&a.content_type),
                    a.size
                );
            }
            Ok(())
        }
        AttachmentCmd::Save { ticket, n, to, all } => {
            let list = files(ctx, &ticket)?;
            let store = ctx.open()?;
            let chosen: Vec<&(i64, crate::model::Attachment)> = if all {
                list.iter().collect()
            } else {
                vec![list.get(n.wrapping_sub(1)).ok_or_else(|| {
                    Error::invalid(
                        "attachment",
                        n.to_string(),
                        format!(
                            "the ticket has {} (see `echodesk attachment list`)",
                            list.len()
                        ),
                    )
                })?]
            };
            let target = to.unwrap_or_else(|| PathBuf::from("."));
            let mut written = Vec::new();
            for (i, (_, a)) in chosen.iter().enumerate() {
                let name = safe_name(&a.filename, &format!("attachment-{}", i + 1));
                let path = if target.is_dir() || all {
                    std::fs::create_dir_all(&target).map_err(|e| Error::io(&target, e))?;
                    // Two attachments called scan.pdf: scan.pdf, scan-2.pdf.
                    free_path(&target, &name, &written)
                } else {
                    if std::fs::symlink_metadata(&target).is_ok() {
                        return Err(Error::invalid(
                            "destination",
                            crate::sanitize::line(&target.display().to_string()),
                            "already exists; choose another --to",
                        )
                        .into());
                    }
                    target.clone()
                };
                write_new(&path, &store.blob(&a.sha256)?).map_err(|e| Error::io(&path, e))?;
                written.push(path);
            }
            if ctx.json {
                return output::json(&written);
            }
            for p in written {
                println!("{}", crate::sanitize::line(&p.display().to_string()));
            }
            Ok(())
        }
        AttachmentCmd::Open { ticket, n } => {
            let list = files(ctx, &ticket)?;
            let (_, a) = list.get(n.wrapping_sub(1)).ok_or_else(|| {
                Error::invalid(
                    "attachment",
                    n.to_string(),
                    format!("the ticket has {}", list.len()),
                )
            })?;
            let store = ctx.open()?;
            // A private directory (0700, a random name, made new): nothing
            // planted beforehand can redirect the write. It stays after the
            // viewer returns, since viewers such as xdg-open return before
            // the program they start has read the file; each open removes
            // this user's views older than a day.
            sweep_old_views(&std::env::temp_dir(), VIEW_LIFETIME);
            let dir = tempfile::Builder::new()
                .prefix("echodesk-view-")
                .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700))
                .tempdir()
                .map_err(|e| Error::Other(format!("temporary directory: {e}")))?
                .keep();
            let path = dir.join(safe_name(&a.filename, "attachment"));
            let data = store.blob(&a.sha256)?;
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
                .and_then(|mut f| std::io::Write::write_all(&mut f, &data))
                .map_err(|e| Error::io(&path, e))?;
            let viewer = ctx.config.viewer.clone();
            let status = crate::shell::command_with_file(&viewer, &path)
                .status()
                .map_err(|e| Error::Other(format!("viewer `{viewer}`: {e}")))?;
            if !status.success() {
                anyhow::bail!("viewer `{viewer}` exited with {status}");
            }
            Ok(())
        }
    }
}

/// How long an opened attachment's copy is kept for its viewer.
const VIEW_LIFETIME: std::time::Duration = std::time::Duration::from_secs(86_400);

/// Removes `echodesk-view-*` directories in `tmp` that belong to this user
/// and were last changed longer than `age` ago. Only real directories are
/// touched (never a symlink someone planted under that name), and errors
/// are ignored: a leftover is a nuisance, not a failure.
fn sweep_old_views(tmp: &std::path::Path, age: std::time::Duration) {
    use std::os::unix::fs::MetadataExt;
    let me = own_uid();
    let Ok(entries) = std::fs::read_dir(tmp) else {
        return;
    };
    for e in entries.flatten() {
        if !e
            .file_name()
            .to_string_lossy()
            .starts_with("echodesk-view-")
        {
            continue;
        }
        let Ok(meta) = std::fs::symlink_metadata(e.path()) else {
            continue;
        };
        let old = meta
            .modified()
            .ok()
            .and_then(|m| m.elapsed().ok())
            .is_some_and(|d| d > age);
        if meta.is_dir() && meta.uid() == me && old {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

/// This process's user id: /proc/self belongs to it.
fn own_uid() -> u32 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").map_or(u32::MAX, |m| m.uid())
}

#[cfg(test)]
mod tests {
    #[test]
    fn old_views_are_swept_and_nothing_else() {
        let tmp = tempfile::tempdir().unwrap();
        let old = tmp.path().join("echodesk-view-old");
        let new = tmp.path().join("echodesk-view-new");
        let other = tmp.path().join("not-ours");
        for d in [&old, &new, &other] {
            std::fs::create_dir(d).unwrap();
            std::fs::write(d.join("f.pdf"), b"x").unwrap();
        }
        let two_days = std::time::SystemTime::now() - std::time::Duration::from_secs(2 * 86_400);
        let f = std::fs::File::open(&old).unwrap();
        f.set_modified(two_days).unwrap();
        std::fs::File::open(&other)
            .unwrap()
            .set_modified(two_days)
            .unwrap();
        // A symlink by that name to a directory elsewhere is left alone.
        let target = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(target.path(), tmp.path().join("echodesk-view-link")).unwrap();
        super::sweep_old_views(tmp.path(), super::VIEW_LIFETIME);
        assert!(!old.exists());
        assert!(new.exists() && other.exists());
        assert!(target.path().exists());
    }

    #[test]
    fn names_cannot_escape_the_directory() {
        assert_eq!(super::safe_name("../../etc/passwd", "x"), "passwd");
        assert_eq!(super::safe_name("..", "x"), "x");
        assert_eq!(super::safe_name("fax\u{1b}[2J.pdf", "x"), "fax[2J.pdf");
        assert_eq!(super::safe_name("C:\\fax.pdf", "x"), "fax.pdf");
        assert_eq!(
            super::safe_name("invoice\u{202E}fdp.exe", "x"),
            "invoicefdp.exe"
        );
        assert_eq!(super::safe_name("Pay\u{200B}Pal.pdf", "x"), "PayPal.pdf");
        let long = format!("{}.pdf", "é".repeat(200));
        let short = super::safe_name(&long, "x");
        assert!(short.len() <= 200 && short.ends_with(".pdf"), "{short}");
    }

    #[test]
    fn saving_never_follows_a_planted_link_and_renames_duplicates() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, b"keep").unwrap();
        let link = dir.path().join("scan.pdf");
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        assert!(super::write_new(&link, b"evil").is_err());
        assert_eq!(std::fs::read(&victim).unwrap(), b"keep");
        let free = super::free_path(dir.path(), "scan.pdf", &[]);
        assert_eq!(free, dir.path().join("scan-2.pdf"));
        let next = super::free_path(dir.path(), "scan.pdf", std::slice::from_ref(&free));
        assert_eq!(next, dir.path().join("scan-3.pdf"));
    }
}
