//! The layer as a tower `Layer`: on any `Service` of `http::Request`s, and as axum's.

use std::convert::Infallible;

use axum::body::Body;
use axum::response::IntoResponse;
use bytes::Bytes;
use cachette_http::{CacheBody, CacheLayer};
use http_body_util::{BodyExt, Empty, Full};
use tower::{Layer, ServiceExt};

use crate::support::{self, Calls};

/// The layer on a plain tower service, without axum.
#[tokio::test]
async fn the_layer_works_on_any_tower_service() {
    let calls = Calls::default();
    let c = calls.clone();
    let inner = tower::service_fn(move |_request: http::Request<Empty<Bytes>>| {
        let c = c.clone();
        async move {
            c.hit();
            Ok::<_, Infallible>(http::Response::new(Full::new(Bytes::from_static(b"plain"))))
        }
    });
    let service = CacheLayer::new(support::simple("tower").await).layer(inner);
    for expected in ["MISS", "HIT"] {
        let request = http::Request::get("/x").body(Empty::new()).unwrap();
        let response = service.clone().oneshot(request).await.unwrap();
        assert_eq!(response.headers()["x-cache"], expected);
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&body[..], b"plain");
    }
    assert_eq!(calls.get(), 1);
}

/// Stands for an inner service: the accessors need no `Service` impl.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Named(&'static str);

#[tokio::test]
async fn the_cache_service_gives_its_inner_service_back() {
    let mut service = CacheLayer::new(support::simple("accessors").await).layer(Named("inner"));
    assert_eq!(service.get_ref(), &Named("inner"));
    service.get_mut().0 = "changed";
    assert_eq!(service.into_inner(), Named("changed"));
}

/// A cached axum route's response is an axum response (checked at compile time).
#[allow(unused)]
fn a_cached_response_is_an_axum_response(r: http::Response<CacheBody<Body>>) -> impl IntoResponse {
    r
}
