//! Latency histograms and the summary the report prints.
//!
//! Every load generator task records into its own histogram (no locking on the hot path) and the tasks' histograms
//! are merged when the level ends. Bounds are fixed (1 µs .. 60 s, 3 significant digits) so that merging never has
//! to resize and a pathological sample is clamped instead of lost.

use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

/// Slowest latency a histogram holds, in microseconds (60 s); slower samples are recorded as this.
const MAX_US: u64 = 60_000_000;

/// A fresh latency histogram in microseconds.
pub fn new_histogram() -> Histogram<u64> {
    // Constant, valid bounds: creation cannot fail.
    Histogram::new_with_bounds(1, MAX_US, 3)
        .expect("1..60e6 at 3 significant digits is a valid histogram")
}

/// Records one latency, rounded down to whole microseconds and clamped to the histogram's range.
pub fn record(hist: &mut Histogram<u64>, latency: Duration) {
    let us = u64::try_from(latency.as_micros())
        .unwrap_or(MAX_US)
        .clamp(1, MAX_US);
    hist.saturating_record(us);
}

/// Merges `from` into `into`. Both come from [`new_histogram`], so the bounds always match.
pub fn merge(into: &mut Histogram<u64>, from: &Histogram<u64>) {
    // Same bounds on both sides; the only error hdrhistogram can report here is an out-of-range value.
    let _ = into.add(from);
}

/// The latency figures kept from a histogram.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LatencySummary {
    /// How many requests the percentiles are over (successful ones only).
    pub samples: u64,
    /// Median, µs.
    pub p50_us: u64,
    /// 99th percentile, µs: the tail a caller such as fleet actually waits on.
    pub p99_us: u64,
    /// Slowest request, µs: what `etcdctl check perf` judges too.
    pub max_us: u64,
    /// Mean, µs.
    pub mean_us: f64,
}

impl LatencySummary {
    /// Summarises a histogram; all zeros when it is empty.
    pub fn of(hist: &Histogram<u64>) -> Self {
        if hist.is_empty() {
            return Self {
                samples: 0,
                p50_us: 0,
                p99_us: 0,
                max_us: 0,
                mean_us: 0.0,
            };
        }
        Self {
            samples: hist.len(),
            p50_us: hist.value_at_quantile(0.50),
            p99_us: hist.value_at_quantile(0.99),
            max_us: hist.max(),
            mean_us: hist.mean(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_one_to_a_hundred() {
        let mut h = new_histogram();
        for us in 1..=100 {
            record(&mut h, Duration::from_micros(us));
        }
        let s = LatencySummary::of(&h);
        assert_eq!(s.samples, 100);
        assert_eq!(s.p50_us, 50);
        assert_eq!(s.p99_us, 99);
        assert_eq!(s.max_us, 100);
        assert!((s.mean_us - 50.5).abs() < 0.01, "{}", s.mean_us);
    }

    #[test]
    fn tail_dominates_p99_but_not_p50() {
        let mut h = new_histogram();
        for _ in 0..980 {
            record(&mut h, Duration::from_micros(200));
        }
        for _ in 0..20 {
            record(&mut h, Duration::from_millis(50));
        }
        let s = LatencySummary::of(&h);
        assert_eq!(s.p50_us, 200);
        // 3 significant digits: within 0.1 % of 50 ms.
        assert!((49_950..=50_050).contains(&s.p99_us), "{}", s.p99_us);
    }

    #[test]
    fn sub_microsecond_and_huge_samples_are_clamped() {
        let mut h = new_histogram();
        record(&mut h, Duration::from_nanos(10));
        record(&mut h, Duration::from_secs(3600));
        let s = LatencySummary::of(&h);
        assert_eq!(s.samples, 2);
        assert_eq!(s.p50_us, 1);
        assert!(s.max_us >= MAX_US - MAX_US / 1000, "{}", s.max_us);
    }

    #[test]
    fn merge_adds_counts() {
        let mut a = new_histogram();
        let mut b = new_histogram();
        record(&mut a, Duration::from_micros(10));
        record(&mut b, Duration::from_micros(30));
        record(&mut b, Duration::from_micros(30));
        merge(&mut a, &b);
        let s = LatencySummary::of(&a);
        assert_eq!(s.samples, 3);
        assert_eq!(s.p50_us, 30);
    }

    #[test]
    fn empty_histogram_is_all_zero() {
        let s = LatencySummary::of(&new_histogram());
        assert_eq!(s.samples, 0);
        assert_eq!(s.p99_us, 0);
    }
}
