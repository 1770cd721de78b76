//! Hooks: [`CacheEvent`]s delivered to the callbacks registered with
//! [`Cache::on_event`](crate::Cache::on_event).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// What happened, in a [`CacheEvent`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EventKind {
    /// A value was served from the cache.
    Hit,
    /// No usable value was cached: the value was (or is being) computed.
    Miss,
    /// A computed value was handed to the cache to store (a backend failure on that write is
    /// logged and counted in [`CacheStats::errors`](crate::CacheStats)).
    Store,
    /// Cached values were forgotten: one entry, or every argument set of a function.
    Invalidate,
}

/// Where an event comes from: bounded names, never a raw URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EventSource<'a> {
    /// A memoized function ([`Memoized`](crate::Memoized), `#[memoize]`), by its name.
    Memoized {
        /// The function's name in keys ([`Memoized::function`](crate::Memoized::function)).
        function: &'a str,
    },
    /// A cached view of an HTTP layer, by its route template.
    View {
        /// The route (such as `/users/{id}`), not the request's URL.
        route: &'a str,
    },
}

/// One hit, miss, store or invalidation, as hooks receive it.
///
/// `key` is the cache key concerned (for an invalidation of every argument set of a function, its
/// version key; empty when the backend was unavailable and the call ran uncached). It can hold
/// user input: hash or truncate it before logging or exporting it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct CacheEvent<'a> {
    /// What happened.
    pub kind: EventKind,
    /// Which function or view.
    pub source: EventSource<'a>,
    /// The cache key.
    pub key: &'a str,
    /// For [`EventKind::Store`]: how long the loader or handler took.
    pub load_time: Option<Duration>,
}

impl<'a> CacheEvent<'a> {
    /// An event of `kind` from `source` about `key`.
    pub fn new(kind: EventKind, source: EventSource<'a>, key: &'a str) -> CacheEvent<'a> {
        CacheEvent { kind, source, key, load_time: None }
    }

    /// The same event with the loader's (or handler's) time.
    pub fn with_load_time(mut self, load_time: Duration) -> CacheEvent<'a> {
        self.load_time = Some(load_time);
        self
    }
}

type Hook = Arc<dyn Fn(&CacheEvent<'_>) + Send + Sync>;

/// The hooks of one cache. `any` is read on every event; the list only once there is a hook.
#[derive(Default)]
pub(crate) struct Hooks {
    any: AtomicBool,
    // A snapshot taken under the read lock and called without it: a hook may register another.
    list: RwLock<Arc<[Hook]>>,
}

impl Hooks {
    pub(crate) fn add(&self, hook: Hook) {
        let mut list = self.list.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        *list = list.iter().cloned().chain([hook]).collect();
        self.any.store(true, Relaxed);
    }

    /// Whether a hook is registered (one atomic load).
    #[inline]
    pub(crate) fn any(&self) -> bool {
        self.any.load(Relaxed)
    }

    /// Calls every hook with `event`. A hook that panics is logged and skipped: a hook is
    /// an observer, and must not fail the cache call that reports to it.
    #[inline]
    pub(crate) fn emit(&self, event: &CacheEvent<'_>) {
        if self.any() {
            self.call_all(event);
        }
    }

    #[cold]
    fn call_all(&self, event: &CacheEvent<'_>) {
        let list = self.list.read().unwrap_or_else(|poisoned| poisoned.into_inner()).clone();
        for hook in list.iter() {
            if catch_unwind(AssertUnwindSafe(|| hook(event))).is_err() {
                tracing::error!(kind = ?event.kind, "a cache event hook panicked; the other hooks still run");
            }
        }
    }
}
