//! RedisCache under faults of a real server, through the `Cache` facade: stalled (SIGSTOP: it
//! accepts connections and never answers) and killed then restarted. Every call still returns,
//! only a handful reach the server while the circuit breaker is open, and hits come back once the
//! server does (the checks are `cachette_conformance::harness::faults`).

use std::sync::Arc;

use cachette_conformance::harness::faults::{fault_config, survives_an_outage};
use cachette_conformance::harness::redis::RedisServer;
use cachette_core::{Cache, Config};
use cachette_redis::RedisCache;

fn cache_on(server: &RedisServer, prefix: &str) -> Cache {
    let mut config =
        Config::from_map([("CACHE_REDIS_URL", server.url().as_str()), ("CACHE_KEY_PREFIX", prefix)]).unwrap();
    config = fault_config(config);
    Cache::new(Arc::new(RedisCache::new(&config).unwrap()), config)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_redis_is_bypassed_and_hits_resume_when_it_answers_again() {
    let mut server = RedisServer::start();
    let cache = cache_on(&server, "stall:");
    let report = survives_an_outage(&cache, &mut server, RedisServer::stall, RedisServer::resume, 6).await;
    println!("stalled redis: {report:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_redis_is_bypassed_and_hits_resume_after_its_restart() {
    let mut server = RedisServer::start();
    let cache = cache_on(&server, "kill:");
    let report = survives_an_outage(&cache, &mut server, RedisServer::kill, RedisServer::restart, 6).await;
    println!("killed redis: {report:?}");
}
