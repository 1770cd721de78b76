//! clear() through the namespace generation: seen by other processes at once, never undone.

use cachette_conformance::harness::memcached::{self, MemcachedServer};
use cachette_core::{BaseCache, Ttl};

use super::support::{ascii, b, cache, dump, unique_prefix};

#[tokio::test]
async fn a_clear_by_another_process_is_seen_at_once() {
    let target = memcached::pair();
    let prefix = unique_prefix("clear-elsewhere");
    // Two caches on one prefix, as two processes would have: each remembers the generation.
    let here = cache(&target, &prefix, "");
    let there = cache(&target, &prefix, "");
    let other_prefix = cache(&target, &unique_prefix("bystander"), "");
    let keys: Vec<String> = (0..20).map(|i| format!("k{i}")).collect();
    for key in &keys {
        here.set(key, b("v"), Ttl::Default).await.unwrap();
        other_prefix.set(key, b("theirs"), Ttl::Default).await.unwrap();
    }
    for key in &keys {
        assert_eq!(there.get(key).await.unwrap(), Some(b("v")));
    }
    there.clear().await.unwrap();
    for key in &keys {
        assert_eq!(here.get(key).await.unwrap(), None, "{key} survived another instance's clear");
        assert_eq!(here.inc(&format!("n-{key}"), 2).await.unwrap(), 2);
        assert_eq!(other_prefix.get(key).await.unwrap(), Some(b("theirs")), "clear touched another prefix");
    }
    // writes after the clear are seen by both
    here.set("after", b("1"), Ttl::Default).await.unwrap();
    assert_eq!(there.get("after").await.unwrap(), Some(b("1")));
}

#[tokio::test]
async fn an_evicted_generation_never_brings_old_entries_back() {
    let server = MemcachedServer::start();
    let prefix = unique_prefix("lost-generation");
    let cache = cache(&server.target(), &prefix, "");
    cache.set("old", b("before"), Ttl::Never).await.unwrap();
    // A crawl may not list an item stored a moment ago: look again for a while.
    let mut generation_keys: Vec<String> = Vec::new();
    for _ in 0..50 {
        generation_keys = dump(&server.address(), ":gen").into_iter().map(|(k, _)| k).collect();
        if !generation_keys.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(generation_keys.len(), 1, "{generation_keys:?}");
    // Simulate the LRU evicting the generation key.
    assert_eq!(ascii(&server.address(), &format!("delete {}\r\n", generation_keys[0])), "DELETED\r\n");
    assert_eq!(cache.get("old").await.unwrap(), None, "a new random generation, not the old one");
    cache.set("new", b("after"), Ttl::Never).await.unwrap();
    cache.clear().await.unwrap();
    cache.clear().await.unwrap();
    assert_eq!(cache.get_many(&["old", "new"]).await.unwrap(), vec![None, None]);
    // the old entry is still stored, just unreachable, until it expires or is evicted
    assert!(dump(&server.address(), "=old").len() == 1);
}
