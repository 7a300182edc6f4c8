//! The streaming export of customers (CSV and JSON Lines).

use std::io::Write;

use crate::error::{Error, Result};
use crate::fields::Entity;
use crate::store::Store;

/// Every customer as CSV, one row each, streamed: the columns an import
/// reads back (identities of a kind joined by `; `), then the declared
/// fields, then echodesk's own number (which an import ignores).
pub fn export_customers_csv(store: &Store, out: &mut dyn Write) -> Result<usize> {
    let fields: Vec<String> = store
        .settings()
        .fields
        .of(Entity::Customer)
        .map(|d| d.name.clone())
        .collect();
    let mut w = csv::Writer::from_writer(out);
    let mut header = vec!["external_id", "name", "email", "phone", "fax", "org"];
    header.extend(fields.iter().map(String::as_str));
    header.push("echodesk_id");
    let io = |e: csv::Error| Error::Other(format!("writing the CSV: {e}"));
    w.write_record(&header).map_err(io)?;
    let mut n = 0;
    store.for_each_customer_row(|c| {
        let cell = crate::tables::cell;
        let mut row = vec![
            cell(c.external_id.as_deref().unwrap_or("")),
            cell(&c.name),
            cell(&c.emails.join("; ")),
            cell(&c.phones.join("; ")),
            cell(&c.faxes.join("; ")),
            cell(c.org.as_deref().unwrap_or("")),
        ];
        for f in &fields {
            row.push(cell(
                c.fields
                    .iter()
                    .find(|(n, _)| n == f)
                    .map_or("", |(_, v)| v.as_str()),
            ));
        }
        row.push(c.id.to_string());
        n += 1;
        w.write_record(&row).map_err(io)
    })?;
    w.flush()
        .map_err(|e| Error::Other(format!("writing the CSV: {e}")))?;
    Ok(n)
}

/// The same as JSON Lines: one object per customer.
pub fn export_customers_json(store: &Store, out: &mut dyn Write) -> Result<usize> {
    let mut n = 0;
    store.for_each_customer_row(|c| {
        let line = crate::sanitize::json(&c, false).map_err(|e| Error::Other(e.to_string()))?;
        writeln!(out, "{line}").map_err(|e| Error::Other(format!("writing: {e}")))?;
        n += 1;
        Ok(())
    })?;
    Ok(n)
}
