//! The built-in PDF text reader, in process (the product runs it in a
//! limited child; here every crash and hang is a finding).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = echodesk::channel::fax::text::extract(data);
});
