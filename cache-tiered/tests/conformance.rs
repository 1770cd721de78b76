//! The conformance suite on TieredCache: over SimpleCache (no bus) and over a real Redis with
//! the invalidation bus on the same server.

use std::sync::Arc;
use std::time::{Duration, Instant};

use cachette_conformance::harness::redis;
use cachette_core::{BaseCache, Config};
use cachette_redis::RedisCache;
use cachette_simple::SimpleCache;
use cachette_tiered::TieredCache;

cachette_conformance::conformance_suite!(over_simple, |config: Config| async move {
    let l2 = Arc::new(SimpleCache::new(&config)?);
    Ok(Arc::new(TieredCache::new(l2, &config)?) as Arc<dyn BaseCache>)
});

cachette_conformance::conformance_suite!(over_redis_with_bus, |mut config: Config| async move {
    let target = redis::standalone();
    target.apply(&mut config);
    config.l1_bus_url = Some(target.url.clone());
    let cache = TieredCache::new(Arc::new(RedisCache::new(&config)?), &config)?;
    // The tier is bypassed until the bus has subscribed: wait, so that the cases exercise it.
    let start = Instant::now();
    while !cache.is_active() && start.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(cache.is_active(), "the invalidation bus did not subscribe within 5 s");
    Ok(Arc::new(cache) as Arc<dyn BaseCache>)
});
