//! ETag, Last-Modified and `304 Not Modified`.

use std::time::Duration;

use axum::Router;
use cachette_core::Cache;
use cachette_http::{CacheLayer, strong_etag};

use crate::support::{Calls, Server, counted};

async fn a_matching_etag_is_answered_304(cache: Cache) {
    let calls = Calls::default();
    let app = Router::new().route("/page", counted(&calls, "the page")).layer(CacheLayer::new(cache));
    let server = Server::start(app).await;

    let first = server.get("/page").await;
    assert_eq!((first.status, first.x_cache(), first.text()), (200, "MISS", "the page"));
    let etag = first.header("etag").to_owned();
    assert_eq!(etag, strong_etag(b"the page"), "the ETag is the body's hash: the same in every process");
    assert!(!first.header("last-modified").is_empty());

    let revalidated = server.get_with("/page", &[("if-none-match", &etag)]).await;
    assert_eq!((revalidated.status, revalidated.x_cache()), (304, "HIT"));
    assert!(revalidated.body.is_empty());
    assert_eq!(revalidated.header("etag"), etag);
    let weak = server.get_with("/page", &[("if-none-match", &format!("W/{etag}"))]).await;
    assert_eq!(weak.status, 304, "If-None-Match uses the weak comparison");
    let listed = server.get_with("/page", &[("if-none-match", &format!("\"other\", {etag}"))]).await;
    assert_eq!(listed.status, 304, "a list matches if any member does");
    let other = server.get_with("/page", &[("if-none-match", "\"other\"")]).await;
    assert_eq!((other.status, other.x_cache(), other.text()), (200, "HIT", "the page"));
    assert_eq!(calls.get(), 1);
}

async fn an_unchanged_entry_is_answered_304_to_if_modified_since(cache: Cache) {
    let calls = Calls::default();
    let app = Router::new().route("/page", counted(&calls, "dated")).layer(CacheLayer::new(cache));
    let server = Server::start(app).await;
    let first = server.get("/page").await;
    let modified = first.header("last-modified").to_owned();
    let same = server.get_with("/page", &[("if-modified-since", &modified)]).await;
    assert_eq!((same.status, same.x_cache()), (304, "HIT"));
    let earlier = httpdate::fmt_http_date(httpdate::parse_http_date(&modified).unwrap() - Duration::from_secs(60));
    let older = server.get_with("/page", &[("if-modified-since", &earlier)]).await;
    assert_eq!((older.status, older.text()), (200, "dated"));
    let mismatched = server.get_with("/page", &[("if-none-match", "\"x\""), ("if-modified-since", &modified)]).await;
    assert_eq!(mismatched.status, 200, "If-None-Match wins over If-Modified-Since");
    assert_eq!(calls.get(), 1);
}

on_every_backend!(a_matching_etag_is_answered_304, an_unchanged_entry_is_answered_304_to_if_modified_since,);
