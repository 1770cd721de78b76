//! cachette-http over real HTTP: axum bound to 127.0.0.1, reqwest as the client. Every case runs on
//! SimpleCache, on RedisCache (a real redis-server from the harness) and on MemcachedCache (a real
//! memcached): the layer behaves the same on each backend.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant, UNIX_EPOCH};

use axum::body::Body;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Extension, Router};
use bytes::Bytes;
use cachette_core::{Cache, Ttl};
use cachette_http::{CacheControl, CacheLayer, CacheTtl, Freshness, Refresher, strong_etag};
use http::{HeaderMap, HeaderName, StatusCode, header};
use support::{Calls, FakeClock, Reply, Server, wait_until};
use tokio::sync::Semaphore;

/// A route that counts its calls and answers `body`.
fn counted(calls: &Calls, body: &'static str) -> axum::routing::MethodRouter {
    counted_with(calls, move |_| body)
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

/// A route that counts its calls and answers `respond(the call's number)`.
fn counted_with<R>(
    calls: &Calls,
    respond: impl Fn(usize) -> R + Clone + Send + Sync + 'static,
) -> axum::routing::MethodRouter
where
    R: IntoResponse + Send + 'static,
{
    let calls = calls.clone();
    get(move || {
        let response = respond(calls.hit());
        async move { response }
    })
}

mod cases {
    use super::*;

    pub async fn etag_then_304(cache: Cache) {
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

    pub async fn if_modified_since(cache: Cache) {
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
        let mismatched =
            server.get_with("/page", &[("if-none-match", "\"x\""), ("if-modified-since", &modified)]).await;
        assert_eq!(mismatched.status, 200, "If-None-Match wins over If-Modified-Since");
        assert_eq!(calls.get(), 1);
    }

    pub async fn cache_control_policies(cache: Cache) {
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
                    CacheLayer::new(cache.clone())
                        .cache_control(CacheControl::private().max_age(Duration::from_secs(60))),
                ),
            )
            .route(
                "/nostore",
                counted(&no_store, "secret")
                    .layer(CacheLayer::new(cache.clone()).cache_control(CacheControl::no_store())),
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
        let calls = Calls::default();
        let app = Router::new()
            .route("/own", counted_with(&calls, |_| ([(header::CACHE_CONTROL, "no-store")], "fresh every time")))
            .layer(CacheLayer::new(cache));
        let server = Server::start(app).await;
        server.get("/own").await;
        server.get("/own").await;
        assert_eq!(calls.get(), 2);
    }

    pub async fn hard_refresh_honoured_when_allowed(cache: Cache) {
        let calls = Calls::default();
        let app = Router::new()
            .route("/news", counted(&calls, "news"))
            .layer(CacheLayer::new(cache).allow_client_refresh(true));
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

    pub async fn hard_refresh_ignored_by_default(cache: Cache) {
        let calls = Calls::default();
        let app = Router::new().route("/news", counted(&calls, "news")).layer(CacheLayer::new(cache));
        let server = Server::start(app).await;
        server.get("/news").await;
        let r = server.get_with("/news", &[("cache-control", "no-cache"), ("pragma", "no-cache")]).await;
        assert_eq!(r.x_cache(), "HIT", "a client cannot bust a shared entry unless the route allows it");
        assert_eq!(calls.get(), 1);
    }

    pub async fn set_cookie_is_not_stored(cache: Cache) {
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

    pub async fn post_is_not_cached(cache: Cache) {
        let calls = Calls::default();
        let c = calls.clone();
        let app = Router::new()
            .route(
                "/form",
                post(move || async move {
                    c.hit();
                    "posted"
                }),
            )
            .layer(CacheLayer::new(cache));
        let server = Server::start(app).await;
        for _ in 0..2 {
            let r = Reply::of(server.request(reqwest::Method::POST, "/form").body("x")).await;
            assert_eq!((r.status, r.x_cache()), (200, ""));
        }
        assert_eq!(calls.get(), 2);
    }

    pub async fn query_order_does_not_change_the_key(cache: Cache) {
        let calls = Calls::default();
        let app = Router::new().route("/search", counted(&calls, "results")).layer(CacheLayer::new(cache));
        let server = Server::start(app).await;
        assert_eq!(server.get("/search?b=2&a=1").await.x_cache(), "MISS");
        assert_eq!(server.get("/search?a=1&b=2").await.x_cache(), "HIT");
        assert_eq!(server.get("/search?a=1&b=3").await.x_cache(), "MISS");
        assert_eq!(calls.get(), 2);
    }

    pub async fn until_midnight_by_an_injected_clock(cache: Cache) {
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

    pub async fn handler_timeout_wins_over_the_layer(cache: Cache) {
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

    pub async fn stale_while_revalidate(cache: Cache) {
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

    pub async fn failed_refresh_keeps_the_stale_entry(cache: Cache) {
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

    pub async fn stampede_of_1000_calls_the_handler_once(cache: Cache) {
        let calls = Calls::default();
        let c = calls.clone();
        let app = Router::new()
            .route(
                "/cold",
                get(move || {
                    let c = c.clone();
                    async move {
                        let n = c.hit();
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        format!("rendered {n}")
                    }
                }),
            )
            .layer(CacheLayer::new(cache));
        let server = Server::start(app).await;
        let replies = futures::future::join_all((0..1000).map(|_| server.get("/cold"))).await;
        for r in &replies {
            assert_eq!((r.status, r.text()), (200, "rendered 1"));
        }
        assert_eq!(calls.get(), 1, "1,000 concurrent misses of one key ran the handler once");
    }

    pub async fn head_is_served_from_the_get_entry(cache: Cache) {
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

    pub async fn response_vary_is_honoured(cache: Cache) {
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
        assert_eq!(
            (en.x_cache(), en.text()),
            ("MISS", "hello"),
            "a variant is never served to another Accept-Language"
        );
        assert_eq!(calls.get(), 2);
        server.get("/star").await;
        assert_eq!(server.get("/star").await.x_cache(), "MISS", "Vary: * is never stored");
    }

    pub async fn layer_vary_keys_each_value(cache: Cache) {
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

    pub async fn credentials_bypass_the_shared_entry(cache: Cache) {
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

    pub async fn per_user_entries(cache: Cache) {
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

    pub async fn large_bodies_are_passed_through(cache: Cache) {
        let calls = Calls::default();
        let layer = CacheLayer::new(cache).max_body_size(1024);
        let app = Router::new().route("/big", counted_with(&calls, |_| vec![b'x'; 4096])).layer(layer.clone());
        let server = Server::start(app).await;
        for _ in 0..2 {
            let r = server.get("/big").await;
            assert_eq!((r.status, r.x_cache(), r.body.len()), (200, "MISS", 4096));
        }
        assert_eq!((calls.get(), layer.stats().stored), (2, 0));
    }

    pub async fn streamed_bodies_are_stored_when_they_end(cache: Cache) {
        let calls = Calls::default();
        let c = calls.clone();
        let layer = CacheLayer::new(cache);
        let app = Router::new()
            .route(
                "/stream",
                get(move || async move {
                    c.hit();
                    let chunks = futures::stream::iter(["one ", "two ", "three"]).then(|chunk| async move {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        Ok::<_, std::io::Error>(Bytes::from_static(chunk.as_bytes()))
                    });
                    Body::from_stream(chunks)
                }),
            )
            .layer(layer.clone());
        let server = Server::start(app).await;
        let first = server.get("/stream").await;
        assert_eq!((first.x_cache(), first.text()), ("MISS", "one two three"));
        assert_eq!(first.header("etag"), "", "a streamed miss has no ETag: it is known only at the end");
        wait_until("the streamed body is stored", || layer.stats().stored == 1).await;
        let second = server.get("/stream").await;
        assert_eq!((second.x_cache(), second.text()), ("HIT", "one two three"));
        assert_eq!(second.header("etag"), strong_etag(b"one two three"));
        assert_eq!(calls.get(), 1);
    }

    pub async fn unless_and_response_filter(cache: Cache) {
        let (calls, missing) = (Calls::default(), Calls::default());
        let app = Router::new()
            .route("/page", counted(&calls, "page"))
            .route("/gone", counted_with(&missing, |_| (StatusCode::NOT_FOUND, "no such thing")))
            .layer(
                CacheLayer::new(cache.clone())
                    .unless(|parts| parts.uri.query().is_some_and(|q| q.contains("preview")))
                    .response_filter(|res| res.status == StatusCode::OK || res.status == StatusCode::NOT_FOUND),
            );
        let server = Server::start(app).await;
        for _ in 0..2 {
            let r = server.get("/page?preview=1").await;
            assert_eq!((r.status, r.x_cache()), (200, ""), "{r:?}");
        }
        assert_eq!(calls.get(), 2, "unless skips the cache");
        server.get("/gone").await;
        let gone = server.get("/gone").await;
        assert_eq!((gone.status, gone.x_cache()), (404, "HIT"), "the custom filter stores 404s");
        assert_eq!(missing.get(), 1);

        // By default only 200s are stored.
        let other = Calls::default();
        let app = Router::new()
            .route("/missing", counted_with(&other, |_| StatusCode::NOT_FOUND))
            .layer(CacheLayer::new(cache));
        let server = Server::start(app).await;
        server.get("/missing").await;
        server.get("/missing").await;
        assert_eq!(other.get(), 2);
    }

    pub async fn custom_key_and_invalidate(cache: Cache) {
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

    pub async fn refresher_renders_on_schedule_and_stops(cache: Cache) {
        let calls = Calls::default();
        let layer = CacheLayer::new(cache).fresh_for(Duration::from_secs(3600));
        let app = Router::new().route("/report", counted(&calls, "report")).layer(layer.clone());
        let refresher = Refresher::new().route("/report", Duration::from_millis(50)).spawn(app.clone());
        // Stored, not just rendered: a shutdown cancels a render that has not stored yet.
        wait_until("three scheduled renders stored", || layer.stats().stored >= 3).await;
        refresher.shutdown().await;
        let after = calls.get();
        let server = Server::start(app).await;
        assert_eq!(server.get("/report").await.x_cache(), "HIT", "the refresher stored the route");
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(calls.get(), after, "no render after shutdown");
    }
}

use futures::StreamExt;

macro_rules! layer_suite {
    ($backend:ident: $($case:ident),* $(,)?) => {
        mod $backend {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    cases::$case(support::$backend(stringify!($case)).await).await
                }
            )*
        }
    };
}

macro_rules! every_backend {
    ($($backend:ident),*) => {
        $(layer_suite!($backend:
            etag_then_304, if_modified_since, cache_control_policies, hard_refresh_honoured_when_allowed,
            hard_refresh_ignored_by_default, set_cookie_is_not_stored, post_is_not_cached,
            query_order_does_not_change_the_key, until_midnight_by_an_injected_clock,
            handler_timeout_wins_over_the_layer, stale_while_revalidate, failed_refresh_keeps_the_stale_entry,
            stampede_of_1000_calls_the_handler_once, head_is_served_from_the_get_entry, response_vary_is_honoured,
            layer_vary_keys_each_value, credentials_bypass_the_shared_entry, per_user_entries,
            large_bodies_are_passed_through, streamed_bodies_are_stored_when_they_end, unless_and_response_filter,
            custom_key_and_invalidate, refresher_renders_on_schedule_and_stops,
        );)*
    };
}

every_backend!(simple, redis, memcached);

/// A cache backend that is down never takes the site down: every request is served by the handler.
#[tokio::test]
async fn a_failing_backend_serves_from_the_handler() {
    let port = cachette_conformance::harness::free_port();
    let config = cachette_core::Config::from_map([
        ("CACHE_REDIS_URL", format!("redis://127.0.0.1:{port}")),
        ("CACHE_OPTIONS", "connect_timeout=200ms,response_timeout=200ms".into()),
    ])
    .unwrap();
    let cache = Cache::new(Arc::new(cachette_redis::RedisCache::new(&config).unwrap()), config);
    let calls = Calls::default();
    let layer = CacheLayer::new(cache);
    let app = Router::new().route("/page", counted(&calls, "still up")).layer(layer.clone());
    let server = Server::start(app).await;
    for _ in 0..2 {
        let r = server.get("/page").await;
        assert_eq!((r.status, r.text()), (200, "still up"));
    }
    assert_eq!(calls.get(), 2);
    assert!(layer.stats().errors >= 2, "the failures are counted: {:?}", layer.stats());
}

/// The layer on a plain tower service, without axum.
#[tokio::test]
async fn works_on_any_tower_service() {
    use tower::{Layer, ServiceExt};
    let calls = Calls::default();
    let c = calls.clone();
    let inner = tower::service_fn(move |_request: http::Request<http_body_util::Empty<Bytes>>| {
        let c = c.clone();
        async move {
            c.hit();
            Ok::<_, std::convert::Infallible>(http::Response::new(http_body_util::Full::new(Bytes::from_static(
                b"plain",
            ))))
        }
    });
    let service = CacheLayer::new(support::simple("tower").await).layer(inner);
    for expected in ["MISS", "HIT"] {
        let request = http::Request::get("/x").body(http_body_util::Empty::new()).unwrap();
        let response = service.clone().oneshot(request).await.unwrap();
        assert_eq!(response.headers()["x-cache"], expected);
        let body = http_body_util::BodyExt::collect(response.into_body()).await.unwrap().to_bytes();
        assert_eq!(&body[..], b"plain");
    }
    assert_eq!(calls.get(), 1);
}

#[allow(unused)]
fn _assert_into_response(r: http::Response<cachette_http::CacheBody<Body>>) -> impl IntoResponse {
    r
}
