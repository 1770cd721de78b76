//! The suites and topics on memcached's binary protocol, and SASL, which exists only there.

on_protocol!("binary", auth);

cachette_conformance::conformance_suite!(
    sasl,
    Backend::new(|mut config: Config| async move {
        config.cache_type = "SASLMemcachedCache".to_owned();
        crate::build(PROTOCOL, memcached::sasl(), config)
    })
    .with_ttl_resolution(Duration::from_secs(1))
);
