//! Gammu SMSD inbox rows: the UDH (hex), the receive time and the text.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    let mut parts = s.splitn(3, '\n');
    let udh = parts.next().unwrap_or("");
    let time = parts.next().unwrap_or("");
    let _ = echodesk::channel::sms::gammu::concat_udh(udh);
    let _ = echodesk::channel::sms::gammu::parse_time(time);
});
