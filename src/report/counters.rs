//! The figures of one rollup row — a day, a channel, an agent, a priority
//! — and their compact encoding. Everything in it adds up, so a day's
//! row is the sum of what each ticket contributed, and a ticket's change
//! is its new contribution minus its old one.

use super::dist::Dist;
use super::facts::{Fact, What};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters {
    pub created: i64,
    pub spam: i64,
    pub reopened: i64,
    pub solved: i64,
    pub closed: i64,
    pub merged: i64,
    /// Tickets that entered open states minus those that left them: the
    /// backlog at the end of a day is the sum of all days up to it.
    pub backlog: i64,
    pub msgs_in: i64,
    pub msgs_out: i64,
    pub notes: i64,
    /// Public agent replies in the cycles solved.
    pub replies: i64,
    /// Solved cycles with exactly one public agent reply.
    pub one_touch: i64,
    pub frt_met: i64,
    pub frt_breached: i64,
    pub res_met: i64,
    pub res_breached: i64,
    pub frt: Dist,
    pub frt_bh: Dist,
    pub res: Dist,
    pub res_bh: Dist,
    /// Messages in by the hour of the team's day they arrived in.
    pub in_hours: [i64; 24],
    /// Open tickets waiting for a first reply / a solve whose deadline
    /// falls on this day.
    pub waiting_reply: i64,
    pub waiting_solve: i64,
}

impl Counters {
    /// Adds one fact, `sign` 1, or takes it away, -1.
    pub fn record(&mut self, f: &Fact, sign: i64) {
        match &f.what {
            What::Created => self.created += sign,
            What::Spam => self.spam += sign,
            What::Reopened => self.reopened += sign,
            What::Closed => self.closed += sign,
            What::Merged => self.merged += sign,
            What::Backlog(d) => self.backlog += sign * d,
            What::In { hour } => {
                self.msgs_in += sign;
                self.in_hours[usize::from(*hour).min(23)] += sign;
            }
            What::Out => self.msgs_out += sign,
            What::Note => self.notes += sign,
            What::FirstResponse {
                secs,
                business,
                sla,
            } => {
                self.frt.record(*secs, sign);
                self.frt_bh.record(*business, sign);
                match sla {
                    Some(true) => self.frt_met += sign,
                    Some(false) => self.frt_breached += sign,
                    None => {}
                }
            }
            What::WaitingReply => self.waiting_reply += sign,
            What::WaitingSolve => self.waiting_solve += sign,
            What::Solved {
                secs,
                business,
                replies,
                sla,
            } => {
                self.solved += sign;
                self.res.record(*secs, sign);
                self.res_bh.record(*business, sign);
                self.replies += sign * i64::from(*replies);
                if *replies == 1 {
                    self.one_touch += sign;
                }
                match sla {
                    Some(true) => self.res_met += sign,
                    Some(false) => self.res_breached += sign,
                    None => {}
                }
            }
        }
    }

    pub fn add(&mut self, o: &Counters, sign: i64) {
        for (a, b) in self.scalars_mut().into_iter().zip(o.scalars()) {
            *a += sign * b;
        }
        self.frt.add(&o.frt, sign);
        self.frt_bh.add(&o.frt_bh, sign);
        self.res.add(&o.res, sign);
        self.res_bh.add(&o.res_bh, sign);
        for (a, b) in self.in_hours.iter_mut().zip(o.in_hours) {
            *a += sign * b;
        }
    }

    pub fn is_zero(&self) -> bool {
        self.scalars().iter().all(|&v| v == 0)
            && self.frt.is_zero()
            && self.frt_bh.is_zero()
            && self.res.is_zero()
            && self.res_bh.is_zero()
            && self.in_hours == [0; 24]
    }

    fn scalars(&self) -> [i64; 18] {
        [
            self.created,
            self.spam,
            self.reopened,
            self.solved,
            self.closed,
            self.merged,
            self.backlog,
            self.msgs_in,
            self.msgs_out,
            self.notes,
            self.replies,
            self.one_touch,
            self.frt_met,
            self.frt_breached,
            self.res_met,
            self.res_breached,
            self.waiting_reply,
            self.waiting_solve,
        ]
    }

    fn scalars_mut(&mut self) -> [&mut i64; 18] {
        [
            &mut self.created,
            &mut self.spam,
            &mut self.reopened,
            &mut self.solved,
            &mut self.closed,
            &mut self.merged,
            &mut self.backlog,
            &mut self.msgs_in,
            &mut self.msgs_out,
            &mut self.notes,
            &mut self.replies,
            &mut self.one_touch,
            &mut self.frt_met,
            &mut self.frt_breached,
            &mut self.res_met,
            &mut self.res_breached,
            &mut self.waiting_reply,
            &mut self.waiting_solve,
        ]
    }

    /// Zigzag varints: a typical row is a few dozen bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(48);
        out.push(FORMAT);
        for v in self.scalars() {
            put(&mut out, v);
        }
        for d in [&self.frt, &self.frt_bh, &self.res, &self.res_bh] {
            put(&mut out, d.n);
            put(&mut out, d.sum);
            for b in d.bands {
                put(&mut out, b);
            }
            put(&mut out, d.buckets.len() as i64);
            let mut last = 0i64;
            for &(k, c) in &d.buckets {
                put(&mut out, i64::from(k) - last);
                put(&mut out, c);
                last = i64::from(k);
            }
        }
        for h in self.in_hours {
            put(&mut out, h);
        }
        out
    }

    /// Reads what [`Counters::encode`] wrote; `None` for bytes it did not.
    pub fn decode(bytes: &[u8]) -> Option<Counters> {
        let mut c = Counters::default();
        c.decode_into(bytes).then_some(c)
    }

    /// [`Counters::decode`] into `self`, reusing its buffers; false (and
    /// `self` unspecified) for bytes it did not write.
    pub fn decode_into(&mut self, bytes: &[u8]) -> bool {
        self.read(bytes).is_some()
    }

    fn read(&mut self, bytes: &[u8]) -> Option<()> {
        let mut r = Reader { bytes, at: 0 };
        if r.byte()? != FORMAT {
            return None;
        }
        let c = self;
        for s in c.scalars_mut() {
            *s = r.int()?;
        }
        for d in [&mut c.frt, &mut c.frt_bh, &mut c.res, &mut c.res_bh] {
            d.buckets.clear();
            d.n = r.int()?;
            d.sum = r.int()?;
            for b in d.bands.iter_mut() {
                *b = r.int()?;
            }
            let k = usize::try_from(r.int()?).ok()?;
            d.buckets.reserve(k.min(4096));
            let mut last = 0i64;
            for i in 0..k {
                let step = r.int()?;
                // Strictly increasing, as written.
                if i > 0 && step <= 0 {
                    return None;
                }
                last += step;
                let key = u16::try_from(last).ok()?;
                d.buckets.push((key, r.int()?));
            }
        }
        for h in c.in_hours.iter_mut() {
            *h = r.int()?;
        }
        r.done().then_some(())
    }
}

/// Many rows summed, as repeated [`Counters::add`] would, with the bucket
/// counts kept in dense arrays while summing: a year of rows into a few
/// cells costs a step per bucket entry, not an insert into a sorted list.
#[derive(Debug, Clone, Default)]
pub struct Sum {
    totals: Counters,
    dense: [Vec<i64>; 4],
}

impl Sum {
    pub fn add(&mut self, c: &Counters) {
        let t = &mut self.totals;
        for (a, b) in t.scalars_mut().into_iter().zip(c.scalars()) {
            *a += b;
        }
        for (a, b) in t.in_hours.iter_mut().zip(c.in_hours) {
            *a += b;
        }
        let dists = [&c.frt, &c.frt_bh, &c.res, &c.res_bh];
        for ((mine, theirs), dense) in [&mut t.frt, &mut t.frt_bh, &mut t.res, &mut t.res_bh]
            .into_iter()
            .zip(dists)
            .zip(self.dense.iter_mut())
        {
            mine.add_totals(theirs);
            for &(k, n) in &theirs.buckets {
                let k = usize::from(k);
                if dense.len() <= k {
                    dense.resize(k + 1, 0);
                }
                dense[k] += n;
            }
        }
    }

    pub fn add_sum(&mut self, other: &Sum) {
        self.add(&other.counters());
    }

    /// The sum as one row's counters.
    pub fn counters(&self) -> Counters {
        let mut c = self.totals.clone();
        for (d, dense) in [&mut c.frt, &mut c.frt_bh, &mut c.res, &mut c.res_bh]
            .into_iter()
            .zip(&self.dense)
        {
            d.buckets = dense
                .iter()
                .enumerate()
                .filter(|(_, &n)| n != 0)
                .map(|(k, &n)| (k as u16, n))
                .collect();
        }
        c
    }
}

/// 2: the waiting counts.
const FORMAT: u8 = 2;

pub(crate) fn put(out: &mut Vec<u8>, v: i64) {
    let mut z = ((v << 1) ^ (v >> 63)) as u64;
    while z >= 0x80 {
        out.push((z as u8) | 0x80);
        z >>= 7;
    }
    out.push(z as u8);
}

pub(crate) struct Reader<'a> {
    pub bytes: &'a [u8],
    pub at: usize,
}

impl Reader<'_> {
    pub fn byte(&mut self) -> Option<u8> {
        let b = *self.bytes.get(self.at)?;
        self.at += 1;
        Some(b)
    }

    pub fn int(&mut self) -> Option<i64> {
        let mut z = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            z |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Some(((z >> 1) as i64) ^ -((z & 1) as i64));
            }
        }
        None
    }

    pub fn text(&mut self) -> Option<String> {
        let n = usize::try_from(self.int()?).ok()?;
        let end = self.at.checked_add(n)?;
        let s = std::str::from_utf8(self.bytes.get(self.at..end)?).ok()?;
        self.at = end;
        Some(s.to_string())
    }

    pub fn done(&self) -> bool {
        self.at == self.bytes.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sum_is_repeated_adds() {
        let mut rows = Vec::new();
        for i in 0..50i64 {
            let mut c = Counters {
                created: i,
                backlog: i % 3 - 1,
                ..Default::default()
            };
            c.frt.record(i * 997 % 200_000, 1);
            c.res_bh.record(i * 31, 1);
            c.in_hours[(i % 24) as usize] += 1;
            rows.push(c);
        }
        let mut added = Counters::default();
        let mut sum = Sum::default();
        for r in &rows {
            added.add(r, 1);
            sum.add(r);
        }
        assert_eq!(sum.counters(), added);
    }

    #[test]
    fn encoding_round_trips_and_refuses_other_bytes() {
        let mut c = Counters {
            created: 3,
            backlog: -2,
            ..Default::default()
        };
        c.frt.record(4000, 1);
        c.frt.record(90_000, 1);
        c.res_bh.record(123, -1);
        c.in_hours[23] = 7;
        let bytes = c.encode();
        assert_eq!(Counters::decode(&bytes), Some(c));
        assert_eq!(Counters::decode(&bytes[..bytes.len() - 1]), None);
        assert_eq!(Counters::decode(b"\x09junk"), None);
    }
}
