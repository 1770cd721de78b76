//! Client tracking through Sentinel: the change feed cases on the master (through plain and TLS
//! sentinels), and the feed following a failover to the promoted replica.

use std::sync::Arc;
use std::time::Duration;

use cachette_conformance::change_feed::{following, follows_again, wait_for};
use cachette_conformance::harness::redis::{self as harness, SentinelTopology};
use cachette_core::change_feed::Change;
use cachette_core::{BaseCache, Bytes, Config, Ttl};
use cachette_redis_sentinel::RedisSentinelCache;

cachette_conformance::change_feed_suite!(sentinel, |mut config: Config| async move {
    harness::sentinel().apply(&mut config);
    Ok(Arc::new(RedisSentinelCache::new(&config)?) as Arc<dyn BaseCache>)
});

// The tracking connection over TLS, to a master found through TLS sentinels.
cachette_conformance::change_feed_suite!(tls_sentinels, |mut config: Config| async move {
    harness::sentinel_tls().apply(&mut config);
    Ok(Arc::new(RedisSentinelCache::new(&config)?) as Arc<dyn BaseCache>)
});

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_feed_follows_a_failover_to_the_promoted_replica() {
    let mut topology = SentinelTopology::start();
    let mut config = Config::from_map([("CACHE_KEY_PREFIX", "failover:")]).unwrap();
    topology.target().apply(&mut config);
    let cache = RedisSentinelCache::new(&config).unwrap();
    let mut feed = following(&cache).await;
    topology.kill_master();
    wait_for(&mut feed, &Change::Lost).await;
    topology.wait_for_failover(Duration::from_secs(30));
    let writer = RedisSentinelCache::new(&config).unwrap();
    follows_again(&mut feed, "k", async {
        writer.set("k", Bytes::from_static(b"on the new master"), Ttl::Default).await.unwrap();
    })
    .await;
}
