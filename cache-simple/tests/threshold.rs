//! CACHE_THRESHOLD: the bound on entries, what it evicts, and that a write is always admitted.

use std::time::Duration;

use cachette_core::{BaseCache, Bytes, Config, Ttl};
use cachette_simple::SimpleCache;

fn cache_of(threshold: u64) -> SimpleCache {
    SimpleCache::new(&Config::from_map([("CACHE_THRESHOLD", threshold.to_string())]).unwrap()).unwrap()
}

fn v(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

async fn readable(cache: &SimpleCache, keys: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut out = Vec::new();
    for key in keys {
        if cache.get(&key).await.unwrap().is_some() {
            out.push(key);
        }
    }
    out
}

#[tokio::test]
async fn threshold_bounds_the_entry_count() {
    let cache = cache_of(100);
    for i in 0..1_000 {
        cache.set(&format!("k{i}"), Bytes::from_static(b"v"), Ttl::Never).await.unwrap();
    }
    let count = cache.entry_count();
    assert!(count <= 100, "CACHE_THRESHOLD=100 but {count} entries are kept");
    assert!(count > 0);
}

#[tokio::test]
async fn threshold_zero_means_unbounded() {
    let cache = cache_of(0);
    for i in 0..2_000 {
        cache.set(&format!("k{i}"), Bytes::from_static(b"v"), Ttl::Never).await.unwrap();
    }
    assert_eq!(cache.entry_count(), 2_000);
}

#[tokio::test]
async fn a_value_set_at_the_threshold_is_readable_before_and_after_pending_evictions() {
    let cache = cache_of(20);
    for i in 0..20 {
        cache.set(&format!("k{i}"), v("old"), Ttl::Never).await.unwrap();
    }
    assert_eq!(cache.entry_count(), 20);
    // A cache in use: the old entries are read, as the pages of a site are.
    assert_eq!(readable(&cache, (0..20).map(|i| format!("k{i}"))).await.len(), 20);
    assert_eq!(cache.entry_count(), 20);
    for i in 0..10 {
        let key = format!("latest{i}");
        cache.set(&key, v("new"), Ttl::Never).await.unwrap();
        assert_eq!(cache.get(&key).await.unwrap(), Some(v("new")), "{key} right after its set");
        assert!(cache.entry_count() <= 20);
        assert_eq!(cache.get(&key).await.unwrap(), Some(v("new")), "{key} once pending evictions ran");
    }
}

#[tokio::test]
async fn a_burst_past_the_threshold_keeps_the_newest_entries() {
    let cache = cache_of(20);
    for i in 0..30 {
        cache.set(&format!("k{i}"), v("x"), Ttl::Never).await.unwrap();
    }
    assert_eq!(cache.entry_count(), 20);
    let kept = readable(&cache, (0..30).map(|i| format!("k{i}"))).await;
    let newest: Vec<String> = (10..30).map(|i| format!("k{i}")).collect();
    assert_eq!(kept, newest, "the 10 oldest go, the 20 newest stay");
}

#[tokio::test]
async fn the_least_recently_used_entry_goes_first() {
    let cache = cache_of(20);
    for i in 0..20 {
        cache.set(&format!("k{i}"), v("x"), Ttl::Never).await.unwrap();
    }
    cache.entry_count();
    // k0 was written first but is read now: k1 is the least recently used.
    assert!(cache.get("k0").await.unwrap().is_some());
    cache.entry_count();
    cache.set("new", v("x"), Ttl::Never).await.unwrap();
    assert_eq!(cache.entry_count(), 20);
    assert!(cache.get("k0").await.unwrap().is_some(), "k0 was read recently");
    assert_eq!(cache.get("k1").await.unwrap(), None, "k1 is the least recently used");
    assert!(cache.get("new").await.unwrap().is_some());
}

#[tokio::test]
async fn expired_entries_are_evicted_before_live_ones() {
    let cache = cache_of(20);
    for i in 0..10 {
        cache.set(&format!("long{i}"), v("x"), Ttl::Never).await.unwrap();
    }
    for i in 0..10 {
        cache.set(&format!("short{i}"), v("x"), Ttl::After(Duration::from_millis(50))).await.unwrap();
    }
    assert_eq!(cache.entry_count(), 20);
    // Past moka's timer-wheel resolution (about 1 s, see the crate docs), which is when
    // housekeeping finds the expired entries.
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    for i in 0..10 {
        cache.set(&format!("new{i}"), v("x"), Ttl::Never).await.unwrap();
    }
    assert_eq!(cache.entry_count(), 20);
    let live = readable(&cache, (0..10).flat_map(|i| [format!("long{i}"), format!("new{i}")])).await;
    assert_eq!(live.len(), 20, "the expired entries made the room, not the oldest live ones: {live:?}");
}
