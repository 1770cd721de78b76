//! Leases: one load per key across processes on a shared backend.
//!
//! Single-flight makes one load per key *in a process*; with four processes behind a load
//! balancer a cold popular key would still be loaded four times. Facebook's memcache paper
//! ("Scaling Memcache at Facebook", NSDI 2013) answers with leases, which cut their peak database
//! load from 17K/s to 1.3K/s. Here, over the trait's own operations (no backend needs a new
//! method):
//!
//! * The process that leads a miss takes the key's lease: an atomic `add` of a random token under
//!   `<key>\nlease`, living [`FailSafePolicy::lease`](crate::FailSafePolicy::lease) (5 s unless
//!   `CACHE_OPTIONS.lease` says otherwise).
//! * A process that finds the lease taken waits for the value, polling the value and the lease in
//!   one `get_many` with back-off (5 ms doubling to 100 ms), for at most the lease's lifetime from
//!   when it first sees the holder's token. When the lease is gone without a value (its holder's load failed, or the holder died and the lease
//!   expired), it tries to take the lease itself.
//! * [`Cache::delete`] removes the key's lease with it. The holder, after writing its value,
//!   checks that its token is still the lease; if not (the key was deleted during the load), it
//!   deletes what it wrote, so a slow load can never leave a value that a delete meant to remove.
//!   The check comes after the write because a check before it would leave a window between the
//!   two in which a delete is lost.
//!
//! A backend failure on any of these steps means no lease: the caller loads as it would without
//! one (never waits on a backend that is down). In-process backends ([`BaseCache::is_shared`]
//! `false`) take no lease at all.
//!
//! `get_or_set`, `get_or_set_with` and memoize use it inside; a layer that stores values of its
//! own form (the HTTP layer's cached views) uses the same mechanism through [`Cache::lease`],
//! [`Cache::end_lease`] and [`Cache::release_lease`].
//!
//! [`BaseCache::is_shared`]: crate::BaseCache::is_shared

use crate::observe::ShortKey;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::Cache;
use crate::{Result, Ttl};

/// The key of `key`'s lease. A newline cannot be part of a key a caller writes by hand in most
/// backends' key rules, and the backends that restrict key characters encode them.
pub(crate) fn lease_key(key: &str) -> String {
    let mut lease = String::with_capacity(key.len() + 6);
    lease.push_str(key);
    lease.push_str("\nlease");
    lease
}

/// The outcome of asking for a key's lease ([`Cache::lease`]).
#[derive(Debug)]
pub enum Leased {
    /// This caller holds the lease: it loads, writes the value under the key, then gives the
    /// lease back with [`Cache::end_lease`] (or [`Cache::release_lease`] without a value).
    Granted(Lease),
    /// Another process's load finished while we waited: the bytes now stored under the key, as
    /// the backend holds them (an envelope, for a tagged or stamped value: check it as any read
    /// of the key would before using it).
    Loaded(Bytes),
    /// No lease to be had (in-process backend, backend failing, or waited out): load without one.
    None,
}

/// A held lease on a key: the token that proves it is this caller's. Give it back with
/// [`Cache::end_lease`] or [`Cache::release_lease`]; dropped, it expires after
/// `CACHE_OPTIONS.lease` and the waiting processes take over then.
#[derive(Debug)]
#[must_use = "a lease not given back makes the other processes wait until it expires"]
pub struct Lease {
    key: String,
    token: u64,
}

impl Lease {
    /// The key the lease is on.
    pub fn key(&self) -> &str {
        &self.key
    }
}

const FIRST_POLL: Duration = Duration::from_millis(5);
const LAST_POLL: Duration = Duration::from_millis(100);

impl Cache {
    /// Takes `key`'s lease, or waits for the value of the process that holds it: one load of a
    /// cold key across the processes sharing the backend (Facebook's memcache leases). The
    /// holder's lease lives `CACHE_OPTIONS.lease` (5 s); a waiter polls the key and the lease with
    /// back-off (5 ms doubling to 100 ms) for at most that long per holder, and gets
    /// [`Leased::Loaded`] when the value lands, or tries to take the lease itself when it goes
    /// without one (its holder failed or died). [`Leased::None`] on an in-process backend, when
    /// the backend fails, or after waiting out three holders: load without a lease.
    ///
    /// [`get_or_set`](Cache::get_or_set) and memoize use it inside; call it for values of a form
    /// of your own. Keep one lease per key per process (single-flight in front of it): a second
    /// caller in the same process would wait for the first as another process does.
    /// `Err` only for the caller's mistakes (a key the backend cannot take).
    ///
    /// ```
    /// # async fn demo(cache: cachette_core::Cache) -> cachette_core::Result<()> {
    /// use cachette_core::{Leased, Ttl};
    /// match cache.lease("report").await? {
    ///     Leased::Granted(lease) => {
    ///         let bytes = b"rendered".to_vec(); // the slow part
    ///         cache.set_bytes("report", bytes, Ttl::Default).await?;
    ///         // Kept only if no delete of the key came during the load.
    ///         cache.end_lease(lease, &["report"]).await;
    ///     }
    ///     Leased::Loaded(_) => { /* another process stored it: read it as usual */ }
    ///     Leased::None => { /* load without a lease */ }
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn lease(&self, key: &str) -> Result<Leased> {
        if !self.inner.backend.is_shared() {
            return Ok(Leased::None);
        }
        let lifetime = self.inner.config.fail_safe.lease;
        let lease = lease_key(key);
        // Each holder gets a lease's lifetime to load, counted from when this caller first sees
        // its token; a new token (the holder died and another took the lease) starts the wait
        // again, up to three holders in all. A wait counted from our own first try instead would
        // give up just as the next holder starts: the previous holder's lease expires a little
        // before our wait would, and the next holder's load is not waited for (measured: 3 of 4
        // processes loaded after a killed holder).
        let mut holders = 0;
        let mut poll = FIRST_POLL;
        loop {
            let token = rand::random::<u64>() | 1;
            match self.internal_add(&lease, &token, Ttl::After(lifetime)).await {
                Ok(true) => return Ok(Leased::Granted(Lease { key: key.to_owned(), token })),
                Ok(false) => {}
                Err(e) if e.is_backend_failure() => return Ok(Leased::None),
                Err(e) => return Err(e),
            }
            // Taken: wait for the holder's value, or for the lease to go.
            let mut holder: Option<Bytes> = None;
            let mut started = Instant::now();
            loop {
                if started.elapsed() >= lifetime || holders > 3 {
                    tracing::debug!(key = %ShortKey(key), "waited a lease's lifetime for another process's load; loading here");
                    return Ok(Leased::None);
                }
                tokio::time::sleep(poll).await;
                poll = (poll * 2).min(LAST_POLL);
                let found = match self.guarded("get_many", self.inner.backend.get_many(&[key, &lease])).await {
                    Ok(found) => found,
                    Err(e) if e.is_backend_failure() => return Ok(Leased::None),
                    Err(e) => return Err(e),
                };
                let mut found = found.into_iter();
                match (found.next().flatten(), found.next().flatten()) {
                    (Some(value), _) => return Ok(Leased::Loaded(value)),
                    // Gone without a value: try to take it.
                    (None, None) => break,
                    (None, Some(token)) if holder.as_ref() != Some(&token) => {
                        holders += 1;
                        holder = Some(token);
                        started = Instant::now();
                    }
                    (None, Some(_)) => {}
                }
            }
        }
    }

    /// Writes a loaded value under a held lease, then gives the lease back. If the lease is no
    /// longer ours (the key was deleted during the load, or the load outlived the lease and
    /// another process took it), the value just written is removed again. A backend failure is
    /// counted and logged, not returned.
    pub(crate) async fn store_leased(&self, lease: Lease, bytes: Bytes, ttl: Ttl) -> Result<()> {
        let key = lease.key.clone();
        self.store_for_load(&key, bytes, ttl).await?;
        self.end_lease(lease, &[&key]).await;
        Ok(())
    }

    /// Gives back a lease after its holder wrote its value under `written` (the lease's key, or
    /// the keys a layer of its own form wrote for it): returns whether the lease was still the
    /// holder's. If it was not — the key was deleted during the load ([`Cache::delete`] removes
    /// the lease), or the load outlived the lease — the keys `written` are removed again, so that
    /// a slow load never leaves a value a delete meant to remove. The check comes after the write
    /// because a check before it would leave a window in which a delete is lost. A backend
    /// failure here removes them too (removing is always safe), and is counted and logged.
    pub async fn end_lease(&self, lease: Lease, written: &[&str]) -> bool {
        let lease_key = lease_key(&lease.key);
        match self.internal_get::<u64>(&lease_key).await {
            Ok(Some(token)) if token == lease.token => {
                let _ = self.internal_delete(&lease_key).await;
                return true;
            }
            Ok(_) => tracing::debug!(
                key = %ShortKey(&lease.key),
                "the key was deleted (or its lease expired) during the load: its value is not kept"
            ),
            // Unreadable: the value may have been meant to go.
            Err(_) => {}
        }
        for key in written {
            let _ = self.internal_delete(key).await;
        }
        false
    }

    /// Gives a lease back without a value (the load failed, or its value may not be stored), so
    /// waiting processes take over at once instead of at its expiry.
    pub async fn release_lease(&self, lease: Lease) {
        let lease_key = lease_key(&lease.key);
        if let Ok(Some(token)) = self.internal_get::<u64>(&lease_key).await
            && token == lease.token
        {
            let _ = self.internal_delete(&lease_key).await;
        }
    }
}
