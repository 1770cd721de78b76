//! [`Versions`]: memoized functions' versions kept in process, for a backend that no other
//! process writes.
//!
//! A memoized hit used to read the function's version from the backend before its result: two
//! lookups, the first of them about a third of a hit's cost on SimpleCache (callgrind: 3,173 of
//! 10,802 instructions per `#[memoize]` hit). A backend whose [`is_shared`] is false (SimpleCache,
//! NullCache) is written by this process only, so its version can be kept here and changed only
//! by what changes it in the backend:
//!
//! * [`Memoized::delete_all`](crate::Memoized::delete_all) deletes the version in the backend,
//!   then forgets it here ([`Versions::forget`]);
//! * [`Cache::clear`](crate::Cache::clear) empties the backend, then forgets every version here;
//! * a [`Cache::delete`](crate::Cache::delete) of a version key (`memoize-version:<function>`)
//!   forgets that one.
//!
//! Every [`Cache`](crate::Cache) built on the same backend object shares one `Versions`
//! ([`for_backend`]), so a `delete_memoized_all` through one of them is seen by all. Calls made
//! on the backend itself ([`Cache::backend`](crate::Cache::backend)) bypass it, as they bypass
//! the rest of the facade.
//!
//! What the backend does on its own does not need to be seen: an eviction of the version key
//! (SimpleCache's bound) leaves the results stored under the version current, as they were; the
//! process goes on using it, and a later `delete_all` still forgets it.
//!
//! A shared backend (a server, a directory) may be written by other processes, whose
//! `delete_memoized_all` this process would not see: there the version is read from the backend
//! on each call, as before.
//!
//! [`is_shared`]: crate::BaseCache::is_shared

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use arc_swap::ArcSwap;

use crate::BaseCache;

/// Function name -> version. foldhash rather than std's SipHash: the names are the program's
/// own (no one outside chooses them to collide), and hashing one is on every hit.
type Known = HashMap<Box<str>, Arc<str>, foldhash::fast::RandomState>;

/// The versions of the memoized functions of one backend, as this process knows them.
#[derive(Default)]
pub(crate) struct Versions {
    /// Read on every hit without a lock; replaced whole on each change, which is rare (a
    /// function's first call, a `delete_all`, a `clear`).
    known: ArcSwap<Known>,
    /// Changes one at a time.
    changing: Mutex<()>,
    /// Forgets so far: a version read from the backend before a forget is not kept after it.
    forgets: AtomicU64,
}

impl Versions {
    /// `f(version)` of `function`, if this process knows it.
    pub(crate) fn with<R>(&self, function: &str, f: impl FnOnce(&str) -> R) -> Option<R> {
        self.known.load().get(function).map(|version| f(version))
    }

    /// The mark to pass to [`keep`](Versions::keep) for a version about to be read from the
    /// backend.
    pub(crate) fn mark(&self) -> u64 {
        self.forgets.load(Ordering::Acquire)
    }

    /// Keeps `version` of `function`, read from the backend after `mark`, unless a forget came in
    /// between (the version read may be the one forgotten).
    pub(crate) fn keep(&self, function: &str, version: &str, mark: u64) {
        let _changing = self.changing.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if self.forgets.load(Ordering::Acquire) != mark {
            return;
        }
        let mut known = Known::clone(&self.known.load());
        known.insert(function.into(), version.into());
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
/// backend object; `None` for a shared backend, whose versions are read from it on each call.
pub(crate) fn for_backend(backend: &Arc<dyn BaseCache>) -> Option<Arc<Versions>> {
    if backend.is_shared() {
        return None;
    }
    // Keyed by the backend's address: an entry is live only while a Cache holds its Versions,
    // and that Cache holds the backend too, so the address is not reused meanwhile.
    static BY_BACKEND: Mutex<Vec<(usize, Weak<Versions>)>> = Mutex::new(Vec::new());
    let address = Arc::as_ptr(backend).cast::<()>() as usize;
    let mut all = BY_BACKEND.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    all.retain(|(_, versions)| versions.strong_count() > 0);
    if let Some(versions) = all.iter().find(|(at, _)| *at == address).and_then(|(_, v)| v.upgrade()) {
        return Some(versions);
    }
    let versions = Arc::new(Versions::default());
    all.push((address, Arc::downgrade(&versions)));
    Some(versions)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_read_before_a_forget_is_not_kept_after_it() {
        let versions = Versions::default();
        let mark = versions.mark();
        versions.forget("f");
        versions.keep("f", "v1", mark);
        assert_eq!(versions.with("f", str::to_owned), None);
        versions.keep("f", "v2", versions.mark());
        assert_eq!(versions.with("f", str::to_owned).as_deref(), Some("v2"));
        versions.forget_all();
        assert_eq!(versions.with("f", str::to_owned), None);
    }
}
