//! Universal cases: true of every backend, including one that stores nothing.

use cachette_core::{Bytes, CacheError, Ttl};

use super::{b, get, long_ttl, set};
use crate::Ctx;

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
