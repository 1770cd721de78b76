//! The typed cases on SimpleCache with each CACHE_SERIALIZER and with compression (the whole
//! suite runs with the defaults in cache-simple's tests).

use std::sync::Arc;

use cachette_conformance::{Backend, BackendFactory, STORING_CASES, TYPED_CASES, UNIVERSAL_CASES};
use cachette_core::{BaseCache, Config};
use cachette_simple::SimpleCache;

/// SimpleCache with the codec settings `settings`.
fn simple(settings: &'static [(&'static str, &'static str)]) -> impl BackendFactory {
    Backend::new(|config: Config| async move { Ok(Arc::new(SimpleCache::new(&config)?) as Arc<dyn BaseCache>) })
        .with_settings(settings)
}

cachette_conformance::typed_cases!(json, simple(&[("CACHE_SERIALIZER", "json")]));
cachette_conformance::typed_cases!(
    json_zstd,
    simple(&[("CACHE_SERIALIZER", "json"), ("CACHE_COMPRESSION", "zstd"), ("CACHE_COMPRESSION_MIN_SIZE", "0")])
);
cachette_conformance::typed_cases!(
    postcard_zstd,
    simple(&[("CACHE_COMPRESSION", "zstd"), ("CACHE_COMPRESSION_MIN_SIZE", "0")])
);

#[test]
fn every_typed_case_is_a_case_of_the_suite() {
    for case in TYPED_CASES {
        assert!(UNIVERSAL_CASES.contains(case) || STORING_CASES.contains(case), "{case} is not in the suite");
    }
}

#[test]
fn the_adjusted_config_reaches_the_typed_facade() {
    let factory = simple(&[("CACHE_SERIALIZER", "json")]);
    cachette_conformance::run_case(factory, "the_adjusted_config_reaches_the_typed_facade", |ctx| async move {
        let cache = ctx.typed().await;
        cache.set("list", &vec!["a", "b"], cachette_core::Ttl::Default).await.unwrap();
        let raw = cache.get_bytes("list").await.unwrap().unwrap();
        assert_eq!(&raw[..], br#"["a","b"]"#);
    });
}
