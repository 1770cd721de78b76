//! [`AppStats`]: the JSON a running application serves about its cache (the demo's `GET /stats`),
//! which `cachectl stats --app` and `cachectl watch` read. One type on both sides, so the page,
//! the tool and any dashboard of your own agree on the shape.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::CacheStats;

/// A running application's cache: the counters of its [`Cache`](crate::Cache), and for each
/// cached route and memoized function the totals since start and one [`Sample`] per second over
/// the last minutes.
///
/// An application adds fields of its own by flattening this into its own type
/// (`#[serde(flatten)]`); readers ignore fields they do not know.
///
/// ```
/// use cachette_core::observe::{AppStats, Sample, Series};
///
/// let mut stats = AppStats::new("RedisCache");
/// let mut daily = Series::default();
/// daily.hits = 9;
/// daily.misses = 1;
/// stats.routes.insert("/daily".into(), daily);
/// let json = serde_json::to_string(&stats).unwrap();
/// let back: AppStats = serde_json::from_str(&json).unwrap();
/// assert_eq!(back.routes["/daily"].hit_ratio(), Some(0.9));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AppStats {
    /// The backend's type name (`CACHE_TYPE`).
    pub backend: String,
    /// The counters of the cache ([`Cache::stats`](crate::Cache::stats)), breaker included.
    pub cache: CacheStats,
    /// Each cached route, by its route template (never a raw URL).
    #[serde(default)]
    pub routes: BTreeMap<String, Series>,
    /// Each memoized function, by its name.
    #[serde(default)]
    pub functions: BTreeMap<String, Series>,
}

impl AppStats {
    /// Stats of a cache on `backend`, with no routes or functions yet.
    pub fn new(backend: impl Into<String>) -> AppStats {
        AppStats { backend: backend.into(), ..AppStats::default() }
    }
}

/// One cached route or memoized function: what was served from the cache and what had to be
/// computed, since start and second by second.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Series {
    /// Calls answered from a fresh cached value.
    pub hits: u64,
    /// Calls answered from a stale value while it was refreshed.
    #[serde(default)]
    pub stale: u64,
    /// Calls that computed the value (the handler or the loader ran).
    pub misses: u64,
    /// Further counters the application reports for it, by name (for a cached route, the
    /// layer's own: `stored`, `bypassed`, `not_modified`, `errors`, ...).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub counters: BTreeMap<String, u64>,
    /// One sample per second, oldest first, consecutive, ending with the last complete second.
    #[serde(default)]
    pub history: Vec<Sample>,
}

impl Series {
    /// `(hits + stale) / (hits + stale + misses)` since start: the share of calls the cache
    /// answered. `None` before any call.
    pub fn hit_ratio(&self) -> Option<f64> {
        ratio(self.hits + self.stale, self.misses)
    }
}

/// What one second saw.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Sample {
    /// The second, as Unix time.
    pub second: u64,
    /// Calls answered from a fresh cached value.
    pub hits: u64,
    /// Calls answered from a stale value.
    #[serde(default)]
    pub stale: u64,
    /// Calls that computed the value.
    pub misses: u64,
    /// How long the calls of that second took, when they were timed and there were any.
    #[serde(default)]
    pub latency: Option<Latency>,
}

impl Sample {
    /// An empty sample of `second`.
    pub fn new(second: u64) -> Sample {
        Sample { second, ..Sample::default() }
    }

    /// The share of that second's calls the cache answered (see [`Series::hit_ratio`]); `None`
    /// for a second without calls.
    pub fn hit_ratio(&self) -> Option<f64> {
        ratio(self.hits + self.stale, self.misses)
    }
}

/// Latency percentiles of the calls of one second, in microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Latency {
    /// Calls timed.
    pub calls: u64,
    /// Median.
    pub p50_us: u64,
    /// 90th percentile.
    pub p90_us: u64,
    /// 99th percentile.
    pub p99_us: u64,
    /// Slowest.
    pub max_us: u64,
}

impl Latency {
    /// The latency of `calls` calls, percentiles to be filled in.
    pub fn new(calls: u64) -> Latency {
        Latency { calls, ..Latency::default() }
    }
}

fn ratio(served: u64, misses: u64) -> Option<f64> {
    let calls = served + misses;
    (calls > 0).then(|| served as f64 / calls as f64)
}
