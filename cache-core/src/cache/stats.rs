//! [`CacheStats`]: a [`Cache`]'s counters, and the live counters behind them.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use super::Cache;
use crate::fail_safe::BreakerStats;

/// The live counters behind [`CacheStats`].
#[derive(Default)]
pub(super) struct Counters {
    pub(super) hits: AtomicU64,
    pub(super) misses: AtomicU64,
    pub(super) errors: AtomicU64,
    pub(super) loads: AtomicU64,
    pub(super) stale: AtomicU64,
    pub(super) refreshes: AtomicU64,
}

/// A snapshot of a [`Cache`]'s counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
// Read back by `cachectl` from an application's stats (observe::AppStats): a field missing
// from an older producer reads as 0.
#[serde(default)]
#[non_exhaustive]
pub struct CacheStats {
    /// Reads that found a value.
    pub hits: u64,
    /// Reads that found nothing (or, with `CACHE_IGNORE_ERRORS`, failed).
    pub misses: u64,
    /// Backend failures and undecodable values seen, whether returned or ignored.
    pub errors: u64,
    /// Loader runs of `get_or_set` / `memoize`.
    pub loads: u64,
    /// Stale values returned by `get_or_set_with`: within the stale-while-revalidate window, or
    /// in place of a loader that failed or missed its deadline (stale-if-error).
    pub stale: u64,
    /// Background refreshes of stale values started by `get_or_set_with`.
    pub refreshes: u64,
    /// The circuit breaker in front of the backend (see [`crate::fail_safe`]).
    pub breaker: BreakerStats,
}

impl CacheStats {
    /// `hits / (hits + misses)`, or 0 before any read.
    pub fn hit_ratio(&self) -> f64 {
        let reads = self.hits + self.misses;
        if reads == 0 { 0.0 } else { self.hits as f64 / reads as f64 }
    }
}

impl Cache {
    /// The counters so far.
    pub fn stats(&self) -> CacheStats {
        let c = &self.inner.counters;
        CacheStats {
            hits: c.hits.load(Relaxed),
            misses: c.misses.load(Relaxed),
            errors: c.errors.load(Relaxed),
            loads: c.loads.load(Relaxed),
            stale: c.stale.load(Relaxed),
            refreshes: c.refreshes.load(Relaxed),
            breaker: self.inner.fail_safe.stats(),
        }
    }
}
