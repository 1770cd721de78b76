//! XFetch, the test of probabilistic early refresh (Vattani, Chierichetti and Lowenstein,
//! "Optimal Probabilistic Cache Stampede Prevention", VLDB 2015), written once for
//! [`LoadPolicy::early_refresh`](super::LoadPolicy::early_refresh) and for the layers built on
//! the cache (the HTTP layer's cached routes).

use std::time::{Duration, SystemTime};

use super::unix_ms;

/// Whether a read at `now` of a value fresh until `fresh_until`, whose last computation took
/// `took`, should refresh it early: true when `now - took * beta * ln(u) >= fresh_until` for a
/// uniform draw `u` in (0, 1]. The probability grows as `fresh_until` nears, and earlier for a
/// value that is slow to compute, so that a hot key is refreshed by one reader shortly before it
/// would go stale. `beta` 1.0 is the paper's optimum; more refreshes earlier. A computation
/// measured at zero counts as one millisecond.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// let now = SystemTime::now();
/// let far = now + Duration::from_secs(3600);
/// assert!(!cachette_core::early_refresh_due(now, far, Duration::from_millis(100), 1.0));
/// ```
pub fn early_refresh_due(now: SystemTime, fresh_until: SystemTime, took: Duration, beta: f64) -> bool {
    let took_ms = u32::try_from(took.as_millis()).unwrap_or(u32::MAX);
    due(unix_ms(now), unix_ms(fresh_until), took_ms, beta, uniform())
}

/// [`early_refresh_due`] in Unix milliseconds, for a given draw `u` in (0, 1].
pub(crate) fn due(now_ms: u64, fresh_until_ms: u64, took_ms: u32, beta: f64, u: f64) -> bool {
    // -ln(u) >= 0; the product is in milliseconds, as the times are.
    now_ms as f64 - f64::from(took_ms.max(1)) * beta * u.ln() >= fresh_until_ms as f64
}

/// A uniform draw in (0, 1].
pub(crate) fn uniform() -> f64 {
    1.0 - rand::random::<f64>()
}
