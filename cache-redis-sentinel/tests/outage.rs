//! RedisSentinelCache when its master stalls (SIGSTOP) or dies, through the `Cache` facade:
//! every call returns while the sentinels fail over, only a handful reach a server while the
//! circuit breaker is open, and hits resume on the promoted replica
//! (`cachette_conformance::harness::faults`).

use std::sync::Arc;
use std::time::Duration;

use cachette_conformance::harness::faults::{fault_config, survives_an_outage};
use cachette_conformance::harness::redis::SentinelTopology;
use cachette_core::{Cache, Config};
use cachette_redis_sentinel::RedisSentinelCache;

fn cache_on(topology: &SentinelTopology, prefix: &str) -> Cache {
    let mut config = Config::from_map([("CACHE_KEY_PREFIX", prefix)]).unwrap();
    topology.target().apply(&mut config);
    let config = fault_config(config);
    Cache::new(Arc::new(RedisSentinelCache::new(&config).unwrap()), config)
}

/// The failover takes a few seconds; the breaker's probes meanwhile are the attempts.
const MAX_ATTEMPTS: u64 = 40;

fn failed_over(topology: &mut SentinelTopology) {
    let took = topology.wait_for_failover(Duration::from_secs(30));
    println!("the sentinels promoted the replica after {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_master_is_bypassed_and_hits_resume_on_the_promoted_replica() {
    let mut topology = SentinelTopology::start();
    let cache = cache_on(&topology, "stall:");
    let report =
        survives_an_outage(&cache, &mut topology, SentinelTopology::stall_master, failed_over, MAX_ATTEMPTS).await;
    println!("stalled sentinel master: {report:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_master_is_bypassed_and_hits_resume_on_the_promoted_replica() {
    let mut topology = SentinelTopology::start();
    let cache = cache_on(&topology, "kill:");
    let report =
        survives_an_outage(&cache, &mut topology, SentinelTopology::kill_master, failed_over, MAX_ATTEMPTS).await;
    println!("killed sentinel master: {report:?}");
}
