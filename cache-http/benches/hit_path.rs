//! The hit path without the network: what one request costs through an axum `Router` whose route
//! is cached by `CacheLayer` (SimpleCache, every request a hit) against the same route uncached,
//! the handler returning a 1 KiB body with a `Content-Type`, as in `benches/http.rs` and the peer
//! benchmark. The request is the one wrk sends (`GET /page`, `Host: 127.0.0.1:8080`); each
//! response's body is read to its end.
//!
//! `cargo bench -p cachette-http --bench hit_path` prints ns per request of each route in
//! alternating rounds (medians) and their difference: the layer's cost per hit above a handler's.
//! Wall-clock on a shared machine is noisy; to compare two builds, count instructions instead:
//! with `HIT_PATH_ONLY=cached` (or `plain`) and `HIT_PATH_REQUESTS=<n>` it serves one route `n`
//! times and prints only that, so two runs under `valgrind --tool=callgrind` (or `perf stat -e
//! instructions`) with different `n` give the instructions of one request as the difference of
//! their totals over the difference of their counts (the set-up cancels out). `BENCH_LOG=cachette=debug`
//! serves them with a `tracing` subscriber at that level (formatting into a sink):
//!
//! ```sh
//! for n in 10000 30000; do HIT_PATH_ONLY=cached HIT_PATH_REQUESTS=$n \
//!   valgrind --tool=callgrind --callgrind-out-file=/tmp/hit.$n target/release/deps/hit_path-<hash>; done
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use bytes::Bytes;
use cachette_core::{BaseCache, Cache, Config};
use cachette_http::CacheLayer;
use http_body_util::BodyExt;
use tower::ServiceExt;

const BODY: &[u8] = &[b'x'; 1024];
const ROUNDS: usize = 7;

async fn page() -> impl IntoResponse {
    ([(CONTENT_TYPE, "text/plain")], Bytes::from_static(BODY))
}

fn app() -> (Router, Cache) {
    let config =
        Config::from_map([("CACHE_TYPE", "SimpleCache"), ("CACHE_THRESHOLD", "10000")]).expect("a valid config");
    let backend = cachette_simple::SimpleCache::new(&config).expect("SimpleCache");
    let cache = Cache::new(Arc::new(backend) as Arc<dyn BaseCache>, config);
    let layer = CacheLayer::new(cache.clone()).fresh_for(Duration::from_secs(300));
    // `with_state`: the routes built once, as `axum::serve` builds them for each connection. A
    // `Router<()>` called as it is builds each handler's route on every request, and applies its
    // layers to it: a `CacheService` made per request (an allocation and the inner route cloned).
    let router = Router::new().route("/cached", get(page).layer(layer)).route("/plain", get(page)).with_state(());
    (router, cache)
}

/// One request as wrk sends it, its body read to the end; returns the body's length.
async fn request(app: &Router, path: &'static str) -> usize {
    let request = http::Request::get(path).header(http::header::HOST, "127.0.0.1:8080").body(Body::empty()).unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let mut body = response.into_body();
    let mut len = 0;
    while let Some(frame) = body.frame().await {
        len += frame.unwrap().into_data().map_or(0, |d| d.len());
    }
    len
}

/// `n` requests to `path`, in ns per request.
async fn round(app: &Router, path: &'static str, n: usize) -> f64 {
    let start = Instant::now();
    for _ in 0..n {
        std::hint::black_box(request(app, path).await);
    }
    start.elapsed().as_nanos() as f64 / n as f64
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    // `BENCH_LOG=cachette=debug`: the same hits with a subscriber that formats every span and
    // event of that filter (into a sink), for what tracing at that level costs.
    if let Ok(filter) = std::env::var("BENCH_LOG") {
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::sink).init();
    }
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let (app, cache) = app();
    runtime.block_on(async {
        assert_eq!(request(&app, "/cached").await, BODY.len());
        // The entry is stored behind the first response, on a task of its own: let it run, so
        // that the requests measured find it in the cache (not in the render's flight).
        tokio::time::sleep(Duration::from_millis(50)).await;
        let hits = cache.stats().hits;
        let r = app
            .clone()
            .oneshot(http::Request::get("/cached").header("host", "127.0.0.1:8080").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(r.headers()["x-cache"], "HIT", "the cached route serves hits");
        assert_eq!(cache.stats().hits, hits + 1, "from the cache");
    });
    if let Ok(only) = std::env::var("HIT_PATH_ONLY") {
        let n: usize = std::env::var("HIT_PATH_REQUESTS").ok().and_then(|v| v.parse().ok()).unwrap_or(20_000);
        let path = if only == "cached" { "/cached" } else { "/plain" };
        runtime.block_on(round(&app, path, n));
        println!("{path}: {n} requests");
        return;
    }
    let n = 20_000;
    runtime.block_on(async {
        round(&app, "/plain", n).await;
        round(&app, "/cached", n).await;
    });
    let (mut plain, mut cached) = (Vec::new(), Vec::new());
    for r in 0..ROUNDS {
        runtime.block_on(async {
            if r % 2 == 0 {
                plain.push(round(&app, "/plain", n).await);
                cached.push(round(&app, "/cached", n).await);
            } else {
                cached.push(round(&app, "/cached", n).await);
                plain.push(round(&app, "/plain", n).await);
            }
        });
        println!("round {}: plain {:>7.0} ns   cached {:>7.0} ns", r + 1, plain[r], cached[r]);
    }
    let diffs: Vec<f64> = cached.iter().zip(&plain).map(|(c, p)| c - p).collect();
    let (p, c, d) = (median(plain), median(cached), median(diffs));
    println!("\nper request through the Router (1 KiB, no network; {ROUNDS} alternating rounds of {n}, medians)");
    println!("plain handler          {p:>8.0} ns");
    println!("CacheLayer hit         {c:>8.0} ns");
    println!("hit minus plain        {d:>8.0} ns   (cached / plain = {:.2})", c / p);
}
