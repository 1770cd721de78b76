//! [`HttpCacheStats`]: what a layer counted, and the counters behind it.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// The live counters of a layer, shared by its services. Relaxed atomics: each counter is read
/// on its own, so no ordering between them is promised (nor needed by a stats page).
#[derive(Default)]
pub(crate) struct Counters {
    pub hits: AtomicU64,
    pub stale: AtomicU64,
    pub misses: AtomicU64,
    pub bypassed: AtomicU64,
    pub stored: AtomicU64,
    pub not_modified: AtomicU64,
    pub refreshes: AtomicU64,
    pub early_refreshes: AtomicU64,
    pub refresh_failures: AtomicU64,
    pub errors: AtomicU64,
    pub stale_if_error: AtomicU64,
    pub panics: AtomicU64,
    pub over_variant_limit: AtomicU64,
}

impl Counters {
    /// Counts one more.
    pub(crate) fn add(counter: &AtomicU64) {
        counter.fetch_add(1, Relaxed);
    }

    /// What the counters say now.
    pub(crate) fn snapshot(&self) -> HttpCacheStats {
        HttpCacheStats {
            hits: self.hits.load(Relaxed),
            stale: self.stale.load(Relaxed),
            misses: self.misses.load(Relaxed),
            bypassed: self.bypassed.load(Relaxed),
            stored: self.stored.load(Relaxed),
            not_modified: self.not_modified.load(Relaxed),
            refreshes: self.refreshes.load(Relaxed),
            early_refreshes: self.early_refreshes.load(Relaxed),
            refresh_failures: self.refresh_failures.load(Relaxed),
            errors: self.errors.load(Relaxed),
            stale_if_error: self.stale_if_error.load(Relaxed),
            panics: self.panics.load(Relaxed),
            over_variant_limit: self.over_variant_limit.load(Relaxed),
        }
    }
}

/// A snapshot of a [`CacheLayer`](crate::CacheLayer)'s counters (shared by every route and clone
/// of the layer). Serialized as JSON for a stats page (its fields, and `hit_ratio` is computed by
/// the reader: [`HttpCacheStats::hit_ratio`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct HttpCacheStats {
    /// Requests answered from a fresh entry (including those answered `304`, and those handed an
    /// entry rendered before they came and still being stored).
    pub hits: u64,
    /// Requests answered from a stale entry while it was refreshed.
    pub stale: u64,
    /// Requests rendered by the inner service (or answered by a concurrent render of the key).
    pub misses: u64,
    /// Requests that did not use the cache (method, `unless`, credentials).
    pub bypassed: u64,
    /// Responses stored.
    pub stored: u64,
    /// `304 Not Modified` answers.
    pub not_modified: u64,
    /// Background refreshes started (stale-while-revalidate, and early refreshes).
    pub refreshes: u64,
    /// Of the `refreshes`, those of fresh entries drawn for an early refresh
    /// ([`early_refresh`](crate::CacheLayer::early_refresh)).
    pub early_refreshes: u64,
    /// Background refreshes that kept the stale entry (error, or a response that may not be stored).
    pub refresh_failures: u64,
    /// Cache backend errors, at most one per request (the request was served by the inner
    /// service), whether or not `CACHE_IGNORE_ERRORS` is set: the layer falls back by itself, and
    /// counts what the cache would absorb.
    pub errors: u64,
    /// Requests answered from a stale entry because the render failed (error, `5xx`, panic) within
    /// the [`stale_if_error`](crate::CacheLayer::stale_if_error) grace; also counted in `misses`.
    pub stale_if_error: u64,
    /// Panics of the inner service caught by the layer (each answered `500`, or from a stale entry).
    pub panics: u64,
    /// Responses not stored because their URL has
    /// [`MAX_VARIANTS`](crate::MAX_VARIANTS) `Vary` variants stored already.
    pub over_variant_limit: u64,
}

impl HttpCacheStats {
    /// The share of the requests that used the cache answered from it: `(hits + stale) / (hits +
    /// stale + misses)`, `0.0` before any. `304`s count among the hits; bypassed requests are not
    /// in it.
    ///
    /// ```
    /// let stats = cachette_http::HttpCacheStats::default();
    /// assert_eq!(stats.hit_ratio(), 0.0);
    /// ```
    pub fn hit_ratio(&self) -> f64 {
        let served = self.hits + self.stale;
        let all = served + self.misses;
        if all == 0 { 0.0 } else { served as f64 / all as f64 }
    }
}
