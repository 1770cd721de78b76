//! Cached HTTP views for tower and axum: what Flask-Caching's `@cache.cached` does for a Flask
//! view, plus what its users had to bolt on by hand.
//!
//! [`CacheLayer`] is a tower `Layer` for an axum `Router`, a single route, or any tower `Service`
//! of `http::Request`s. It stores whole responses in a cachette [`Cache`](cachette_core::Cache) (any
//! backend). Applications reach it as `cachette::http`, with the `http` feature of `cachette`.
//!
//! # Table of contents
//!
//! 1. [A cached route](#a-cached-route)
//! 2. [How long a response stays fresh](#how-long-a-response-stays-fresh)
//! 3. [Stale-while-revalidate and scheduled refreshes](#stale-while-revalidate-and-scheduled-refreshes)
//! 4. [Client caching](#client-caching)
//! 5. [Keys and invalidation](#keys-and-invalidation)
//! 6. [Tags, and deleting a view](#tags-and-deleting-a-view)
//! 7. [Shared-cache safety](#shared-cache-safety)
//! 8. [What is stored](#what-is-stored)
//! 9. [Failures, stale-if-error and counters](#failures-stale-if-error-and-counters)
//! 10. [Decisions](#decisions)
//!
//! The examples run on an in-process [`SimpleCache`](https://docs.rs/cachette-simple); in an
//! application, `cachette::Cache::from_env()?` picks the backend by `CACHE_TYPE` (SimpleCache,
//! Redis, memcached, ...), and every example works the same on each.
//!
//! # A cached route
//!
//! The first request renders the response (`X-Cache: MISS`) and stores it with a strong ETag;
//! the next ones are served from the cache (`HIT`), or answered `304 Not Modified` when the
//! client's copy is current. Concurrent misses of one key call the handler once.
//!
//! ```
//! use std::sync::Arc;
//! use axum::{Router, routing::get};
//! use cachette_core::{Cache, Config};
//! use cachette_http::CacheLayer;
//! use cachette_simple::SimpleCache;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let cache = Cache::new(Arc::new(SimpleCache::new(&Config::default())?), Config::default());
//! let layer = CacheLayer::new(cache);
//! let app = Router::new().route("/page", get(|| async { "the page" })).layer(layer.clone());
//!
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let addr = listener.local_addr()?;
//! tokio::spawn(async move { axum::serve(listener, app).await });
//!
//! let client = reqwest::Client::new();
//! let first = client.get(format!("http://{addr}/page")).send().await?;
//! assert_eq!(first.headers()["x-cache"], "MISS");
//! let etag = first.headers()["etag"].clone();
//! let again = client.get(format!("http://{addr}/page")).header("if-none-match", etag).send().await?;
//! assert_eq!(again.status(), 304);
//! assert_eq!(again.headers()["x-cache"], "HIT");
//! let stats = layer.stats();
//! assert_eq!((stats.misses, stats.stored, stats.hits, stats.not_modified), (1, 1, 1, 1));
//! # Ok(()) }
//! ```
//!
//! # How long a response stays fresh
//!
//! [`CacheLayer::fresh_for`] takes a [`Freshness`]: a `Duration` or a `Ttl` (by default the
//! cache's `CACHE_DEFAULT_TIMEOUT`), [`Freshness::until_midnight`], or [`Freshness::from_fn`]
//! computed per response. A handler sets its own response's fresh period with the [`CacheTtl`]
//! extension, which wins. Time is the layer's [`Clock`] (the system's, unless a test injects one).
//!
//! ```
//! use std::{sync::Arc, time::{Duration, UNIX_EPOCH}};
//! use axum::{Extension, Router, body::Body, routing::get};
//! use cachette_core::{Cache, Config, Ttl};
//! use cachette_http::{CacheControl, CacheLayer, CacheTtl, Clock, Freshness};
//! use cachette_simple::SimpleCache;
//! use tower::ServiceExt;
//! # async fn get_cache_control(app: &Router, path: &str) -> String {
//! #     let response = app.clone().oneshot(http::Request::get(path).body(Body::empty()).unwrap()).await.unwrap();
//! #     response.headers()["cache-control"].to_str().unwrap().to_owned()
//! # }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let cache = Cache::new(Arc::new(SimpleCache::new(&Config::default())?), Config::default());
//! let evening = UNIX_EPOCH + Duration::from_secs(86_400 * 20_000 + 86_340); // 23:59:00 UTC
//! let layer = CacheLayer::new(cache)
//!     .fresh_for(Freshness::until_midnight(0))
//!     .cache_control(CacheControl::public().max_age_until_expiry())
//!     .clock(Clock::from_fn(move || evening));
//! let app = Router::new()
//!     .route("/daily", get(|| async { "today's numbers" }))
//!     .route("/ticker", get(|| async { (Extension(CacheTtl(Ttl::After(Duration::from_secs(5)))), "prices") }))
//!     .layer(layer);
//!
//! assert_eq!(get_cache_control(&app, "/daily").await, "public, max-age=60"); // until midnight
//! assert_eq!(get_cache_control(&app, "/ticker").await, "public, max-age=5"); // the handler's wins
//! # Ok(()) }
//! ```
//!
//! # Stale-while-revalidate and scheduled refreshes
//!
//! Within [`stale_while_revalidate`](CacheLayer::stale_while_revalidate) after its fresh period,
//! an entry is served at once (`X-Cache: STALE`) while one background refresh renders it again:
//! one per key however many requests arrive, and one across processes on a shared backend. A
//! failed refresh keeps the stale entry. A [`Refresher`] re-renders named routes on a schedule
//! (and once at start-up), so that their entries never go cold; a route is named by its URL, since
//! the key includes the host.
//!
//! ```
//! use std::{sync::Arc, time::Duration};
//! use axum::{Router, body::Body, routing::get};
//! use cachette_core::{Cache, Config};
//! use cachette_http::{CacheLayer, Refresher};
//! use cachette_simple::SimpleCache;
//! use tower::ServiceExt;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let cache = Cache::new(Arc::new(SimpleCache::new(&Config::default())?), Config::default());
//! let layer = CacheLayer::new(cache)
//!     .fresh_for(Duration::from_secs(10))
//!     .stale_while_revalidate(Duration::from_secs(60));
//! let app = Router::new().route("/report", get(|| async { "an expensive report" })).layer(layer.clone());
//!
//! let refresher = Refresher::new().route("https://example.com/report", Duration::from_secs(300)).spawn(app.clone());
//! while layer.stats().stored == 0 {
//!     tokio::time::sleep(Duration::from_millis(1)).await; // the first scheduled render
//! }
//! let request = http::Request::get("/report").header("host", "example.com").body(Body::empty())?;
//! let response = app.oneshot(request).await?;
//! assert_eq!(response.headers()["x-cache"], "HIT", "warmed by the refresher");
//! refresher.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! # Client caching
//!
//! A route's [`CacheControl`] policy is sent with its responses (those without a
//! `Cache-Control` of their own); [`MaxAge::UntilExpiry`] tells clients what is left of the
//! entry's fresh period. Every stored response has a strong ETag from its body's hash
//! ([`strong_etag`]: the same in every process and after restarts) and a `Last-Modified`, and
//! `If-None-Match` / `If-Modified-Since` are answered `304`. A client's hard reload
//! (`Cache-Control: no-cache`) re-renders the entry only where
//! [`allow_client_refresh`](CacheLayer::allow_client_refresh) says so.
//!
//! ```
//! use std::{sync::Arc, time::Duration};
//! use axum::{Router, body::Body, routing::get};
//! use cachette_core::{Cache, Config};
//! use cachette_http::{CacheControl, CacheLayer};
//! use cachette_simple::SimpleCache;
//! use tower::ServiceExt;
//! # async fn send(app: &Router, path: &str, headers: &[(&str, &str)]) -> http::Response<Body> {
//! #     let mut request = http::Request::get(path);
//! #     for (name, value) in headers { request = request.header(*name, *value); }
//! #     app.clone().oneshot(request.body(Body::empty()).unwrap()).await.unwrap()
//! # }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let cache = Cache::new(Arc::new(SimpleCache::new(&Config::default())?), Config::default());
//! let news = CacheLayer::new(cache.clone())
//!     .cache_control(CacheControl::public().max_age(Duration::from_secs(60)).s_maxage(Duration::from_secs(600)))
//!     .allow_client_refresh(true);
//! let account = CacheLayer::new(cache).cache_control(CacheControl::private().max_age(Duration::from_secs(60)));
//! let app = Router::new()
//!     .route("/news", get(|| async { "news" }).layer(news))
//!     .route("/account", get(|| async { "yours" }).layer(account));
//!
//! let first = send(&app, "/news", &[]).await;
//! assert_eq!(first.headers()["cache-control"], "public, max-age=60, s-maxage=600");
//! assert_eq!(send(&app, "/news", &[]).await.headers()["x-cache"], "HIT");
//! assert_eq!(send(&app, "/news", &[("cache-control", "no-cache")]).await.headers()["x-cache"], "MISS");
//! // Clients are told it is private; the layer does not store it in the shared entry either.
//! send(&app, "/account", &[]).await;
//! let private = send(&app, "/account", &[]).await;
//! assert_eq!(private.headers()["cache-control"], "private, max-age=60");
//! assert_eq!(private.headers()["x-cache"], "MISS");
//! # Ok(()) }
//! ```
//!
//! # Keys and invalidation
//!
//! A request's key is its method (`HEAD` as `GET`: a `HEAD` is answered from the `GET` entry),
//! its host, its path, its query — decoded as a form, sorted by name with a stable sort
//! (`?b=2&a=1` is `?a=1&b=2`, `?q=%41` is `?q=A`, but `?x=2&x=1` is not `?x=1&x=2`) — and the
//! values of the layer's [`vary`](CacheLayer::vary) headers; or a key of your own
//! ([`key_fn`](CacheLayer::key_fn)). A response's own `Vary` is honoured too: each variant is an
//! entry of its own (up to [`MAX_VARIANTS`] per URL), which serves only requests with the values it
//! was rendered for. [`invalidate`](CacheLayer::invalidate) forgets the entries of a URL, and
//! [`ViewCache::delete_cached`] does from anywhere that has the cache (see
//! [Tags, and deleting a view](#tags-and-deleting-a-view)).
//!
//! The host — `Host`, or the URI's authority (HTTP/2) — is normalised (see
//! [`ignore_host`](CacheLayer::ignore_host), for a service that one host only reaches): a page
//! rendered for `Host: evil.example` is never served to `good.example`, and a request that names
//! two hosts is not cached. Proxy headers (`Forwarded`, `X-Forwarded-*`, ...) can be forged by a
//! client, and a handler may build the page from them, so a request with one bypasses the cache
//! unless the layer [trusts](CacheLayer::trust_proxy_headers) it (then it is keyed) or
//! [ignores](CacheLayer::ignore_proxy_headers) it.
//!
//! ```
//! use std::sync::Arc;
//! use axum::{Router, body::Body, routing::get};
//! use cachette_core::{Cache, Config};
//! use cachette_http::{CacheLayer, X_FORWARDED_FOR, X_FORWARDED_HOST};
//! use cachette_simple::SimpleCache;
//! use tower::ServiceExt;
//! # async fn x_cache(app: &Router, path: &str, headers: &[(&str, &str)]) -> String {
//! #     let mut request = http::Request::get(path);
//! #     for (name, value) in headers { request = request.header(*name, *value); }
//! #     let response = app.clone().oneshot(request.body(Body::empty()).unwrap()).await.unwrap();
//! #     response.headers().get("x-cache").map_or("", |v| v.to_str().unwrap()).to_owned()
//! # }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let cache = Cache::new(Arc::new(SimpleCache::new(&Config::default())?), Config::default());
//! let layer = CacheLayer::new(cache)
//!     .trust_proxy_headers([X_FORWARDED_HOST]) // set by the proxy in front: keyed
//!     .ignore_proxy_headers([X_FORWARDED_FOR]); // appended by it, read by no handler
//! let app = Router::new().route("/search", get(|| async { "results" })).layer(layer.clone());
//!
//! let host = ("host", "example.com");
//! assert_eq!(x_cache(&app, "/search?b=2&a=1", &[host]).await, "MISS");
//! assert_eq!(x_cache(&app, "/search?a=1&b=2", &[host]).await, "HIT"); // the same key
//! assert_eq!(x_cache(&app, "/search?a=%31&b=2", &[("host", "Example.COM.")]).await, "HIT"); // still
//! assert_eq!(x_cache(&app, "/search?a=1&b=2", &[("host", "evil.example")]).await, "MISS"); // its own
//! assert_eq!(x_cache(&app, "/search?a=1&b=2", &[host, ("x-forwarded-host", "a.example")]).await, "MISS");
//! assert_eq!(x_cache(&app, "/search?a=1&b=2", &[host, ("x-forwarded-for", "10.0.0.1")]).await, "HIT");
//! assert_eq!(x_cache(&app, "/search?a=1&b=2", &[host, ("x-real-ip", "10.0.0.1")]).await, ""); // bypassed
//! assert!(layer.invalidate("https://example.com/search?a=1&b=2").await?); // the data behind it changed
//! assert_eq!(x_cache(&app, "/search?a=1&b=2", &[host]).await, "MISS");
//! # Ok(()) }
//! ```
//!
//! # Tags, and deleting a view
//!
//! A handler tags its response's entry with the [`CacheTags`] extension, or with a `Cache-Tag`
//! (comma-separated, as Cloudflare reads it) or `Surrogate-Key` (space-separated, as Fastly does)
//! header, which the layer reads and strips unless told to
//! [keep](CacheLayer::keep_tag_headers) it for a CDN in front; a route tags all its entries with
//! [`tags`](CacheLayer::tags). [`Cache::invalidate_tag`](cachette_core::Cache::invalidate_tag) then
//! makes every entry with the tag a miss, on every layer over the cache, in one backend write
//! whatever the number of entries: each tag has a version, each entry records the versions of its
//! tags, and a hit checks them in the round trip that reads the entry (a handler's own tags, which
//! the lookup cannot know, in a second one).
//!
//! An invalidation wins over a render it overlaps: the versions an entry records are those its
//! request's lookup read before the render, so an invalidation during the render makes the entry
//! a miss. A handler's own tags are only known once it has answered; their versions are read when
//! the entry is stored, and an entry whose handler tag was invalidated after its render began is
//! not stored, nor handed to the requests that waited for it (they look again). As versions drawn
//! by different processes are compared by their clocks, "after" allows a second of disagreement
//! between them: a render that begins within a second of an invalidation of one of its handler's
//! tags is served but not stored, and the next request renders again.
//!
//! Every entry also carries the tags of its view — its path's, and its URL's when it has a query —
//! so that [`ViewCache::delete_cached`] deletes every entry of a view: each `Vary` variant, each
//! user's, the `HEAD` and the `GET`, without knowing their keys, also in one write. A URL without
//! a query deletes every query of the path.
//!
//! ```
//! use std::sync::Arc;
//! use axum::{Extension, Router, body::Body, routing::get};
//! use cachette_core::{Cache, Config};
//! use cachette_http::{CacheLayer, CacheTags, ViewCache};
//! use cachette_simple::SimpleCache;
//! use tower::ServiceExt;
//! # async fn x_cache(app: &Router, path: &str) -> String {
//! #     let request = http::Request::get(path).header("host", "example.com").body(Body::empty()).unwrap();
//! #     let response = app.clone().oneshot(request).await.unwrap();
//! #     assert!(response.headers().get("cache-tag").is_none(), "stripped");
//! #     response.headers()["x-cache"].to_str().unwrap().to_owned()
//! # }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let cache = Cache::new(Arc::new(SimpleCache::new(&Config::default())?), Config::default());
//! let app = Router::new()
//!     .route("/users/42", get(|| async { (Extension(CacheTags::new(["user:42"])), "Ada") }))
//!     .route("/teams/7", get(|| async { ([("cache-tag", "team:7, user:42")], "Ada, Grace") }))
//!     .route("/about", get(|| async { "about us" }))
//!     .layer(CacheLayer::new(cache.clone()));
//! for path in ["/users/42", "/teams/7", "/about"] {
//!     x_cache(&app, path).await;
//! }
//! # tokio::time::sleep(std::time::Duration::from_millis(50)).await; // stored behind the responses
//! cache.invalidate_tag("user:42").await?; // Ada changed her name
//! assert_eq!(x_cache(&app, "/users/42").await, "MISS");
//! assert_eq!(x_cache(&app, "/teams/7").await, "MISS");
//! assert_eq!(x_cache(&app, "/about").await, "HIT");
//! cache.delete_cached("https://example.com/about").await?; // the page was edited
//! assert_eq!(x_cache(&app, "/about").await, "MISS");
//! # Ok(()) }
//! ```
//!
//! # Shared-cache safety
//!
//! One entry serves every client, so a request with `Authorization` or `Cookie` is neither served
//! from nor stored in it, and a response with `Set-Cookie`, `no-store` or `private` is not
//! stored. A route that caches [`per_user`](CacheLayer::per_user) names the user of each request;
//! the user becomes part of the key, and such entries may be `private`.
//!
//! ```
//! use std::sync::Arc;
//! use axum::{Router, body::Body, routing::get};
//! use cachette_core::{Cache, Config};
//! use cachette_http::CacheLayer;
//! use cachette_simple::SimpleCache;
//! use http::header::COOKIE;
//! use tower::ServiceExt;
//! # async fn x_cache(app: &Router, cookie: &str) -> String {
//! #     let request = http::Request::get("/me").header(COOKIE, cookie).body(Body::empty()).unwrap();
//! #     let response = app.clone().oneshot(request).await.unwrap();
//! #     response.headers().get("x-cache").map_or("", |v| v.to_str().unwrap()).to_owned()
//! # }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let cache = Cache::new(Arc::new(SimpleCache::new(&Config::default())?), Config::default());
//! let per_user = CacheLayer::new(cache).per_user(|request| {
//!     let cookie = request.headers.get(COOKIE)?.to_str().ok()?;
//!     cookie.split(';').find_map(|kv| kv.trim().strip_prefix("user=")).map(str::to_owned)
//! });
//! let app = Router::new().route("/me", get(|| async { "your page" })).layer(per_user);
//!
//! assert_eq!(x_cache(&app, "user=alice").await, "MISS");
//! assert_eq!(x_cache(&app, "user=alice").await, "HIT");
//! assert_eq!(x_cache(&app, "user=bob").await, "MISS"); // an entry of his own
//! assert_eq!(x_cache(&app, "theme=dark").await, ""); // no user: not cached
//! # Ok(()) }
//! ```
//!
//! # What is stored
//!
//! By default a `200` to a `GET` or `HEAD`, without `Set-Cookie`, not `no-store`, not `private`
//! (outside per-user routes), not `Vary: *`, and of at most [`DEFAULT_MAX_BODY_SIZE`] bytes
//! ([`max_body_size`](CacheLayer::max_body_size)): larger bodies are streamed to the client and
//! not stored. A streamed body is stored when it ends. [`unless`](CacheLayer::unless) skips the
//! cache for some requests; [`response_filter`](CacheLayer::response_filter) chooses the
//! statuses that may be stored, and [`body_filter`](CacheLayer::body_filter) sees the whole body
//! too; [`forced_update`](CacheLayer::forced_update) renders and stores again for some requests
//! whatever the cache holds; [`is_stale`](CacheLayer::is_stale) turns stored responses into
//! misses. (Flask-Caching's `cache_none` has no counterpart: a view always answers a response.)
//!
//! ```
//! use std::sync::Arc;
//! use axum::{Router, body::Body, routing::get};
//! use cachette_core::{Cache, Config};
//! use cachette_http::CacheLayer;
//! use cachette_simple::SimpleCache;
//! use http::StatusCode;
//! use tower::ServiceExt;
//! # async fn x_cache(app: &Router, path: &str) -> String {
//! #     let response = app.clone().oneshot(http::Request::get(path).body(Body::empty()).unwrap()).await.unwrap();
//! #     response.headers().get("x-cache").map_or("", |v| v.to_str().unwrap()).to_owned()
//! # }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let cache = Cache::new(Arc::new(SimpleCache::new(&Config::default())?), Config::default());
//! let layer = CacheLayer::new(cache)
//!     .unless(|request| request.uri.query().is_some_and(|q| q.contains("preview")))
//!     .response_filter(|response| response.status == StatusCode::OK || response.status == StatusCode::NOT_FOUND);
//! let app = Router::new()
//!     .route("/page", get(|| async { "page" }))
//!     .fallback(|| async { (StatusCode::NOT_FOUND, "no such page") })
//!     .layer(layer);
//!
//! assert_eq!(x_cache(&app, "/page?preview=1").await, ""); // skipped
//! x_cache(&app, "/gone").await;
//! assert_eq!(x_cache(&app, "/gone").await, "HIT"); // 404s are stored too, here
//! # Ok(()) }
//! ```
//!
//! # Failures, stale-if-error and counters
//!
//! When the cache or the handler fails, a cached route does no worse than it would uncached:
//!
//! * **The backend.** A failed lookup is logged, counted once, and the request rendered (not
//!   stored). Backend calls have the cache's deadline and circuit breaker
//!   (`cachette_core::fail_safe`): while it is open, a lookup fails at once (logged at debug).
//! * **One round trip.** A miss makes one backend call before the handler runs (two on a shared
//!   backend: the lookup, and the `add` of the key's lease); the entry is answered and handed to
//!   the waiting requests first, and stored behind the response.
//! * **The handler.** A panic is caught: the request and those waiting for its render are answered
//!   `500` (`no-store`) at once, logged at error, and the next request renders afresh. An error is
//!   returned to its caller, a `5xx` is not stored; the waiters then render their own.
//! * **Stale-if-error** (RFC 5861): within [`stale_if_error`](CacheLayer::stale_if_error) past its
//!   fresh period, an entry is served (`STALE`) instead of a failed render (error, `5xx`, panic).
//!
//! [`CacheLayer::stats`] reads the counters of a layer and every clone of it ([`HttpCacheStats`]:
//! hits, stale hits, misses, bypassed requests, stored responses, `304`s, background refreshes and
//! their failures, backend errors — those `CACHE_IGNORE_ERRORS` absorbs too — stale-if-error
//! answers, panics; [`hit_ratio`](HttpCacheStats::hit_ratio)). The example is
//! [`stale_if_error`](CacheLayer::stale_if_error)'s.
//!
//! Every response from the cache carries `Age` (RFC 9111) and each cached route's response a
//! `Cache-Status` (RFC 9211: `cachette; hit; ttl=7`, `cachette; fwd=stale; ttl=-2`,
//! `cachette; fwd=miss; stored`, ...: see [`CACHE_STATUS`]) beside `X-Cache`. With the `metrics`
//! cargo feature the layer reports `cachette_http_responses_total`, `_stored_total`,
//! `_errors_total` and `_render_seconds`, labelled by its [`route_name`](CacheLayer::route_name);
//! hooks registered with [`Cache::on_event`](cachette_core::Cache::on_event) see each view's hit,
//! miss, store and invalidation; `RUST_LOG=cachette=debug` logs each answer with its outcome (and
//! the cache's own reasons for a miss), keys cut as [`ShortKey`](cachette_core::observe::ShortKey)
//! cuts them.
//!
//!
//! # Decisions
//!
//! Where the design left a choice, the layer does what a user of Flask-Caching or of an HTTP cache
//! would expect:
//!
//! * **Freshness, not timeout.** Flask-Caching calls the fresh period a timeout; here a timeout is
//!   a deadline (tower's `Timeout`, `CacheError::Timeout`), so the setting is [`Freshness`].
//! * **`HEAD`** is answered from the `GET` entry. A `HEAD` miss is rendered as a `HEAD` (axum picks
//!   the handler by method before the layer runs) and answered without a body; it becomes the `GET`
//!   entry only if it carries its content, of its `Content-Length` — what a `GET` handler answers
//!   for a route with no `HEAD` handler. A `HEAD` handler's answer (no content) never serves a `GET`.
//! * **Hosts.** A default port is dropped only for a scheme the request states (over HTTP/1 the
//!   layer cannot tell whether TLS ended below it), and that scheme is keyed: HTTP/2 and HTTP/1
//!   requests have entries of their own, and [`invalidate`](CacheLayer::invalidate) forgets both.
//! * **Untrusted proxy headers bypass the cache** rather than being keyed: the layer cannot know
//!   how a handler reads a forged value, and keying each one would fill the cache with them.
//! * **Queries** that do not decode as UTF-8 (or hold U+FFFD) are not cached: the decoder's U+FFFD
//!   would make different queries one.
//! * **A custom key** ([`key_fn`](CacheLayer::key_fn)) replaces the whole default key, host and
//!   trusted proxy headers included; untrusted proxy headers and credentials still bypass it.
//! * **Renders are unconditional.** `If-None-Match`, `If-Modified-Since`, `If-Match`,
//!   `If-Unmodified-Since`, `If-Range` and `Range` are removed from the request the handler
//!   renders an entry from, since the entry serves every client; the layer answers conditions.
//! * **Validators.** The handler's `ETag` and `Last-Modified` win; otherwise the ETag is the first
//!   128 bits of the body's BLAKE3 hash and `Last-Modified` the time of the render. A streamed
//!   miss is sent before its hash is known, so only the stored entry has the computed ETag.
//! * **Backend expiry** is the fresh period plus the stale margin, as a duration from the write
//!   (the backend's clock), whatever the layer's clock says; the entry keeps its own deadlines by
//!   the layer's clock.
//! * **Hard reloads** are off by default, so that clients cannot empty a shared cache at will.
//! * **One render across processes.** On a shared backend (Redis family, memcached, FileSystem)
//!   the request that leads a cold miss in its process takes the key's lease — cachette-core's,
//!   the one `get_or_set` uses ([`Cache::lease`](cachette_core::Cache::lease)) — and the other
//!   processes wait for its entry (polling, at most `CACHE_OPTIONS.lease`, 5 s, per holder), then
//!   read it as any request does: an entry rendered before an invalidation their lookup saw is not
//!   served to them, and they render. A render that outlives its lease is not kept (a delete
//!   during it cannot be ruled out; a warning names `CACHE_OPTIONS.lease`). Forced renders,
//!   background refreshes and requests whose lookup failed take no lease.
//! * **Early refresh** ([`early_refresh`](CacheLayer::early_refresh)) draws on hits of fresh
//!   entries only, weighted by the render time the entry records (from the call of the handler
//!   to the end of its body).
//! * **A background refresh** holds a lock in the shared cache (an atomic `add`, kept at most a
//!   minute in case its process dies) so that one process per key renders it.
//! * **A second lookup** before a render only if the layer stored an entry since the request's.
//! * **Requests that come while an entry is stored** are handed it (`HIT`); one that cannot use it
//!   (forced, other `Vary` values, no longer fresh) waits for the write, then renders.
//!   [`invalidate`](CacheLayer::invalidate) waits for it too, so that it does not come back.
//! * **A request whose lookup failed** stores nothing: a stalled backend would get a write each.
//! * **Panics** of the inner service's call and future are caught (a streamed body's are the
//!   server's). Waiters answer `500` too rather than render in turn (50 took 15 s that way).
//! * **Tags are read before the render.** An entry records the versions of its view's and route's
//!   tags that its request's lookup read, not those current when its render ends: a tag
//!   invalidated during the render makes the new entry a miss at once. A handler's own tags are
//!   known only from its response, and read when it is stored. A tag's version is a small key
//!   kept without expiry (one per path and per URL with a query that was ever cached); one that
//!   is evicted makes the entries recording it misses, never hits.
//! * **A view's tags name its host without the scheme or the ports 80 and 443**, so that one
//!   `delete_cached` reaches HTTP/1 and HTTP/2 entries alike; entries of layers that do not key
//!   the host (`ignore_host`, `key_fn`) carry host-less ones, which a URL with a host reaches
//!   too (so such a deletion is two version writes in one `set_many`).
//! * **`invalidate`** is kept: it deletes the URL's entry as before (returning whether there was
//!   one) and then does what `delete_cached` does, having waited for this layer's store of an
//!   entry just rendered for the URL. `delete_cached` cannot see a layer's stores in flight.
//! * **`Vary` variants** are keyed by a 128-bit BLAKE3 digest of the request's values of the
//!   response's `Vary` headers; the URL's key holds a marker naming those headers and listing the
//!   variants stored, up to [`MAX_VARIANTS`] (16). Past it a new variant is rendered for each
//!   request and not stored (counted in [`HttpCacheStats::over_variant_limit`]), rather than
//!   evicting one. A forced render (a [`Revalidate`] or a hard reload) does not read the marker,
//!   and writes one listing its variant alone: the count starts again.

// The modules, and what each uses (its items, or the methods it adds to `Call`); every module
// uses only modules below it, so there is no cycle. `Call` is defined in `call`; each request
// path adds its methods in its own module.
//
//   layer ────────────────> service shared flight key proxy stats freshness clock policy
//   refresh::scheduler ───> service (Revalidate) key
//   service ──────────────> hit miss refresh::background call future body shared flight proxy stats policy
//   refresh::background ──> store failure call body shared stats
//   miss ─────────────────> failure hit store lease call flight entry body stats
//   failure ──────────────> call flight entry body stats
//   store ────────────────> lease call flight entry shared policy stats
//   lease ────────────────> hit call entry
//   hit ──────────────────> call entry conditional body stats
//   call ─────────────────> shared freshness body stats
//   shared ───────────────> flight key proxy policy clock freshness stats
//   future ───────────────> body
//   flight ───────────────> entry
//   entry ────────────────> conditional
//   key ──────────────────> key::host key::query
//   body key::host key::query proxy policy conditional clock freshness stats: none

mod body;
mod call;
mod clock;
mod conditional;
mod entry;
mod failure;
mod flight;
mod freshness;
mod future;
mod hit;
mod invalidate;
mod key;
mod layer;
mod lease;
mod memo;
mod miss;
mod observe;
mod options;
mod policy;
mod prepared;
mod proxy;
mod refresh;
mod service;
mod shared;
mod stats;
mod status;
mod store;
mod tags;
mod vary;

pub use body::CacheBody;
pub use call::X_CACHE;
pub use clock::Clock;
pub use conditional::strong_etag;
pub use freshness::{CacheTtl, Freshness, FreshnessFn, next_midnight, next_midnight_in};
pub use future::ResponseFuture;
pub use invalidate::ViewCache;
pub use key::{KeyFn, UserFn};
pub use layer::{CacheLayer, DEFAULT_MAX_BODY_SIZE};
pub use observe::{ERRORS, RENDER_SECONDS, RESPONSES, STORED};
pub use options::{BodyFilterFn, ForcedUpdateFn, IsStaleFn};
pub use policy::{CacheControl, MaxAge};
pub use proxy::{
    X_FORWARDED_FOR, X_FORWARDED_HOST, X_FORWARDED_PORT, X_FORWARDED_PREFIX, X_FORWARDED_PROTO, X_REAL_IP,
};
pub use refresh::{Refresher, RefresherHandle};
pub use service::{CacheService, Revalidate};
pub use shared::{ResponseFilterFn, UnlessFn};
pub use stats::HttpCacheStats;
pub use status::CACHE_STATUS;
pub use tags::{CACHE_TAG, CacheTags, SURROGATE_KEY};
pub use vary::MAX_VARIANTS;

/// The stored-entry decoder for the fuzz targets (`fuzz/`) and property tests: not API, hidden,
/// and may change in any release.
#[doc(hidden)]
pub mod __fuzz {
    /// Decodes `stored` as an entry and uses it as a lookup and a hit do (the `Vary` match,
    /// staleness, the headers and the validators); `Err` if it does not decode.
    pub fn serve_stored(stored: &bytes::Bytes) -> cachette_core::Result<()> {
        let prepared = crate::memo::prepared("fuzz", stored)?;
        let entry = &prepared.entry;
        let now = std::time::SystemTime::now();
        let _ = (entry.matches_vary(&http::HeaderMap::new()), entry.staleness(now), entry.remaining_fresh(now));
        let _ = (prepared.response_headers(now, crate::status::Served::Hit, None), entry.last_modified());
        Ok(())
    }
}
