//! `echodesk poll` and `echodesk status`.

use super::{output, Ctx};
use crate::channel::email::imap;

pub fn poll(ctx: &Ctx) -> anyhow::Result<()> {
    let mut store = ctx.open()?;
    let accounts: Vec<_> = ctx
        .config
        .accounts
        .iter()
        .filter(|a| a.imap.is_some())
        .cloned()
        .collect();
    if accounts.is_empty() {
        anyhow::bail!(
            "no account with [accounts.imap] in {}",
            ctx.config_path.display()
        );
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut out = Vec::new();
    let mut failures = 0;
    for a in &accounts {
        // One account failing does not stop the others.
        match rt.block_on(imap::poll_account(&mut store, a)) {
            Ok(reports) => out.push(serde_json::json!({ "account": a.name, "mailboxes": reports })),
            Err(e) => {
                failures += 1;
                eprintln!("echodesk: {}", crate::sanitize::line(&e.to_string()));
                out.push(serde_json::json!({ "account": a.name, "error": e.to_string() }));
            }
        }
    }
    if ctx.json {
        output::json(&out)?;
    } else {
        for o in &out {
            for m in o["mailboxes"].as_array().into_iter().flatten() {
                println!(
                    "{}/{}: {} fetched, {} new tickets, {} threaded, {} duplicates{}",
                    o["account"].as_str().unwrap_or(""),
                    m["mailbox"].as_str().unwrap_or(""),
                    m["fetched"],
                    m["created"],
                    m["threaded"],
                    m["duplicates"],
                    if m["rescanned"] == true {
                        " (UIDVALIDITY changed: rescanned)"
                    } else {
                        ""
                    }
                );
            }
        }
    }
    if failures > 0 {
        anyhow::bail!("{failures} of {} accounts failed", accounts.len());
    }
    Ok(())
}

pub fn status(ctx: &Ctx) -> anyhow::Result<()> {
    let mut store = ctx.open()?;
    let (queued, failed) = store.outbox_health()?;
    let mut rows = Vec::new();
    {
        let tx = store.transaction()?;
        for a in &ctx.config.accounts {
            for m in a.imap.iter().flat_map(|i| i.mailboxes.iter()) {
                let st: serde_json::Value = tx
                    .cursor(&a.name, &format!("status:{m}"))?
                    .and_then(|s| serde_json::from_str(&s).ok())
                    .unwrap_or(serde_json::Value::Null);
                let cursor = tx.cursor(&a.name, &format!("uid:{m}"))?;
                rows.push(serde_json::json!({ "account": a.name, "mailbox": m, "cursor": cursor, "status": st }));
            }
        }
    }
    if ctx.json {
        return output::json(
            &serde_json::json!({ "mailboxes": rows, "outbox": { "queued": queued, "failed": failed } }),
        );
    }
    for r in &rows {
        let st = &r["status"];
        let last = st["last_poll"]
            .as_i64()
            .map(output::datetime)
            .unwrap_or_else(|| "never".into());
        let err = st["last_error"]
            .as_str()
            .map(|e| format!(" · last error: {}", crate::sanitize::line(e)))
            .unwrap_or_default();
        println!(
            "{}/{}: last poll {last} · {} fetched in all{err}",
            r["account"].as_str().unwrap_or(""),
            r["mailbox"].as_str().unwrap_or(""),
            st["fetched_total"].as_u64().unwrap_or(0)
        );
    }
    println!("outbox: {queued} waiting, {failed} failed or unknown");
    Ok(())
}
