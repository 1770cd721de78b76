//! `get_or_set_with`: loading with a stale window — stale-while-revalidate, stale-if-error and
//! loader deadlines for computed values, as the HTTP layer has them for views.
//!
//! A value stored this way carries a stamp: when its fresh period ends, and how long its load
//! took (for early refresh). The backend keeps it for the fresh period plus the longer of the two
//! stale windows, so that a stale value is there to serve:
//!
//! * within `stale_while_revalidate` after the fresh period, the stale value is returned at once
//!   and one background refresh loads a new one (once per key in this process, and once per key
//!   across processes through a short lock in the cache — the lock the HTTP layer uses too);
//! * within `stale_if_error`, the loader runs, and if it fails, panics or misses the hard
//!   deadline the stale value is returned instead;
//! * with a `soft_deadline`, a load that takes longer while a stale value exists returns the
//!   stale value and goes on in the background to store its own.
//!
//! The stored form is the [envelope](super::envelope): the fresh-until time, the load's duration,
//! the policy's tags with their versions, then the value. A plain [`Cache::get`] reads it too.

use std::fmt::Write;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::envelope;
use super::lease::{Lease, Leased};
use super::load::{Loaded, never_stale, run_loader};
use super::load_policy::LoadPolicy;
use super::{Cache, unix_ms};
use tracing::Instrument;

use crate::observe::ShortKey;
use crate::observe::span::{self, in_operation, operation_span};
use crate::{BoxError, CacheError, Result, Ttl, codec};

/// A stored value and when it stops being fresh.
struct Stamped<T> {
    /// `None`: never stale.
    fresh_until_ms: Option<u64>,
    /// How long the load that wrote it took.
    load_ms: u32,
    value: T,
}

fn decode_stamped<T: DeserializeOwned>(key: &str, bytes: &[u8]) -> Result<Stamped<T>> {
    if !envelope::is_envelope(bytes) {
        return Err(CacheError::codec(key, "not a value written by get_or_set_with (no envelope)"));
    }
    let envelope = envelope::decode(key, bytes)?;
    Ok(Stamped {
        fresh_until_ms: envelope.fresh_until_ms,
        load_ms: envelope.load_ms,
        value: codec::decode(key, envelope.value)?,
    })
}

/// Where a stored value stands at a given time.
enum Found<T> {
    Fresh(T),
    /// Fresh, and picked for an early refresh: serve it and refresh behind.
    RefreshEarly(T),
    /// Within stale-while-revalidate: serve it and refresh behind.
    Revalidate(T),
    /// Within stale-if-error only: load, and fall back to it.
    Fallback(T),
    Missing,
}

impl<T> Found<T> {
    /// The state, for tracing: why a read loaded.
    fn name(&self) -> &'static str {
        match self {
            Found::Fresh(_) => "fresh",
            Found::RefreshEarly(_) => "fresh, refreshed early",
            Found::Revalidate(_) => "stale, refreshed behind",
            Found::Fallback(_) => "stale past its window, loading (kept as a fallback)",
            Found::Missing => "missing, loading",
        }
    }
}

/// Where `found` stands at `now_ms`; `u` is a uniform draw in (0, 1] for the early refresh.
fn classify<T>(found: Option<Stamped<T>>, policy: &LoadPolicy, now_ms: u64, u: f64) -> Found<T> {
    let Some(Stamped { fresh_until_ms, load_ms, value }) = found else { return Found::Missing };
    let Some(until) = fresh_until_ms else { return Found::Fresh(value) };
    let within =
        |window: Duration| now_ms < until.saturating_add(u64::try_from(window.as_millis()).unwrap_or(u64::MAX));
    if now_ms < until {
        match policy.early_refresh {
            Some(beta) if super::early::due(now_ms, until, load_ms, beta, u) => Found::RefreshEarly(value),
            _ => Found::Fresh(value),
        }
    } else if within(policy.stale_while_revalidate) {
        Found::Revalidate(value)
    } else if within(policy.stale_if_error) {
        Found::Fallback(value)
    } else {
        Found::Missing
    }
}

/// The source of a [`CacheError::Loader`] for a load that missed its hard deadline.
#[derive(Debug)]
struct LoaderDeadline(Duration);

impl std::fmt::Display for LoaderDeadline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the loader did not finish within {:?} (LoadPolicy::hard_deadline); it goes on in the background and \
             stores its value",
            self.0
        )
    }
}

impl std::error::Error for LoaderDeadline {}

impl Cache {
    /// The value under `key`, or the result of `load`, kept as `policy` says: with a fresh period,
    /// a stale-while-revalidate window (a stale value is returned at once and refreshed once in
    /// the background), a stale-if-error grace (a stale value stands in for a failing loader),
    /// and soft and hard deadlines for the loader. See [`LoadPolicy`].
    ///
    /// Like [`get_or_set`](Cache::get_or_set) it is single-flight and fail-safe: a backend
    /// failure never fails the call. The loader must be `Send + 'static`, because a refresh or a
    /// load past its deadline goes on in a background task. Read and write a key either with
    /// this or with `get_or_set`, not both: values written here carry a stamp.
    ///
    /// ```
    /// use std::time::Duration;
    /// use cachette_core::{Cache, LoadPolicy};
    ///
    /// async fn report(cache: &Cache) -> cachette_core::Result<String> {
    ///     let policy = LoadPolicy::new(Duration::from_secs(60)).stale_while_revalidate(Duration::from_secs(600));
    ///     cache
    ///         .get_or_set_with("report", &policy, || async {
    ///             Ok::<_, std::io::Error>("today's numbers".to_string()) // the slow part
    ///         })
    ///         .await
    /// }
    /// ```
    pub async fn get_or_set_with<T, F, Fut, E>(&self, key: &str, policy: &LoadPolicy, load: F) -> Result<T>
    where
        T: Serialize + DeserializeOwned + Send + 'static,
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = std::result::Result<T, E>> + Send + 'static,
        E: Into<BoxError>,
    {
        let operation = operation_span!("get_or_set_with", self, key);
        let served = in_operation(operation, span::served, self.get_or_set_with_served(key, policy, load));
        served.await.map(|(value, _)| value)
    }

    /// [`get_or_set_with`](Cache::get_or_set_with), and whether a cached value (fresh or stale)
    /// was served.
    pub(crate) async fn get_or_set_with_served<T, F, Fut, E>(
        &self,
        key: &str,
        policy: &LoadPolicy,
        load: F,
    ) -> Result<(T, bool)>
    where
        T: Serialize + DeserializeOwned + Send + 'static,
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = std::result::Result<T, E>> + Send + 'static,
        E: Into<BoxError>,
    {
        let load = || async move { load().await.map(Loaded::kept) };
        self.get_or_set_with_judged(key, policy, never_stale, load).await
    }

    /// [`get_or_set_with_served`](Cache::get_or_set_with_served) with the caller's judgement of
    /// values, as [`get_or_set_judged`](Cache::get_or_set_judged): a stored value `is_stale`
    /// rejects is missing (not even a stale-if-error fallback), and a value the loader says not
    /// to keep is returned without being stored.
    pub(crate) async fn get_or_set_with_judged<T, S, F, Fut, E>(
        &self,
        key: &str,
        policy: &LoadPolicy,
        is_stale: S,
        load: F,
    ) -> Result<(T, bool)>
    where
        T: Serialize + DeserializeOwned + Send + 'static,
        S: Fn(&T) -> bool + Send + Sync + 'static,
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = std::result::Result<Loaded<T>, E>> + Send + 'static,
        E: Into<BoxError>,
    {
        let completed = self.inner.flights.completed();
        let (found, seen) = self.read_stamped::<T>(key, policy).await?;
        let found = found.filter(|stamped| !is_stale(&stamped.value));
        let found = classify(found, policy, unix_ms(SystemTime::now()), super::early::uniform());
        let hit = matches!(found, Found::RefreshEarly(_) | Found::Fresh(_) | Found::Revalidate(_));
        self.count_read(hit);
        tracing::debug!(key = %super::ShortKey(key), state = found.name(), "cache read with a load policy");
        let flight = Flight { key, policy: policy.clone(), is_stale, completed, seen };
        let value = match found {
            Found::RefreshEarly(value) => {
                self.refresh_behind(key, policy.clone(), load);
                value
            }
            Found::Fresh(value) => value,
            Found::Revalidate(value) => {
                self.inner.counters.stale.fetch_add(1, Relaxed);
                self.refresh_behind(key, policy.clone(), load);
                value
            }
            Found::Fallback(value) => self.load_stamped(flight, load, Some(value)).await?,
            Found::Missing => self.load_stamped(flight, load, None).await?,
        };
        Ok((value, hit))
    }

    /// Loads `key` now, whatever is stored, and stores its value as `policy` says if it is to be
    /// kept (a memoized function's `forced_update`): no read, so neither a hit nor a miss.
    pub(crate) async fn load_forced_with<T, F, Fut, E>(&self, key: &str, policy: &LoadPolicy, load: F) -> Result<T>
    where
        T: Serialize + DeserializeOwned,
        F: FnOnce() -> Fut,
        Fut: Future<Output = std::result::Result<Loaded<T>, E>>,
        E: Into<BoxError>,
    {
        let bytes = self.load_and_store(key, policy, load, None).await?;
        decode_stamped(key, &bytes).map(|stamped| stamped.value)
    }

    /// The stamped value under `key`, read with the policy's tags' versions in one round trip; a
    /// miss for a backend failure, an undecodable value (both counted and logged) or an
    /// invalidated tag. With the versions the read saw (see [`Seen`]).
    async fn read_stamped<T: DeserializeOwned>(
        &self,
        key: &str,
        policy: &LoadPolicy,
    ) -> Result<(Option<Stamped<T>>, Seen)> {
        let (bytes, seen) = match self.get_current_quietly_seen(key, &policy.tag_names()).await {
            Ok((found, versions)) => (found, Seen(Some(versions))),
            Err(e) if e.is_backend_failure() => {
                self.note_backend_failure("get", key, &e, "cache read failed; loading the value instead");
                (None, Seen(None))
            }
            Err(e) => return Err(e),
        };
        let Some(bytes) = bytes else { return Ok((None, seen)) };
        match decode_stamped(key, &bytes) {
            Ok(stamped) => Ok((Some(stamped), seen)),
            Err(e) => {
                self.inner.counters.errors.fetch_add(1, Relaxed);
                tracing::warn!(key = %ShortKey(key), error = %e, "a cached value does not decode; loading it again");
                Ok((None, seen))
            }
        }
    }

    /// Loads as the one flight of `key`, waiting at most the policy's deadline; a stale value
    /// stands in for a failed or late load.
    async fn load_stamped<T, S, F, Fut, E>(&self, flight: Flight<'_, S>, load: F, stale: Option<T>) -> Result<T>
    where
        T: Serialize + DeserializeOwned + Send + 'static,
        S: Fn(&T) -> bool + Send + Sync + 'static,
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = std::result::Result<Loaded<T>, E>> + Send + 'static,
        E: Into<BoxError>,
    {
        let Flight { key, policy, is_stale, completed, seen } = flight;
        let limit = policy.wait_limit(stale.is_some());
        let has_stale = stale.is_some();
        let flight = {
            let (cache, key) = (self.clone(), key.to_owned());
            let flight_key = seen.flight_key(&key, &policy);
            async move {
                let inner = &cache.inner;
                let usable = |bytes: &Bytes, fresh_now: bool| {
                    decode_stamped::<T>(&key, bytes).is_ok_and(|s| {
                        !is_stale(&s.value)
                            && (!fresh_now || s.fresh_until_ms.is_none_or(|until| unix_ms(SystemTime::now()) < until))
                    })
                };
                inner
                    .flights
                    .run(&flight_key, || async {
                        // Another load of this key finished since our read: use its value (when
                        // it has no tags to check again).
                        if inner.flights.completed() != completed
                            && policy.tags.is_empty()
                            && let Ok(Some(bytes)) = cache.guarded("get", inner.backend.get(&key)).await
                            && usable(&bytes, true)
                        {
                            return Ok(bytes);
                        }
                        // Nothing to stand in: one process of many loads (see lease.rs); with a
                        // stale value at hand nobody waits, and the refresh lock keeps it to one.
                        let lease = if has_stale { Leased::None } else { cache.lease(&key).await? };
                        let lease = match lease {
                            Leased::Loaded(bytes)
                                if usable(&bytes, false) && seen.stored_after(&key, &bytes, &policy) =>
                            {
                                return Ok(bytes);
                            }
                            Leased::Granted(lease) => Some(lease),
                            Leased::Loaded(_) | Leased::None => None,
                        };
                        cache.load_and_store(&key, &policy, load, lease).await
                    })
                    .await
            }
        };
        let outcome = match limit {
            None => flight.await,
            // The load goes on past the deadline in its own task, under the operation's span.
            Some(limit) => match tokio::time::timeout(limit, tokio::spawn(flight.in_current_span())).await {
                Ok(Ok(outcome)) => outcome,
                Ok(Err(join)) => Err(CacheError::Loader(Arc::new(join))),
                Err(_) => Err(CacheError::Loader(Arc::new(LoaderDeadline(limit)))),
            },
        };
        match (outcome, stale) {
            (Ok(bytes), _) => decode_stamped(key, &bytes).map(|s| s.value),
            (Err(e @ CacheError::Loader(_)), Some(stale)) => {
                self.inner.counters.stale.fetch_add(1, Relaxed);
                tracing::warn!(key = %ShortKey(key), error = %e, "the loader failed or is late; returning the stale value (stale-if-error)");
                Ok(stale)
            }
            (Err(e), _) => Err(e),
        }
    }

    /// Runs the loader and stores its value in an envelope (fresh-until, load time, the tags'
    /// versions as they were before the load, so that an invalidation during the load makes its
    /// value a miss); a failed write is logged, not returned.
    async fn load_and_store<T, F, Fut, E>(
        &self,
        key: &str,
        policy: &LoadPolicy,
        load: F,
        lease: Option<Lease>,
    ) -> Result<Bytes>
    where
        T: Serialize,
        F: FnOnce() -> Fut,
        Fut: Future<Output = std::result::Result<Loaded<T>, E>>,
        E: Into<BoxError>,
    {
        let loaded = self.load_enveloped(key, policy, load).await;
        match (loaded, lease) {
            (Ok((bytes, ttl)), Some(lease)) => {
                match ttl {
                    Some(ttl) => self.store_leased(lease, bytes.clone(), ttl).await?,
                    None => self.release_lease(lease).await,
                }
                Ok(bytes)
            }
            (Ok((bytes, ttl)), None) => {
                if let Some(ttl) = ttl {
                    self.store_for_load(key, bytes.clone(), ttl).await?;
                }
                Ok(bytes)
            }
            (Err(e), lease) => {
                if let Some(lease) = lease {
                    self.release_lease(lease).await;
                }
                Err(e)
            }
        }
    }

    /// Runs the loader and puts its value in an envelope; with the lifetime to store it for, or
    /// `None` when it must not be stored (its tags' versions could not be read, or the loader
    /// says not to keep it).
    async fn load_enveloped<T, F, Fut, E>(
        &self,
        key: &str,
        policy: &LoadPolicy,
        load: F,
    ) -> Result<(Bytes, Option<Ttl>)>
    where
        T: Serialize,
        F: FnOnce() -> Fut,
        Fut: Future<Output = std::result::Result<Loaded<T>, E>>,
        E: Into<BoxError>,
    {
        let tags = policy.tag_names();
        let versions = self.tag_versions(&tags, true).await?;
        self.inner.counters.loads.fetch_add(1, Relaxed);
        let started = Instant::now();
        let Loaded { value, keep } = run_loader(load).await?;
        let now = SystemTime::now();
        let fresh_for = policy.fresh.resolve(self.inner.config.default_timeout).remaining(now);
        let fresh_until_ms = fresh_for.and_then(|d| now.checked_add(d)).map(unix_ms);
        let load_ms = u32::try_from(started.elapsed().as_millis()).unwrap_or(u32::MAX);
        let recorded: Vec<(&str, u64)> = match &versions {
            Some(v) => tags.iter().copied().zip(v.iter().map(|v| v.unwrap_or(0))).collect(),
            None => Vec::new(),
        };
        let inner = self.inner.config.codec.encode(key, &value)?;
        let bytes = envelope::encode(key, fresh_until_ms, load_ms, &recorded, &inner)?;
        // The tags' versions could not be read: storing could outlive an invalidation.
        let ttl = (keep && versions.is_some()).then(|| policy.backend_ttl(fresh_for));
        Ok((bytes, ttl))
    }

    /// Starts the one background refresh of a stale `key`, unless this process or another runs
    /// one already (an atomic `add` of `<key>\nrefreshing` in the cache, held at most a minute in
    /// case its holder dies).
    fn refresh_behind<T, F, Fut, E>(&self, key: &str, policy: LoadPolicy, load: F)
    where
        T: Serialize + Send + 'static,
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = std::result::Result<Loaded<T>, E>> + Send + 'static,
        E: Into<BoxError>,
    {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        if !self.inner.refreshing.lock().unwrap_or_else(|p| p.into_inner()).insert(key.to_owned()) {
            return;
        }
        let (cache, key) = (self.clone(), key.to_owned());
        // A span of its own, a child of the operation that started it (which has ended by then).
        let span = tracing::debug_span!("cachette.refresh", backend = self.inner.backend.type_name(), key = %ShortKey(&key), operation = "refresh");
        let refresh = async move {
            let _done = Unmark { cache: cache.clone(), key: key.clone() };
            let lock = format!("{key}\nrefreshing");
            let hold = Ttl::After(policy.stale_while_revalidate.clamp(Duration::from_secs(1), Duration::from_secs(60)));
            if !matches!(cache.internal_add(&lock, &true, hold).await, Ok(true)) {
                return;
            }
            cache.inner.counters.refreshes.fetch_add(1, Relaxed);
            if let Err(e) = cache.load_and_store(&key, &policy, load, None).await {
                tracing::warn!(key = %ShortKey(&key), error = %e, "a background refresh failed; the stale value stays");
            }
            let _ = cache.internal_delete(&lock).await;
        };
        runtime.spawn(refresh.instrument(span));
    }
}

/// What a load as the one flight of a key needs besides its loader: the key, the policy, the
/// caller's judgement of stored values, and the flight count seen before the read.
struct Flight<'k, S> {
    key: &'k str,
    policy: LoadPolicy,
    is_stale: S,
    completed: u64,
    seen: Seen,
}

/// The versions of a policy's tags that the read before a load saw, in the policy's order
/// (`None`: the read failed). A caller whose read saw a tag's newer version (it began after an
/// invalidation) must not be handed a value loaded under an older one: not by joining a load
/// that began before the invalidation, nor by waiting on another process's lease.
struct Seen(Option<Vec<Option<u64>>>);

impl Seen {
    /// The key of the load's flight: `key`, with the versions seen when the policy has tags, so
    /// that only callers that saw the same versions share a load.
    fn flight_key(&self, key: &str, policy: &LoadPolicy) -> String {
        let Some(versions) = self.0.as_ref().filter(|_| !policy.tags.is_empty()) else { return key.to_owned() };
        let mut flight = String::with_capacity(key.len() + 17 * versions.len() + 6);
        flight.push_str(key);
        flight.push_str("\ntags");
        for version in versions {
            let _ = write!(flight, ":{:x}", version.unwrap_or(0));
        }
        flight
    }

    /// Whether `bytes`, stored under `key` by another load (a lease holder's), may stand for a
    /// load of this caller's: with no tags, always; with tags, if it recorded every tag at the
    /// version this caller's read saw (or at a first version drawn by a write where the read saw
    /// none), so that no invalidation came between that read and its load.
    fn stored_after(&self, key: &str, bytes: &[u8], policy: &LoadPolicy) -> bool {
        if policy.tags.is_empty() {
            return true;
        }
        let Some(seen) = &self.0 else { return false };
        Cache::records_versions_seen(key, bytes, &policy.tag_names(), seen)
    }
}

/// Takes a key off this process's refreshes when its refresh ends (or is dropped).
struct Unmark {
    cache: Cache,
    key: String,
}

impl Drop for Unmark {
    fn drop(&mut self) {
        self.cache.inner.refreshing.lock().unwrap_or_else(|p| p.into_inner()).remove(&self.key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_is_fresh_then_revalidated_then_a_fallback_then_missing() {
        let policy = LoadPolicy::new(Duration::from_secs(10))
            .stale_while_revalidate(Duration::from_secs(5))
            .stale_if_error(Duration::from_secs(20));
        let at = |now_ms| classify(stamped(10_000, 0), &policy, now_ms, 0.5);
        assert!(matches!(at(9_999), Found::Fresh(())));
        assert!(matches!(at(10_000), Found::Revalidate(())));
        assert!(matches!(at(14_999), Found::Revalidate(())));
        assert!(matches!(at(15_000), Found::Fallback(())));
        assert!(matches!(at(29_999), Found::Fallback(())));
        assert!(matches!(at(30_000), Found::Missing));
    }

    fn stamped(fresh_until_ms: u64, load_ms: u32) -> Option<Stamped<()>> {
        Some(Stamped { fresh_until_ms: Some(fresh_until_ms), load_ms, value: () })
    }

    #[test]
    fn early_refresh_picks_reads_near_the_end_weighted_by_the_load_time() {
        let policy = LoadPolicy::new(Duration::from_secs(10)).early_refresh(1.0);
        let early = |now_ms, load_ms, u| {
            matches!(classify(stamped(10_000, load_ms), &policy, now_ms, u), Found::RefreshEarly(()))
        };
        // A 100 ms load, u = 1/e: refreshed from 100 ms before the end.
        let u = (-1.0f64).exp();
        assert!(!early(9_899, 100, u));
        assert!(early(9_901, 100, u));
        // A longer load starts earlier; a draw near 1 almost never refreshes early.
        assert!(early(9_000, 2_000, u));
        assert!(!early(9_999 - 1, 100, 1.0));
        // Without the option, fresh is fresh.
        let plain = LoadPolicy::new(Duration::from_secs(10));
        assert!(matches!(classify(stamped(10_000, 100), &plain, 9_999, 1e-9), Found::Fresh(())));
        assert_eq!(LoadPolicy::new(Ttl::Default).early_refresh(f64::NAN).early_refresh, None);
    }

    #[test]
    fn the_wait_is_the_soft_deadline_only_when_a_stale_value_can_stand_in() {
        let s = Duration::from_millis(100);
        let h = Duration::from_secs(2);
        let both = LoadPolicy::new(Ttl::Default).soft_deadline(s).hard_deadline(h);
        assert_eq!((both.wait_limit(true), both.wait_limit(false)), (Some(s), Some(h)));
        let soft = LoadPolicy::new(Ttl::Default).soft_deadline(s);
        assert_eq!((soft.wait_limit(true), soft.wait_limit(false)), (Some(s), None));
    }
}
