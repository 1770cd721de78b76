//! The circuit breaker: consecutive failures open it; while open, calls fail at once; after a
//! cool-down one probe decides whether it closes.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU8, AtomicU32, AtomicU64, Ordering::*};
use std::time::{Duration, Instant};

/// What a caller may do now.
pub(crate) enum Admission<'a> {
    /// Call the backend.
    Call(Permit<'a>),
    /// Don't: the breaker is open; the next probe may go in this long.
    Reject { retry_in: Duration, failures: u32 },
}

/// The state of a backend's circuit breaker, as [`crate::CacheStats`] reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakerState {
    /// Calls go to the backend.
    #[default]
    Closed,
    /// Calls fail at once, without touching the backend, until the cool-down is over.
    Open,
    /// One probe call is deciding whether to close.
    HalfOpen,
}

const CLOSED: u8 = 0;
const OPEN: u8 = 1;
const HALF_OPEN: u8 = 2;

pub(crate) struct Breaker {
    backend: &'static str,
    failures_to_open: u32,
    cooldown: Duration,
    state: AtomicU8,
    consecutive: AtomicU32,
    /// When it last opened, in nanoseconds since [`epoch`].
    opened_at: AtomicU64,
    pub(crate) opened: AtomicU64,
    pub(crate) rejected: AtomicU64,
}

/// A process-wide origin for the atomically stored `Instant`s.
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn nanos_since_epoch() -> u64 {
    u64::try_from(epoch().elapsed().as_nanos()).unwrap_or(u64::MAX)
}

impl Breaker {
    pub(crate) fn new(backend: &'static str, failures_to_open: u32, cooldown: Duration) -> Breaker {
        crate::observe::breaker_state(backend, BreakerState::Closed);
        Breaker {
            backend,
            failures_to_open: failures_to_open.max(1),
            cooldown,
            state: AtomicU8::new(CLOSED),
            consecutive: AtomicU32::new(0),
            opened_at: AtomicU64::new(0),
            opened: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
        }
    }

    pub(crate) fn state(&self) -> BreakerState {
        match self.state.load(Acquire) {
            CLOSED => BreakerState::Closed,
            OPEN => BreakerState::Open,
            _ => BreakerState::HalfOpen,
        }
    }

    /// Whether a call may go to the backend. Closed: one atomic load.
    pub(crate) fn admit(&self) -> Admission<'_> {
        match self.state.load(Acquire) {
            CLOSED => Admission::Call(Permit { breaker: self, probe: false, recorded: false }),
            OPEN => {
                let since = Duration::from_nanos(nanos_since_epoch().saturating_sub(self.opened_at.load(Acquire)));
                if since >= self.cooldown && self.state.compare_exchange(OPEN, HALF_OPEN, AcqRel, Acquire).is_ok() {
                    crate::observe::breaker_state(self.backend, BreakerState::HalfOpen);
                    tracing::info!(
                        backend = self.backend,
                        "cache circuit breaker half-open: one probe call goes to the backend"
                    );
                    return Admission::Call(Permit { breaker: self, probe: true, recorded: false });
                }
                self.reject(self.cooldown.saturating_sub(since))
            }
            _ => self.reject(self.cooldown),
        }
    }

    /// A call's permit only while the breaker is closed (one atomic load); `None` otherwise, for
    /// a caller that then goes through [`admit`](Breaker::admit) (a rejection or a probe).
    #[inline]
    pub(crate) fn admit_closed(&self) -> Option<Permit<'_>> {
        (self.state.load(Acquire) == CLOSED).then_some(Permit { breaker: self, probe: false, recorded: false })
    }

    fn reject(&self, retry_in: Duration) -> Admission<'_> {
        self.rejected.fetch_add(1, Relaxed);
        Admission::Reject { retry_in, failures: self.consecutive.load(Relaxed) }
    }

    /// Opens from `from` (closed, or half-open after a probe); the first to do so logs it. The
    /// time is stored before the state, so that nobody sees it open with an old time.
    fn open(&self, from: u8, why: &str) {
        self.opened_at.store(nanos_since_epoch(), Release);
        if self.state.compare_exchange(from, OPEN, AcqRel, Acquire).is_err() {
            return;
        }
        self.opened.fetch_add(1, Relaxed);
        crate::observe::breaker_state(self.backend, BreakerState::Open);
        tracing::warn!(
            backend = self.backend,
            "cache circuit breaker open ({why}): calls fail at once, without waiting for the backend, \
             and requests are served without the cache; a probe in {:?}",
            self.cooldown
        );
    }

    fn succeeded(&self, probe: bool) {
        if probe {
            self.consecutive.store(0, Relaxed);
            self.state.store(CLOSED, Release);
            crate::observe::breaker_state(self.backend, BreakerState::Closed);
            tracing::warn!(backend = self.backend, "cache circuit breaker closed: the backend answers again");
        } else if self.consecutive.load(Relaxed) != 0 {
            self.consecutive.store(0, Relaxed);
        }
    }

    fn failed(&self, probe: bool) {
        let failures = self.consecutive.fetch_add(1, Relaxed).saturating_add(1);
        if probe {
            self.open(HALF_OPEN, "the probe failed");
        } else if failures >= self.failures_to_open {
            self.open(CLOSED, &format!("{failures} consecutive failures"));
        }
    }
}

/// The right to make one call; reports how it went. A probe dropped unreported (its caller was
/// cancelled) counts as failed, so the breaker never stays half-open with no probe running.
pub(crate) struct Permit<'a> {
    breaker: &'a Breaker,
    probe: bool,
    recorded: bool,
}

impl Permit<'_> {
    #[inline]
    pub(crate) fn record(mut self, failed: bool) {
        self.recorded = true;
        if failed { self.breaker.failed(self.probe) } else { self.breaker.succeeded(self.probe) }
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if !self.recorded && self.probe {
            self.breaker.open(HALF_OPEN, "the probe was cancelled");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(b: &Breaker, fail: bool) -> bool {
        match b.admit() {
            Admission::Call(permit) => {
                permit.record(fail);
                true
            }
            Admission::Reject { .. } => false,
        }
    }

    #[test]
    fn consecutive_failures_open_it_and_a_success_between_resets_the_count() {
        let b = Breaker::new("T", 3, Duration::from_secs(60));
        assert!(call(&b, true) && call(&b, true) && call(&b, false));
        assert!(call(&b, true) && call(&b, true));
        assert_eq!(b.state(), BreakerState::Closed);
        assert!(call(&b, true));
        assert_eq!(b.state(), BreakerState::Open);
        assert!(!call(&b, false), "open: rejected without a call");
        assert_eq!(b.rejected.load(Relaxed), 1);
        assert_eq!(b.opened.load(Relaxed), 1);
    }

    #[test]
    fn after_the_cooldown_one_probe_decides() {
        let b = Breaker::new("T", 1, Duration::from_millis(20));
        assert!(call(&b, true));
        assert!(!call(&b, false));
        std::thread::sleep(Duration::from_millis(30));
        let Admission::Call(probe) = b.admit() else { panic!("the probe goes through") };
        assert_eq!(b.state(), BreakerState::HalfOpen);
        assert!(!call(&b, false), "only one probe at a time");
        probe.record(true);
        assert_eq!(b.state(), BreakerState::Open, "a failed probe opens it again");
        std::thread::sleep(Duration::from_millis(30));
        assert!(call(&b, false));
        assert_eq!(b.state(), BreakerState::Closed);
        assert!(call(&b, false));
    }

    #[test]
    fn a_cancelled_probe_does_not_leave_it_half_open() {
        let b = Breaker::new("T", 1, Duration::from_millis(10));
        assert!(call(&b, true));
        std::thread::sleep(Duration::from_millis(20));
        let Admission::Call(probe) = b.admit() else { panic!() };
        drop(probe);
        assert_eq!(b.state(), BreakerState::Open);
        std::thread::sleep(Duration::from_millis(20));
        assert!(call(&b, false));
        assert_eq!(b.state(), BreakerState::Closed);
    }
}
