//! The spans of cached views (`RUST_LOG=cachette=debug`): one `cachette.http.request` per
//! request with its route, method, short key and outcome, and one `cachette.http.store` for the
//! write behind a miss. Driven through the router without the network, on one thread, so that
//! the capturing subscriber sees every task.

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use cachette_conformance::spans::{Spans, capture};
use cachette_http::CacheLayer;
use http_body_util::BodyExt;
use tower::ServiceExt;

use crate::support::{simple, wait_until};

/// The spans of `paths` requested one after the other from a route cached by a layer named
/// `/report`, each response read whole; the first response's store is waited for.
fn spans_of_requests(paths: &[&str]) -> Spans {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let (_, spans) = capture(|| {
        rt.block_on(async {
            let layer = CacheLayer::new(simple("spans").await).route_name("/report").fresh_for(Duration::from_secs(60));
            let app = Router::new().route("/report", get(|| async { "the report" }).layer(layer.clone()));
            for path in paths {
                let request = http::Request::get(*path).header("host", "example.com").body(Body::empty()).unwrap();
                let response = app.clone().oneshot(request).await.unwrap();
                response.into_body().collect().await.unwrap();
                wait_until("the entry is stored", || layer.stats().stored == 1).await;
            }
        })
    });
    spans
}

#[test]
fn a_requests_span_carries_its_route_method_short_key_and_outcome_miss_then_hit() {
    let spans = spans_of_requests(&["/report?token=abc", "/report?token=abc"]);
    let requests = spans.named("cachette.http.request");
    assert_eq!(requests.len(), 2, "{spans:?}");
    for (request, outcome) in requests.iter().zip(["miss", "hit"]) {
        assert_eq!(request.field("route"), Some("/report"));
        assert_eq!(request.field("method"), Some("GET"));
        assert_eq!(request.field("outcome"), Some(outcome), "{request:?}");
        assert!(request.field("key").is_some_and(|k| k.contains("example.com /report")), "{request:?}");
        assert!(request.field("latency_us").is_some(), "{request:?}");
    }
    assert!(requests[0].field("render_us").is_some(), "the miss rendered: {:?}", requests[0]);
    assert!(requests[1].field("render_us").is_none(), "the hit did not: {:?}", requests[1]);
    assert!(requests[0].events.iter().any(|e| e == "cachette-http: answered"), "{:?}", requests[0]);
    let stores = spans.named("cachette.http.store");
    assert_eq!(stores.len(), 1, "{spans:?}");
    assert_eq!((stores[0].field("route"), stores[0].field("outcome")), (Some("/report"), Some("stored")));
}

#[test]
fn a_long_query_is_cut_in_the_requests_span() {
    let secret = "s3cr3t".repeat(40);
    let spans = spans_of_requests(&[&format!("/report?api_key={secret}")]);
    let request = spans.named("cachette.http.request")[0].clone();
    assert!(request.field("key").is_some_and(|k| k.contains(" bytes, #")), "{request:?}");
    assert!(!spans.text().contains(&secret), "{spans:?}");
}
