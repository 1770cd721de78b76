//! [`Clock`]: the time the layer reads, injectable for tests.

use std::sync::Arc;
use std::time::SystemTime;

/// What time it is, for freshness and for fresh periods such as "until midnight". Tests inject a
/// fixed clock; applications use [`Clock::system`].
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use cachette_http::Clock;
///
/// let noon = UNIX_EPOCH + Duration::from_secs(86_400 * 20_000 + 12 * 3600);
/// let fixed = Clock::from_fn(move || noon);
/// assert_eq!(fixed.now(), noon);
/// ```
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> SystemTime + Send + Sync>);

impl Clock {
    /// The system's wall clock.
    pub fn system() -> Clock {
        Clock(Arc::new(SystemTime::now))
    }

    /// A clock that reads `now`.
    pub fn from_fn(now: impl Fn() -> SystemTime + Send + Sync + 'static) -> Clock {
        Clock(Arc::new(now))
    }

    /// The current time.
    pub fn now(&self) -> SystemTime {
        (self.0)()
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Clock({:?})", self.now())
    }
}
