//! What the memoize tests share: a cache that records what is written to it (keys, lifetimes,
//! how many reads), a hook that records events, and loaders that count their runs.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use cachette::{BaseCache, Bytes, Cache, Config, EventKind, Result, Ttl, async_trait};

/// A SimpleCache that records the key and lifetime of every `set` and `add`, and counts reads.
pub(crate) struct KeyLog {
    inner: Arc<dyn BaseCache>,
    writes: Mutex<Vec<(String, Ttl)>>,
    reads: AtomicUsize,
    /// What it says `is_shared` is: a SimpleCache's `false`, or `true` to stand for a server
    /// that other processes write.
    shared: bool,
}

impl KeyLog {
    /// A `Cache` with `config` over a logging SimpleCache, and the log.
    pub(crate) fn cache(config: Config) -> (Cache, Arc<KeyLog>) {
        let log = KeyLog::new(false);
        (Cache::new(log.clone(), config), log)
    }

    /// A logging SimpleCache that says it is shared (or not).
    pub(crate) fn new(shared: bool) -> Arc<KeyLog> {
        let inner = Cache::from_config(Config::default()).unwrap().backend().clone();
        Arc::new(KeyLog { inner, writes: Mutex::new(Vec::new()), reads: AtomicUsize::new(0), shared })
    }

    /// How many reads so far.
    pub(crate) fn reads(&self) -> usize {
        self.reads.load(Ordering::SeqCst)
    }

    /// The keys written so far, in order.
    pub(crate) fn keys(&self) -> Vec<String> {
        self.writes.lock().unwrap().iter().map(|(key, _)| key.clone()).collect()
    }

    /// The lifetime of the last write of a key starting with `prefix`.
    pub(crate) fn ttl_of(&self, prefix: &str) -> Option<Ttl> {
        self.writes.lock().unwrap().iter().rev().find(|(key, _)| key.starts_with(prefix)).map(|(_, ttl)| *ttl)
    }

    /// How many backend operations have read or written so far.
    pub(crate) fn touches(&self) -> usize {
        self.reads.load(Ordering::SeqCst) + self.writes.lock().unwrap().len()
    }

    fn record(&self, key: &str, ttl: Ttl) {
        self.writes.lock().unwrap().push((key.to_owned(), ttl));
    }
}

#[async_trait]
impl BaseCache for KeyLog {
    fn type_name(&self) -> &'static str {
        "KeyLog"
    }
    fn is_shared(&self) -> bool {
        self.shared
    }
    async fn get(&self, key: &str) -> Result<Option<Bytes>> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        self.inner.get(key).await
    }
    async fn set(&self, key: &str, value: Bytes, ttl: Ttl) -> Result<()> {
        self.record(key, ttl);
        self.inner.set(key, value, ttl).await
    }
    async fn add(&self, key: &str, value: Bytes, ttl: Ttl) -> Result<bool> {
        self.record(key, ttl);
        self.inner.add(key, value, ttl).await
    }
    async fn delete(&self, key: &str) -> Result<bool> {
        self.inner.delete(key).await
    }
    async fn inc(&self, key: &str, delta: i64) -> Result<i64> {
        self.inner.inc(key, delta).await
    }
    async fn touch(&self, key: &str, ttl: Ttl) -> Result<bool> {
        self.inner.touch(key, ttl).await
    }
    async fn clear(&self) -> Result<()> {
        self.inner.clear().await
    }
}

/// A fresh in-process cache.
pub(crate) fn simple_cache() -> Cache {
    Cache::from_config(Config::default()).unwrap()
}

/// The kinds of the events a cache's hooks see.
#[derive(Clone, Default)]
pub(crate) struct Events(Arc<Mutex<Vec<EventKind>>>);

impl Events {
    /// Records every event of `cache` from now on.
    pub(crate) fn of(cache: &Cache) -> Events {
        let events = Events::default();
        let log = events.0.clone();
        cache.on_event(move |event| log.lock().unwrap().push(event.kind));
        events
    }

    /// The kinds seen since the last call.
    pub(crate) fn take(&self) -> Vec<EventKind> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

/// Counts the runs of the loaders it makes.
#[derive(Clone, Default)]
pub(crate) struct Loads(Arc<AtomicUsize>);

impl Loads {
    /// A loader that counts its run and returns `value` (`Send + 'static` when `value` is, for a
    /// `LoadPolicy`).
    pub(crate) fn of<T>(
        &self,
        value: T,
    ) -> impl FnOnce() -> std::future::Ready<std::result::Result<T, std::io::Error>> + use<T> {
        let runs = self.0.clone();
        move || {
            runs.fetch_add(1, Ordering::SeqCst);
            std::future::ready(Ok(value))
        }
    }

    /// How many loaders ran.
    pub(crate) fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}
