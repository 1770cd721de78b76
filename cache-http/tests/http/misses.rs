//! The miss path: one render for a stampede, streamed and oversized bodies.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use bytes::Bytes;
use cachette_core::Cache;
use cachette_http::{CacheLayer, strong_etag};
use futures::StreamExt;
use tokio::sync::Semaphore;

use crate::backends::Counting;
use crate::support::{Calls, Server, counted, counted_async, counted_with, wait_until};

async fn a_stampede_of_1000_calls_the_handler_once(cache: Cache) {
    let calls = Calls::default();
    let slow = counted_async(&calls, |n| async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        format!("rendered {n}")
    });
    let app = Router::new().route("/cold", slow).layer(CacheLayer::new(cache));
    let server = Server::start(app).await;
    let replies = futures::future::join_all((0..1000).map(|_| server.get("/cold"))).await;
    for r in &replies {
        assert_eq!((r.status, r.text()), (200, "rendered 1"));
    }
    assert_eq!(calls.get(), 1, "1,000 concurrent misses of one key ran the handler once");
}

async fn large_bodies_are_passed_through(cache: Cache) {
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

async fn streamed_bodies_are_stored_when_they_end(cache: Cache) {
    let calls = Calls::default();
    let layer = CacheLayer::new(cache);
    let streamed = counted_async(&calls, |_| async {
        let chunks = futures::stream::iter(["one ", "two ", "three"]).then(|chunk| async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            Ok::<_, std::io::Error>(Bytes::from_static(chunk.as_bytes()))
        });
        Body::from_stream(chunks)
    });
    let app = Router::new().route("/stream", streamed).layer(layer.clone());
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

async fn a_miss_makes_one_lookup_before_it_renders(cache: Cache) {
    let (cache, backend) = Counting::wrap(&cache);
    let calls = Calls::default();
    let layer = CacheLayer::new(cache);
    let app = Router::new().route("/page", counted(&calls, "page")).layer(layer.clone());
    let server = Server::start(app).await;
    assert_eq!(server.get("/page").await.x_cache(), "MISS");
    wait_until("the entry is stored", || layer.stats().stored == 1).await;
    // On a shared backend the render's lease is checked after the store, behind the response.
    let lease_check = usize::from(layer.cache().backend().is_shared());
    assert_eq!(backend.gets(), 1 + lease_check, "one read before the render");
    assert_eq!(server.get("/page").await.x_cache(), "HIT");
    assert_eq!((backend.gets(), calls.get()), (2 + lease_check, 1));
}

async fn a_miss_just_after_a_render_of_its_key_renders_nothing_and_reads_three_times_at_most(cache: Cache) {
    let (cache, backend) = Counting::wrap(&cache);
    let calls = Calls::default();
    let gate = Arc::new(Semaphore::new(0));
    let g = gate.clone();
    let slow = counted_async(&calls, move |n| {
        let g = g.clone();
        async move {
            g.acquire().await.unwrap().forget();
            format!("render {n}")
        }
    });
    let server = Arc::new(Server::start(Router::new().route("/page", slow).layer(CacheLayer::new(cache))).await);
    let s = server.clone();
    let first = tokio::spawn(async move { s.get("/page").await });
    wait_until("the first render starts", || calls.get() == 1).await;
    // The second request's lookup misses before the first one's entry is stored, and returns
    // only after: it joins when that render is over, its flight maybe too.
    backend.hold_next_get_until_a_set();
    let s = server.clone();
    let second = tokio::spawn(async move { s.get("/page").await });
    wait_until("the second lookup has missed", || backend.answered_gets() == 2).await;
    gate.add_permits(1);
    let (first, second) = (first.await.unwrap(), second.await.unwrap());
    assert_eq!((first.x_cache(), first.text()), ("MISS", "render 1"));
    assert_eq!((second.x_cache(), second.text()), ("HIT", "render 1"), "served the entry, not rendered again");
    assert_eq!(calls.get(), 1);
    // The first request reads once. The second reads at most three times: its held miss; then,
    // on a shared backend whose first render was stored but whose lease is not given back yet
    // (the window widens under load), the lease wait's read that sees the entry and the lookup
    // that reads it again to check its tags (lease.rs). Without the lease, or after it, twice.
    assert!(backend.gets() <= 4, "the second request read three times at most: {} reads in all", backend.gets());
}

async fn the_store_does_not_delay_the_response(cache: Cache) {
    let (cache, backend) = Counting::wrap(&cache);
    let calls = Calls::default();
    let layer = CacheLayer::new(cache);
    let app = Router::new().route("/page", counted(&calls, "page")).layer(layer.clone());
    let server = Server::start(app).await;
    backend.hold_sets(true);
    let first = server.get("/page").await;
    assert_eq!((first.status, first.x_cache(), first.text()), (200, "MISS", "page"), "answered, the write held");
    let second = server.get("/page").await;
    assert_eq!((second.x_cache(), second.text()), ("HIT", "page"), "the entry being stored is handed on");
    assert_eq!(calls.get(), 1);
    let stats = layer.stats();
    assert_eq!((stats.stored, stats.errors), (0, 0), "the write is still held, and nothing failed: {stats:?}");
    backend.hold_sets(false);
    wait_until("the entry is stored", || layer.stats().stored == 1).await;
    assert_eq!(server.get("/page").await.x_cache(), "HIT");
    assert_eq!(calls.get(), 1);
}

on_every_backend!(
    a_stampede_of_1000_calls_the_handler_once,
    large_bodies_are_passed_through,
    streamed_bodies_are_stored_when_they_end,
    a_miss_makes_one_lookup_before_it_renders,
    a_miss_just_after_a_render_of_its_key_renders_nothing_and_reads_three_times_at_most,
    the_store_does_not_delay_the_response,
);
