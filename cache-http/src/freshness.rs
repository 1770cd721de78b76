//! How long an entry stays fresh: the layer's [`Freshness`] and the handler's [`CacheTtl`].
//!
//! Called a timeout in Flask-Caching; not a timeout here, where the word means a deadline on a
//! request (tower's `Timeout`) or a network timeout (`CacheError::Timeout`): this is how long a
//! stored response may be served without rendering it again.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cachette_core::Ttl;

/// The fresh period of a response set by its handler, in the response's extensions; it wins
/// over the layer's [`Freshness`] (Flask-Caching's `CachedResponse`).
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

/// A fresh period computed per response, from the request and response parts at the given time
/// (see [`Freshness::from_fn`]).
pub type FreshnessFn = Arc<dyn Fn(&http::request::Parts, &http::response::Parts, SystemTime) -> Ttl + Send + Sync>;

/// How long the layer's responses stay fresh (set with
/// [`CacheLayer::fresh_for`](crate::CacheLayer::fresh_for)): a `Ttl` or a `Duration`, until a
/// deadline such as midnight, or computed per response. A handler's [`CacheTtl`] wins over it.
///
/// ```
/// use std::time::Duration;
/// use cachette_core::Ttl;
/// use cachette_http::Freshness;
///
/// let fixed: Freshness = Duration::from_secs(60).into();
/// let default: Freshness = Ttl::Default.into(); // the cache's CACHE_DEFAULT_TIMEOUT
/// let midnight = Freshness::until_midnight(0);
/// // Longer for successful searches than for empty ones:
/// let computed = Freshness::from_fn(|_req, res, _now| {
///     let empty = res.headers.get("x-results").is_some_and(|v| v == "0");
///     Ttl::After(Duration::from_secs(if empty { 10 } else { 600 }))
/// });
/// # let _ = (fixed, default, midnight, computed);
/// ```
#[derive(Clone)]
pub enum Freshness {
    /// The same for every response (`Ttl::Default`: the cache's CACHE_DEFAULT_TIMEOUT).
    Fixed(Ttl),
    /// Computed per response, e.g. [`Freshness::until_midnight`].
    Dynamic(FreshnessFn),
}

impl std::fmt::Debug for Freshness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Freshness::Fixed(ttl) => write!(f, "Fixed({ttl:?})"),
            Freshness::Dynamic(_) => f.write_str("Dynamic(..)"),
        }
    }
}

impl Default for Freshness {
    fn default() -> Self {
        Freshness::Fixed(Ttl::Default)
    }
}

impl From<Ttl> for Freshness {
    fn from(ttl: Ttl) -> Self {
        Freshness::Fixed(ttl)
    }
}

impl From<Duration> for Freshness {
    fn from(d: Duration) -> Self {
        Freshness::Fixed(Ttl::After(d))
    }
}

impl Freshness {
    /// A fresh period computed per response from the request, the response head and the layer's clock.
    pub fn from_fn(
        f: impl Fn(&http::request::Parts, &http::response::Parts, SystemTime) -> Ttl + Send + Sync + 'static,
    ) -> Freshness {
        Freshness::Dynamic(Arc::new(f))
    }

    /// Fresh until the next midnight in the zone `utc_offset_secs` east of UTC (`0` for UTC,
    /// `3600` for UTC+1), by the layer's clock.
    pub fn until_midnight(utc_offset_secs: i64) -> Freshness {
        Freshness::Dynamic(Arc::new(move |_, _, now| Ttl::At(next_midnight(now, utc_offset_secs))))
    }

    /// The time-to-live of the response `res` to `req`, rendered at `now`.
    pub(crate) fn resolve(&self, req: &http::request::Parts, res: &http::response::Parts, now: SystemTime) -> Ttl {
        match self {
            Freshness::Fixed(ttl) => *ttl,
            Freshness::Dynamic(f) => f(req, res, now),
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
