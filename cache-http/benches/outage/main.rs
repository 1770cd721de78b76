//! Load driver with an outage scenario: the same axum route served without `CacheLayer`
//! (`/plain/{n}`) and with it (`/cached/{n}`, a RedisCache on a redis-server the harness starts),
//! side by side in one run, while Redis is healthy, stalled (`SIGSTOP`), resumed, killed and
//! restarted. Prints req/s and p50/p99 of each route per phase, the ratios cached/plain, and how
//! long the hit ratio takes to come back after each return of the server, against issue 13's
//! targets (from one second into an outage the cached route serves >= 0.8 of the plain route's
//! req/s with a p99 <= 2x of it; the hit ratio is back within 2 s of the server's return).
//!
//! `cargo bench -p cachette-http --bench outage` (about 60 s; `BENCH_SECS=N` for N-second slices
//! instead of 2). Needs `wrk` and `redis-server` (./scripts/setup installs both).
//!
//! Decisions:
//! * The cache has every default a user gets: `Config::default()` plus the server's URL, so the
//!   fail-safe is the default one (deadline 250 ms, breaker 5 failures / 1 s cool-down) and the
//!   redis client's own timeouts are its defaults.
//! * The load is wrk: one thread, 32 keep-alive connections, 200 URLs per route picked uniformly
//!   (see `wrk::script`). The server has one tokio worker, so wrk, the server and redis-server
//!   share the machine's 2 cores as in the `http` bench.
//! * Each measured phase runs 3 rounds of a slice of the plain route and a slice of the cached
//!   one, alternating which goes first, so both see the same machine noise; a phase's figures
//!   are the medians of its slices.
//! * Recovery is sampled from the layer's own counters (hits / (hits + misses) every 100 ms)
//!   while wrk drives the cached route: the time from the server's return (`SIGCONT` sent; the
//!   restarted server answering) to the end of the first 100 ms sample at >= 90 % of the healthy
//!   phase's hit ratio.

mod phases;
mod report;
mod wrk;

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::Path;
use axum::response::Html;
use axum::routing::get;
use cachette_conformance::harness::redis::RedisServer;
use cachette_core::{BaseCache, Cache, Config};
use cachette_http::CacheLayer;

use phases::Bench;

/// What the route waits for before it renders: a query to a database, say. A wait rather than
/// a CPU loop because that is what a cache saves a web service from, and because a fixed wait
/// costs the same whatever else runs on the 2 shared cores: a CPU loop would make the plain
/// route's figure a measure of how the scheduler shares them between wrk, redis and the server.
const HANDLER_WAIT: Duration = Duration::from_millis(2);

/// The route: [`HANDLER_WAIT`], then about 1 KiB of HTML naming the item.
async fn page(Path(n): Path<u32>) -> Html<String> {
    tokio::time::sleep(HANDLER_WAIT).await;
    let mut html = String::with_capacity(1100);
    html.push_str("<!doctype html>\n<title>item</title>\n<ul>\n");
    for row in 0..25 {
        writeln!(html, "<li>item {n:>5}, row {row:>2}: some text</li>").unwrap();
    }
    html.push_str("</ul>\n");
    Html(html)
}

/// Serves both routes on a loopback port; returns its address and the cached route's layer.
async fn serve(redis_url: String) -> (SocketAddr, CacheLayer) {
    let mut config = Config::default();
    config.redis_url = Some(redis_url);
    let backend = cachette_redis::RedisCache::new(&config).expect("a RedisCache on the harness's server");
    let cache = Cache::new(Arc::new(backend) as Arc<dyn BaseCache>, config);
    let layer = CacheLayer::new(cache);
    let app = Router::new().route("/plain/{n}", get(page)).route("/cached/{n}", get(page).layer(layer.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let client = reqwest::Client::new();
    for expected in ["MISS", "HIT"] {
        let r = client.get(format!("http://{addr}/cached/1")).send().await.unwrap();
        assert_eq!(r.headers()["x-cache"], expected, "the cached route serves hits");
    }
    (addr, layer)
}

fn main() {
    // As an application would run: the cache's warnings (one per breaker transition, one per
    // failure that reached the backend) on stderr, `RUST_LOG` to change; times since the start.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn,outage=info".into()),
        )
        .with_timer(tracing_subscriber::fmt::time::uptime())
        .with_writer(std::io::stderr)
        .init();
    let slice: u64 = std::env::var("BENCH_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(2);
    let mut redis = RedisServer::start();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let (addr, layer) = runtime.block_on(serve(redis.url()));
    let bench = Bench::new(addr, layer, slice);
    bench.warm_up();

    let healthy = bench.side_by_side();
    report::phase("a. healthy, warm cache", &healthy, None);

    let stalled = bench.outage(&mut redis, RedisServer::stall);
    report::phase("b. stalled (SIGSTOP), from 1 s in", &stalled, Some(&healthy));
    let resumed = bench.recovery(&mut redis, RedisServer::resume, healthy.hit_ratio);
    report::recovery("c. resumed (SIGCONT)", &resumed);

    let killed = bench.outage(&mut redis, RedisServer::kill);
    report::phase("d. killed (connection refused), from 1 s in", &killed, Some(&healthy));
    let restarted = bench.recovery(&mut redis, RedisServer::restart, healthy.hit_ratio);
    report::recovery("e. restarted (empty)", &restarted);

    report::summary(
        &[("b. stalled", &stalled), ("d. killed", &killed)],
        &[("c. resumed", &resumed), ("e. restarted", &restarted)],
    );
    drop(runtime);
}
