//! [`Timeline`]: one route's or memoized function's calls, second by second over the last five
//! minutes, for the stats page's charts and `cachectl watch`.
//!
//! Rolled lazily: each call and each read first closes the seconds that have ended (empty ones
//! included), so no task ticks in the background and a test can drive the clock.

use std::collections::VecDeque;
use std::time::Duration;

use cachette::observe::{Latency, Sample, Series};
use hdrhistogram::Histogram;

/// Seconds kept: the charts' five minutes.
pub const HISTORY: usize = 300;

/// How a call was answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// From a fresh cached value.
    Hit,
    /// From a stale value, refreshed behind.
    Stale,
    /// Computed (the handler or loader ran).
    Miss,
}

/// Totals, the closed seconds, and the second being counted.
pub(crate) struct Timeline {
    totals: Sample,
    history: VecDeque<Sample>,
    current: Sample,
    /// The current second's latencies, in microseconds (1 µs to 1 hour, 2 significant digits:
    /// 20 KB, reset each second).
    latencies: Histogram<u64>,
}

impl Timeline {
    /// A timeline whose first second is `now` (Unix seconds).
    pub(crate) fn new(now: u64) -> Timeline {
        Timeline {
            totals: Sample::default(),
            history: VecDeque::with_capacity(HISTORY),
            current: Sample::new(now),
            latencies: Histogram::new_with_bounds(1, 3_600_000_000, 2).expect("valid histogram bounds"),
        }
    }

    /// Counts one call answered as `outcome` at `now`.
    pub(crate) fn count(&mut self, now: u64, outcome: Outcome) {
        self.roll(now);
        for sample in [&mut self.current, &mut self.totals] {
            match outcome {
                Outcome::Hit => sample.hits += 1,
                Outcome::Stale => sample.stale += 1,
                Outcome::Miss => sample.misses += 1,
            }
        }
    }

    /// Records how long one call took, at `now`.
    pub(crate) fn time(&mut self, now: u64, took: Duration) {
        self.roll(now);
        self.latencies.saturating_record((took.as_micros() as u64).max(1));
    }

    /// The totals and the closed seconds, as of `now`.
    pub(crate) fn series(&mut self, now: u64) -> Series {
        self.roll(now);
        let mut series = Series::default();
        series.hits = self.totals.hits;
        series.stale = self.totals.stale;
        series.misses = self.totals.misses;
        series.history = self.history.iter().cloned().collect();
        series
    }

    /// Closes every second before `now`: the current one with its latencies, then empty ones
    /// for the seconds without calls (at most [`HISTORY`] of them).
    fn roll(&mut self, now: u64) {
        if now <= self.current.second {
            return;
        }
        let mut closed = std::mem::replace(&mut self.current, Sample::new(now));
        if !self.latencies.is_empty() {
            let h = &self.latencies;
            let mut latency = Latency::new(h.len());
            latency.p50_us = h.value_at_quantile(0.5);
            latency.p90_us = h.value_at_quantile(0.9);
            latency.p99_us = h.value_at_quantile(0.99);
            latency.max_us = h.max();
            closed.latency = Some(latency);
            self.latencies.reset();
        }
        // Older seconds than the window's fall out (pushed out by the empty ones that follow).
        let window_start = now.saturating_sub(HISTORY as u64);
        let first_empty = (closed.second + 1).max(window_start);
        if closed.second >= window_start {
            self.push(closed);
        }
        for second in first_empty..now {
            self.push(Sample::new(second));
        }
    }

    fn push(&mut self, sample: Sample) {
        if self.history.len() == HISTORY {
            self.history.pop_front();
        }
        self.history.push_back(sample);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_is_closed_when_the_next_begins_with_its_counts_and_percentiles() {
        let mut t = Timeline::new(100);
        t.count(100, Outcome::Hit);
        t.count(100, Outcome::Hit);
        t.count(100, Outcome::Miss);
        for ms in [1, 2, 3, 500] {
            t.time(100, Duration::from_millis(ms));
        }
        assert!(t.series(100).history.is_empty(), "the current second is not shown until it ends");
        let series = t.series(101);
        assert_eq!((series.hits, series.misses), (2, 1));
        let [second] = &series.history[..] else { panic!("{:?}", series.history) };
        assert_eq!((second.second, second.hits, second.misses), (100, 2, 1));
        let latency = second.latency.unwrap();
        assert_eq!(latency.calls, 4);
        assert!((1_900..=2_100).contains(&latency.p50_us) && latency.max_us >= 499_000, "{latency:?}");
    }

    #[test]
    fn quiet_seconds_are_empty_samples_and_five_minutes_are_kept() {
        let mut t = Timeline::new(0);
        t.count(0, Outcome::Stale);
        let series = t.series(3);
        let seconds: Vec<u64> = series.history.iter().map(|s| s.second).collect();
        assert_eq!(seconds, [0, 1, 2]);
        assert_eq!(series.history[1], Sample::new(1), "a second without calls");
        t.count(10_000, Outcome::Hit);
        let series = t.series(10_001);
        assert_eq!(series.history.len(), HISTORY);
        assert_eq!(series.history.last().unwrap().hits, 1);
        assert_eq!(series.history[0].second, 10_001 - HISTORY as u64, "consecutive up to the last second");
        assert_eq!((series.hits, series.stale), (1, 1), "totals since start");
    }
}
