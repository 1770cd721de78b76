//! Two nodes (two TieredCaches with their own tiers and connections) on one real Redis: tag
//! invalidations, memoize version changes and writes made around cachette reach the other node's
//! tier by client tracking; a lost tracking connection flushes the tier; with the bus on another
//! server and the backend down, the tier keeps serving what it holds.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use cachette_conformance::harness::redis::RedisServer;
use cachette_core::admin::{Cleared, KeyCount};
use cachette_core::{BaseCache, Bytes, Cache, Config, Memoized, Ttl};
use cachette_redis::RedisCache;
use cachette_redis::tracking::CONNECTION_NAME;
use cachette_tiered::TieredCache;

/// A node over the Redis at `url`, coherent by client tracking.
async fn node(url: &str) -> Cache {
    Cache::new(tiered(url, None).await, config(url, None))
}

/// A node over the Redis at `url`, coherent by the bus at `bus`.
async fn node_with_bus(url: &str, bus: &str) -> Cache {
    Cache::new(tiered(url, Some(bus)).await, config(url, Some(bus)))
}

fn config(url: &str, bus: Option<&str>) -> Config {
    let mut settings = vec![
        ("CACHE_REDIS_URL", url),
        ("CACHE_KEY_PREFIX", "fleet:"),
        ("CACHE_L1", "true"),
        ("CACHE_L1_TIMEOUT", "60s"),
    ];
    settings.extend(bus.map(|bus| ("CACHE_L1_BUS_URL", bus)));
    Config::from_map(settings).unwrap()
}

/// The tier, once it follows its channel.
async fn tiered(url: &str, bus: Option<&str>) -> Arc<TieredCache> {
    let config = config(url, bus);
    let tiered = TieredCache::new(Arc::new(RedisCache::new(&config).unwrap()), &config).unwrap();
    assert!(eventually(async || tiered.is_active()).await, "the tier did not follow its channel within 2 s");
    Arc::new(tiered)
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
async fn a_write_made_around_cachette_reaches_the_tier() {
    let server = RedisServer::start();
    let b = tiered(&server.url(), None).await;
    b.set("motd", Bytes::from_static(b"hello"), Ttl::Never).await.unwrap();
    assert_eq!(b.get("motd").await.unwrap().as_deref(), Some(&b"hello"[..]));
    let stored = RedisCache::new(&config(&server.url(), None)).unwrap().stored_key("motd");
    assert_eq!(server.cli(&["SET", &stored, "bye"]).trim(), "OK");
    assert!(eventually(async || b.get("motd").await.unwrap().as_deref() == Some(&b"bye"[..])).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_tracking_connection_flushes_the_tier_until_tracking_is_back() {
    let server = RedisServer::start();
    let (a, b) = (node(&server.url()).await, tiered(&server.url(), None).await);
    let read_by_b = Cache::new(b.clone(), config(&server.url(), None));
    a.set("k", &"v1", Ttl::Never).await.unwrap();
    assert_eq!(read_by_b.get::<String>("k").await.unwrap().as_deref(), Some("v1"));
    assert_eq!(server.kill_clients_named(CONNECTION_NAME), 2, "a's and b's tracking connections");
    assert!(eventually(async || b.channel_losses() == 1).await, "b lost tracking, and flushed its tier");
    assert!(eventually(async || b.is_active()).await, "b serves from its tier again once tracking is back");
    a.set("k", &"v2", Ttl::Never).await.unwrap();
    assert!(eventually(async || read_by_b.get::<String>("k").await.unwrap().as_deref() == Some("v2")).await);
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_counts_the_backends_keys_and_its_counting_clear_empties_every_nodes_tier() {
    let server = RedisServer::start();
    let (a, b) = (tiered(&server.url(), None).await, tiered(&server.url(), None).await);
    for i in 0..10 {
        a.set(&format!("k{i}"), Bytes::from_static(b"v"), Ttl::Default).await.unwrap();
    }
    assert!(b.get("k0").await.unwrap().is_some(), "k0 is in b's tier now");
    let admin = a.admin().expect("over RedisCache, the tier offers the backend's Admin");
    assert_eq!(admin.count_keys(&|_| {}).await.unwrap(), KeyCount::Counted { keys: 10 });
    assert_eq!(admin.servers().await.unwrap().len(), 1);
    assert_eq!(admin.clear_counting(&|_| {}).await.unwrap(), Cleared::Removed { keys: 10 });
    assert_eq!(a.get("k1").await.unwrap(), None, "this node's tier was emptied");
    assert!(eventually(async || b.get("k0").await.unwrap().is_none()).await, "the other node's tier forgot k0");
}
