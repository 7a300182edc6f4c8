//! A Twilio Messages list page as a gateway might send it.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(page) = echodesk::channel::sms::twilio::parse_page(data) {
        for m in page.messages.iter().flatten() {
            let _ = m.sent_at();
            let _ = m.media_count();
        }
    }
});
