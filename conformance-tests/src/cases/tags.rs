//! Storing cases for tags through the typed facade: invalidating a tag in one write, with the
//! batch operations every backend already has (no tag method on the trait).

use std::time::Duration;

use cachette_core::{Cache, LoadPolicy, Ttl};

use crate::Ctx;

/// `invalidate_tag` makes every value written under the tag a miss; untagged values and values
/// under other tags stay.
pub async fn invalidating_a_tag_misses_its_values_only(ctx: Ctx) {
    let cache = ctx.typed().await;
    cache.set_tagged("profile:42", "Ada", Ttl::Default, &["user:42"]).await.unwrap();
    cache.set_tagged("team:7", &vec!["Ada", "Grace"], Ttl::Default, &["user:42", "team:7"]).await.unwrap();
    cache.set_tagged("profile:43", "Grace", Ttl::Default, &["user:43"]).await.unwrap();
    cache.set("plain", "untagged", Ttl::Default).await.unwrap();
    assert_eq!(cache.get::<String>("profile:42").await.unwrap().as_deref(), Some("Ada"));

    cache.invalidate_tag("user:42").await.unwrap();
    assert_eq!(cache.get::<String>("profile:42").await.unwrap(), None);
    assert_eq!(cache.get::<Vec<String>>("team:7").await.unwrap(), None);
    assert_eq!(cache.get::<String>("profile:43").await.unwrap().as_deref(), Some("Grace"));
    assert_eq!(cache.get::<String>("plain").await.unwrap().as_deref(), Some("untagged"));

    // A value written under the tag after the invalidation is current again.
    cache.set_tagged("profile:42", "Ada Lovelace", Ttl::Default, &["user:42"]).await.unwrap();
    assert_eq!(cache.get::<String>("profile:42").await.unwrap().as_deref(), Some("Ada Lovelace"));
}

/// `get_tagged` reads the value and the tags' versions together and honours an invalidation.
pub async fn get_tagged_checks_the_tags_it_is_given(ctx: Ctx) {
    let cache = ctx.typed().await;
    cache.set_tagged("k", &5u32, Ttl::Default, &["a", "b"]).await.unwrap();
    assert_eq!(cache.get_tagged::<u32>("k", &["a", "b"]).await.unwrap(), Some(5));
    assert_eq!(cache.get_tagged::<u32>("k", &["a"]).await.unwrap(), Some(5), "tags beyond those given are read too");
    cache.invalidate_tag("b").await.unwrap();
    assert_eq!(cache.get_tagged::<u32>("k", &["a"]).await.unwrap(), None);
    assert_eq!(cache.get_tagged::<u32>("missing", &["a"]).await.unwrap(), None);
}

/// A tag whose version is gone (evicted, deleted) before this process read it makes its values
/// misses: an eviction never brings an invalidated value back. (A version the process has read
/// may be kept in process, where the facade sees every change of it; the values that recorded it
/// then stay as valid as they were, since no invalidation happened.)
pub async fn a_lost_tag_version_misses_its_values(ctx: Ctx) {
    let cache = ctx.typed().await;
    cache.set_tagged("k", "v", Ttl::Default, &["t"]).await.unwrap();
    cache.backend().delete("tag-version:t").await.unwrap();
    assert_eq!(cache.get::<String>("k").await.unwrap(), None);
}

/// A tag's version read through one [`Cache`] (which may keep it in process) does not outlive
/// an invalidation, or a delete of the version key, made through another `Cache` on the same
/// backend.
pub async fn a_tag_invalidated_through_one_cache_is_seen_through_another(ctx: Ctx) {
    let backend = ctx.cache().await;
    let (a, b) = (Cache::new(backend.clone(), ctx.config()), Cache::new(backend, ctx.config()));
    let read = |cache: &Cache| {
        let cache = cache.clone();
        async move { cache.get_tagged::<String>("k", &["t"]).await.unwrap() }
    };
    a.set_tagged("k", "v", Ttl::Default, &["t"]).await.unwrap();
    assert_eq!(read(&b).await.as_deref(), Some("v"));
    assert_eq!(read(&b).await.as_deref(), Some("v"), "read again, with the version it read");
    a.invalidate_tag("t").await.unwrap();
    assert_eq!(read(&b).await, None, "invalidated through the other cache");
    b.set_tagged("k", "w", Ttl::Default, &["t"]).await.unwrap();
    assert_eq!((read(&a).await.as_deref(), read(&b).await.as_deref()), (Some("w"), Some("w")));
    a.delete("tag-version:t").await.unwrap();
    assert_eq!(read(&b).await, None, "the version deleted through the other cache");
}

/// Values loaded by `get_or_set_with` under a policy's tags are invalidated with them.
pub async fn loaded_values_carry_the_policys_tags(ctx: Ctx) {
    let cache = ctx.typed().await;
    let policy = LoadPolicy::new(Duration::from_secs(300)).tags(["report"]);
    let load = |n: u32| move || async move { Ok::<_, std::io::Error>(n) };
    assert_eq!(cache.get_or_set_with("r", &policy, load(1)).await.unwrap(), 1);
    assert_eq!(cache.get_or_set_with("r", &policy, load(2)).await.unwrap(), 1, "a hit");
    cache.invalidate_tag("report").await.unwrap();
    assert_eq!(cache.get_or_set_with("r", &policy, load(3)).await.unwrap(), 3, "reloaded after the invalidation");
}
