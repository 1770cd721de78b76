//! What a cached route tells: `Age` and `Cache-Status` on responses from the cache (HIT, STALE,
//! `304`), the hooks' view events, and the backend errors it counts.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use cachette_core::{Cache, Config, EventKind, EventSource};
use cachette_http::{CacheControl, CacheLayer};

use crate::backends::Stalled;
use crate::support::{Calls, FakeClock, Server, counted, counted_async, wait_until};

async fn age_and_cache_status_are_sent_on_hit_stale_and_304(cache: Cache) {
    let clock = FakeClock::new();
    let layer = CacheLayer::new(cache)
        .fresh_for(Duration::from_secs(10))
        .stale_while_revalidate(Duration::from_secs(60))
        .cache_control(CacheControl::public().max_age(Duration::from_secs(10)))
        .clock(clock.clock());
    // Renders after the first wait at the gate: the background refresh does not land mid-test.
    let (calls, gate) = (Calls::default(), Arc::new(tokio::sync::Semaphore::new(0)));
    let g = gate.clone();
    let news = counted_async(&calls, move |n| {
        let g = g.clone();
        async move {
            if n > 1 {
                g.acquire().await.unwrap().forget();
            }
            "news"
        }
    });
    let server = Server::start(Router::new().route("/news", news).layer(layer.clone())).await;
    let miss = server.get("/news").await;
    assert_eq!((miss.header("cache-status"), miss.header("age")), ("cachette; fwd=miss; stored", ""));
    wait_until("the entry is stored", || layer.stats().stored == 1).await;

    clock.advance(Duration::from_secs(3));
    let hit = server.get("/news").await;
    assert_eq!((hit.x_cache(), hit.header("age"), hit.header("cache-status")), ("HIT", "3", "cachette; hit; ttl=7"));
    let etag = hit.header("etag").to_owned();
    let not_modified = server.get_with("/news", &[("if-none-match", &etag)]).await;
    assert_eq!(not_modified.status, 304);
    assert_eq!((not_modified.header("age"), not_modified.header("cache-status")), ("3", "cachette; hit; ttl=7"));

    clock.advance(Duration::from_secs(9)); // 2 s past the fresh period, within the stale margin
    let stale = server.get("/news").await;
    assert_eq!(stale.x_cache(), "STALE");
    // max-age=10 with Age 12: a browser or proxy sees it is stale.
    assert_eq!((stale.header("cache-control"), stale.header("age")), ("public, max-age=10", "12"));
    assert_eq!(stale.header("cache-status"), "cachette; fwd=stale; ttl=-2");
    let stale_304 = server.get_with("/news", &[("if-none-match", &etag)]).await;
    assert_eq!((stale_304.status, stale_304.header("age")), (304, "12"));
    assert_eq!(stale_304.header("cache-status"), "cachette; fwd=stale; ttl=-2");
    gate.add_permits(1);
}

async fn hooks_see_a_views_miss_store_hit_and_invalidation(cache: Cache) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let seen = events.clone();
    cache.on_event(move |event| {
        if let EventSource::View { route } = event.source {
            seen.lock().unwrap().push((event.kind, route.to_owned()));
        }
    });
    let layer = CacheLayer::new(cache).route_name("/report");
    let calls = Calls::default();
    let server = Server::start(Router::new().route("/report", counted(&calls, "report")).layer(layer.clone())).await;
    server.get("/report").await;
    wait_until("the entry is stored", || layer.stats().stored == 1).await;
    server.get("/report").await;
    layer.invalidate("/report").await.unwrap();
    let kinds: Vec<EventKind> = events.lock().unwrap().iter().map(|(kind, _)| *kind).collect();
    assert_eq!(kinds, [EventKind::Miss, EventKind::Store, EventKind::Hit, EventKind::Invalidate]);
    assert!(events.lock().unwrap().iter().all(|(_, route)| route == "/report"), "the route's name, not its URL");
}

on_every_backend!(
    age_and_cache_status_are_sent_on_hit_stale_and_304,
    hooks_see_a_views_miss_store_hit_and_invalidation
);

/// With `CACHE_IGNORE_ERRORS` the cache absorbs a stalled backend's failures; the layer, which
/// falls back by itself, still counts one per request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_absorbed_by_cache_ignore_errors_are_still_counted_by_the_layer() {
    let mut config = Config::default();
    config.ignore_errors = true;
    config.fail_safe.deadline = Duration::from_millis(50);
    let cache = Cache::new(Arc::new(Stalled), config);
    let (calls, layer) = (Calls::default(), CacheLayer::new(cache.clone()));
    let server = Server::start(Router::new().route("/page", counted(&calls, "page")).layer(layer.clone())).await;
    for _ in 0..3 {
        assert_eq!(server.get("/page").await.text(), "page");
    }
    let stats = layer.stats();
    assert_eq!((stats.errors, stats.misses, stats.hit_ratio()), (3, 3, 0.0), "{stats:?}");
    assert!(cache.stats().errors >= 3, "the cache counts them too: {:?}", cache.stats());
}
