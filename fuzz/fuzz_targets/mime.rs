//! Raw mail → Inbound: MIME, charsets, HTML, dates. Never panics, and a
//! message's text is always valid (it is stored and displayed).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let m = echodesk::channel::email::mime::parse(data, "fuzz", "1", 1_800_000_000);
    assert!(m.received_at <= 1_800_000_000 + echodesk::channel::email::mime::DATE_SKEW);
    let _ = echodesk::sanitize::text(&m.body_text);
    let _ = echodesk::sanitize::line(&m.subject);
});
