//! The fail-safe every backend sits behind: a deadline on each operation, enforced above the
//! backend (so a backend of your own that never answers is bounded too), and a circuit breaker
//! that makes calls fail at once while the backend is down.
//!
//! A cache is an optimisation: when it is slow or gone, the site should run as it would without
//! one. The [`crate::Cache`] facade puts every backend call through both:
//!
//! * **Deadline** (`CACHE_OPTIONS.deadline`, default 250 ms; `clear_deadline`, default 30 s, for
//!   `clear`): an operation still running after it fails with [`CacheError::Timeout`]. Why
//!   250 ms: a hit costs tens of microseconds on loopback and under a millisecond across a data
//!   centre, and a 1 MiB value about 10 ms on a 1 Gb/s link, so a lookup slower than that is a
//!   stalled server, and giving up and rendering is what a missing cache would do. Not less:
//!   under a burst (a thousand concurrent misses queued on one connection of a busy server) a
//!   healthy server's answers took over 100 ms in our tests, and a deadline that trips then opens
//!   the breaker and turns the burst into a thousand renders. The backends' own network
//!   timeouts (seconds) stay as the outer bound.
//! * **Circuit breaker** (`CACHE_OPTIONS.breaker_failures`, default 5 consecutive failures or
//!   timeouts; `breaker_cooldown`, default 1 s): once open, every call fails at once with
//!   [`CacheError::CircuitOpen`] — a miss under `CACHE_IGNORE_ERRORS`, and `get_or_set`, memoize
//!   and the HTTP layer go straight to the loader or handler — with no network wait. After the
//!   cool-down one call goes through as a probe; its success closes the breaker, its failure
//!   opens it for another cool-down. Why 5 and 1 s: one or two lost packets must not switch the
//!   cache off, five in a row are an outage; and one probe a second costs a stalled backend one
//!   request's deadline per second while letting hits resume within about a second of recovery.
//!   Each transition is logged once (warn), not each rejected call.
//!
//! Mistakes of the caller (a key too long, a value too large, a value that is not an integer) are
//! not failures of the backend: they neither open the breaker nor count against it.

mod breaker;
mod deadline;

use std::future::Future;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

pub use breaker::BreakerState;
use breaker::{Admission, Breaker};
use deadline::Deadline;

use crate::config::Options;
use crate::{CacheError, Result};

/// The `CACHE_OPTIONS` names the facade reads (every backend accepts them besides its own).
pub const FAIL_SAFE_OPTIONS: &[&str] = &["deadline", "clear_deadline", "breaker_failures", "breaker_cooldown", "lease"];

/// The deadlines and breaker thresholds of a [`crate::Cache`], from `CACHE_OPTIONS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct FailSafePolicy {
    /// Longest an operation other than `clear` may take (`CACHE_OPTIONS.deadline`).
    pub deadline: Duration,
    /// Longest `clear` may take (`CACHE_OPTIONS.clear_deadline`).
    pub clear_deadline: Duration,
    /// Consecutive failures that open the breaker (`CACHE_OPTIONS.breaker_failures`).
    pub breaker_failures: u32,
    /// How long the breaker stays open before a probe (`CACHE_OPTIONS.breaker_cooldown`).
    pub breaker_cooldown: Duration,
    /// How long one process's load of a key on a shared backend keeps the others waiting for its
    /// value before they load it themselves (`CACHE_OPTIONS.lease`): the lease's lifetime, so
    /// also how long a crashed loader can hold them up.
    pub lease: Duration,
}

impl Default for FailSafePolicy {
    fn default() -> Self {
        FailSafePolicy {
            deadline: Duration::from_millis(250),
            clear_deadline: Duration::from_secs(30),
            breaker_failures: 5,
            breaker_cooldown: Duration::from_secs(1),
            // Long enough for the loads a web request waits for (a page, a query); a loader that
            // takes longer is joined by a second one, which is the state without leases.
            lease: Duration::from_secs(5),
        }
    }
}

impl FailSafePolicy {
    /// Reads the policy from `CACHE_OPTIONS`; zero durations and counts are errors naming the
    /// option.
    pub fn from_options(options: &Options) -> Result<FailSafePolicy> {
        let defaults = FailSafePolicy::default();
        let duration = |name: &str, default: Duration| -> Result<Duration> {
            Ok(options.get_positive_duration(name)?.unwrap_or(default))
        };
        let failures = match options.get_u64("breaker_failures")? {
            None => defaults.breaker_failures,
            Some(0) => {
                return Err(CacheError::config(
                    "CACHE_OPTIONS.breaker_failures",
                    "0",
                    "must be at least 1 (consecutive failures that open the circuit breaker)",
                ));
            }
            Some(n) => u32::try_from(n).unwrap_or(u32::MAX),
        };
        Ok(FailSafePolicy {
            deadline: duration("deadline", defaults.deadline)?,
            clear_deadline: duration("clear_deadline", defaults.clear_deadline)?,
            breaker_failures: failures,
            breaker_cooldown: duration("breaker_cooldown", defaults.breaker_cooldown)?,
            lease: duration("lease", defaults.lease)?,
        })
    }
}

/// The deadline and breaker of one backend.
pub(crate) struct FailSafe {
    backend: &'static str,
    policy: FailSafePolicy,
    breaker: Breaker,
}

/// What the breaker of a cache has done, in [`crate::CacheStats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
// Read back by `cachectl` from an application's stats (observe::AppStats): a field missing
// from an older producer reads as 0.
#[serde(default)]
#[non_exhaustive]
pub struct BreakerStats {
    /// Where it is now.
    pub state: BreakerState,
    /// How many times it opened.
    pub opened: u64,
    /// Calls that failed at once because it was open.
    pub rejected: u64,
}

impl FailSafe {
    pub(crate) fn new(backend: &'static str, policy: FailSafePolicy) -> FailSafe {
        FailSafe { backend, policy, breaker: Breaker::new(backend, policy.breaker_failures, policy.breaker_cooldown) }
    }

    /// The backend's type name (the `backend` label of metrics and events).
    pub(crate) fn backend(&self) -> &'static str {
        self.backend
    }

    pub(crate) fn stats(&self) -> BreakerStats {
        BreakerStats {
            state: self.breaker.state(),
            opened: self.breaker.opened.load(Relaxed),
            rejected: self.breaker.rejected.load(Relaxed),
        }
    }

    /// Runs one backend operation under the deadline and the breaker.
    pub(crate) async fn call<T>(&self, operation: &'static str, call: impl Future<Output = Result<T>>) -> Result<T> {
        let (limit, setting) = if operation == "clear" {
            (self.policy.clear_deadline, "CACHE_OPTIONS.clear_deadline")
        } else {
            (self.policy.deadline, "CACHE_OPTIONS.deadline")
        };
        let permit = match self.breaker.admit() {
            Admission::Call(permit) => permit,
            Admission::Reject { retry_in, failures } => {
                return Err(CacheError::CircuitOpen { backend: self.backend, operation, failures, retry_in });
            }
        };
        let result = match Deadline::new(call, limit).await {
            Ok(result) => result,
            Err(_) => Err(CacheError::timeout(self.backend, operation, limit, setting)),
        };
        permit.record(result.as_ref().is_err_and(CacheError::is_backend_failure));
        result
    }

    /// [`call`](FailSafe::call) for an operation the backend answers at once, on this thread
    /// ([`crate::BaseCache::get_at_once`]): while the breaker is closed, `operation` runs and
    /// how it went is recorded as `call` records it. No deadline: the answer is there before a
    /// deadline could be looked at (`call`'s, on a future ready at its first poll, never starts
    /// its timer either). `None` when the breaker is not closed (the caller goes through `call`,
    /// which rejects or makes the probe) or the backend cannot answer at once.
    #[inline]
    pub(crate) fn call_at_once<T>(&self, operation: impl FnOnce() -> Option<Result<T>>) -> Option<Result<T>> {
        let permit = self.breaker.admit_closed()?;
        // Dropped unrecorded if the backend does not answer: not a probe, so nothing happens.
        let result = operation()?;
        permit.record(result.as_ref().is_err_and(CacheError::is_backend_failure));
        Some(result)
    }
}
