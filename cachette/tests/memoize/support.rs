//! A cache that records what is written to it, for tests that look at keys and lifetimes.

use std::sync::{Arc, Mutex};

use cachette::{BaseCache, Bytes, Cache, Config, Result, Ttl, async_trait};

/// A SimpleCache that records the key and lifetime of every `set` and `add`.
pub(crate) struct KeyLog {
    inner: Arc<dyn BaseCache>,
    writes: Mutex<Vec<(String, Ttl)>>,
}

impl KeyLog {
    /// A `Cache` with `config` over a logging SimpleCache, and the log.
    pub(crate) fn cache(config: Config) -> (Cache, Arc<KeyLog>) {
        let inner = Cache::from_config(Config::default()).unwrap().backend().clone();
        let log = Arc::new(KeyLog { inner, writes: Mutex::new(Vec::new()) });
        (Cache::new(log.clone(), config), log)
    }

    /// The keys written so far, in order.
    pub(crate) fn keys(&self) -> Vec<String> {
        self.writes.lock().unwrap().iter().map(|(key, _)| key.clone()).collect()
    }

    /// The lifetime of the last write of a key starting with `prefix`.
    pub(crate) fn ttl_of(&self, prefix: &str) -> Option<Ttl> {
        self.writes.lock().unwrap().iter().rev().find(|(key, _)| key.starts_with(prefix)).map(|(_, ttl)| *ttl)
    }

    fn record(&self, key: &str, ttl: Ttl) {
        self.writes.lock().unwrap().push((key.to_owned(), ttl));
    }
}

#[async_trait]
impl BaseCache for KeyLog {
    fn type_name(&self) -> &'static str {
        "KeyLog"
    }
    fn is_shared(&self) -> bool {
        self.inner.is_shared()
    }
    async fn get(&self, key: &str) -> Result<Option<Bytes>> {
        self.inner.get(key).await
    }
    async fn set(&self, key: &str, value: Bytes, ttl: Ttl) -> Result<()> {
        self.record(key, ttl);
        self.inner.set(key, value, ttl).await
    }
    async fn add(&self, key: &str, value: Bytes, ttl: Ttl) -> Result<bool> {
        self.record(key, ttl);
        self.inner.add(key, value, ttl).await
    }
    async fn delete(&self, key: &str) -> Result<bool> {
        self.inner.delete(key).await
    }
    async fn inc(&self, key: &str, delta: i64) -> Result<i64> {
        self.inner.inc(key, delta).await
    }
    async fn touch(&self, key: &str, ttl: Ttl) -> Result<bool> {
        self.inner.touch(key, ttl).await
    }
    async fn clear(&self) -> Result<()> {
        self.inner.clear().await
    }
}

/// A fresh in-process cache.
pub(crate) fn simple_cache() -> Cache {
    Cache::from_config(Config::default()).unwrap()
}
