//! Storing cases: `inc` and `dec` are atomic, create missing keys and keep expiries.

use cachette_core::{Bytes, CacheError, Ttl};

use super::{b, get, set};
use crate::Ctx;

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
    let cache = &ctx.cache().await;
    let (ttl, counted) = ctx
        .before_expiry(|ttl| async move {
            set(cache, "n", b("5"), Ttl::After(ttl)).await;
            cache.inc("n", 1).await.unwrap()
        })
        .await;
    assert_eq!(counted, 6);
    ctx.wait_past(ttl).await;
    assert_eq!(get(cache, "n").await, None, "inc must not make an expiring key permanent");
}
