//! Storeless cases: the documented answers of a backend that stores nothing.

use std::sync::atomic::{AtomicUsize, Ordering};

use cachette_core::Ttl;

use super::{b, get, set};
use crate::Ctx;

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
