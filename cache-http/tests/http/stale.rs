//! Stale-while-revalidate and the `Refresher`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use cachette_core::Cache;
use cachette_http::{CacheLayer, Refresher};
use http::StatusCode;
use tokio::sync::Semaphore;

use crate::support::{Calls, FakeClock, Server, counted, counted_async, counted_with, wait_until};

async fn a_stale_entry_is_served_at_once_while_one_refresh_runs(cache: Cache) {
    let clock = FakeClock::new();
    let calls = Calls::default();
    // Renders after the first wait at the gate, so the test knows a refresh is still running.
    let gate = Arc::new(Semaphore::new(0));
    let (c, g) = (calls.clone(), gate.clone());
    let layer = CacheLayer::new(cache)
        .fresh_for(Duration::from_secs(10))
        .stale_while_revalidate(Duration::from_secs(60))
        .clock(clock.clock());
    let app = Router::new()
        .route(
            "/slow",
            get(move || {
                let (c, g) = (c.clone(), g.clone());
                async move {
                    let n = c.hit();
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    if n > 1 {
                        g.acquire().await.unwrap().forget();
                    }
                    format!("render {n}")
                }
            }),
        )
        .layer(layer.clone());
    let server = Server::start(app).await;
    assert_eq!(server.get("/slow").await.x_cache(), "MISS");

    clock.advance(Duration::from_secs(11)); // past the fresh period, within the margin
    let started = Instant::now();
    let replies = futures::future::join_all((0..50).map(|_| server.get("/slow"))).await;
    let slowest = started.elapsed();
    for r in &replies {
        assert_eq!((r.status, r.x_cache(), r.text()), (200, "STALE", "render 1"));
    }
    // All 50 answered while the refresh's render was held at the gate: none waited for it.
    assert_eq!(layer.stats().stored, 1, "the refresh has not stored yet");
    wait_until("the background refresh starts", || calls.get() == 2).await;
    assert_eq!(layer.stats().refreshes, 1, "one refresh for 50 stale requests");
    gate.add_permits(1);
    wait_until("the refresh is stored", || layer.stats().stored == 2).await;
    let fresh = server.get("/slow").await;
    assert_eq!((fresh.x_cache(), fresh.text()), ("HIT", "render 2"));
    assert_eq!(calls.get(), 2, "the handler ran exactly once more");
    eprintln!("50 concurrent stale requests answered in {slowest:?} (the handler takes 300 ms)");

    clock.advance(Duration::from_secs(71)); // past fresh + margin of the refreshed entry
    gate.add_permits(1);
    let late = server.get("/slow").await;
    assert_eq!((late.x_cache(), late.text()), ("MISS", "render 3"));
}

async fn a_failed_refresh_keeps_the_stale_entry(cache: Cache) {
    let clock = FakeClock::new();
    let calls = Calls::default();
    let layer = CacheLayer::new(cache)
        .fresh_for(Duration::from_secs(10))
        .stale_while_revalidate(Duration::from_secs(60))
        .clock(clock.clock());
    let flaky = counted_with(&calls, |n| match n {
        1 => (StatusCode::OK, "good"),
        _ => (StatusCode::INTERNAL_SERVER_ERROR, "broken"),
    });
    let app = Router::new().route("/flaky", flaky).layer(layer.clone());
    let server = Server::start(app).await;
    server.get("/flaky").await;
    clock.advance(Duration::from_secs(11));
    assert_eq!(server.get("/flaky").await.text(), "good");
    wait_until("the refresh fails", || layer.stats().refresh_failures == 1).await;
    let again = server.get("/flaky").await;
    assert_eq!((again.status, again.x_cache(), again.text()), (200, "STALE", "good"));
}

async fn the_refresher_renders_on_schedule_and_stops(cache: Cache) {
    let calls = Calls::default();
    let layer = CacheLayer::new(cache).fresh_for(Duration::from_secs(3600));
    let app = Router::new().route("/report", counted(&calls, "report")).layer(layer.clone());
    let server = Server::start(app.clone()).await;
    // The URL the clients use: the layer keys the host.
    let url = format!("{}/report", server.base);
    let refresher = Refresher::new().route(url, Duration::from_millis(50)).spawn(app);
    // Stored, not just rendered: a shutdown cancels a render that has not stored yet.
    wait_until("three scheduled renders stored", || layer.stats().stored >= 3).await;
    refresher.shutdown().await;
    let after = calls.get();
    assert_eq!(server.get("/report").await.x_cache(), "HIT", "the refresher stored the route");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(calls.get(), after, "no render after shutdown");
}

/// XFetch on a route: a 1 s render fresh for 100 s is never refreshed early half-way through
/// its fresh period (probability e^-50 per hit), and almost surely (1 - e^-0.001 per hit) by one
/// of the hits in its last millisecond, which are all served at once; the refresh lands before
/// the entry expires, so a request after the old expiry is a hit on the new render. The render
/// takes 1 s (it took 100 ms until a fresh-clone run under load refreshed twice: one of the 50
/// hits read the old entry before the first refresh stored and was scheduled only after it), so
/// that the 50 hits are all served while the one refresh renders.
async fn a_hot_route_is_refreshed_early_by_one_hit_before_it_expires(cache: Cache) {
    let (clock, calls) = (FakeClock::new(), Calls::default());
    let layer = CacheLayer::new(cache).fresh_for(Duration::from_secs(100)).early_refresh(1.0).clock(clock.clock());
    let page = counted_async(&calls, |n| async move {
        tokio::time::sleep(Duration::from_secs(1)).await;
        format!("render {n}")
    });
    let server = Server::start(Router::new().route("/hot", page).layer(layer.clone())).await;
    assert_eq!(server.get("/hot").await.x_cache(), "MISS");
    wait_until("the first render is stored", || layer.stats().stored == 1).await;

    clock.advance(Duration::from_secs(50));
    for _ in 0..20 {
        assert_eq!(server.get("/hot").await.x_cache(), "HIT");
    }
    assert_eq!(layer.stats().early_refreshes, 0, "half-way through its fresh period: no early refresh");

    clock.advance(Duration::from_millis(49_999)); // 1 ms before the end of the fresh period
    let replies = futures::future::join_all((0..50).map(|_| server.get("/hot"))).await;
    for reply in &replies {
        assert_eq!((reply.x_cache(), reply.text()), ("HIT", "render 1"), "served at once, not waiting for the refresh");
    }
    wait_until("the early refresh is stored", || layer.stats().stored == 2).await;
    assert_eq!((layer.stats().refreshes, layer.stats().early_refreshes), (1, 1), "one refresh for 50 hits");
    assert_eq!(calls.get(), 2);

    clock.advance(Duration::from_secs(1)); // past the first render's expiry
    let after = server.get("/hot").await;
    assert_eq!((after.x_cache(), after.text()), ("HIT", "render 2"), "refreshed before it expired");
}

on_every_backend!(
    a_hot_route_is_refreshed_early_by_one_hit_before_it_expires,
    a_stale_entry_is_served_at_once_while_one_refresh_runs,
    a_failed_refresh_keeps_the_stale_entry,
    the_refresher_renders_on_schedule_and_stops,
);
