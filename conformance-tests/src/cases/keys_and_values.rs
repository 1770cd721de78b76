//! Storing cases: `clear` and key prefixes touch only their own keys; any key and any value
//! round-trips.

use cachette_core::{Bytes, Ttl};

use super::{b, get, long_ttl, set};
use crate::Ctx;

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
