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
fn safe_name(name: &str, fallback: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("");
    let clean: String = base
        .chars()
        .filter(|c| !c.is_control())
        .collect::<String>()
        .trim_start_matches('.')
        .to_string();
    if clean.trim().is_empty() {
        fallback.to_string()
    } else {
        clean
    }
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
                    target.join(name)
                } else {
                    target.clone()
                };
                if path.exists() {
                    return Err(Error::invalid(
                        "destination",
                        path.display().to_string(),
                        "already exists; choose another --to",
                    )
                    .into());
                }
                std::fs::write(&path, store.blob(&a.sha256)?).map_err(|e| Error::io(&path, e))?;
                written.push(path);
            }
            if ctx.json {
                return output::json(&written);
            }
            for p in written {
                println!("{}", p.display());
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
            // the program they start has read the file.
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

#[cfg(test)]
mod tests {
    #[test]
    fn names_cannot_escape_the_directory() {
        assert_eq!(super::safe_name("../../etc/passwd", "x"), "passwd");
        assert_eq!(super::safe_name("..", "x"), "x");
        assert_eq!(super::safe_name("fax\u{1b}[2J.pdf", "x"), "fax[2J.pdf");
        assert_eq!(super::safe_name("C:\\fax.pdf", "x"), "fax.pdf");
    }
}
