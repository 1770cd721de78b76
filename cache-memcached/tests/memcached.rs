//! MemcachedCache against real memcached processes: the conformance suite on one server, on two
//! servers and with SASL, and what is specific to memcached.

use std::sync::Arc;
use std::time::{Duration, Instant};

use cache_core::{BaseCache, Bytes, Cache, CacheError, Config, Ttl};
use cache_memcached::MemcachedCache;
use conformance_tests::Backend;
use conformance_tests::harness::memcached::{self, MemcachedOptions, MemcachedServer, MemcachedTarget};

fn build(target: MemcachedTarget, mut config: Config) -> cache_core::Result<Arc<dyn BaseCache>> {
    target.apply(&mut config);
    Ok(Arc::new(MemcachedCache::new(&config)?) as Arc<dyn BaseCache>)
}

// memcached expires in whole seconds.
conformance_tests::conformance_suite!(
    one_server,
    Backend::new(|config: Config| async move { build(memcached::single(), config) })
        .with_ttl_resolution(Duration::from_secs(1))
);

conformance_tests::conformance_suite!(
    two_servers,
    Backend::new(|config: Config| async move { build(memcached::pair(), config) })
        .with_ttl_resolution(Duration::from_secs(1))
);

conformance_tests::conformance_suite!(
    sasl,
    Backend::new(|mut config: Config| async move {
        config.cache_type = "SASLMemcachedCache".to_owned();
        build(memcached::sasl(), config)
    })
    .with_ttl_resolution(Duration::from_secs(1))
);
