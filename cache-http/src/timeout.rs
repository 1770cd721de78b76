//! How long an entry stays fresh: [`Timeout`], the handler's [`CacheTtl`], and the [`Clock`].

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cachette_core::Ttl;

/// What time it is, for freshness and for timeouts such as "until midnight". Tests inject a
/// fixed clock; applications use [`Clock::system`].
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

/// The fresh period of a response set by its handler, in the response's extensions; it wins
/// over the layer's timeout (Flask-Caching's `CachedResponse`).
///
/// ```
/// use std::time::Duration;
/// use axum::{Extension, response::IntoResponse};
/// use cachette_core::Ttl;
/// use cachette_http::CacheTtl;
///
/// async fn handler() -> impl IntoResponse {
///     (Extension(CacheTtl(Ttl::After(Duration::from_secs(10)))), "cached for 10 s")
/// }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheTtl(pub Ttl);

/// A per-request timeout: computed from the request and response parts at the given time.
pub type TimeoutFn = Arc<dyn Fn(&http::request::Parts, &http::response::Parts, SystemTime) -> Ttl + Send + Sync>;

/// The layer's fresh period.
///
/// ```
/// use std::time::Duration;
/// use cachette_core::Ttl;
/// use cachette_http::Timeout;
///
/// let fixed: Timeout = Duration::from_secs(60).into();
/// let default: Timeout = Ttl::Default.into(); // the cache's CACHE_DEFAULT_TIMEOUT
/// let midnight = Timeout::until_midnight(0);
/// // Longer for successful searches than for empty ones:
/// let computed = Timeout::from_fn(|_req, res, _now| {
///     let empty = res.headers.get("x-results").is_some_and(|v| v == "0");
///     Ttl::After(Duration::from_secs(if empty { 10 } else { 600 }))
/// });
/// # let _ = (fixed, default, midnight, computed);
/// ```
#[derive(Clone)]
pub enum Timeout {
    /// The same for every response (`Ttl::Default`: the cache's CACHE_DEFAULT_TIMEOUT).
    Fixed(Ttl),
    /// Computed per response, e.g. [`Timeout::until_midnight`].
    Dynamic(TimeoutFn),
}

impl std::fmt::Debug for Timeout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Timeout::Fixed(ttl) => write!(f, "Fixed({ttl:?})"),
            Timeout::Dynamic(_) => f.write_str("Dynamic(..)"),
        }
    }
}

impl Default for Timeout {
    fn default() -> Self {
        Timeout::Fixed(Ttl::Default)
    }
}

impl From<Ttl> for Timeout {
    fn from(ttl: Ttl) -> Self {
        Timeout::Fixed(ttl)
    }
}

impl From<Duration> for Timeout {
    fn from(d: Duration) -> Self {
        Timeout::Fixed(Ttl::After(d))
    }
}

impl Timeout {
    /// A timeout computed per response from the request, the response head and the layer's clock.
    pub fn from_fn(
        f: impl Fn(&http::request::Parts, &http::response::Parts, SystemTime) -> Ttl + Send + Sync + 'static,
    ) -> Timeout {
        Timeout::Dynamic(Arc::new(f))
    }

    /// Fresh until the next midnight at `utc_offset` from UTC (e.g. `Duration::ZERO` for UTC),
    /// by the layer's clock.
    pub fn until_midnight(utc_offset_secs: i64) -> Timeout {
        Timeout::Dynamic(Arc::new(move |_, _, now| Ttl::At(next_midnight(now, utc_offset_secs))))
    }

    pub(crate) fn resolve(&self, req: &http::request::Parts, res: &http::response::Parts, now: SystemTime) -> Ttl {
        match self {
            Timeout::Fixed(ttl) => *ttl,
            Timeout::Dynamic(f) => f(req, res, now),
        }
    }
}

/// The first midnight after `now` in a zone `utc_offset_secs` east of UTC.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use cachette_http::next_midnight;
///
/// let evening = UNIX_EPOCH + Duration::from_secs(86_400 * 20_000 + 23 * 3600 + 59 * 60); // 23:59 UTC
/// assert_eq!(next_midnight(evening, 0), UNIX_EPOCH + Duration::from_secs(86_400 * 20_001));
/// // At 23:59 UTC it is 01:59 the next day in UTC+2: midnight there is 22 hours away.
/// assert_eq!(next_midnight(evening, 7200), UNIX_EPOCH + Duration::from_secs(86_400 * 20_001 + 22 * 3600));
/// ```
pub fn next_midnight(now: SystemTime, utc_offset_secs: i64) -> SystemTime {
    let secs = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs() as i64;
    let local = secs + utc_offset_secs;
    let next_local_midnight = (local.div_euclid(86_400) + 1) * 86_400;
    UNIX_EPOCH + Duration::from_secs((next_local_midnight - utc_offset_secs).max(0) as u64)
}
