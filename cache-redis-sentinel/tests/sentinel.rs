//! RedisSentinelCache against a real Sentinel topology (1 master, 1 replica, 3 sentinels): the
//! conformance suite, a killed master followed to the promoted replica (on plain TCP and over
//! TLS), and errors naming settings.

use std::sync::Arc;
use std::time::{Duration, Instant};

use cachette_conformance::harness::redis::{self, SentinelTopology};
use cachette_core::{BaseCache, Cache, CacheError, Config, Ttl};
use cachette_redis_sentinel::RedisSentinelCache;

cachette_conformance::conformance_suite!(sentinel, |mut config: Config| async move {
    redis::sentinel().apply(&mut config);
    Ok(Arc::new(RedisSentinelCache::new(&config)?) as Arc<dyn BaseCache>)
});

#[test]
fn any_two_prefixes_are_disjoint_on_a_sentinel_master() {
    cachette_conformance::isolation::check("RedisSentinelCache", |prefix| {
        let mut config = Config::default();
        config.key_prefix = prefix.to_owned();
        redis::sentinel().apply(&mut config);
        Arc::new(RedisSentinelCache::new(&config).unwrap())
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_follow_the_promoted_replica_after_the_master_dies() {
    follows_a_failover(SentinelTopology::start()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_follow_the_promoted_replica_over_tls() {
    follows_a_failover(SentinelTopology::start_tls()).await;
}

/// Kills `topology`'s master and checks that writes reach the promoted replica.
async fn follows_a_failover(mut topology: SentinelTopology) {
    let mut config = Config::from_map([("CACHE_KEY_PREFIX", "failover:")]).unwrap();
    topology.target().apply(&mut config);
    let backend = Arc::new(RedisSentinelCache::new(&config).unwrap());
    let cache = Cache::new(backend.clone(), config);
    cache.set("before", "written to the first master", Ttl::Never).await.unwrap();
    assert_eq!(backend.topology().master_address().map(|a| a.1), Some(topology.original_master_port()));
    // The replica has the key before the master dies (replication is asynchronous).
    tokio::time::sleep(Duration::from_millis(200)).await;

    topology.kill_master();
    let killed = Instant::now();
    let mut failures = 0;
    let mut n = 0u64;
    let recovered = loop {
        n += 1;
        match cache.set("during", &n, Ttl::Never).await {
            Ok(()) => break killed.elapsed(),
            Err(e) => {
                assert!(e.is_backend_failure(), "failures during the failover are backend errors: {e:?}");
                failures += 1;
            }
        }
        assert!(killed.elapsed() < Duration::from_secs(30), "no write succeeded within 30 s of the master's death");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    println!("writes succeeded again {recovered:?} after the master was killed ({failures} calls failed meanwhile)");
    assert_eq!(backend.topology().master_address().map(|a| a.1), Some(topology.original_replica_port()));
    assert_eq!(cache.get::<u64>("during").await.unwrap(), Some(n));
    assert_eq!(cache.get::<String>("before").await.unwrap().as_deref(), Some("written to the first master"));
    assert_eq!(cache.inc("counter", 5).await.unwrap(), 5);
}

#[tokio::test]
async fn an_unknown_master_name_names_the_setting() {
    let mut config = Config::default();
    redis::sentinel().apply(&mut config);
    config.redis_sentinel_master = Some("no-such-master".into());
    let err = RedisSentinelCache::new(&config).unwrap().get("k").await.unwrap_err();
    assert!(matches!(&err, CacheError::Config { key, .. } if key == "CACHE_REDIS_SENTINEL_MASTER"), "{err:?}");
}

#[tokio::test]
async fn unreachable_sentinels_name_the_setting() {
    let ports = [cachette_conformance::harness::free_port(), cachette_conformance::harness::free_port()];
    let config =
        Config::from_map([("CACHE_REDIS_SENTINELS", format!("127.0.0.1:{},127.0.0.1:{}", ports[0], ports[1]))])
            .unwrap();
    let err = RedisSentinelCache::new(&config).unwrap().get("k").await.unwrap_err();
    assert!(matches!(&err, CacheError::Connection { .. }), "{err:?}");
    assert!(err.to_string().contains("CACHE_REDIS_SENTINELS"), "{err}");
}

#[test]
fn sentinels_are_required() {
    let err = RedisSentinelCache::new(&Config::default()).unwrap_err();
    assert!(matches!(&err, CacheError::Config { key, .. } if key == "CACHE_REDIS_SENTINELS"), "{err}");
}
