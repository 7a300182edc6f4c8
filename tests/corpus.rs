//! The synthetic corpus that benchmarks and test servers use: every kind
//! of message it writes parses back cleanly.

#[test]
fn generated_mail_parses_back_cleanly() {
    let mut c = echodesk_corpus::Corpus::new(7, 1_790_000_000);
    let mut kinds = std::collections::BTreeSet::new();
    for _ in 0..400 {
        let g = c.next_message();
        let m = echodesk::channel::email::mime::parse(&g.raw, "a", "1", 0);
        assert!(m.parse_error.is_none(), "{}: {:?}", g.kind, m.parse_error);
        assert_eq!(m.message_id.as_deref(), Some(g.message_id.as_str()));
        assert!(!m.body_text.trim().is_empty(), "{}", g.kind);
        assert!(
            !echodesk::channel::email::charset::suspicious(&m.subject),
            "{}: {}",
            g.kind,
            m.subject
        );
        kinds.insert(g.kind);
    }
    assert!(kinds.len() >= 7, "{kinds:?}");
}

#[test]
fn base64_matches_known_values() {
    use echodesk_corpus::base64;
    assert_eq!(base64(b"Man"), "TWFu");
    assert_eq!(base64(b"Ma"), "TWE=");
    assert_eq!(base64(b"M"), "TQ==");
}
