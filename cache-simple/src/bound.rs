//! The store behind a SimpleCache and its bound: at most `CACHE_THRESHOLD` entries, the least
//! recently used evicted first, and every write admitted.
//!
//! moka's default policy, TinyLFU, puts an admission filter in front of a full cache: a new key
//! is kept only if it is estimated to be used more often than the entry it would push out. That
//! suits a cache that loads its own values; it is wrong for one that stores what it is given,
//! where `set` returning `Ok` means the value is there. Under TinyLFU, with 20 entries that had
//! been read once, each of 10 new keys was dropped at the next housekeeping (`set` Ok, `get`
//! `None`), and a burst of 30 sets kept the 20 oldest. `EvictionPolicy::lru()` has no admission
//! filter: every write is stored, and room is made by evicting the entry read or written longest
//! ago. Housekeeping removes expired entries before it evicts live ones for room, once moka's
//! timer wheel (of about a second's resolution) has passed their deadline.
//!
//! moka applies the bound in its housekeeping, which runs on the callers' threads once 64 writes
//! are pending (or 300 ms have passed), not on every write; so between two runs the store holds
//! a few entries more than the bound. The crate docs give the slack, which the test below
//! measures for one writer.

use moka::policy::EvictionPolicy;
use moka::sync::Cache as Moka;

use crate::slot::{Slot, SlotExpiry};

/// A store of at most `threshold` entries (0: unbounded), each with its own expiry.
pub(crate) fn store(threshold: u64) -> Moka<String, Slot> {
    let mut builder = Moka::builder().expire_after(SlotExpiry).eviction_policy(EvictionPolicy::lru());
    if threshold > 0 {
        builder = builder.max_capacity(threshold);
    }
    builder.build()
}

#[cfg(test)]
mod tests {
    use cachette_core::{BaseCache, Bytes, Config, Ttl};

    use crate::SimpleCache;

    /// With one writer, the most entries the store holds beyond the threshold: moka's 64 pending
    /// writes plus the one being made (this test sees 64, between sets; another thread sees 65).
    const ONE_WRITER_SLACK: u64 = 65;

    /// Measures the slack the crate docs state: after every set, the value just set is readable
    /// and the store holds at most `threshold + ONE_WRITER_SLACK` entries; once moka's pending
    /// work has run, at most `threshold`.
    #[tokio::test]
    async fn one_writer_never_sees_more_than_the_threshold_plus_the_slack() {
        for threshold in [1u64, 20, 200] {
            let cache =
                SimpleCache::new(&Config::from_map([("CACHE_THRESHOLD", threshold.to_string())]).unwrap()).unwrap();
            let mut most = 0;
            for i in 0..threshold * 3 + 500 {
                let key = format!("k{i}");
                cache.set(&key, Bytes::from_static(b"v"), Ttl::Never).await.unwrap();
                assert!(cache.store.contains_key(&key), "threshold {threshold}: {key} is not readable after its set");
                most = most.max(cache.store.iter().count() as u64);
            }
            assert!(
                most <= threshold + ONE_WRITER_SLACK,
                "threshold {threshold}: {most} entries at once, over the documented slack of {ONE_WRITER_SLACK}"
            );
            assert!(most > threshold, "threshold {threshold}: the slack is real, or the docs should say it is gone");
            assert!(cache.entry_count() <= threshold);
        }
    }
}
