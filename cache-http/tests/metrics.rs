//! The metrics of a cached route (the `metrics` feature), read with `metrics-util`'s debugging
//! recorder: responses by outcome, stores, errors and render times, labelled by the route's name.
//!
//! The recorder is installed for this thread only (`with_local_recorder`) and the app runs on a
//! current-thread runtime, so the tasks that store behind the responses record on it too.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use cachette_conformance::metrics::{counter, histogram, recorded};
use cachette_core::{Cache, Config};
use cachette_http::{CacheLayer, Clock, RENDER_SECONDS, RESPONSES, STORED};
use tower::ServiceExt;

/// GETs `path` (with `headers`) or POSTs it; the response's status.
async fn send(app: &Router, method: &str, headers: &[(&str, &str)]) -> (u16, http::HeaderMap) {
    let mut request = http::Request::builder().method(method).uri("/report");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = app.clone().oneshot(request.body(Body::empty()).unwrap()).await.unwrap();
    (response.status().as_u16(), response.headers().clone())
}

#[test]
fn a_route_counts_each_outcome_its_stores_and_its_render_times() {
    let metrics = recorded(|| async {
        let config = Config::default();
        let cache = Cache::new(Arc::new(cachette_simple::SimpleCache::new(&config).unwrap()), config);
        let (start, seconds) = (SystemTime::now(), Arc::new(AtomicU64::new(0)));
        let s = seconds.clone();
        let layer = CacheLayer::new(cache.clone())
            .route_name("/report")
            .fresh_for(Duration::from_secs(10))
            .stale_while_revalidate(Duration::from_secs(60))
            .clock(Clock::from_fn(move || start + Duration::from_secs(s.load(Ordering::SeqCst))));
        let report = get(|| async { "report" }).post(|| async { "posted" });
        let app = Router::new().route("/report", report).layer(layer.clone());
        let other = CacheLayer::new(cache).namespace("other:");
        let unnamed = Router::new().route("/report", get(|| async { "other" })).layer(other);

        assert_eq!(send(&app, "GET", &[]).await.0, 200); // miss
        while layer.stats().stored < 1 {
            tokio::task::yield_now().await;
        }
        let (_, headers) = send(&app, "GET", &[]).await; // hit
        let etag = headers["etag"].to_str().unwrap().to_owned();
        assert_eq!(send(&app, "GET", &[("if-none-match", &etag)]).await.0, 304);
        seconds.store(11, Ordering::SeqCst);
        send(&app, "GET", &[]).await; // stale, refreshed behind
        send(&app, "POST", &[]).await; // bypass
        send(&unnamed, "GET", &[]).await;
        while layer.stats().stored < 2 {
            tokio::task::yield_now().await;
        }
    });
    let route = ("route", "/report");
    for outcome in ["miss", "hit", "not_modified", "stale", "bypass"] {
        assert_eq!(counter(&metrics, RESPONSES, &[route, ("outcome", outcome)]), 1, "{outcome}: {metrics:#?}");
    }
    assert_eq!(counter(&metrics, RESPONSES, &[("route", "unnamed"), ("outcome", "miss")]), 1, "the default name");
    assert_eq!(counter(&metrics, STORED, &[route]), 2, "the miss's entry and the refresh's");
    assert_eq!(counter(&metrics, cachette_http::ERRORS, &[route]), 0);
    let renders = histogram(&metrics, RENDER_SECONDS, &[route]);
    assert_eq!(renders.len(), 2, "the miss's render and the refresh's: {renders:?}");
    assert!(renders.iter().all(|s| (0.0..60.0).contains(s)), "{renders:?}");
}
