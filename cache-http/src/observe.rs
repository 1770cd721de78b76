//! Metrics (the `metrics` cargo feature), hooks and tracing for cached views.
//!
//! | Name | Kind | Labels |
//! |------|------|--------|
//! | [`RESPONSES`] `cachette_http_responses_total` | counter | `route`, `outcome` = `hit` / `miss` / `stale` / `not_modified` / `bypass` |
//! | [`STORED`] `cachette_http_stored_total` | counter: responses stored | `route` |
//! | [`ERRORS`] `cachette_http_errors_total` | counter: backend failures, at most one per request (those `CACHE_IGNORE_ERRORS` absorbs too) | `route` |
//! | [`RENDER_SECONDS`] `cachette_http_render_seconds` | histogram: the inner service's time to its response's head | `route` |
//!
//! # Spans
//!
//! At `debug` (`RUST_LOG=cachette=debug`), each request the layer sees has a span, entered
//! while the layer works on it, so that the layer's events (why a lookup missed, a lease wait, a
//! backend failure) show under it:
//!
//! | Span | Fields |
//! |------|--------|
//! | `cachette.http.request` | `route`, `method`, `key` (truncated, with a hash: see [`ShortKey`](cachette_core::observe::ShortKey)), `outcome` = `hit` / `miss` / `stale` / `not_modified` / `bypass`, `latency_us` (to the response's head), `render_us` (the inner service's, when it rendered) |
//! | `cachette.http.store` | `route`, `key`, `outcome` = `stored` / `not_kept` (invalidated or deleted during the render) / `error`: the write behind a miss's response |
//! | `cachette.http.refresh` | `route`, `key`, `why` = `stale` / `early`, `outcome` = `stored` / `failed`: a background refresh, a child of the request that started it |
//!
//! With no subscriber, or `debug` off for `cachette_http`, no span is made: a request pays one
//! level check (callgrind: see the README's Benchmarks).
//!
//! `route` is the layer's [`route_name`](crate::CacheLayer::route_name) (`unnamed` until one is
//! given): a bounded set of names, never a request's path or URL. Without the feature none of
//! this is compiled; the hooks ([`Cache::on_event`](cachette_core::Cache::on_event), with
//! [`EventSource::View`]) cost one atomic load per event without a hook.

use std::time::Duration;

use cachette_core::observe::ShortKey;
use cachette_core::{Cache, CacheEvent, EventKind, EventSource};
use http::Method;
use tracing::Span;
use tracing::field::Empty;

use crate::call::Call;

/// Counter of responses of cached routes, by `route` and `outcome`.
pub const RESPONSES: &str = "cachette_http_responses_total";
/// Counter of responses stored, by `route`.
pub const STORED: &str = "cachette_http_stored_total";
/// Counter of backend failures seen by the layer, by `route`.
pub const ERRORS: &str = "cachette_http_errors_total";
/// Histogram of renders (the inner service's time to its response's head), by `route`.
pub const RENDER_SECONDS: &str = "cachette_http_render_seconds";

/// The `route` label of a layer.
pub(crate) type Route = std::borrow::Cow<'static, str>;

/// The default `route` label.
pub(crate) const UNNAMED: &str = "unnamed";

#[cfg(feature = "metrics")]
fn label(route: &Route) -> metrics::SharedString {
    match route {
        std::borrow::Cow::Borrowed(name) => metrics::SharedString::from(*name),
        std::borrow::Cow::Owned(name) => metrics::SharedString::from(name.clone()),
    }
}

/// Counts a response of `route` under `outcome`.
#[inline]
pub(crate) fn response(route: &Route, outcome: &'static str) {
    #[cfg(feature = "metrics")]
    metrics::counter!(RESPONSES, "route" => label(route), "outcome" => outcome).increment(1);
    #[cfg(not(feature = "metrics"))]
    let _ = (route, outcome);
}

/// Counts a backend failure of `route`.
#[inline]
pub(crate) fn error(route: &Route) {
    #[cfg(feature = "metrics")]
    metrics::counter!(ERRORS, "route" => label(route)).increment(1);
    #[cfg(not(feature = "metrics"))]
    let _ = route;
}

/// Counts a stored response of `route`, and tells the hooks (with the render's time).
pub(crate) fn stored(cache: &Cache, route: &Route, key: &str, took: Duration) {
    #[cfg(feature = "metrics")]
    metrics::counter!(STORED, "route" => label(route)).increment(1);
    cache.emit(&CacheEvent::new(EventKind::Store, EventSource::View { route }, key).with_load_time(took));
}

/// The span of a request that uses the cache (`key`) or not (`None`: a bypass, whose span ends
/// at once with its outcome), or `None` when no subscriber wants it: the level is looked at
/// first, so that with no subscriber a `tracing` built with its `log` feature makes no span for
/// `log` either (see cachette-core's `observe::span`).
#[inline]
pub(crate) fn request_span(route: &Route, method: &Method, key: Option<&str>) -> Option<Span> {
    if !tracing::level_enabled!(tracing::Level::DEBUG) {
        return None;
    }
    let span = tracing::debug_span!(
        "cachette.http.request",
        route = %route,
        %method,
        key = key.map(|key| tracing::field::display(ShortKey(key))),
        outcome = if key.is_none() { Some("bypass") } else { None },
        latency_us = Empty,
        render_us = Empty,
    );
    (!span.is_disabled()).then_some(span)
}

/// The span of the write behind a miss's response (see [`request_span`]).
pub(crate) fn store_span(route: &Route, key: &str) -> Option<Span> {
    if !tracing::level_enabled!(tracing::Level::DEBUG) {
        return None;
    }
    let span = tracing::debug_span!("cachette.http.store", route = %route, key = %ShortKey(key), outcome = Empty);
    (!span.is_disabled()).then_some(span)
}

/// The span of a background refresh (see [`request_span`]), a child of the current span.
pub(crate) fn refresh_span(route: &Route, key: &str, why: &'static str) -> Option<Span> {
    if !tracing::level_enabled!(tracing::Level::DEBUG) {
        return None;
    }
    let span =
        tracing::debug_span!("cachette.http.refresh", route = %route, key = %ShortKey(key), why, outcome = Empty);
    (!span.is_disabled()).then_some(span)
}

/// Records `value` as the field `field` of the layer's span the caller runs in, if it runs in
/// one of the layer's spans (never a field of an application's span that has the same name).
pub(crate) fn record(field: &'static str, value: impl tracing::Value) {
    if !tracing::level_enabled!(tracing::Level::DEBUG) {
        return;
    }
    let span = Span::current();
    if span.metadata().is_some_and(|m| m.name().starts_with("cachette.http.")) {
        span.record(field, value);
    }
}

impl Call {
    /// Counts the response, under `outcome`, and tells the hooks (a hit, or a miss).
    pub(crate) fn observe_response(&self, outcome: &'static str) {
        let route = &self.settings.route;
        response(route, outcome);
        let kind = if outcome == "miss" { EventKind::Miss } else { EventKind::Hit };
        self.state.cache.emit(&CacheEvent::new(kind, EventSource::View { route }, &self.key));
        record("outcome", outcome);
        tracing::debug!(route = %route, key = %ShortKey(&self.key), outcome, "cachette-http: answered");
    }

    /// Records how long the inner service took to its response's head.
    pub(crate) fn observe_render(&self, took: Duration) {
        #[cfg(feature = "metrics")]
        metrics::histogram!(RENDER_SECONDS, "route" => label(&self.settings.route)).record(took.as_secs_f64());
        record("render_us", took.as_micros() as u64);
    }
}
