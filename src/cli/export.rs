//! `echodesk export`: tickets for other departments' tools.

use std::io::Write;

use clap::Args;

use super::Ctx;

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Which tickets, in the query language (default: all)
    #[arg(long, short, default_value = "")]
    pub query: String,
    /// csv (a row per message), jsonl (a ticket per line) or mbox (the customers' mail)
    #[arg(long, default_value = "jsonl")]
    pub format: String,
    /// Write to this file instead of standard output
    #[arg(long, value_name = "FILE")]
    pub out: Option<std::path::PathBuf>,
}

pub fn export(ctx: &Ctx, a: &ExportArgs) -> anyhow::Result<()> {
    let format = crate::export::Format::parse(&a.format).map_err(anyhow::Error::msg)?;
    let q = crate::query::parse(&a.query)?;
    let store = ctx.open()?;
    let mut ids = store.search_ids(&q, &ctx.search_ctx(), usize::MAX >> 1)?;
    ids.sort_unstable();
    let done = match &a.out {
        Some(path) => {
            let file = std::fs::File::create(path).map_err(|e| crate::Error::io(path, e))?;
            let mut w = std::io::BufWriter::new(file);
            let n = crate::export::export(&store, &ids, format, &mut w)?;
            w.flush().map_err(|e| crate::Error::io(path, e))?;
            n
        }
        None => {
            let stdout = std::io::stdout();
            let mut w = std::io::BufWriter::new(stdout.lock());
            crate::export::export(&store, &ids, format, &mut w)?
        }
    };
    eprintln!(
        "exported {} tickets, {} messages{}",
        done.tickets,
        done.messages,
        if done.left_out > 0 {
            format!(
                " ({} texts, faxes, replies and notes are not mail from customers: not in the mbox)",
                done.left_out
            )
        } else {
            String::new()
        }
    );
    Ok(())
}
