//! `GET /metrics`: the cache's metrics (the `metrics` feature of cachette: backend calls, the
//! breaker, reads, memoized functions, and each cached route's responses) in Prometheus's text
//! format, which `dashboards/cachette.json` queries.

use std::sync::OnceLock;

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Bucket bounds of the `*_seconds` histograms, in seconds: from a loopback hit (100 µs) to a
/// slow render (10 s), so that the dashboard's `histogram_quantile` has buckets to work on (the
/// exporter's default is a summary, which cannot be aggregated across processes).
const BUCKETS: &[f64] =
    &[0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// The process's Prometheus recorder, installed by the first call. `None` if another recorder
/// was installed first (the metrics facade takes one per process).
pub fn prometheus() -> Option<&'static PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new().set_buckets_for_metric(Matcher::Suffix("_seconds".into()), BUCKETS);
            match builder.and_then(PrometheusBuilder::install_recorder) {
                Ok(handle) => Some(handle),
                Err(e) => {
                    tracing::warn!("no /metrics: the Prometheus recorder could not be installed ({e})");
                    None
                }
            }
        })
        .as_ref()
}

/// The metrics as Prometheus scrapes them.
pub(crate) async fn metrics() -> Response {
    match prometheus() {
        Some(handle) => ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], handle.render()).into_response(),
        None => {
            (StatusCode::SERVICE_UNAVAILABLE, "another metrics recorder is installed in this process\n").into_response()
        }
    }
}
