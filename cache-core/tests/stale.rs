//! `get_or_set_with`: stale-while-revalidate, stale-if-error and loader deadlines for computed
//! values, on a real SimpleCache.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::Duration;

use cachette_core::{Cache, CacheError, Config, LoadPolicy};
use cachette_simple::SimpleCache;
use tokio::sync::Semaphore;

fn cache() -> Cache {
    let config = Config::default();
    Cache::new(Arc::new(SimpleCache::new(&config).unwrap()), config)
}

const FRESH: Duration = Duration::from_millis(200);

/// Waits past the fresh period of a value written now.
async fn past_fresh() {
    tokio::time::sleep(FRESH + Duration::from_millis(100)).await;
}

async fn load_value(cache: &Cache, policy: &LoadPolicy, value: &'static str) -> cachette_core::Result<String> {
    cache.get_or_set_with("k", policy, move || async move { Ok::<_, std::io::Error>(value.to_owned()) }).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_value_is_returned_at_once_and_refreshed_once_behind() {
    let cache = cache();
    let policy = LoadPolicy::new(FRESH).stale_while_revalidate(Duration::from_secs(60));
    assert_eq!(load_value(&cache, &policy, "v1").await.unwrap(), "v1");
    past_fresh().await;

    let gate = Arc::new(Semaphore::new(0));
    let loads = Arc::new(AtomicUsize::new(0));
    let calls = (0..20).map(|_| {
        let (gate, loads) = (gate.clone(), loads.clone());
        cache.get_or_set_with("k", &policy, move || async move {
            loads.fetch_add(1, SeqCst);
            gate.acquire().await.unwrap().forget(); // the refresh is held until all 20 answered
            Ok::<_, std::io::Error>("v2".to_owned())
        })
    });
    for answer in futures::future::join_all(calls).await {
        assert_eq!(answer.unwrap(), "v1", "stale, at once, while the refresh is held");
    }
    gate.add_permits(20);
    // Reads go on answering the stale value (and start no second refresh) until it is stored.
    while load_value(&cache, &policy, "unused").await.unwrap() != "v2" {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(loads.load(SeqCst), 1, "one refresh for all the stale reads");
    let stats = cache.stats();
    assert!(stats.stale >= 20, "{stats:?}");
    assert_eq!((stats.refreshes, stats.loads), (1, 2), "the first load and the one refresh");
}

#[tokio::test]
async fn a_failing_or_panicking_loader_is_replaced_by_the_stale_value_within_the_grace() {
    let cache = cache();
    let policy = LoadPolicy::new(FRESH).stale_if_error(Duration::from_secs(60));
    assert_eq!(load_value(&cache, &policy, "v1").await.unwrap(), "v1");
    past_fresh().await;
    let failed: String = cache
        .get_or_set_with("k", &policy, || async { Err::<String, _>(std::io::Error::other("db down")) })
        .await
        .unwrap();
    assert_eq!(failed, "v1");
    let panicked: String =
        cache.get_or_set_with::<String, _, _, std::io::Error>("k", &policy, || async { panic!("boom") }).await.unwrap();
    assert_eq!(panicked, "v1");
    assert_eq!(cache.stats().stale, 2);
    // A loader that succeeds replaces the stale value.
    assert_eq!(load_value(&cache, &policy, "v2").await.unwrap(), "v2");
}

#[tokio::test]
async fn past_the_grace_the_loaders_failure_is_returned() {
    let cache = cache();
    let policy = LoadPolicy::new(FRESH).stale_if_error(Duration::from_millis(50));
    load_value(&cache, &policy, "v1").await.unwrap();
    past_fresh().await;
    let err = cache
        .get_or_set_with::<String, _, _, _>("k", &policy, || async { Err(std::io::Error::other("db down")) })
        .await
        .unwrap_err();
    assert!(matches!(err, CacheError::Loader(_)), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_load_past_the_soft_deadline_returns_the_stale_value_and_stores_its_own_later() {
    let cache = cache();
    let policy =
        LoadPolicy::new(FRESH).stale_if_error(Duration::from_secs(60)).soft_deadline(Duration::from_millis(50));
    load_value(&cache, &policy, "v1").await.unwrap();
    past_fresh().await;
    let gate = Arc::new(Semaphore::new(0));
    let held = gate.clone();
    let answer: String = cache
        .get_or_set_with("k", &policy, move || async move {
            held.acquire().await.unwrap().forget();
            Ok::<_, std::io::Error>("v2".to_owned())
        })
        .await
        .unwrap();
    assert_eq!(answer, "v1", "the load is still held at the gate");
    gate.add_permits(1);
    while load_value(&cache, &policy, "unused").await.unwrap() != "v2" {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn with_nothing_stale_the_hard_deadline_bounds_the_wait() {
    let cache = cache();
    let policy = LoadPolicy::new(FRESH).hard_deadline(Duration::from_millis(50));
    let err = cache
        .get_or_set_with::<String, _, _, std::io::Error>("k", &policy, || async {
            std::future::pending::<Result<String, std::io::Error>>().await
        })
        .await
        .unwrap_err();
    assert!(err.to_string().contains("hard_deadline") || format!("{:?}", err).contains("hard_deadline"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_that_begins_after_an_invalidation_never_gets_a_load_that_began_before_it() {
    let cache = cache();
    let policy = LoadPolicy::new(Duration::from_secs(300)).tags(["t"]);
    let (started, gate) = (Arc::new(Semaphore::new(0)), Arc::new(Semaphore::new(0)));
    let before = tokio::spawn({
        let (cache, policy, started, gate) = (cache.clone(), policy.clone(), started.clone(), gate.clone());
        async move {
            cache
                .get_or_set_with("k", &policy, move || async move {
                    started.add_permits(1);
                    gate.acquire().await.unwrap().forget(); // the data it read is about to change
                    Ok::<_, std::io::Error>("old".to_owned())
                })
                .await
        }
    });
    started.acquire().await.unwrap().forget();
    cache.invalidate_tag("t").await.unwrap();
    let after = tokio::spawn({
        let (cache, policy) = (cache.clone(), policy.clone());
        async move { load_value(&cache, &policy, "new").await }
    });
    let after = tokio::time::timeout(Duration::from_secs(5), after).await;
    gate.add_permits(1);
    assert_eq!(after.expect("not held by the load that began first").unwrap().unwrap(), "new");
    assert_eq!(before.await.unwrap().unwrap(), "old", "the call that began first gets its own load");
    assert_eq!(load_value(&cache, &policy, "newer").await.unwrap(), "newer", "the old load's value is no hit");
}
