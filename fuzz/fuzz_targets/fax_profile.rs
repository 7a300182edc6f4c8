//! Fax-to-email mail through every preset (`auto`), PDF reading off.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

use echodesk::channel::fax::{FaxConfig, Profile};

fn profile() -> &'static Profile {
    static P: OnceLock<Profile> = OnceLock::new();
    P.get_or_init(|| {
        Profile::from_config(&FaxConfig {
            profile: Some("auto".into()),
            pdf_text: Some("none".into()),
            ..Default::default()
        })
        .expect("the auto profile compiles")
    })
}

fuzz_target!(|data: &[u8]| {
    let mut m = echodesk::channel::email::mime::parse(data, "fax", "1", 1_800_000_000);
    echodesk::channel::fax::apply(profile(), &mut m, "US");
    if m.channel == echodesk::model::Channel::Fax && !m.from_addr.is_empty() {
        // A fax identity is always a number in E.164.
        assert!(m.from_addr.starts_with('+'), "{}", m.from_addr);
        assert!(m.from_addr[1..].bytes().all(|b| b.is_ascii_digit()), "{}", m.from_addr);
    }
});
