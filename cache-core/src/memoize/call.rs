//! The calls of a memoized function: through the cache (`call`, `get_or_set`, with a
//! `LoadPolicy` or not), around it (`call_uncached`, `load_uncached`), and what each reports.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::Memoized;
use super::options::Judge;
use super::slot::LoadSlot;
use crate::cache::{Loaded, run_loader};
use crate::observe::span::{self, in_operation, operation_span};
use crate::observe::{self, ShortKey};
use crate::{BoxError, CacheEvent, EventKind, EventSource, LoadPolicy, Result};

impl Memoized {
    /// The memoized result for `args`, or `load()`'s, stored and returned (single-flight, as
    /// [`Cache::get_or_set`](crate::Cache::get_or_set)), as the handle's options say.
    pub async fn call<A, T, F, Fut, E>(&self, args: &A, load: F) -> Result<T>
    where
        A: Serialize + ?Sized,
        T: Serialize + DeserializeOwned + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = std::result::Result<T, E>>,
        E: Into<BoxError>,
    {
        if self.options.unless.holds() {
            return self.call_uncached(load).await;
        }
        match self.key_if_available(args).await? {
            Some(key) => self.get_or_set(&key, load).await,
            None => self.load_uncached(load).await,
        }
    }

    /// The memoized result for `args` kept as `policy` says — a stale window, loader deadlines —
    /// or `load()`'s: [`Cache::get_or_set_with`](crate::Cache::get_or_set_with) under the
    /// function's key, as the handle's options say. The loader must be `Send + 'static` (a
    /// refresh runs in the background).
    pub async fn call_with<A, T, F, Fut, E>(&self, args: &A, policy: &LoadPolicy, load: F) -> Result<T>
    where
        A: Serialize + ?Sized,
        T: Serialize + DeserializeOwned + Send + 'static,
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = std::result::Result<T, E>> + Send + 'static,
        E: Into<BoxError>,
    {
        if self.options.unless.holds() {
            return self.call_uncached(load).await;
        }
        match self.key_if_available(args).await? {
            Some(key) => self.get_or_set_with(&key, policy, load).await,
            None => self.load_uncached(load).await,
        }
    }

    /// The lookup of [`call`](Memoized::call) under a key from [`key`](Memoized::key):
    /// [`Cache::get_or_set`](crate::Cache::get_or_set) with the function's lifetime and the
    /// handle's `cache_none`, `forced_update`, `is_stale` and `response_filter`, counted and
    /// reported as a call of the function (for callers, like `#[memoize]`, whose loader takes the
    /// arguments by value; such a caller checks `unless` itself, before [`key`](Memoized::key)).
    pub async fn get_or_set<T, F, Fut, E>(&self, key: &str, load: F) -> Result<T>
    where
        T: Serialize + DeserializeOwned + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = std::result::Result<T, E>>,
        E: Into<BoxError>,
    {
        let operation = operation_span!("memoize", self.cache, key, function = %self.function);
        in_operation(operation, span::named, self.get_or_set_unobserved(key, load)).await.map(|(value, _)| value)
    }

    /// [`get_or_set`](Memoized::get_or_set), and its outcome for its span.
    async fn get_or_set_unobserved<T, F, Fut, E>(&self, key: &str, load: F) -> Result<(T, &'static str)>
    where
        T: Serialize + DeserializeOwned + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = std::result::Result<T, E>>,
        E: Into<BoxError>,
    {
        let judge = self.options.judge::<T>(&self.function)?;
        let slot = LoadSlot::default();
        let load = || self.timed(key, &slot, &judge, load);
        if self.options.forced_update.holds() {
            let value = self.cache.load_forced(key, self.ttl, load).await?;
            self.note_forced(key, &slot);
            return Ok((value, "forced"));
        }
        let is_stale = |value: &T| judge.is_stale(value);
        let (value, hit) = self.cache.get_or_set_judged(key, self.ttl, is_stale, load).await?;
        self.note_call(key, hit, &slot);
        Ok((value, if hit { "hit" } else { "miss" }))
    }

    /// [`get_or_set`](Memoized::get_or_set) kept as `policy` says
    /// ([`Cache::get_or_set_with`](crate::Cache::get_or_set_with)). A background refresh
    /// reports its store when it ends.
    pub async fn get_or_set_with<T, F, Fut, E>(&self, key: &str, policy: &LoadPolicy, load: F) -> Result<T>
    where
        T: Serialize + DeserializeOwned + Send + 'static,
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = std::result::Result<T, E>> + Send + 'static,
        E: Into<BoxError>,
    {
        let operation = operation_span!("memoize", self.cache, key, function = %self.function);
        let kept = in_operation(operation, span::named, self.get_or_set_with_unobserved(key, policy, load));
        kept.await.map(|(value, _)| value)
    }

    /// [`get_or_set_with`](Memoized::get_or_set_with), and its outcome for its span.
    async fn get_or_set_with_unobserved<T, F, Fut, E>(
        &self,
        key: &str,
        policy: &LoadPolicy,
        load: F,
    ) -> Result<(T, &'static str)>
    where
        T: Serialize + DeserializeOwned + Send + 'static,
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = std::result::Result<T, E>> + Send + 'static,
        E: Into<BoxError>,
    {
        let judge = self.options.judge::<T>(&self.function)?;
        // The loader may outlive the call (a refresh behind): timing it for the metrics and the
        // hooks needs a handle of its own, made only when someone listens.
        if !cfg!(feature = "metrics") && !self.cache.has_hooks() {
            let loader_judge = judge.clone();
            let load = move || async move {
                let value = load().await?;
                let keep = loader_judge.keeps(&value);
                Ok::<_, E>(Loaded { value, keep })
            };
            return self.kept_with(key, policy, judge, load, &LoadSlot::default()).await;
        }
        let slot = Arc::new(LoadSlot::default());
        let (this, owned_key, loader_slot, loader_judge) = (self.clone(), key.to_owned(), slot.clone(), judge.clone());
        let load = move || async move { this.timed(&owned_key, &loader_slot, &loader_judge, load).await };
        self.kept_with(key, policy, judge, load, &slot).await
    }

    /// The rest of [`get_or_set_with`](Memoized::get_or_set_with), with a loader that judges its
    /// value.
    async fn kept_with<T, F, Fut, E>(
        &self,
        key: &str,
        policy: &LoadPolicy,
        judge: Judge<T>,
        load: F,
        slot: &LoadSlot,
    ) -> Result<(T, &'static str)>
    where
        T: Serialize + DeserializeOwned + Send + 'static,
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = std::result::Result<Loaded<T>, E>> + Send + 'static,
        E: Into<BoxError>,
    {
        if self.options.forced_update.holds() {
            let value = self.cache.load_forced_with(key, policy, load).await?;
            self.note_forced(key, slot);
            return Ok((value, "forced"));
        }
        let is_stale = move |value: &T| judge.is_stale(value);
        let (value, hit) = self.cache.get_or_set_with_judged(key, policy, is_stale, load).await?;
        self.note_call(key, hit, slot);
        Ok((value, if hit { "hit" } else { "miss" }))
    }

    /// Runs `load` as if the function were not memoized (for when the cache is unavailable):
    /// counted as a load and as a miss of the function (reported to the hooks with an empty
    /// key, and no store), and a failure or panic of `load` is a
    /// [`CacheError::Loader`](crate::CacheError::Loader), as from
    /// [`Cache::get_or_set`](crate::Cache::get_or_set).
    pub async fn load_uncached<T, F, Fut, E>(&self, load: F) -> Result<T>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = std::result::Result<T, E>>,
        E: Into<BoxError>,
    {
        tracing::debug!(function = %self.function, "memoized call runs uncached: the backend is unavailable");
        let started = Instant::now();
        let r = self.cache.load_uncached(load).await;
        observe::memoize_load(&self.function, started.elapsed());
        observe::memoize_call(&self.function, false);
        self.event(EventKind::Miss, "", None);
        r
    }

    /// Runs `load` without the cache, as a call for which [`unless`](Memoized::unless) holds:
    /// no read, no write, no event, not counted in the stats or the metrics. A failure or panic
    /// of `load` is a [`CacheError::Loader`](crate::CacheError::Loader), as from
    /// [`call`](Memoized::call).
    pub async fn call_uncached<T, F, Fut, E>(&self, load: F) -> Result<T>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = std::result::Result<T, E>>,
        E: Into<BoxError>,
    {
        tracing::debug!(function = %self.function, "memoized call skips the cache (unless)");
        run_loader(load).await
    }

    /// Runs a loader of `key`, timed, and judges its value: its time goes to the metrics at once,
    /// and, if its value is to be stored, to the hooks' store event through `slot` (after the
    /// call's hit or miss), or from here if the call has already returned (a refresh behind).
    async fn timed<T, E, F, Fut>(
        &self,
        key: &str,
        slot: &LoadSlot,
        judge: &Judge<T>,
        load: F,
    ) -> std::result::Result<Loaded<T>, E>
    where
        T: Serialize,
        F: FnOnce() -> Fut,
        Fut: Future<Output = std::result::Result<T, E>>,
    {
        let started = Instant::now();
        let value = load().await?;
        let elapsed = started.elapsed();
        observe::memoize_load(&self.function, elapsed);
        let keep = judge.keeps(&value);
        if !keep {
            tracing::debug!(function = %self.function, key = %ShortKey(key), "the result is not stored: None (cache_none) or refused by response_filter");
        } else if !slot.offer(elapsed) {
            self.event(EventKind::Store, key, Some(elapsed));
        }
        Ok(Loaded { value, keep })
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

    /// Reports a forced update: its store, if its value was stored; no hit or miss (it did not read).
    fn note_forced(&self, key: &str, slot: &LoadSlot) {
        tracing::debug!(function = %self.function, key = %ShortKey(key), "memoized call forced an update");
        if let Some(load_time) = slot.take() {
            self.event(EventKind::Store, key, Some(load_time));
        }
    }

    pub(super) fn event(&self, kind: EventKind, key: &str, load_time: Option<Duration>) {
        let event = CacheEvent::new(kind, EventSource::Memoized { function: &self.function }, key);
        self.cache.emit(&match load_time {
            Some(elapsed) => event.with_load_time(elapsed),
            None => event,
        });
    }
}
