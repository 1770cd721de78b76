//! Values over the item size limit: spread, refused, and never mixed or garbled.

use std::time::Duration;

use cachette_conformance::harness::memcached::{self, MemcachedOptions, MemcachedServer, MemcachedTarget};
use cachette_core::{BaseCache, CacheError, Ttl};

use super::support::{MIB, b, big, cache, dump, unique_prefix};

#[tokio::test]
async fn a_3mib_value_is_spread_and_read_back_whole() {
    for target in [memcached::single(), memcached::pair()] {
        let cache = cache(&target, &unique_prefix("spread"), "");
        assert!(cache.spreads_large_values());
        let value = big(3 * MIB, 1);
        cache.set("big", value.clone(), Ttl::Default).await.unwrap();
        assert!(cache.get("big").await.unwrap() == Some(value.clone()), "3 MiB value differs ({target:?})");
        let many = cache.get_many(&["small", "big", "big"]).await.unwrap();
        assert_eq!(many.len(), 3);
        assert!(many[0].is_none() && many[1].as_ref() == Some(&value) && many[2].as_ref() == Some(&value));
        assert!(cache.has("big").await.unwrap());
        // overwrite with another large value, then with a small one
        let other = big(3 * MIB + 17, 2);
        cache.set("big", other.clone(), Ttl::Default).await.unwrap();
        assert!(cache.get("big").await.unwrap() == Some(other.clone()));
        assert!(!cache.add("big", value.clone(), Ttl::Default).await.unwrap(), "add keeps the live value");
        assert!(cache.get("big").await.unwrap() == Some(other));
        assert!(cache.add("big2", value.clone(), Ttl::Default).await.unwrap());
        assert!(cache.get("big2").await.unwrap() == Some(value.clone()));
        assert!(matches!(cache.inc("big2", 1).await, Err(CacheError::NotAnInteger { .. })));
        assert!(cache.touch("big2", Ttl::After(Duration::from_secs(600))).await.unwrap());
        assert!(cache.get("big2").await.unwrap() == Some(value.clone()), "touch keeps a spread value whole");
        cache.set("big", b("small now"), Ttl::Default).await.unwrap();
        assert_eq!(cache.get("big").await.unwrap(), Some(b("small now")));
        assert!(cache.delete("big2").await.unwrap());
        assert_eq!(cache.get("big2").await.unwrap(), None);
        // set_many with a large value among small ones
        cache.set_many(&[("s1", b("1")), ("l", value.clone()), ("s2", b("2"))], Ttl::Default).await.unwrap();
        let got = cache.get_many(&["s2", "l", "s1"]).await.unwrap();
        assert!(got == vec![Some(b("2")), Some(value), Some(b("1"))]);
    }
}

#[tokio::test]
async fn a_3mib_value_with_spreading_off_is_a_clear_error() {
    let target = memcached::single();
    let cache = cache(&target, &unique_prefix("no-spread"), "spread=false");
    cache.set("k", b("old"), Ttl::Default).await.unwrap();
    let err = cache.set("k", big(3 * MIB, 3), Ttl::Default).await.unwrap_err();
    match &err {
        CacheError::ValueTooLarge { size, limit, hint, .. } => {
            assert_eq!((*size, *limit), (3 * MIB, MIB));
            assert!(hint.contains("CACHE_OPTIONS.spread"), "{hint}");
        }
        other => panic!("expected ValueTooLarge, got {other:?}"),
    }
    assert!(!err.is_backend_failure(), "a caller's mistake, reported even with CACHE_IGNORE_ERRORS");
    assert_eq!(cache.get("k").await.unwrap(), None, "as memcached does, a refused set leaves no stale value");
    let err = cache.add("k2", big(2 * MIB, 4), Ttl::Default).await.unwrap_err();
    assert!(matches!(err, CacheError::ValueTooLarge { .. }), "{err:?}");
    let err = cache.set_many(&[("a", b("1")), ("b", big(2 * MIB, 5))], Ttl::Default).await.unwrap_err();
    assert!(matches!(err, CacheError::ValueTooLarge { .. }), "{err:?}");
    assert_eq!(cache.get_many(&["a", "k2"]).await.unwrap(), vec![None, None], "nothing was written");
    // a value that fits is stored as usual
    cache.set("fits", big(MIB / 2, 6), Ttl::Default).await.unwrap();
    assert_eq!(cache.get("fits").await.unwrap().map(|v| v.len()), Some(MIB / 2));
}

#[tokio::test]
async fn the_servers_item_size_limit_is_respected() {
    // A server started with -I 2m holds a 1.5 MiB value in one item when told its limit.
    let server = MemcachedServer::start_with(MemcachedOptions::new().item_size("2m"));
    let target = server.target();
    let cache = cache(&target, &unique_prefix("item-size"), "spread=false,max_item_size=2m");
    let value = big(3 * MIB / 2, 7);
    cache.set("k", value.clone(), Ttl::Default).await.unwrap();
    assert!(cache.get("k").await.unwrap() == Some(value.clone()));
    assert_eq!(dump(&server.address(), "chunk:").len(), 0, "stored as one item");

    // A server with the default 1m limit refuses it, and the error says what to change.
    let small = MemcachedServer::start();
    let cache = self::cache(&small.target(), &unique_prefix("item-size"), "spread=false,max_item_size=2m");
    let err = cache.set("k", value.clone(), Ttl::Default).await.unwrap_err();
    match &err {
        CacheError::ValueTooLarge { hint, .. } => assert!(hint.contains("max_item_size"), "{hint}"),
        other => panic!("expected ValueTooLarge, got {other:?}"),
    }
    // With spreading on, a wrong max_item_size is refused for the pieces too, never dropped silently.
    let cache = self::cache(&small.target(), &unique_prefix("item-size"), "max_item_size=4m");
    let err = cache.set("k", big(6 * MIB, 8), Ttl::Default).await.unwrap_err();
    assert!(matches!(err, CacheError::ValueTooLarge { .. }), "{err:?}");
}

#[tokio::test]
async fn concurrent_spread_writes_never_mix() {
    // Own servers with room for every write, so that no piece is evicted under the readers.
    let servers = [0, 1].map(|_| MemcachedServer::start_with(MemcachedOptions::new().memory_mb(128)));
    let target =
        MemcachedTarget { servers: servers.iter().map(|s| s.address()).collect(), ..MemcachedTarget::default() };
    let cache = cache(&target, &unique_prefix("mix"), "");
    let values = [big(2 * MIB + 1000, 10), big(2 * MIB + 1000, 11)];
    cache.set("k", values[0].clone(), Ttl::Default).await.unwrap();
    let writers: Vec<_> = (0..2)
        .map(|w| {
            let (cache, value) = (cache.clone(), values[w].clone());
            tokio::spawn(async move {
                for _ in 0..15 {
                    cache.set("k", value.clone(), Ttl::Default).await.unwrap();
                }
            })
        })
        .collect();
    let readers: Vec<_> = (0..3)
        .map(|_| {
            let (cache, values) = (cache.clone(), values.clone());
            tokio::spawn(async move {
                for _ in 0..15 {
                    let got = cache.get("k").await.unwrap().expect("a value is always there");
                    assert!(got == values[0] || got == values[1], "a read mixed two writes");
                }
            })
        })
        .collect();
    for task in writers.into_iter().chain(readers) {
        task.await.unwrap();
    }
}

#[tokio::test]
async fn evicted_pieces_make_a_miss_never_garbage() {
    // 16 MB of memory, 24 values of 3 MiB: memcached must evict pieces.
    let server = MemcachedServer::start_with(MemcachedOptions::new().memory_mb(16));
    let cache = cache(&server.target(), &unique_prefix("evict"), "");
    let mut write_errors = 0;
    for i in 0..24 {
        if cache.set(&format!("k{i}"), big(3 * MIB, 100 + i), Ttl::Default).await.is_err() {
            write_errors += 1; // memcached may refuse a piece when it cannot evict in time
        }
    }
    let heads_before = dump(&server.address(), "=k").len();
    let mut whole = 0;
    for i in 0..24 {
        if let Some(v) = cache.get(&format!("k{i}")).await.unwrap() {
            assert!(v == big(3 * MIB, 100 + i), "k{i} came back different");
            whole += 1;
        }
    }
    assert!(whole < 24, "with 16 MB, not all 72 MiB can be there");
    assert!(whole > 0 || write_errors > 0, "the last values written should be readable");
    // Heads are small items in another slab class and outlive their pieces: the reads above found
    // heads with pieces missing, read them as absent, and deleted those heads.
    assert!(heads_before > whole, "{heads_before} heads, {whole} whole values: no piece was missing");
    assert_eq!(dump(&server.address(), "=k").len(), whole, "broken heads are deleted when found");
}
