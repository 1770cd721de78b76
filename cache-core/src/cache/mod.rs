//! [`Cache`]: the typed facade applications use.
//!
//! `mod.rs` has the type, its constructors and the operations on values; `load.rs` the loading
//! operations (`get_or_set`), which fall back to the loader whatever the backend does; `stale.rs`
//! loading with a stale window (`get_or_set_with` and a [`LoadPolicy`]); `hooks.rs` the
//! callbacks on cache events ([`Cache::on_event`]).

mod early;
mod envelope;
mod guarded;
mod hooks;
mod kept;
mod lease;
mod load;
mod load_policy;
mod stale;
mod stats;
mod tag_version;
mod tags;

pub use early::early_refresh_due;
pub use lease::{Lease, Leased};
pub(crate) use load::{Loaded, run_loader};
pub use load_policy::LoadPolicy;
pub use stats::CacheStats;
use stats::Counters;
pub use tags::TagsSeen;

use std::collections::HashSet;
use std::fmt;
use std::future::Future;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::fail_safe::FailSafe;
use crate::memoize::VERSION_KEY_PREFIX;
use crate::observe::span::{self, in_operation, operation_span};
use crate::observe::{self, Hooks, ShortKey};
use crate::{BaseCache, BoxError, CacheError, Config, Memoized, Registry, Result, SingleFlight, Ttl, codec};
use kept::Kept;
pub(crate) use kept::KeptVersions;

/// The cache an application uses: typed values over any [`BaseCache`] backend, plus
/// `get_or_set` with single-flight, memoization and hit/miss counters.
///
/// Cheap to clone (one `Arc`); clones share the backend, the counters and the single-flight table.
///
/// Behaviour with `CACHE_IGNORE_ERRORS`: a backend failure ([`CacheError::is_backend_failure`]) or
/// a stored value that does not decode is logged with `tracing` and treated as a miss — reads
/// return `None`, writes return `Ok` without storing, `add` returns `false`, `delete` and `touch`
/// return `false`, `delete_many` returns 0. `inc`/`dec` still report the error: there is no value
/// to make up. Without the setting every error is returned. Mistakes of the caller (a value too
/// large, a key the backend cannot take) are always returned.
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use cachette_core::{Cache, Config, Ttl};
/// # use cachette_core::{async_trait, BaseCache, Bytes, Result};
/// # use std::collections::HashMap; use std::sync::Mutex;
/// # #[derive(Default)] struct MapCache(Mutex<HashMap<String, Bytes>>);
/// # #[async_trait] impl BaseCache for MapCache {
/// #   fn type_name(&self) -> &'static str { "MapCache" }
/// #   async fn get(&self, k: &str) -> Result<Option<Bytes>> { Ok(self.0.lock().unwrap().get(k).cloned()) }
/// #   async fn set(&self, k: &str, v: Bytes, _: Ttl) -> Result<()> { self.0.lock().unwrap().insert(k.into(), v); Ok(()) }
/// #   async fn add(&self, k: &str, v: Bytes, _: Ttl) -> Result<bool> { let mut m = self.0.lock().unwrap(); if m.contains_key(k) { return Ok(false) } m.insert(k.into(), v); Ok(true) }
/// #   async fn delete(&self, k: &str) -> Result<bool> { Ok(self.0.lock().unwrap().remove(k).is_some()) }
/// #   async fn inc(&self, k: &str, d: i64) -> Result<i64> { let mut m = self.0.lock().unwrap(); let n = m.get(k).map(|v| cachette_core::codec::parse_counter(k, v)).transpose()?.unwrap_or(0) + d; m.insert(k.into(), cachette_core::codec::encode_counter(n)); Ok(n) }
/// #   async fn touch(&self, k: &str, _: Ttl) -> Result<bool> { Ok(self.0.lock().unwrap().contains_key(k)) }
/// #   async fn clear(&self) -> Result<()> { self.0.lock().unwrap().clear(); Ok(()) }
/// # }
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// // Applications usually write `cachette::Cache::from_env()?`; any backend works the same way.
/// let cache = Cache::new(Arc::new(MapCache::default()), Config::default());
///
/// cache.set("n", &5, Ttl::Default).await?;
/// assert_eq!(cache.inc("n", 2).await?, 7);
/// assert_eq!(cache.get::<i64>("n").await?, Some(7));
///
/// let user: String = cache
///     .get_or_set("user:1", Ttl::After(Duration::from_secs(60)), || async {
///         Ok::<_, std::io::Error>("Ada".to_string()) // the slow load runs once
///     })
///     .await?;
/// assert_eq!(user, "Ada");
/// assert_eq!(cache.get::<String>("user:1").await?.as_deref(), Some("Ada"));
///
/// let stats = cache.stats();
/// assert_eq!((stats.hits, stats.misses), (2, 1));
/// # Ok::<(), cachette_core::CacheError>(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
pub struct Cache {
    inner: Arc<Inner>,
}

struct Inner {
    backend: Arc<dyn BaseCache>,
    fail_safe: FailSafe,
    config: Config,
    counters: Counters,
    flights: SingleFlight<Result<Bytes>>,
    /// Keys whose stale value is being refreshed in the background by this process.
    refreshing: Mutex<HashSet<String>>,
    /// Callbacks on hits, misses, stores and invalidations ([`Cache::on_event`]).
    hooks: Hooks,
    /// Memoized functions' and tags' versions kept in process (on a shared backend, under its
    /// watches).
    kept: Arc<Kept>,
}

/// Milliseconds since the Unix epoch (0 before it), as envelopes and tag versions store times.
fn unix_ms(t: std::time::SystemTime) -> u64 {
    t.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl fmt::Debug for Cache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cache")
            .field("backend", &self.inner.backend.type_name())
            .field("config", &self.inner.config)
            .field("stats", &self.stats())
            .finish()
    }
}

impl Cache {
    /// A cache over `backend`, with `config`'s default timeout, error policy, deadlines and
    /// circuit breaker ([`Config::fail_safe`]).
    ///
    /// # Panics
    ///
    /// Operations that do not finish on their first poll (any that wait on a network or a disk)
    /// start a timer for their deadline, which needs a tokio runtime with its time driver
    /// (`#[tokio::main]` and `Runtime::new` have it; a hand-built runtime needs `enable_time`).
    pub fn new(backend: Arc<dyn BaseCache>, config: Config) -> Cache {
        let fail_safe = FailSafe::new(backend.type_name(), config.fail_safe);
        let kept = kept::for_backend(&backend);
        Cache {
            inner: Arc::new(Inner {
                kept,
                backend,
                fail_safe,
                config,
                counters: Counters::default(),
                flights: SingleFlight::new(),
                refreshing: Mutex::default(),
                hooks: Hooks::default(),
            }),
        }
    }

    /// The backend configured by the `CACHE_*` environment variables (see [`Config::from_env`]);
    /// with none set, an in-process SimpleCache with a 300 s default timeout (when the `simple`
    /// feature of `cachette` is on, as it is by default).
    pub fn from_env() -> Result<Cache> {
        Cache::from_config(Config::from_env()?)
    }

    /// Builds the backend `config.cache_type` names, from the backends linked into the program
    /// ([`Registry::linked`]: those the `cachette` crate's features enable, and any crate that
    /// links itself with [`link_backend!`](crate::link_backend)).
    pub fn from_config(config: Config) -> Result<Cache> {
        Cache::from_config_with(&Registry::linked(), config)
    }

    /// Builds the backend `config.cache_type` names from `registry` (for backends of your own
    /// registered by hand).
    pub fn from_config_with(registry: &Registry, config: Config) -> Result<Cache> {
        let backend = registry.build(&config)?;
        Ok(Cache::new(backend, config))
    }

    /// The backend, for byte-level access. Calls made on it directly bypass the facade: its
    /// error policy, counters, deadlines and circuit breaker, and the memoized functions' and
    /// tags' versions it keeps in process (see [`Memoized`] and [`Cache::invalidate_tag`]).
    pub fn backend(&self) -> &Arc<dyn BaseCache> {
        &self.inner.backend
    }

    /// The configuration this cache was built with.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The value under `key` decoded as `T`, or `None`.
    ///
    /// A stored value that does not decode as `T` is a [`CacheError::Codec`] (a miss with
    /// `CACHE_IGNORE_ERRORS`).
    pub async fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>> {
        in_operation(operation_span!("get", self, key), span::read, async {
            let timer = observe::Timer::start();
            let raw = match self.read_at_once(key, timer) {
                Some(raw) => raw,
                None => self.read_waiting(key, timer).await,
            };
            let raw = self.absorb("get", key, raw, || None)?;
            let raw = self.unwrap_envelope(key, raw).await;
            self.decode_read(key, raw)
        })
        .await
    }

    /// Why a read missed, at debug level (`RUST_LOG=cachette=debug`).
    fn note_miss(&self, key: &str, why: &'static str) {
        tracing::debug!(backend = self.inner.backend.type_name(), key = %ShortKey(key), why, "cache miss");
    }

    /// A value written in an envelope (with tags, or by `get_or_set_with`) read by a plain typed
    /// read: its value if its tags are current (one more round trip, only for tagged values).
    async fn unwrap_envelope(&self, key: &str, raw: Option<Bytes>) -> Option<Bytes> {
        match raw {
            Some(bytes) if envelope::is_envelope(&bytes) => {
                let current = self.unwrap_tagged(key, bytes).await;
                if current.is_none() {
                    self.note_miss(key, "the entry's tags were invalidated after it was stored");
                }
                current
            }
            other => other,
        }
    }

    /// The stored bytes under `key`, without decoding.
    pub async fn get_bytes(&self, key: &str) -> Result<Option<Bytes>> {
        in_operation(operation_span!("get_bytes", self, key), span::read, async {
            let raw = self.read(key).await;
            let raw = self.absorb("get", key, raw, || None)?;
            self.count_read(raw.is_some());
            Ok(raw)
        })
        .await
    }

    /// The values of `keys` in order, `None` for misses.
    pub async fn get_many<T: DeserializeOwned>(&self, keys: &[&str]) -> Result<Vec<Option<T>>> {
        let first = keys.first().copied().unwrap_or("");
        in_operation(operation_span!("get_many", self, first, keys = keys.len()), span::read_many, async {
            self.get_many_unobserved(keys).await
        })
        .await
    }

    async fn get_many_unobserved<T: DeserializeOwned>(&self, keys: &[&str]) -> Result<Vec<Option<T>>> {
        let raw = self.guarded("get_many", self.inner.backend.get_many(keys)).await;
        let raw = self.absorb("get_many", keys.first().copied().unwrap_or(""), raw, || vec![None; keys.len()])?;
        let mut out = Vec::with_capacity(keys.len());
        for (key, value) in keys.iter().zip(raw) {
            let value = self.unwrap_envelope(key, value).await;
            out.push(self.decode_read(key, value)?);
        }
        Ok(out)
    }

    /// Whether `key` holds a live value (not counted as a hit or miss).
    pub async fn has(&self, key: &str) -> Result<bool> {
        in_operation(operation_span!("has", self, key), |r| span::answered(r, "hit", "miss"), async {
            let r = self.guarded("has", self.inner.backend.has(key)).await;
            self.absorb("has", key, r, || false)
        })
        .await
    }

    /// Stores `value` under `key`.
    pub async fn set<T: Serialize + ?Sized>(&self, key: &str, value: &T, ttl: Ttl) -> Result<()> {
        in_operation(operation_span!("set", self, key), span::done, async {
            let bytes = self.inner.config.codec.encode(key, value)?;
            self.store_bytes(key, bytes, ttl).await
        })
        .await
    }

    /// Stores raw bytes under `key`, without encoding.
    pub async fn set_bytes(&self, key: &str, value: impl Into<Bytes>, ttl: Ttl) -> Result<()> {
        in_operation(operation_span!("set_bytes", self, key), span::done, self.store_bytes(key, value.into(), ttl))
            .await
    }

    /// [`set_bytes`](Cache::set_bytes) inside another operation's span.
    pub(crate) async fn store_bytes(&self, key: &str, value: Bytes, ttl: Ttl) -> Result<()> {
        let r = self.guarded("set", self.inner.backend.set(key, value, ttl)).await;
        self.absorb("set", key, r, || ())
    }

    /// Stores every `(key, value)` with the same `ttl`.
    pub async fn set_many<T: Serialize>(&self, items: &[(&str, T)], ttl: Ttl) -> Result<()> {
        let first = items.first().map_or("", |i| i.0);
        in_operation(operation_span!("set_many", self, first, keys = items.len()), span::done, async {
            self.set_many_unobserved(items, ttl).await
        })
        .await
    }

    pub(crate) async fn set_many_unobserved<T: Serialize>(&self, items: &[(&str, T)], ttl: Ttl) -> Result<()> {
        let codec = &self.inner.config.codec;
        let encoded =
            items.iter().map(|(key, value)| Ok((*key, codec.encode(key, value)?))).collect::<Result<Vec<_>>>()?;
        let r = self.guarded("set_many", self.inner.backend.set_many(&encoded, ttl)).await;
        self.absorb("set_many", items.first().map(|i| i.0).unwrap_or(""), r, || ())
    }

    /// Stores `value` only if `key` holds no live value; returns whether it stored. Atomic.
    pub async fn add<T: Serialize + ?Sized>(&self, key: &str, value: &T, ttl: Ttl) -> Result<bool> {
        in_operation(operation_span!("add", self, key), |r| span::answered(r, "stored", "present"), async {
            let bytes = self.inner.config.codec.encode(key, value)?;
            let r = self.guarded("add", self.inner.backend.add(key, bytes, ttl)).await;
            self.absorb("add", key, r, || false)
        })
        .await
    }

    /// Removes `key`; returns whether a live value was removed.
    ///
    /// On a shared backend the key's lease goes with it (in the same moment, not one more round
    /// trip in a row), so a load of the key running in any process does not keep its value.
    pub async fn delete(&self, key: &str) -> Result<bool> {
        in_operation(operation_span!("delete", self, key), |r| span::answered(r, "deleted", "absent"), async {
            self.delete_unobserved(key).await
        })
        .await
    }

    async fn delete_unobserved(&self, key: &str) -> Result<bool> {
        let r = if self.inner.backend.is_shared() {
            let lease = lease::lease_key(key);
            let (r, _) = futures::join!(
                self.guarded("delete", self.inner.backend.delete(key)),
                self.guarded("delete", self.inner.backend.delete(&lease)),
            );
            r
        } else {
            self.guarded("delete", self.inner.backend.delete(key)).await
        };
        self.forget_version_of(key);
        self.absorb("delete", key, r, || false)
    }

    /// Removes `keys` (and their leases, as [`delete`](Cache::delete) does); returns how many
    /// live values were removed.
    pub async fn delete_many(&self, keys: &[&str]) -> Result<u64> {
        let first = keys.first().copied().unwrap_or("");
        in_operation(operation_span!("delete_many", self, first, keys = keys.len()), span::done, async {
            self.delete_many_unobserved(keys).await
        })
        .await
    }

    async fn delete_many_unobserved(&self, keys: &[&str]) -> Result<u64> {
        let r = if self.inner.backend.is_shared() {
            let leases: Vec<String> = keys.iter().map(|k| lease::lease_key(k)).collect();
            let leases: Vec<&str> = leases.iter().map(String::as_str).collect();
            let (r, _) = futures::join!(
                self.guarded("delete_many", self.inner.backend.delete_many(keys)),
                self.guarded("delete_many", self.inner.backend.delete_many(&leases)),
            );
            r
        } else {
            self.guarded("delete_many", self.inner.backend.delete_many(keys)).await
        };
        keys.iter().for_each(|key| self.forget_version_of(key));
        self.absorb("delete_many", keys.first().copied().unwrap_or(""), r, || 0)
    }

    /// Atomically adds `delta` to the integer under `key` (created at 0); returns the new value.
    pub async fn inc(&self, key: &str, delta: i64) -> Result<i64> {
        in_operation(operation_span!("inc", self, key), span::done, async {
            let r = self.guarded("inc", self.inner.backend.inc(key, delta)).await;
            self.note_failure(&r);
            r
        })
        .await
    }

    /// Atomically subtracts `delta`; returns the new value.
    pub async fn dec(&self, key: &str, delta: i64) -> Result<i64> {
        in_operation(operation_span!("dec", self, key), span::done, async {
            let r = self.guarded("dec", self.inner.backend.dec(key, delta)).await;
            self.note_failure(&r);
            r
        })
        .await
    }

    /// Gives the live value under `key` a new expiry; returns whether there was one.
    pub async fn touch(&self, key: &str, ttl: Ttl) -> Result<bool> {
        in_operation(operation_span!("touch", self, key), |r| span::answered(r, "touched", "absent"), async {
            let r = self.guarded("touch", self.inner.backend.touch(key, ttl)).await;
            self.absorb("touch", key, r, || false)
        })
        .await
    }

    /// Removes every entry of this cache (its key prefix) and nothing else.
    pub async fn clear(&self) -> Result<()> {
        in_operation(operation_span!("clear", self, ""), span::done, async {
            let r = self.guarded("clear", self.inner.backend.clear()).await;
            self.inner.kept.forget_all();
            self.absorb("clear", "", r, || ())
        })
        .await
    }

    /// The memoized functions' versions this process keeps.
    pub(crate) fn kept_function_versions(&self) -> &KeptVersions<Box<str>> {
        &self.inner.kept.functions
    }

    /// The tags' versions this process keeps.
    pub(crate) fn kept_tag_versions(&self) -> &KeptVersions<u64> {
        &self.inner.kept.tags
    }

    /// After a delete of a memoized function's or a tag's version key by hand: the version kept
    /// in process goes too (after the delete, so that a read of it before cannot keep it).
    fn forget_version_of(&self, key: &str) {
        if let Some(function) = key.strip_prefix(VERSION_KEY_PREFIX) {
            self.inner.kept.functions.forget(function);
        } else if let Some(tag) = tag_version::tag_of_version_key(key) {
            self.inner.kept.tags.forget(tag);
        }
    }

    /// A handle for memoizing the function `function` (a name unique in the cache, such as its
    /// path): see [`Memoized`].
    pub fn memoized(&self, function: &str, ttl: Ttl) -> Memoized {
        Memoized::new(self.clone(), function, ttl)
    }

    /// `load()`'s result for `args`, memoized under `function`: shorthand for
    /// `self.memoized(function, ttl).call(args, load)`, with the handle's default options (a
    /// `None` result is returned, not stored: see [`Memoized::cache_none`]; the other options are
    /// builder methods of [`Memoized`]).
    pub async fn memoize<A, T, F, Fut, E>(&self, function: &str, args: &A, ttl: Ttl, load: F) -> Result<T>
    where
        A: Serialize + ?Sized,
        T: Serialize + DeserializeOwned + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = std::result::Result<T, E>>,
        E: Into<BoxError>,
    {
        self.memoized(function, ttl).call(args, load).await
    }

    /// Forgets the memoized result of `function` for one argument set.
    pub async fn delete_memoized<A: Serialize + ?Sized>(&self, function: &str, args: &A) -> Result<bool> {
        self.memoized(function, Ttl::Default).delete(args).await
    }

    /// Forgets the memoized results of `function` for every argument set, in O(1).
    pub async fn delete_memoized_all(&self, function: &str) -> Result<()> {
        self.memoized(function, Ttl::Default).delete_all().await
    }

    /// Reads a value of the cache's own bookkeeping (a memoized function's version, a tag's
    /// version, a lock) for a layer built on the cache: under the deadline and circuit breaker
    /// like every call, but not a user's hit or miss in [`Cache::stats`], and a backend failure
    /// is returned whatever `CACHE_IGNORE_ERRORS` says (counted and logged), so the caller can
    /// tell "absent" from "unknown" and fall back.
    pub async fn internal_get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>> {
        let raw = self.read(key).await;
        let raw = self.note_internal("get", key, raw)?;
        raw.map(|bytes| codec::decode(key, &bytes)).transpose()
    }

    /// [`Cache::add`] for the cache's own bookkeeping (see [`Cache::internal_get`]).
    pub async fn internal_add<T: Serialize + ?Sized>(&self, key: &str, value: &T, ttl: Ttl) -> Result<bool> {
        let bytes = codec::encode(key, value)?;
        let r = self.guarded("add", self.inner.backend.add(key, bytes, ttl)).await;
        self.note_internal("add", key, r)
    }

    /// [`Cache::delete`] for the cache's own bookkeeping (see [`Cache::internal_get`]).
    pub async fn internal_delete(&self, key: &str) -> Result<bool> {
        let r = self.guarded("delete", self.inner.backend.delete(key)).await;
        self.note_internal("delete", key, r)
    }

    fn note_internal<T>(&self, op: &'static str, key: &str, r: Result<T>) -> Result<T> {
        if let Err(e) = &r
            && e.is_backend_failure()
        {
            self.note_backend_failure(op, key, e, "cache bookkeeping failed; going on without the cache");
        }
        r
    }

    /// Counts a user's read (never the cache's own bookkeeping) in the stats and the metrics.
    pub(crate) fn count_read(&self, hit: bool) {
        let c = &self.inner.counters;
        if hit { &c.hits } else { &c.misses }.fetch_add(1, Relaxed);
        #[cfg(feature = "metrics")]
        observe::read(self.inner.fail_safe.backend(), hit);
    }

    fn decode_read<T: DeserializeOwned>(&self, key: &str, raw: Option<Bytes>) -> Result<Option<T>> {
        let Some(bytes) = raw else {
            self.count_read(false);
            // Absent, or an absorbed failure or outdated entry (each logged where it was seen).
            self.note_miss(key, "no current value under the key");
            return Ok(None);
        };
        match codec::decode(key, &bytes) {
            Ok(value) => {
                self.count_read(true);
                tracing::debug!(backend = self.inner.backend.type_name(), key = %ShortKey(key), "cache hit");
                Ok(Some(value))
            }
            Err(e) if self.inner.config.ignore_errors => {
                self.inner.counters.errors.fetch_add(1, Relaxed);
                self.count_read(false);
                tracing::warn!(key = %ShortKey(key), error = %e, "undecodable cache entry treated as a miss (CACHE_IGNORE_ERRORS)");
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    fn note_failure<T>(&self, r: &Result<T>) {
        if let Err(e) = r
            && e.is_backend_failure()
        {
            self.inner.counters.errors.fetch_add(1, Relaxed);
        }
    }

    /// Counts a backend failure and logs it: a warning, except while the breaker is open, when
    /// one warning for the transition has been logged and each call is only a debug event.
    pub(crate) fn note_backend_failure(&self, op: &'static str, key: &str, e: &CacheError, what: &str) {
        self.inner.counters.errors.fetch_add(1, Relaxed);
        let backend = self.inner.backend.type_name();
        if matches!(e, CacheError::CircuitOpen { .. }) {
            tracing::debug!(backend, op, key = %ShortKey(key), error = %e, "{what}");
        } else {
            tracing::warn!(backend, op, key = %ShortKey(key), error = %e, "{what}");
        }
    }

    /// Applies `CACHE_IGNORE_ERRORS` to a backend result.
    pub(crate) fn absorb<T>(
        &self,
        op: &'static str,
        key: &str,
        r: Result<T>,
        fallback: impl FnOnce() -> T,
    ) -> Result<T> {
        match r {
            Err(e) if e.is_backend_failure() => {
                if self.inner.config.ignore_errors {
                    self.note_backend_failure(
                        op,
                        key,
                        &e,
                        "cache backend failed; treated as a miss (CACHE_IGNORE_ERRORS)",
                    );
                    Ok(fallback())
                } else {
                    self.inner.counters.errors.fetch_add(1, Relaxed);
                    Err(e)
                }
            }
            other => other,
        }
    }
}
