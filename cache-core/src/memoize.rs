//! [`Memoized`]: results of a function cached by its arguments, invalidated in O(1).

use std::borrow::Cow;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::AcqRel};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::observe::{self, ShortKey};
use crate::{BoxError, Cache, CacheEvent, EventKind, EventSource, Result, Ttl, codec};

/// Memoizes one function: its results are cached per argument set, and all of them can be
/// forgotten at once in O(1).
///
/// As in Flask-Caching, each function has a *version* stored in the cache (a random token under
/// `memoize-version:<function>`); result keys are `memoize:<function>:<version>:<hash of args>`.
/// [`delete_all`](Memoized::delete_all) removes the version, so the next call draws a new one and
/// every older result becomes unreachable (and ages out). Versions are random rather than
/// counters so that an evicted version key can never bring back results of an older version.
///
/// Arguments are anything `Serialize`; they are encoded and hashed with BLAKE3 (128 bits), so the
/// key length does not depend on them. With `CACHE_SOURCE_CHECK`, a source hash given by
/// [`with_source_hash`](Memoized::with_source_hash) becomes part of the function's name, so editing
/// the function's code invalidates its results.
///
/// Each call is counted as a hit or a miss of the function (the `metrics` feature's
/// `cachette_memoize_calls_total`, and its loader's time in `cachette_memoize_load_seconds`) and
/// reported to the cache's hooks ([`Cache::on_event`]): a hit; or a miss, then a store with the
/// load's time. A call that waited for another call's load of the same arguments is a miss
/// without a store of its own.
///
/// ```
/// # use std::sync::Arc;
/// # use std::sync::atomic::{AtomicUsize, Ordering};
/// # use cachette_core::{Cache, Config, Ttl};
/// # async fn demo(cache: Cache) -> cachette_core::Result<()> {
/// let calls = AtomicUsize::new(0);
/// let profile = cache.memoized("app::profile", Ttl::Default);
/// let load = |id: u32| { calls.fetch_add(1, Ordering::SeqCst); async move { Ok::<_, std::io::Error>(format!("user {id}")) } };
///
/// assert_eq!(profile.call(&7, || load(7)).await?, "user 7");
/// assert_eq!(profile.call(&7, || load(7)).await?, "user 7"); // cached
/// assert_eq!(calls.load(Ordering::SeqCst), 1);
///
/// profile.delete_all().await?; // every argument set, in O(1)
/// assert_eq!(profile.call(&7, || load(7)).await?, "user 7");
/// assert_eq!(calls.load(Ordering::SeqCst), 2);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Memoized {
    cache: Cache,
    // Borrowed for names known at compile time, so that `#[memoize]` builds its handle on every
    // call without copying the name.
    function: Cow<'static, str>,
    ttl: Ttl,
}

impl Memoized {
    /// A handle for `function` whose results live for `ttl`.
    pub fn new(cache: Cache, function: &str, ttl: Ttl) -> Memoized {
        Memoized { cache, function: Cow::Owned(function.to_owned()), ttl }
    }

    /// [`Memoized::new`] for a name that lives for the whole program (a literal, or one computed
    /// once and kept in a `static`): the handle borrows it instead of copying it.
    pub fn new_static(cache: Cache, function: &'static str, ttl: Ttl) -> Memoized {
        Memoized { cache, function: Cow::Borrowed(function), ttl }
    }

    /// The default name `#[memoize]` gives a function: its path, found with
    /// `type_name_of_val(&anchor)` for a `fn anchor` nested in the function `generated` that
    /// `#[memoize]` expanded (the memoized function itself or one of its `_forget` companions).
    ///
    /// The path of a nested item names the `impl`'s type for methods and associated functions
    /// (`app::users::Repo::profile`), which `module_path!()` cannot: two types of one module
    /// with a method of the same name get two names. If the compiler ever prints paths so that
    /// `generated` cannot be found in it, the name falls back to `<module>::<function>` (the
    /// same for the function and its companions, so forgetting keeps working).
    #[doc(hidden)]
    pub fn __default_name(anchor: &str, generated: &str, function: &str, module: &str) -> String {
        let owner = anchor.rfind(&format!("::{generated}::")).map_or(module, |at| &anchor[..at]);
        format!("{owner}::{function}")
    }

    /// Adds the hash of the function's source to its name when `CACHE_SOURCE_CHECK` is on (the
    /// `#[memoize]` attribute passes a hash of the function's tokens).
    pub fn with_source_hash(mut self, source_hash: &str) -> Memoized {
        if self.cache.config().source_check {
            self.function = Cow::Owned(format!("{}#{source_hash}", self.function));
        }
        self
    }

    /// The function name used in keys.
    pub fn function(&self) -> &str {
        &self.function
    }

    /// The memoized result for `args`, or `load()`'s, stored and returned (single-flight, as
    /// [`Cache::get_or_set`]).
    pub async fn call<A, T, F, Fut, E>(&self, args: &A, load: F) -> Result<T>
    where
        A: Serialize + ?Sized,
        T: Serialize + DeserializeOwned,
        F: FnOnce() -> Fut,
        Fut: Future<Output = std::result::Result<T, E>>,
        E: Into<BoxError>,
    {
        match self.key_if_available(args).await? {
            Some(key) => self.get_or_set(&key, load).await,
            None => self.load_uncached(load).await,
        }
    }

    /// The lookup of [`call`](Memoized::call) under a key from [`key`](Memoized::key):
    /// [`Cache::get_or_set`] with the function's lifetime, counted and reported as a call of the
    /// function (for callers, like `#[memoize]`, whose loader takes the arguments by value).
    pub async fn get_or_set<T, F, Fut, E>(&self, key: &str, load: F) -> Result<T>
    where
        T: Serialize + DeserializeOwned,
        F: FnOnce() -> Fut,
        Fut: Future<Output = std::result::Result<T, E>>,
        E: Into<BoxError>,
    {
        let slot = LoadSlot::default();
        let (value, hit) = self.cache.get_or_set_served(key, self.ttl, || self.timed(key, &slot, load)).await?;
        self.note_call(key, hit, &slot);
        Ok(value)
    }

    /// [`get_or_set`](Memoized::get_or_set) kept as `policy` says ([`Cache::get_or_set_with`]).
    /// A background refresh reports its store when it ends.
    pub async fn get_or_set_with<T, F, Fut, E>(&self, key: &str, policy: &crate::LoadPolicy, load: F) -> Result<T>
    where
        T: Serialize + DeserializeOwned + Send + 'static,
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = std::result::Result<T, E>> + Send + 'static,
        E: Into<BoxError>,
    {
        // The loader may outlive the call (a refresh behind): it needs a handle of its own,
        // made only when someone listens.
        if !cfg!(feature = "metrics") && !self.cache.has_hooks() {
            let (value, hit) = self.cache.get_or_set_with_served(key, policy, load).await?;
            self.note_call(key, hit, &LoadSlot::default());
            return Ok(value);
        }
        let slot = Arc::new(LoadSlot::default());
        let (this, owned_key, loader_slot) = (self.clone(), key.to_owned(), slot.clone());
        let timed = move || async move { this.timed(&owned_key, &loader_slot, load).await };
        let (value, hit) = self.cache.get_or_set_with_served(key, policy, timed).await?;
        self.note_call(key, hit, &slot);
        Ok(value)
    }

    /// Runs a loader of `key`, timed: its time goes to the metrics at once, and to the hooks'
    /// store event through `slot` (after the call's hit or miss), or from here if the call has
    /// already returned (a refresh behind).
    async fn timed<T, E, F, Fut>(&self, key: &str, slot: &LoadSlot, load: F) -> std::result::Result<T, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = std::result::Result<T, E>>,
    {
        let started = Instant::now();
        let r = load().await;
        let elapsed = started.elapsed();
        observe::memoize_load(&self.function, elapsed);
        if r.is_ok() && !slot.offer(elapsed) {
            self.event(EventKind::Store, key, Some(elapsed));
        }
        r
    }

    /// Counts a call and reports it to the hooks: its hit or miss, then its store.
    fn note_call(&self, key: &str, hit: bool, slot: &LoadSlot) {
        observe::memoize_call(&self.function, hit);
        tracing::debug!(function = %self.function, key = %ShortKey(key), hit, "memoized call");
        let stored = slot.take();
        if self.cache.has_hooks() {
            self.event(if hit { EventKind::Hit } else { EventKind::Miss }, key, None);
            if let Some(load_time) = stored {
                self.event(EventKind::Store, key, Some(load_time));
            }
        }
    }

    fn event(&self, kind: EventKind, key: &str, load_time: Option<Duration>) {
        let event = CacheEvent::new(kind, EventSource::Memoized { function: &self.function }, key);
        self.cache.emit(&match load_time {
            Some(elapsed) => event.with_load_time(elapsed),
            None => event,
        });
    }

    /// The memoized result for `args` kept as `policy` says — a stale window, loader deadlines —
    /// or `load()`'s: [`Cache::get_or_set_with`] under the function's key. The loader must be
    /// `Send + 'static` (a refresh runs in the background).
    pub async fn call_with<A, T, F, Fut, E>(&self, args: &A, policy: &crate::LoadPolicy, load: F) -> Result<T>
    where
        A: Serialize + ?Sized,
        T: Serialize + DeserializeOwned + Send + 'static,
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = std::result::Result<T, E>> + Send + 'static,
        E: Into<BoxError>,
    {
        match self.key_if_available(args).await? {
            Some(key) => self.get_or_set_with(&key, policy, load).await,
            None => self.load_uncached(load).await,
        }
    }

    /// The cache key of `args`, or `None` when the function's version cannot be read because the
    /// backend failed (down, past its deadline, breaker open): the call should then run the
    /// function uncached ([`load_uncached`](Self::load_uncached)). Only the caller's mistakes are
    /// errors. The failure is counted and logged by the [`Cache`].
    pub async fn key_if_available<A: Serialize + ?Sized>(&self, args: &A) -> Result<Option<String>> {
        match self.key(args).await {
            Ok(key) => Ok(Some(key)),
            Err(e) if e.is_backend_failure() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Runs `load` as if the function were not memoized (for when the cache is unavailable):
    /// counted as a load and as a miss of the function (reported to the hooks with an empty
    /// key, and no store), and a failure or panic of `load` is a [`crate::CacheError::Loader`],
    /// as from [`Cache::get_or_set`].
    pub async fn load_uncached<T, F, Fut, E>(&self, load: F) -> Result<T>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = std::result::Result<T, E>>,
        E: Into<BoxError>,
    {
        tracing::debug!(function = %self.function, "memoized call runs uncached: the backend is unavailable");
        let slot = LoadSlot::default();
        let r = self.cache.load_uncached(|| self.timed("", &slot, load)).await;
        observe::memoize_call(&self.function, false);
        self.event(EventKind::Miss, "", None);
        r
    }

    /// The cache key of `args` under the function's current version (drawing a version if there
    /// is none). With [`Memoized::ttl`] and [`Cache::get_or_set`] this is `call` in two steps, for
    /// callers (like the `#[memoize]` attribute) whose loader must take the arguments by value.
    pub async fn key<A: Serialize + ?Sized>(&self, args: &A) -> Result<String> {
        let version = self.version(true).await?.unwrap_or_default();
        self.result_key(&version, args)
    }

    /// The lifetime of the results.
    pub fn ttl(&self) -> Ttl {
        self.ttl
    }

    /// The cache the results live in.
    pub fn cache(&self) -> &Cache {
        &self.cache
    }

    /// Forgets the result for one argument set; returns whether there was one.
    pub async fn delete<A: Serialize + ?Sized>(&self, args: &A) -> Result<bool> {
        match self.version(false).await? {
            None => Ok(false),
            Some(version) => {
                let key = self.result_key(&version, args)?;
                let deleted = self.cache.delete(&key).await?;
                self.event(EventKind::Invalidate, &key, None);
                Ok(deleted)
            }
        }
    }

    /// Forgets the results for every argument set, in O(1).
    pub async fn delete_all(&self) -> Result<()> {
        let key = self.version_key();
        self.cache.internal_delete(&key).await?;
        self.event(EventKind::Invalidate, &key, None);
        Ok(())
    }

    fn version_key(&self) -> String {
        format!("memoize-version:{}", self.function)
    }

    fn result_key<A: Serialize + ?Sized>(&self, version: &str, args: &A) -> Result<String> {
        let encoded = codec::encode(&self.function, args)?;
        let hash = blake3::hash(&encoded);
        let hex = hash.to_hex();
        Ok(format!("memoize:{}:{version}:{}", self.function, &hex[..32]))
    }

    /// The function's current version; with `create`, draws one if there is none. `add` makes the
    /// draw race-free: when several processes draw at once, one version wins and all use it.
    ///
    /// The version is bookkeeping, not a user's value: read with [`Cache::internal_get`], so it
    /// is no hit or miss in the stats, and a backend failure is an error (whatever
    /// `CACHE_IGNORE_ERRORS` says) on which the call runs the function uncached.
    async fn version(&self, create: bool) -> Result<Option<String>> {
        let key = self.version_key();
        if let Some(v) = self.cache.internal_get::<String>(&key).await? {
            return Ok(Some(v));
        }
        if !create {
            return Ok(None);
        }
        let fresh = format!("{:016x}", rand::random::<u64>());
        if self.cache.internal_add(&key, &fresh, Ttl::Never).await? {
            tracing::debug!(
                function = %self.function,
                "memoized function had no version (first call, or after delete_all or an eviction): a new one, \
                 so every argument set misses once"
            );
            return Ok(Some(fresh));
        }
        // Another caller drew first: use theirs.
        Ok(Some(self.cache.internal_get::<String>(&key).await?.unwrap_or(fresh)))
    }
}

/// A loader's time handed from the loader to the call that reports it, once: `PENDING` until
/// either the loader offers its time or the call takes the slot (then `TAKEN`).
struct LoadSlot(AtomicU64);

const PENDING: u64 = u64::MAX;
const TAKEN: u64 = u64::MAX - 1;

impl Default for LoadSlot {
    fn default() -> Self {
        LoadSlot(AtomicU64::new(PENDING))
    }
}

impl LoadSlot {
    /// Leaves `elapsed` for the call; false if the call has already returned.
    fn offer(&self, elapsed: Duration) -> bool {
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX).min(TAKEN - 1);
        self.0.compare_exchange(PENDING, nanos, AcqRel, std::sync::atomic::Ordering::Acquire).is_ok()
    }

    /// The loader's time if it finished during the call; the loader reports it itself later.
    fn take(&self) -> Option<Duration> {
        match self.0.swap(TAKEN, AcqRel) {
            PENDING | TAKEN => None,
            nanos => Some(Duration::from_nanos(nanos)),
        }
    }
}
