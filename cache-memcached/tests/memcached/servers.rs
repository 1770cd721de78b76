//! Several servers, and servers that go away: routing, outages, restarts, a server added.

use std::sync::Arc;
use std::time::{Duration, Instant};

use cachette_conformance::harness::memcached::{self, MemcachedServer, MemcachedTarget};
use cachette_core::{Admin, BaseCache, Bytes, Cache, CacheError, Ttl};
use cachette_memcached::MemcachedCache;

use super::support::{b, cache, config, unique_prefix};

#[tokio::test]
async fn odd_keys_work_across_two_servers_and_get_many_keeps_order() {
    let target = memcached::pair();
    let cache = cache(&target, &unique_prefix("odd-keys"), "");
    let long = "é".repeat(150); // 300 bytes
    let keys: Vec<String> = (0..40)
        .map(|i| match i % 4 {
            0 => format!("{long}{i}"),
            1 => format!("a key with spaces {i}"),
            2 => format!("ключ/鍵/🔑 {i}"),
            _ => format!("plain-{i}"),
        })
        .collect();
    let servers: std::collections::HashSet<&str> = keys.iter().map(|k| cache.server_for_key(k)).collect();
    assert_eq!(servers.len(), 2, "40 keys land on both servers");
    for (i, key) in keys.iter().enumerate() {
        cache.set(key, Bytes::from(i.to_string()), Ttl::Default).await.unwrap();
    }
    let mut asked: Vec<&str> = keys.iter().rev().map(String::as_str).collect();
    asked.insert(7, "missing key");
    asked.push(keys[3].as_str());
    let got = cache.get_many(&asked).await.unwrap();
    for (key, value) in asked.iter().zip(&got) {
        let expected = keys.iter().position(|k| k == key).map(|i| Bytes::from(i.to_string()));
        assert_eq!(value, &expected, "{key:?}");
    }
    assert_eq!(cache.delete_many(&asked).await.unwrap(), 40);
}

#[tokio::test]
async fn each_server_reports_its_own_figures_for_an_operator() {
    let target = memcached::pair();
    let cache = cache(&target, &unique_prefix("figures"), "");
    for i in 0..20 {
        cache.set(&format!("k{i}"), b("v"), Ttl::Default).await.unwrap();
    }
    assert_eq!(cache.get("k0").await.unwrap(), Some(b("v")));
    assert_eq!(cache.get("absent").await.unwrap(), None);
    let servers = Admin::servers(&cache).await.unwrap();
    let addresses: Vec<&str> = servers.iter().map(|s| s.address.as_str()).collect();
    assert_eq!(addresses, cache.servers(), "one answer per server, in order");
    for server in &servers {
        assert!(server.version.as_deref().is_some_and(|v| v.starts_with("memcached 1.")), "{server:?}");
        assert!(server.memory_limit.is_some_and(|limit| limit > 0), "{server:?}");
        assert!(server.memory_used.is_some() && server.evictions.is_some(), "{server:?}");
    }
    let sum = |f: fn(&cachette_core::admin::ServerInfo) -> Option<u64>| servers.iter().filter_map(f).sum::<u64>();
    assert!(sum(|s| s.keys) >= 20, "items of every prefix, ours among them: {servers:?}");
    assert!(sum(|s| s.hits) >= 1 && sum(|s| s.misses) >= 1, "{servers:?}");
}

#[tokio::test]
async fn a_killed_server_gives_errors_then_recovers_after_restart() {
    let mut server = MemcachedServer::start();
    let prefix = unique_prefix("restart");
    let config = config(&server.target(), &prefix, "connect_timeout=500ms,response_timeout=1s");
    let cache = MemcachedCache::new(&config).unwrap();
    cache.set("k", b("v"), Ttl::Default).await.unwrap();
    assert_eq!(cache.get("k").await.unwrap(), Some(b("v")));

    server.kill();
    let err = cache.get("k").await.unwrap_err();
    assert!(matches!(err, CacheError::Connection { .. }), "{err:?}");
    assert!(err.to_string().contains(&server.address()), "the error names the server: {err}");
    assert!(cache.set("k", b("w"), Ttl::Default).await.unwrap_err().is_backend_failure());
    assert!(cache.inc("n", 1).await.unwrap_err().is_backend_failure());
    assert!(cache.get_many(&["a", "b"]).await.unwrap_err().is_backend_failure());
    assert!(cache.clear().await.unwrap_err().is_backend_failure());

    // Through the facade with CACHE_IGNORE_ERRORS, an outage is a miss.
    let mut lenient = config.clone();
    lenient.ignore_errors = true;
    let facade = Cache::new(Arc::new(cache.clone()), lenient);
    assert_eq!(facade.get::<String>("k").await.unwrap(), None);
    facade.set("k", "w", Ttl::Default).await.unwrap();
    assert!(!facade.has("k").await.unwrap());

    server.restart();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let attempt = async {
            cache.set("k2", b("back"), Ttl::Default).await?;
            cache.get("k2").await
        };
        match attempt.await {
            Ok(Some(v)) if v == b("back") => break,
            other => {
                assert!(Instant::now() < deadline, "no recovery within 30 s after the restart: {other:?}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    assert_eq!(cache.get("k").await.unwrap(), None, "a restarted memcached is empty");
    facade.set("typed", "back too", Ttl::Default).await.unwrap();
    assert_eq!(facade.get::<String>("typed").await.unwrap().as_deref(), Some("back too"));
    assert_eq!(cache.inc("n", 5).await.unwrap(), 5);
}

#[tokio::test]
async fn one_of_two_servers_down_fails_only_its_keys() {
    let mut a = MemcachedServer::start();
    let b_server = MemcachedServer::start();
    let target = MemcachedTarget { servers: vec![a.address(), b_server.address()], ..MemcachedTarget::default() };
    let cache = cache(&target, &unique_prefix("half-down"), "connect_timeout=500ms,response_timeout=1s");
    let keys: Vec<String> = (0..30).map(|i| format!("k{i}")).collect();
    for key in &keys {
        cache.set(key, b("v"), Ttl::Default).await.unwrap();
    }
    a.kill();
    for key in &keys {
        let result = cache.get(key).await;
        if cache.server_for_key(key) == a.address() {
            assert!(result.unwrap_err().is_backend_failure());
        } else {
            assert_eq!(result.unwrap(), Some(b("v")), "{key} lives on the server that is up");
        }
    }
}

#[tokio::test]
async fn adding_a_server_moves_about_a_third_of_the_keys() {
    let (a, b_server, c) = (MemcachedServer::start(), MemcachedServer::start(), MemcachedServer::start());
    let prefix = unique_prefix("grow");
    let two = MemcachedTarget { servers: vec![a.address(), b_server.address()], ..MemcachedTarget::default() };
    let mut three = two.clone();
    three.servers.push(c.address());
    let before = cache(&two, &prefix, "");
    let after = cache(&three, &prefix, "");
    let keys: Vec<String> = (0..600).map(|i| format!("key-{i}")).collect();
    let items: Vec<(&str, Bytes)> = keys.iter().map(|k| (k.as_str(), b(k))).collect();
    before.set_many(&items, Ttl::Default).await.unwrap();
    let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    let got = after.get_many(&refs).await.unwrap();
    let mut moved = 0;
    for (key, value) in keys.iter().zip(got) {
        if after.server_for_key(key) == c.address() {
            moved += 1;
            assert_eq!(value, None);
        } else {
            assert_eq!(after.server_for_key(key), before.server_for_key(key), "{key} moved between old servers");
            assert_eq!(value, Some(b(key)), "{key} stayed on its server and is still there");
        }
    }
    let share = moved as f64 / keys.len() as f64;
    assert!((0.25..0.42).contains(&share), "{share:.3} of the keys moved; about 1/3 expected");
}
