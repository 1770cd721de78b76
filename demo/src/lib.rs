//! The cachette demo: an axum app whose views show each kind of caching. `main.rs` serves it; the
//! tests drive it over HTTP.
//!
//! * `GET /daily` — cached until midnight UTC (`Freshness::until_midnight`), with ETag / 304 and a
//!   `Cache-Control: public, max-age=<seconds until midnight>`.
//! * `GET /slow` — a 2-second view, fresh for 10 s and then served stale for up to 60 s while one
//!   background refresh renders it (`X-Cache: STALE`); a `Refresher` re-renders it every 25 s.
//! * `GET /hello/{user}` — a per-user greeting from a memoized function (half a second to compute);
//!   `POST /hello/{user}/forget` forgets it for one user, `POST /hello/forget-all` for everyone.
//! * `GET /stats` — the cache's counters and, per cached route and memoized function, hits,
//!   stale answers, misses and latency second by second over the last five minutes: a page of
//!   SVG charts for a browser (`Accept: text/html`), JSON ([`cachette::observe::AppStats`] and
//!   the demo's render counts) for everyone else, `cachectl watch` included.
//! * `GET /metrics` — the same cache's metrics in Prometheus's text format, for
//!   `dashboards/cachette.json`. Call [`prometheus`] before building the cache, so that the
//!   metrics recorded at its construction (the breaker's state) are kept.
//!
//! Why one URL with content negotiation rather than a separate `/stats.html`: people and tools
//! ask for the same thing, and each gets it in its form from the address they already know
//! (answers say `Vary: Accept`, so a cache in between keeps the two apart).

mod metrics;
mod page;
mod recorder;
mod timeline;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::header::{ACCEPT, VARY};
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::from_fn_with_state;
use axum::response::{Html, IntoResponse, Json, Response};
use axum::routing::{get, post};
use cachette::http::{CacheControl, CacheLayer, Freshness, HttpCacheStats, Refresher, RefresherHandle};
use cachette::observe::AppStats;
use cachette::{Cache, Ttl};
use serde::Serialize;

pub use crate::metrics::prometheus;
pub use crate::recorder::Recorder;
pub use crate::timeline::{HISTORY, Outcome};

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
    recorder: Recorder,
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
            .route_name("/daily")
            .fresh_for(Freshness::until_midnight(0))
            .cache_control(CacheControl::public().max_age_until_expiry());
        let slow = CacheLayer::new(cache.clone())
            .route_name("/slow")
            .fresh_for(Duration::from_secs(10))
            .stale_while_revalidate(Duration::from_secs(60))
            .cache_control(
                CacheControl::public().max_age(Duration::from_secs(10)).stale_while_revalidate(Duration::from_secs(60)),
            );
        let recorder = Recorder::default();
        recorder.follow(&cache);
        Demo { cache, daily, slow, delays, renders: Arc::default(), recorder }
    }

    /// The axum app.
    pub fn router(&self) -> Router {
        // Times each cached route's answers for `/stats`; outside the cache layer, so that it
        // sees the hits too.
        let timed = from_fn_with_state(self.recorder.clone(), recorder::time_route);
        Router::new()
            .route("/", get(index))
            .route("/daily", get(daily).layer(self.daily.clone()).layer(timed.clone()))
            .route("/slow", get(slow).layer(self.slow.clone()).layer(timed))
            .route("/hello/{user}", get(hello))
            .route("/hello/{user}/forget", post(forget))
            .route("/hello/forget-all", post(forget_all))
            .route("/stats", get(stats))
            .route("/metrics", get(metrics::metrics))
            .with_state(self.clone())
    }

    /// Serves the demo on a free loopback port from a task of the current tokio runtime (for
    /// tests and tools that drive it over HTTP); returns its base URL, `http://127.0.0.1:<port>`.
    pub async fn serve_on_loopback(&self) -> std::io::Result<String> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}", listener.local_addr()?);
        let app = self.router();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(base)
    }

    /// What `/stats` serves: the cache's counters, and each route's and function's series.
    pub fn app_stats(&self) -> AppStats {
        let (mut routes, functions) = self.recorder.series();
        for (route, layer) in [("/daily", &self.daily), ("/slow", &self.slow)] {
            routes.entry(route.to_owned()).or_default().counters = counters(layer.stats());
        }
        let mut stats = AppStats::new(self.cache.backend().type_name());
        stats.cache = self.cache.stats();
        stats.routes = routes;
        stats.functions = functions;
        stats
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
     GET  /stats                  hit ratio and latency per route and function: charts in a browser, JSON otherwise\n"
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
    demo.recorder.time_function(GREETING, started.elapsed());
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

/// The JSON of `/stats`: [`AppStats`] (what `cachectl` reads) and the demo's render counts.
#[derive(Serialize)]
struct DemoStats {
    #[serde(flatten)]
    app: AppStats,
    renders: serde_json::Value,
}

async fn stats(State(demo): State<Demo>, headers: HeaderMap) -> Response {
    let renders = &demo.renders;
    let stats = DemoStats {
        app: demo.app_stats(),
        renders: serde_json::json!({
            "/daily": renders.daily.load(Ordering::Relaxed),
            "/slow": renders.slow.load(Ordering::Relaxed),
            "greetings": renders.greetings.load(Ordering::Relaxed),
        }),
    };
    let mut response = if wants_html(&headers) {
        let json = serde_json::to_string_pretty(&stats).unwrap_or_default();
        Html(page::render(&stats.app, &json, unix_now())).into_response()
    } else {
        Json(stats).into_response()
    };
    response.headers_mut().insert(VARY, HeaderValue::from_static("accept"));
    response
}

/// A browser asks for `text/html` by name; curl (`*/*`), reqwest and cachectl do not.
fn wants_html(headers: &HeaderMap) -> bool {
    headers.get_all(ACCEPT).iter().filter_map(|v| v.to_str().ok()).any(|v| v.contains("text/html"))
}

/// The layer's counters by name (`stored`, `bypassed`, `not_modified`, ...), for the JSON.
fn counters(stats: HttpCacheStats) -> std::collections::BTreeMap<String, u64> {
    let value = serde_json::to_value(stats).unwrap_or_default();
    let fields = value.as_object().into_iter().flatten();
    fields.filter_map(|(name, n)| Some((name.clone(), n.as_u64()?))).collect()
}
