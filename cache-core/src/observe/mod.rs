//! Observability: metrics, tracing events and hooks for what the [`Cache`](crate::Cache) does.
//!
//! # Contents
//!
//! * [Metrics](#metrics): the `metrics` cargo feature
//! * [Tracing](#tracing): a span per operation and why a read missed, with `RUST_LOG=cachette=debug`
//! * [Hooks](#hooks): callbacks on hit / miss / store / invalidate ([`Cache::on_event`](crate::Cache::on_event))
//! * [A stats endpoint](#a-stats-endpoint): [`AppStats`], the JSON `cachectl watch` reads
//!
//! # Metrics
//!
//! With the `metrics` cargo feature (`cachette/metrics`), the cache reports through the
//! [`metrics`](https://docs.rs/metrics) facade; the application installs the exporter it already
//! uses (Prometheus, OpenTelemetry, statsd). Without the feature, none of this is compiled.
//!
//! | Name | Kind | Labels |
//! |------|------|--------|
//! | [`BACKEND_OPERATIONS`] `cachette_backend_operations_total` | counter | `backend`, `operation`, `outcome` = `ok` / `error` / `timeout` / `rejected` (breaker open) |
//! | [`BACKEND_OPERATION_SECONDS`] `cachette_backend_operation_seconds` | histogram | `backend`, `operation` |
//! | [`BREAKER_STATE`] `cachette_breaker_state` | gauge: 0 closed, 1 open, 2 half-open | `backend` |
//! | [`READS`] `cachette_reads_total` | counter: the hits and misses of [`CacheStats`](crate::CacheStats) | `backend`, `outcome` = `hit` / `miss` |
//! | [`MEMOIZE_CALLS`] `cachette_memoize_calls_total` | counter | `function`, `outcome` = `hit` / `miss` |
//! | [`MEMOIZE_LOAD_SECONDS`] `cachette_memoize_load_seconds` | histogram: loader runs | `function` |
//!
//! Labels are bounded: the backend's type name (`RedisCache`), the operation (`get`, `set_many`),
//! the memoized function's name. Never a key or a value. Every backend call counts, the cache's
//! own bookkeeping (memoize versions, tag versions, leases) included: they are round trips the
//! backend serves. A memoized call whose backend is unavailable runs its loader uncached and
//! counts as a miss.
//!
//! # Tracing
//!
//! `RUST_LOG=cachette=debug` (the target prefix `cachette` covers `cachette_core` and
//! `cachette_http`) shows one span per operation, with the events that explain it inside:
//!
//! | Span (level) | Fields | `outcome` |
//! |------|--------|-----------|
//! | `cachette.get`, `.get_bytes`, `.get_tagged`, `.get_bytes_tagged` (debug) | `backend`, `operation`, `key`, `outcome`, `latency_us` (+ `tags`: how many) | `hit` / `miss`, or a failure: `error` / `timeout` / `rejected` (breaker open) |
//! | `cachette.get_many` (debug) | the same, `key` the first, `keys` how many | `hit` (all found) / `miss` (none) / `partial` |
//! | `cachette.set`, `.set_bytes`, `.set_many`, `.set_tagged`, `.set_bytes_tagged`, `.inc`, `.dec`, `.delete_many`, `.clear`, `.invalidate_tag`, `.invalidate_tags` (debug) | the same | `ok`, or a failure |
//! | `cachette.has` / `.add` / `.delete` / `.touch` (debug) | the same | `hit` / `miss`; `stored` / `present`; `deleted` / `absent`; `touched` / `absent` |
//! | `cachette.get_or_set`, `.get_or_set_with` (debug) | the same | `hit` / `miss` (the loader ran, or another's load was waited for), or the loader's failure (`error`) |
//! | `cachette.memoize` (debug): a memoized call's lookup (its key's version is read before it) | the same, and `function` | `hit` / `miss` / `forced` (`forced_update`) |
//! | `cachette.refresh` (debug): a background refresh of `get_or_set_with`, a child of the call that started it | `backend`, `operation`, `key` | |
//!
//! Inside them, at `debug`: each read that misses says why (nothing stored, the entry's tags
//! were invalidated, the backend failed, the function's version was just drawn), each hit says
//! so; at `trace`, every backend call with `backend`, `operation`, `outcome` and `latency_us`.
//! The HTTP layer's spans are listed in `cachette_http`'s `observe` docs. Keys are cut to 64
//! bytes plus their length and a hash ([`ShortKey`]); values are never logged.
//!
//! ```text
//! $ RUST_LOG=cachette=debug cargo run -p cachette-demo
//! DEBUG cachette.get{backend="SimpleCache" operation="get" key=user:2}: cachette_core::cache: cache miss backend="SimpleCache" key=user:2 why="no current value under the key"
//! ```
//!
//! Cost: with no subscriber, or `debug` off for this crate, no span is made; an operation pays
//! a level check and polls its work directly (callgrind per hit, SimpleCache: `Cache::get`
//! 2,805 -> 2,854 instructions, `get_or_set` 2,823 -> 2,906, `#[memoize]` 4,356 -> 4,449). The level is looked at before the
//! span's callsite because a `tracing` built with its `log` feature makes a disabled span for
//! `log` when no subscriber is set (150 instructions a hit).
//!
//! # Hooks
//!
//! Flask-Caching's signals: [`Cache::on_event`](crate::Cache::on_event) registers a callback that
//! receives a [`CacheEvent`] for each hit, miss, store and invalidation of a memoized function (and
//! of cached views, through [`Cache::emit`](crate::Cache::emit), which a layer built on the cache
//! calls). With no hook registered an event costs one atomic load.
//!
//! # A stats endpoint
//!
//! [`AppStats`] is the JSON an application serves about its cache (the demo's `GET /stats`):
//! [`Cache::stats`](crate::Cache::stats), and per route and memoized function the hits, stale
//! answers and misses since start with one [`Sample`] (counts and [`Latency`] percentiles) per
//! second over the last minutes. `cachectl stats --app URL` prints it and `cachectl watch URL`
//! follows it once a second; the demo shows how to fill it from hooks and a timing middleware.

mod events;
mod key;
#[cfg(feature = "metrics")]
mod record;
mod report;
pub(crate) mod span;

use std::time::{Duration, Instant};

pub(crate) use events::Hooks;
pub use events::{CacheEvent, EventKind, EventSource};
pub use key::ShortKey;
pub use report::{AppStats, Latency, Sample, Series};

use crate::Result;

/// Counter of backend calls made by the facade, by `backend`, `operation` and `outcome`.
pub const BACKEND_OPERATIONS: &str = "cachette_backend_operations_total";
/// Histogram of the latency of backend calls, in seconds, by `backend` and `operation`.
pub const BACKEND_OPERATION_SECONDS: &str = "cachette_backend_operation_seconds";
/// Gauge of a backend's circuit breaker: 0 closed, 1 open, 2 half-open.
pub const BREAKER_STATE: &str = "cachette_breaker_state";
/// Counter of user reads by `backend` and `outcome` (`hit` / `miss`), as in `CacheStats`.
pub const READS: &str = "cachette_reads_total";
/// Counter of memoized calls by `function` and `outcome` (`hit` / `miss`).
pub const MEMOIZE_CALLS: &str = "cachette_memoize_calls_total";
/// Histogram of memoized functions' loader runs, in seconds, by `function`.
pub const MEMOIZE_LOAD_SECONDS: &str = "cachette_memoize_load_seconds";

/// The start of a backend call, when someone measures it (the `metrics` feature, or a tracing
/// subscriber at `trace` for this crate); otherwise nothing, so the hit path reads no clock.
#[derive(Clone, Copy)]
pub(crate) struct Timer(Option<Instant>);

impl Timer {
    #[inline]
    pub(crate) fn start() -> Timer {
        if cfg!(feature = "metrics") || tracing::enabled!(tracing::Level::TRACE) {
            Timer(Some(Instant::now()))
        } else {
            Timer(None)
        }
    }
}

/// Records one backend call made through the fail-safe.
#[inline]
pub(crate) fn backend_operation<T>(backend: &'static str, operation: &'static str, r: &Result<T>, timer: Timer) {
    // The check in line, the recording out of line and not generic: with nobody measuring, a
    // call's whole cost is this test.
    if let Some(start) = timer.0 {
        record_backend_operation(backend, operation, span::done(r), start);
    }
}

fn record_backend_operation(backend: &'static str, operation: &'static str, outcome: &'static str, start: Instant) {
    let elapsed = start.elapsed();
    #[cfg(feature = "metrics")]
    record::backend_operation(backend, operation, outcome, elapsed);
    tracing::trace!(backend, operation, outcome, latency_us = elapsed.as_micros() as u64, "cache backend call");
}

/// Records a user read's hit or miss (the `CacheStats` counters); called under
/// `#[cfg(feature = "metrics")]`, so the hit path does not even look up the backend's name.
#[cfg(feature = "metrics")]
pub(crate) fn read(backend: &'static str, hit: bool) {
    record::read(backend, hit);
}

/// Records a change of a breaker's state (0 closed, 1 open, 2 half-open).
#[inline]
pub(crate) fn breaker_state(backend: &'static str, state: crate::BreakerState) {
    #[cfg(feature = "metrics")]
    record::breaker_state(backend, state);
    #[cfg(not(feature = "metrics"))]
    let _ = (backend, state);
}

/// Records a memoized call's hit or miss.
#[inline]
#[allow(clippy::ptr_arg, reason = "a borrowed name stays borrowed in the label, with no copy")]
pub(crate) fn memoize_call(function: &std::borrow::Cow<'static, str>, hit: bool) {
    #[cfg(feature = "metrics")]
    record::memoize_call(function, hit);
    #[cfg(not(feature = "metrics"))]
    let _ = (function, hit);
}

/// Records a memoized function's loader run.
#[inline]
#[allow(clippy::ptr_arg, reason = "a borrowed name stays borrowed in the label, with no copy")]
pub(crate) fn memoize_load(function: &std::borrow::Cow<'static, str>, elapsed: Duration) {
    #[cfg(feature = "metrics")]
    record::memoize_load(function, elapsed);
    #[cfg(not(feature = "metrics"))]
    let _ = (function, elapsed);
}
