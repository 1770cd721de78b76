//! What a case gets ([`Ctx`]), and how one case runs ([`run_case`]).

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cachette_core::{BaseCache, Cache, Config, Expiry};

use crate::BackendFactory;

/// How long a single case may run before it fails as hung.
pub const CASE_TIMEOUT: Duration = Duration::from_secs(120);

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

    /// The config the suite gives the factory and the typed facade (prefix and default timeout
    /// set, then [`BackendFactory::adjust_config`]).
    pub fn config(&self) -> Config {
        let mut config = Config::default();
        config.key_prefix = self.prefix();
        config.default_timeout = Expiry::After(Duration::from_secs(300));
        // The suite checks what operations do, not how fast: on a loaded CI machine a batch of
        // concurrent calls can queue past the facade's production deadline (250 ms).
        config.fail_safe.deadline = Duration::from_secs(10);
        self.factory.adjust_config(&mut config);
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

    /// Runs `steps` with a short lifetime (first [`short_ttl`](Ctx::short_ttl)) and returns that
    /// lifetime and what the steps returned, once they finished within it.
    ///
    /// For the checks a case must make *before* an entry expires (alive right after the write,
    /// a `touch` or an `inc` of a live key): on a loaded machine the steps can take longer than
    /// the lifetime, and a check made after the expiry would test nothing, or fail a backend that
    /// did nothing wrong. Steps that took the lifetime or longer (timed from before their first
    /// write, so the entry's own clock started later) run again with twice the lifetime, up to
    /// four times in all; the last run's result is returned whatever its time, for the case to
    /// check. `steps` must write what it checks afresh each time (a `set` that overwrites).
    pub async fn before_expiry<T, F, Fut>(&self, mut steps: F) -> (Duration, T)
    where
        F: FnMut(Duration) -> Fut,
        Fut: Future<Output = T>,
    {
        const RUNS: u32 = 4;
        let mut ttl = self.short_ttl();
        let mut run = 1;
        loop {
            let started = Instant::now();
            let out = steps(ttl).await;
            let took = started.elapsed();
            if took < ttl || run == RUNS {
                return (ttl, out);
            }
            eprintln!(
                "[{}] steps took {took:?}, not within the {ttl:?} lifetime under test: again with {:?}",
                self.case,
                ttl * 2
            );
            ttl *= 2;
            run += 1;
        }
    }

    /// Sleeps until an entry written now with `ttl` has surely expired.
    pub async fn wait_past(&self, ttl: Duration) {
        tokio::time::sleep(ttl + self.resolution() + Duration::from_millis(250)).await;
    }
}

/// Runs one case on its own runtime, failing it if it hangs past [`CASE_TIMEOUT`]. The
/// [`conformance_suite!`](crate::conformance_suite!) macro calls this; call it yourself to run single cases.
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
