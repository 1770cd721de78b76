//! Metrics (the `metrics` cargo feature), hooks and tracing for cached views.
//!
//! | Name | Kind | Labels |
//! |------|------|--------|
//! | [`RESPONSES`] `cachette_http_responses_total` | counter | `route`, `outcome` = `hit` / `miss` / `stale` / `not_modified` / `bypass` |
//! | [`STORED`] `cachette_http_stored_total` | counter: responses stored | `route` |
//! | [`ERRORS`] `cachette_http_errors_total` | counter: backend failures, at most one per request (those `CACHE_IGNORE_ERRORS` absorbs too) | `route` |
//! | [`RENDER_SECONDS`] `cachette_http_render_seconds` | histogram: the inner service's time to its response's head | `route` |
//!
//! `route` is the layer's [`route_name`](crate::CacheLayer::route_name) (`unnamed` until one is
//! given): a bounded set of names, never a request's path or URL. Without the feature none of
//! this is compiled; the hooks ([`Cache::on_event`](cachette_core::Cache::on_event), with
//! [`EventSource::View`]) cost one atomic load per event without a hook.

use std::time::Duration;

use cachette_core::{Cache, CacheEvent, EventKind, EventSource};

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

impl Call {
    /// Counts the response, under `outcome`, and tells the hooks (a hit, or a miss).
    pub(crate) fn observe_response(&self, outcome: &'static str) {
        let route = &self.settings.route;
        response(route, outcome);
        let kind = if outcome == "miss" { EventKind::Miss } else { EventKind::Hit };
        self.state.cache.emit(&CacheEvent::new(kind, EventSource::View { route }, &self.key));
        tracing::debug!(route = %route, key = %cachette_core::observe::ShortKey(&self.key), outcome, "cachette-http: answered");
    }

    /// Records how long the inner service took to its response's head.
    pub(crate) fn observe_render(&self, took: Duration) {
        #[cfg(feature = "metrics")]
        metrics::histogram!(RENDER_SECONDS, "route" => label(&self.settings.route)).record(took.as_secs_f64());
        #[cfg(not(feature = "metrics"))]
        let _ = took;
    }
}
