//! The fail-safe of the `Cache` facade on a backend of a user's own that fails in the ways real
//! ones do: one that never answers (a stalled server), and one that refuses every call (a dead
//! one). The same behaviour against real redis and memcached servers is tested in their crates.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::time::Duration;

use cachette_core::{BaseCache, BreakerState, Bytes, Cache, CacheError, Config, Result, Ttl, async_trait};

/// A backend whose calls are counted, and which while `down` either never answers or refuses;
/// with `at_once`, its reads are answered on the caller's thread (`get_at_once`, as an
/// in-process store answers them).
#[derive(Default)]
struct Faulty {
    calls: AtomicUsize,
    down: AtomicBool,
    hangs: bool,
    at_once: bool,
}

impl Faulty {
    async fn call<T>(&self, ok: T) -> Result<T> {
        if self.hangs && self.down.load(SeqCst) {
            self.calls.fetch_add(1, SeqCst);
            std::future::pending::<()>().await;
        }
        self.answer(ok)
    }

    fn answer<T>(&self, ok: T) -> Result<T> {
        self.calls.fetch_add(1, SeqCst);
        if !self.down.load(SeqCst) {
            return Ok(ok);
        }
        Err(CacheError::Connection {
            backend: "Faulty",
            target: "127.0.0.1:1".into(),
            message: "connection refused".into(),
            source: None,
        })
    }
}

#[async_trait]
impl BaseCache for Faulty {
    fn type_name(&self) -> &'static str {
        "Faulty"
    }
    async fn get(&self, _: &str) -> Result<Option<Bytes>> {
        self.call(None).await
    }
    fn get_at_once(&self, _: &str) -> Option<Result<Option<Bytes>>> {
        self.at_once.then(|| self.answer(None))
    }
    async fn set(&self, _: &str, _: Bytes, _: Ttl) -> Result<()> {
        self.call(()).await
    }
    async fn add(&self, _: &str, _: Bytes, _: Ttl) -> Result<bool> {
        self.call(true).await
    }
    async fn delete(&self, _: &str) -> Result<bool> {
        self.call(false).await
    }
    async fn inc(&self, _: &str, d: i64) -> Result<i64> {
        self.call(d).await
    }
    async fn touch(&self, _: &str, _: Ttl) -> Result<bool> {
        self.call(false).await
    }
    async fn clear(&self) -> Result<()> {
        self.call(()).await
    }
}

fn cache_over(backend: Arc<Faulty>, options: &str) -> Cache {
    Cache::new(backend, Config::from_map([("CACHE_OPTIONS", options)]).unwrap())
}

fn down(hangs: bool) -> Arc<Faulty> {
    Arc::new(Faulty { calls: AtomicUsize::new(0), down: AtomicBool::new(true), hangs, at_once: false })
}

/// A backend that refuses every call, whose reads answer at once or not.
fn refusing(at_once: bool) -> Arc<Faulty> {
    Arc::new(Faulty { calls: AtomicUsize::new(0), down: AtomicBool::new(true), hangs: false, at_once })
}

#[tokio::test]
async fn a_backend_that_never_answers_is_bounded_by_the_deadline() {
    let cache = cache_over(down(true), "deadline=50ms");
    // Without the deadline this call would never return.
    let err = cache.get::<String>("k").await.unwrap_err();
    assert!(
        matches!(err, CacheError::Timeout { after, setting: "CACHE_OPTIONS.deadline", .. } if after == Duration::from_millis(50)),
        "{err}"
    );
    assert!(err.to_string().contains("50ms") && err.to_string().contains("CACHE_OPTIONS.deadline"), "{err}");
}

#[tokio::test]
async fn consecutive_failures_open_the_breaker_and_calls_then_skip_the_backend() {
    for at_once in [false, true] {
        let backend = refusing(at_once);
        let cache = cache_over(backend.clone(), "breaker_failures=3,breaker_cooldown=1h");
        for _ in 0..100 {
            assert!(cache.get::<String>("k").await.is_err());
        }
        assert_eq!(backend.calls.load(SeqCst), 3, "after 3 failures no call reaches the backend (at once: {at_once})");
        let stats = cache.stats();
        assert_eq!(stats.breaker.state, BreakerState::Open);
        assert_eq!((stats.breaker.opened, stats.breaker.rejected, stats.errors), (1, 97, 100));
        let err = cache.get::<String>("k").await.unwrap_err();
        assert!(matches!(err, CacheError::CircuitOpen { .. }) && err.is_backend_failure(), "{err}");
    }
}

#[tokio::test]
async fn after_the_cooldown_one_probe_closes_the_breaker_when_the_backend_is_back() {
    for at_once in [false, true] {
        let backend = refusing(at_once);
        let cache = cache_over(backend.clone(), "breaker_failures=1,breaker_cooldown=50ms");
        assert!(cache.get::<String>("k").await.is_err());
        assert!(matches!(cache.get::<String>("k").await, Err(CacheError::CircuitOpen { .. })));
        backend.down.store(false, SeqCst);
        tokio::time::sleep(Duration::from_millis(80)).await;
        assert_eq!(cache.get::<String>("k").await.unwrap(), None, "the probe goes through (at once: {at_once})");
        assert_eq!(cache.stats().breaker.state, BreakerState::Closed);
        assert_eq!(cache.get::<String>("k").await.unwrap(), None, "closed: answered (at once: {at_once})");
        assert_eq!(backend.calls.load(SeqCst), 3);
        assert_eq!(cache.stats().misses, 2);
    }
}

#[tokio::test]
async fn get_or_set_returns_the_loaders_value_whatever_the_backend_does() {
    for (hangs, at_once) in [(false, false), (true, false), (false, true)] {
        let backend = Arc::new(Faulty { down: AtomicBool::new(true), hangs, at_once, ..Faulty::default() });
        let cache = cache_over(backend.clone(), "deadline=20ms,breaker_failures=2,breaker_cooldown=1h");
        for i in 0..50 {
            let value: u32 =
                cache.get_or_set("k", Ttl::Default, || async move { Ok::<_, std::io::Error>(i) }).await.unwrap();
            assert_eq!(value, i);
        }
        // Only the two calls that opened the breaker reached the backend (and, if it hangs,
        // waited out their deadline); the other 48 skipped it.
        assert_eq!(
            backend.calls.load(SeqCst),
            2,
            "the breaker opened after two failures (hangs: {hangs}, at once: {at_once})"
        );
        let stats = cache.stats();
        assert_eq!(stats.loads, 50);
        assert!(stats.errors >= 50, "every absorbed failure is counted: {stats:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_panicking_loader_answers_every_waiter_at_once_and_poisons_nothing() {
    let backend = Arc::new(Faulty::default());
    let cache = cache_over(backend, "");
    let runs = Arc::new(AtomicUsize::new(0));
    let waiters: Vec<_> = (0..50)
        .map(|_| {
            let (cache, runs) = (cache.clone(), runs.clone());
            tokio::spawn(async move {
                cache
                    .get_or_set::<u32, _, _, std::io::Error>("k", Ttl::Default, || async move {
                        runs.fetch_add(1, SeqCst);
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        panic!("the database is on fire");
                    })
                    .await
            })
        })
        .collect();
    for waiter in waiters {
        let err = waiter.await.expect("no caller panics").unwrap_err();
        assert!(matches!(err, CacheError::Loader(_)), "{err}");
        assert!(
            format!("{err} {:?}", std::error::Error::source(&err)).contains("panicked: the database is on fire"),
            "{err}"
        );
    }
    assert_eq!(runs.load(SeqCst), 1, "one run for 50 waiters, not one after another");
    let value: u32 = cache.get_or_set("k", Ttl::Default, || async { Ok::<_, std::io::Error>(7) }).await.unwrap();
    assert_eq!(value, 7, "the next call loads afresh");
}

#[test]
fn zero_deadlines_and_thresholds_are_errors_naming_the_option() {
    for (options, named) in [
        ("deadline=0", "CACHE_OPTIONS.deadline"),
        ("breaker_cooldown=0s", "CACHE_OPTIONS.breaker_cooldown"),
        ("clear_deadline=0ms", "CACHE_OPTIONS.clear_deadline"),
        ("breaker_failures=0", "CACHE_OPTIONS.breaker_failures"),
        ("deadline=-1s", "CACHE_OPTIONS.deadline"),
    ] {
        let err = Config::from_map([("CACHE_OPTIONS", options)]).unwrap_err().to_string();
        assert!(err.contains(named), "{options}: {err}");
    }
}

#[tokio::test]
async fn memoized_functions_run_uncached_while_the_backend_is_down_with_or_without_ignore_errors() {
    for ignore_errors in [false, true] {
        let backend = down(false);
        let mut config = Config::from_map([("CACHE_OPTIONS", "breaker_failures=2,breaker_cooldown=1h")]).unwrap();
        config.ignore_errors = ignore_errors;
        let cache = Cache::new(backend.clone(), config);
        for i in 0..50u32 {
            let value: u32 = cache
                .memoize("app::square", &i, Ttl::Default, || async move { Ok::<_, std::io::Error>(i * i) })
                .await
                .unwrap();
            assert_eq!(value, i * i);
        }
        assert_eq!(backend.calls.load(SeqCst), 2, "only the calls that opened the breaker reached the backend");
        let stats = cache.stats();
        assert_eq!((stats.loads, stats.hits, stats.misses), (50, 0, 0), "version reads are not user reads: {stats:?}");
    }
}
