//! Hooks (`Cache::on_event`) and honest counters: the events of memoized functions, errors
//! absorbed by CACHE_IGNORE_ERRORS still counted, and the quickstart's counts.

mod support;

use std::sync::{Arc, Mutex};

use cachette_core::{EventKind, EventSource, Ttl};

/// Events seen by a hook, as (kind, function, key is empty, has a load time).
type Seen = Arc<Mutex<Vec<(EventKind, String, bool, bool)>>>;

fn watch(cache: &cachette_core::Cache) -> Seen {
    let seen: Seen = Arc::default();
    let log = seen.clone();
    cache.on_event(move |event| {
        let EventSource::Memoized { function } = event.source else { panic!("only memoized functions here") };
        log.lock().unwrap().push((event.kind, function.to_owned(), event.key.is_empty(), event.load_time.is_some()));
    });
    seen
}

fn kinds(seen: &Seen) -> Vec<EventKind> {
    seen.lock().unwrap().iter().map(|e| e.0).collect()
}

async fn answer() -> Result<u32, std::io::Error> {
    Ok(42)
}

#[tokio::test]
async fn hooks_see_a_miss_and_its_store_then_hits_then_invalidations() {
    let cache = support::simple(&[]);
    let seen = watch(&cache);
    let f = cache.memoized("app::answer", Ttl::Default);
    f.call(&1, answer).await.unwrap();
    f.call(&1, answer).await.unwrap();
    f.delete(&1).await.unwrap();
    f.delete_all().await.unwrap();
    use EventKind::*;
    assert_eq!(kinds(&seen), [Miss, Store, Hit, Invalidate, Invalidate]);
    let events = seen.lock().unwrap();
    assert!(events.iter().all(|e| e.1 == "app::answer" && !e.2), "{events:?}");
    assert!(events[1].3 && !events[0].3 && !events[2].3, "only the store has a load time: {events:?}");
}

#[tokio::test]
async fn hooks_registered_on_one_clone_see_the_calls_of_every_clone() {
    let cache = support::simple(&[]);
    let seen = watch(&cache.clone());
    cache.memoize("app::answer", &(), Ttl::Default, answer).await.unwrap();
    assert_eq!(kinds(&seen), [EventKind::Miss, EventKind::Store]);
}

#[tokio::test]
async fn a_hook_that_panics_does_not_fail_the_call_and_the_others_still_run() {
    let cache = support::simple(&[]);
    cache.on_event(|_| panic!("a broken hook"));
    let seen = watch(&cache);
    assert_eq!(cache.memoize("app::answer", &(), Ttl::Default, answer).await.unwrap(), 42);
    assert_eq!(kinds(&seen), [EventKind::Miss, EventKind::Store]);
}

#[tokio::test]
async fn a_memoized_call_on_a_dead_backend_is_a_miss_without_a_store() {
    let cache = support::down(&[("CACHE_IGNORE_ERRORS", "true")]);
    let seen = watch(&cache);
    assert_eq!(cache.memoize("app::answer", &(), Ttl::Default, answer).await.unwrap(), 42);
    assert_eq!(kinds(&seen), [EventKind::Miss]);
    assert!(seen.lock().unwrap()[0].2, "no key: the version could not be read");
}

#[tokio::test]
async fn errors_absorbed_by_cache_ignore_errors_are_still_counted() {
    let cache = support::down(&[("CACHE_IGNORE_ERRORS", "true")]);
    assert_eq!(cache.get::<String>("k").await.unwrap(), None);
    cache.set("k", "v", Ttl::Default).await.unwrap();
    assert!(!cache.delete("k").await.unwrap());
    let stats = cache.stats();
    assert_eq!((stats.errors, stats.misses, stats.hits), (3, 1, 0));
    assert_eq!(stats.hit_ratio(), 0.0);
}

/// The steps of `cargo run -p cachette --example quickstart`: 6 reads.
#[tokio::test]
async fn the_quickstarts_six_reads_count_three_hits_and_three_misses() {
    let cache = support::simple(&[]);
    cache.set("greeting", "hello, cache", Ttl::Default).await.unwrap();
    assert!(cache.get::<String>("greeting").await.unwrap().is_some());
    assert!(cache.get::<String>("missing").await.unwrap().is_none());
    cache.set("visits", &41, Ttl::Never).await.unwrap();
    assert_eq!(cache.inc("visits", 1).await.unwrap(), 42);
    let weather = cache.memoized("quickstart::fetch_weather", Ttl::Default);
    for _ in 0..3 {
        weather.call(&"Lisbon", answer).await.unwrap();
    }
    weather.delete_all().await.unwrap();
    weather.call(&"Lisbon", answer).await.unwrap();
    let stats = cache.stats();
    assert_eq!((stats.hits, stats.misses, stats.loads, stats.errors), (3, 3, 2, 0));
    assert_eq!(stats.hit_ratio(), 0.5);
}
