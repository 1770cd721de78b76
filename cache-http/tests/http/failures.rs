//! A failing backend: the cache is an optimisation, never a reason to fail a request. Down or
//! stalled, it is tried until its circuit breaker opens, then left alone: requests are served by
//! the handler with no wait on the backend.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use cachette_core::{BaseCache, BreakerState, Cache, Config};
use cachette_http::CacheLayer;

use crate::backends::{Counting, Stalled};
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

/// The breaker's default threshold: the backend sees this many failed calls, then none.
const BREAKER_FAILURES: usize = 5;

/// Sends 20 requests one after another through a layer over `backend` (counted); checks that each
/// is served by the handler, that the backend saw the calls that opened the breaker and no more,
/// and that each request counted one error.
async fn twenty_requests_leave_the_backend_alone_once_the_breaker_opens(
    backend: Arc<dyn BaseCache>,
    mut config: Config,
) {
    // No probe during the test: the counts do not depend on how long it takes.
    config.fail_safe.breaker_cooldown = Duration::from_secs(3600);
    let counting = Counting::new(backend);
    let cache = Cache::new(counting.clone(), config);
    let calls = Calls::default();
    let layer = CacheLayer::new(cache.clone());
    let app = Router::new().route("/page", counted(&calls, "still up")).layer(layer.clone());
    let server = Server::start(app).await;
    for _ in 0..20 {
        let r = server.get("/page").await;
        assert_eq!((r.status, r.x_cache(), r.text()), (200, "MISS", "still up"));
    }
    assert_eq!(calls.get(), 20);
    assert_eq!(cache.stats().breaker.state, BreakerState::Open);
    // One lookup per request until the breaker opened; a request whose lookup failed neither
    // looks again nor writes.
    assert_eq!(counting.calls(), BREAKER_FAILURES, "then the breaker answers for the backend");
    assert_eq!(layer.stats().errors, 20, "one error per request: {:?}", layer.stats());
    assert_eq!(layer.stats().stored, 0);
}

#[tokio::test]
async fn a_stalled_backend_is_given_up_on_at_its_deadline_and_then_left_alone() {
    let mut config = Config::default();
    config.fail_safe.deadline = Duration::from_millis(50);
    twenty_requests_leave_the_backend_alone_once_the_breaker_opens(Arc::new(Stalled), config).await;
}

#[tokio::test]
async fn a_dead_redis_is_tried_until_the_breaker_opens_and_then_left_alone() {
    let port = cachette_conformance::harness::free_port();
    let config = Config::from_map([("CACHE_REDIS_URL", format!("redis://127.0.0.1:{port}"))]).unwrap();
    let redis = cachette_redis::RedisCache::new(&config).unwrap();
    twenty_requests_leave_the_backend_alone_once_the_breaker_opens(Arc::new(redis), config).await;
}

/// While the backend is down, concurrent requests for one page still share one render: the
/// followers are handed the leader's response, as they are when the backend is up.
#[tokio::test]
async fn concurrent_requests_while_the_backend_is_down_share_one_render() {
    let config = Config::default();
    let cache = Cache::new(Arc::new(Stalled), config.clone());
    let (calls, gate) = (Calls::default(), Arc::new(tokio::sync::Semaphore::new(0)));
    let slow = crate::support::held_render(&calls, &gate, |_| true, |n| format!("render {n}"));
    let layer = CacheLayer::new(cache);
    let server = Server::start(Router::new().route("/page", slow).layer(layer.clone())).await;
    let requests: Vec<_> = (0..10)
        .map(|_| tokio::spawn(crate::support::Reply::of(server.request(reqwest::Method::GET, "/page"))))
        .collect();
    crate::support::wait_until("the render has started", || calls.get() == 1).await;
    // The others have failed their lookups (the deadline) and joined the render.
    crate::support::wait_until("every lookup has failed", || layer.stats().errors == 10).await;
    tokio::time::sleep(Duration::from_millis(100)).await; // from its failure to its join
    gate.add_permits(10);
    for request in requests {
        let reply = request.await.unwrap();
        assert_eq!((reply.status, reply.text()), (200, "render 1"));
    }
    assert_eq!(calls.get(), 1, "one render for the ten requests");
}
