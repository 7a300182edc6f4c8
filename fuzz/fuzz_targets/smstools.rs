//! smsd spool files (incoming, sent, failed).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = echodesk::channel::sms::smstools::parse(data);
});
