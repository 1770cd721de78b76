//! [`Kept`]: the versions of bookkeeping keys kept in process — memoized functions' versions and
//! tags' versions — so that a hit reads one key, not two.
//!
//! A memoized hit used to read the function's version from the backend before its result: two
//! lookups, the first of them about a third of a hit's cost on SimpleCache (callgrind: 3,173 of
//! 10,802 instructions per `#[memoize]` hit), and 2,800 of 7,060 on Redis + L1 (`cargo bench -p
//! cachette-tiered --bench hits`). A cached view's hit read its entry and its tags' versions:
//! the second moka lookup and the decode of the version were 1,700 of the 10,050 instructions the
//! layer adds to a hit (`cargo bench -p cachette-http --bench hit_path`). A version is kept here,
//! and dropped by what changes it through the facade:
//!
//! * [`Memoized::delete_all`](crate::Memoized::delete_all) deletes a function's version, then
//!   forgets it here; [`Cache::invalidate_tag`](crate::Cache::invalidate_tag) writes a tag a new
//!   one, then forgets the old; a tagged write that draws a tag's first version forgets the tag
//!   too (the backend may have lost a version this process still keeps: the next read learns the
//!   new one);
//! * [`Cache::clear`](crate::Cache::clear) empties the backend, then forgets every version;
//! * a [`Cache::delete`](crate::Cache::delete) of a version key (`memoize-version:<function>`,
//!   `tag-version:<tag>`) forgets that one;
//! * on a shared backend, whatever the backend's [`KeyWatch`] on the version key reports (below).
//!
//! Every [`Cache`](crate::Cache) built on the same backend object shares one `Kept`
//! ([`for_backend`]), so a change made through one of them is seen by all. Calls made on the
//! backend itself ([`Cache::backend`](crate::Cache::backend)) bypass it, as they bypass the rest
//! of the facade.
//!
//! **A backend no other process writes** ([`is_shared`] false: SimpleCache, NullCache): a version
//! is kept without condition. What the backend does on its own does not need to be seen: an
//! eviction of a version key (SimpleCache's bound) leaves the values stored under the version
//! current, as they were (no invalidation happened); the process goes on using it, and a later
//! `delete_all` or `invalidate_tag` still forgets it. A value invalidated before the eviction
//! recorded an older version, and stays a miss.
//!
//! **A shared backend** (a server, a directory) may be written by other processes, whose
//! `delete_all` and `invalidate_tag` this process must see. A version is kept only under a
//! [`KeyWatch`] on its key ([`BaseCache::watch`]), taken before the version is read, and is
//! used only while the watch holds; a backend that gives none (RedisCache alone, memcached, fs)
//! has its versions read with every hit, as before. The in-process tier (`CACHE_L1`) gives one
//! while its bus or change feed follows: the watch turns when the tier applies an invalidation
//! of the version key's epoch slot (another process's change, a `clear`, a flush), when it loses
//! its channel, and on this process's own writes of the key. So a kept version is exactly as
//! fresh as the tier's own copy of the version key, which the read took it from: another
//! process's change is seen from the moment its invalidation arrives, as it was when each hit
//! read the version through the tier. The staleness accepted is the tier's (the invalidation in
//! flight: p50 0.1 ms on loopback, see cachette-tiered's coherence test), no more. One
//! difference, accepted: the tier's copy of the version key also ends at `CACHE_L1_TIMEOUT` or
//! when the tier's bound evicts it, which the kept version does not. Neither says that the
//! version changed: with a channel that follows, a change is an invalidation; an eviction of the
//! version key in the backend (Redis `maxmemory`) is reported by client tracking, and otherwise
//! leaves the values under the old version as valid as they were (the case of SimpleCache above).
//!
//! **Bounded.** Function names are the program's own, but tags may come from requests (a cached
//! view's tags name its path), so the versions are kept in a table of fixed size, two slots per
//! name: a name whose slots are taken by others has its version read from the backend, as
//! without this table, until it takes one back. Nothing outside the table depends on what it
//! holds.
//!
//! [`is_shared`]: crate::BaseCache::is_shared
//! [`BaseCache::watch`]: crate::BaseCache::watch

use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use arc_swap::ArcSwapOption;

use crate::{BaseCache, KeyWatch};

/// The versions kept for one backend object: its memoized functions' and its tags'.
pub(crate) struct Kept {
    /// Memoized functions' versions, by function name (256 slots: a program's functions).
    pub functions: KeptVersions<Box<str>>,
    /// Tags' versions, by tag (4,096 slots: a cached view's tags name its path, so there may be
    /// as many as the site has pages; 32 KiB of slots, and what the kept ones hold).
    pub tags: KeptVersions<u64>,
}

impl Kept {
    fn new(shared: bool) -> Kept {
        Kept { functions: KeptVersions::new(shared, 256), tags: KeptVersions::new(shared, 4096) }
    }

    /// Forgets every version (after the backend was cleared).
    pub(crate) fn forget_all(&self) {
        self.functions.forget_all();
        self.tags.forget_all();
    }
}

/// A version kept, and on a shared backend the watch under which it may be used.
struct Slot<V> {
    name: Box<str>,
    version: V,
    watch: Option<KeyWatch>,
}

/// What to pass to [`KeptVersions::keep`] for a version about to be read from the backend.
pub(crate) struct Guard {
    /// Forgets so far.
    mark: u64,
    /// The backend's watch on the version key (a shared backend's).
    watch: Option<KeyWatch>,
}

/// Versions of one kind (functions' or tags'), by name, as this process knows them.
pub(crate) struct KeptVersions<V> {
    /// Whether the backend is shared: a version is then kept only under a watch.
    shared: bool,
    /// Read on every hit without a lock (an atomic load each); each slot replaced whole.
    slots: Box<[ArcSwapOption<Slot<V>>]>,
    /// foldhash, seeded per table: names may come from requests, but a collision only costs a
    /// read of the backend, so no resistance beyond a random seed is needed, and the hash is on
    /// every hit.
    hasher: foldhash::fast::RandomState,
    /// Keeps and forgets, one at a time.
    changing: Mutex<()>,
    /// Forgets so far: a version read from the backend before a forget is not kept after it.
    forgets: AtomicU64,
}

impl<V> KeptVersions<V> {
    /// A table of `slots` slots (a power of two).
    fn new(shared: bool, slots: usize) -> KeptVersions<V> {
        debug_assert!(slots.is_power_of_two());
        KeptVersions {
            shared,
            slots: (0..slots).map(|_| ArcSwapOption::empty()).collect(),
            hasher: foldhash::fast::RandomState::default(),
            changing: Mutex::new(()),
            forgets: AtomicU64::new(0),
        }
    }

    /// `f(version)` of `name`, if this process knows it (and its watch, if any, holds).
    pub(crate) fn with<R>(&self, name: &str, f: impl FnOnce(&V) -> R) -> Option<R> {
        for i in self.places(name) {
            let slot = self.slots[i].load();
            if let Some(slot) = slot.as_deref()
                && *slot.name == *name
            {
                return match &slot.watch {
                    Some(watch) if !watch.unchanged() => None,
                    _ => Some(f(&slot.version)),
                };
            }
        }
        None
    }

    /// What to pass to [`keep`](KeptVersions::keep) for the version under `version_key`, about to
    /// be read from `backend`; `None` when it could not be kept (a shared backend that gives no
    /// watch on it now).
    pub(crate) fn guard(&self, backend: &dyn BaseCache, version_key: &str) -> Option<Guard> {
        let mark = self.forgets.load(Ordering::Acquire);
        let watch = match self.shared {
            false => None,
            true => Some(backend.watch(version_key)?),
        };
        Some(Guard { mark, watch })
    }

    /// Keeps `version` of `name`, read from the backend after `guard` was taken, unless a forget
    /// came in between (the version read may be the one forgotten). It takes the slot that holds
    /// `name`, else a free one of its two, else one of them from another name.
    pub(crate) fn keep(&self, name: &str, version: V, guard: Guard) {
        let _changing = self.changing.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if self.forgets.load(Ordering::Acquire) != guard.mark {
            return;
        }
        let [first, second] = self.places(name);
        let holds = |i: usize| self.slots[i].load().as_deref().map(|slot| *slot.name == *name);
        let place = match (holds(first), holds(second)) {
            (Some(true), _) | (None, Some(false)) => first,
            (_, Some(true) | None) => second,
            // Both taken by other names: the one a bit of the hash picks, so that two names that
            // share both slots keep one each as often as not.
            (Some(false), Some(false)) => {
                if self.hasher.hash_one((name, 1u8)) & 1 == 0 {
                    first
                } else {
                    second
                }
            }
        };
        let slot = Slot { name: name.into(), version, watch: guard.watch };
        self.slots[place].store(Some(Arc::new(slot)));
    }

    /// Forgets the version of `name` (after it was changed or deleted in the backend).
    pub(crate) fn forget(&self, name: &str) {
        let _changing = self.changing.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        self.forgets.fetch_add(1, Ordering::AcqRel);
        for i in self.places(name) {
            if self.slots[i].load().as_deref().is_some_and(|slot| *slot.name == *name) {
                self.slots[i].store(None);
            }
        }
    }

    /// Forgets every version.
    pub(crate) fn forget_all(&self) {
        let _changing = self.changing.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        self.forgets.fetch_add(1, Ordering::AcqRel);
        self.slots.iter().for_each(|slot| slot.store(None));
    }

    /// The two slots `name` may take: from the top and the bottom bits of its hash (the same one
    /// when they agree).
    fn places(&self, name: &str) -> [usize; 2] {
        let h = self.hasher.hash_one(name);
        let mask = self.slots.len() - 1;
        [(h >> 32) as usize & mask, h as usize & mask]
    }
}

/// The `Kept` of `backend`, shared with every other [`Cache`](crate::Cache) built on the same
/// backend object.
pub(crate) fn for_backend(backend: &Arc<dyn BaseCache>) -> Arc<Kept> {
    // Keyed by the backend's address: an entry is live only while a Cache holds its Kept, and
    // that Cache holds the backend too, so the address is not reused meanwhile.
    static BY_BACKEND: Mutex<Vec<(usize, Weak<Kept>)>> = Mutex::new(Vec::new());
    let address = Arc::as_ptr(backend).cast::<()>() as usize;
    let mut all = BY_BACKEND.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    all.retain(|(_, kept)| kept.strong_count() > 0);
    if let Some(kept) = all.iter().find(|(at, _)| *at == address).and_then(|(_, kept)| kept.upgrade()) {
        return kept;
    }
    let kept = Arc::new(Kept::new(backend.is_shared()));
    all.push((address, Arc::downgrade(&kept)));
    kept
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicBool;

    use super::*;

    impl<V> KeptVersions<V> {
        /// A guard as a backend without watches gives.
        fn unwatched(&self) -> Guard {
            Guard { mark: self.forgets.load(Ordering::Acquire), watch: None }
        }
    }

    fn read(kept: &KeptVersions<u64>, name: &str) -> Option<u64> {
        kept.with(name, |v| *v)
    }

    #[test]
    fn a_version_read_before_a_forget_is_not_kept_after_it() {
        let kept = KeptVersions::new(false, 16);
        let guard = kept.unwatched();
        kept.forget("f");
        kept.keep("f", 1, guard);
        assert_eq!(read(&kept, "f"), None);
        kept.keep("f", 2, kept.unwatched());
        assert_eq!(read(&kept, "f"), Some(2));
        kept.forget_all();
        assert_eq!(read(&kept, "f"), None);
    }

    #[test]
    fn a_version_kept_under_a_watch_is_used_only_while_the_watch_holds() {
        let kept = KeptVersions::new(true, 16);
        let unchanged = Arc::new(AtomicBool::new(true));
        let watched = unchanged.clone();
        let watch = KeyWatch::new(move || watched.load(Ordering::SeqCst));
        kept.keep("f", 1, Guard { mark: kept.forgets.load(Ordering::Acquire), watch: Some(watch) });
        assert_eq!(read(&kept, "f"), Some(1));
        unchanged.store(false, Ordering::SeqCst);
        assert_eq!(read(&kept, "f"), None, "the version key may have changed: read it again");
    }

    #[test]
    fn a_forget_removes_its_name_alone() {
        let kept = KeptVersions::new(false, 16);
        kept.keep("a", 1, kept.unwatched());
        kept.keep("b", 2, kept.unwatched());
        kept.forget("a");
        assert_eq!((read(&kept, "a"), read(&kept, "b")), (None, Some(2)));
    }

    #[test]
    fn more_names_than_slots_keep_what_fits_and_never_mistake_one_for_another() {
        let kept = KeptVersions::new(false, 8);
        for i in 0..100u64 {
            kept.keep(&format!("tag:{i}"), i, kept.unwatched());
        }
        let found: Vec<u64> = (0..100u64).filter_map(|i| read(&kept, &format!("tag:{i}"))).collect();
        assert!(!found.is_empty() && found.len() <= 8, "at most one name per slot: {found:?}");
        for i in 0..100u64 {
            assert!(read(&kept, &format!("tag:{i}")).is_none_or(|v| v == i), "tag:{i} has its own version");
        }
        kept.keep("tag:7", 77, kept.unwatched());
        assert_eq!(read(&kept, "tag:7"), Some(77), "a name kept again takes a slot back");
    }
}
