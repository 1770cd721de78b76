//! The function names in keys: the default path (with the type, for methods), `name = ".."`,
//! and `CACHE_SOURCE_CHECK`.

use cachette::{Cache, Config};

use crate::support::KeyLog;

struct Catalog {
    cache: Cache,
}

impl Catalog {
    #[cachette::memoize(cache = self.cache, instance = "catalog")]
    async fn profile(&self, id: u64) -> String {
        format!("item {id}")
    }

    #[cachette::memoize(cache = self.cache, instance = "catalog", name = "catalog-price")]
    async fn price(&self, id: u64) -> u64 {
        id * 3
    }
}

#[tokio::test]
async fn default_names_are_the_path_of_the_method_with_its_type() {
    let (cache, log) = KeyLog::cache(Config::default());
    Catalog { cache }.profile(1).await.unwrap();
    let keys = log.keys();
    assert!(keys.contains(&"memoize-version:memoize::names::Catalog::profile".to_string()), "{keys:?}");
    assert!(keys.iter().any(|k| k.starts_with("memoize:memoize::names::Catalog::profile:")), "{keys:?}");
}

#[tokio::test]
async fn an_explicit_name_replaces_the_path() {
    let (cache, log) = KeyLog::cache(Config::default());
    Catalog { cache }.price(1).await.unwrap();
    let keys = log.keys();
    assert!(
        keys.iter().all(|k| k.starts_with("memoize-version:catalog-price") || k.starts_with("memoize:catalog-price:"))
    );
    assert_eq!(keys.len(), 2, "{keys:?}");
}

#[tokio::test]
async fn source_check_puts_the_source_hash_in_the_function_name() {
    let config = Config::from_map([("CACHE_SOURCE_CHECK", "true")]).unwrap();
    let (cache, log) = KeyLog::cache(config);
    Catalog { cache }.profile(1).await.unwrap();
    assert!(log.keys().iter().all(|k| k.contains("::profile#")), "{:?}", log.keys());
    let (plain_cache, plain) = KeyLog::cache(Config::default());
    Catalog { cache: plain_cache }.profile(1).await.unwrap();
    assert!(!plain.keys().iter().any(|k| k.contains('#')), "{:?}", plain.keys());
}
