//! View counts off the UI thread. Counting a big view is O(matches) in
//! SQLite (tens of milliseconds at a million tickets), so the queue draws
//! first and the numbers arrive when they are ready. The worker has its own
//! connection; a newer request makes older answers stale (generation).

use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, Sender};

use crate::query;
use crate::store::{SearchContext, Settings, Store};

pub struct Request {
    pub generation: u64,
    pub me: String,
    pub now: i64,
    /// (slot, query text); slot usize::MAX is the current list's total.
    pub queries: Vec<(usize, String)>,
}

pub struct Answer {
    pub generation: u64,
    pub slot: usize,
    pub count: Option<i64>,
}

pub struct Counter {
    tx: Sender<Request>,
    rx: Receiver<Answer>,
}

impl Counter {
    pub fn spawn(db: PathBuf, settings: Settings) -> Option<Counter> {
        let (req_tx, req_rx) = mpsc::channel::<Request>();
        let (ans_tx, ans_rx) = mpsc::channel::<Answer>();
        let store = Store::open(&db, settings).ok()?;
        std::thread::Builder::new()
            .name("echodesk-counter".into())
            .spawn(move || {
                while let Ok(mut req) = req_rx.recv() {
                    // Only the newest request matters.
                    while let Ok(newer) = req_rx.try_recv() {
                        req = newer;
                    }
                    let ctx = SearchContext {
                        me: req.me.clone(),
                        now: req.now,
                    };
                    for (slot, text) in &req.queries {
                        let count = query::parse(text)
                            .ok()
                            .and_then(|q| store.count(&q, &ctx).ok());
                        if ans_tx
                            .send(Answer {
                                generation: req.generation,
                                slot: *slot,
                                count,
                            })
                            .is_err()
                        {
                            return;
                        }
                    }
                }
            })
            .ok()?;
        Some(Counter {
            tx: req_tx,
            rx: ans_rx,
        })
    }

    pub fn request(&self, r: Request) {
        let _ = self.tx.send(r);
    }

    pub fn answers(&self) -> Vec<Answer> {
        self.rx.try_iter().collect()
    }
}
