//! The decorator options of Flask-Caching's `memoize`, on a [`Memoized`] handle: `cache_none`,
//! `unless`, `forced_update`, `is_stale`, `response_filter` and `make_name`. (`args_to_ignore`
//! is the arguments a caller leaves out of `args`; the `#[memoize]` attribute has it.)

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use serde::Serialize;

use super::Memoized;
use crate::{CacheError, Result, codec};

/// Whether `unless` or `forced_update` holds for a call: a `bool` decided where the handle is
/// built (the `#[memoize]` attribute evaluates its expression on each call and passes the
/// `bool`), or a closure asked on each call of a handle that is kept.
///
/// ```
/// use cachette_core::Condition;
///
/// let fixed: Condition = true.into();
/// let asked: Condition = (|| std::env::var_os("NO_CACHE").is_some()).into();
/// assert!(fixed.holds());
/// # let _ = asked;
/// ```
#[derive(Clone, Default)]
pub struct Condition(Repr);

#[derive(Clone, Default)]
enum Repr {
    #[default]
    Never,
    Always,
    Asked(Arc<dyn Fn() -> bool + Send + Sync>),
}

impl Condition {
    /// Whether it holds now.
    pub fn holds(&self) -> bool {
        match &self.0 {
            Repr::Never => false,
            Repr::Always => true,
            Repr::Asked(f) => f(),
        }
    }
}

impl From<bool> for Condition {
    fn from(holds: bool) -> Condition {
        Condition(if holds { Repr::Always } else { Repr::Never })
    }
}

impl<F: Fn() -> bool + Send + Sync + 'static> From<F> for Condition {
    fn from(f: F) -> Condition {
        Condition(Repr::Asked(Arc::new(f)))
    }
}

impl fmt::Debug for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Repr::Never => f.write_str("Condition(false)"),
            Repr::Always => f.write_str("Condition(true)"),
            Repr::Asked(_) => f.write_str("Condition(<fn>)"),
        }
    }
}

/// A `make_name`: the function's name in keys from its own name.
pub(super) type MakeName = Arc<dyn Fn(&str) -> String + Send + Sync>;

/// A test of a value of type `T`.
type Test<T> = Arc<dyn Fn(&T) -> bool + Send + Sync>;

/// A [`Test`] whose value type is known only at the call (a handle is not typed by its values):
/// the type's name, for the error when a call's type is another.
#[derive(Clone)]
struct ErasedTest {
    value_type: &'static str,
    test: Arc<dyn Any + Send + Sync>,
}

impl ErasedTest {
    fn new<T: 'static>(test: impl Fn(&T) -> bool + Send + Sync + 'static) -> ErasedTest {
        let test: Test<T> = Arc::new(test);
        ErasedTest { value_type: std::any::type_name::<T>(), test: Arc::new(test) }
    }
}

/// The options set on a handle ([`Memoized`]'s builder methods).
#[derive(Clone, Default)]
pub(super) struct Options {
    cache_none: bool,
    pub(super) make_name: Option<MakeName>,
    pub(super) unless: Condition,
    pub(super) forced_update: Condition,
    is_stale: Option<ErasedTest>,
    response_filter: Option<ErasedTest>,
}

impl fmt::Debug for Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Options")
            .field("cache_none", &self.cache_none)
            .field("make_name", &self.make_name.as_ref().map(|_| "<fn>"))
            .field("unless", &self.unless)
            .field("forced_update", &self.forced_update)
            .field("is_stale", &self.is_stale.as_ref().map(|t| t.value_type))
            .field("response_filter", &self.response_filter.as_ref().map(|t| t.value_type))
            .finish()
    }
}

impl Options {
    /// The tests of values of type `T` for one call; a [`CacheError::Config`] if a test was
    /// given for values of another type.
    pub(super) fn judge<T: 'static>(&self, function: &str) -> Result<Judge<T>> {
        let typed = |test: &Option<ErasedTest>, option: &str| match test {
            None => Ok(None),
            Some(erased) => erased.test.downcast_ref::<Test<T>>().cloned().map(Some).ok_or_else(|| {
                CacheError::config(
                    format!("Memoized::{option}"),
                    format!("a test of {}", erased.value_type),
                    format!(
                        "the memoized function {function} was called for values of type {}: give `{option}` a \
                         closure taking `&{}`",
                        std::any::type_name::<T>(),
                        std::any::type_name::<T>()
                    ),
                )
            }),
        };
        Ok(Judge {
            none_is_a_miss: !self.cache_none,
            is_stale: typed(&self.is_stale, "is_stale")?,
            keep_if: typed(&self.response_filter, "response_filter")?,
        })
    }
}

/// What one call's options say about values of type `T`: which stored ones are misses, which
/// loaded ones are kept.
pub(super) struct Judge<T> {
    none_is_a_miss: bool,
    is_stale: Option<Test<T>>,
    keep_if: Option<Test<T>>,
}

// Not derived: a derive would ask `T: Clone`, and only the tests' `Arc`s are cloned.
impl<T> Clone for Judge<T> {
    fn clone(&self) -> Self {
        Judge { none_is_a_miss: self.none_is_a_miss, is_stale: self.is_stale.clone(), keep_if: self.keep_if.clone() }
    }
}

impl<T: Serialize> Judge<T> {
    /// A stored value that is a miss: `None` without `cache_none`, or stale by `is_stale`.
    pub(super) fn is_stale(&self, value: &T) -> bool {
        (self.none_is_a_miss && codec::is_none(value)) || self.is_stale.as_ref().is_some_and(|test| test(value))
    }

    /// Whether a loaded value is stored: not `None` without `cache_none`, and kept by the
    /// `response_filter`.
    pub(super) fn keeps(&self, value: &T) -> bool {
        !(self.none_is_a_miss && codec::is_none(value)) && self.keep_if.as_ref().is_none_or(|test| test(value))
    }
}

/// Flask-Caching's decorator options. Each is the same as the `#[memoize]` attribute's argument
/// of that name; on a handle, the tests that depend on the call (`unless`, `forced_update`,
/// `make_name`) are asked on each call.
impl Memoized {
    /// Whether a `None` result is stored. By default (`false`, as in Flask-Caching) a function
    /// whose result is `None` — an `Option<T>`, or the `Ok(None)` of a `Result<Option<T>, E>` —
    /// is called again next time: `None` usually means "not there yet" (no such user, no rate
    /// today), and caching it would hide the row created a second later for the whole lifetime.
    /// A `None` stored before (by a handle with `cache_none(true)` under the same name) is a miss.
    /// `true` stores `None` like any value: for lookups of things that stay missing, so that each
    /// one costs one load per lifetime (negative caching). Only a top-level `None` counts:
    /// `Some(None)` is a value.
    ///
    /// ```
    /// # use cachette_core::{Cache, Ttl};
    /// # async fn find_user(id: u64) -> Result<Option<String>, std::io::Error> { Ok(None) }
    /// # async fn demo(cache: Cache) -> cachette_core::Result<()> {
    /// // Ids that do not exist are asked for again and again by a scraper: remember the misses.
    /// let user = cache.memoized("app::find_user", Ttl::Default).cache_none(true);
    /// let found: Option<String> = user.call(&404, || find_user(404)).await?;
    /// # let _ = found; Ok(()) }
    /// ```
    pub fn cache_none(mut self, cache_none: bool) -> Memoized {
        self.options.cache_none = cache_none;
        self
    }

    /// While `unless` holds, a call skips the cache entirely: no read (not even of the function's
    /// version), no write, no hit or miss in the stats, the metrics or the hooks: the loader runs
    /// as if the function were not memoized ([`call_uncached`](Memoized::call_uncached)).
    ///
    /// ```
    /// # use cachette_core::{Cache, Ttl};
    /// # async fn report() -> Result<String, std::io::Error> { Ok(String::new()) }
    /// # async fn demo(cache: Cache) -> cachette_core::Result<()> {
    /// // Asked on each call: a staging switch, a header seen by a task-local, ...
    /// let report = cache.memoized("app::report", Ttl::Default).unless(|| std::env::var_os("NO_CACHE").is_some());
    /// report.call(&(), report_loader).await?;
    /// # async fn report_loader() -> Result<String, std::io::Error> { Ok(String::new()) }
    /// # Ok(()) }
    /// ```
    pub fn unless(mut self, unless: impl Into<Condition>) -> Memoized {
        self.options.unless = unless.into();
        self
    }

    /// While `forced_update` holds, a call runs the loader and stores its value even if one is
    /// cached (a refresh on demand). It does not read, so it is neither a hit nor a miss: the
    /// hooks see its store, and the stats count its load. The stored value is replaced as by
    /// any write (a concurrent [`delete`](Memoized::delete) can lose to it, as to a `set`).
    ///
    /// ```
    /// # use cachette_core::{Cache, Ttl};
    /// # async fn rates() -> Result<Vec<f64>, std::io::Error> { Ok(vec![]) }
    /// # async fn demo(cache: Cache, admin_asked_for_fresh_rates: bool) -> cachette_core::Result<()> {
    /// let rates = cache.memoized("app::rates", Ttl::Default).forced_update(admin_asked_for_fresh_rates);
    /// rates.call(&"EUR", rates_loader).await?;
    /// # async fn rates_loader() -> Result<Vec<f64>, std::io::Error> { Ok(vec![]) }
    /// # Ok(()) }
    /// ```
    pub fn forced_update(mut self, forced_update: impl Into<Condition>) -> Memoized {
        self.options.forced_update = forced_update.into();
        self
    }

    /// A stored value for which `is_stale` returns true is a miss: the loader runs and its value
    /// replaces it (with single-flight and leases, as any miss; counted and reported as a miss).
    /// For values that say themselves when they are out of date. The handle's calls must be for
    /// values of type `T` (a call for another type is a [`CacheError::Config`] naming both).
    ///
    /// ```
    /// # use cachette_core::{Cache, Ttl};
    /// # #[derive(serde::Serialize, serde::Deserialize)] struct Token { expires_at: u64 }
    /// # fn now() -> u64 { 0 }
    /// # async fn fetch_token() -> Result<Token, std::io::Error> { Ok(Token { expires_at: 60 }) }
    /// # async fn demo(cache: Cache) -> cachette_core::Result<()> {
    /// let token = cache.memoized("app::token", Ttl::Never).is_stale(|t: &Token| t.expires_at <= now());
    /// let t: Token = token.call(&(), fetch_token).await?;
    /// # let _ = t; Ok(()) }
    /// ```
    pub fn is_stale<T: 'static>(mut self, is_stale: impl Fn(&T) -> bool + Send + Sync + 'static) -> Memoized {
        self.options.is_stale = Some(ErasedTest::new(is_stale));
        self
    }

    /// A loaded value for which `response_filter` returns false is returned but not stored (the
    /// next call loads again): Flask-Caching's way to keep error pages out of the cache. A
    /// loader's `Err` is never stored anyway. The handle's calls must be for values of type `T`.
    ///
    /// ```
    /// # use cachette_core::{Cache, Ttl};
    /// # #[derive(serde::Serialize, serde::Deserialize)] struct Page { status: u16, body: String }
    /// # async fn render() -> Result<Page, std::io::Error> { Ok(Page { status: 200, body: String::new() }) }
    /// # async fn demo(cache: Cache) -> cachette_core::Result<()> {
    /// let page = cache.memoized("app::page", Ttl::Default).response_filter(|p: &Page| p.status < 500);
    /// let p: Page = page.call(&"/", render).await?;
    /// # let _ = p; Ok(()) }
    /// ```
    pub fn response_filter<T: 'static>(
        mut self,
        response_filter: impl Fn(&T) -> bool + Send + Sync + 'static,
    ) -> Memoized {
        self.options.response_filter = Some(ErasedTest::new(response_filter));
        self
    }

    /// The name of the function in keys, computed on each call from its name: one set of results
    /// per computed name (per language, per tenant: whatever the function reads besides its
    /// arguments). Flask-Caching's `make_name`.
    ///
    /// The computed name is hashed with the arguments; it never replaces the function's own
    /// name, under which keys and the version stay: results are keyed
    /// `memoize:<function>:<version>:<hash of (computed name, arguments)>`. So whatever it
    /// returns, a computed name cannot make two functions share results (one function's
    /// computed name can equal another's own name, or its computed name, with no effect), and
    /// [`delete_all`](Memoized::delete_all) forgets the results of every computed name.
    /// [`delete`](Memoized::delete) forgets those of the name computed when it is called. It
    /// should return the same name for the same context (not a time or a random value, or
    /// every call misses), and metrics and hooks name the function by its own name, so that a
    /// computed name never makes a label per user.
    ///
    /// ```
    /// # use cachette_core::{Cache, Ttl};
    /// # fn current_language() -> &'static str { "de" }
    /// # async fn menu() -> Result<Vec<String>, std::io::Error> { Ok(vec![]) }
    /// # async fn demo(cache: Cache) -> cachette_core::Result<()> {
    /// let menu = cache.memoized("app::menu", Ttl::Default).make_name(|name| format!("{name}.{}", current_language()));
    /// menu.call(&(), menu_loader).await?; // one menu per language
    /// # async fn menu_loader() -> Result<Vec<String>, std::io::Error> { Ok(vec![]) }
    /// # Ok(()) }
    /// ```
    pub fn make_name(mut self, make_name: impl Fn(&str) -> String + Send + Sync + 'static) -> Memoized {
        self.options.make_name = Some(Arc::new(make_name));
        self
    }
}
