//! Cases for a backend's [change feed](cachette_core::BaseCache::change_feed), the promises an
//! in-process tier relies on (see [`ChangeFeed`]), and helpers for fault tests of a feed.
//!
//! ```ignore
//! // tests/change_feed.rs of a backend crate that offers a feed
//! cachette_conformance::change_feed_suite!(tracking, |mut config: Config| async move {
//!     cachette_conformance::harness::redis::standalone().apply(&mut config);
//!     Ok(Arc::new(RedisCache::new(&config)?) as Arc<dyn BaseCache>)
//! });
//! ```
//!
//! Each case builds the feed of one cache and changes keys through other caches of the same
//! backend (other instances, as other processes would have), each with its own connections.

use std::collections::BTreeSet;
use std::future::Future;
use std::time::Duration;

use cachette_core::change_feed::{Change, ChangeFeed};
use cachette_core::{BaseCache, Bytes, Ttl};

use crate::Ctx;

/// How long a feed may take to follow, and a change to be reported.
pub const FEED_LIMIT: Duration = Duration::from_secs(10);

/// The feed of `cache`, once it follows; panics if the backend offers none or it does not follow
/// within [`FEED_LIMIT`].
pub async fn following(cache: &dyn BaseCache) -> ChangeFeed {
    let mut feed = cache.change_feed().unwrap_or_else(|| panic!("{} offers no change feed", cache.type_name()));
    wait_for(&mut feed, &Change::Following).await;
    feed
}

/// The next change within `limit`, or `None`.
pub async fn next_change(feed: &mut ChangeFeed, limit: Duration) -> Option<Change> {
    tokio::time::timeout(limit, feed.next()).await.ok().flatten()
}

/// Takes changes until `want` comes; returns those before it. Panics after [`FEED_LIMIT`].
pub async fn wait_for(feed: &mut ChangeFeed, want: &Change) -> Vec<Change> {
    let mut before = Vec::new();
    loop {
        match next_change(feed, FEED_LIMIT).await {
            Some(change) if change == *want => return before,
            Some(change) => before.push(change),
            None => panic!("the feed did not report {want:?} within {FEED_LIMIT:?}; it reported {before:?}"),
        }
    }
}

/// Takes changes until every key of `keys` was reported; returns every key reported meanwhile.
/// Panics on a [`Change::Lost`] or after [`FEED_LIMIT`].
pub async fn wait_for_keys(feed: &mut ChangeFeed, keys: &[&str]) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    while !keys.iter().all(|k| seen.contains(*k)) {
        match next_change(feed, FEED_LIMIT).await {
            Some(Change::Keys(reported)) => seen.extend(reported),
            Some(Change::Lost) => panic!("the feed was lost while waiting for {keys:?}"),
            Some(_) => {}
            None => panic!("the feed did not report {keys:?} within {FEED_LIMIT:?} (it reported {seen:?})"),
        }
    }
    seen
}

/// After a loss: waits until the feed follows again, then until it reports `key`, which `write`
/// writes once it follows (a fault test's last steps).
pub async fn follows_again(feed: &mut ChangeFeed, key: &str, write: impl Future<Output = ()>) {
    wait_for(feed, &Change::Following).await;
    write.await;
    wait_for_keys(feed, &[key]).await;
}

fn value(text: &'static str) -> Bytes {
    Bytes::from_static(text.as_bytes())
}

/// A write, a delete and an `inc` made through another cache of the same prefix are reported by
/// the cache's key.
pub async fn writes_of_another_cache_are_reported_by_key(ctx: Ctx) {
    let (watched, other) = (ctx.cache().await, ctx.cache().await);
    let mut feed = following(&*watched).await;
    other.set("user:1", value("ada"), Ttl::Default).await.unwrap();
    wait_for_keys(&mut feed, &["user:1"]).await;
    other.delete("user:1").await.unwrap();
    wait_for_keys(&mut feed, &["user:1"]).await;
    other.inc("visits", 1).await.unwrap();
    wait_for_keys(&mut feed, &["visits"]).await;
}

/// `clear` of another cache of the same prefix reports each key it removes.
pub async fn a_clear_is_reported_for_every_key(ctx: Ctx) {
    let (watched, other) = (ctx.cache().await, ctx.cache().await);
    let mut feed = following(&*watched).await;
    other.set_many(&[("a", value("1")), ("b c", value("2"))], Ttl::Default).await.unwrap();
    wait_for_keys(&mut feed, &["a", "b c"]).await;
    other.clear().await.unwrap();
    wait_for_keys(&mut feed, &["a", "b c"]).await;
}

/// Keys of another prefix on the same server are never reported, not even a prefix that the
/// cache's own is the start of.
pub async fn keys_of_another_prefix_are_not_reported(ctx: Ctx) {
    let watched = ctx.cache().await;
    let longer = format!("{}v2:", ctx.prefix());
    let other = ctx.cache_with(|c| c.key_prefix = longer).await;
    let same = ctx.cache().await;
    let mut feed = following(&*watched).await;
    other.set("k", value("other prefix"), Ttl::Default).await.unwrap();
    other.set("v2:k", value("other prefix"), Ttl::Default).await.unwrap();
    same.set("marker", value("own prefix"), Ttl::Default).await.unwrap();
    let seen = wait_for_keys(&mut feed, &["marker"]).await;
    assert_eq!(seen, BTreeSet::from(["marker".to_owned()]), "only the own prefix's key");
}

/// The cache's own writes are reported too: a tier evicts what it wrote, so that no other
/// process's write of the same key in between can be missed.
pub async fn the_caches_own_writes_are_reported(ctx: Ctx) {
    let watched = ctx.cache().await;
    let mut feed = following(&*watched).await;
    watched.set("mine", value("v"), Ttl::Default).await.unwrap();
    wait_for_keys(&mut feed, &["mine"]).await;
}

/// Generates one `#[test]` per change feed case ([`crate::change_feed`]) in a module named
/// `$module`, for a factory as [`conformance_suite!`](crate::conformance_suite!) takes it.
#[macro_export]
macro_rules! change_feed_suite {
    ($module:ident, $factory:expr $(,)?) => {
        $crate::__change_feed_cases!(
            $module,
            $factory,
            writes_of_another_cache_are_reported_by_key,
            a_clear_is_reported_for_every_key,
            keys_of_another_prefix_are_not_reported,
            the_caches_own_writes_are_reported
        );
    };
}

/// Generates the tests of [`change_feed_suite!`](crate::change_feed_suite!).
#[doc(hidden)]
#[macro_export]
macro_rules! __change_feed_cases {
    ($module:ident, $factory:expr, $($case:ident),* $(,)?) => {
        #[allow(unused_imports)]
        mod $module {
            use super::*;
            fn __factory() -> impl $crate::BackendFactory { $factory }
            $(#[test] fn $case() { $crate::run_case(__factory(), stringify!($case), $crate::change_feed::$case) })*
        }
    };
}
