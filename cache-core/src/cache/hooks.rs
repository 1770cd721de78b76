//! Hooks on the cache's events (Flask-Caching's signals): [`Cache::on_event`], and
//! [`Cache::emit`] for layers built on the cache.

use std::sync::Arc;

use super::Cache;
use crate::CacheEvent;

impl Cache {
    /// Calls `hook` for every [`CacheEvent`] of this cache and its clones: each hit, miss, store
    /// and invalidation of a memoized function, and of cached views when an HTTP layer reports
    /// them. Hooks run in the order registered, on the task that made the call, so they should
    /// be quick (count, enqueue); one that panics is logged and skipped.
    ///
    /// Registered for the cache's life (there is no removal: keep a flag in the hook to mute
    /// it). Without hooks, an event costs one atomic load.
    ///
    /// ```
    /// # use std::sync::{Arc, Mutex};
    /// # use cachette_core::{Cache, EventKind, EventSource, Ttl};
    /// # async fn demo(cache: Cache) -> cachette_core::Result<()> {
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let log = seen.clone();
    /// cache.on_event(move |event| {
    ///     if let EventSource::Memoized { function } = event.source {
    ///         log.lock().unwrap().push((function.to_owned(), event.kind));
    ///     }
    /// });
    /// cache.memoize("app::answer", &(), Ttl::Default, || async { Ok::<_, std::io::Error>(42) }).await?;
    /// cache.memoize("app::answer", &(), Ttl::Default, || async { Ok::<_, std::io::Error>(42) }).await?;
    /// let kinds: Vec<EventKind> = seen.lock().unwrap().iter().map(|(_, kind)| *kind).collect();
    /// assert_eq!(kinds, [EventKind::Miss, EventKind::Store, EventKind::Hit]);
    /// # Ok(()) }
    /// ```
    pub fn on_event(&self, hook: impl Fn(&CacheEvent<'_>) + Send + Sync + 'static) {
        self.inner.hooks.add(Arc::new(hook));
    }

    /// Delivers `event` to the hooks: for a layer built on the cache (the HTTP layer reports its
    /// views' hits, misses, stores and invalidations with [`EventSource::View`](crate::EventSource)).
    /// Costs one atomic load when no hook is registered; check [`has_hooks`](Cache::has_hooks)
    /// first if building the event costs something.
    #[inline]
    pub fn emit(&self, event: &CacheEvent<'_>) {
        self.inner.hooks.emit(event);
    }

    /// Whether any hook is registered.
    #[inline]
    pub fn has_hooks(&self) -> bool {
        self.inner.hooks.any()
    }
}
