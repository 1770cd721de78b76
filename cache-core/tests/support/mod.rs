//! Backends shared by the observability tests: a real SimpleCache, and one that is down.

#![allow(dead_code, unreachable_pub)]

use std::sync::Arc;

use cachette_core::{BaseCache, Bytes, Cache, CacheError, Config, Result, Ttl, async_trait};
use cachette_simple::SimpleCache;

/// A cache over a real SimpleCache with `settings` (CACHE_* keys).
pub fn simple(settings: &[(&str, &str)]) -> Cache {
    let config = Config::from_map(settings.iter().copied()).unwrap();
    Cache::new(Arc::new(SimpleCache::new(&config).unwrap()), config)
}

/// A backend whose every call fails as a refused connection does.
pub struct Down;

fn refused<T>() -> Result<T> {
    Err(CacheError::Connection {
        backend: "Down",
        target: "127.0.0.1:1".into(),
        message: "connection refused".into(),
        source: None,
    })
}

#[async_trait]
impl BaseCache for Down {
    fn type_name(&self) -> &'static str {
        "Down"
    }
    async fn get(&self, _: &str) -> Result<Option<Bytes>> {
        refused()
    }
    async fn set(&self, _: &str, _: Bytes, _: Ttl) -> Result<()> {
        refused()
    }
    async fn add(&self, _: &str, _: Bytes, _: Ttl) -> Result<bool> {
        refused()
    }
    async fn delete(&self, _: &str) -> Result<bool> {
        refused()
    }
    async fn inc(&self, _: &str, _: i64) -> Result<i64> {
        refused()
    }
    async fn touch(&self, _: &str, _: Ttl) -> Result<bool> {
        refused()
    }
    async fn clear(&self) -> Result<()> {
        refused()
    }
}

/// A cache over [`Down`] with `settings`.
pub fn down(settings: &[(&str, &str)]) -> Cache {
    Cache::new(Arc::new(Down), Config::from_map(settings.iter().copied()).unwrap())
}
