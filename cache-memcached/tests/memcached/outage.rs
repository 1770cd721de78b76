//! MemcachedCache under faults of a real server, through the `Cache` facade: stalled (SIGSTOP)
//! and killed then restarted (`cachette_conformance::harness::faults`).

use std::sync::Arc;

use cachette_conformance::harness::faults::{fault_config, survives_an_outage};
use cachette_conformance::harness::memcached::MemcachedServer;
use cachette_core::Cache;
use cachette_memcached::MemcachedCache;

use super::support::{config, unique_prefix};

fn cache_on(server: &MemcachedServer, name: &str) -> Cache {
    let config = fault_config(config(&server.target(), &unique_prefix(name), ""));
    Cache::new(Arc::new(MemcachedCache::new(&config).unwrap()), config)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_memcached_is_bypassed_and_hits_resume_when_it_answers_again() {
    let mut server = MemcachedServer::start();
    let cache = cache_on(&server, "stall");
    let report = survives_an_outage(&cache, &mut server, MemcachedServer::stall, MemcachedServer::resume, 6).await;
    println!("stalled memcached: {report:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_memcached_is_bypassed_and_hits_resume_after_its_restart() {
    let mut server = MemcachedServer::start();
    let cache = cache_on(&server, "kill");
    let report = survives_an_outage(&cache, &mut server, MemcachedServer::kill, MemcachedServer::restart, 6).await;
    println!("killed memcached: {report:?}");
}
