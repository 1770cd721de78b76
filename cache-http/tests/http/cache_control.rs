//! The route's `Cache-Control` policy, and clients' hard reloads.

use std::time::Duration;

use axum::Router;
use cachette_core::Cache;
use cachette_http::{CacheControl, CacheLayer};
use http::header;

use crate::support::{Calls, Server, counted, renders_of_two_gets};

async fn the_route_policy_is_sent_and_no_store_or_private_is_not_stored(cache: Cache) {
    let (public, private, no_store) = (Calls::default(), Calls::default(), Calls::default());
    let app = Router::new()
        .route(
            "/public",
            counted(&public, "p").layer(
                CacheLayer::new(cache.clone()).fresh_for(Duration::from_secs(120)).cache_control(
                    CacheControl::public().max_age(Duration::from_secs(60)).s_maxage(Duration::from_secs(600)),
                ),
            ),
        )
        .route(
            "/private",
            counted(&private, "mine").layer(
                CacheLayer::new(cache.clone()).cache_control(CacheControl::private().max_age(Duration::from_secs(60))),
            ),
        )
        .route(
            "/nostore",
            counted(&no_store, "secret").layer(CacheLayer::new(cache.clone()).cache_control(CacheControl::no_store())),
        );
    let server = Server::start(app).await;
    for _ in 0..2 {
        let r = server.get("/public").await;
        assert_eq!(r.header("cache-control"), "public, max-age=60, s-maxage=600");
        let r = server.get("/private").await;
        assert_eq!(r.header("cache-control"), "private, max-age=60");
        let r = server.get("/nostore").await;
        assert_eq!(r.header("cache-control"), "no-store");
    }
    assert_eq!(public.get(), 1, "public responses are stored");
    assert_eq!(private.get(), 2, "private responses are never stored in the shared entry");
    assert_eq!(no_store.get(), 2, "no-store responses are never stored");

    // A handler's own no-store / private keeps it out of the cache too.
    let own = renders_of_two_gets(cache, |_| ([(header::CACHE_CONTROL, "no-store")], "fresh every time")).await;
    assert_eq!(own, 2);
}

async fn a_hard_reload_renders_again_where_allowed(cache: Cache) {
    let calls = Calls::default();
    let app =
        Router::new().route("/news", counted(&calls, "news")).layer(CacheLayer::new(cache).allow_client_refresh(true));
    let server = Server::start(app).await;
    server.get("/news").await;
    assert_eq!(server.get("/news").await.x_cache(), "HIT");
    let refreshed = server.get_with("/news", &[("cache-control", "no-cache")]).await;
    assert_eq!((refreshed.x_cache(), calls.get()), ("MISS", 2));
    let pragma = server.get_with("/news", &[("pragma", "no-cache")]).await;
    assert_eq!((pragma.x_cache(), calls.get()), ("MISS", 3));
    assert_eq!(server.get("/news").await.x_cache(), "HIT", "the refreshed entry serves the next request");
    assert_eq!(calls.get(), 3);
}

async fn a_hard_reload_is_ignored_by_default(cache: Cache) {
    let calls = Calls::default();
    let app = Router::new().route("/news", counted(&calls, "news")).layer(CacheLayer::new(cache));
    let server = Server::start(app).await;
    server.get("/news").await;
    let r = server.get_with("/news", &[("cache-control", "no-cache"), ("pragma", "no-cache")]).await;
    assert_eq!(r.x_cache(), "HIT", "a client cannot bust a shared entry unless the route allows it");
    assert_eq!(calls.get(), 1);
}

on_every_backend!(
    the_route_policy_is_sent_and_no_store_or_private_is_not_stored,
    a_hard_reload_renders_again_where_allowed,
    a_hard_reload_is_ignored_by_default,
);
