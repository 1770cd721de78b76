//! [`BaseCache`]: the one trait every backend implements.

use async_trait::async_trait;
use bytes::Bytes;

use crate::{Admin, Expiry, KeyWatch, Result, Ttl};

/// The byte-level cache API that every backend implements.
///
/// Object safe: applications hold an `Arc<dyn BaseCache>` chosen by configuration and usually
/// reach it through the typed [`crate::Cache`] facade. The semantics below are the same on every
/// backend, and the conformance suite (`cachette-conformance`) checks each of them:
///
/// * Keys are any UTF-8 string (spaces, unicode, hundreds of bytes); a backend with key rules of
///   its own (memcached) maps keys to safe ones transparently.
/// * Keys are scoped by the configured `CACHE_KEY_PREFIX`: two caches with different prefixes on
///   one server never see each other's entries, and [`clear`](BaseCache::clear) removes only this
///   cache's entries.
/// * Expiry follows [`Ttl`]; a write whose `Ttl` is already over stores nothing and removes any
///   live value.
/// * Errors are [`crate::CacheError`]s, never panics.
///
/// The batch operations have default implementations that loop over the single ones; backends
/// override them when they can do better (one round trip).
///
/// A backend of your own implements this trait and registers a factory under its name in a
/// [`crate::Registry`]:
///
/// ```
/// use std::collections::HashMap;
/// use std::sync::Mutex;
/// use cachette_core::{async_trait, BaseCache, Bytes, Result, Ttl};
///
/// /// A toy backend: no expiry, one lock. (See `examples/custom-backend` in the repository for a complete one.)
/// #[derive(Default)]
/// struct MapCache(Mutex<HashMap<String, Bytes>>);
///
/// #[async_trait]
/// impl BaseCache for MapCache {
///     fn type_name(&self) -> &'static str { "MapCache" }
///     async fn get(&self, key: &str) -> Result<Option<Bytes>> {
///         Ok(self.0.lock().unwrap().get(key).cloned())
///     }
///     async fn set(&self, key: &str, value: Bytes, _ttl: Ttl) -> Result<()> {
///         self.0.lock().unwrap().insert(key.to_owned(), value);
///         Ok(())
///     }
///     async fn add(&self, key: &str, value: Bytes, _ttl: Ttl) -> Result<bool> {
///         let mut map = self.0.lock().unwrap();
///         if map.contains_key(key) { return Ok(false); }
///         map.insert(key.to_owned(), value);
///         Ok(true)
///     }
///     async fn delete(&self, key: &str) -> Result<bool> {
///         Ok(self.0.lock().unwrap().remove(key).is_some())
///     }
///     async fn inc(&self, key: &str, delta: i64) -> Result<i64> {
///         let mut map = self.0.lock().unwrap();
///         let current = match map.get(key) {
///             Some(v) => cachette_core::codec::parse_counter(key, v)?,
///             None => 0,
///         };
///         let next = cachette_core::codec::checked_counter_add(key, current, delta)?;
///         map.insert(key.to_owned(), cachette_core::codec::encode_counter(next));
///         Ok(next)
///     }
///     async fn touch(&self, key: &str, _ttl: Ttl) -> Result<bool> {
///         Ok(self.0.lock().unwrap().contains_key(key))
///     }
///     async fn clear(&self) -> Result<()> {
///         self.0.lock().unwrap().clear();
///         Ok(())
///     }
/// }
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let cache = MapCache::default();
/// cache.set("greeting", Bytes::from_static(b"hello"), Ttl::Never).await?;
/// assert_eq!(cache.get("greeting").await?.as_deref(), Some(&b"hello"[..]));
/// assert_eq!(cache.inc("hits", 2).await?, 2);
/// # Ok::<(), cachette_core::CacheError>(())
/// # }).unwrap();
/// ```
#[async_trait]
pub trait BaseCache: Send + Sync + 'static {
    /// The backend's type name as used in `CACHE_TYPE` (e.g. `"RedisCache"`), for logs and errors.
    fn type_name(&self) -> &'static str;

    /// Whether other processes may share what this backend stores (a server, a directory): then
    /// loads of one key take a lease so that one process loads it while the others wait for its
    /// value (see [`crate::Cache::get_or_set`]). `true` unless overridden; an in-process backend
    /// returns `false`, its single-flight already being all the coordination there is.
    fn is_shared(&self) -> bool {
        true
    }

    /// A feed of the changes any process makes to this cache's keys, if the backend can report
    /// them (Redis, Sentinel and Cluster do, by RESP3 client tracking); `None` by default.
    ///
    /// The in-process tier of `CACHE_L1` (cachette-tiered) asks for one to evict what other
    /// processes change; without it, the tier needs an invalidation bus (`CACHE_L1_BUS_URL`) or
    /// accepts staleness up to its own time-to-live. Each call makes an independent feed (its own
    /// connections), which runs while it is polled and stops when it is dropped. See
    /// [`ChangeFeed`](crate::change_feed::ChangeFeed) for what a feed must promise.
    fn change_feed(&self) -> Option<crate::change_feed::ChangeFeed> {
        None
    }

    /// A watch on `key`, to take *before* reading it: while it holds, what the read returned is
    /// still what the backend would answer ([`KeyWatch`]), so something derived from it may be
    /// kept in process without reading the key again. `None` (the default) when the backend
    /// cannot tell, as a server cannot without a channel that reports other processes' changes.
    ///
    /// The in-process tier of `CACHE_L1` (cachette-tiered) gives one while its bus or change feed
    /// follows; memoize keeps a function's version under it (one lookup per hit instead of two).
    /// A backend that gives one must turn it on every write of the key through it, whatever the
    /// write (`set`, `add` that stores, `delete`, `inc`, `touch`, `clear`, ...): the conformance
    /// suite checks that.
    fn watch(&self, key: &str) -> Option<KeyWatch> {
        let _ = key;
        None
    }

    /// The value stored under `key`, or `None` if there is none (or it has expired).
    async fn get(&self, key: &str) -> Result<Option<Bytes>>;

    /// [`get`](BaseCache::get) answered at once, on the caller's thread, by a backend that waits
    /// for nothing (an in-process store, such as SimpleCache): `Some` of what `get` would
    /// return, or `None` (the default) to say "call `get`".
    ///
    /// The [`crate::Cache`] facade tries it before `get` on its reads: it spares an in-process
    /// hit `get`'s boxed future and the deadline's wrapper around it (on SimpleCache, 440 of a
    /// typed hit's 3,300 instructions). It runs under the circuit breaker but outside the
    /// deadline, which could not interrupt it anyway, so it must never block: no I/O, no lock held
    /// across anything slow. Its answers must be `get`'s: the conformance suite compares the two
    /// on every `get` its cases make.
    fn get_at_once(&self, key: &str) -> Option<Result<Option<Bytes>>> {
        let _ = key;
        None
    }

    /// The values of `keys`, in the same order, with `None` for each miss. Duplicated keys give
    /// duplicated answers.
    async fn get_many(&self, keys: &[&str]) -> Result<Vec<Option<Bytes>>> {
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            out.push(self.get(key).await?);
        }
        Ok(out)
    }

    /// The values of `keys` as [`get_many`](BaseCache::get_many) gives them, each with its
    /// expiry in the backend when the backend can tell: `Some(Expiry::Never)` for a value that
    /// does not expire, `Some(Expiry::At(..))` for one that does (never later than the backend's
    /// own deadline), `None` when the backend cannot tell (the default, which calls `get_many`).
    ///
    /// The in-process tier of `CACHE_L1` reads through this, so that a value it keeps never
    /// outlives the backend's copy. RedisCache and its Sentinel and Cluster variants tell (a
    /// `PTTL` next to each `GET`, in the same round trip).
    async fn get_many_with_expiry(&self, keys: &[&str]) -> Result<Vec<Option<(Bytes, Option<Expiry>)>>> {
        Ok(self.get_many(keys).await?.into_iter().map(|v| v.map(|v| (v, None))).collect())
    }

    /// Whether a live value is stored under `key`.
    async fn has(&self, key: &str) -> Result<bool> {
        Ok(self.get(key).await?.is_some())
    }

    /// Stores `value` under `key`, replacing any previous value and its expiry.
    async fn set(&self, key: &str, value: Bytes, ttl: Ttl) -> Result<()>;

    /// Stores every `(key, value)` pair with the same `ttl`.
    async fn set_many(&self, items: &[(&str, Bytes)], ttl: Ttl) -> Result<()> {
        for (key, value) in items {
            self.set(key, value.clone(), ttl).await?;
        }
        Ok(())
    }

    /// Stores `value` only if no live value is stored under `key`; returns whether it stored.
    ///
    /// Atomic: of any number of concurrent `add`s of one key (from any number of processes, for
    /// shared backends) exactly one returns `true`.
    async fn add(&self, key: &str, value: Bytes, ttl: Ttl) -> Result<bool>;

    /// Removes `key`; returns whether a live value was removed.
    async fn delete(&self, key: &str) -> Result<bool>;

    /// Removes every key in `keys`; returns how many live values were removed.
    async fn delete_many(&self, keys: &[&str]) -> Result<u64> {
        let mut removed = 0;
        for key in keys {
            if self.delete(key).await? {
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Adds `delta` to the decimal integer stored under `key` and returns the new value.
    ///
    /// Atomic. An absent key is created at 0 (so the result is `delta`) with no expiry; a live key
    /// keeps its expiry. A value that is not a decimal integer, or a result outside `i64`, is
    /// [`crate::CacheError::NotAnInteger`] and leaves the value unchanged. Integers written through
    /// the typed layer are decimal text, so `set("n", &5)` then `inc("n", 2)` gives 7.
    async fn inc(&self, key: &str, delta: i64) -> Result<i64>;

    /// Subtracts `delta`; the same rules as [`inc`](BaseCache::inc). Results may be negative.
    async fn dec(&self, key: &str, delta: i64) -> Result<i64> {
        let negated = delta.checked_neg().ok_or_else(|| {
            crate::CacheError::not_an_integer(key, format!("cannot decrement by {delta}: out of range"))
        })?;
        self.inc(key, negated).await
    }

    /// Gives the live value under `key` a new expiry; returns whether there was one. A `ttl` that is
    /// already over removes the value.
    async fn touch(&self, key: &str, ttl: Ttl) -> Result<bool>;

    /// Removes every entry of this cache (its key prefix), and nothing else: another application's
    /// keys on a shared server are left alone.
    async fn clear(&self) -> Result<()>;

    /// What an operator's tool can ask this backend beyond caching (key counts, the server's own
    /// figures, a counting `clear`: see [`Admin`]). `None` unless overridden: a backend that
    /// offers nothing of the kind implements nothing.
    fn admin(&self) -> Option<&dyn Admin> {
        None
    }
}

impl std::fmt::Debug for dyn BaseCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.type_name())
    }
}
