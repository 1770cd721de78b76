//! The servers measured: one axum app per peer, the same handlers behind each peer's layer.
//!
//! Each peer runs in a process of its own (`cachette-peers serve <peer>`, started by the driver
//! under `taskset -c 0`), so that `/proc/<pid>/stat` counts that peer's CPU alone. Every app
//! has the same three routes:
//!
//! * `GET /page` — the 1 KiB body (`text/plain`), through the peer's layer;
//! * `GET /stampede/{n}` — the same body after a 200 ms wait, counted, through the peer's layer;
//!   the stampede test sends 1,000 concurrent requests to one cold `n`;
//! * `GET /calls` — how many times the stampede handler ran (never cached).
//!
//! Every peer keeps a response for [`FRESH_FOR`] (300 s) in an in-process store of 10,000
//! entries, keyed by method and path, and turns on its stampede protection where it has one:
//!
//! | peer | set up as its docs show |
//! |---|---|
//! | `cachette` | `CacheLayer::new(cache).fresh_for(300 s)` over `CACHE_TYPE=SimpleCache`, `CACHE_THRESHOLD=10000` (single-flight is always on) |
//! | `hitbox` | hitbox-tower `Cache::builder()` with `MokaBackend::builder().max_entries(10_000)`, a GET request predicate, a 200 response predicate, `Method::new().path("/{path}*")` as the key, `PolicyConfig` ttl 300 s and `concurrency(1)` with a `BroadcastConcurrencyManager` (hitbox's dogpile prevention) |
//! | `axum-response-cache` | `CacheLayer::with_lifespan(300 s).add_response_headers()` (a `cached::TtlCache` behind a mutex; no stampede protection) |
//! | `tower-http-cache` | `CacheLayer::builder(InMemoryBackend::new(10_000)).ttl(300 s)` (its stampede lock is always on) |
//! | `uncached` | the handlers with no layer |

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use bytes::Bytes;

/// The body every route serves: 1 KiB.
pub const BODY: &[u8] = &[b'x'; 1024];
/// How long every peer keeps a response.
pub const FRESH_FOR: Duration = Duration::from_secs(300);
/// How long the stampede handler works before it answers.
pub const STAMPEDE_WORK: Duration = Duration::from_millis(200);
/// How many responses every peer's store holds.
const CAPACITY: u64 = 10_000;

/// An HTTP cache layer measured, or none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Peer {
    /// The handlers alone: the denominator of every ratio.
    Uncached,
    /// `cachette::http::CacheLayer` over SimpleCache.
    Cachette,
    /// hitbox-tower with hitbox-moka.
    Hitbox,
    /// axum-response-cache.
    AxumResponseCache,
    /// tower-http-cache's in-memory backend.
    TowerHttpCache,
}

impl Peer {
    /// Every peer, in the order of the tables.
    pub const ALL: [Peer; 5] =
        [Peer::Uncached, Peer::Cachette, Peer::AxumResponseCache, Peer::TowerHttpCache, Peer::Hitbox];

    /// The name on the command line and in the tables.
    pub fn name(self) -> &'static str {
        match self {
            Peer::Uncached => "uncached",
            Peer::Cachette => "cachette",
            Peer::Hitbox => "hitbox",
            Peer::AxumResponseCache => "axum-response-cache",
            Peer::TowerHttpCache => "tower-http-cache",
        }
    }

    /// The peer of a name, or an error listing the names.
    pub fn parse(name: &str) -> Result<Peer, String> {
        Peer::ALL.into_iter().find(|p| p.name() == name).ok_or_else(|| {
            let names: Vec<&str> = Peer::ALL.iter().map(|p| p.name()).collect();
            format!("unknown peer {name:?}: expected one of {}", names.join(", "))
        })
    }
}

/// How many times the stampede handler ran.
#[derive(Clone, Default)]
struct Calls(Arc<AtomicU64>);

async fn page() -> impl IntoResponse {
    ([(CONTENT_TYPE, "text/plain")], Bytes::from_static(BODY))
}

async fn slow(State(calls): State<Calls>) -> impl IntoResponse {
    calls.0.fetch_add(1, Ordering::Relaxed);
    tokio::time::sleep(STAMPEDE_WORK).await;
    ([(CONTENT_TYPE, "text/plain")], Bytes::from_static(BODY))
}

async fn calls(State(calls): State<Calls>) -> String {
    calls.0.load(Ordering::Relaxed).to_string()
}

/// The app of `peer`: the cached routes behind its layer, `/calls` outside it.
pub fn app(peer: Peer) -> Router {
    let state = Calls::default();
    let cached: Router<Calls> = Router::new().route("/page", get(page)).route("/stampede/{n}", get(slow));
    let cached = match peer {
        Peer::Uncached => cached,
        Peer::Cachette => cached.layer(cachette_layer()),
        Peer::Hitbox => with_hitbox(cached),
        Peer::AxumResponseCache => {
            cached.layer(axum_response_cache::CacheLayer::with_lifespan(FRESH_FOR).add_response_headers())
        }
        Peer::TowerHttpCache => with_tower_http_cache(cached),
    };
    cached.route("/calls", get(calls)).with_state(state)
}

fn cachette_layer() -> cachette::http::CacheLayer {
    let threshold = CAPACITY.to_string();
    let config = cachette::Config::from_map([("CACHE_TYPE", "SimpleCache"), ("CACHE_THRESHOLD", threshold.as_str())])
        .expect("a valid config");
    let cache = cachette::Cache::from_config(config).expect("SimpleCache is built in");
    cachette::http::CacheLayer::new(cache).fresh_for(FRESH_FOR)
}

fn with_hitbox(routes: Router<Calls>) -> Router<Calls> {
    use hitbox::concurrency::BroadcastConcurrencyManager;
    use hitbox::policy::PolicyConfig;
    use hitbox_http::extractors::{Method as MethodKey, path::PathExtractor};
    use hitbox_http::predicates::request::Method;
    use hitbox_http::predicates::response::StatusCode;

    let config = hitbox::Config::builder()
        .request_predicate(Method::new(http::Method::GET).expect("GET is a method"))
        .response_predicate(StatusCode::new(http::StatusCode::OK))
        .extractor(MethodKey::new().path("/{path}*"))
        .policy(
            PolicyConfig::builder()
                .ttl(FRESH_FOR)
                .concurrency(hitbox::policy::ConcurrencyLimit::new(1).expect("1 is in 1..=255"))
                .build(),
        )
        .build();
    routes.layer(
        hitbox_tower::Cache::builder()
            .backend(hitbox_moka::MokaBackend::builder().max_entries(CAPACITY).build())
            .config(config)
            .concurrency_manager(BroadcastConcurrencyManager::new())
            .build(),
    )
}

/// tower-http-cache's layer answers `BoxError` and wants a `Sync` body from the service it wraps,
/// while axum's handlers answer `Infallible` and a `Send`-only body; its own axum example leaves
/// the layer off for that reason. Here axum's `HandleErrorLayer` turns its errors into 500s and
/// [`SyncBody`] wraps the handler's body (only on misses: a hit never reaches the handler).
fn with_tower_http_cache(routes: Router<Calls>) -> Router<Calls> {
    use axum::error_handling::HandleErrorLayer;
    use tower_http_cache::prelude::{CacheLayer, InMemoryBackend};

    let layer = tower::ServiceBuilder::new()
        .layer(HandleErrorLayer::new(|error: tower::BoxError| async move {
            (axum::http::StatusCode::INTERNAL_SERVER_ERROR, error.to_string())
        }))
        .layer(CacheLayer::builder(InMemoryBackend::new(CAPACITY)).ttl(FRESH_FOR).build())
        .map_response(|response: axum::response::Response| response.map(SyncBody::new));
    routes.layer(layer)
}

/// axum's body made `Sync` for tower-http-cache: `SyncWrapper` is `Sync` because it only hands
/// out `&mut` access, which is all `poll_frame` needs. The size hint is kept beside it (reading it
/// needs `&`): without it the body looks like a stream of unknown length, which tower-http-cache
/// does not store (`allow_streaming_bodies` is off by default).
struct SyncBody {
    body: sync_wrapper::SyncWrapper<axum::body::Body>,
    remaining: http_body::SizeHint,
}

impl SyncBody {
    fn new(body: axum::body::Body) -> SyncBody {
        use http_body::Body as _;
        let remaining = body.size_hint();
        SyncBody { body: sync_wrapper::SyncWrapper::new(body), remaining }
    }
}

impl http_body::Body for SyncBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        let this = self.get_mut();
        let polled = std::pin::Pin::new(this.body.get_mut()).poll_frame(cx);
        if let std::task::Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(data) = frame.data_ref()
        {
            let len = data.len() as u64;
            let mut rest = http_body::SizeHint::new();
            rest.set_lower(this.remaining.lower().saturating_sub(len));
            if let Some(upper) = this.remaining.upper() {
                rest.set_upper(upper.saturating_sub(len));
            }
            this.remaining = rest;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.remaining.exact() == Some(0)
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.remaining
    }
}

/// Serves `peer` on a free loopback port on one tokio worker, and prints `listening <port>`
/// for the driver. Runs until killed.
pub fn serve(peer: Peer) {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind a loopback port");
        println!("listening {}", listener.local_addr().unwrap().port());
        axum::serve(listener, app(peer)).await.expect("serve");
    });
}
