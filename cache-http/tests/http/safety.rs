//! Shared-cache safety: credentials, per-user entries, cookies.

use axum::Router;
use axum::routing::get;
use cachette_core::Cache;
use cachette_http::CacheLayer;
use http::{HeaderMap, header};

use crate::support::{Calls, Server, counted, counted_with};

async fn credentials_bypass_the_shared_entry(cache: Cache) {
    let calls = Calls::default();
    let layer = CacheLayer::new(cache);
    let app = Router::new().route("/account", counted(&calls, "public view")).layer(layer.clone());
    let server = Server::start(app).await;
    for headers in [[("authorization", "Bearer alice")], [("cookie", "session=alice")]] {
        let r = server.get_with("/account", &headers).await;
        assert_eq!((r.status, r.x_cache()), (200, ""), "not served from the shared entry");
    }
    assert_eq!(server.get("/account").await.x_cache(), "MISS", "nothing was stored for them either");
    assert_eq!(server.get_with("/account", &[("cookie", "session=bob")]).await.x_cache(), "");
    assert_eq!(calls.get(), 4);
    assert_eq!(layer.stats().bypassed, 3);
}

async fn per_user_routes_keep_an_entry_per_user(cache: Cache) {
    let calls = Calls::default();
    let c = calls.clone();
    let user_of = |headers: &HeaderMap| -> Option<String> {
        let cookie = headers.get(header::COOKIE)?.to_str().ok()?;
        cookie.split(';').find_map(|kv| kv.trim().strip_prefix("user=")).map(str::to_owned)
    };
    let app = Router::new()
        .route(
            "/me",
            get(move |headers: HeaderMap| async move {
                c.hit();
                let user = user_of(&headers).unwrap_or_default();
                ([(header::CACHE_CONTROL, "private, max-age=30")], format!("hello {user}"))
            }),
        )
        .layer(CacheLayer::new(cache).per_user(move |parts| user_of(&parts.headers)));
    let server = Server::start(app).await;
    assert_eq!(server.get_with("/me", &[("cookie", "user=alice")]).await.x_cache(), "MISS");
    let alice = server.get_with("/me", &[("cookie", "user=alice")]).await;
    assert_eq!((alice.x_cache(), alice.text()), ("HIT", "hello alice"));
    let bob = server.get_with("/me", &[("cookie", "user=bob")]).await;
    assert_eq!((bob.x_cache(), bob.text()), ("MISS", "hello bob"));
    let anonymous = server.get("/me").await;
    assert_eq!(anonymous.x_cache(), "", "no user: not cached");
    assert_eq!(calls.get(), 3);
}

async fn a_response_with_set_cookie_is_not_stored(cache: Cache) {
    let calls = Calls::default();
    let app = Router::new()
        .route("/login", counted_with(&calls, |n| ([(header::SET_COOKIE, format!("session={n}"))], "welcome")))
        .layer(CacheLayer::new(cache));
    let server = Server::start(app).await;
    let a = server.get("/login").await;
    let b = server.get("/login").await;
    assert_eq!((a.header("set-cookie"), b.header("set-cookie")), ("session=1", "session=2"));
    assert_eq!(calls.get(), 2);
}

on_every_backend!(
    credentials_bypass_the_shared_entry,
    per_user_routes_keep_an_entry_per_user,
    a_response_with_set_cookie_is_not_stored,
);
