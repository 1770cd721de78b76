//! What is cached: methods, `unless`, the response filter.

use axum::Router;
use axum::routing::post;
use cachette_core::Cache;
use cachette_http::CacheLayer;
use http::StatusCode;

use crate::support::{Calls, Reply, Server, counted, counted_with, renders_of_two_gets};

async fn a_post_is_not_cached(cache: Cache) {
    let calls = Calls::default();
    let c = calls.clone();
    let app = Router::new()
        .route(
            "/form",
            post(move || async move {
                c.hit();
                "posted"
            }),
        )
        .layer(CacheLayer::new(cache));
    let server = Server::start(app).await;
    for _ in 0..2 {
        let r = Reply::of(server.request(reqwest::Method::POST, "/form").body("x")).await;
        assert_eq!((r.status, r.x_cache()), (200, ""));
    }
    assert_eq!(calls.get(), 2);
}

async fn unless_skips_the_cache_and_response_filter_chooses_what_is_stored(cache: Cache) {
    let (calls, missing) = (Calls::default(), Calls::default());
    let app = Router::new()
        .route("/page", counted(&calls, "page"))
        .route("/gone", counted_with(&missing, |_| (StatusCode::NOT_FOUND, "no such thing")))
        .layer(
            CacheLayer::new(cache.clone())
                .unless(|parts| parts.uri.query().is_some_and(|q| q.contains("preview")))
                .response_filter(|res| res.status == StatusCode::OK || res.status == StatusCode::NOT_FOUND),
        );
    let server = Server::start(app).await;
    for _ in 0..2 {
        let r = server.get("/page?preview=1").await;
        assert_eq!((r.status, r.x_cache()), (200, ""), "{r:?}");
    }
    assert_eq!(calls.get(), 2, "unless skips the cache");
    server.get("/gone").await;
    let gone = server.get("/gone").await;
    assert_eq!((gone.status, gone.x_cache()), (404, "HIT"), "the custom filter stores 404s");
    assert_eq!(missing.get(), 1);

    // By default only 200s are stored.
    assert_eq!(renders_of_two_gets(cache, |_| StatusCode::NOT_FOUND).await, 2);
}

on_every_backend!(a_post_is_not_cached, unless_skips_the_cache_and_response_filter_chooses_what_is_stored,);
