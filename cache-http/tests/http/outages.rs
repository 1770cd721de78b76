//! The layer over real servers that fail: Redis, a Sentinel master and memcached stalled (SIGSTOP: connections
//! accepted, nothing answered) and killed then restarted. Every request is answered 200 by the
//! handler, only a handful of backend calls are made while the breaker is open, and hits come back
//! once the server does. Counts, not clocks (the fail-safe settings are the fault tests' short
//! ones: `harness::faults::fault_config`).

use std::sync::Arc;

use axum::Router;
use cachette_conformance::harness::faults::fault_config;
use cachette_conformance::harness::memcached::MemcachedServer;
use cachette_conformance::harness::redis::{RedisServer, SentinelTopology};
use cachette_core::{Cache, Config};
use cachette_http::CacheLayer;

use crate::support::{Calls, Server, counted};

/// Requests made while the backend is broken.
const REQUESTS: usize = 40;
/// Backend calls allowed while a server is broken: the breaker opens after 3 failures, and its
/// 300 ms cool-down lets a probe through now and then.
const MAX_ATTEMPTS: u64 = 8;
/// The same while the sentinels fail over (a few seconds of probes).
const MAX_ATTEMPTS_FAILOVER: u64 = 40;

/// What breaks a server, and what mends it.
type Phases<S> = (fn(&mut S), fn(&mut S));

/// Breaks the backend under a layer, checks every request is answered by the handler with at
/// most `max_attempts` backend calls, mends it, and checks that a page is stored and hit again.
async fn the_layer_survives_an_outage<S>(cache: Cache, server: &mut S, (break_it, mend): Phases<S>, max_attempts: u64) {
    let calls = Calls::default();
    let layer = CacheLayer::new(cache.clone());
    let app = Router::new().route("/page", counted(&calls, "rendered")).layer(layer.clone());
    let http = Server::start(app).await;
    assert_eq!(http.get("/page?warm").await.x_cache(), "MISS");
    assert_eq!(http.get("/page?warm").await.x_cache(), "HIT", "the backend works before the fault");

    break_it(server);
    let before = cache.stats();
    for i in 0..REQUESTS {
        let r = http.get(&format!("/page?i={i}")).await;
        assert_eq!((r.status, r.text()), (200, "rendered"), "request {i} during the outage");
    }
    let during = cache.stats();
    let attempts = (during.errors - before.errors) - (during.breaker.rejected - before.breaker.rejected);
    assert!(attempts <= max_attempts, "{attempts} backend calls reached the broken server: {during:?}");

    mend(server);
    for attempt in 0..100 {
        let path = format!("/page?after={attempt}");
        if http.get(&path).await.x_cache() == "MISS" && http.get(&path).await.x_cache() == "HIT" {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("no hit in 100 tries after the server came back: {:?}", cache.stats());
}

fn redis_cache(server: &RedisServer) -> Cache {
    let config = Config::from_map([("CACHE_REDIS_URL", server.url())]).unwrap();
    let config = fault_config(config);
    Cache::new(Arc::new(cachette_redis::RedisCache::new(&config).unwrap()), config)
}

fn memcached_cache(server: &MemcachedServer) -> Cache {
    let mut config = Config::default();
    server.target().apply(&mut config);
    let config = fault_config(config);
    Cache::new(Arc::new(cachette_memcached::MemcachedCache::new(&config).unwrap()), config)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_redis_leaves_every_request_to_the_handler_and_hits_resume() {
    let mut server = RedisServer::start();
    let cache = redis_cache(&server);
    the_layer_survives_an_outage(cache, &mut server, (RedisServer::stall, RedisServer::resume), MAX_ATTEMPTS).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_redis_leaves_every_request_to_the_handler_and_hits_resume_after_its_restart() {
    let mut server = RedisServer::start();
    let cache = redis_cache(&server);
    the_layer_survives_an_outage(cache, &mut server, (RedisServer::kill, RedisServer::restart), MAX_ATTEMPTS).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_memcached_leaves_every_request_to_the_handler_and_hits_resume() {
    let mut server = MemcachedServer::start();
    let cache = memcached_cache(&server);
    the_layer_survives_an_outage(cache, &mut server, (MemcachedServer::stall, MemcachedServer::resume), MAX_ATTEMPTS)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_memcached_leaves_every_request_to_the_handler_and_hits_resume_after_its_restart() {
    let mut server = MemcachedServer::start();
    let cache = memcached_cache(&server);
    the_layer_survives_an_outage(cache, &mut server, (MemcachedServer::kill, MemcachedServer::restart), MAX_ATTEMPTS)
        .await;
}

fn failed_over(topology: &mut SentinelTopology) {
    let took = topology.wait_for_failover(std::time::Duration::from_secs(30));
    println!("the sentinels promoted the replica after {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_sentinel_master_leaves_every_request_to_the_handler_and_hits_resume_on_the_replica() {
    let mut topology = SentinelTopology::start();
    let mut config = Config::default();
    topology.target().apply(&mut config);
    let config = fault_config(config);
    let cache = Cache::new(Arc::new(cachette_redis_sentinel::RedisSentinelCache::new(&config).unwrap()), config);
    let phases =
        (SentinelTopology::stall_master as fn(&mut SentinelTopology), failed_over as fn(&mut SentinelTopology));
    the_layer_survives_an_outage(cache, &mut topology, phases, MAX_ATTEMPTS_FAILOVER).await;
}
