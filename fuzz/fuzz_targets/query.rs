//! The search language, parsed and turned into SQL on an empty store.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    let _ = echodesk::query::parse(&s);
});
