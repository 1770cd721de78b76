//! [`Ttl`]: how long an entry lives, and [`Expiry`], the form backends map to their own.

use std::time::{Duration, Instant, SystemTime};

/// The timeout Flask-Caching uses when `CACHE_DEFAULT_TIMEOUT` is not set: 300 seconds.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

/// How long an entry lives.
///
/// * `Default` — the cache's `CACHE_DEFAULT_TIMEOUT` (300 s unless configured; 0 there means never).
/// * `Never` — until evicted, deleted or cleared.
/// * `After(d)` — `d` from now.
/// * `At(t)` — until the wall-clock time `t`: "cache until midnight".
///
/// A `Ttl` that is already over when the write happens (`After(Duration::ZERO)`, or `At` a time in
/// the past) stores nothing and removes any live value under that key, on every backend: an entry
/// that has expired is the same as no entry. Backends round a positive remaining time *up* to their
/// resolution (milliseconds for Redis, seconds for memcached), never down to zero.
///
/// ```
/// use std::time::{Duration, Instant, SystemTime};
/// use cachette_core::{Expiry, Ttl};
///
/// let default = Expiry::After(Duration::from_secs(60)); // CACHE_DEFAULT_TIMEOUT=60
/// assert_eq!(Ttl::Default.resolve(default), Expiry::After(Duration::from_secs(60)));
/// assert_eq!(Ttl::Never.resolve(default), Expiry::Never);
/// // Flask-Caching's convention: a timeout of 0 seconds means "never expires".
/// assert_eq!(Ttl::from_secs(0), Ttl::Never);
/// let noon = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
/// assert_eq!(Ttl::At(noon).resolve(default), Expiry::At(noon));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Ttl {
    /// The cache's configured default timeout.
    #[default]
    Default,
    /// No expiry.
    Never,
    /// Expire this long after the write.
    After(Duration),
    /// Expire at this wall-clock time.
    At(SystemTime),
}

impl Ttl {
    /// A timeout in seconds with Flask-Caching's meaning: 0 is [`Ttl::Never`].
    pub fn from_secs(secs: u64) -> Ttl {
        if secs == 0 { Ttl::Never } else { Ttl::After(Duration::from_secs(secs)) }
    }

    /// Resolves [`Ttl::Default`] against the cache's default timeout (`CACHE_DEFAULT_TIMEOUT`,
    /// [`crate::Config::default_timeout`]).
    pub fn resolve(self, default: Expiry) -> Expiry {
        match self {
            Ttl::Default => default,
            Ttl::Never => Expiry::Never,
            Ttl::After(d) => Expiry::After(d),
            Ttl::At(t) => Expiry::At(t),
        }
    }
}

impl From<Duration> for Ttl {
    fn from(d: Duration) -> Self {
        Ttl::After(d)
    }
}

impl From<SystemTime> for Ttl {
    fn from(t: SystemTime) -> Self {
        Ttl::At(t)
    }
}

/// A resolved [`Ttl`]: what a backend maps onto its own expiry mechanism.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Expiry {
    /// No expiry.
    Never,
    /// Relative to the moment of the write.
    After(Duration),
    /// Absolute wall-clock deadline.
    At(SystemTime),
}

impl Expiry {
    /// Time left as of `now`: `None` for never, `Some(Duration::ZERO)` if already over.
    pub fn remaining(self, now: SystemTime) -> Option<Duration> {
        match self {
            Expiry::Never => None,
            Expiry::After(d) => Some(d),
            Expiry::At(t) => Some(t.duration_since(now).unwrap_or(Duration::ZERO)),
        }
    }

    /// Wall-clock deadline as of `now`, `None` for never.
    pub fn deadline(self, now: SystemTime) -> Option<SystemTime> {
        match self {
            Expiry::Never => None,
            Expiry::After(d) => Some(now.checked_add(d).unwrap_or(far_future())),
            Expiry::At(t) => Some(t),
        }
    }

    /// True if an entry written now with this expiry would already be gone.
    pub fn is_over(self, now: SystemTime) -> bool {
        self.remaining(now) == Some(Duration::ZERO)
    }

    /// The expiry as a monotonic deadline, for in-process stores: `Some(None)` never expires,
    /// `Some(Some(t))` expires at `t`, `None` is already over (store nothing). A deadline too far to
    /// represent as an `Instant` is taken as never.
    pub fn instant_deadline(self) -> Option<Option<Instant>> {
        match self.remaining(SystemTime::now()) {
            None => Some(None),
            Some(left) if left.is_zero() => None,
            Some(left) => Some(Instant::now().checked_add(left)),
        }
    }

    /// Remaining time in whole milliseconds, rounded up (at least 1 if any time is left);
    /// `None` for never, `Some(0)` if over. Redis's `PX` wants this.
    pub fn remaining_millis_ceil(self, now: SystemTime) -> Option<u64> {
        self.remaining(now).map(|d| ceil_units(d, Duration::from_millis(1)))
    }

    /// Remaining time in whole seconds, rounded up (at least 1 if any time is left);
    /// `None` for never, `Some(0)` if over. Memcached's exptime wants this.
    pub fn remaining_secs_ceil(self, now: SystemTime) -> Option<u64> {
        self.remaining(now).map(|d| ceil_units(d, Duration::from_secs(1)))
    }
}

fn ceil_units(d: Duration, unit: Duration) -> u64 {
    let n = d.as_nanos().div_ceil(unit.as_nanos());
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// A deadline far enough away to mean "never" where an absolute time is required (year 2500).
fn far_future() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(16_725_225_600)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_resolves_through_config_default() {
        assert_eq!(Ttl::Default.resolve(Expiry::After(DEFAULT_TIMEOUT)), Expiry::After(DEFAULT_TIMEOUT));
        assert_eq!(Ttl::Default.resolve(Expiry::Never), Expiry::Never);
        assert_eq!(Ttl::After(Duration::from_secs(5)).resolve(Expiry::Never), Expiry::After(Duration::from_secs(5)));
    }

    #[test]
    fn remaining_rounds_up_never_to_zero() {
        let now = SystemTime::now();
        assert_eq!(Expiry::After(Duration::from_micros(10)).remaining_millis_ceil(now), Some(1));
        assert_eq!(Expiry::After(Duration::from_millis(1500)).remaining_secs_ceil(now), Some(2));
        assert_eq!(Expiry::After(Duration::ZERO).remaining_secs_ceil(now), Some(0));
        assert_eq!(Expiry::Never.remaining_secs_ceil(now), None);
        let past = now - Duration::from_secs(3);
        assert!(Expiry::At(past).is_over(now));
        assert!(!Expiry::At(now + Duration::from_secs(3)).is_over(now));
    }
}
