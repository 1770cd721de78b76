//! The `Cache` facade through the `cachette` crate: construction from configuration, the error
//! policy (CACHE_IGNORE_ERRORS) and counters. The `#[memoize]` attribute is in `tests/memoize/`.

use std::sync::Arc;
use std::time::Duration;

use cachette::{BaseCache, Bytes, Cache, CacheError, Config, Expiry, Registry, Result, Ttl, async_trait};

/// A backend whose server is always unreachable: every operation fails as a real client would.
struct UnreachableCache;

fn unreachable() -> CacheError {
    CacheError::Connection {
        backend: "UnreachableCache",
        target: "127.0.0.1:1".into(),
        message: "connection refused".into(),
        source: None,
    }
}

#[async_trait]
impl BaseCache for UnreachableCache {
    fn type_name(&self) -> &'static str {
        "UnreachableCache"
    }
    async fn get(&self, _: &str) -> Result<Option<Bytes>> {
        Err(unreachable())
    }
    async fn get_many(&self, _: &[&str]) -> Result<Vec<Option<Bytes>>> {
        Err(unreachable())
    }
    async fn set(&self, _: &str, _: Bytes, _: Ttl) -> Result<()> {
        Err(unreachable())
    }
    async fn add(&self, _: &str, _: Bytes, _: Ttl) -> Result<bool> {
        Err(unreachable())
    }
    async fn delete(&self, _: &str) -> Result<bool> {
        Err(unreachable())
    }
    async fn inc(&self, _: &str, _: i64) -> Result<i64> {
        Err(unreachable())
    }
    async fn touch(&self, _: &str, _: Ttl) -> Result<bool> {
        Err(unreachable())
    }
    async fn clear(&self) -> Result<()> {
        Err(unreachable())
    }
}

fn unreachable_cache(ignore_errors: bool) -> Cache {
    let mut config = Config::default();
    config.ignore_errors = ignore_errors;
    Cache::new(Arc::new(UnreachableCache), config)
}

#[tokio::test]
async fn from_config_builds_the_named_backend() {
    let cache = Cache::from_config(Config::from_map([("CACHE_TYPE", "simple")]).unwrap()).unwrap();
    assert_eq!(cache.backend().type_name(), "SimpleCache");
    let cache =
        Cache::from_config(Config::from_map([("CACHE_TYPE", "NullCache"), ("CACHE_NO_NULL_WARNING", "1")]).unwrap())
            .unwrap();
    assert_eq!(cache.backend().type_name(), "NullCache");
}

#[tokio::test]
async fn from_env_defaults_to_simple_cache() {
    let config = Config::from_env_vars(Vec::new()).unwrap();
    let cache = Cache::from_config(config).unwrap();
    assert_eq!(cache.backend().type_name(), "SimpleCache");
    assert_eq!(cache.config().default_timeout, Expiry::After(Duration::from_secs(300)));
}

#[test]
fn unknown_cache_type_names_the_nearest() {
    let err = Cache::from_config(Config::from_map([("CACHE_TYPE", "SimpleCahce")]).unwrap()).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("CACHE_TYPE") && text.contains("SimpleCahce") && text.contains("Did you mean SimpleCache?"),
        "{text}"
    );
}

#[test]
fn a_builtin_that_is_not_registered_names_its_feature() {
    let err = Registry::new().build(&Config::from_map([("CACHE_TYPE", "RedisCache")]).unwrap()).unwrap_err();
    assert!(err.to_string().contains("enable the \"redis\" feature"), "{err}");
}

#[tokio::test]
async fn users_register_their_own_backend_next_to_the_builtins() {
    let mut registry = cachette::default_registry();
    registry.register("AlwaysDown", |_: &Config| Ok(Arc::new(UnreachableCache) as Arc<dyn BaseCache>)).unwrap();
    assert!(
        registry.register("SimpleCache", |_: &Config| Ok(Arc::new(UnreachableCache) as Arc<dyn BaseCache>)).is_err()
    );
    assert!(registry.register("simple", |_: &Config| Ok(Arc::new(UnreachableCache) as Arc<dyn BaseCache>)).is_err());
    let cache = Cache::from_config_with(&registry, Config::from_map([("CACHE_TYPE", "AlwaysDown")]).unwrap()).unwrap();
    assert_eq!(cache.backend().type_name(), "UnreachableCache");
}

#[tokio::test]
async fn backend_failures_are_errors_by_default_but_never_fail_a_load() {
    let cache = unreachable_cache(false);
    assert!(matches!(cache.get::<String>("k").await, Err(CacheError::Connection { .. })));
    assert!(cache.set("k", "v", Ttl::Default).await.is_err());
    assert!(cache.add("k", "v", Ttl::Default).await.is_err());
    // A computed value does not depend on the cache: the outage is counted, the loader's value
    // returned (the read, the lease and the write all failed).
    let loaded = cache.get_or_set("k", Ttl::Default, || async { Ok::<_, std::io::Error>(1u8) }).await;
    assert_eq!(loaded.unwrap(), 1);
    assert_eq!(cache.stats().errors, 6);
}

#[tokio::test]
async fn ignore_errors_turns_backend_failures_into_misses() {
    let cache = unreachable_cache(true);
    assert_eq!(cache.get::<String>("k").await.unwrap(), None);
    assert_eq!(cache.get_many::<String>(&["a", "b"]).await.unwrap(), vec![None, None]);
    cache.set("k", "v", Ttl::Default).await.unwrap();
    assert!(!cache.add("k", "v", Ttl::Default).await.unwrap());
    assert!(!cache.delete("k").await.unwrap());
    assert!(!cache.touch("k", Ttl::Never).await.unwrap());
    assert!(!cache.has("k").await.unwrap());
    cache.clear().await.unwrap();
    // There is no value to make up for a counter: inc still reports the failure.
    assert!(cache.inc("n", 1).await.is_err());
    // The site keeps working: loaders run and their values are returned.
    let v = cache.get_or_set("k", Ttl::Default, || async { Ok::<_, std::io::Error>(42u32) }).await.unwrap();
    assert_eq!(v, 42);
    let stats = cache.stats();
    assert!(stats.errors >= 10, "{stats:?}");
    assert_eq!(stats.hits, 0);
}

#[tokio::test]
async fn ignore_errors_turns_undecodable_values_into_misses() {
    let mut config = Config::default();
    config.ignore_errors = true;
    let cache = Cache::from_config(config).unwrap();
    cache.set("k", "text", Ttl::Default).await.unwrap();
    assert_eq!(cache.get::<u64>("k").await.unwrap(), None);
    // get_or_set replaces the entry that no longer decodes (e.g. after a struct changed in a deploy).
    let v = cache.get_or_set("k", Ttl::Default, || async { Ok::<_, std::io::Error>(9u64) }).await.unwrap();
    assert_eq!(v, 9);
    assert_eq!(cache.get::<u64>("k").await.unwrap(), Some(9));
}

#[tokio::test]
async fn counters_count_hits_misses_and_loads() {
    let cache = Cache::from_config(Config::default()).unwrap();
    cache.set("a", &1, Ttl::Default).await.unwrap();
    cache.get::<i32>("a").await.unwrap();
    cache.get::<i32>("b").await.unwrap();
    cache.get_many::<i32>(&["a", "b", "c"]).await.unwrap();
    cache.get_or_set("d", Ttl::Default, || async { Ok::<_, std::io::Error>(1) }).await.unwrap();
    let s = cache.stats();
    assert_eq!((s.hits, s.misses, s.loads, s.errors), (2, 4, 1, 0));
    assert!((s.hit_ratio() - 2.0 / 6.0).abs() < 1e-9);
}

#[test]
fn cache_l1_without_the_tier_compiled_in_names_the_feature() {
    let mut registry = Registry::new();
    registry.register("AlwaysDown", |_: &Config| Ok(Arc::new(UnreachableCache) as Arc<dyn BaseCache>)).unwrap();
    let config = Config::from_map([("CACHE_TYPE", "AlwaysDown"), ("CACHE_L1", "true")]).unwrap();
    let err = registry.build(&config).unwrap_err().to_string();
    assert!(err.contains("CACHE_L1") && err.contains("\"tiered\" feature"), "{err}");
}

#[cfg(feature = "tiered")]
#[tokio::test]
async fn cache_l1_puts_the_tier_in_front_of_the_configured_backend() {
    let config = Config::from_map([("CACHE_TYPE", "SimpleCache"), ("CACHE_L1", "true")]).unwrap();
    let cache = Cache::from_config(config).unwrap();
    assert_eq!(cache.backend().type_name(), "TieredCache");
    cache.set("k", "v", Ttl::Default).await.unwrap();
    assert_eq!(cache.get::<String>("k").await.unwrap().as_deref(), Some("v"));
    let plain = Cache::from_config(Config::from_map([("CACHE_TYPE", "SimpleCache")]).unwrap()).unwrap();
    assert_eq!(plain.backend().type_name(), "SimpleCache");
}
