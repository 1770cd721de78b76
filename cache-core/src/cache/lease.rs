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
//! [`BaseCache::is_shared`]: crate::BaseCache::is_shared

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

/// The outcome of asking for a key's lease.
pub(crate) enum Leased {
    /// This caller holds the lease: it loads, then [`Lease::store`]s.
    Granted(Lease),
    /// Another process's load finished while we asked: its value (still to be decoded).
    Loaded(Bytes),
    /// No lease to be had (in-process backend, backend failing, or waited out): load without one.
    None,
}

/// A held lease: the token that proves it is ours.
pub(crate) struct Lease {
    key: String,
    token: u64,
}

const FIRST_POLL: Duration = Duration::from_millis(5);
const LAST_POLL: Duration = Duration::from_millis(100);

impl Cache {
    /// Takes `key`'s lease, or waits for the value of the process that holds it (see the module
    /// docs). `Err` only for the caller's mistakes.
    pub(crate) async fn lease(&self, key: &str) -> Result<Leased> {
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
                    tracing::debug!(key, "waited a lease's lifetime for another process's load; loading here");
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
        self.store_for_load(&lease.key, bytes, ttl).await?;
        let lease_key = lease_key(&lease.key);
        match self.internal_get::<u64>(&lease_key).await {
            Ok(Some(token)) if token == lease.token => {
                let _ = self.internal_delete(&lease_key).await;
            }
            Ok(_) => {
                tracing::debug!(
                    key = lease.key,
                    "the key was deleted (or its lease expired) during the load: its value is not kept"
                );
                let _ = self.internal_delete(&lease.key).await;
            }
            // Unreadable: the value may have been meant to go. Removing it is always safe.
            Err(_) => {
                let _ = self.internal_delete(&lease.key).await;
            }
        }
        Ok(())
    }

    /// Gives a lease back without a value (the load failed), so waiting processes take over at
    /// once instead of at its expiry.
    pub(crate) async fn release_lease(&self, lease: Lease) {
        let lease_key = lease_key(&lease.key);
        if let Ok(Some(token)) = self.internal_get::<u64>(&lease_key).await
            && token == lease.token
        {
            let _ = self.internal_delete(&lease_key).await;
        }
    }
}
