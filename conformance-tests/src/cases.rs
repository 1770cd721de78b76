//! The conformance cases. Each takes a [`Ctx`] and panics with a message naming the case and what
//! differed when the backend does not behave as [`BaseCache`] documents.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use cachette_core::{BaseCache, Bytes, CacheError, Ttl};
use serde::{Deserialize, Serialize};

use crate::Ctx;

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

fn long_ttl() -> Ttl {
    Ttl::After(Duration::from_secs(600))
}

async fn get(cache: &Arc<dyn BaseCache>, key: &str) -> Option<Bytes> {
    cache.get(key).await.unwrap_or_else(|e| panic!("get({key:?}) failed: {e}"))
}

async fn set(cache: &Arc<dyn BaseCache>, key: &str, value: Bytes, ttl: Ttl) {
    cache.set(key, value, ttl).await.unwrap_or_else(|e| panic!("set({key:?}) failed: {e}"))
}

// ---------------------------------------------------------------------------------------------
// Universal: true of every backend, including one that stores nothing.
// ---------------------------------------------------------------------------------------------

/// `get` of a key never written is `None`.
pub async fn get_missing_is_none(ctx: Ctx) {
    let cache = ctx.cache().await;
    assert_eq!(get(&cache, "never-written").await, None);
}

/// `has` of a key never written is `false`.
pub async fn has_missing_is_false(ctx: Ctx) {
    let cache = ctx.cache().await;
    assert!(!cache.has("never-written").await.unwrap());
}

/// `delete` of a key never written returns `false`.
pub async fn delete_missing_is_false(ctx: Ctx) {
    let cache = ctx.cache().await;
    assert!(!cache.delete("never-written").await.unwrap());
}

/// `delete_many` of keys never written returns 0.
pub async fn delete_many_missing_counts_zero(ctx: Ctx) {
    let cache = ctx.cache().await;
    assert_eq!(cache.delete_many(&["a", "b", "c"]).await.unwrap(), 0);
    assert_eq!(cache.delete_many(&[]).await.unwrap(), 0);
}

/// `get_many` of misses returns one `None` per key.
pub async fn get_many_of_misses_keeps_length(ctx: Ctx) {
    let cache = ctx.cache().await;
    assert_eq!(cache.get_many(&["x", "y", "x"]).await.unwrap(), vec![None, None, None]);
}

/// `get_many` of no keys returns an empty list.
pub async fn get_many_empty_is_empty(ctx: Ctx) {
    let cache = ctx.cache().await;
    assert!(cache.get_many(&[]).await.unwrap().is_empty());
}

/// `set_many` of nothing succeeds.
pub async fn set_many_empty_is_ok(ctx: Ctx) {
    let cache = ctx.cache().await;
    cache.set_many(&[], Ttl::Default).await.unwrap();
}

/// Writes with spaces, unicode, 300-byte keys and a 1 MiB value are accepted.
pub async fn set_accepts_any_key_and_large_values(ctx: Ctx) {
    let cache = ctx.cache().await;
    for key in ["with space", "ключ-鍵-🔑", &"k".repeat(300), "tab\tand\nnewline"] {
        set(&cache, key, b("v"), Ttl::Default).await;
    }
    set(&cache, "big", Bytes::from(vec![7u8; 1 << 20]), Ttl::Default).await;
}

/// `touch` of a key never written returns `false` and creates nothing.
pub async fn touch_missing_is_false(ctx: Ctx) {
    let cache = ctx.cache().await;
    assert!(!cache.touch("never-written", long_ttl()).await.unwrap());
    assert_eq!(get(&cache, "never-written").await, None);
}

/// `clear` of an empty cache succeeds.
pub async fn clear_empty_cache_is_ok(ctx: Ctx) {
    let cache = ctx.cache().await;
    cache.clear().await.unwrap();
}

/// The typed `get` of a missing key is `Ok(None)`.
pub async fn typed_get_missing_is_none(ctx: Ctx) {
    let cache = ctx.typed().await;
    assert_eq!(cache.get::<String>("never-written").await.unwrap(), None);
}

/// `dec` by `i64::MIN` cannot be negated: an error, not a panic.
pub async fn dec_by_i64_min_is_an_error(ctx: Ctx) {
    let cache = ctx.cache().await;
    let result = cache.dec("n", i64::MIN).await;
    assert!(matches!(result, Err(CacheError::NotAnInteger { .. })), "{result:?}");
}

// ---------------------------------------------------------------------------------------------
// Storing: read back what was written.
// ---------------------------------------------------------------------------------------------

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

/// `inc` of an absent key creates it at 0 and adds the delta.
pub async fn inc_creates_missing_key(ctx: Ctx) {
    let cache = ctx.cache().await;
    assert_eq!(cache.inc("n", 5).await.unwrap(), 5);
    assert_eq!(get(&cache, "n").await, Some(b("5")));
}

/// `inc` adds to an existing counter.
pub async fn inc_existing_counter(ctx: Ctx) {
    let cache = ctx.cache().await;
    set(&cache, "n", b("40"), Ttl::Default).await;
    assert_eq!(cache.inc("n", 2).await.unwrap(), 42);
    assert_eq!(cache.inc("n", -50).await.unwrap(), -8);
}

/// `dec` may go below zero, from an absent key too.
pub async fn dec_goes_negative(ctx: Ctx) {
    let cache = ctx.cache().await;
    assert_eq!(cache.dec("n", 3).await.unwrap(), -3);
    assert_eq!(cache.dec("n", 4).await.unwrap(), -7);
    assert_eq!(cache.inc("n", 10).await.unwrap(), 3);
    assert_eq!(get(&cache, "n").await, Some(b("3")));
}

/// `set("n", &5)` through the typed layer, `inc("n", 2)` gives 7, and `get::<i64>` reads 7.
pub async fn inc_typed_integer_reads_back_typed(ctx: Ctx) {
    let cache = ctx.typed().await;
    cache.set("n", &5, Ttl::Default).await.unwrap();
    assert_eq!(cache.inc("n", 2).await.unwrap(), 7);
    assert_eq!(cache.get::<i64>("n").await.unwrap(), Some(7));
    assert_eq!(cache.get::<u8>("n").await.unwrap(), Some(7));
    assert_eq!(cache.dec("n", 10).await.unwrap(), -3);
    assert_eq!(cache.get::<i32>("n").await.unwrap(), Some(-3));
}

/// `inc` of a value that is not a decimal integer is `NotAnInteger` and changes nothing.
pub async fn inc_non_integer_is_error_and_keeps_value(ctx: Ctx) {
    let cache = ctx.cache().await;
    set(&cache, "s", b("hello"), Ttl::Default).await;
    let result = cache.inc("s", 1).await;
    assert!(matches!(result, Err(CacheError::NotAnInteger { .. })), "{result:?}");
    assert_eq!(get(&cache, "s").await, Some(b("hello")));
}

/// An `inc` past `i64::MAX` is `NotAnInteger` and changes nothing.
pub async fn inc_overflow_is_error(ctx: Ctx) {
    let cache = ctx.cache().await;
    set(&cache, "n", Bytes::from(i64::MAX.to_string()), Ttl::Default).await;
    let result = cache.inc("n", 1).await;
    assert!(matches!(result, Err(CacheError::NotAnInteger { .. })), "{result:?}");
    assert_eq!(get(&cache, "n").await, Some(Bytes::from(i64::MAX.to_string())));
}

/// 8 tasks × 1000 `inc`s of one key give exactly 8000.
pub async fn inc_concurrent_is_atomic(ctx: Ctx) {
    let cache = ctx.cache().await;
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let cache = cache.clone();
            tokio::spawn(async move {
                for _ in 0..1000 {
                    cache.inc("counter", 1).await.unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(get(&cache, "counter").await, Some(b("8000")));
}

/// `inc` keeps the expiry of a live key.
pub async fn inc_keeps_ttl(ctx: Ctx) {
    let cache = ctx.cache().await;
    let ttl = ctx.short_ttl();
    set(&cache, "n", b("5"), Ttl::After(ttl)).await;
    assert_eq!(cache.inc("n", 1).await.unwrap(), 6);
    ctx.wait_past(ttl).await;
    assert_eq!(get(&cache, "n").await, None, "inc must not make an expiring key permanent");
}

/// `Ttl::After` expires.
pub async fn ttl_after_expires(ctx: Ctx) {
    let cache = ctx.cache().await;
    let ttl = ctx.short_ttl();
    set(&cache, "k", b("v"), Ttl::After(ttl)).await;
    set(&cache, "stays", b("v"), long_ttl()).await;
    assert_eq!(get(&cache, "k").await, Some(b("v")), "alive right after the write");
    ctx.wait_past(ttl).await;
    assert_eq!(get(&cache, "k").await, None, "gone after its ttl");
    assert_eq!(get(&cache, "stays").await, Some(b("v")));
}

/// `Ttl::At` (a wall-clock deadline) expires.
pub async fn ttl_at_expires(ctx: Ctx) {
    let cache = ctx.cache().await;
    let ttl = ctx.short_ttl();
    set(&cache, "k", b("v"), Ttl::At(SystemTime::now() + ttl)).await;
    assert_eq!(get(&cache, "k").await, Some(b("v")));
    ctx.wait_past(ttl).await;
    assert_eq!(get(&cache, "k").await, None);
}

/// `Ttl::Never` outlives the default timeout.
pub async fn ttl_never_outlives_default(ctx: Ctx) {
    let short = ctx.short_ttl();
    let cache = ctx.cache_with(|c| c.default_timeout = Ttl::After(short)).await;
    set(&cache, "forever", b("v"), Ttl::Never).await;
    ctx.wait_past(short).await;
    assert_eq!(get(&cache, "forever").await, Some(b("v")));
}

/// `Ttl::Default` is the config's `CACHE_DEFAULT_TIMEOUT`.
pub async fn ttl_default_uses_config_timeout(ctx: Ctx) {
    let short = ctx.short_ttl();
    let cache = ctx.cache_with(|c| c.default_timeout = Ttl::After(short)).await;
    set(&cache, "k", b("v"), Ttl::Default).await;
    assert!(cache.add("a", b("v"), Ttl::Default).await.unwrap());
    assert_eq!(get(&cache, "k").await, Some(b("v")));
    ctx.wait_past(short).await;
    assert_eq!(get(&cache, "k").await, None);
    assert_eq!(get(&cache, "a").await, None, "add uses the default timeout too");
}

/// A write whose ttl is already over stores nothing and removes the live value.
pub async fn ttl_already_over_removes_value(ctx: Ctx) {
    let cache = ctx.cache().await;
    set(&cache, "k", b("v"), Ttl::Default).await;
    set(&cache, "k", b("new"), Ttl::At(SystemTime::now() - Duration::from_secs(10))).await;
    assert_eq!(get(&cache, "k").await, None);
    set(&cache, "z", b("new"), Ttl::After(Duration::ZERO)).await;
    assert_eq!(get(&cache, "z").await, None);
}

/// An expired key is absent for `has`, `delete` and `add`.
pub async fn expired_key_is_absent(ctx: Ctx) {
    let cache = ctx.cache().await;
    let ttl = ctx.short_ttl();
    set(&cache, "k", b("old"), Ttl::After(ttl)).await;
    set(&cache, "d", b("old"), Ttl::After(ttl)).await;
    ctx.wait_past(ttl).await;
    assert!(!cache.has("k").await.unwrap());
    assert!(!cache.delete("d").await.unwrap());
    assert!(cache.add("k", b("new"), Ttl::Default).await.unwrap());
    assert_eq!(get(&cache, "k").await, Some(b("new")));
}

/// `touch` gives a live key a longer life.
pub async fn touch_extends_live_key(ctx: Ctx) {
    let cache = ctx.cache().await;
    let ttl = ctx.short_ttl();
    set(&cache, "k", b("v"), Ttl::After(ttl)).await;
    assert!(cache.touch("k", long_ttl()).await.unwrap());
    ctx.wait_past(ttl).await;
    assert_eq!(get(&cache, "k").await, Some(b("v")));
}

/// `touch` gives a permanent key a short life.
pub async fn touch_shortens_live_key(ctx: Ctx) {
    let cache = ctx.cache().await;
    let ttl = ctx.short_ttl();
    set(&cache, "k", b("v"), Ttl::Never).await;
    assert!(cache.touch("k", Ttl::After(ttl)).await.unwrap());
    assert_eq!(get(&cache, "k").await, Some(b("v")));
    ctx.wait_past(ttl).await;
    assert_eq!(get(&cache, "k").await, None);
}

/// `touch` with `Ttl::Never` removes the expiry.
pub async fn touch_never_removes_expiry(ctx: Ctx) {
    let cache = ctx.cache().await;
    let ttl = ctx.short_ttl();
    set(&cache, "k", b("v"), Ttl::After(ttl)).await;
    assert!(cache.touch("k", Ttl::Never).await.unwrap());
    ctx.wait_past(ttl).await;
    assert_eq!(get(&cache, "k").await, Some(b("v")));
}

/// `clear` removes every key of the cache.
pub async fn clear_removes_own_keys(ctx: Ctx) {
    let cache = ctx.cache().await;
    for i in 0..50 {
        set(&cache, &format!("k{i}"), b("v"), Ttl::Default).await;
    }
    cache.clear().await.unwrap();
    for i in 0..50 {
        assert_eq!(get(&cache, &format!("k{i}")).await, None, "k{i} survived clear");
    }
    set(&cache, "after", b("v"), Ttl::Default).await;
    assert_eq!(get(&cache, "after").await, Some(b("v")), "the cache works after clear");
}

/// `clear` leaves another prefix's keys alone.
pub async fn clear_leaves_other_prefix(ctx: Ctx) {
    let mine = ctx.cache().await;
    let other_prefix = ctx.prefix_named("other");
    let other = ctx.cache_with(|c| c.key_prefix = other_prefix).await;
    set(&mine, "k", b("mine"), Ttl::Default).await;
    set(&other, "k", b("theirs"), Ttl::Default).await;
    set(&other, "only-theirs", b("theirs"), Ttl::Default).await;
    mine.clear().await.unwrap();
    assert_eq!(get(&mine, "k").await, None);
    assert_eq!(get(&other, "k").await, Some(b("theirs")));
    assert_eq!(get(&other, "only-theirs").await, Some(b("theirs")));
    other.clear().await.unwrap();
}

/// Two prefixes hold different values under the same key.
pub async fn prefixes_isolate_keys(ctx: Ctx) {
    let one = ctx.cache().await;
    let two_prefix = ctx.prefix_named("two");
    let two = ctx.cache_with(|c| c.key_prefix = two_prefix).await;
    set(&one, "k", b("one"), Ttl::Default).await;
    assert_eq!(get(&two, "k").await, None);
    set(&two, "k", b("two"), Ttl::Default).await;
    assert_eq!(get(&one, "k").await, Some(b("one")));
    assert!(one.delete("k").await.unwrap());
    assert_eq!(get(&two, "k").await, Some(b("two")));
    two.clear().await.unwrap();
}

/// Every byte value survives the round trip.
pub async fn binary_values_roundtrip(ctx: Ctx) {
    let cache = ctx.cache().await;
    let all: Bytes = (0..=255u8).chain((0..=255u8).rev()).collect::<Vec<u8>>().into();
    set(&cache, "bin", all.clone(), Ttl::Default).await;
    assert_eq!(get(&cache, "bin").await, Some(all));
    let crlf = b("line\r\nEND\r\n\0");
    set(&cache, "crlf", crlf.clone(), Ttl::Default).await;
    assert_eq!(get(&cache, "crlf").await, Some(crlf));
}

/// A 1 MiB value survives the round trip.
pub async fn value_of_1mib_roundtrips(ctx: Ctx) {
    let cache = ctx.cache().await;
    let big: Bytes = (0..(1u32 << 20)).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect::<Vec<u8>>().into();
    set(&cache, "big", big.clone(), Ttl::Default).await;
    let got = get(&cache, "big").await.expect("the 1 MiB value was not stored");
    assert_eq!(got.len(), big.len());
    assert!(got == big, "the 1 MiB value came back different");
}

/// A key with spaces works for every operation.
pub async fn key_with_spaces(ctx: Ctx) {
    odd_key(&ctx, "a key with spaces and\ttabs").await;
}

/// A unicode key works for every operation.
pub async fn key_with_unicode(ctx: Ctx) {
    odd_key(&ctx, "ключ/鍵/🔑/ñ").await;
}

/// A 300-byte key works for every operation.
pub async fn key_of_300_bytes(ctx: Ctx) {
    odd_key(&ctx, &"0123456789".repeat(30)).await;
}

async fn odd_key(ctx: &Ctx, key: &str) {
    let cache = ctx.cache().await;
    set(&cache, key, b("v"), Ttl::Default).await;
    assert_eq!(get(&cache, key).await, Some(b("v")));
    assert!(cache.has(key).await.unwrap());
    assert_eq!(cache.get_many(&[key, "plain"]).await.unwrap(), vec![Some(b("v")), None]);
    assert!(!cache.add(key, b("w"), Ttl::Default).await.unwrap());
    assert!(cache.touch(key, long_ttl()).await.unwrap());
    assert!(cache.delete(key).await.unwrap());
    assert_eq!(cache.inc(key, 3).await.unwrap(), 3);
    assert_eq!(cache.delete_many(&[key]).await.unwrap(), 1);
}

/// Keys that differ in one character, case, or trailing whitespace are different keys.
pub async fn similar_keys_are_distinct(ctx: Ctx) {
    let cache = ctx.cache().await;
    let keys = ["k", "K", "k ", " k", "k\n", "k_", "k-", &"x".repeat(250), &"x".repeat(251)];
    for (i, key) in keys.iter().enumerate() {
        set(&cache, key, Bytes::from(i.to_string()), Ttl::Default).await;
    }
    for (i, key) in keys.iter().enumerate() {
        assert_eq!(get(&cache, key).await, Some(Bytes::from(i.to_string())), "key {key:?}");
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Profile {
    id: u64,
    name: String,
    roles: Vec<String>,
    score: Option<f64>,
}

/// A struct goes in and comes out through the typed layer.
pub async fn typed_struct_roundtrip(ctx: Ctx) {
    let cache = ctx.typed().await;
    let p = Profile { id: 7, name: "Zoë".into(), roles: vec!["admin".into()], score: Some(0.5) };
    cache.set("profile", &p, Ttl::Default).await.unwrap();
    assert_eq!(cache.get::<Profile>("profile").await.unwrap(), Some(p));
    cache.set("text", "plain text", Ttl::Default).await.unwrap();
    assert_eq!(cache.get::<String>("text").await.unwrap().as_deref(), Some("plain text"));
}

/// Reading a value as the wrong type is a `Codec` error, not a panic and not garbage.
pub async fn typed_decode_wrong_type_is_error(ctx: Ctx) {
    let cache = ctx.typed().await;
    cache.set("text", "not a number", Ttl::Default).await.unwrap();
    let as_int = cache.get::<i64>("text").await;
    assert!(matches!(as_int, Err(CacheError::Codec { .. })), "{as_int:?}");
    cache.set("n", &5, Ttl::Default).await.unwrap();
    let as_profile = cache.get::<Profile>("n").await;
    assert!(matches!(as_profile, Err(CacheError::Codec { .. })), "{as_profile:?}");
    cache.backend().set("raw", b("\u{7f}garbage"), Ttl::Default).await.unwrap();
    assert!(cache.get::<Profile>("raw").await.is_err());
}

/// Typed `set_many` / `get_many` keep order and misses.
pub async fn typed_get_many_and_set_many(ctx: Ctx) {
    let cache = ctx.typed().await;
    cache.set_many(&[("a", 1u32), ("b", 2u32)], Ttl::Default).await.unwrap();
    assert_eq!(cache.get_many::<u32>(&["b", "zz", "a"]).await.unwrap(), vec![Some(2), None, Some(1)]);
}

/// 20 concurrent `get_or_set` misses of one key run the loader once; then it is a hit.
pub async fn get_or_set_loads_once(ctx: Ctx) {
    let cache = ctx.typed().await;
    let calls = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (cache, calls) = (cache.clone(), calls.clone());
            tokio::spawn(async move {
                cache
                    .get_or_set("slow", Ttl::Default, || async move {
                        calls.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        Ok::<_, std::io::Error>(vec![1u8, 2, 3])
                    })
                    .await
            })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap(), vec![1u8, 2, 3]);
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1, "the loader must run once for concurrent misses");
    assert_eq!(cache.get::<Vec<u8>>("slow").await.unwrap(), Some(vec![1, 2, 3]));
}

/// A failing loader: every waiter gets the error, and nothing is stored.
pub async fn get_or_set_failing_loader_stores_nothing(ctx: Ctx) {
    let cache = ctx.typed().await;
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let cache = cache.clone();
            tokio::spawn(async move {
                cache
                    .get_or_set::<String, _, _, _>("k", Ttl::Default, || async {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        Err(std::io::Error::other("database down"))
                    })
                    .await
            })
        })
        .collect();
    for task in tasks {
        let result = task.await.unwrap();
        assert!(matches!(&result, Err(CacheError::Loader(e)) if e.to_string() == "database down"), "{result:?}");
    }
    assert_eq!(cache.get::<String>("k").await.unwrap(), None);
}

/// Memoized results per argument set; deleting one set, then all, in O(1).
pub async fn memoize_and_delete_memoized(ctx: Ctx) {
    let cache = ctx.typed().await;
    let calls = Arc::new(AtomicUsize::new(0));
    let square = |n: u64| {
        let calls = calls.clone();
        let cache = cache.clone();
        async move {
            cache
                .memoize("square", &n, Ttl::Default, || async move {
                    calls.fetch_add(1, Ordering::SeqCst);
                    Ok::<_, std::io::Error>(n * n)
                })
                .await
                .unwrap()
        }
    };
    assert_eq!(square(3).await, 9);
    assert_eq!(square(4).await, 16);
    assert_eq!(square(3).await, 9);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert!(cache.delete_memoized("square", &3u64).await.unwrap());
    assert_eq!(square(3).await, 9);
    assert_eq!(square(4).await, 16);
    assert_eq!(calls.load(Ordering::SeqCst), 3, "only the deleted argument set is reloaded");
    cache.delete_memoized_all("square").await.unwrap();
    assert_eq!(square(3).await, 9);
    assert_eq!(square(4).await, 16);
    assert_eq!(calls.load(Ordering::SeqCst), 5, "every argument set is reloaded after delete_memoized_all");
}

// ---------------------------------------------------------------------------------------------
// Storeless: the documented answers of a backend that stores nothing.
// ---------------------------------------------------------------------------------------------

/// What was set is not there.
pub async fn storeless_get_after_set_is_none(ctx: Ctx) {
    let cache = ctx.cache().await;
    set(&cache, "k", b("v"), Ttl::Default).await;
    assert_eq!(get(&cache, "k").await, None);
    assert!(!cache.has("k").await.unwrap());
}

/// `add` reports success (nothing else holds the key).
pub async fn storeless_add_reports_true(ctx: Ctx) {
    let cache = ctx.cache().await;
    assert!(cache.add("k", b("v"), Ttl::Default).await.unwrap());
    assert!(cache.add("k", b("v"), Ttl::Default).await.unwrap());
}

/// `inc` returns the delta applied to a fresh counter.
pub async fn storeless_inc_returns_delta(ctx: Ctx) {
    let cache = ctx.cache().await;
    assert_eq!(cache.inc("n", 5).await.unwrap(), 5);
    assert_eq!(cache.inc("n", 5).await.unwrap(), 5);
    assert_eq!(cache.dec("n", 2).await.unwrap(), -2);
}

/// `get_or_set` runs the loader every time.
pub async fn storeless_get_or_set_loads_every_time(ctx: Ctx) {
    let cache = ctx.typed().await;
    let calls = AtomicUsize::new(0);
    for _ in 0..3 {
        let v: u32 = cache
            .get_or_set("k", Ttl::Default, || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Ok::<_, std::io::Error>(1)
            })
            .await
            .unwrap();
        assert_eq!(v, 1);
    }
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}
