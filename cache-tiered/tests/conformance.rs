//! The conformance suite on TieredCache over every backend the harness starts, each with the
//! channel it would use: SimpleCache and FileSystemCache without one (CACHE_L1_TIMEOUT bounds
//! staleness), RedisCache, RedisSentinelCache and RedisClusterCache with client tracking,
//! RedisCache and MemcachedCache with the invalidation bus; and the typed cases with each
//! serializer and compression over Redis with tracking. (UWSGICache is left out: its suite runs
//! one case at a time against a server of its own, with cases excluded by name; see its tests.)

use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use cachette_conformance::Backend;
use cachette_conformance::harness::{memcached, redis};
use cachette_core::{BaseCache, Config, Result};
use cachette_fs::FileSystemCache;
use cachette_memcached::MemcachedCache;
use cachette_redis::RedisCache;
use cachette_redis_cluster::RedisClusterCache;
use cachette_redis_sentinel::RedisSentinelCache;
use cachette_simple::SimpleCache;
use cachette_tiered::TieredCache;

/// The tier over `l2`, once it follows its channel (it is bypassed until then, and the cases
/// would not exercise it).
async fn tiered(l2: Arc<dyn BaseCache>, config: &Config) -> Result<Arc<dyn BaseCache>> {
    let cache = TieredCache::new(l2, config)?;
    let start = Instant::now();
    while !cache.is_active() && start.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(cache.is_active(), "the tier did not follow its channel within 10 s");
    Ok(Arc::new(cache))
}

/// One CACHE_DIR for the suite; each case's prefix is a subdirectory.
static DIR: LazyLock<tempfile::TempDir> = LazyLock::new(|| tempfile::tempdir().unwrap());

cachette_conformance::conformance_suite!(over_simple, |config: Config| async move {
    tiered(Arc::new(SimpleCache::new(&config)?), &config).await
});

cachette_conformance::conformance_suite!(over_filesystem, |mut config: Config| async move {
    config.dir = Some(DIR.path().to_owned());
    tiered(Arc::new(FileSystemCache::new(&config)?), &config).await
});

cachette_conformance::conformance_suite!(over_redis_with_tracking, |mut config: Config| async move {
    redis::standalone().apply(&mut config);
    tiered(Arc::new(RedisCache::new(&config)?), &config).await
});

cachette_conformance::conformance_suite!(over_redis_with_bus, |mut config: Config| async move {
    let target = redis::standalone();
    target.apply(&mut config);
    config.l1_bus_url = Some(target.url.clone());
    tiered(Arc::new(RedisCache::new(&config)?), &config).await
});

cachette_conformance::conformance_suite!(over_sentinel_with_tracking, |mut config: Config| async move {
    redis::sentinel().apply(&mut config);
    tiered(Arc::new(RedisSentinelCache::new(&config)?), &config).await
});

cachette_conformance::conformance_suite!(over_cluster_with_tracking, |mut config: Config| async move {
    redis::cluster().apply(&mut config);
    tiered(Arc::new(RedisClusterCache::new(&config)?), &config).await
});

// memcached expires in whole seconds.
cachette_conformance::conformance_suite!(
    over_memcached_with_bus,
    Backend::new(|mut config: Config| async move {
        memcached::single().apply(&mut config);
        config.l1_bus_url = Some(redis::standalone().url);
        tiered(Arc::new(MemcachedCache::new(&config)?), &config).await
    })
    .with_ttl_resolution(Duration::from_secs(1))
);

/// The tier over Redis with tracking, and the codec settings `settings`.
fn over_redis_with(settings: &'static [(&'static str, &'static str)]) -> impl cachette_conformance::BackendFactory {
    Backend::new(|mut config: Config| async move {
        redis::standalone().apply(&mut config);
        tiered(Arc::new(RedisCache::new(&config)?), &config).await
    })
    .with_settings(settings)
}

cachette_conformance::typed_cases!(json_over_redis, over_redis_with(&[("CACHE_SERIALIZER", "json")]));
cachette_conformance::typed_cases!(
    json_zstd_over_redis,
    over_redis_with(&[
        ("CACHE_SERIALIZER", "json"),
        ("CACHE_COMPRESSION", "zstd"),
        ("CACHE_COMPRESSION_MIN_SIZE", "0")
    ])
);
cachette_conformance::typed_cases!(
    postcard_zstd_over_redis,
    over_redis_with(&[("CACHE_COMPRESSION", "zstd"), ("CACHE_COMPRESSION_MIN_SIZE", "0")])
);
