use std::time::Instant;
fn main() {
    let db = std::env::args().nth(1).unwrap();
    let term = std::env::args().nth(2).unwrap();
    let store =
        echodesk::store::Store::open(std::path::Path::new(&db), Default::default()).unwrap();
    let ctx = echodesk::store::SearchContext {
        me: "alice".into(),
        now: 0,
    };
    let q = echodesk::query::parse(&term).unwrap();
    for p in store.explain(&q, &ctx).unwrap() {
        println!("plan: {p}");
    }
    for _ in 0..3 {
        let t = Instant::now();
        let page = store.search(&q, &ctx, None, 50).unwrap();
        let a = t.elapsed();
        let t = Instant::now();
        let n = store.count(&q, &ctx).unwrap();
        let b = t.elapsed();
        println!("page {:?} ({}), count {:?} ({n})", a, page.tickets.len(), b);
    }
    let conn = rusqlite::Connection::open(&db).unwrap();
    for _ in 0..3 {
        let t = Instant::now();
        let n: i64 = conn
            .query_row(
                "SELECT count(*) FROM tickets_fts WHERE tickets_fts MATCH ?",
                [format!("\"{}\"", term)],
                |r| r.get(0),
            )
            .unwrap();
        println!("fts-only count {:?} ({n})", t.elapsed());
    }
}
