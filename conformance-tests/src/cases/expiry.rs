//! Storing cases: every [`Ttl`] expires when it should, and `touch` moves the expiry of a live key.

use std::time::{Duration, SystemTime};

use cachette_core::{Expiry, Ttl};

use super::{b, get, long_ttl, set};
use crate::Ctx;

/// `Ttl::After` expires.
pub async fn ttl_after_expires(ctx: Ctx) {
    let cache = &ctx.cache().await;
    set(cache, "stays", b("v"), long_ttl()).await;
    let (ttl, alive) = ctx
        .before_expiry(|ttl| async move {
            set(cache, "k", b("v"), Ttl::After(ttl)).await;
            get(cache, "k").await
        })
        .await;
    assert_eq!(alive, Some(b("v")), "alive right after the write");
    ctx.wait_past(ttl).await;
    assert_eq!(get(cache, "k").await, None, "gone after its ttl");
    assert_eq!(get(cache, "stays").await, Some(b("v")));
}

/// `Ttl::At` (a wall-clock deadline) expires.
pub async fn ttl_at_expires(ctx: Ctx) {
    let cache = &ctx.cache().await;
    let (ttl, alive) = ctx
        .before_expiry(|ttl| async move {
            set(cache, "k", b("v"), Ttl::At(SystemTime::now() + ttl)).await;
            get(cache, "k").await
        })
        .await;
    assert_eq!(alive, Some(b("v")), "alive right after the write");
    ctx.wait_past(ttl).await;
    assert_eq!(get(cache, "k").await, None);
}

/// `Ttl::Never` outlives the default timeout.
pub async fn ttl_never_outlives_default(ctx: Ctx) {
    let short = ctx.short_ttl();
    let cache = ctx.cache_with(|c| c.default_timeout = Expiry::After(short)).await;
    set(&cache, "forever", b("v"), Ttl::Never).await;
    ctx.wait_past(short).await;
    assert_eq!(get(&cache, "forever").await, Some(b("v")));
}

/// `Ttl::Default` is the config's `CACHE_DEFAULT_TIMEOUT`.
pub async fn ttl_default_uses_config_timeout(ctx: Ctx) {
    let case = &ctx;
    let (short, (cache, added, alive)) = ctx
        .before_expiry(|short| async move {
            let cache = case.cache_with(|c| c.default_timeout = Expiry::After(short)).await;
            cache.delete("a").await.unwrap();
            set(&cache, "k", b("v"), Ttl::Default).await;
            let added = cache.add("a", b("v"), Ttl::Default).await.unwrap();
            let alive = get(&cache, "k").await;
            (cache, added, alive)
        })
        .await;
    assert!(added);
    assert_eq!(alive, Some(b("v")));
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
    let cache = &ctx.cache().await;
    let (ttl, touched) = ctx
        .before_expiry(|ttl| async move {
            set(cache, "k", b("v"), Ttl::After(ttl)).await;
            cache.touch("k", long_ttl()).await.unwrap()
        })
        .await;
    assert!(touched, "a live key is touched");
    ctx.wait_past(ttl).await;
    assert_eq!(get(cache, "k").await, Some(b("v")));
}

/// `touch` gives a permanent key a short life.
pub async fn touch_shortens_live_key(ctx: Ctx) {
    let cache = &ctx.cache().await;
    let (ttl, (touched, alive)) = ctx
        .before_expiry(|ttl| async move {
            set(cache, "k", b("v"), Ttl::Never).await;
            let touched = cache.touch("k", Ttl::After(ttl)).await.unwrap();
            (touched, get(cache, "k").await)
        })
        .await;
    assert!(touched, "a live key is touched");
    assert_eq!(alive, Some(b("v")), "alive right after the touch");
    ctx.wait_past(ttl).await;
    assert_eq!(get(cache, "k").await, None);
}

/// `touch` with `Ttl::Never` removes the expiry.
pub async fn touch_never_removes_expiry(ctx: Ctx) {
    let cache = &ctx.cache().await;
    let (ttl, touched) = ctx
        .before_expiry(|ttl| async move {
            set(cache, "k", b("v"), Ttl::After(ttl)).await;
            cache.touch("k", Ttl::Never).await.unwrap()
        })
        .await;
    assert!(touched, "a live key is touched");
    ctx.wait_past(ttl).await;
    assert_eq!(get(cache, "k").await, Some(b("v")));
}

/// `get_many_with_expiry` gives what `get_many` gives, and an expiry it tells is the one written
/// or earlier: never later (a tier would then serve a value the backend no longer has).
pub async fn an_expiry_told_with_a_value_is_never_later_than_written(ctx: Ctx) {
    let cache = ctx.cache().await;
    let written = SystemTime::now();
    set(&cache, "expiring", b("a"), Ttl::After(Duration::from_secs(60))).await;
    set(&cache, "lasting", b("b"), Ttl::Never).await;
    let keys = ["expiring", "missing", "lasting"];
    let with_expiry = cache.get_many_with_expiry(&keys).await.unwrap();
    let values: Vec<_> = with_expiry.iter().map(|e| e.as_ref().map(|(v, _)| v.clone())).collect();
    assert_eq!(values, cache.get_many(&keys).await.unwrap());
    match &with_expiry[0] {
        Some((_, Some(Expiry::At(deadline)))) => {
            assert!(*deadline <= SystemTime::now() + Duration::from_secs(60), "later than written: {deadline:?}");
            assert!(*deadline > written + Duration::from_secs(50), "far earlier than written: {deadline:?}");
        }
        Some((_, Some(Expiry::After(left)))) => assert!(*left <= Duration::from_secs(60), "{left:?}"),
        Some((_, None)) => {}
        other => panic!("the expiring value with an expiry: {other:?}"),
    }
    assert!(matches!(&with_expiry[2], Some((_, None | Some(Expiry::Never)))), "{:?}", with_expiry[2]);
}
