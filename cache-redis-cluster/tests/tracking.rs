//! Client tracking on a real Redis Cluster: the change feed cases (keys on every master), and the
//! feed across a killed tracking connection and a master's failover.

use std::sync::Arc;
use std::time::Duration;

use cachette_conformance::change_feed::{following, follows_again, wait_for, wait_for_keys};
use cachette_conformance::harness::redis::{self as harness, ClusterTopology};
use cachette_core::change_feed::Change;
use cachette_core::{BaseCache, Bytes, Config, Ttl};
use cachette_redis::tracking::CONNECTION_NAME;
use cachette_redis_cluster::RedisClusterCache;
use redis::cluster_routing::Slot;

cachette_conformance::change_feed_suite!(cluster, |mut config: Config| async move {
    harness::cluster().apply(&mut config);
    Ok(Arc::new(RedisClusterCache::new(&config)?) as Arc<dyn BaseCache>)
});

fn cache_on(cluster: &ClusterTopology) -> RedisClusterCache {
    let mut config = Config::from_map([("CACHE_KEY_PREFIX", "faults:")]).unwrap();
    cluster.target().apply(&mut config);
    RedisClusterCache::new(&config).unwrap()
}

/// The slot of `key` as the cache stores it.
fn slot_of(cluster: &ClusterTopology, key: &str) -> u16 {
    let stored = Slot::for_key(cache_on(cluster).stored_key(key));
    (0..16384u16).find(|s| Slot::new(*s) == Some(stored)).unwrap()
}

async fn write(cluster: &ClusterTopology, key: &str) {
    cache_on(cluster).set(key, Bytes::from_static(b"v"), Ttl::Default).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_of_every_master_are_reported_and_a_killed_connection_is_followed_again() {
    let cluster = ClusterTopology::start(3, 0);
    let mut feed = following(&cache_on(&cluster)).await;
    // Keys in slots of all three masters (the stored key decides the slot).
    let keys = ["a", "b", "c", "d", "e", "f"];
    let masters: std::collections::HashSet<_> =
        keys.iter().filter_map(|k| cluster.master_port_for_slot(slot_of(&cluster, k))).collect();
    assert_eq!(masters.len(), 3, "the keys must live on every master");
    for key in keys {
        write(&cluster, key).await;
    }
    wait_for_keys(&mut feed, &keys).await;
    assert_eq!(cluster.kill_clients_named(CONNECTION_NAME), 3, "one tracking connection per master");
    wait_for(&mut feed, &Change::Lost).await;
    follows_again(&mut feed, "after", write(&cluster, "after")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_over_master_is_followed_on_the_promoted_replica() {
    let mut cluster = ClusterTopology::start(3, 1);
    let mut feed = following(&cache_on(&cluster)).await;
    let slot = slot_of(&cluster, "k");
    let old = cluster.master_port_for_slot(slot).expect("the key's slot has a master");
    cluster.kill_node(old);
    wait_for(&mut feed, &Change::Lost).await;
    cluster.wait_for_failover(slot, old, Duration::from_secs(30));
    follows_again(&mut feed, "k", write(&cluster, "k")).await;
}
