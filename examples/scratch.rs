fn main() {
    for f in std::env::args().skip(1) {
        let raw = std::fs::read(&f).unwrap();
        let m = echodesk::channel::email::mime::parse(&raw, "a", "1", 0);
        println!(
            "{f}: subj={:?} err={:?} body={:?}",
            m.subject,
            m.parse_error,
            m.body_text.chars().take(50).collect::<String>()
        );
    }
}
