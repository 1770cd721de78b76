//! The conformance suite that every cachette backend passes — the built-in ones and yours.
//!
//! One macro call in a test file runs every case against a backend, each case as its own test:
//!
//! ```
//! // tests/conformance.rs of a backend crate
//! use std::sync::Arc;
//! use cachette_core::{BaseCache, Config};
//! use cachette_simple::SimpleCache;
//!
//! cachette_conformance::conformance_suite!(simple, |config: Config| async move {
//!     Ok(Arc::new(SimpleCache::new(&config)?) as Arc<dyn BaseCache>)
//! });
//! # fn main() {}
//! ```
//!
//! The factory receives a [`Config`] with the key prefix and default timeout
//! that a case needs (every case uses its own random prefix, so cases can share one server) and
//! fills in its own settings (server address, directory, ...). A backend whose expiry has a coarse
//! resolution says so with [`Backend::with_ttl_resolution`], and the expiry cases wait accordingly.
//!
//! A backend that stores nothing (like `NullCache`) runs the [`UNIVERSAL_CASES`] and
//! [`STORELESS_CASES`] with `conformance_suite!(name, factory, stores_nothing)`; the
//! [`STORING_CASES`] are skipped for it, because each reads back a value that was written.
//!
//! The [`harness`] module starts real servers (redis, memcached, ...) on loopback for backends
//! that need them.

pub mod cases;
pub mod harness;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use cachette_core::{BaseCache, Cache, Config, Result, Ttl};

#[doc(hidden)]
pub mod __private {
    pub use async_trait::async_trait;
}

/// How long a single case may run before it fails as hung.
pub const CASE_TIMEOUT: Duration = Duration::from_secs(120);

/// A backend under test: builds caches from configs.
///
/// Implemented for every `Fn(Config) -> impl Future<Output = Result<Arc<dyn BaseCache>>>`, and by
/// [`Backend`] for closures that need a coarser expiry resolution.
#[async_trait::async_trait]
pub trait BackendFactory: Send + Sync + 'static {
    /// A cache for `config` (the suite sets the key prefix and default timeout).
    async fn build(&self, config: Config) -> Result<Arc<dyn BaseCache>>;

    /// The smallest expiry step of the backend (the expiry cases wait a few of these).
    fn ttl_resolution(&self) -> Duration {
        Duration::from_millis(50)
    }
}

#[async_trait::async_trait]
impl<F, Fut> BackendFactory for F
where
    F: Fn(Config) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Arc<dyn BaseCache>>> + Send,
{
    async fn build(&self, config: Config) -> Result<Arc<dyn BaseCache>> {
        self(config).await
    }
}

/// A factory closure with settings for the suite.
///
/// ```
/// use std::{sync::Arc, time::Duration};
/// use cachette_core::{BaseCache, Config};
/// use cachette_simple::SimpleCache;
/// use cachette_conformance::{Backend, BackendFactory};
///
/// // A backend that expires in whole seconds (as memcached does) says so:
/// let backend = Backend::new(|config: Config| async move {
///     Ok(Arc::new(SimpleCache::new(&config)?) as Arc<dyn BaseCache>)
/// })
/// .with_ttl_resolution(Duration::from_secs(1));
/// assert_eq!(backend.ttl_resolution(), Duration::from_secs(1));
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let cache = backend.build(Config::default()).await?;
/// assert_eq!(cache.type_name(), "SimpleCache");
/// # Ok::<(), cachette_core::CacheError>(())
/// # }).unwrap();
/// ```
pub struct Backend<F> {
    factory: F,
    ttl_resolution: Duration,
}

impl<F> Backend<F> {
    /// Wraps a factory closure.
    pub fn new(factory: F) -> Self {
        Backend { factory, ttl_resolution: Duration::from_millis(50) }
    }

    /// Sets the expiry resolution (default 50 ms).
    pub fn with_ttl_resolution(mut self, resolution: Duration) -> Self {
        self.ttl_resolution = resolution;
        self
    }
}

#[async_trait::async_trait]
impl<F, Fut> BackendFactory for Backend<F>
where
    F: Fn(Config) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Arc<dyn BaseCache>>> + Send,
{
    async fn build(&self, config: Config) -> Result<Arc<dyn BaseCache>> {
        (self.factory)(config).await
    }

    fn ttl_resolution(&self) -> Duration {
        self.ttl_resolution
    }
}

/// What a case gets: a way to build caches of the backend under test, each scoped to this case.
#[derive(Clone)]
pub struct Ctx {
    factory: Arc<dyn BackendFactory>,
    case: &'static str,
    run_id: String,
}

impl Ctx {
    /// A context for `case` (normally made by [`run_case`]).
    pub fn new(factory: Arc<dyn BackendFactory>, case: &'static str) -> Ctx {
        let run_id = format!("{:08x}", rand::random::<u32>());
        Ctx { factory, case, run_id }
    }

    /// The name of the case.
    pub fn case(&self) -> &'static str {
        self.case
    }

    /// The key prefix of this case's main cache.
    pub fn prefix(&self) -> String {
        self.prefix_named("main")
    }

    /// A key prefix unique to this case and `name`.
    pub fn prefix_named(&self, name: &str) -> String {
        format!("ct:{}:{}:{name}:", self.case, self.run_id)
    }

    /// The case's cache (default timeout 300 s).
    pub async fn cache(&self) -> Arc<dyn BaseCache> {
        self.cache_with(|_| {}).await
    }

    /// A cache with the case's prefix and a config changed by `adjust`.
    pub async fn cache_with(&self, adjust: impl FnOnce(&mut Config)) -> Arc<dyn BaseCache> {
        let mut config = self.config();
        adjust(&mut config);
        self.factory.build(config).await.unwrap_or_else(|e| panic!("[{}] the backend factory failed: {e}", self.case))
    }

    /// The typed facade over the case's cache.
    pub async fn typed(&self) -> Cache {
        Cache::new(self.cache().await, self.config())
    }

    /// The config the suite gives the factory (prefix and default timeout set).
    pub fn config(&self) -> Config {
        let mut config = Config::default();
        config.key_prefix = self.prefix();
        config.default_timeout = Ttl::After(Duration::from_secs(300));
        config
    }

    /// The backend's expiry resolution.
    pub fn resolution(&self) -> Duration {
        self.factory.ttl_resolution()
    }

    /// A lifetime short enough to wait out and long enough to still be alive right after a write.
    pub fn short_ttl(&self) -> Duration {
        (self.resolution() * 2).max(Duration::from_millis(300))
    }

    /// Sleeps until an entry written now with `ttl` has surely expired.
    pub async fn wait_past(&self, ttl: Duration) {
        tokio::time::sleep(ttl + self.resolution() + Duration::from_millis(250)).await;
    }
}

/// Runs one case on its own runtime, failing it if it hangs past [`CASE_TIMEOUT`]. The
/// [`conformance_suite!`] macro calls this; call it yourself to run single cases.
pub fn run_case<B, F, Fut>(factory: B, case: &'static str, body: F)
where
    B: BackendFactory,
    F: FnOnce(Ctx) -> Fut,
    Fut: Future<Output = ()>,
{
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("cannot start a tokio runtime for the conformance case");
    let ctx = Ctx::new(Arc::new(factory), case);
    runtime.block_on(async {
        if tokio::time::timeout(CASE_TIMEOUT, body(ctx)).await.is_err() {
            panic!("conformance case {case} did not finish within {CASE_TIMEOUT:?}: is the backend hanging?");
        }
    });
}

/// The single list of cases. Each group is a list of functions in [`cases`].
#[doc(hidden)]
#[macro_export]
macro_rules! __with_case_list {
    ($callback:ident ! ($($args:tt)*)) => {
        $crate::$callback! { $($args)*
            universal: [
                get_missing_is_none, has_missing_is_false, delete_missing_is_false,
                delete_many_missing_counts_zero, get_many_of_misses_keeps_length, get_many_empty_is_empty,
                set_many_empty_is_ok, set_accepts_any_key_and_large_values, touch_missing_is_false,
                clear_empty_cache_is_ok, typed_get_missing_is_none, dec_by_i64_min_is_an_error,
            ],
            storing: [
                set_then_get_returns_value, set_overwrites_value, set_empty_value_roundtrips,
                has_reports_live_key, delete_existing_returns_true, add_absent_key_stores,
                add_present_key_keeps_value, add_after_delete_stores, add_concurrent_exactly_one_wins,
                get_many_keeps_order_with_misses, get_many_duplicate_keys, set_many_then_get_many,
                set_many_hundred_keys, delete_many_counts_only_live_keys, inc_creates_missing_key,
                inc_existing_counter, dec_goes_negative, inc_typed_integer_reads_back_typed,
                inc_non_integer_is_error_and_keeps_value, inc_overflow_is_error, inc_concurrent_is_atomic,
                inc_keeps_ttl, ttl_after_expires, ttl_at_expires, ttl_never_outlives_default,
                ttl_default_uses_config_timeout, ttl_already_over_removes_value, expired_key_is_absent,
                touch_extends_live_key, touch_shortens_live_key, touch_never_removes_expiry,
                clear_removes_own_keys, clear_leaves_other_prefix, prefixes_isolate_keys,
                binary_values_roundtrip, value_of_1mib_roundtrips, key_with_spaces, key_with_unicode,
                key_of_300_bytes, similar_keys_are_distinct, typed_struct_roundtrip,
                typed_decode_wrong_type_is_error, typed_get_many_and_set_many, get_or_set_loads_once,
                get_or_set_failing_loader_stores_nothing, memoize_and_delete_memoized,
            ],
            storeless: [
                storeless_get_after_set_is_none, storeless_add_reports_true, storeless_inc_returns_delta,
                storeless_get_or_set_loads_every_time,
            ],
        }
    };
}

/// Generates the tests; see [`conformance_suite!`].
#[doc(hidden)]
#[macro_export]
macro_rules! __generate_suite {
    ($mode:ident, $module:ident, $factory:expr,
     universal: [$($u:ident),* $(,)?], storing: [$($s:ident),* $(,)?], storeless: [$($n:ident),* $(,)?] $(,)?) => {
        #[allow(unused_imports)]
        mod $module {
            use super::*;
            fn __factory() -> impl $crate::BackendFactory { $factory }
            $(#[test] fn $u() { $crate::run_case(__factory(), stringify!($u), $crate::cases::$u) })*
            $crate::__generate_suite!(@group $mode, $($s),* ; $($n),*);
        }
    };
    (@group all, $($s:ident),* ; $($n:ident),*) => {
        $(#[test] fn $s() { $crate::run_case(__factory(), stringify!($s), $crate::cases::$s) })*
    };
    (@group stores_nothing, $($s:ident),* ; $($n:ident),*) => {
        $(#[test] fn $n() { $crate::run_case(__factory(), stringify!($n), $crate::cases::$n) })*
    };
}

/// Lists the case names.
#[doc(hidden)]
#[macro_export]
macro_rules! __case_names {
    (universal: [$($u:ident),* $(,)?], storing: [$($s:ident),* $(,)?], storeless: [$($n:ident),* $(,)?] $(,)?) => {
        /// Cases every backend runs, including one that stores nothing.
        pub const UNIVERSAL_CASES: &[&str] = &[$(stringify!($u)),*];
        /// Cases that read back what was written: every backend that stores values runs them;
        /// a backend that stores nothing skips them (it has nothing to read back).
        pub const STORING_CASES: &[&str] = &[$(stringify!($s)),*];
        /// Cases only for a backend that stores nothing (NullCache's documented answers).
        pub const STORELESS_CASES: &[&str] = &[$(stringify!($n)),*];
    };
}

__with_case_list!(__case_names!());

/// Generates one `#[test]` per conformance case in a module named `$module`.
///
/// * `conformance_suite!(name, factory)` — a backend that stores values: [`UNIVERSAL_CASES`] and
///   [`STORING_CASES`].
/// * `conformance_suite!(name, factory, stores_nothing)` — a backend that stores nothing:
///   [`UNIVERSAL_CASES`] and [`STORELESS_CASES`]; the storing cases are skipped (listed in
///   [`STORING_CASES`], each needs a value read back).
///
/// `factory` is an expression of a type implementing [`BackendFactory`] (a closure
/// `|config: Config| async move { ... }` or a [`Backend`]); it is evaluated once per case, inside a
/// module that sees the caller's items through `use super::*`.
#[macro_export]
macro_rules! conformance_suite {
    ($module:ident, $factory:expr, stores_nothing $(,)?) => {
        $crate::__with_case_list!(__generate_suite!(stores_nothing, $module, $factory,));
    };
    ($module:ident, $factory:expr $(,)?) => {
        $crate::__with_case_list!(__generate_suite!(all, $module, $factory,));
    };
}
