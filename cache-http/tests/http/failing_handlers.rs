//! A failing handler — an error, a `5xx`, a panic — never makes a cached route worse than no
//! cache: every waiting request is answered at once, the key is not poisoned, and within the
//! stale-if-error grace the stale entry is served instead.

use std::time::Duration;

use axum::body::Body;
use axum::error_handling::HandleErrorLayer;
use axum::routing::MethodRouter;
use axum::{BoxError, Router};
use cachette_core::Cache;
use cachette_http::CacheLayer;
use http::StatusCode;
use tower::ServiceBuilder;

use crate::backends::Counting;
use crate::support::{Calls, FakeClock, Server, counted_async, counted_with, wait_until};

async fn a_handler_that_panics_answers_every_waiter_at_once_and_poisons_nothing(cache: Cache) {
    const WAITERS: usize = 50;
    let (cache, backend) = Counting::wrap(&cache);
    let calls = Calls::default();
    let b = backend.clone();
    let panics_once = counted_async(&calls, move |n| {
        let b = b.clone();
        async move {
            if n == 1 {
                // Panic once every request has looked up and joined this render (the join
                // follows the lookup without a wait).
                wait_until("every request has looked up", || b.answered_gets() == WAITERS).await;
                tokio::time::sleep(Duration::from_millis(100)).await;
                panic!("the database said no");
            }
            "fine"
        }
    });
    let layer = CacheLayer::new(cache);
    let server = Server::start(Router::new().route("/page", panics_once).layer(layer.clone())).await;
    let replies = futures::future::join_all((0..WAITERS).map(|_| server.get("/page"))).await;
    // Every request got a response (no connection closed without one): a 500 that no cache keeps.
    for r in &replies {
        assert_eq!((r.status, r.x_cache(), r.header("cache-control")), (500, "MISS", "no-store"));
    }
    assert_eq!(calls.get(), 1, "the waiters did not take turns rendering: the handler ran once");
    assert_eq!(layer.stats().panics, 1);
    let next = server.get("/page").await;
    assert_eq!((next.status, next.x_cache(), next.text()), (200, "MISS", "fine"), "the key is not poisoned");
    assert_eq!(calls.get(), 2);
}

/// A route that answers "good" at its first call, then fails in its own way.
type Flaky = fn(&Calls) -> MethodRouter;

fn answers_503(calls: &Calls) -> MethodRouter {
    counted_with(calls, |n| if n == 1 { (StatusCode::OK, "good") } else { (StatusCode::SERVICE_UNAVAILABLE, "broken") })
}

fn panics(calls: &Calls) -> MethodRouter {
    counted_async(calls, |n| async move {
        assert!(n == 1, "the handler panicked at call {n}");
        "good"
    })
}

/// A tower service (not an axum handler: those cannot fail) whose calls fail after the first,
/// behind axum's `HandleErrorLayer`, which answers its errors `500` outside the cache layer.
fn errors(calls: &Calls, layer: &CacheLayer) -> MethodRouter {
    let calls = calls.clone();
    let service = tower::service_fn(move |_request: http::Request<Body>| {
        let n = calls.hit();
        async move {
            match n {
                1 => Ok(http::Response::new(Body::from("good"))),
                _ => Err(BoxError::from("the database is down")),
            }
        }
    });
    let handled = ServiceBuilder::new()
        .layer(HandleErrorLayer::new(|e: BoxError| async move { (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()) }))
        .layer(layer.clone())
        .service(service);
    axum::routing::get_service(handled)
}

async fn a_failing_render_within_the_grace_serves_the_stale_entry_and_past_it_the_failure(cache: Cache) {
    let clock = FakeClock::new();
    let layer = CacheLayer::new(cache)
        .fresh_for(Duration::from_secs(10))
        .stale_if_error(Duration::from_secs(60))
        .clock(clock.clock());
    let (status, panic, error) = (Calls::default(), Calls::default(), Calls::default());
    let flaky: [(&str, Flaky, &Calls); 2] = [("/status", answers_503, &status), ("/panic", panics, &panic)];
    let mut app = Router::new().route("/error", errors(&error, &layer));
    for (path, route, calls) in flaky {
        app = app.route(path, route(calls).layer(layer.clone()));
    }
    let server = Server::start(app).await;
    let paths = ["/status", "/panic", "/error"];
    for path in paths {
        let r = server.get(path).await;
        assert_eq!((r.status, r.x_cache(), r.text()), (200, "MISS", "good"), "{path}");
    }

    clock.advance(Duration::from_secs(11)); // past the fresh period, within the grace
    for path in paths {
        let r = server.get(path).await;
        assert_eq!((r.status, r.x_cache(), r.text()), (200, "STALE", "good"), "{path} failed: the stale entry");
    }
    assert_eq!((status.get(), panic.get(), error.get()), (2, 2, 2), "each render was tried");
    assert_eq!(layer.stats().stale_if_error, 3);

    clock.advance(Duration::from_secs(60)); // 71 s after the render: past the grace
    let r = server.get("/status").await;
    assert_eq!((r.status, r.text()), (503, "broken"), "the handler's own answer");
    let r = server.get("/panic").await;
    assert_eq!((r.status, r.header("cache-control")), (500, "no-store"), "a panic is answered 500");
    let r = server.get("/error").await;
    assert_eq!((r.status, r.text()), (500, "the database is down"), "the error is passed on");
    assert_eq!(layer.stats().stale_if_error, 3);
    assert_eq!(layer.stats().panics, 2);
}

async fn within_the_grace_a_render_that_succeeds_replaces_the_stale_entry(cache: Cache) {
    let clock = FakeClock::new();
    let calls = Calls::default();
    let layer = CacheLayer::new(cache)
        .fresh_for(Duration::from_secs(10))
        .stale_if_error(Duration::from_secs(60))
        .clock(clock.clock());
    let app = Router::new().route("/page", counted_with(&calls, |n| format!("render {n}"))).layer(layer.clone());
    let server = Server::start(app).await;
    server.get("/page").await;
    clock.advance(Duration::from_secs(11));
    let r = server.get("/page").await;
    assert_eq!((r.x_cache(), r.text()), ("MISS", "render 2"), "the stale entry is only for failures");
    wait_until("the new entry is stored", || layer.stats().stored == 2).await;
    assert_eq!(server.get("/page").await.text(), "render 2");
    assert_eq!(layer.stats().stale_if_error, 0);
}

on_every_backend!(
    a_handler_that_panics_answers_every_waiter_at_once_and_poisons_nothing,
    a_failing_render_within_the_grace_serves_the_stale_entry_and_past_it_the_failure,
    within_the_grace_a_render_that_succeeds_replaces_the_stale_entry,
);
