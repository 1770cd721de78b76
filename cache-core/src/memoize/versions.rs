//! [`Versions`]: memoized functions' versions kept in process, so that a hit is one lookup.
//!
//! A memoized hit used to read the function's version from the backend before its result: two
//! lookups, the first of them about a third of a hit's cost on SimpleCache (callgrind: 3,173 of
//! 10,802 instructions per `#[memoize]` hit), and 2,800 of 7,060 on Redis + L1 (an L1 lookup,
//! the facade's read and the decode of the version; `cargo bench -p cachette-tiered --bench
//! hits`). A version is kept here, and dropped by what changes it:
//!
//! * [`Memoized::delete_all`](crate::Memoized::delete_all) deletes the version in the backend,
//!   then forgets it here ([`Versions::forget`]);
//! * [`Cache::clear`](crate::Cache::clear) empties the backend, then forgets every version here;
//! * a [`Cache::delete`](crate::Cache::delete) of a version key (`memoize-version:<function>`)
//!   forgets that one;
//! * on a shared backend, whatever the backend's [`KeyWatch`] on the version key reports (below).
//!
//! Every [`Cache`](crate::Cache) built on the same backend object shares one `Versions`
//! ([`for_backend`]), so a `delete_memoized_all` through one of them is seen by all. Calls made
//! on the backend itself ([`Cache::backend`](crate::Cache::backend)) bypass it, as they bypass
//! the rest of the facade.
//!
//! **A backend no other process writes** ([`is_shared`] false: SimpleCache, NullCache): the
//! version is kept without condition. What the backend does on its own does not need to be
//! seen: an eviction of the version key (SimpleCache's bound) leaves the results stored under
//! the version current, as they were; the process goes on using it, and a later `delete_all`
//! still forgets it.
//!
//! **A shared backend** (a server, a directory) may be written by other processes, whose
//! `delete_memoized_all` this process must see. The version is kept only under a
//! [`KeyWatch`] on its key ([`BaseCache::watch`]), taken before the version is read, and is
//! used only while the watch holds; a backend that gives none (RedisCache alone, memcached, fs)
//! has its version read on each call, as before. The in-process tier (`CACHE_L1`) gives one
//! while its bus or change feed follows: the watch turns when the tier applies an invalidation
//! of the version key's epoch slot (another process's `delete_all`, `clear`, a flush), when it
//! loses its channel, and on this process's own writes of the key. So the kept version is
//! exactly as fresh as the tier's own copy of the version key, which the call read before:
//! another process's `delete_all` is seen from the moment its invalidation arrives, as it was
//! when each call read the version through the tier. The staleness accepted is the tier's (the
//! invalidation in flight: p50 0.1 ms on loopback, see cachette-tiered's coherence test), no
//! more. One difference, accepted: the tier's copy of the version key also ends at
//! `CACHE_L1_TIMEOUT` or when the tier's bound evicts it, which the kept version does not.
//! Neither says that the version changed: with a channel that follows, a change is an
//! invalidation, and the time-to-live there bounds what a channel-less tier serves (which gives
//! no watch); an eviction of the version key in the backend (Redis `maxmemory`) is reported by
//! client tracking, and otherwise leaves the old version's results as valid as they were (the
//! case of SimpleCache above).
//!
//! [`is_shared`]: crate::BaseCache::is_shared
//! [`BaseCache::watch`]: crate::BaseCache::watch

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use arc_swap::ArcSwap;

use crate::{BaseCache, KeyWatch};

/// Function name -> version. foldhash rather than std's SipHash: the names are the program's
/// own (no one outside chooses them to collide), and hashing one is on every hit.
type Known = HashMap<Box<str>, Arc<Kept>, foldhash::fast::RandomState>;

/// A version kept, and on a shared backend the watch under which it may be used.
struct Kept {
    version: Box<str>,
    watch: Option<KeyWatch>,
}

/// What to pass to [`Versions::keep`] for a version about to be read from the backend.
pub(crate) struct Guard {
    /// Forgets so far.
    mark: u64,
    /// The backend's watch on the version key (a shared backend's).
    watch: Option<KeyWatch>,
}

/// The versions of the memoized functions of one backend, as this process knows them.
#[derive(Default)]
pub(crate) struct Versions {
    /// Whether the backend is shared: a version is then kept only under a watch.
    shared: bool,
    /// Read on every hit without a lock; replaced whole on each change, which is rare (a
    /// function's first call, a `delete_all`, a `clear`).
    known: ArcSwap<Known>,
    /// Changes one at a time.
    changing: Mutex<()>,
    /// Forgets so far: a version read from the backend before a forget is not kept after it.
    forgets: AtomicU64,
}

impl Versions {
    /// `f(version)` of `function`, if this process knows it (and its watch, if any, holds).
    pub(crate) fn with<R>(&self, function: &str, f: impl FnOnce(&str) -> R) -> Option<R> {
        let known = self.known.load();
        let kept = known.get(function)?;
        match &kept.watch {
            Some(watch) if !watch.unchanged() => None,
            _ => Some(f(&kept.version)),
        }
    }

    /// What to pass to [`keep`](Versions::keep) for the version of `version_key`, about to be read
    /// from `backend`; `None` when it could not be kept (a shared backend that gives no watch on
    /// it now).
    pub(crate) fn guard(&self, backend: &dyn BaseCache, version_key: &str) -> Option<Guard> {
        let mark = self.forgets.load(Ordering::Acquire);
        let watch = match self.shared {
            false => None,
            true => Some(backend.watch(version_key)?),
        };
        Some(Guard { mark, watch })
    }

    /// Keeps `version` of `function`, read from the backend after `guard` was taken, unless a
    /// forget came in between (the version read may be the one forgotten).
    pub(crate) fn keep(&self, function: &str, version: &str, guard: Guard) {
        let _changing = self.changing.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if self.forgets.load(Ordering::Acquire) != guard.mark {
            return;
        }
        let mut known = Known::clone(&self.known.load());
        known.insert(function.into(), Arc::new(Kept { version: version.into(), watch: guard.watch }));
        self.known.store(Arc::new(known));
    }

    /// Forgets the version of `function` (after it was deleted in the backend).
    pub(crate) fn forget(&self, function: &str) {
        self.change(|known| {
            known.remove(function);
        });
    }

    /// Forgets every version (after the backend was cleared).
    pub(crate) fn forget_all(&self) {
        self.change(Known::clear);
    }

    fn change(&self, f: impl FnOnce(&mut Known)) {
        let _changing = self.changing.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        self.forgets.fetch_add(1, Ordering::AcqRel);
        let mut known = Known::clone(&self.known.load());
        f(&mut known);
        self.known.store(Arc::new(known));
    }
}

/// The `Versions` of `backend`, shared with every other [`Cache`](crate::Cache) built on the same
/// backend object.
pub(crate) fn for_backend(backend: &Arc<dyn BaseCache>) -> Arc<Versions> {
    // Keyed by the backend's address: an entry is live only while a Cache holds its Versions,
    // and that Cache holds the backend too, so the address is not reused meanwhile.
    static BY_BACKEND: Mutex<Vec<(usize, Weak<Versions>)>> = Mutex::new(Vec::new());
    let address = Arc::as_ptr(backend).cast::<()>() as usize;
    let mut all = BY_BACKEND.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    all.retain(|(_, versions)| versions.strong_count() > 0);
    if let Some(versions) = all.iter().find(|(at, _)| *at == address).and_then(|(_, v)| v.upgrade()) {
        return versions;
    }
    let versions = Arc::new(Versions { shared: backend.is_shared(), ..Versions::default() });
    all.push((address, Arc::downgrade(&versions)));
    versions
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Versions {
        /// A guard as a backend without watches gives.
        fn unwatched(&self) -> Guard {
            Guard { mark: self.forgets.load(Ordering::Acquire), watch: None }
        }
    }

    #[test]
    fn a_version_read_before_a_forget_is_not_kept_after_it() {
        let versions = Versions::default();
        let guard = versions.unwatched();
        versions.forget("f");
        versions.keep("f", "v1", guard);
        assert_eq!(versions.with("f", str::to_owned), None);
        versions.keep("f", "v2", versions.unwatched());
        assert_eq!(versions.with("f", str::to_owned).as_deref(), Some("v2"));
        versions.forget_all();
        assert_eq!(versions.with("f", str::to_owned), None);
    }

    #[test]
    fn a_version_kept_under_a_watch_is_used_only_while_the_watch_holds() {
        use std::sync::atomic::AtomicBool;
        let versions = Versions { shared: true, ..Versions::default() };
        let unchanged = Arc::new(AtomicBool::new(true));
        let watched = unchanged.clone();
        let watch = KeyWatch::new(move || watched.load(Ordering::SeqCst));
        versions.keep("f", "v1", Guard { mark: versions.forgets.load(Ordering::Acquire), watch: Some(watch) });
        assert_eq!(versions.with("f", str::to_owned).as_deref(), Some("v1"));
        unchanged.store(false, Ordering::SeqCst);
        assert_eq!(versions.with("f", str::to_owned), None, "the version key may have changed: read it again");
    }
}
