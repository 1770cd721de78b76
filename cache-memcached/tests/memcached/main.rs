//! MemcachedCache against real memcached processes, on both protocols it speaks: the conformance
//! suite on one server, on two servers, over TLS (client certificates required) and on a unix
//! socket, and what is specific to memcached (one module per topic), each run once on the meta
//! protocol (module `meta`) and once on the binary protocol (module `binary`); SASL, which
//! exists only on the binary protocol, in `binary` alone. One test binary, so that the suite and
//! the topics link once.

// The topic files are modules of `meta` and of `binary`: once per protocol, on purpose.
#![allow(clippy::duplicate_mod)]

mod protocols;
mod support;

use std::sync::Arc;

use cachette_conformance::harness::memcached::{self, MemcachedTarget};
use cachette_core::{BaseCache, Config, Ttl};
use cachette_memcached::MemcachedCache;

use crate::support::b;

/// A cache on `target` for the conformance suite, on `protocol`.
fn build(protocol: &str, target: MemcachedTarget, mut config: Config) -> cachette_core::Result<Arc<dyn BaseCache>> {
    target.apply(&mut config);
    support::choose(protocol, &mut config);
    Ok(Arc::new(MemcachedCache::new(&config)?) as Arc<dyn BaseCache>)
}

/// The suites and the topic modules, on one protocol: `PROTOCOL` is the `CACHE_OPTIONS.protocol`
/// of every cache they build (through `build` and the module's `support`).
macro_rules! on_protocol {
    ($protocol:literal $(, $binary_only:ident)* $(,)?) => {
        /// `CACHE_OPTIONS.protocol` of every cache in this module.
        pub(crate) const PROTOCOL: &str = $protocol;

        /// The helpers of `crate::support`, with this module's protocol.
        pub(crate) mod support {
            pub(crate) use crate::support::{MIB, ascii, b, big, dump, unique_prefix, unix_now};
            use cachette_conformance::harness::memcached::MemcachedTarget;
            use cachette_core::Config;
            use cachette_memcached::MemcachedCache;

            pub(crate) fn config(target: &MemcachedTarget, prefix: &str, options: &str) -> Config {
                let mut config = crate::support::config(target, prefix, options);
                crate::support::choose(super::PROTOCOL, &mut config);
                config
            }

            pub(crate) fn cache(target: &MemcachedTarget, prefix: &str, options: &str) -> MemcachedCache {
                MemcachedCache::new(&config(target, prefix, options)).unwrap()
            }
        }

        #[path = "counters_and_expiry.rs"]
        mod counters_and_expiry;
        #[path = "namespace.rs"]
        mod namespace;
        #[path = "outage.rs"]
        mod outage;
        #[path = "servers.rs"]
        mod servers;
        #[path = "spread.rs"]
        mod spread;
        #[path = "tls.rs"]
        mod tls;
        $(
            #[path = "auth.rs"]
            mod $binary_only;
        )*

        use cachette_conformance::Backend;
        use cachette_conformance::harness::memcached;
        use cachette_core::Config;
        use std::time::Duration;

        // memcached expires in whole seconds.
        cachette_conformance::conformance_suite!(
            one_server,
            Backend::new(|config: Config| async move { crate::build(PROTOCOL, memcached::single(), config) })
                .with_ttl_resolution(Duration::from_secs(1))
        );

        cachette_conformance::conformance_suite!(
            two_servers,
            Backend::new(|config: Config| async move { crate::build(PROTOCOL, memcached::pair(), config) })
                .with_ttl_resolution(Duration::from_secs(1))
        );

        cachette_conformance::conformance_suite!(
            tls_server,
            Backend::new(|config: Config| async move { crate::build(PROTOCOL, memcached::tls(), config) })
                .with_ttl_resolution(Duration::from_secs(1))
        );

        cachette_conformance::conformance_suite!(
            unix_socket,
            Backend::new(|config: Config| async move { crate::build(PROTOCOL, memcached::unix_socket(), config) })
                .with_ttl_resolution(Duration::from_secs(1))
        );
    };
}

/// memcached's current protocol, the default.
mod meta;

/// The binary protocol, and SASL on it.
mod binary;

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
        build("meta", memcached::pair(), config).unwrap()
    });
}
