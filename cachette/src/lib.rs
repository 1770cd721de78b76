//! # cachette
//!
//! Caching for Rust web services: one async cache API over backends chosen by configuration —
//! what Flask-Caching gives a Flask app, for tokio.
//!
//! ```
//! use std::time::Duration;
//! use cachette::{Cache, Config, Ttl};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! // In an application: `Cache::from_env()?` reads CACHE_TYPE, CACHE_DEFAULT_TIMEOUT, ...
//! let cache = Cache::from_config(Config::from_map([("CACHE_TYPE", "SimpleCache")])?)?;
//!
//! cache.set("greeting", "hello", Ttl::Default).await?;
//! assert_eq!(cache.get::<String>("greeting").await?.as_deref(), Some("hello"));
//!
//! cache.set("visits", &5, Ttl::Never).await?;
//! assert_eq!(cache.inc("visits", 1).await?, 6);
//!
//! let report: String = cache
//!     .get_or_set("report", Ttl::After(Duration::from_secs(60)), || async {
//!         Ok::<_, std::io::Error>("expensive".to_string())
//!     })
//!     .await?;
//! assert_eq!(report, "expensive");
//! # Ok::<(), cachette::CacheError>(())
//! # }).unwrap();
//! ```
//!
//! Backends are compiled in by cargo features (`simple` and `null` by default) and selected with
//! `CACHE_TYPE`. A backend of your own implements [`BaseCache`] and is registered by name in a
//! [`Registry`] (start from [`default_registry`]), then passes the `cachette-conformance` suite.
#![warn(missing_docs)]

use std::ops::Deref;
use std::sync::Arc;

pub use cachette_core::{
    BaseCache, BoxError, Bytes, CacheError, CacheStats, Config, ConfigValue, DEFAULT_TIMEOUT, Expiry, Factory,
    Memoized, Options, Registry, Result, SingleFlight, Ttl, async_trait, codec, config,
};

pub use cachette_macros::memoize;

#[doc(hidden)]
pub mod __macro_support {
    pub use cachette_core::{Cache, Memoized};
}

/// The backends compiled into this build (one cargo feature each), for building one by hand.
pub mod backends {
    #[cfg(feature = "filesystem")]
    pub use cachette_fs::FileSystemCache;
    #[cfg(feature = "memcached")]
    pub use cachette_memcached::MemcachedCache;
    #[cfg(feature = "null")]
    pub use cachette_null::NullCache;
    #[cfg(feature = "redis")]
    pub use cachette_redis::RedisCache;
    #[cfg(feature = "redis-cluster")]
    pub use cachette_redis_cluster::RedisClusterCache;
    #[cfg(feature = "redis-sentinel")]
    pub use cachette_redis_sentinel::RedisSentinelCache;
    #[cfg(feature = "simple")]
    pub use cachette_simple::SimpleCache;
}

/// A registry holding every backend enabled by this crate's cargo features. Add your own backends
/// to it with [`Registry::register`].
pub fn default_registry() -> Registry {
    let mut registry = Registry::new();
    // Each registration adds distinct built-in names to a fresh registry, so none can fail.
    let mut add = |register: fn(&mut Registry) -> Result<()>| {
        register(&mut registry).expect("built-in backend names are distinct");
    };
    #[cfg(feature = "null")]
    add(cachette_null::register);
    #[cfg(feature = "simple")]
    add(cachette_simple::register);
    #[cfg(feature = "filesystem")]
    add(cachette_fs::register);
    #[cfg(feature = "redis")]
    add(cachette_redis::register);
    #[cfg(feature = "redis-sentinel")]
    add(cachette_redis_sentinel::register);
    #[cfg(feature = "redis-cluster")]
    add(cachette_redis_cluster::register);
    #[cfg(feature = "memcached")]
    add(cachette_memcached::register);
    let _ = &mut add;
    registry
}

/// The cache an application uses: [`cachette_core::Cache`] (typed get/set, `get_or_set`,
/// memoization, counters — all reachable through `Deref`) plus constructors that build the
/// configured backend from [`default_registry`].
///
/// ```
/// # fn main() -> cachette::Result<()> {
/// // Reads CACHE_* variables; with none set, an in-process SimpleCache with a 300 s default.
/// let cache = cachette::Cache::from_env()?;
/// assert_eq!(cache.backend().type_name(), "SimpleCache");
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Cache(cachette_core::Cache);

impl Cache {
    /// The backend configured by `CACHE_*` environment variables (see [`Config::from_env`]).
    pub fn from_env() -> Result<Cache> {
        Cache::from_config(Config::from_env()?)
    }

    /// The backend `config` names, from [`default_registry`].
    pub fn from_config(config: Config) -> Result<Cache> {
        Cache::from_config_with(&default_registry(), config)
    }

    /// The backend `config` names, from `registry` (for backends of your own).
    pub fn from_config_with(registry: &Registry, config: Config) -> Result<Cache> {
        cachette_core::Cache::from_config_with(registry, config).map(Cache)
    }

    /// A cache over a backend built by hand.
    pub fn new(backend: Arc<dyn BaseCache>, config: Config) -> Cache {
        Cache(cachette_core::Cache::new(backend, config))
    }

    /// The underlying [`cachette_core::Cache`] (what cachette-http and other crates take).
    pub fn into_inner(self) -> cachette_core::Cache {
        self.0
    }
}

impl Deref for Cache {
    type Target = cachette_core::Cache;

    fn deref(&self) -> &cachette_core::Cache {
        &self.0
    }
}

impl From<Cache> for cachette_core::Cache {
    fn from(cache: Cache) -> cachette_core::Cache {
        cache.0
    }
}

impl From<cachette_core::Cache> for Cache {
    fn from(cache: cachette_core::Cache) -> Cache {
        Cache(cache)
    }
}
