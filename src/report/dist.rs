//! Distributions of durations that add up: counts and sums exact, bands
//! (the histogram people read) exact, percentiles from buckets fine
//! enough that the error is under a minute or at most 1 %, whichever is
//! larger (docs/reports.md states the bound; the tests hold it against
//! exact percentiles).

/// Durations under this many seconds get one bucket per minute.
const LINEAR_END: i64 = 6000;
const MINUTE: i64 = 60;
/// Above it, each bucket is 2 % wider than the last, so the midpoint is
/// within 1 % of every value in it.
const GROWTH: f64 = 1.02;
const LINEAR_BUCKETS: u16 = (LINEAR_END / MINUTE) as u16;

/// The band edges of the histogram shown to people: <1h, 1–4h, 4–8h,
/// 8–24h, ≥24h.
pub const BAND_EDGES: [i64; 4] = [3600, 4 * 3600, 8 * 3600, 24 * 3600];
pub const BAND_LABELS: [&str; 5] = ["<1h", "1-4h", "4-8h", "8-24h", ">24h"];

fn bucket_of(secs: i64) -> u16 {
    let s = secs.max(0);
    if s < LINEAR_END {
        return (s / MINUTE) as u16;
    }
    let k = ((s as f64 / LINEAR_END as f64).ln() / GROWTH.ln()).floor();
    // 2 % steps reach past a century well before u16 runs out.
    LINEAR_BUCKETS.saturating_add(k.clamp(0.0, 60_000.0) as u16)
}

/// The value a bucket stands for: a minute bucket's start (so whole
/// minutes come out exact), a wider bucket's middle.
fn representative(bucket: u16) -> i64 {
    if bucket < LINEAR_BUCKETS {
        return i64::from(bucket) * MINUTE;
    }
    let k = f64::from(bucket - LINEAR_BUCKETS);
    (LINEAR_END as f64 * GROWTH.powf(k + 0.5)).round() as i64
}

fn band_of(secs: i64) -> usize {
    BAND_EDGES.iter().take_while(|&&e| secs >= e).count()
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dist {
    pub n: i64,
    pub sum: i64,
    pub bands: [i64; 5],
    /// (bucket, count) sorted by bucket; never holds a zero count.
    pub buckets: Vec<(u16, i64)>,
}

impl Dist {
    /// Adds (`sign` 1) or takes away (-1) one duration.
    pub fn record(&mut self, secs: i64, sign: i64) {
        let secs = secs.max(0);
        self.n += sign;
        self.sum += sign * secs;
        self.bands[band_of(secs)] += sign;
        self.bump(bucket_of(secs), sign);
    }

    fn bump(&mut self, b: u16, by: i64) {
        match self.buckets.binary_search_by_key(&b, |&(k, _)| k) {
            Ok(i) => {
                self.buckets[i].1 += by;
                if self.buckets[i].1 == 0 {
                    self.buckets.remove(i);
                }
            }
            Err(i) => {
                if by != 0 {
                    self.buckets.insert(i, (b, by));
                }
            }
        }
    }

    pub fn add(&mut self, other: &Dist, sign: i64) {
        self.n += sign * other.n;
        self.sum += sign * other.sum;
        for (a, b) in self.bands.iter_mut().zip(other.bands) {
            *a += sign * b;
        }
        if other.buckets.is_empty() {
            return;
        }
        if self.buckets.is_empty() {
            self.buckets = other.buckets.iter().map(|&(k, c)| (k, sign * c)).collect();
            return;
        }
        // A few buckets into many (a day's row into a week's sum): in
        // place, rather than a new vector each time.
        if other.buckets.len() * 8 < self.buckets.len() {
            for &(k, c) in &other.buckets {
                self.bump(k, sign * c);
            }
            return;
        }
        // Both sorted: one merge.
        let mut out = Vec::with_capacity(self.buckets.len() + other.buckets.len());
        let (mut i, mut j) = (0, 0);
        let (a, b) = (&self.buckets, &other.buckets);
        while i < a.len() || j < b.len() {
            let next = match (a.get(i), b.get(j)) {
                (Some(&(ka, ca)), Some(&(kb, cb))) if ka == kb => {
                    i += 1;
                    j += 1;
                    (ka, ca + sign * cb)
                }
                (Some(&(ka, ca)), Some(&(kb, _))) if ka < kb => {
                    i += 1;
                    (ka, ca)
                }
                (Some(&(ka, ca)), None) => {
                    i += 1;
                    (ka, ca)
                }
                (_, Some(&(kb, cb))) => {
                    j += 1;
                    (kb, sign * cb)
                }
                (None, None) => break,
            };
            if next.1 != 0 {
                out.push(next);
            }
        }
        self.buckets = out;
    }

    /// [`Dist::add`] of the count, sum and bands only (the caller sums
    /// the buckets its own way).
    pub fn add_totals(&mut self, other: &Dist) {
        self.n += other.n;
        self.sum += other.sum;
        for (a, b) in self.bands.iter_mut().zip(other.bands) {
            *a += b;
        }
    }

    pub fn is_zero(&self) -> bool {
        self.n == 0 && self.sum == 0 && self.bands == [0; 5] && self.buckets.is_empty()
    }

    pub fn mean(&self) -> Option<f64> {
        (self.n > 0).then(|| self.sum as f64 / self.n as f64)
    }

    /// The nearest-rank percentile `p` (0–100): the value at rank
    /// ⌈p/100 · n⌉ in sorted order, as its bucket's middle.
    pub fn percentile(&self, p: f64) -> Option<i64> {
        if self.n <= 0 {
            return None;
        }
        let rank = ((p / 100.0) * self.n as f64).ceil().max(1.0) as i64;
        let mut seen = 0;
        for &(b, c) in &self.buckets {
            seen += c;
            if seen >= rank {
                return Some(representative(b));
            }
        }
        self.buckets.last().map(|&(b, _)| representative(b))
    }
}

/// The exact nearest-rank percentile of `values` (the reference the
/// bucketed one is held to).
pub fn exact_percentile(values: &mut [i64], p: f64) -> Option<i64> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    let rank = ((p / 100.0) * values.len() as f64).ceil().max(1.0) as usize;
    Some(values[rank.min(values.len()) - 1])
}

/// The error the bucketed percentile may have for a true value `v`.
pub fn allowed_error(v: i64) -> i64 {
    (MINUTE - 1).max((v as f64 * 0.01).ceil() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn bands_split_at_the_hours_people_read() {
        let mut d = Dist::default();
        for s in [
            0,
            3599,
            3600,
            4 * 3600 - 1,
            4 * 3600,
            8 * 3600,
            24 * 3600,
            90 * 86_400,
        ] {
            d.record(s, 1);
        }
        assert_eq!(d.bands, [2, 2, 1, 1, 2]);
        d.record(3600, -1);
        assert_eq!(d.bands, [2, 1, 1, 1, 2]);
        assert_eq!(d.n, 7);
    }

    #[test]
    fn adding_and_taking_away_leaves_nothing() {
        let mut a = Dist::default();
        a.record(5000, 1);
        a.record(7 * 86_400, 1);
        let b = a.clone();
        a.add(&b, -1);
        assert!(a.is_zero(), "{a:?}");
    }

    proptest! {
        /// The bucketed percentile is within the stated bound of the
        /// exact one, for any set of durations up to a year.
        #[test]
        fn percentiles_hold_the_stated_bound(
            mut values in proptest::collection::vec(0i64..366 * 86_400, 1..400),
            p in prop_oneof![Just(50.0), Just(90.0), 1.0f64..100.0],
        ) {
            let mut d = Dist::default();
            for &v in &values {
                d.record(v, 1);
            }
            let exact = exact_percentile(&mut values, p).unwrap();
            let got = d.percentile(p).unwrap();
            prop_assert!((got - exact).abs() <= allowed_error(exact),
                "p{p}: bucketed {got}, exact {exact}");
        }
    }
}
