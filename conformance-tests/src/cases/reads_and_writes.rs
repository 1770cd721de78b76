//! Storing cases: `set`, `get`, `has`, `delete`, `add` and their `_many` forms read back what was
//! written.

use cachette_core::{Bytes, Ttl};

use super::{b, get, set};
use crate::Ctx;

/// A value set is read back as is.
pub async fn set_then_get_returns_value(ctx: Ctx) {
    let cache = ctx.cache().await;
    set(&cache, "k", b("value"), Ttl::Default).await;
    assert_eq!(get(&cache, "k").await, Some(b("value")));
}

/// A second `set` replaces the first.
pub async fn set_overwrites_value(ctx: Ctx) {
    let cache = ctx.cache().await;
    set(&cache, "k", b("one"), Ttl::Default).await;
    set(&cache, "k", b("two"), Ttl::Default).await;
    assert_eq!(get(&cache, "k").await, Some(b("two")));
}

/// An empty value is stored and is not a miss.
pub async fn set_empty_value_roundtrips(ctx: Ctx) {
    let cache = ctx.cache().await;
    set(&cache, "empty", Bytes::new(), Ttl::Default).await;
    assert_eq!(get(&cache, "empty").await, Some(Bytes::new()));
    assert!(cache.has("empty").await.unwrap());
}

/// `has` is true for a live key and false after `delete`.
pub async fn has_reports_live_key(ctx: Ctx) {
    let cache = ctx.cache().await;
    set(&cache, "k", b("v"), Ttl::Default).await;
    assert!(cache.has("k").await.unwrap());
    cache.delete("k").await.unwrap();
    assert!(!cache.has("k").await.unwrap());
}

/// `delete` of a live key returns true, removes it, and a second `delete` returns false.
pub async fn delete_existing_returns_true(ctx: Ctx) {
    let cache = ctx.cache().await;
    set(&cache, "k", b("v"), Ttl::Default).await;
    assert!(cache.delete("k").await.unwrap());
    assert_eq!(get(&cache, "k").await, None);
    assert!(!cache.delete("k").await.unwrap());
}

/// `add` of an absent key stores and returns true.
pub async fn add_absent_key_stores(ctx: Ctx) {
    let cache = ctx.cache().await;
    assert!(cache.add("k", b("first"), Ttl::Default).await.unwrap());
    assert_eq!(get(&cache, "k").await, Some(b("first")));
}

/// `add` of a live key returns false and leaves the value.
pub async fn add_present_key_keeps_value(ctx: Ctx) {
    let cache = ctx.cache().await;
    set(&cache, "k", b("kept"), Ttl::Default).await;
    assert!(!cache.add("k", b("other"), Ttl::Default).await.unwrap());
    assert_eq!(get(&cache, "k").await, Some(b("kept")));
}

/// After `delete`, `add` succeeds again.
pub async fn add_after_delete_stores(ctx: Ctx) {
    let cache = ctx.cache().await;
    assert!(cache.add("k", b("1"), Ttl::Default).await.unwrap());
    assert!(cache.delete("k").await.unwrap());
    assert!(cache.add("k", b("2"), Ttl::Default).await.unwrap());
    assert_eq!(get(&cache, "k").await, Some(b("2")));
}

/// 100 concurrent `add`s of one key: exactly one returns true, and its value is stored.
pub async fn add_concurrent_exactly_one_wins(ctx: Ctx) {
    let cache = ctx.cache().await;
    let tasks: Vec<_> = (0..100)
        .map(|i| {
            let cache = cache.clone();
            tokio::spawn(async move { (i, cache.add("lock", Bytes::from(format!("owner-{i}")), Ttl::Default).await) })
        })
        .collect();
    let mut winners = Vec::new();
    for task in tasks {
        let (i, result) = task.await.unwrap();
        if result.unwrap_or_else(|e| panic!("add #{i} failed: {e}")) {
            winners.push(i);
        }
    }
    assert_eq!(winners.len(), 1, "exactly one add must win, these did: {winners:?}");
    assert_eq!(get(&cache, "lock").await, Some(Bytes::from(format!("owner-{}", winners[0]))));
}

/// `get_many` answers in the order asked, with `None` for misses.
pub async fn get_many_keeps_order_with_misses(ctx: Ctx) {
    let cache = ctx.cache().await;
    set(&cache, "a", b("1"), Ttl::Default).await;
    set(&cache, "c", b("3"), Ttl::Default).await;
    let got = cache.get_many(&["c", "b", "a", "d"]).await.unwrap();
    assert_eq!(got, vec![Some(b("3")), None, Some(b("1")), None]);
}

/// A key asked twice in `get_many` is answered twice.
pub async fn get_many_duplicate_keys(ctx: Ctx) {
    let cache = ctx.cache().await;
    set(&cache, "a", b("1"), Ttl::Default).await;
    let got = cache.get_many(&["a", "x", "a"]).await.unwrap();
    assert_eq!(got, vec![Some(b("1")), None, Some(b("1"))]);
}

/// What `set_many` writes, `get_many` reads.
pub async fn set_many_then_get_many(ctx: Ctx) {
    let cache = ctx.cache().await;
    cache.set_many(&[("x", b("10")), ("y", b("20")), ("z", b("30"))], Ttl::Default).await.unwrap();
    let got = cache.get_many(&["z", "y", "x"]).await.unwrap();
    assert_eq!(got, vec![Some(b("30")), Some(b("20")), Some(b("10"))]);
}

/// `set_many` and `get_many` of 100 keys.
pub async fn set_many_hundred_keys(ctx: Ctx) {
    let cache = ctx.cache().await;
    let keys: Vec<String> = (0..100).map(|i| format!("key-{i}")).collect();
    let items: Vec<(&str, Bytes)> = keys.iter().map(|k| (k.as_str(), Bytes::from(format!("value-of-{k}")))).collect();
    cache.set_many(&items, Ttl::Default).await.unwrap();
    let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    let got = cache.get_many(&refs).await.unwrap();
    for (key, value) in keys.iter().zip(got) {
        assert_eq!(value, Some(Bytes::from(format!("value-of-{key}"))), "key {key}");
    }
    assert_eq!(cache.delete_many(&refs).await.unwrap(), 100);
}

/// `delete_many` counts only the live keys it removed.
pub async fn delete_many_counts_only_live_keys(ctx: Ctx) {
    let cache = ctx.cache().await;
    set(&cache, "a", b("1"), Ttl::Default).await;
    set(&cache, "b", b("2"), Ttl::Default).await;
    assert_eq!(cache.delete_many(&["a", "b", "missing"]).await.unwrap(), 2);
    assert_eq!(cache.get_many(&["a", "b"]).await.unwrap(), vec![None, None]);
    assert_eq!(cache.delete_many(&["a", "b"]).await.unwrap(), 0);
}

/// A backend that gives a [`KeyWatch`](cachette_core::KeyWatch) on a key turns it on every write
/// of that key through it (see [`BaseCache::watch`](cachette_core::BaseCache::watch)); one that
/// gives none has nothing to keep coherent. Not asserted: that a watch holds before the write
/// (a backend may turn it for other reasons, such as its own write's invalidation coming back).
pub async fn a_watch_turns_on_every_write_of_its_key(ctx: Ctx) {
    let cache = ctx.cache().await;
    set(&cache, "n", b("1"), Ttl::Default).await;
    let writes: [(&str, WriteOf); 10] = [
        ("set", |c| Box::pin(async move { c.set("n", b("2"), Ttl::Default).await.map(drop) })),
        ("set_many", |c| Box::pin(async move { c.set_many(&[("n", b("3"))], Ttl::Default).await })),
        ("inc", |c| Box::pin(async move { c.inc("n", 1).await.map(drop) })),
        ("dec", |c| Box::pin(async move { c.dec("n", 1).await.map(drop) })),
        ("touch", |c| Box::pin(async move { c.touch("n", super::long_ttl()).await.map(drop) })),
        ("delete", |c| Box::pin(async move { c.delete("n").await.map(drop) })),
        ("add", |c| Box::pin(async move { c.add("n", b("4"), Ttl::Default).await.map(drop) })),
        ("delete_many", |c| Box::pin(async move { c.delete_many(&["n"]).await.map(drop) })),
        ("set again", |c| Box::pin(async move { c.set("n", b("5"), Ttl::Default).await })),
        ("clear", |c| Box::pin(async move { c.clear().await })),
    ];
    for (name, write) in writes {
        let Some(watch) = cache.watch("n") else { continue };
        write(&cache).await.unwrap_or_else(|e| panic!("{name} failed: {e}"));
        assert!(!watch.unchanged(), "a watch on \"n\" still holds after {name} of \"n\"");
    }
}

/// A write of key "n" through a backend, for [`a_watch_turns_on_every_write_of_its_key`].
type WriteOf =
    for<'a> fn(
        &'a std::sync::Arc<dyn cachette_core::BaseCache>,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = cachette_core::Result<()>> + Send + 'a>>;
