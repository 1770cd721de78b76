//! Requests that must not share an entry, tried as an attacker would: another `Host`, proxy
//! headers, repeated query parameters, a route's own `HEAD` handler.

use axum::Router;
use axum::routing::get;
use cachette_core::Cache;
use cachette_http::CacheLayer;
use http::{HeaderMap, StatusCode, header};

use crate::support::{Calls, Reply, Server};

/// A page with absolute links, built from the request's host as frameworks do: the
/// `X-Forwarded-Host` if there is one, else `Host`.
fn links(calls: &Calls) -> axum::routing::MethodRouter {
    let calls = calls.clone();
    get(move |headers: HeaderMap| async move {
        calls.hit();
        let host = headers.get("x-forwarded-host").or(headers.get(header::HOST));
        format!("<a href=\"http://{}/login\">", host.map_or("", |v| v.to_str().unwrap()))
    })
}

const GOOD: &str = "<a href=\"http://good.example/login\">";
const EVIL: &str = "<a href=\"http://evil.example/login\">";

async fn another_host_is_never_served_this_hosts_page(cache: Cache) {
    let calls = Calls::default();
    let app = Router::new().route("/", links(&calls)).layer(CacheLayer::new(cache));
    let server = Server::start(app).await;
    let good = server.get_with("/", &[("host", "good.example")]).await;
    assert_eq!((good.x_cache(), good.text()), ("MISS", GOOD));
    let evil = server.get_with("/", &[("host", "evil.example")]).await;
    assert_eq!((evil.x_cache(), evil.text()), ("MISS", EVIL), "another host gets its own entry");
    let same = server.get_with("/", &[("host", "GOOD.Example.")]).await;
    assert_eq!((same.x_cache(), same.text()), ("HIT", GOOD), "the host is keyed lower-case, without a trailing dot");
    assert_eq!(calls.get(), 2);
}

async fn a_host_header_that_disagrees_with_the_request_target_bypasses_the_cache(cache: Cache) {
    let calls = Calls::default();
    let app = Router::new().route("/", links(&calls)).layer(CacheLayer::new(cache));
    let server = Server::start(app).await;
    // Through a proxy, reqwest sends the absolute form: `GET http://good.example/ HTTP/1.1`.
    let proxy = reqwest::Proxy::http(&server.base).unwrap();
    let through = reqwest::Client::builder().proxy(proxy).build().unwrap();
    let good = Reply::of(through.get("http://good.example/")).await;
    assert_eq!((good.x_cache(), good.text()), ("MISS", GOOD));
    assert_eq!(Reply::of(through.get("http://good.example/")).await.x_cache(), "HIT", "keyed by the URI's authority");
    let evil = Reply::of(through.get("http://good.example/").header("host", "evil.example")).await;
    assert_eq!((evil.x_cache(), evil.text()), ("", EVIL), "two hosts in one request: not cached");
    assert_eq!(server.get_with("/", &[("host", "good.example")]).await.text(), GOOD);
}

async fn an_untrusted_proxy_header_bypasses_the_cache(cache: Cache) {
    let calls = Calls::default();
    let layer = CacheLayer::new(cache);
    let app = Router::new().route("/", links(&calls)).layer(layer.clone());
    let server = Server::start(app).await;
    let host = ("host", "good.example");
    for proxy_header in [("x-forwarded-host", "evil.example"), ("forwarded", "host=evil.example")] {
        let poisoned = server.get_with("/", &[host, proxy_header]).await;
        assert_eq!(poisoned.x_cache(), "", "{proxy_header:?} is not trusted: not served from or stored in the entry");
    }
    let good = server.get_with("/", &[host]).await;
    assert_eq!((good.x_cache(), good.text()), ("MISS", GOOD));
    assert_eq!(server.get_with("/", &[host]).await.x_cache(), "HIT");
    assert_eq!(layer.stats().bypassed, 2);
}

async fn repeated_query_parameters_keep_their_order_and_escapes_are_decoded(cache: Cache) {
    let calls = Calls::default();
    let c = calls.clone();
    let echo = get(move |uri: http::Uri| async move {
        c.hit();
        uri.query().unwrap_or_default().to_owned()
    });
    let app = Router::new().route("/q", echo).layer(CacheLayer::new(cache));
    let server = Server::start(app).await;
    assert_eq!(server.get("/q?x=1&x=2").await.text(), "x=1&x=2");
    let reversed = server.get("/q?x=2&x=1").await;
    assert_eq!((reversed.x_cache(), reversed.text()), ("MISS", "x=2&x=1"), "repeated names are not sorted");
    assert_eq!(server.get("/q?x=1&b=0&x=2").await.x_cache(), "MISS");
    assert_eq!(server.get("/q?b=0&x=1&x=2").await.x_cache(), "HIT", "a stable sort by name");
    assert_eq!(server.get("/q?a=%41+b").await.x_cache(), "MISS");
    assert_eq!(server.get("/q?a=A%20b").await.x_cache(), "HIT", "escapes and + are decoded before comparing");
    assert_eq!(calls.get(), 4);
}

async fn a_head_handler_never_answers_a_get(cache: Cache) {
    let calls = Calls::default();
    let c = calls.clone();
    let route = get(move || async move {
        c.hit();
        "the page"
    })
    .head(|| async { ([(header::CONTENT_LENGTH, "8")], StatusCode::OK) });
    let app = Router::new().route("/page", route).layer(CacheLayer::new(cache));
    let server = Server::start(app).await;
    let head = Reply::of(server.request(reqwest::Method::HEAD, "/page")).await;
    let get = server.get("/page").await;
    assert_eq!((get.status, get.text()), (200, "the page"), "the HEAD handler's answer is not the GET entry");
    assert_eq!((head.status, head.x_cache(), head.header("content-length")), (200, "MISS", "8"), "its own answer");
    assert_eq!(server.get("/page").await.x_cache(), "HIT");
    let head = Reply::of(server.request(reqwest::Method::HEAD, "/page")).await;
    assert_eq!((head.x_cache(), head.header("content-length")), ("HIT", "8"), "a HEAD is answered from the GET entry");
    assert_eq!(calls.get(), 1);
}

on_every_backend!(
    another_host_is_never_served_this_hosts_page,
    a_host_header_that_disagrees_with_the_request_target_bypasses_the_cache,
    an_untrusted_proxy_header_bypasses_the_cache,
    repeated_query_parameters_keep_their_order_and_escapes_are_decoded,
    a_head_handler_never_answers_a_get,
);
