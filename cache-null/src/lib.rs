//! [`NullCache`]: a cache that stores nothing.
//!
//! Every read misses and every write is accepted and dropped, so an application runs exactly as if
//! it had no cache — for tests, and to switch caching off with `CACHE_TYPE=NullCache` without
//! touching code. As in Flask-Caching, creating one logs a warning unless `CACHE_NO_NULL_WARNING`
//! is set, because a NullCache in production is usually a configuration mistake.
//!
//! Answers: `get` → `None`; `add` → `true` (the write "succeeded" and nothing else holds the key,
//! so code that uses `add` as a lock proceeds); `delete`/`touch` → `false`; `delete_many` → 0;
//! `inc`/`dec` → the delta applied to 0 (what a fresh counter would read).
//!
//! ```
//! use cachette_core::{BaseCache, Bytes, Config, Ttl};
//! use cachette_null::NullCache;
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let cache = NullCache::new(&Config::from_map([("CACHE_NO_NULL_WARNING", "true")])?);
//! cache.set("k", Bytes::from_static(b"v"), Ttl::Default).await?;
//! assert_eq!(cache.get("k").await?, None);
//! # Ok::<(), cachette_core::CacheError>(())
//! # }).unwrap();
//! ```

use std::sync::Arc;

use cachette_core::{BaseCache, Bytes, Config, Registry, Result, Ttl, async_trait};

/// The `CACHE_TYPE` name of this backend.
pub const TYPE_NAME: &str = "NullCache";

/// A cache that stores nothing. See the crate docs.
#[derive(Debug, Default, Clone, Copy)]
pub struct NullCache;

impl NullCache {
    /// A NullCache; warns once unless `CACHE_NO_NULL_WARNING` is set.
    pub fn new(config: &Config) -> NullCache {
        if !config.no_null_warning {
            tracing::warn!(
                "CACHE_TYPE=NullCache: nothing will be cached. Set CACHE_NO_NULL_WARNING=true if this is intended."
            );
        }
        NullCache
    }
}

/// Registers `NullCache` in `registry`.
pub fn register(registry: &mut Registry) -> Result<()> {
    registry.register(TYPE_NAME, |config: &Config| Ok(Arc::new(NullCache::new(config)) as Arc<dyn BaseCache>))
}

// `Cache::from_env()` finds this backend in every program this crate is linked into.
cachette_core::link_backend!(register);

#[async_trait]
impl BaseCache for NullCache {
    fn type_name(&self) -> &'static str {
        TYPE_NAME
    }

    fn is_shared(&self) -> bool {
        false
    }

    async fn get(&self, _key: &str) -> Result<Option<Bytes>> {
        Ok(None)
    }

    async fn get_many(&self, keys: &[&str]) -> Result<Vec<Option<Bytes>>> {
        Ok(vec![None; keys.len()])
    }

    async fn set(&self, _key: &str, _value: Bytes, _ttl: Ttl) -> Result<()> {
        Ok(())
    }

    async fn set_many(&self, _items: &[(&str, Bytes)], _ttl: Ttl) -> Result<()> {
        Ok(())
    }

    async fn add(&self, _key: &str, _value: Bytes, _ttl: Ttl) -> Result<bool> {
        Ok(true)
    }

    async fn delete(&self, _key: &str) -> Result<bool> {
        Ok(false)
    }

    async fn delete_many(&self, _keys: &[&str]) -> Result<u64> {
        Ok(0)
    }

    async fn inc(&self, _key: &str, delta: i64) -> Result<i64> {
        Ok(delta)
    }

    async fn touch(&self, _key: &str, _ttl: Ttl) -> Result<bool> {
        Ok(false)
    }

    async fn clear(&self) -> Result<()> {
        Ok(())
    }
}
