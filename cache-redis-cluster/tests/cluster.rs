//! RedisClusterCache against a real cluster (3 masters + 3 replicas): the conformance suite,
//! operations across slots, clear on every master, and a killed master's failover.

use std::sync::Arc;
use std::time::{Duration, Instant};

use cachette_conformance::harness::redis::{self as harness, ClusterTopology};
use cachette_core::admin::{Cleared, KeyCount};
use cachette_core::{BaseCache, Bytes, Cache, CacheError, Config, Ttl};
use cachette_redis_cluster::RedisClusterCache;
use redis::cluster_routing::Slot;

cachette_conformance::conformance_suite!(cluster, |mut config: Config| async move {
    harness::cluster().apply(&mut config);
    Ok(Arc::new(RedisClusterCache::new(&config)?) as Arc<dyn BaseCache>)
});

#[test]
fn any_two_prefixes_are_disjoint_on_a_cluster() {
    cachette_conformance::isolation::check("RedisClusterCache", |prefix| Arc::new(cache_with_prefix(prefix)));
}

fn cache_with_prefix(prefix: &str) -> RedisClusterCache {
    let mut config = Config::from_map([("CACHE_KEY_PREFIX", prefix)]).unwrap();
    harness::cluster().apply(&mut config);
    RedisClusterCache::new(&config).unwrap()
}

/// 200 keys spread over many slots (and so over all three masters).
fn spread_keys() -> Vec<String> {
    let keys: Vec<String> = (0..200).map(|i| format!("key-{i}")).collect();
    // As stored under the prefix `x:` (see cachette-redis's docs on keys).
    let slots: std::collections::HashSet<_> = keys.iter().map(|k| Slot::for_key(format!("2:x:{k}"))).collect();
    assert!(slots.len() > 100, "the keys must cover many slots");
    keys
}

#[tokio::test]
async fn batch_operations_work_across_slots() {
    let cache = cache_with_prefix("x:");
    let keys = spread_keys();
    let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    let items: Vec<(&str, Bytes)> = keys.iter().map(|k| (k.as_str(), Bytes::from(k.clone()))).collect();
    cache.set_many(&items, Ttl::After(Duration::from_secs(60))).await.unwrap();
    let mut asked = refs.clone();
    asked.reverse();
    asked.insert(50, "missing");
    let got = cache.get_many(&asked).await.unwrap();
    for (key, value) in asked.iter().zip(&got) {
        if *key == "missing" {
            assert_eq!(value, &None);
        } else {
            assert_eq!(value.as_deref(), Some(key.as_bytes()), "{key}");
        }
    }
    assert_eq!(cache.delete_many(&refs).await.unwrap(), 200);
    assert!(cache.get_many(&refs).await.unwrap().iter().all(Option::is_none));
    cache.set_many(&items, Ttl::Never).await.unwrap();
    cache.clear().await.unwrap();
}

/// The caches of the prefixes `<name>-mine:` (holding [`spread_keys`], on every master) and
/// `<name>-theirs:` (one key, `k`), and the keys.
async fn neighbours(name: &str) -> (RedisClusterCache, RedisClusterCache, Vec<String>) {
    let mine = cache_with_prefix(&format!("{name}-mine:"));
    let theirs = cache_with_prefix(&format!("{name}-theirs:"));
    let keys = spread_keys();
    for key in &keys {
        mine.set(key, Bytes::from_static(b"v"), Ttl::Default).await.unwrap();
    }
    theirs.set("k", Bytes::from_static(b"kept"), Ttl::Default).await.unwrap();
    (mine, theirs, keys)
}

#[tokio::test]
async fn clear_reaches_every_master_and_spares_other_prefixes() {
    let (mine, theirs, keys) = neighbours("clear").await;
    mine.clear().await.unwrap();
    let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    assert!(mine.get_many(&refs).await.unwrap().iter().all(Option::is_none), "a key survived clear");
    assert_eq!(theirs.get("k").await.unwrap().as_deref(), Some(&b"kept"[..]));
}

#[tokio::test]
async fn admin_counts_and_clears_on_every_master_and_names_each() {
    let (mine, theirs, _) = neighbours("admin").await;
    let admin = mine.admin().unwrap();
    assert_eq!(admin.count_keys(&|_| {}).await.unwrap(), KeyCount::Counted { keys: 200 });
    let servers = admin.servers().await.unwrap();
    let addresses: std::collections::HashSet<_> = servers.iter().map(|s| s.address.clone()).collect();
    assert_eq!(addresses.len(), 3, "one line per master, each named: {servers:?}");
    assert!(servers.iter().all(|s| s.address.starts_with("127.0.0.1:") && s.keys.is_some()), "{servers:?}");
    assert_eq!(admin.clear_counting(&|_| {}).await.unwrap(), Cleared::Removed { keys: 200 });
    assert_eq!(theirs.get("k").await.unwrap().as_deref(), Some(&b"kept"[..]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_master_is_replaced_by_its_replica() {
    let mut topology = ClusterTopology::start(3, 1);
    let mut config = Config::from_map([("CACHE_KEY_PREFIX", "fo:")]).unwrap();
    topology.target().apply(&mut config);
    let backend = Arc::new(RedisClusterCache::new(&config).unwrap());
    let cache = Cache::new(backend.clone(), config);
    // A key in slot 0's shard, written before the failure.
    let stored_slot = |k: &str| Slot::for_key(backend.stored_key(k));
    let key = (0..).map(|i| format!("k{i}")).find(|k| stored_slot(k) == stored_slot("k0")).unwrap();
    let slot = (0..16384u16).find(|s| Slot::new(*s) == Some(stored_slot(&key))).unwrap();
    cache.set(&key, "before", Ttl::Never).await.unwrap();
    let owner = topology.master_port_for_slot(slot).unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await; // let the replica copy it

    topology.kill_node(owner);
    let killed = Instant::now();
    let mut failures = 0;
    let mut n = 0u64;
    let recovered = loop {
        n += 1;
        match cache.set(&key, &n, Ttl::Never).await {
            Ok(()) => break killed.elapsed(),
            Err(e) => {
                assert!(e.is_backend_failure(), "{e:?}");
                failures += 1;
            }
        }
        assert!(killed.elapsed() < Duration::from_secs(60), "no write succeeded within 60 s of the master's death");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    println!(
        "writes to the killed master's slots succeeded again {recovered:?} after the kill ({failures} calls failed meanwhile)"
    );
    assert_ne!(topology.master_port_for_slot(slot), Some(owner));
    assert_eq!(cache.get::<u64>(&key).await.unwrap(), Some(n));
    // Keys on the other masters kept working, and clear copes with the dead node.
    cache.set("elsewhere", "v", Ttl::Never).await.unwrap();
    cache.clear().await.unwrap();
    assert_eq!(cache.get::<String>("elsewhere").await.unwrap(), None);
}

#[test]
fn settings_are_checked() {
    let err = RedisClusterCache::new(&Config::default()).unwrap_err();
    assert!(matches!(&err, CacheError::Config { key, .. } if key == "CACHE_REDIS_CLUSTER"), "{err}");
    let err = RedisClusterCache::new(
        &Config::from_map([("CACHE_REDIS_CLUSTER", "127.0.0.1:7000"), ("CACHE_REDIS_DB", "2")]).unwrap(),
    )
    .unwrap_err();
    assert!(matches!(&err, CacheError::Config { key, .. } if key == "CACHE_REDIS_DB"), "{err}");
}

#[tokio::test]
async fn unreachable_seeds_name_the_setting() {
    let port = cachette_conformance::harness::free_port();
    let config = Config::from_map([("CACHE_REDIS_CLUSTER", format!("127.0.0.1:{port}"))]).unwrap();
    let err = RedisClusterCache::new(&config).unwrap().get("k").await.unwrap_err();
    assert!(err.is_backend_failure(), "{err:?}");
    assert!(err.to_string().contains("CACHE_REDIS_CLUSTER"), "{err}");
}
