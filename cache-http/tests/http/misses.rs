//! The miss path: one render for a stampede, streamed and oversized bodies.

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use bytes::Bytes;
use cachette_core::Cache;
use cachette_http::{CacheLayer, strong_etag};
use futures::StreamExt;

use crate::support::{Calls, Server, counted_async, counted_with, wait_until};

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

on_every_backend!(
    a_stampede_of_1000_calls_the_handler_once,
    large_bodies_are_passed_through,
    streamed_bodies_are_stored_when_they_end,
);
