//! What the HTTP tests share: an axum app on 127.0.0.1 with a real client, a clock the test moves,
//! handlers that count their calls, and caches on each backend.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::response::IntoResponse;
use axum::routing::{MethodRouter, get};
use bytes::Bytes;
use cachette_conformance::harness::{memcached, redis};
use cachette_core::{BaseCache, Cache, Config, Expiry};
use cachette_http::{CacheLayer, Clock};

/// A running app and a client for it.
pub(crate) struct Server {
    pub base: String,
    pub client: reqwest::Client,
}

impl Server {
    /// Serves `app` on a free loopback port until the test's runtime ends.
    pub(crate) async fn start(app: Router) -> Server {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Server { base: format!("http://{addr}"), client: reqwest::Client::builder().build().unwrap() }
    }

    pub(crate) fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client.request(method, format!("{}{path}", self.base))
    }

    pub(crate) async fn get(&self, path: &str) -> Reply {
        Reply::of(self.request(reqwest::Method::GET, path)).await
    }

    pub(crate) async fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Reply {
        let mut request = self.request(reqwest::Method::GET, path);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        Reply::of(request).await
    }
}

/// A response, read whole.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub(crate) async fn of(request: reqwest::RequestBuilder) -> Reply {
        let response = request.send().await.expect("the app answers");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.bytes().await.expect("the body arrives whole");
        Reply { status, headers, body }
    }

    /// A header's value, or "" if absent.
    pub(crate) fn header(&self, name: &str) -> &str {
        self.headers.get(name).map_or("", |v| v.to_str().unwrap())
    }

    pub(crate) fn x_cache(&self) -> &str {
        self.header("x-cache")
    }

    pub(crate) fn text(&self) -> &str {
        std::str::from_utf8(&self.body).unwrap()
    }
}

/// A wall clock that moves only when the test says so.
#[derive(Clone)]
pub(crate) struct FakeClock {
    base: SystemTime,
    offset_ms: Arc<AtomicU64>,
}

impl FakeClock {
    pub(crate) fn at(base: SystemTime) -> FakeClock {
        FakeClock { base, offset_ms: Arc::default() }
    }

    /// A clock at a round time in the near future.
    pub(crate) fn new() -> FakeClock {
        FakeClock::at(UNIX_EPOCH + Duration::from_secs(1_900_000_000))
    }

    pub(crate) fn clock(&self) -> Clock {
        let (base, offset) = (self.base, self.offset_ms.clone());
        Clock::from_fn(move || base + Duration::from_millis(offset.load(Ordering::SeqCst)))
    }

    pub(crate) fn advance(&self, by: Duration) {
        self.offset_ms.fetch_add(by.as_millis() as u64, Ordering::SeqCst);
    }
}

/// Counts a handler's calls.
#[derive(Clone, Default)]
pub(crate) struct Calls(Arc<AtomicUsize>);

impl Calls {
    /// Counts a call; returns its number (1 for the first).
    pub(crate) fn hit(&self) -> usize {
        self.0.fetch_add(1, Ordering::SeqCst) + 1
    }

    pub(crate) fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

/// A route that counts its calls and answers `body`.
pub(crate) fn counted(calls: &Calls, body: &'static str) -> MethodRouter {
    counted_with(calls, move |_| body)
}

/// A route that counts its calls and answers `respond(the call's number)`.
pub(crate) fn counted_with<R>(
    calls: &Calls,
    respond: impl Fn(usize) -> R + Clone + Send + Sync + 'static,
) -> MethodRouter
where
    R: IntoResponse + Send + 'static,
{
    counted_async(calls, move |n| std::future::ready(respond(n)))
}

/// A route that counts its calls and answers what `respond(the call's number)` resolves to.
pub(crate) fn counted_async<F>(
    calls: &Calls,
    respond: impl Fn(usize) -> F + Clone + Send + Sync + 'static,
) -> MethodRouter
where
    F: Future<Output: IntoResponse> + Send + 'static,
{
    let calls = calls.clone();
    get(move || respond(calls.hit()))
}

/// A route that counts its calls and answers `respond(the call's number)`; a call that `held`
/// picks first waits for a permit of `gate` (the test then acts while the render is under way).
pub(crate) fn held_render<R>(
    calls: &Calls,
    gate: &Arc<tokio::sync::Semaphore>,
    held: impl Fn(usize) -> bool + Clone + Send + Sync + 'static,
    respond: impl Fn(usize) -> R + Clone + Send + Sync + 'static,
) -> MethodRouter
where
    R: IntoResponse + Send + 'static,
{
    let gate = gate.clone();
    counted_async(calls, move |n| {
        let (gate, held, respond) = (gate.clone(), held.clone(), respond.clone());
        async move {
            if held(n) {
                gate.acquire().await.unwrap().forget();
            }
            respond(n)
        }
    })
}

/// Gets a route that answers `respond(the call's number)` twice through a layer over `cache` with
/// the default options; how many times its handler ran (2: the response was not stored).
pub(crate) async fn renders_of_two_gets<R>(
    cache: Cache,
    respond: impl Fn(usize) -> R + Clone + Send + Sync + 'static,
) -> usize
where
    R: IntoResponse + Send + 'static,
{
    let calls = Calls::default();
    let app = Router::new().route("/twice", counted_with(&calls, respond)).layer(CacheLayer::new(cache));
    let server = Server::start(app).await;
    server.get("/twice").await;
    server.get("/twice").await;
    calls.get()
}

/// Waits until `done` holds; fails the test if it does not within 20 s (a hang, not a speed check).
pub(crate) async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < Duration::from_secs(20), "gave up waiting until {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn config(case: &str) -> Config {
    let mut config = Config::default();
    config.key_prefix = format!("http-test:{case}:{:08x}:", rand::random::<u32>());
    config.default_timeout = Expiry::After(Duration::from_secs(300));
    // The facade's default deadline (100 ms) turns a slow backend call into a miss, by design; a
    // thousand concurrent requests on a loaded test machine queue for longer than that, and the
    // stampede test would count the fail-safe's renders, not the layer's. These tests are of the
    // layer: the backend gets time.
    config.fail_safe.deadline = Duration::from_secs(5);
    config
}

/// A SimpleCache of its own.
pub(crate) async fn simple(case: &str) -> Cache {
    let config = config(case);
    let backend = cachette_simple::SimpleCache::new(&config).unwrap();
    Cache::new(Arc::new(backend) as Arc<dyn BaseCache>, config)
}

/// A RedisCache on the shared redis-server of the harness (or `CACHETTE_TEST_REDIS_URL`).
pub(crate) async fn redis(case: &str) -> Cache {
    let mut config = config(case);
    redis::standalone().apply(&mut config);
    let backend = cachette_redis::RedisCache::new(&config).unwrap();
    Cache::new(Arc::new(backend) as Arc<dyn BaseCache>, config)
}

/// A MemcachedCache on the shared memcached of the harness (or `CACHETTE_TEST_MEMCACHED_SERVERS`).
pub(crate) async fn memcached(case: &str) -> Cache {
    let mut config = config(case);
    memcached::single().apply(&mut config);
    let backend = cachette_memcached::MemcachedCache::new(&config).unwrap();
    Cache::new(Arc::new(backend) as Arc<dyn BaseCache>, config)
}
