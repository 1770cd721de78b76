//! Expiry through compare-and-swap and touch, long lifetimes, and counters outside i64.

use std::time::Duration;

use cachette_conformance::harness::memcached;
use cachette_core::{BaseCache, Bytes, CacheError, Ttl};

use super::support::{b, cache, dump, unique_prefix, unix_now};

#[tokio::test]
async fn expiry_is_kept_by_dec_and_changed_by_touch() {
    let target = memcached::single();
    let cache = cache(&target, &unique_prefix("cas-expiry"), "");
    // dec goes through compare-and-swap, which must send an expiry: it keeps the key's own.
    cache.set("n", b("-5"), Ttl::After(Duration::from_secs(3))).await.unwrap();
    assert_eq!(cache.dec("n", 1).await.unwrap(), -6);
    assert_eq!(cache.inc("n", -1).await.unwrap(), -7);
    // touch to a long life, then dec: the long life stays.
    cache.set("m", b("5"), Ttl::After(Duration::from_secs(3))).await.unwrap();
    assert!(cache.touch("m", Ttl::After(Duration::from_secs(600))).await.unwrap());
    assert_eq!(cache.dec("m", 10).await.unwrap(), -5);
    // a permanent counter stays permanent through dec
    assert_eq!(cache.dec("p", 1).await.unwrap(), -1);
    tokio::time::sleep(Duration::from_millis(4500)).await;
    assert_eq!(cache.get("n").await.unwrap(), None, "dec made an expiring key permanent");
    assert_eq!(cache.get("m").await.unwrap(), Some(b("-5")), "dec shortened a touched key back");
    assert_eq!(cache.get("p").await.unwrap(), Some(b("-1")));
}

#[tokio::test]
async fn long_lifetimes_become_absolute_times() {
    let target = memcached::single();
    let prefix = unique_prefix("long-ttl");
    let cache = cache(&target, &prefix, "");
    let forty_days = Duration::from_secs(40 * 24 * 3600);
    cache.set("after-40d", b("v"), Ttl::After(forty_days)).await.unwrap();
    cache.set("at-40d", b("v"), Ttl::At(std::time::SystemTime::now() + forty_days)).await.unwrap();
    cache.set("after-100s", b("v"), Ttl::After(Duration::from_secs(100))).await.unwrap();
    cache.set("never", b("v"), Ttl::Never).await.unwrap();
    cache.set("touched", b("v"), Ttl::Never).await.unwrap();
    assert!(cache.touch("touched", Ttl::After(forty_days)).await.unwrap());
    assert_eq!(cache.get("after-40d").await.unwrap(), Some(b("v")), "not expired at once");
    let server = &target.servers[0];
    let now = unix_now();
    let exp = |name: &str| {
        let found = dump(server, &format!("={name}"));
        let own: Vec<i64> = found.iter().filter(|(k, _)| k.ends_with(&format!("={name}"))).map(|(_, e)| *e).collect();
        *own.last().unwrap_or_else(|| panic!("{name} not found on the server"))
    };
    let near = |got: i64, want: i64| (got - want).abs() <= 3;
    assert!(near(exp("after-40d"), now + forty_days.as_secs() as i64), "{}", exp("after-40d"));
    assert!(near(exp("at-40d"), now + forty_days.as_secs() as i64));
    assert!(near(exp("touched"), now + forty_days.as_secs() as i64));
    assert!(near(exp("after-100s"), now + 100));
    assert_eq!(exp("never"), -1);
}

#[tokio::test]
async fn counters_outside_i64_are_refused_unchanged() {
    let target = memcached::single();
    let cache = cache(&target, &unique_prefix("counters"), "");
    cache.set("u", b("18446744073709551615"), Ttl::Default).await.unwrap();
    assert!(matches!(cache.inc("u", 5).await, Err(CacheError::NotAnInteger { .. })));
    assert_eq!(cache.get("u").await.unwrap(), Some(b("18446744073709551615")));
    cache.set("m", Bytes::from(i64::MAX.to_string()), Ttl::Default).await.unwrap();
    assert!(matches!(cache.inc("m", i64::MAX).await, Err(CacheError::NotAnInteger { .. })));
    assert_eq!(cache.get("m").await.unwrap(), Some(Bytes::from(i64::MAX.to_string())));
    cache.set("low", Bytes::from(i64::MIN.to_string()), Ttl::Default).await.unwrap();
    assert!(matches!(cache.dec("low", 1).await, Err(CacheError::NotAnInteger { .. })));
    assert_eq!(cache.inc("low", 1).await.unwrap(), i64::MIN + 1);
    // concurrent decrements (compare-and-swap path) are atomic too
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let cache = cache.clone();
            tokio::spawn(async move {
                for _ in 0..100 {
                    cache.dec("d", 1).await.unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(cache.get("d").await.unwrap(), Some(b("-400")));
}
