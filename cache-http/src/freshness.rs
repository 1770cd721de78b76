//! How long an entry stays fresh: the layer's [`Freshness`] and the handler's [`CacheTtl`].
//!
//! Called a timeout in Flask-Caching; not a timeout here, where the word means a deadline on a
//! request (tower's `Timeout`) or a network timeout (`CacheError::Timeout`): this is how long a
//! stored response may be served without rendering it again.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cachette_core::{CacheError, Ttl};
use jiff::tz::TimeZone;

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
/// let midnight = Freshness::until_midnight(0); // UTC
/// let berlin = Freshness::until_midnight_in("Europe/Berlin")?; // 23 or 25 hours on the days the clocks change
/// // Longer for successful searches than for empty ones:
/// let computed = Freshness::from_fn(|_req, res, _now| {
///     let empty = res.headers.get("x-results").is_some_and(|v| v == "0");
///     Ttl::After(Duration::from_secs(if empty { 10 } else { 600 }))
/// });
/// # let _ = (fixed, default, midnight, berlin, computed);
/// # Ok::<(), cachette_core::CacheError>(())
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

    /// Fresh until the next midnight at a fixed offset `utc_offset_secs` east of UTC (`0` for
    /// UTC, `3600` for UTC+1), by the layer's clock. A fixed offset has no clock changes: for a
    /// place that has them, [`until_midnight_in`](Freshness::until_midnight_in) its time zone.
    pub fn until_midnight(utc_offset_secs: i64) -> Freshness {
        Freshness::Dynamic(Arc::new(move |_, _, now| Ttl::At(next_midnight(now, utc_offset_secs))))
    }

    /// Fresh until the next midnight in the IANA time zone `zone` (`"Europe/Berlin"`,
    /// `"America/New_York"`), by the layer's clock: on the days the clocks change, that is 23 or
    /// 25 hours after the last one. Where a zone skips midnight itself (its clocks jump from
    /// 00:00 to 01:00), the entry lasts until the day begins.
    ///
    /// The zone is looked up now, so a name the time zone database does not know is an error
    /// here, at configuration, naming it (with the nearest known name), never at a request. The
    /// database is the system's (`/usr/share/zoneinfo`, or `TZDIR`), kept current by its
    /// updates; where there is none (a scratch container), the copy built into this crate.
    ///
    /// ```
    /// use cachette_http::Freshness;
    ///
    /// let berlin = Freshness::until_midnight_in("Europe/Berlin")?;
    /// let typo = Freshness::until_midnight_in("Europe/Berln").unwrap_err();
    /// assert!(typo.to_string().contains("Did you mean Europe/Berlin?"), "{typo}");
    /// # let _ = berlin;
    /// # Ok::<(), cachette_core::CacheError>(())
    /// ```
    pub fn until_midnight_in(zone: &str) -> Result<Freshness, CacheError> {
        let tz = jiff::tz::db().get(zone).map_err(|e| unknown_zone(zone, &e))?;
        Ok(Freshness::until_midnight_in_zone(tz))
    }

    /// [`until_midnight_in`](Freshness::until_midnight_in) a [`jiff::tz::TimeZone`] of your own
    /// (from another database, or `TimeZone::fixed` / `TimeZone::posix`). jiff 1.x's type.
    pub fn until_midnight_in_zone(zone: TimeZone) -> Freshness {
        Freshness::Dynamic(Arc::new(move |_, _, now| Ttl::At(next_midnight_in(now, &zone))))
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

/// The first midnight after `now` in the time zone `zone`: the start of the next day there, which
/// on the days its clocks change is 23 or 25 hours after the last midnight.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use cachette_http::next_midnight_in;
///
/// let berlin = jiff::tz::TimeZone::get("Europe/Berlin")?;
/// // 2030-03-31 00:00 in Berlin (23:00 UTC the day before); at 02:00 the clocks jump to 03:00.
/// let start = UNIX_EPOCH + Duration::from_secs(1_901_142_000);
/// assert_eq!(next_midnight_in(start, &berlin), start + Duration::from_secs(23 * 3600));
/// # Ok::<(), jiff::Error>(())
/// ```
pub fn next_midnight_in(now: SystemTime, zone: &TimeZone) -> SystemTime {
    let next = jiff::Timestamp::try_from(now).ok().and_then(|now| {
        let tomorrow = zone.to_datetime(now).date().tomorrow().ok()?;
        // `to_zoned_datetime` resolves a midnight that does not exist (a gap) to the instant the
        // day begins, and one that happens twice (a fold) to its first occurrence.
        let midnight = tomorrow.to_zoned_datetime(zone.clone()).ok()?;
        SystemTime::try_from(midnight.timestamp()).ok()
    });
    // Only outside jiff's range (years -9999 to 9999) is there no zoned midnight: UTC's then.
    next.unwrap_or_else(|| next_midnight(now, 0))
}

/// The error for a zone name the database does not know: the name, the nearest known one, what
/// the names look like.
fn unknown_zone(zone: &str, error: &jiff::Error) -> CacheError {
    let db = jiff::tz::db();
    let names: Vec<String> = db.available().map(|name| name.as_str().to_owned()).collect();
    let hint = cachette_core::suggest::nearest(zone, names.iter().map(String::as_str))
        .map(|name| format!(" Did you mean {name}?"))
        .unwrap_or_default();
    CacheError::config(
        "Freshness::until_midnight_in",
        zone,
        format!(
            "not a time zone of the IANA database ({error}).{hint} Names are Area/City, such as Europe/Berlin or \
             America/New_York; for a fixed offset from UTC use Freshness::until_midnight(seconds east of UTC)"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2030-03-31 00:00 in Berlin: at 02:00 the clocks jump to 03:00.
    const BERLIN_SPRING: u64 = 1_901_142_000;
    /// 2030-10-27 00:00 in Berlin: at 03:00 the clocks go back to 02:00.
    const BERLIN_AUTUMN: u64 = 1_919_282_400;
    const HOUR: u64 = 3600;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn hours_to_midnight(zone: &TimeZone, secs: u64) -> f64 {
        next_midnight_in(at(secs), zone).duration_since(at(secs)).unwrap().as_secs_f64() / 3600.0
    }

    #[test]
    fn the_days_the_clocks_change_in_berlin_last_23_and_25_hours() {
        let berlin = TimeZone::get("Europe/Berlin").unwrap();
        assert_eq!(hours_to_midnight(&berlin, BERLIN_SPRING), 23.0);
        assert_eq!(hours_to_midnight(&berlin, BERLIN_AUTUMN), 25.0);
        // From inside the changed hour, and on the days after (24 hours again).
        assert_eq!(hours_to_midnight(&berlin, BERLIN_AUTUMN + 2 * HOUR + 1800), 22.5);
        assert_eq!(hours_to_midnight(&berlin, BERLIN_SPRING + 23 * HOUR), 24.0);
        assert_eq!(hours_to_midnight(&berlin, BERLIN_AUTUMN + 25 * HOUR), 24.0);
        // A fixed offset knows no clock change: UTC+1 is an hour late on the spring day.
        assert_eq!(next_midnight(at(BERLIN_SPRING), 3600), at(BERLIN_SPRING + 24 * HOUR));
    }

    #[test]
    fn a_midnight_the_clocks_skip_ends_the_entry_when_the_day_begins() {
        // Havana's clocks jump from 00:00 to 01:00 on 2030-03-10: the day begins at 01:00 (-04:00).
        let havana = TimeZone::get("America/Havana").unwrap();
        let noon_before = 1_899_349_200 - 13 * HOUR; // 2030-03-09 12:00 (-05:00)
        assert_eq!(next_midnight_in(at(noon_before), &havana), at(1_899_349_200));
    }

    #[test]
    fn the_bundled_database_knows_berlin_as_the_system_one_does() {
        // What a server without /usr/share/zoneinfo (a scratch container) uses.
        let bundled = jiff::tz::TimeZoneDatabase::bundled().get("Europe/Berlin").unwrap();
        let system = TimeZone::get("Europe/Berlin").unwrap();
        for day in [BERLIN_SPRING, BERLIN_AUTUMN] {
            assert_eq!(next_midnight_in(at(day), &bundled), next_midnight_in(at(day), &system));
        }
        assert_eq!(hours_to_midnight(&bundled, BERLIN_SPRING), 23.0);
    }

    #[test]
    fn until_midnight_in_resolves_to_the_zones_next_midnight() {
        let freshness = Freshness::until_midnight_in("Europe/Berlin").unwrap();
        let (req, _) = http::Request::new(()).into_parts();
        let (res, _) = http::Response::new(()).into_parts();
        let ttl = freshness.resolve(&req, &res, at(BERLIN_AUTUMN + 60));
        assert_eq!(ttl, Ttl::At(at(BERLIN_AUTUMN + 25 * HOUR)));
    }

    #[test]
    fn an_unknown_zone_is_a_configuration_error_naming_it() {
        let error = Freshness::until_midnight_in("Europe/Berln").unwrap_err().to_string();
        assert!(error.starts_with("configuration error: Freshness::until_midnight_in = \"Europe/Berln\""), "{error}");
        assert!(error.contains("Did you mean Europe/Berlin?"), "{error}");
        let error = Freshness::until_midnight_in("UTC+2").unwrap_err().to_string();
        assert!(error.contains("Freshness::until_midnight(seconds east of UTC)"), "{error}");
    }
}
