//! # cachette
//!
//! Caching for Rust web services: one async cache API over backends chosen by configuration —
//! what Flask-Caching gives a Flask app, for tokio — with typed values, memoized functions,
//! single-flight loading and cached HTTP views for axum and tower.
//!
//! * [Quick start](#quick-start)
//! * [Choosing a backend](#choosing-a-backend)
//! * [Cached HTTP views](#cached-http-views)
//! * [Template fragments](#template-fragments)
//! * [A backend of your own](#a-backend-of-your-own)
//! * [Cargo features](#cargo-features)
//!
//! ## Quick start
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
//! ## Choosing a backend
//!
//! Backends are compiled in by cargo features (`simple` and `null` by default; `full` for all)
//! and selected at run time with `CACHE_TYPE` and the other `CACHE_*` settings ([`Config`]).
//! [`Cache::from_env`] and [`Cache::from_config`] build the configured one; the types themselves
//! are in [`backends`] for building one by hand.
//!
//! ```
//! # fn main() -> cachette::Result<()> {
//! // Reads CACHE_* variables; with none set, an in-process SimpleCache with a 300 s default.
//! let cache = cachette::Cache::from_env()?;
//! assert_eq!(cache.backend().type_name(), "SimpleCache");
//! # Ok(()) }
//! ```
//!
//! ## Cached HTTP views
//!
//! With the `http` feature, [`http`] is the tower `Layer` that caches whole responses
//! (`cachette::http::CacheLayer`); with `axum`, [`CacheError`] is also an axum `IntoResponse`
//! (a logged `503`), so handlers can use `?` on cache calls.
//!
//! ## Template fragments
//!
//! With the `minijinja` feature, `cachette::minijinja` caches fragments of minijinja templates:
//! Flask-Caching's `{% cache %}` tag written `{% call cache(300, "sidebar", user.id) %}`
//! (`cachette::minijinja::install`, `make_template_fragment_key`).
//!
//! ## A backend of your own
//!
//! Implement [`BaseCache`], register it under a name of your own in a [`Registry`] (start from
//! [`default_registry`]) or link it with [`link_backend!`], and run the `cachette-conformance`
//! suite on it.
//!
//! ## Cargo features
#![doc = document_features::document_features!()]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub use cachette_core::{
    Admin, BaseCache, BoxError, BreakerState, BreakerStats, Bytes, Cache, CacheError, CacheEvent, CacheStats, Config,
    ConfigValue, DEFAULT_TIMEOUT, EventKind, EventSource, Expiry, Factory, FailSafePolicy, LinkedBackend, LoadPolicy,
    Memoized, Options, Registry, Result, SingleFlight, Ttl, admin, async_trait, codec, config, fail_safe, link_backend,
    observe,
};

pub use cachette_macros::memoize;

/// Cached HTTP views: the tower `Layer` of the `cachette-http` crate.
#[cfg(feature = "http")]
#[cfg_attr(docsrs, doc(cfg(feature = "http")))]
pub use cachette_http as http;

/// Template fragment caching for minijinja: the `cachette-minijinja` crate.
#[cfg(feature = "minijinja")]
#[cfg_attr(docsrs, doc(cfg(feature = "minijinja")))]
pub use cachette_minijinja as minijinja;

#[doc(hidden)]
pub mod __macro_support {
    pub use cachette_core::{Cache, Memoized};

    /// What `#[memoize(cache_none = ..)]` asks of a function's result: that it can be `None`.
    /// A trait bound rather than a look at the written type, so that an alias of an `Option`
    /// passes and a `u64` does not.
    #[diagnostic::on_unimplemented(
        message = "`cache_none` is for functions whose result is an `Option<T>` (or a `Result<Option<T>, E>`), not `{Self}`",
        label = "a `{Self}` is never `None`",
        note = "remove `cache_none`: it says whether a `None` result is stored"
    )]
    pub trait CanBeNone {}
    impl<T> CanBeNone for Option<T> {}

    /// Compiles only for a result that [`CanBeNone`].
    pub fn cache_none_applies<T: CanBeNone + ?Sized>() {}
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
    /// The in-process tier of `CACHE_L1`, in front of any backend.
    #[cfg(feature = "tiered")]
    pub use cachette_tiered::TieredCache;
    #[cfg(feature = "uwsgi")]
    pub use cachette_uwsgi::UwsgiCache;
}

/// A registry holding every backend enabled by this crate's cargo features (and any other linked
/// into the program): [`Registry::linked`]. Add your own backends to it with
/// [`Registry::register`], then build with [`Cache::from_config_with`].
pub fn default_registry() -> Registry {
    Registry::linked()
}
