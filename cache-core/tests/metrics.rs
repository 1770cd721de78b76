//! The metrics of the `metrics` feature, read with `metrics-util`'s debugging recorder: backend
//! calls (count, outcome, latency), the breaker's state, reads, and memoized functions (hits,
//! misses, load time).
//!
//! Each test installs the recorder for its own thread only (`with_local_recorder`) and runs the
//! cache on a current-thread runtime, so tests running in parallel do not see each other's
//! metrics.

mod support;

use std::time::Duration;

use cachette_conformance::metrics::{counter, find, histogram, recorded};
use cachette_core::{Cache, Ttl};
use metrics_util::debugging::DebugValue;

async fn slow_weather(city: &str) -> Result<String, std::io::Error> {
    tokio::time::sleep(Duration::from_millis(30)).await;
    Ok(format!("sunny in {city}"))
}

#[test]
fn a_memoized_function_counts_its_hits_misses_and_load_time() {
    let metrics = recorded(|| async {
        let cache = support::simple(&[]);
        let weather = cache.memoized("app::weather", Ttl::Default);
        for _ in 0..3 {
            weather.call(&"Lisbon", || slow_weather("Lisbon")).await.unwrap();
        }
        weather.call(&"Porto", || slow_weather("Porto")).await.unwrap();
    });
    let calls = |outcome| {
        counter(&metrics, "cachette_memoize_calls_total", &[("function", "app::weather"), ("outcome", outcome)])
    };
    assert_eq!((calls("hit"), calls("miss")), (2, 2));
    let loads = histogram(&metrics, "cachette_memoize_load_seconds", &[("function", "app::weather")]);
    assert_eq!(loads.len(), 2, "one load per argument set: {loads:?}");
    assert!(loads.iter().all(|&s| (0.03..1.0).contains(&s)), "the loader sleeps 30 ms: {loads:?}");
    // The version reads are backend calls too, but not user reads.
    assert_eq!(counter(&metrics, "cachette_reads_total", &[("backend", "SimpleCache"), ("outcome", "hit")]), 2);
    assert_eq!(counter(&metrics, "cachette_reads_total", &[("backend", "SimpleCache"), ("outcome", "miss")]), 2);
}

#[test]
fn backend_calls_are_counted_by_operation_and_outcome_with_their_latency() {
    let metrics = recorded(|| async {
        let cache = support::simple(&[]);
        cache.set("a", &1, Ttl::Default).await.unwrap();
        assert_eq!(cache.get::<i32>("a").await.unwrap(), Some(1));
        assert_eq!(cache.get::<i32>("b").await.unwrap(), None);
        cache.delete("a").await.unwrap();
    });
    let ops = |operation| {
        counter(
            &metrics,
            "cachette_backend_operations_total",
            &[("backend", "SimpleCache"), ("operation", operation), ("outcome", "ok")],
        )
    };
    assert_eq!((ops("set"), ops("get"), ops("delete")), (1, 2, 1));
    let latency =
        histogram(&metrics, "cachette_backend_operation_seconds", &[("backend", "SimpleCache"), ("operation", "get")]);
    assert_eq!(latency.len(), 2);
    assert!(latency.iter().all(|&s| (0.0..0.25).contains(&s)), "{latency:?}");
    let breaker = find(&metrics, "cachette_breaker_state", &[("backend", "SimpleCache")]);
    assert_eq!(breaker, Some(&DebugValue::Gauge(0.0.into())), "closed");
}

#[test]
fn a_failing_backend_counts_errors_then_rejections_and_the_breaker_opens() {
    let metrics = recorded(|| async {
        let cache = support::down(&[("CACHE_OPTIONS", "breaker_failures=2,breaker_cooldown=1h")]);
        for _ in 0..5 {
            assert!(cache.get::<String>("k").await.is_err());
        }
        // Memoized calls run uncached: misses, with their load time.
        let f = cache.memoized("app::f", Ttl::Default);
        assert_eq!(f.call(&1, || async { Ok::<_, std::io::Error>(7) }).await.unwrap(), 7);
    });
    let outcome = |outcome| {
        counter(
            &metrics,
            "cachette_backend_operations_total",
            &[("backend", "Down"), ("operation", "get"), ("outcome", outcome)],
        )
    };
    assert_eq!(outcome("error"), 2);
    assert_eq!(outcome("rejected"), 4, "3 reads and the memoized version's read, with the breaker open");
    let breaker = find(&metrics, "cachette_breaker_state", &[("backend", "Down")]);
    assert_eq!(breaker, Some(&DebugValue::Gauge(1.0.into())), "open");
    let miss = counter(&metrics, "cachette_memoize_calls_total", &[("function", "app::f"), ("outcome", "miss")]);
    assert_eq!(miss, 1);
    assert_eq!(histogram(&metrics, "cachette_memoize_load_seconds", &[("function", "app::f")]).len(), 1);
}

#[test]
fn without_a_recorder_the_cache_works_as_before() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let cache: Cache = support::simple(&[]);
        cache.set("a", &1, Ttl::Default).await.unwrap();
        assert_eq!(cache.get::<i32>("a").await.unwrap(), Some(1));
    });
}
