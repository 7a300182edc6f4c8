//! HTML → text, both paths (html2text and the stripper).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let html = String::from_utf8_lossy(data);
    let _ = echodesk::channel::email::html::to_text(&html);
    let _ = echodesk::channel::email::html::strip(&html);
});
