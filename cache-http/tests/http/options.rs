//! The decorator options of Flask-Caching that fit a view cache: `forced_update`, a response
//! filter that sees the body (`body_filter`, for whole and streamed bodies), and `is_stale`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use bytes::Bytes;
use cachette_core::Cache;
use cachette_http::CacheLayer;
use futures::StreamExt;

use crate::support::{Calls, Server, counted_async, counted_with, wait_until};

async fn forced_update_renders_and_stores_again_even_on_a_hit(cache: Cache) {
    let layer = CacheLayer::new(cache).forced_update(|request| request.headers.contains_key("x-rebuild"));
    let calls = Calls::default();
    let page = counted_with(&calls, |n| format!("render {n}"));
    let server = Server::start(Router::new().route("/report", page).layer(layer.clone())).await;
    server.get("/report").await;
    wait_until("the first render is stored", || layer.stats().stored == 1).await;
    assert_eq!(server.get("/report").await.text(), "render 1");
    let forced = server.get_with("/report", &[("x-rebuild", "1")]).await;
    assert_eq!((forced.x_cache(), forced.text()), ("MISS", "render 2"));
    assert_eq!(forced.header("cache-status"), "cachette; fwd=request; stored");
    wait_until("the forced render is stored", || layer.stats().stored == 2).await;
    let after = server.get("/report").await;
    assert_eq!((after.x_cache(), after.text()), ("HIT", "render 2"), "the others are served the new render");
}

async fn a_body_filter_keeps_refused_bodies_whole_or_streamed_out_of_the_cache(cache: Cache) {
    let layer = CacheLayer::new(cache).body_filter(|_, body: &Bytes| !body.starts_with(b"DEGRADED"));
    let calls = Calls::default();
    let page = counted_with(&calls, |n| if n == 1 { "DEGRADED page".to_owned() } else { format!("page {n}") });
    let streamed_calls = Calls::default();
    let streamed = counted_async(&streamed_calls, |n| async move {
        let first = if n == 1 { "DEGRADED " } else { "fine " };
        let chunks = futures::stream::iter([first, "stream"]).then(|chunk| async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            Ok::<_, std::io::Error>(Bytes::from_static(chunk.as_bytes()))
        });
        Body::from_stream(chunks)
    });
    let app = Router::new().route("/page", page).route("/stream", streamed).layer(layer.clone());
    let server = Server::start(app).await;

    assert_eq!(server.get("/page").await.text(), "DEGRADED page", "answered to its client");
    assert_eq!(server.get("/stream").await.text(), "DEGRADED stream", "streamed to its client");
    let (second, streamed_second) = (server.get("/page").await, server.get("/stream").await);
    assert_eq!((second.x_cache(), second.text()), ("MISS", "page 2"), "the refused body was not stored");
    assert_eq!((streamed_second.x_cache(), streamed_second.text()), ("MISS", "fine stream"));
    wait_until("the accepted bodies are stored", || layer.stats().stored == 2).await;
    assert_eq!(server.get("/page").await.text(), "page 2");
    assert_eq!(server.get("/stream").await.x_cache(), "HIT");
    assert_eq!((calls.get(), streamed_calls.get()), (2, 2));
}

async fn is_stale_makes_a_fresh_entry_a_miss(cache: Cache) {
    let release = Arc::new(AtomicUsize::new(1));
    let r = release.clone();
    let layer = CacheLayer::new(cache).is_stale(move |stored| {
        let current = r.load(Ordering::SeqCst).to_string();
        stored.headers.get("x-release").is_none_or(|v| v.as_bytes() != current.as_bytes())
    });
    let calls = Calls::default();
    let r = release.clone();
    let page =
        counted_with(&calls, move |n| ([("x-release", r.load(Ordering::SeqCst).to_string())], format!("render {n}")));
    let server = Server::start(Router::new().route("/page", page).layer(layer.clone())).await;
    server.get("/page").await;
    wait_until("the first render is stored", || layer.stats().stored == 1).await;
    assert_eq!(server.get("/page").await.x_cache(), "HIT");
    release.store(2, Ordering::SeqCst); // a new release: pages of the old one are stale
    let after = server.get("/page").await;
    assert_eq!((after.x_cache(), after.text()), ("MISS", "render 2"));
    wait_until("the new render is stored", || layer.stats().stored == 2).await;
    assert_eq!(server.get("/page").await.x_cache(), "HIT");
}

on_every_backend!(
    forced_update_renders_and_stores_again_even_on_a_hit,
    a_body_filter_keeps_refused_bodies_whole_or_streamed_out_of_the_cache,
    is_stale_makes_a_fresh_entry_a_miss,
);
