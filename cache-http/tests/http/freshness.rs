//! How long an entry stays fresh: the layer's `Freshness`, the handler's `CacheTtl`, the clock.

use std::time::{Duration, UNIX_EPOCH};

use axum::routing::get;
use axum::{Extension, Router};
use cachette_core::{Cache, Ttl};
use cachette_http::{CacheControl, CacheLayer, CacheTtl, Freshness};

use crate::support::{Calls, FakeClock, Server, counted};

async fn until_midnight_ends_at_midnight_by_the_layer_clock(cache: Cache) {
    // 23:59:50 UTC on a fixed day.
    let day = 21_000 * 86_400;
    let clock = FakeClock::at(UNIX_EPOCH + Duration::from_secs(day + 86_400 - 10));
    let calls = Calls::default();
    let app = Router::new().route("/daily", counted(&calls, "today")).layer(
        CacheLayer::new(cache)
            .fresh_for(Freshness::until_midnight(0))
            .cache_control(CacheControl::public().max_age_until_expiry())
            .clock(clock.clock()),
    );
    let server = Server::start(app).await;
    let first = server.get("/daily").await;
    assert_eq!((first.x_cache(), first.header("cache-control")), ("MISS", "public, max-age=10"));
    clock.advance(Duration::from_secs(9));
    let later = server.get("/daily").await;
    assert_eq!((later.x_cache(), later.header("cache-control")), ("HIT", "public, max-age=1"));
    clock.advance(Duration::from_secs(2)); // 00:00:01
    let next_day = server.get("/daily").await;
    assert_eq!(next_day.x_cache(), "MISS", "the entry ended at midnight");
    assert_eq!(next_day.header("cache-control"), "public, max-age=86399");
    assert_eq!(calls.get(), 2);
}

async fn the_handler_cache_ttl_wins_over_the_layer_freshness(cache: Cache) {
    let clock = FakeClock::new();
    let (short, plain) = (Calls::default(), Calls::default());
    let s = short.clone();
    let layer = CacheLayer::new(cache).fresh_for(Duration::from_secs(3600)).clock(clock.clock());
    let app = Router::new()
        .route(
            "/short",
            get(move || async move {
                s.hit();
                (Extension(CacheTtl(Ttl::After(Duration::from_secs(5)))), "five seconds")
            }),
        )
        .route("/plain", counted(&plain, "an hour"))
        .layer(layer);
    let server = Server::start(app).await;
    server.get("/short").await;
    server.get("/plain").await;
    clock.advance(Duration::from_secs(6));
    assert_eq!(server.get("/short").await.x_cache(), "MISS", "the handler's 5 s won over the layer's hour");
    assert_eq!(server.get("/plain").await.x_cache(), "HIT");
    assert_eq!((short.get(), plain.get()), (2, 1));
}

on_every_backend!(
    until_midnight_ends_at_midnight_by_the_layer_clock,
    the_handler_cache_ttl_wins_over_the_layer_freshness,
);
