//! Canned answers: front matter and template, parsed and rendered with the
//! sample variables for every channel.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(c) = echodesk::canned::Canned::parse(std::path::Path::new("fuzz.md"), &text) {
        let vars = echodesk::canned::Vars::sample();
        for ch in [echodesk::model::Channel::Email, echodesk::model::Channel::Sms, echodesk::model::Channel::Fax] {
            let _ = c.render(&vars, ch);
        }
    }
});
