//! Fax replies through an email-to-fax gateway: the reply, under a cover
//! line naming the ticket, is rendered to PDF and mailed to the gateway's
//! address for the customer's fax number, from the fax account.

use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, Message, MultiPart, SinglePart};

use crate::channel::email::account::Account;
use crate::outbound::OutboxItem;

/// Gateway address patterns of common services. `{number}` is the E.164
/// number without `+`, `{national}` the national number, `{e164}` with `+`.
pub const GATEWAYS: &[(&str, &str)] = &[
    ("efax", "{number}@efaxsend.com"),
    ("ringcentral", "{number}@rcfax.com"),
    ("srfax", "1{national}@srfax.com"),
    ("faxplus", "+{number}@fax.plus"),
    ("faxtc", "{number}@fax.tc"),
];

/// The default font: Latin, Chinese and Japanese in one TrueType file
/// (Debian package fonts-wqy-microhei).
pub const DEFAULT_FONT: &str = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc";

/// The gateway address for a fax number.
pub fn gateway_address(send_to: &str, number: &str, region: &str) -> Result<String, String> {
    let pattern = GATEWAYS
        .iter()
        .find(|(name, _)| *name == send_to)
        .map_or(send_to, |(_, p)| *p);
    if !pattern.contains('{') || !pattern.contains('@') {
        return Err(format!(
            "send_to `{send_to}` is neither a preset ({}) nor an address pattern with {{number}}",
            GATEWAYS
                .iter()
                .map(|(n, _)| *n)
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let e164 = crate::identity::normalise_phone(number, region)
        .map_err(|e| format!("fax number `{number}`: {e}"))?;
    let digits = e164.trim_start_matches('+').to_string();
    let national = phonenumber::parse(None, &e164)
        .map(|n| n.national().value().to_string())
        .unwrap_or_else(|_| digits.clone());
    Ok(pattern
        .replace("{number}", &digits)
        .replace("{national}", &national)
        .replace("{e164}", &e164))
}

/// The mail that carries a fax reply, and its Message-ID.
pub fn build(
    item: &OutboxItem,
    acct: &Account,
    default_region: &str,
    subject_tag: &str,
) -> Result<(Message, String), String> {
    let fax = acct
        .fax
        .as_ref()
        .ok_or_else(|| format!("account `{}` has no [accounts.fax]", acct.name))?;
    let send_to = fax
        .send_to
        .as_deref()
        .ok_or_else(|| format!("account `{}`: [accounts.fax] has no send_to", acct.name))?;
    let to = gateway_address(send_to, &item.recipient, default_region)?;
    let tag = subject_tag.replace("{id}", &item.ticket_id.to_string());
    let from_name = acct
        .display_name
        .clone()
        .unwrap_or_else(|| acct.address.clone());
    let date = chrono::Utc::now().format("%Y-%m-%d %H:%M UTC");
    let cover = format!(
        "FAX to {} from {from_name} · {tag} {} · {date}\n\n",
        item.recipient,
        item.ticket_subject.trim()
    );
    let font = fax
        .font
        .clone()
        .unwrap_or_else(|| std::path::PathBuf::from(DEFAULT_FONT));
    let pdf =
        super::pdf::render(&format!("{cover}{}", item.body), &font).map_err(|e| e.to_string())?;
    let domain = acct
        .address
        .rsplit_once('@')
        .map_or("localhost", |(_, d)| d);
    let token =
        crate::digest::sha256_hex(format!("fax:{}:{}", item.id, item.message_id).as_bytes());
    let message_id = format!(
        "echodesk.fax.{}.{}.{}@{domain}",
        item.ticket_id,
        item.message_id,
        &token[..12]
    );
    let from: Mailbox = match &acct.display_name {
        Some(n) => format!("{n} <{}>", acct.address),
        None => acct.address.clone(),
    }
    .parse()
    .map_err(|e| format!("account `{}` address: {e}", acct.name))?;
    let to_box: Mailbox = to
        .parse()
        .map_err(|e| format!("gateway address {to}: {e}"))?;
    let pdf_type = ContentType::parse("application/pdf").map_err(|e| e.to_string())?;
    let msg = Message::builder()
        .from(from)
        .to(to_box)
        .subject(format!("Fax to {} {tag}", item.recipient))
        .message_id(Some(format!("<{message_id}>")))
        .multipart(
            MultiPart::mixed()
                .singlepart(SinglePart::plain(format!(
                    "Fax for {} ({tag}), attached as PDF.\n",
                    item.recipient
                )))
                .singlepart(
                    Attachment::new(format!("fax-{}.pdf", item.ticket_id)).body(pdf, pdf_type),
                ),
        )
        .map_err(|e| format!("building the fax mail: {e}"))?;
    Ok((msg, message_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_and_patterns_make_gateway_addresses() {
        let a = |p: &str| gateway_address(p, "+1 415 555 0142", "US").unwrap();
        assert_eq!(a("efax"), "14155550142@efaxsend.com");
        assert_eq!(a("ringcentral"), "14155550142@rcfax.com");
        assert_eq!(a("srfax"), "14155550142@srfax.com");
        assert_eq!(a("faxplus"), "+14155550142@fax.plus");
        assert_eq!(a("faxtc"), "14155550142@fax.tc");
        assert_eq!(
            a("fax-{e164}@gw.example.com"),
            "fax-+14155550142@gw.example.com"
        );
        assert!(gateway_address("faxomatic", "+14155550142", "US")
            .unwrap_err()
            .contains("preset"));
    }
}
