//! Queues one reply on each of the first N tickets of a database, in one
//! transaction (for the SMTP benchmark in scripts/bench-email):
//! `cargo run --release --example queue_replies -- DB N`.

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(db), Some(n)) = (args.next(), args.next()) else {
        eprintln!("usage: queue_replies DB N");
        std::process::exit(2);
    };
    let n: i64 = n.parse().unwrap_or_else(|_| {
        eprintln!("N must be a number");
        std::process::exit(2)
    });
    if let Err(e) = run(std::path::Path::new(&db), n) {
        eprintln!("queue_replies: {e}");
        std::process::exit(1);
    }
}

fn run(db: &std::path::Path, n: i64) -> echodesk::Result<()> {
    let mut store = echodesk::store::Store::open(db, Default::default())?;
    let tx = store.transaction()?;
    for id in 1..=n {
        let body = format!(
            "Hello,\n\nthank you for writing to us about ticket {id}. We have looked into it \
             and the problem is fixed now: the replacement part left our warehouse this \
             morning and should reach you within two working days.\n\nKind regards,\nSupport\n"
        );
        tx.queue_reply(id, &body, "bench", None)?;
    }
    tx.commit()
}
