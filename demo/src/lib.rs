//! The cachette demo: an axum app whose views show each kind of caching. `main.rs` serves it; the
//! tests drive it over HTTP.
//!
//! * `GET /daily` — cached until midnight UTC (`Freshness::until_midnight`), with ETag / 304 and a
//!   `Cache-Control: public, max-age=<seconds until midnight>`.
//! * `GET /slow` — a 2-second view, fresh for 10 s and then served stale for up to 60 s while one
//!   background refresh renders it (`X-Cache: STALE`); a `Refresher` re-renders it every 25 s.
//! * `GET /hello/{user}` — a per-user greeting from a memoized function (half a second to compute);
//!   `POST /hello/{user}/forget` forgets it for one user, `POST /hello/forget-all` for everyone.
//! * `GET /stats` — hit/miss counters of the cache and of each cached route, as JSON.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::{Path, State};
use axum::response::Json;
use axum::routing::{get, post};
use cachette::http::{CacheControl, CacheLayer, Freshness, Refresher, RefresherHandle};
use cachette::{Cache, Ttl};

/// How long the slow view and the memoized greeting take to compute.
#[derive(Debug, Clone, Copy)]
pub struct Delays {
    /// The `/slow` view.
    pub slow: Duration,
    /// The memoized greeting of `/hello/{user}`.
    pub greeting: Duration,
}

impl Default for Delays {
    fn default() -> Self {
        Delays { slow: Duration::from_secs(2), greeting: Duration::from_millis(500) }
    }
}

/// The app and what its stats page reads.
#[derive(Clone)]
pub struct Demo {
    cache: Cache,
    daily: CacheLayer,
    slow: CacheLayer,
    delays: Delays,
    renders: Arc<Renders>,
}

#[derive(Default)]
struct Renders {
    daily: AtomicU64,
    slow: AtomicU64,
    greetings: AtomicU64,
}

impl Demo {
    /// The demo's views over `cache`.
    pub fn new(cache: Cache, delays: Delays) -> Demo {
        let daily = CacheLayer::new(cache.clone())
            .fresh_for(Freshness::until_midnight(0))
            .cache_control(CacheControl::public().max_age_until_expiry());
        let slow = CacheLayer::new(cache.clone())
            .fresh_for(Duration::from_secs(10))
            .stale_while_revalidate(Duration::from_secs(60))
            .cache_control(
                CacheControl::public().max_age(Duration::from_secs(10)).stale_while_revalidate(Duration::from_secs(60)),
            );
        Demo { cache, daily, slow, delays, renders: Arc::default() }
    }

    /// The axum app.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/", get(index))
            .route("/daily", get(daily).layer(self.daily.clone()))
            .route("/slow", get(slow).layer(self.slow.clone()))
            .route("/hello/{user}", get(hello))
            .route("/hello/{user}/forget", post(forget))
            .route("/hello/forget-all", post(forget_all))
            .route("/stats", get(stats))
            .with_state(self.clone())
    }

    /// Re-renders `/slow` every `every`, through `app` (the cached router), as served at `base`
    /// (e.g. `http://127.0.0.1:3000`: the layer keys the host, so the refresher names it).
    pub fn refresher(app: Router, base: &str, every: Duration) -> RefresherHandle {
        Refresher::new().route(format!("{base}/slow"), every).spawn(app)
    }
}

async fn index() -> &'static str {
    "cachette demo\n\
     \n\
     GET  /daily                  cached until midnight UTC (ETag, 304, Cache-Control)\n\
     GET  /slow                   2 s to render; fresh 10 s, then served STALE while it refreshes\n\
     GET  /hello/{user}           a memoized greeting per user (0.5 s to compute)\n\
     POST /hello/{user}/forget    forget one user's greeting\n\
     POST /hello/forget-all       forget every greeting (O(1))\n\
     GET  /stats                  hit/miss counters\n"
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

async fn daily(State(demo): State<Demo>) -> String {
    let render = demo.renders.daily.fetch_add(1, Ordering::Relaxed) + 1;
    let day = unix_now() / 86_400;
    format!("Numbers for day {day} since 1970 (UTC), rendered {render} time(s) since start\n")
}

async fn slow(State(demo): State<Demo>) -> String {
    tokio::time::sleep(demo.delays.slow).await;
    let render = demo.renders.slow.fetch_add(1, Ordering::Relaxed) + 1;
    format!("A slow report, render #{render}, at unix time {}\n", unix_now())
}

/// The memoized function's name in the cache: shared by the view and the two forgets.
const GREETING: &str = "demo::greeting";

// Handlers return `cachette::Result`: a cache failure is a logged 503 (the `axum` feature).

async fn hello(State(demo): State<Demo>, Path(user): Path<String>) -> cachette::Result<String> {
    let started = Instant::now();
    let greeting = demo
        .cache
        .memoize(GREETING, &user, Ttl::After(Duration::from_secs(300)), || async {
            tokio::time::sleep(demo.delays.greeting).await;
            demo.renders.greetings.fetch_add(1, Ordering::Relaxed);
            Ok::<_, std::convert::Infallible>(format!("Hello, {user}! (computed at unix time {})", unix_now()))
        })
        .await?;
    Ok(format!("{greeting}\nanswered in {:?}\n", started.elapsed()))
}

async fn forget(State(demo): State<Demo>, Path(user): Path<String>) -> cachette::Result<String> {
    Ok(match demo.cache.delete_memoized(GREETING, &user).await? {
        true => format!("forgot the greeting of {user}\n"),
        false => format!("no greeting of {user} was stored\n"),
    })
}

async fn forget_all(State(demo): State<Demo>) -> cachette::Result<&'static str> {
    demo.cache.delete_memoized_all(GREETING).await?;
    Ok("forgot every greeting\n")
}

async fn stats(State(demo): State<Demo>) -> Json<serde_json::Value> {
    let renders = &demo.renders;
    Json(serde_json::json!({
        "backend": demo.cache.backend().type_name(),
        "cache": demo.cache.stats(),
        "routes": {
            "/daily": demo.daily.stats(),
            "/slow": demo.slow.stats(),
        },
        "renders": {
            "/daily": renders.daily.load(Ordering::Relaxed),
            "/slow": renders.slow.load(Ordering::Relaxed),
            "greetings": renders.greetings.load(Ordering::Relaxed),
        },
    }))
}
