//! MemcachedCache against real memcached processes: the conformance suite on one server, on two
//! servers, with SASL, over TLS (client certificates required) and on a unix socket (here), and what is specific to memcached (one module per topic). One
//! test binary, so that the suite and the topics link once.

mod auth;
mod counters_and_expiry;
mod namespace;
mod outage;
mod servers;
mod spread;
mod support;
mod tls;

use std::sync::Arc;
use std::time::Duration;

use cachette_conformance::Backend;
use cachette_conformance::harness::memcached::{self, MemcachedTarget};
use cachette_core::{BaseCache, Config, Ttl};
use cachette_memcached::MemcachedCache;

use crate::support::b;

fn build(target: MemcachedTarget, mut config: Config) -> cachette_core::Result<Arc<dyn BaseCache>> {
    target.apply(&mut config);
    Ok(Arc::new(MemcachedCache::new(&config)?) as Arc<dyn BaseCache>)
}

// memcached expires in whole seconds.
cachette_conformance::conformance_suite!(
    one_server,
    Backend::new(|config: Config| async move { build(memcached::single(), config) })
        .with_ttl_resolution(Duration::from_secs(1))
);

cachette_conformance::conformance_suite!(
    two_servers,
    Backend::new(|config: Config| async move { build(memcached::pair(), config) })
        .with_ttl_resolution(Duration::from_secs(1))
);

cachette_conformance::conformance_suite!(
    sasl,
    Backend::new(|mut config: Config| async move {
        config.cache_type = "SASLMemcachedCache".to_owned();
        build(memcached::sasl(), config)
    })
    .with_ttl_resolution(Duration::from_secs(1))
);

cachette_conformance::conformance_suite!(
    tls_server,
    Backend::new(|config: Config| async move { build(memcached::tls(), config) })
        .with_ttl_resolution(Duration::from_secs(1))
);

cachette_conformance::conformance_suite!(
    unix_socket,
    Backend::new(|config: Config| async move { build(memcached::unix_socket(), config) })
        .with_ttl_resolution(Duration::from_secs(1))
);

#[tokio::test]
async fn the_three_type_names_are_registered() {
    let mut registry = cachette_core::Registry::new();
    cachette_memcached::register(&mut registry).unwrap();
    let target = memcached::single();
    for name in ["MemcachedCache", "SASLMemcachedCache", "SpreadSASLMemcachedCache"] {
        let mut config = Config::from_map([("CACHE_TYPE", name)]).unwrap();
        target.apply(&mut config);
        if name == "SASLMemcachedCache" {
            config.memcached_username = Some("u".into());
            config.memcached_password = Some("p".into());
        }
        let backend = registry.build(&config).unwrap();
        assert_eq!(backend.type_name(), name);
    }
    let mut config = Config::from_map([("CACHE_TYPE", "MemcachedCache"), ("CACHE_OPTIONS", "spread=off")]).unwrap();
    target.apply(&mut config);
    let backend = registry.build(&config).unwrap();
    backend.set("k", b("v"), Ttl::Default).await.unwrap();
    let err = Config::from_map([("CACHE_TYPE", "SpreadSASLMemcachedCache"), ("CACHE_OPTIONS", "spread=no")])
        .and_then(|c| registry.build(&c))
        .unwrap_err();
    assert!(err.to_string().contains("CACHE_OPTIONS.spread"), "{err}");
}

#[test]
fn any_two_prefixes_are_disjoint_on_two_servers() {
    cachette_conformance::isolation::check("MemcachedCache", |prefix| {
        let mut config = Config::default();
        config.key_prefix = prefix.to_owned();
        build(memcached::pair(), config).unwrap()
    });
}
