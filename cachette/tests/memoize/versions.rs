//! Memoized functions' versions: kept in process on a backend no other process writes (a hit is
//! one read), read on every call from a shared one; a `delete_all` is seen either way.

use std::sync::Arc;

use cachette::{BaseCache, Cache, Config, Memoized, Ttl};

use crate::support::{KeyLog, Loads};

/// `function`'s handle on a new `Cache` over `backend`.
fn handle(backend: &Arc<KeyLog>, function: &str) -> Memoized {
    Cache::new(backend.clone() as Arc<dyn BaseCache>, Config::default()).memoized(function, Ttl::Default)
}

/// The backend reads of one more call of `f`, which loads through `loads`.
async fn reads_of_a_call(backend: &KeyLog, f: &Memoized, loads: &Loads) -> usize {
    let before = backend.reads();
    f.call(&7, loads.of(49)).await.unwrap();
    backend.reads() - before
}

#[tokio::test]
async fn a_hit_on_a_backend_no_other_process_writes_is_one_read() {
    let (backend, loads) = (KeyLog::new(false), Loads::default());
    let square = handle(&backend, "app::square");
    square.call(&7, loads.of(49)).await.unwrap();
    assert_eq!(reads_of_a_call(&backend, &square, &loads).await, 1, "the result only: the version is known");
    assert_eq!(loads.count(), 1);
}

#[tokio::test]
async fn a_shared_backend_is_asked_for_the_version_on_every_call() {
    let (backend, loads) = (KeyLog::new(true), Loads::default());
    let square = handle(&backend, "app::square");
    square.call(&7, loads.of(49)).await.unwrap();
    assert_eq!(reads_of_a_call(&backend, &square, &loads).await, 2, "the version, then the result");
    handle(&backend, "app::square").delete_all().await.unwrap(); // as another process would
    square.call(&7, loads.of(49)).await.unwrap();
    assert_eq!(loads.count(), 2, "the other's delete_all was seen at once");
}

#[tokio::test]
async fn forgetting_all_through_another_cache_on_the_same_backend_is_seen_by_every_cache_on_it() {
    let (backend, loads) = (KeyLog::new(false), Loads::default());
    let (square, other) = (handle(&backend, "app::square"), handle(&backend, "app::square"));
    square.call(&7, loads.of(49)).await.unwrap();
    other.delete_all().await.unwrap();
    square.call(&7, loads.of(49)).await.unwrap();
    assert_eq!(loads.count(), 2, "the version kept by the first cache was forgotten");
}

#[tokio::test]
async fn deleting_a_version_key_by_hand_forgets_the_version_kept() {
    let (backend, loads) = (KeyLog::new(false), Loads::default());
    let square = handle(&backend, "app::square");
    square.call(&7, loads.of(49)).await.unwrap();
    square.cache().delete("memoize-version:app::square").await.unwrap();
    square.call(&7, loads.of(49)).await.unwrap();
    assert_eq!(loads.count(), 2);
}

#[tokio::test]
async fn clear_forgets_every_version_kept_and_the_next_call_draws_a_new_one() {
    let backend = KeyLog::new(false);
    let square = handle(&backend, "app::square");
    square.call(&7, Loads::default().of(49)).await.unwrap();
    square.cache().clear().await.unwrap();
    square.call(&7, Loads::default().of(49)).await.unwrap();
    let drawn = backend.keys().iter().filter(|k| k.as_str() == "memoize-version:app::square").count();
    assert_eq!(drawn, 2, "{:?}", backend.keys());
}
