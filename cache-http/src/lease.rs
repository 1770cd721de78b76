//! One render per key across processes: the miss that leads its key's render in this process
//! (single-flight, [`flight`](crate::flight)) takes the key's lease in the shared cache —
//! cachette-core's lease, the one `get_or_set` and memoize use ([`Cache::lease`]) — or waits for
//! the process that holds it, then serves what that process stored.
//!
//! * The holder renders, writes the entry, then gives the lease back with [`Cache::end_lease`]:
//!   if the lease is no longer its own (a [`CacheLayer::invalidate`](crate::CacheLayer::invalidate)
//!   deleted the key during the render, or the render outlived the lease), the entry it wrote is
//!   removed again. A render that fails, or whose response may not be stored, gives the lease
//!   back at once, so the waiters render without waiting for it to expire; a holder that dies
//!   leaves a lease that expires after `CACHE_OPTIONS.lease` (5 s).
//! * A waiter that sees the holder's entry land looks the key up again, as any request does: its
//!   tags are checked, so an entry rendered before a `delete_cached` or `invalidate_tag` that the
//!   waiter's lookup saw is not served to it — the waiter tries for the lease again and renders.
//! * In-process backends (SimpleCache) take no lease; a failing backend means no lease (the
//!   request renders, as it would with no cache).

use cachette_core::observe::ShortKey;
use std::sync::Arc;
use std::time::Instant;

use cachette_core::{Cache, Lease, Leased};

use crate::call::Call;
use crate::hit::Lookup;
use crate::prepared::Prepared;

/// How many times a request tries for the lease after a holder's entry turned out not to serve
/// it (rendered before an invalidation, for other `Vary` values): then it renders without one.
const TRIES: usize = 3;

/// A lease this process holds on a key while it renders it. Dropped without
/// [`end`](HeldLease::end) (the render failed, may not be stored, or its client went away), it is
/// given back on a task of its own, so that the waiting processes take over at once.
pub(crate) struct HeldLease {
    cache: Cache,
    lease: Option<Lease>,
    taken: Instant,
}

/// What a leading miss does after asking for its key's lease.
pub(crate) enum Leasing {
    /// Render, holding the lease.
    Held(HeldLease),
    /// Another process rendered it: its entry, fresh.
    Served(Arc<Prepared>),
    /// Another process's entry, already stale: served while it is refreshed.
    Stale(Arc<Prepared>),
    /// Render without a lease (in-process backend, backend failing, waited out).
    Render,
    /// The lookup after the holder's entry landed failed (counted): render, and store nothing,
    /// as for any request whose lookup failed.
    Failed,
}

impl HeldLease {
    /// Gives the lease back after the entry was written under `written`: whether it was still
    /// this process's (if not, the entry was removed again: see the module docs).
    pub(crate) async fn end(mut self, written: &str) -> bool {
        let Some(lease) = self.lease.take() else { return false };
        let kept = self.cache.end_lease(lease, &[written]).await;
        let lifetime = self.cache.config().fail_safe.lease;
        if !kept && self.taken.elapsed() >= lifetime {
            tracing::warn!(
                key = %cachette_core::observe::ShortKey(written),
                took_ms = self.taken.elapsed().as_millis() as u64,
                lease = ?lifetime,
                "cachette-http: a render outlived its lease, so its response was not kept (a delete during it could not \
                 be ruled out); raise CACHE_OPTIONS.lease above the route's render time"
            );
        }
        kept
    }
}

impl Drop for HeldLease {
    fn drop(&mut self) {
        let Some(lease) = self.lease.take() else { return };
        // Without a runtime (shutting down) the lease expires by itself.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let cache = self.cache.clone();
            runtime.spawn(async move { cache.release_lease(lease).await });
        }
    }
}

impl Call {
    /// Takes the lease of the request's entry key, or waits for the process that holds it and
    /// looks the key up again when its entry lands (see the module docs). Records what the
    /// lookups learn, as [`Call::lookup`] does.
    pub(crate) async fn lease_or_wait(&mut self) -> Leasing {
        for _ in 0..TRIES {
            let cache = self.state.cache.clone();
            let taken = Instant::now();
            match cache.lease(self.entry_key()).await {
                Ok(Leased::Granted(lease)) => return Leasing::Held(HeldLease { cache, lease: Some(lease), taken }),
                Ok(Leased::None) => return Leasing::Render,
                Err(e) => {
                    tracing::debug!(key = %ShortKey(&self.key), error = %e, "cachette-http: no lease for the key; rendering");
                    return Leasing::Render;
                }
                // Stored by the holder: read as any request reads it (tags, Vary, freshness).
                Ok(Leased::Loaded(_)) => match self.lookup(self.now()).await {
                    Lookup::Fresh(entry) => return Leasing::Served(entry),
                    Lookup::Stale(entry) => return Leasing::Stale(entry),
                    Lookup::Failed => return Leasing::Failed,
                    Lookup::Fallback(_) | Lookup::Missing => {
                        tracing::debug!(
                            key = %ShortKey(&self.key),
                            "cachette-http: the entry another process rendered does not serve this request (invalidated \
                             since, or other Vary values); asking for the lease again"
                        );
                    }
                },
            }
        }
        Leasing::Render
    }
}
