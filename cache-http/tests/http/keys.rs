//! Which requests share an entry: the key, `HEAD` as `GET`, `Vary`, a custom key, the host and
//! proxy headers, invalidation. (What an attacker tries is in `poisoning`.)

use axum::Router;
use axum::routing::get;
use cachette_core::Cache;
use cachette_http::{CacheLayer, X_FORWARDED_FOR, X_FORWARDED_HOST};
use http::{HeaderMap, HeaderName, header};

use crate::support::{Calls, Reply, Server, counted};

async fn the_query_order_does_not_change_the_key(cache: Cache) {
    let calls = Calls::default();
    let app = Router::new().route("/search", counted(&calls, "results")).layer(CacheLayer::new(cache));
    let server = Server::start(app).await;
    assert_eq!(server.get("/search?b=2&a=1").await.x_cache(), "MISS");
    assert_eq!(server.get("/search?a=1&b=2").await.x_cache(), "HIT");
    assert_eq!(server.get("/search?a=1&b=3").await.x_cache(), "MISS");
    assert_eq!(calls.get(), 2);
}

async fn head_is_served_from_the_get_entry(cache: Cache) {
    let calls = Calls::default();
    let app = Router::new()
        .route("/a", counted(&calls, "twelve bytes"))
        .route("/b", counted(&calls, "twelve bytes"))
        .layer(CacheLayer::new(cache));
    let server = Server::start(app).await;
    server.get("/a").await;
    let head = Reply::of(server.request(reqwest::Method::HEAD, "/a")).await;
    assert_eq!((head.status, head.x_cache(), head.header("content-length")), (200, "HIT", "12"));
    assert!(head.body.is_empty());
    // A HEAD miss renders (and stores) the GET response.
    let head = Reply::of(server.request(reqwest::Method::HEAD, "/b")).await;
    assert_eq!((head.status, head.x_cache()), (200, "MISS"));
    let get = server.get("/b").await;
    assert_eq!((get.x_cache(), get.text()), ("HIT", "twelve bytes"));
    assert_eq!(calls.get(), 2);
}

async fn a_response_vary_is_honoured(cache: Cache) {
    let calls = Calls::default();
    let app = Router::new()
        .route("/greeting", greeting(&calls))
        .route("/star", get(|| async { ([(header::VARY, "*")], "never stored") }))
        .layer(CacheLayer::new(cache));
    let server = Server::start(app).await;
    assert_eq!(server.get_with("/greeting", &[("accept-language", "fr")]).await.text(), "bonjour");
    let fr = server.get_with("/greeting", &[("accept-language", "fr")]).await;
    assert_eq!((fr.x_cache(), fr.text()), ("HIT", "bonjour"));
    let en = server.get_with("/greeting", &[("accept-language", "en")]).await;
    assert_eq!((en.x_cache(), en.text()), ("MISS", "hello"), "a variant is never served to another Accept-Language");
    assert_eq!(calls.get(), 2);
    server.get("/star").await;
    assert_eq!(server.get("/star").await.x_cache(), "MISS", "Vary: * is never stored");
}

async fn the_layer_vary_headers_give_each_value_its_entry(cache: Cache) {
    let calls = Calls::default();
    let app = Router::new()
        .route("/greeting", greeting(&calls))
        .layer(CacheLayer::new(cache).vary([HeaderName::from_static("accept-language")]));
    let server = Server::start(app).await;
    for _ in 0..2 {
        server.get_with("/greeting", &[("accept-language", "fr")]).await;
        server.get_with("/greeting", &[("accept-language", "en")]).await;
    }
    let fr = server.get_with("/greeting", &[("accept-language", "fr")]).await;
    assert_eq!((fr.x_cache(), fr.text()), ("HIT", "bonjour"));
    assert_eq!(calls.get(), 2, "one entry per language");
}

async fn a_custom_key_is_used_and_invalidate_forgets_it(cache: Cache) {
    let calls = Calls::default();
    let layer = CacheLayer::new(cache).key_fn(|parts| parts.uri.path().to_owned());
    let app = Router::new().route("/k", counted(&calls, "k")).layer(layer.clone());
    let server = Server::start(app).await;
    server.get("/k?utm_source=a").await;
    assert_eq!(server.get("/k?utm_source=b").await.x_cache(), "HIT", "the custom key ignores the query");
    assert!(layer.invalidate("/k").await.unwrap());
    assert_eq!(server.get("/k").await.x_cache(), "MISS");
    assert_eq!(calls.get(), 2);
}

async fn trusted_proxy_headers_are_part_of_the_key_and_ignored_ones_are_not(cache: Cache) {
    let calls = Calls::default();
    let c = calls.clone();
    let forwarded = get(move |headers: HeaderMap| async move {
        c.hit();
        headers.get("x-forwarded-host").map_or("", |v| v.to_str().unwrap()).to_owned()
    });
    let layer = CacheLayer::new(cache).trust_proxy_headers([X_FORWARDED_HOST]).ignore_proxy_headers([X_FORWARDED_FOR]);
    let app = Router::new().route("/page", forwarded).layer(layer);
    let server = Server::start(app).await;
    let a = server.get_with("/page", &[("x-forwarded-host", "a.example")]).await;
    assert_eq!((a.x_cache(), a.text()), ("MISS", "a.example"));
    let b = server.get_with("/page", &[("x-forwarded-host", "b.example")]).await;
    assert_eq!((b.x_cache(), b.text()), ("MISS", "b.example"), "each value its own entry");
    let a = server.get_with("/page", &[("x-forwarded-host", "a.example"), ("x-forwarded-for", "10.0.0.1")]).await;
    assert_eq!((a.x_cache(), a.text()), ("HIT", "a.example"), "an ignored proxy header is not keyed");
    let other = server.get_with("/page", &[("x-forwarded-host", "a.example"), ("x-forwarded-proto", "https")]).await;
    assert_eq!(other.x_cache(), "", "a proxy header neither trusted nor ignored bypasses the cache");
    assert_eq!(calls.get(), 3);
}

async fn ignore_host_shares_the_entries_of_every_host(cache: Cache) {
    let calls = Calls::default();
    let app = Router::new().route("/page", counted(&calls, "one site")).layer(CacheLayer::new(cache).ignore_host());
    let server = Server::start(app).await;
    assert_eq!(server.get_with("/page", &[("host", "a.example")]).await.x_cache(), "MISS");
    assert_eq!(server.get_with("/page", &[("host", "b.example")]).await.x_cache(), "HIT");
    assert_eq!(calls.get(), 1);
}

async fn invalidate_with_a_url_forgets_the_entry_of_that_host(cache: Cache) {
    let calls = Calls::default();
    let layer = CacheLayer::new(cache);
    let app = Router::new().route("/page", counted(&calls, "page")).layer(layer.clone());
    let server = Server::start(app).await;
    let host = [("host", "good.example")];
    server.get_with("/page?a=1", &host).await;
    assert!(!layer.invalidate("http://other.example/page?a=1").await.unwrap(), "another host's entry");
    assert!(!layer.invalidate("/page?a=1").await.unwrap(), "the entry of requests without a host");
    assert_eq!(server.get_with("/page?a=1", &host).await.x_cache(), "HIT");
    assert!(layer.invalidate("https://GOOD.example/page?a=%31").await.unwrap());
    assert_eq!(server.get_with("/page?a=1", &host).await.x_cache(), "MISS");
    assert_eq!(calls.get(), 2);
}

/// A route that greets in French or English by `Accept-Language`, and says it `Vary`s on it.
fn greeting(calls: &Calls) -> axum::routing::MethodRouter {
    let calls = calls.clone();
    get(move |headers: HeaderMap| async move {
        calls.hit();
        let fr = headers.get("accept-language").is_some_and(|v| v == "fr");
        ([(header::VARY, "Accept-Language")], if fr { "bonjour" } else { "hello" })
    })
}

on_every_backend!(
    the_query_order_does_not_change_the_key,
    head_is_served_from_the_get_entry,
    a_response_vary_is_honoured,
    the_layer_vary_headers_give_each_value_its_entry,
    a_custom_key_is_used_and_invalidate_forgets_it,
    trusted_proxy_headers_are_part_of_the_key_and_ignored_ones_are_not,
    ignore_host_shares_the_entries_of_every_host,
    invalidate_with_a_url_forgets_the_entry_of_that_host,
);
