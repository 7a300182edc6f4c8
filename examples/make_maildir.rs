//! Writes a Maildir of generated support mail (for benchmarks and for
//! trying `echodesk import`): `cargo run --release --example make_maildir -- DIR COUNT [SEED]`.

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(dir), Some(count)) = (args.next(), args.next()) else {
        eprintln!("usage: make_maildir DIR COUNT [SEED]");
        std::process::exit(2);
    };
    let count: usize = count.parse().unwrap_or_else(|_| {
        eprintln!("COUNT must be a number");
        std::process::exit(2)
    });
    let seed: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(1);
    let mut corpus = echodesk_corpus::Corpus::new(seed, 1_780_000_000);
    if let Err(e) = corpus.write_maildir(std::path::Path::new(&dir), count) {
        eprintln!("make_maildir: {e}");
        std::process::exit(1);
    }
}
