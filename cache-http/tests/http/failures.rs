//! A failing backend: the cache is an optimisation, never a reason to fail a request.

use std::sync::Arc;

use axum::Router;
use cachette_core::Cache;
use cachette_http::CacheLayer;

use crate::support::{Calls, Server, counted};

/// A cache backend that is down never takes the site down: every request is served by the handler.
#[tokio::test]
async fn a_failing_backend_serves_from_the_handler() {
    let port = cachette_conformance::harness::free_port();
    let config = cachette_core::Config::from_map([
        ("CACHE_REDIS_URL", format!("redis://127.0.0.1:{port}")),
        ("CACHE_OPTIONS", "connect_timeout=200ms,response_timeout=200ms".into()),
    ])
    .unwrap();
    let cache = Cache::new(Arc::new(cachette_redis::RedisCache::new(&config).unwrap()), config);
    let calls = Calls::default();
    let layer = CacheLayer::new(cache);
    let app = Router::new().route("/page", counted(&calls, "still up")).layer(layer.clone());
    let server = Server::start(app).await;
    for _ in 0..2 {
        let r = server.get("/page").await;
        assert_eq!((r.status, r.text()), (200, "still up"));
    }
    assert_eq!(calls.get(), 2);
    assert!(layer.stats().errors >= 2, "the failures are counted: {:?}", layer.stats());
}
