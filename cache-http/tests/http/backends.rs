//! Backends of the tests' own: [`Counting`] wraps a real one to count the calls that reach it (and
//! to hold a write, or a read until a write, where a test needs a store in progress); [`Stalled`]
//! never answers.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use cachette_core::{BaseCache, Bytes, Cache, Result, Ttl, async_trait};
use tokio::sync::watch;

/// A backend that counts the calls reaching it — those the facade's circuit breaker lets through.
pub(crate) struct Counting {
    inner: Arc<dyn BaseCache>,
    gets: AtomicUsize,
    answered_gets: AtomicUsize,
    others: AtomicUsize,
    /// Writes finished so far (their count is also what a held read waits on).
    sets: watch::Sender<usize>,
    /// While true, writes wait before they reach the backend.
    hold_sets: watch::Sender<bool>,
    /// The next read, once it has its answer, waits for a write to finish before returning it.
    hold_next_get: AtomicBool,
}

impl Counting {
    pub(crate) fn new(inner: Arc<dyn BaseCache>) -> Arc<Counting> {
        Arc::new(Counting {
            inner,
            gets: AtomicUsize::new(0),
            answered_gets: AtomicUsize::new(0),
            others: AtomicUsize::new(0),
            sets: watch::Sender::new(0),
            hold_sets: watch::Sender::new(false),
            hold_next_get: AtomicBool::new(false),
        })
    }

    /// `cache`'s backend, counted: a cache over it with `cache`'s config, and the counter.
    pub(crate) fn wrap(cache: &Cache) -> (Cache, Arc<Counting>) {
        let counting = Counting::new(cache.backend().clone());
        (Cache::new(counting.clone(), cache.config().clone()), counting)
    }

    /// Reads that reached the backend.
    pub(crate) fn gets(&self) -> usize {
        self.gets.load(Ordering::SeqCst)
    }

    /// Reads that have their answer from the backend (a held one included).
    pub(crate) fn answered_gets(&self) -> usize {
        self.answered_gets.load(Ordering::SeqCst)
    }

    /// Writes that reached the backend and finished.
    pub(crate) fn sets(&self) -> usize {
        *self.sets.borrow()
    }

    /// Every call that reached the backend.
    pub(crate) fn calls(&self) -> usize {
        self.gets() + self.others.load(Ordering::SeqCst) + self.sets()
    }

    /// Holds writes (`true`) until released (`false`).
    pub(crate) fn hold_sets(&self, hold: bool) {
        self.hold_sets.send_replace(hold);
    }

    /// Makes the next read wait, with the answer the backend gave it, until a write finishes: a
    /// lookup that missed just before a store landed.
    pub(crate) fn hold_next_get_until_a_set(&self) {
        self.hold_next_get.store(true, Ordering::SeqCst);
    }
}

impl Counting {
    /// A read that reaches the backend: counted, and held if the test asked for it.
    async fn read<T>(&self, read: impl Future<Output = Result<T>>) -> Result<T> {
        let sets_before = self.sets();
        let held = self.hold_next_get.swap(false, Ordering::SeqCst);
        self.gets.fetch_add(1, Ordering::SeqCst);
        let found = read.await;
        self.answered_gets.fetch_add(1, Ordering::SeqCst);
        if held {
            let _ = self.sets.subscribe().wait_for(|sets| *sets > sets_before).await;
        }
        found
    }
}

#[async_trait]
impl BaseCache for Counting {
    fn type_name(&self) -> &'static str {
        self.inner.type_name()
    }

    fn is_shared(&self) -> bool {
        self.inner.is_shared()
    }

    async fn get(&self, key: &str) -> Result<Option<Bytes>> {
        self.read(self.inner.get(key)).await
    }

    // One round trip (the layer reads an entry with its tags' versions), counted as one read.
    async fn get_many(&self, keys: &[&str]) -> Result<Vec<Option<Bytes>>> {
        self.read(self.inner.get_many(keys)).await
    }

    async fn set(&self, key: &str, value: Bytes, ttl: Ttl) -> Result<()> {
        let _ = self.hold_sets.subscribe().wait_for(|held| !held).await;
        let stored = self.inner.set(key, value, ttl).await;
        self.sets.send_modify(|sets| *sets += 1);
        stored
    }

    async fn add(&self, key: &str, value: Bytes, ttl: Ttl) -> Result<bool> {
        self.others.fetch_add(1, Ordering::SeqCst);
        self.inner.add(key, value, ttl).await
    }

    async fn delete(&self, key: &str) -> Result<bool> {
        self.others.fetch_add(1, Ordering::SeqCst);
        self.inner.delete(key).await
    }

    async fn delete_many(&self, keys: &[&str]) -> Result<u64> {
        self.others.fetch_add(1, Ordering::SeqCst);
        self.inner.delete_many(keys).await
    }

    async fn inc(&self, key: &str, delta: i64) -> Result<i64> {
        self.others.fetch_add(1, Ordering::SeqCst);
        self.inner.inc(key, delta).await
    }

    async fn touch(&self, key: &str, ttl: Ttl) -> Result<bool> {
        self.others.fetch_add(1, Ordering::SeqCst);
        self.inner.touch(key, ttl).await
    }

    async fn clear(&self) -> Result<()> {
        self.others.fetch_add(1, Ordering::SeqCst);
        self.inner.clear().await
    }
}

/// A backend that never answers: a server that accepted the connection and stopped (SIGSTOP, a
/// full disk, a lost route). Only the facade's deadline ends its calls.
pub(crate) struct Stalled;

#[async_trait]
impl BaseCache for Stalled {
    fn type_name(&self) -> &'static str {
        "Stalled"
    }

    async fn get(&self, _key: &str) -> Result<Option<Bytes>> {
        std::future::pending().await
    }

    async fn set(&self, _key: &str, _value: Bytes, _ttl: Ttl) -> Result<()> {
        std::future::pending().await
    }

    async fn add(&self, _key: &str, _value: Bytes, _ttl: Ttl) -> Result<bool> {
        std::future::pending().await
    }

    async fn delete(&self, _key: &str) -> Result<bool> {
        std::future::pending().await
    }

    async fn inc(&self, _key: &str, _delta: i64) -> Result<i64> {
        std::future::pending().await
    }

    async fn touch(&self, _key: &str, _ttl: Ttl) -> Result<bool> {
        std::future::pending().await
    }

    async fn clear(&self) -> Result<()> {
        std::future::pending().await
    }
}
