//! `get_or_set`: the value, or the loader's — whatever the backend does.
//!
//! A cache is an optimisation, never a dependency, for computed values: a backend that fails on
//! the read or the write (down, slow past its deadline, breaker open, a stored value that does not
//! decode) is counted and logged and the loader runs; its value is returned. Only mistakes of the
//! caller (a key the backend cannot take, a value that cannot be encoded) and the loader's own
//! failure are errors.

use crate::observe::ShortKey;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use bytes::Bytes;
use futures::FutureExt;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::Cache;
use super::lease::Leased;
use crate::observe::span::{self, in_operation, operation_span};
use crate::{BoxError, CacheError, Result, Ttl, codec, observe};

impl Cache {
    /// The value under `key`, or else the result of `load`, stored with `ttl` and returned.
    ///
    /// Single-flight: concurrent misses of one key in this process run `load` once and all get
    /// its value. If `load` fails or panics, every waiter gets the same [`CacheError::Loader`]
    /// promptly (the loader's error, or a message saying it panicked, is its source), nothing is
    /// stored, and the next call loads afresh.
    ///
    /// Across processes, on a shared backend (a server, a directory): the process that leads a
    /// miss takes the key's lease (an atomic `add`, living `CACHE_OPTIONS.lease`, 5 s); the
    /// others wait for its value, polling with back-off, and load themselves only if it does not
    /// come within the lease's lifetime (its holder died or is slow). A [`delete`](Cache::delete)
    /// of the key during a load removes the lease, and the load's value is then not kept. A cold
    /// key is loaded once by the whole fleet.
    ///
    /// Fail-safe: a failure of the backend — on the read or the write, with or without
    /// `CACHE_IGNORE_ERRORS` — never fails the call: it is counted in [`Cache::stats`], logged,
    /// and the loader's value is returned. While the backend's circuit breaker is open the call
    /// costs no network wait at all. A stored value that does not decode as `T` is replaced.
    ///
    /// A miss makes one backend read before the loader runs (a second only if another load of the
    /// key finished in between, to keep one load per burst of misses), and one write after.
    ///
    /// Do not call `get_or_set` for the same key from inside its own loader: it would wait for
    /// itself.
    pub async fn get_or_set<T, F, Fut, E>(&self, key: &str, ttl: Ttl, load: F) -> Result<T>
    where
        T: Serialize + DeserializeOwned,
        F: FnOnce() -> Fut,
        Fut: Future<Output = std::result::Result<T, E>>,
        E: Into<BoxError>,
    {
        let served = in_operation(
            operation_span!("get_or_set", self, key),
            span::served,
            self.get_or_set_served(key, ttl, load),
        );
        served.await.map(|(value, _)| value)
    }

    /// [`get_or_set`](Cache::get_or_set), and whether its read was a hit (for memoized
    /// functions' metrics and events: a call that waited for another's load is a miss, as in
    /// [`Cache::stats`]).
    pub(crate) async fn get_or_set_served<T, F, Fut, E>(&self, key: &str, ttl: Ttl, load: F) -> Result<(T, bool)>
    where
        T: Serialize + DeserializeOwned,
        F: FnOnce() -> Fut,
        Fut: Future<Output = std::result::Result<T, E>>,
        E: Into<BoxError>,
    {
        self.get_or_set_judged(key, ttl, never_stale, || async move { load().await.map(Loaded::kept) }).await
    }

    /// [`get_or_set_served`](Cache::get_or_set_served) with the caller's judgement of values (a
    /// memoized function's options): a stored value for which `is_stale` is true is a miss, here
    /// and wherever another load's value is picked up (a flight that finished, another process's
    /// lease), and a [`Loaded`] value the loader says not to keep is returned without being stored.
    pub(crate) async fn get_or_set_judged<T, S, F, Fut, E>(
        &self,
        key: &str,
        ttl: Ttl,
        is_stale: S,
        load: F,
    ) -> Result<(T, bool)>
    where
        T: Serialize + DeserializeOwned,
        S: Fn(&T) -> bool,
        F: FnOnce() -> Fut,
        Fut: Future<Output = std::result::Result<Loaded<T>, E>>,
        E: Into<BoxError>,
    {
        let completed = self.inner.flights.completed();
        if let Some((_, value)) = self.read_for_load::<T>(key, true, &is_stale).await? {
            return Ok((value, true));
        }
        let mut loaded: Option<T> = None;
        let shared = self
            .inner
            .flights
            .run(key, || async {
                // A load of this key finished between our read and our lead: read once more, so
                // that one burst of misses means one load. Otherwise the read above stands.
                if self.inner.flights.completed() != completed
                    && let Some((bytes, _)) = self.read_for_load::<T>(key, false, &is_stale).await?
                {
                    return Ok(bytes);
                }
                // One process of many: take the key's lease, or wait for the value of the
                // process that holds it.
                let lease = match self.lease(key).await? {
                    Leased::Loaded(bytes) if codec::decode::<T>(key, &bytes).is_ok_and(|v| !is_stale(&v)) => {
                        return Ok(bytes);
                    }
                    Leased::Granted(lease) => Some(lease),
                    Leased::Loaded(_) | Leased::None => None,
                };
                self.inner.counters.loads.fetch_add(1, Relaxed);
                let codec = &self.inner.config.codec;
                let encoded = run_loader(load).await.and_then(|l| Ok((codec.encode(key, &l.value)?, l)));
                let (bytes, Loaded { value, keep }) = match encoded {
                    Ok(done) => done,
                    Err(e) => {
                        if let Some(lease) = lease {
                            self.release_lease(lease).await;
                        }
                        return Err(e);
                    }
                };
                match (lease, keep) {
                    (Some(lease), true) => self.store_leased(lease, bytes.clone(), ttl).await?,
                    (None, true) => self.store_for_load(key, bytes.clone(), ttl).await?,
                    (Some(lease), false) => self.release_lease(lease).await,
                    (None, false) => {}
                }
                loaded = Some(value);
                Ok(bytes)
            })
            .await;
        match loaded {
            Some(value) => Ok((value, false)),
            None => codec::decode(key, &shared?).map(|value| (value, false)),
        }
    }

    /// Runs `load` now, whatever is stored, and stores its value if it is to be kept (a memoized
    /// function's `forced_update`): no read, so neither a hit nor a miss; counted as a load. A
    /// backend failure on the write is counted and logged, not returned.
    pub(crate) async fn load_forced<T, F, Fut, E>(&self, key: &str, ttl: Ttl, load: F) -> Result<T>
    where
        T: Serialize,
        F: FnOnce() -> Fut,
        Fut: Future<Output = std::result::Result<Loaded<T>, E>>,
        E: Into<BoxError>,
    {
        self.inner.counters.loads.fetch_add(1, Relaxed);
        let Loaded { value, keep } = run_loader(load).await?;
        if keep {
            let bytes = self.inner.config.codec.encode(key, &value)?;
            self.store_for_load(key, bytes, ttl).await?;
        }
        Ok(value)
    }

    /// Runs `load` without the cache (the backend is unavailable): counted as a load.
    pub(crate) async fn load_uncached<T, F, Fut, E>(&self, load: F) -> Result<T>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = std::result::Result<T, E>>,
        E: Into<BoxError>,
    {
        self.inner.counters.loads.fetch_add(1, Relaxed);
        run_loader(load).await
    }

    /// A read on the way to a load: the stored bytes and their value, or `Ok(None)` for a miss, a
    /// value `is_stale` rejects, a backend failure or a value that does not decode as `T` (those
    /// two counted and logged); `Err` only for the caller's mistakes.
    async fn read_for_load<T: DeserializeOwned>(
        &self,
        key: &str,
        count: bool,
        is_stale: &impl Fn(&T) -> bool,
    ) -> Result<Option<(Bytes, T)>> {
        let timer = observe::Timer::start();
        let found = match self.read_at_once(key, timer) {
            Some(found) => found,
            None => self.read_waiting(key, timer).await,
        };
        let found = match found {
            Ok(found) => found,
            Err(e) if e.is_backend_failure() => {
                self.note_backend_failure("get", key, &e, "cache read failed; loading the value instead");
                None
            }
            Err(e) => return Err(e),
        };
        let found = match found {
            Some(bytes) => match codec::decode::<T>(key, &bytes) {
                Ok(value) if is_stale(&value) => {
                    tracing::debug!(key = %super::ShortKey(key), "the stored value is stale by the caller's judgement");
                    None
                }
                Ok(value) => Some((bytes, value)),
                Err(e) => {
                    self.inner.counters.errors.fetch_add(1, Relaxed);
                    tracing::warn!(key = %ShortKey(key), error = %e, "a cached value does not decode; loading it again");
                    None
                }
            },
            None => None,
        };
        if count {
            self.count_read(found.is_some());
            if found.is_none() {
                tracing::debug!(key = %super::ShortKey(key), "cache miss: loading the value");
            }
        }
        Ok(found)
    }

    /// The write after a load: a backend failure is counted and logged, not returned.
    pub(crate) async fn store_for_load(&self, key: &str, bytes: Bytes, ttl: Ttl) -> Result<()> {
        match self.guarded("set", self.inner.backend.set(key, bytes, ttl)).await {
            Err(e) if e.is_backend_failure() => {
                self.note_backend_failure("set", key, &e, "cache write failed; the loaded value is returned uncached");
                Ok(())
            }
            other => other,
        }
    }
}

/// A loader's value and whether the cache may keep it: a memoized function's `response_filter`
/// or `cache_none` may say no, and the value is then returned without being stored.
pub(crate) struct Loaded<T> {
    pub(crate) value: T,
    pub(crate) keep: bool,
}

impl<T> Loaded<T> {
    /// A value to store.
    pub(crate) fn kept(value: T) -> Loaded<T> {
        Loaded { value, keep: true }
    }
}

/// The judgement of callers that have none: no stored value is stale.
pub(crate) fn never_stale<T>(_: &T) -> bool {
    false
}

/// Runs a loader; its error or panic becomes a [`CacheError::Loader`] that every waiter can share.
pub(crate) async fn run_loader<T, F, Fut, E>(load: F) -> Result<T>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = std::result::Result<T, E>>,
    E: Into<BoxError>,
{
    match AssertUnwindSafe(load()).catch_unwind().await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(CacheError::Loader(Arc::from(e.into()))),
        Err(panic) => {
            let message = LoaderPanicked::from_payload(panic.as_ref());
            tracing::error!(panic = %message.0, "a cache loader panicked; every caller waiting for it gets an error");
            Err(CacheError::Loader(Arc::new(message)))
        }
    }
}

/// The source of a [`CacheError::Loader`] whose loader panicked.
#[derive(Debug)]
struct LoaderPanicked(String);

impl LoaderPanicked {
    fn from_payload(payload: &(dyn std::any::Any + Send)) -> LoaderPanicked {
        let text = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic without a message".to_owned());
        LoaderPanicked(text)
    }
}

impl std::fmt::Display for LoaderPanicked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the loader panicked: {}", self.0)
    }
}

impl std::error::Error for LoaderPanicked {}
