//! The spans `RUST_LOG=cachette=debug` shows: one per `Cache` operation and memoized call, named
//! `cachette.<operation>`, with the backend, the operation, the key cut short, the outcome and
//! the latency; the events that say why a read missed happen inside them.

mod support;

use cachette_conformance::spans::{Spans, capture};
use cachette_core::Ttl;

/// The spans closed while `work` ran on a runtime of its own.
fn spans_of<F, Fut>(work: F) -> Spans
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = ()>,
{
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    capture(|| rt.block_on(work())).1
}

#[test]
fn a_miss_then_a_hit_make_two_get_spans_with_their_outcomes_and_the_miss_says_why_inside_its_span() {
    let spans = spans_of(|| async {
        let cache = support::simple(&[]);
        cache.get::<String>("user:1").await.unwrap();
        cache.set("user:1", "Ada", Ttl::Default).await.unwrap();
        cache.get::<String>("user:1").await.unwrap();
    });
    let gets = spans.named("cachette.get");
    assert_eq!(gets.len(), 2, "{spans:?}");
    for (get, outcome) in gets.iter().zip(["miss", "hit"]) {
        assert_eq!(get.field("backend"), Some("SimpleCache"));
        assert_eq!(get.field("operation"), Some("get"));
        assert_eq!(get.field("key"), Some("user:1"));
        assert_eq!(get.field("outcome"), Some(outcome));
        assert!(get.field("latency_us").is_some_and(|us| us.parse::<u64>().is_ok()), "{get:?}");
    }
    assert!(gets[0].events.iter().any(|e| e == "cache miss"), "the miss's reason is inside its span: {:?}", gets[0]);
    assert!(gets[1].events.iter().any(|e| e == "cache hit"), "{:?}", gets[1]);
    let set = spans.named("cachette.set");
    assert_eq!((set.len(), set[0].field("outcome")), (1, Some("ok")));
}

#[test]
fn a_long_or_secret_looking_key_is_never_in_a_span_whole() {
    let secret = format!("session:{}", "s3cr3t-t0ken-".repeat(20));
    let spans = spans_of(|| async {
        let cache = support::simple(&[]);
        cache.set(&secret, "v", Ttl::Default).await.unwrap();
        cache.get::<String>(&secret).await.unwrap();
        cache.delete(&secret).await.unwrap();
    });
    assert_eq!(spans.named("cachette.delete")[0].field("outcome"), Some("deleted"));
    let key = spans.named("cachette.get")[0].field("key").unwrap().to_owned();
    assert!(key.contains(&format!("({} bytes, #", secret.len())), "cut, with its length and a hash: {key}");
    assert!(!spans.text().contains(&secret), "{spans:?}");
    assert!(!spans.text().contains(&"s3cr3t-t0ken-".repeat(6)), "at most the first 64 bytes: {spans:?}");
}

#[test]
fn a_get_or_set_and_a_memoized_call_say_miss_then_hit_and_their_loads_run_inside_them() {
    let spans = spans_of(|| async {
        let cache = support::simple(&[]);
        for _ in 0..2 {
            cache.get_or_set("report", Ttl::Default, || async { Ok::<_, std::io::Error>(1) }).await.unwrap();
            cache.memoize("app::f", &7, Ttl::Default, || async { Ok::<_, std::io::Error>(2) }).await.unwrap();
        }
    });
    let loads: Vec<_> = spans.named("cachette.get_or_set").iter().map(|s| s.field("outcome")).collect();
    assert_eq!(loads, [Some("miss"), Some("hit")], "{spans:?}");
    let calls = spans.named("cachette.memoize");
    let outcomes: Vec<_> = calls.iter().map(|s| s.field("outcome")).collect();
    assert_eq!(outcomes, [Some("miss"), Some("hit")], "{spans:?}");
    assert_eq!(calls[0].field("function"), Some("app::f"));
    assert_eq!(calls[0].field("operation"), Some("memoize"));
    assert!(calls[1].events.iter().any(|e| e == "memoized call"), "{:?}", calls[1]);
}

#[test]
fn a_failing_backend_is_an_error_outcome_and_each_backend_call_is_a_trace_event_inside_the_operation() {
    let spans = spans_of(|| async {
        support::down(&[]).get::<i32>("k").await.unwrap_err();
        support::down(&[("CACHE_IGNORE_ERRORS", "true")]).get::<i32>("k").await.unwrap();
    });
    let gets = spans.named("cachette.get");
    assert_eq!(gets[0].field("outcome"), Some("error"), "{spans:?}");
    assert!(gets[0].events.iter().any(|e| e == "cache backend call"), "{:?}", gets[0]);
    assert_eq!(gets[1].field("outcome"), Some("miss"), "an absorbed failure is a miss: {spans:?}");
    assert!(gets[1].events.iter().any(|e| e.contains("treated as a miss")), "and says why: {:?}", gets[1]);
}

#[test]
fn spans_are_at_debug_so_an_info_subscriber_sees_none() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let seen = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = seen.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
        .with_writer(move || {
            counted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            std::io::sink()
        })
        .finish();
    cachette_conformance::spans::with_subscriber(subscriber, || {
        rt.block_on(async {
            let cache = support::simple(&[]);
            cache.set("k", &1, Ttl::Default).await.unwrap();
            cache.get::<i32>("k").await.unwrap();
        })
    });
    assert_eq!(seen.load(std::sync::atomic::Ordering::Relaxed), 0, "nothing written at info");
}
