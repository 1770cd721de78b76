//! What the in-process tier stores: the value and how long it may live there.

use std::time::{Duration, Instant, SystemTime};

use cachette_core::{Bytes, Expiry};

/// A value of the tier with its own life, so that each entry expires on its own deadline (moka's
/// per-entry [`moka::Expiry`]) rather than one time-to-live for all.
#[derive(Clone)]
pub(crate) struct Entry {
    pub(crate) value: Bytes,
    /// `None`: no deadline of its own (CACHE_L1_TIMEOUT=0 and a value that never expires).
    pub(crate) life: Option<Duration>,
    /// The key's epoch slot, and its epoch when the value was filled: a read checks it is still
    /// current (without hashing the key again).
    pub(crate) slot: usize,
    pub(crate) epoch: u64,
}

/// How long an entry may stay in the tier: the shorter of `cap` (CACHE_L1_TIMEOUT) and what is
/// left of its expiry in the backend, when that is known (a value this process wrote, or one whose
/// expiry the backend told with it). `Some(ZERO)` means: do not keep it at all.
pub(crate) fn life(cap: Expiry, backend: Option<Expiry>) -> Option<Duration> {
    let now = SystemTime::now();
    let cap = cap.remaining(now);
    let backend = backend.and_then(|e| e.remaining(now));
    match (cap, backend) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The per-entry expiry policy of the tier's moka cache.
pub(crate) struct PerEntry;

impl moka::Expiry<String, Entry> for PerEntry {
    fn expire_after_create(&self, _key: &String, entry: &Entry, _created_at: Instant) -> Option<Duration> {
        entry.life
    }

    // A replaced value brings its own life; moka's default would keep the old entry's deadline.
    fn expire_after_update(
        &self,
        _key: &String,
        entry: &Entry,
        _updated_at: Instant,
        _duration_until_expiry: Option<Duration>,
    ) -> Option<Duration> {
        entry.life
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_life_is_the_shorter_of_the_cap_and_the_backend_expiry() {
        let secs = |s| Expiry::After(Duration::from_secs(s));
        let within = |life: Option<Duration>, s: u64| {
            life.is_some_and(|d| d <= Duration::from_secs(s) && d > Duration::from_secs(s - 1))
        };
        assert!(within(life(secs(10), Some(secs(3))), 3));
        assert!(within(life(secs(10), Some(secs(60))), 10));
        assert!(within(life(secs(10), None), 10));
        assert!(within(life(Expiry::Never, Some(secs(5))), 5));
        assert_eq!(life(Expiry::Never, Some(Expiry::Never)), None);
        assert_eq!(life(secs(10), Some(secs(0))), Some(Duration::ZERO));
    }
}
