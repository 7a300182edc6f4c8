//! Normalising customer addresses so one person is one identity whatever
//! the channel spelled them as.

use crate::error::{Error, Result};
use crate::model::IdentityKind;

/// Lower-cases an email address and strips angle brackets and a display
/// name if one slipped through.
pub fn normalise_email(raw: &str) -> Result<String> {
    let s = raw.trim();
    let s = match (s.rfind('<'), s.rfind('>')) {
        (Some(a), Some(b)) if a < b => &s[a + 1..b],
        _ => s,
    };
    let s = s.trim().to_lowercase();
    let valid = match s.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty() && !domain.is_empty() && !s.chars().any(char::is_whitespace)
        }
        None => false,
    };
    if valid {
        Ok(s)
    } else {
        Err(Error::invalid(
            "email address",
            raw,
            "expected local@domain",
        ))
    }
}

/// Formats a phone or fax number as E.164, reading national numbers in the
/// configured default region.
pub fn normalise_phone(raw: &str, default_region: &str) -> Result<String> {
    let trimmed = raw.trim();
    // An international number already is E.164 once the punctuation goes;
    // the parser's national-prefix rules must not touch its digits (they
    // turn +86 138… into +86 38…).
    let intl = trimmed
        .strip_prefix('+')
        .or_else(|| trimmed.strip_prefix("00"));
    if let Some(rest) = intl {
        let digits: String = rest.chars().filter(char::is_ascii_digit).collect();
        let junk = rest
            .chars()
            .any(|c| !(c.is_ascii_digit() || " -.()/".contains(c)));
        if junk || !(7..=15).contains(&digits.len()) || digits.starts_with('0') {
            return Err(Error::invalid(
                "phone number",
                raw,
                "an international number has 7 to 15 digits after + and no letters",
            ));
        }
        return Ok(format!("+{digits}"));
    }
    let region = default_region.parse::<phonenumber::country::Id>().ok();
    let number = phonenumber::parse(region, raw.trim())
        .map_err(|e| Error::invalid("phone number", raw, e.to_string()))?;
    if !phonenumber::is_valid(&number) {
        // Gateways (smsd, Gammu) write international numbers without their
        // plus sign: 4915112345678 is no US number, but +49 151… is one.
        let digits: String = trimmed.chars().filter(char::is_ascii_digit).collect();
        let plain = trimmed
            .chars()
            .all(|c| c.is_ascii_digit() || " -.()/".contains(c));
        if plain && !digits.starts_with('0') {
            if let Ok(intl) = phonenumber::parse(None, format!("+{digits}")) {
                if phonenumber::is_valid(&intl) {
                    return Ok(format!("+{digits}"));
                }
            }
        }
    }
    Ok(number.format().mode(phonenumber::Mode::E164).to_string())
}

/// A number people can dial, strictly: what a customer list must hold.
/// (Ingest is lenient on purpose: short codes and sender ids identify
/// whoever texts from them; a CRM's "12" is a typo.)
pub fn strict_phone(raw: &str, default_region: &str) -> Result<String> {
    let n = normalise_phone(raw, default_region)?;
    let ok =
        n.starts_with('+') && phonenumber::parse(None, &n).is_ok_and(|p| phonenumber::is_valid(&p));
    if ok {
        Ok(n)
    } else {
        let why = if raw.trim().starts_with('+') {
            "no such number in its country's numbering plan".to_string()
        } else {
            format!("not a valid number with {default_region} as the default region; write it with + and the country code")
        };
        Err(Error::invalid("phone number", raw, why))
    }
}

/// Normalises a value of the given kind. Phone-like values that do not parse
/// as numbers (short codes, alphanumeric sender ids, "anonymous") are kept
/// verbatim, upper-cased, so they still identify a sender.
pub fn normalise(kind: IdentityKind, raw: &str, default_region: &str) -> Result<String> {
    match kind {
        IdentityKind::Email => normalise_email(raw),
        IdentityKind::Phone | IdentityKind::Fax => {
            let digits = raw.chars().filter(|c| c.is_ascii_digit()).count();
            if digits >= 7 {
                normalise_phone(raw, default_region)
            } else if raw.trim().is_empty() {
                Err(Error::invalid("phone number", raw, "empty"))
            } else {
                Ok(raw.trim().to_uppercase())
            }
        }
    }
}

/// Guesses which kind an identity typed on the command line is.
pub fn guess_kind(raw: &str) -> IdentityKind {
    if raw.contains('@') {
        IdentityKind::Email
    } else {
        IdentityKind::Phone
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_international_number_without_its_plus_is_read_as_one() {
        // What smsd writes when it leaves out From_TOA.
        assert_eq!(
            normalise_phone("4915112345678", "US").unwrap(),
            "+4915112345678"
        );
        assert_eq!(
            normalise_phone("8613800138000", "US").unwrap(),
            "+8613800138000"
        );
        // A valid national number stays national.
        assert_eq!(normalise_phone("4155552671", "US").unwrap(), "+14155552671");
        assert_eq!(
            normalise_phone("030 1234567", "DE").unwrap(),
            "+49301234567"
        );
    }

    #[test]
    fn emails_are_lower_cased_and_unwrapped() {
        assert_eq!(
            normalise_email("Alice <Alice@Example.COM>").unwrap(),
            "alice@example.com"
        );
        assert!(normalise_email("not an address").is_err());
    }

    #[test]
    fn phones_become_e164() {
        assert_eq!(
            normalise_phone("(415) 555-2671", "US").unwrap(),
            "+14155552671"
        );
        assert_eq!(
            normalise_phone("+44 20 7946 0958", "US").unwrap(),
            "+442079460958"
        );
        assert_eq!(normalise_phone("030 901820", "DE").unwrap(), "+4930901820");
        assert_eq!(
            normalise_phone("+86 138 1000 7919", "US").unwrap(),
            "+8613810007919"
        );
        assert_eq!(
            normalise_phone("0086 138 1000 7919", "US").unwrap(),
            "+8613810007919"
        );
        assert!(normalise_phone("+12ab345678", "US").is_err());
    }

    #[test]
    fn short_codes_are_kept() {
        assert_eq!(
            normalise(IdentityKind::Phone, "Acme", "US").unwrap(),
            "ACME"
        );
        assert_eq!(
            normalise(IdentityKind::Fax, "anonymous", "US").unwrap(),
            "ANONYMOUS"
        );
    }
}

#[cfg(test)]
mod strict_tests {
    #[test]
    fn a_customer_list_holds_dialable_numbers_only() {
        assert_eq!(
            super::strict_phone("+49 30 1234567", "US").unwrap(),
            "+49301234567"
        );
        assert_eq!(
            super::strict_phone("(415) 555-0134", "US").unwrap(),
            "+14155550134"
        );
        assert_eq!(
            super::strict_phone("+86 138 0013 8000", "US").unwrap(),
            "+8613800138000"
        );
        assert!(super::strict_phone("12", "US").is_err());
        assert!(super::strict_phone("ACME", "US").is_err());
    }
}
