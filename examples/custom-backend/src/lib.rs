//! A cache backend of your own, in full: `MapCache`, a `HashMap` behind a mutex with per-entry
//! expiry, registered under the name `"MapCache"` and passing cachette's conformance suite
//! (`tests/conformance.rs`, one macro call).
//!
//! The steps for any backend:
//! 1. implement [`BaseCache`] — `get`, `set`, `add`, `delete`, `inc`, `touch`, `clear` are required;
//!    the batch operations have default implementations you may override;
//! 2. give it a constructor from [`Config`] that checks its settings and never blocks (connect
//!    lazily if it talks to a server);
//! 3. register a factory under your name in a [`Registry`] (start from
//!    `cachette::default_registry()` to keep the built-in backends);
//! 4. run `cachette_conformance::conformance_suite!` against it in your CI.
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let mut registry = cachette::default_registry();
//! cachette_example_custom_backend::register(&mut registry)?;
//! let config = cachette::Config::from_map([("CACHE_TYPE", "MapCache")])?;
//! let cache = cachette::Cache::from_config_with(&registry, config)?;
//! cache.set("answer", &42, cachette::Ttl::Default).await?;
//! assert_eq!(cache.get::<u32>("answer").await?, Some(42));
//! # Ok::<(), cachette::CacheError>(())
//! # }).unwrap();
//! ```

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use cachette::codec::{checked_counter_add, encode_counter, parse_counter};
use cachette::{BaseCache, Bytes, Config, Expiry, Registry, Result, Ttl, async_trait};

/// The name this backend is registered under (what `CACHE_TYPE` selects).
pub const TYPE_NAME: &str = "MapCache";

/// An in-process cache: a `HashMap` behind a mutex, each entry with its own deadline. Expired
/// entries are dropped when they are next touched; `CACHE_THRESHOLD` is not enforced (a real
/// backend would; cachette's SimpleCache does, on moka).
pub struct MapCache {
    entries: Mutex<HashMap<String, Entry>>,
    default_ttl: Expiry,
}

struct Entry {
    value: Bytes,
    expires_at: Option<Instant>,
}

impl Entry {
    fn is_live(&self, now: Instant) -> bool {
        self.expires_at.is_none_or(|deadline| deadline > now)
    }
}

impl MapCache {
    /// A MapCache with `config`'s default timeout. It has no options: any `CACHE_OPTIONS` is an
    /// error that names the option.
    pub fn new(config: &Config) -> Result<MapCache> {
        config.options.reject_unknown(TYPE_NAME, &[])?;
        Ok(MapCache { entries: Mutex::new(HashMap::new()), default_ttl: config.default_timeout })
    }

    fn entries(&self) -> MutexGuard<'_, HashMap<String, Entry>> {
        // Every operation leaves the map consistent, so a panic elsewhere cannot corrupt it.
        self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// `Some(deadline)` for a ttl (`Some(None)`: never), `None` if it is already over.
    fn deadline(&self, ttl: Ttl) -> Option<Option<Instant>> {
        ttl.resolve(self.default_ttl).instant_deadline()
    }

    /// The live entry under `key`, dropping it if it has expired.
    fn live<'a>(map: &'a mut HashMap<String, Entry>, key: &str) -> Option<&'a mut Entry> {
        let now = Instant::now();
        if map.get(key).is_some_and(|e| !e.is_live(now)) {
            map.remove(key);
        }
        map.get_mut(key)
    }
}

/// Registers `MapCache` in `registry`.
pub fn register(registry: &mut Registry) -> Result<()> {
    registry.register(TYPE_NAME, |config: &Config| Ok(Arc::new(MapCache::new(config)?) as Arc<dyn BaseCache>))
}

// Every method holds the mutex for one short, non-async step, which makes add/inc/touch atomic.
#[async_trait]
impl BaseCache for MapCache {
    fn type_name(&self) -> &'static str {
        TYPE_NAME
    }

    async fn get(&self, key: &str) -> Result<Option<Bytes>> {
        Ok(Self::live(&mut self.entries(), key).map(|e| e.value.clone()))
    }

    async fn set(&self, key: &str, value: Bytes, ttl: Ttl) -> Result<()> {
        let mut map = self.entries();
        match self.deadline(ttl) {
            Some(expires_at) => map.insert(key.to_owned(), Entry { value, expires_at }),
            None => map.remove(key),
        };
        Ok(())
    }

    async fn add(&self, key: &str, value: Bytes, ttl: Ttl) -> Result<bool> {
        let mut map = self.entries();
        if Self::live(&mut map, key).is_some() {
            return Ok(false);
        }
        if let Some(expires_at) = self.deadline(ttl) {
            map.insert(key.to_owned(), Entry { value, expires_at });
        }
        Ok(true)
    }

    async fn delete(&self, key: &str) -> Result<bool> {
        let mut map = self.entries();
        let live = Self::live(&mut map, key).is_some();
        map.remove(key);
        Ok(live)
    }

    async fn inc(&self, key: &str, delta: i64) -> Result<i64> {
        let mut map = self.entries();
        match Self::live(&mut map, key) {
            Some(entry) => {
                let next = checked_counter_add(key, parse_counter(key, &entry.value)?, delta)?;
                entry.value = encode_counter(next); // the deadline stays: inc keeps a key's expiry
                Ok(next)
            }
            None => {
                map.insert(key.to_owned(), Entry { value: encode_counter(delta), expires_at: None });
                Ok(delta)
            }
        }
    }

    async fn touch(&self, key: &str, ttl: Ttl) -> Result<bool> {
        let deadline = self.deadline(ttl);
        let mut map = self.entries();
        match (Self::live(&mut map, key), deadline) {
            (None, _) => Ok(false),
            (Some(entry), Some(expires_at)) => {
                entry.expires_at = expires_at;
                Ok(true)
            }
            (Some(_), None) => {
                map.remove(key);
                Ok(true)
            }
        }
    }

    async fn clear(&self) -> Result<()> {
        // Each MapCache is its own store, so clearing it cannot touch another prefix's keys.
        self.entries().clear();
        Ok(())
    }
}
