//! The fail-safe checks of the `Cache` facade against a real server that a fault test stalls
//! (SIGSTOP) or kills: written once here, called by each backend crate's fault tests with its
//! cache and what breaks and mends its server.
//!
//! The checks count, they do not time: while the backend is broken every call still returns
//! (the loader's value, or a miss under `CACHE_IGNORE_ERRORS`), and the circuit breaker lets only
//! a handful of calls reach the backend; once it is mended, hits come back within a bounded
//! number of tries.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::Duration;

use cachette_core::{Cache, Config, Ttl};

/// `CACHE_OPTIONS` for fault tests: short deadline and cool-down so the tests run in seconds.
pub const FAULT_OPTIONS: &str = "deadline=200ms,breaker_failures=3,breaker_cooldown=300ms";

/// Calls made while the backend is broken.
pub const CALLS: usize = 60;

/// Sets up `config` for a fault test: [`FAULT_OPTIONS`] and `CACHE_IGNORE_ERRORS` on, keeping
/// the backend's own options. Returns it for chaining.
pub fn fault_config(mut config: Config) -> Config {
    for part in FAULT_OPTIONS.split(',') {
        let (name, value) = part.split_once('=').expect("name=value");
        config.options.insert(name, value);
    }
    config.fail_safe = cachette_core::FailSafePolicy::from_options(&config.options).expect("valid fault options");
    config.ignore_errors = true;
    config
}

/// What a fault test did, for its report.
#[derive(Debug, Clone, Copy)]
pub struct OutageReport {
    /// Calls (through `get`, `get_or_set` and memoize) made while the backend was broken.
    pub calls: u64,
    /// How many of them reached the backend (the rest failed at once on the open breaker).
    pub attempts: u64,
    /// Tries after the backend was mended until a read was a hit again.
    pub tries_until_hit: usize,
}

/// Breaks the backend under `cache` with `break_it(server)`, checks that [`CALLS`] rounds of
/// `get`, `get_or_set` and memoize all return (the loader's value; a miss) with at most
/// `max_attempts` backend attempts, then mends it with `mend(server)` and checks that hits
/// return: a value written after mending reads back within a bounded number of tries.
///
/// `cache` must be built with [`fault_config`].
///
/// ```no_run
/// # async fn f(cache: cachette_core::Cache) {
/// use cachette_conformance::harness::{faults, redis::RedisServer};
/// let mut server = RedisServer::start();
/// // ... a cache on it, built with faults::fault_config ...
/// faults::survives_an_outage(&cache, &mut server, RedisServer::stall, RedisServer::resume, 6).await;
/// # }
/// ```
pub async fn survives_an_outage<S>(
    cache: &Cache,
    server: &mut S,
    break_it: impl FnOnce(&mut S),
    mend: impl FnOnce(&mut S),
    max_attempts: u64,
) -> OutageReport {
    assert!(cache.config().ignore_errors, "build the cache with harness::faults::fault_config");
    cache.set("faults:warm", "before", Ttl::Never).await.expect("the backend works before the fault");
    let before = cache.stats();
    break_it(server);

    let loads = AtomicUsize::new(0);
    for i in 0..CALLS {
        let loaded: usize = cache
            .get_or_set(&format!("faults:k{i}"), Ttl::Default, || async {
                loads.fetch_add(1, SeqCst);
                Ok::<_, std::io::Error>(i)
            })
            .await
            .expect("get_or_set never fails on a backend failure");
        assert_eq!(loaded, i);
        let memoized: usize = cache
            .memoize("faults::double", &i, Ttl::Default, || async move { Ok::<_, std::io::Error>(i * 2) })
            .await
            .expect("memoize never fails on a backend failure");
        assert_eq!(memoized, i * 2);
        assert_eq!(cache.get::<String>("faults:warm").await.expect("a miss under CACHE_IGNORE_ERRORS"), None);
    }
    assert_eq!(loads.load(SeqCst), CALLS, "every get_or_set ran its loader");
    let during = cache.stats();
    // Every backend call made while it was broken failed and was counted as an error; those the
    // breaker refused at once are counted as rejected too.
    let calls = during.errors - before.errors;
    let attempts = calls - (during.breaker.rejected - before.breaker.rejected);
    assert!(
        attempts <= max_attempts,
        "while the backend was broken {attempts} of {calls} calls reached it (at most {max_attempts} expected): {during:?}"
    );

    mend(server);
    let mut tries = 0;
    loop {
        tries += 1;
        assert!(tries <= 200, "no hit within 200 tries after the backend came back: {:?}", cache.stats());
        if cache.set("faults:after", &tries, Ttl::Never).await.is_ok()
            && cache.get::<usize>("faults:after").await.ok().flatten() == Some(tries)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    OutageReport { calls, attempts, tries_until_hit: tries }
}
