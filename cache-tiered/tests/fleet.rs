//! Two nodes (two TieredCaches with their own tiers and bus connections) on one real Redis:
//! tag invalidations and memoize version changes propagate as writes do; with the backend down,
//! the tier keeps serving what it holds.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use cachette_conformance::harness::redis::RedisServer;
use cachette_core::{Cache, Config, Memoized, Ttl};
use cachette_redis::RedisCache;
use cachette_tiered::TieredCache;

async fn node(url: &str) -> Cache {
    node_with_bus(url, url).await
}

async fn node_with_bus(url: &str, bus: &str) -> Cache {
    let config = Config::from_map([
        ("CACHE_REDIS_URL", url),
        ("CACHE_KEY_PREFIX", "fleet:"),
        ("CACHE_L1", "true"),
        ("CACHE_L1_TIMEOUT", "60s"),
        ("CACHE_L1_BUS_URL", bus),
    ])
    .unwrap();
    let tiered = TieredCache::new(Arc::new(RedisCache::new(&config).unwrap()), &config).unwrap();
    let start = Instant::now();
    while !tiered.is_active() {
        assert!(start.elapsed() < Duration::from_secs(5), "the bus did not subscribe within 5 s");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Cache::new(Arc::new(tiered), config)
}

/// Polls `check` for up to 2 s (the tier life is 60 s: only an invalidation can make it true).
async fn eventually<F: AsyncFnMut() -> bool>(mut check: F) -> bool {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(2) {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tag_invalidated_on_one_node_is_invalidated_on_the_other() {
    let server = RedisServer::start();
    let (a, b) = (node(&server.url()).await, node(&server.url()).await);
    a.set_tagged("page", &"v1", Ttl::Never, &["articles"]).await.unwrap();
    assert_eq!(b.get_tagged::<String>("page", &["articles"]).await.unwrap().as_deref(), Some("v1"));
    assert_eq!(b.get_tagged::<String>("page", &["articles"]).await.unwrap().as_deref(), Some("v1"), "now in b's tier");
    a.invalidate_tag("articles").await.unwrap();
    assert!(eventually(async || b.get_tagged::<String>("page", &["articles"]).await.unwrap().is_none()).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_memoized_function_cleared_on_one_node_loads_again_on_the_other() {
    let server = RedisServer::start();
    let (a, b) = (node(&server.url()).await, node(&server.url()).await);
    let loads = Arc::new(AtomicU32::new(0));
    let f = Memoized::new(b.clone(), "price", Ttl::Never);
    let call = async || {
        let loads = loads.clone();
        f.call(&7, async move || Ok::<_, std::io::Error>(loads.fetch_add(1, Ordering::SeqCst) + 1)).await.unwrap()
    };
    assert_eq!(call().await, 1);
    assert_eq!(call().await, 1, "the second call is a hit");
    a.delete_memoized_all("price").await.unwrap();
    assert!(eventually(async || call().await == 2).await, "b saw the new version of the function");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_backend_down_the_tier_serves_what_it_holds() {
    // The bus on another server: losing the bus flushes the tier (see the crate docs), so a bus
    // on the backend's own server goes down with it.
    let (mut server, bus) = (RedisServer::start(), RedisServer::start());
    let a = node_with_bus(&server.url(), &bus.url()).await;
    a.set("k", &"held", Ttl::Never).await.unwrap();
    server.kill();
    assert_eq!(a.get::<String>("k").await.unwrap().as_deref(), Some("held"));
    assert!(a.get::<String>("other").await.is_err(), "a miss goes to the backend, which is down");
}
