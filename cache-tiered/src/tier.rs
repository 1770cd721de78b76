//! The in-process tier: a bounded moka cache and the [`Epochs`] guard of its fills.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use cachette_core::Bytes;
use moka::future::Cache as Moka;

use crate::entry::{Entry, PerEntry};
use crate::epochs::Epochs;

/// The tier of one [`TieredCache`](crate::TieredCache), shared with the listener of its bus or
/// change feed.
pub(crate) struct Tier {
    entries: Moka<String, Entry>,
    epochs: Epochs,
    received: AtomicU64,
    losses: AtomicU64,
}

impl Tier {
    /// A tier of at most `capacity` entries; `bypassed` until its bus or change feed follows.
    pub(crate) fn new(capacity: u64, bypassed: bool) -> Tier {
        Tier {
            entries: Moka::builder().max_capacity(capacity).expire_after(PerEntry).build(),
            epochs: Epochs::new(bypassed),
            received: AtomicU64::new(0),
            losses: AtomicU64::new(0),
        }
    }

    /// The value held for `key`, unless bypassed or invalidated since it was filled.
    ///
    /// The epoch check closes a window: a fill checks its epoch, inserts, then checks again and
    /// evicts what it inserted if an invalidation came in between; without this check a read
    /// in that window was served the invalidated value (2 such reads in 1,000 writes in the
    /// coherence test). The invalidation bumps the epoch before it is counted as arrived, so a
    /// read after it always sees the bump. Keys share 4,096 epochs, so a write of another key of
    /// the same epoch can turn a hit into one backend read — never the other way round.
    pub(crate) async fn get(&self, key: &str) -> Option<Bytes> {
        if self.epochs.bypassed() {
            return None;
        }
        let entry = self.entries.get(key).await?;
        self.epochs.unchanged(key, entry.epoch).then_some(entry.value)
    }

    /// The guard to take before reading or writing the backend (`None`: do not fill).
    pub(crate) fn before_fill(&self, key: &str) -> Option<u64> {
        self.epochs.before_fill(key)
    }

    /// Keeps a value read from the backend, unless the key was invalidated since `seen`.
    pub(crate) async fn fill_read(&self, key: &str, value: Bytes, seen: u64, life: Option<Duration>) {
        if life == Some(Duration::ZERO) || !self.epochs.unchanged(key, seen) {
            return;
        }
        self.entries.insert(key.to_owned(), Entry { value, life, epoch: seen }).await;
        if !self.epochs.unchanged(key, seen) {
            self.entries.invalidate(key).await;
        }
    }

    /// Keeps a value this process wrote, unless the key was invalidated (or written by another
    /// task) since `seen`; then evicts it.
    pub(crate) async fn fill_write(&self, key: &str, value: Bytes, seen: Option<u64>, life: Option<Duration>) {
        let claimed = match seen {
            Some(seen) if life != Some(Duration::ZERO) => self.epochs.claim(key, seen),
            _ => None,
        };
        let Some(mine) = claimed else { return self.evict(key).await };
        self.entries.insert(key.to_owned(), Entry { value, life, epoch: mine }).await;
        if !self.epochs.unchanged(key, mine) {
            self.entries.invalidate(key).await;
        }
    }

    /// Evicts `key` (a write here or an invalidation from elsewhere).
    pub(crate) async fn evict(&self, key: &str) {
        self.epochs.bump(key);
        self.entries.invalidate(key).await;
    }

    /// Evicts every key.
    pub(crate) fn flush(&self) {
        self.epochs.bump_all();
        self.entries.invalidate_all();
    }

    /// The bus or change feed is lost: flush and bypass.
    pub(crate) fn suspend(&self) {
        self.epochs.set_bypassed(true);
        self.entries.invalidate_all();
        self.losses.fetch_add(1, Ordering::SeqCst);
    }

    /// How many times the bus or change feed was lost.
    pub(crate) fn losses(&self) -> u64 {
        self.losses.load(Ordering::SeqCst)
    }

    /// The bus or change feed follows again: serve from the tier.
    pub(crate) fn resume(&self) {
        self.epochs.set_bypassed(false);
    }

    /// Whether reads are served from the tier (`false` while the bus or change feed is down).
    pub(crate) fn active(&self) -> bool {
        !self.epochs.bypassed()
    }

    /// An invalidation arrived on the bus or change feed (counted after it is applied).
    pub(crate) fn received(&self) {
        self.received.fetch_add(1, Ordering::SeqCst);
    }

    /// Invalidations from the bus or change feed applied so far.
    pub(crate) fn received_count(&self) -> u64 {
        self.received.load(Ordering::SeqCst)
    }

    /// Entries held (approximate, as moka's count is).
    pub(crate) fn entry_count(&self) -> u64 {
        self.entries.entry_count()
    }
}
