//! Storing cases through the typed facade: typed values, `get_or_set` and `memoize`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use cachette_core::{CacheError, Ttl};
use serde::{Deserialize, Serialize};

use super::b;
use crate::Ctx;

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
