//! [`CacheLayer`]: the builder of a cached route's options, and its `Layer` impl.

use std::sync::Arc;
use std::time::Duration;

use cachette_core::{Cache, Result};
use http::{HeaderName, request, response};
use tower::Layer;

use crate::clock::Clock;
use crate::freshness::Freshness;
use crate::policy::CacheControl;
use crate::service::CacheService;
use crate::shared::{Settings, State};
use crate::stats::HttpCacheStats;

/// The largest body stored by default: 1 MiB. Larger responses are streamed through, not stored.
pub const DEFAULT_MAX_BODY_SIZE: usize = 1024 * 1024;

/// Caches whole responses of the services it wraps: an axum `Router`, one route, or any tower
/// `Service` of `http::Request`s.
///
/// What happens to a request:
///
/// * Only `GET` and `HEAD` are looked up (a `HEAD` is answered from the `GET` entry); anything else,
///   a request for which [`unless`](Self::unless) says so, and — unless the route caches
///   [`per_user`](Self::per_user) — a request with `Authorization` or `Cookie`, goes straight to the
///   inner service.
/// * A fresh entry is served at once (`X-Cache: HIT`), or `304 Not Modified` if the client's
///   `If-None-Match` / `If-Modified-Since` says its copy is current.
/// * Within the [`stale_while_revalidate`](Self::stale_while_revalidate) margin after the fresh
///   period, the entry is served at once (`X-Cache: STALE`) and one background refresh runs,
///   however many requests arrive meanwhile (one per key across processes, too, on a shared
///   backend). A refresh that fails keeps the stale entry.
/// * Otherwise (`X-Cache: MISS`) the inner service renders it — once for any number of concurrent
///   misses of the key — and the response is streamed to the client and stored if it may be:
///   by default a `200` without `Set-Cookie`, not `no-store`, not `private` (except per user), not
///   `Vary: *`, and at most [`max_body_size`](Self::max_body_size) bytes.
/// * How long it stays fresh: the handler's [`CacheTtl`](crate::CacheTtl) response extension if
///   it set one, else the layer's [`fresh_for`](Self::fresh_for) (by default the cache's
///   `CACHE_DEFAULT_TIMEOUT`).
///
/// A failing cache backend never fails a request: the error is logged with `tracing`, counted in
/// [`stats`](Self::stats), and the request is served by the inner service.
///
/// ```
/// use std::time::Duration;
/// use axum::{Router, routing::get};
/// use cachette_core::{Cache, Config};
/// use cachette_http::{CacheControl, CacheLayer, Freshness};
///
/// # fn build(cache: Cache) -> Router {
/// let layer = CacheLayer::new(cache)
///     .fresh_for(Freshness::until_midnight(0))
///     .stale_while_revalidate(Duration::from_secs(60))
///     .cache_control(CacheControl::public().max_age_until_expiry());
/// Router::new().route("/report", get(|| async { "today's report" })).layer(layer)
/// # }
/// ```
#[derive(Clone)]
pub struct CacheLayer {
    pub(crate) settings: Arc<Settings>,
    pub(crate) state: Arc<State>,
}

impl CacheLayer {
    /// A layer that stores responses in `cache` (any backend), with the cache's default fresh period
    /// and no `Cache-Control` policy.
    pub fn new(cache: Cache) -> CacheLayer {
        CacheLayer {
            settings: Arc::new(Settings {
                fresh_for: Freshness::default(),
                stale: Duration::ZERO,
                key: None,
                vary: Vec::new(),
                per_user: None,
                unless: None,
                response_filter: Arc::new(|res: &response::Parts| res.status == http::StatusCode::OK),
                cache_control: None,
                client_reload: false,
                max_body_size: DEFAULT_MAX_BODY_SIZE,
                clock: Clock::system(),
                namespace: "http:".into(),
            }),
            state: Arc::new(State::new(cache)),
        }
    }

    fn settings(&mut self) -> &mut Settings {
        Arc::make_mut(&mut self.settings)
    }

    /// How long a response stays fresh: a `Ttl` or `Duration`, [`Freshness::until_midnight`], or
    /// [`Freshness::from_fn`] computed per response. A handler's [`CacheTtl`](crate::CacheTtl) wins.
    /// By default, `Ttl::Default`: the cache's `CACHE_DEFAULT_TIMEOUT`.
    pub fn fresh_for(mut self, freshness: impl Into<Freshness>) -> Self {
        self.settings().fresh_for = freshness.into();
        self
    }

    /// Serve an entry for up to `margin` past its fresh period while one background refresh
    /// renders a new one (`X-Cache: STALE`). Off (zero) by default.
    pub fn stale_while_revalidate(mut self, margin: Duration) -> Self {
        self.settings().stale = margin;
        self
    }

    /// A key of your own for each request, instead of method + path + sorted query + `vary`
    /// headers. Requests that get the same key share an entry.
    pub fn key_fn(mut self, key: impl Fn(&request::Parts) -> String + Send + Sync + 'static) -> Self {
        self.settings().key = Some(Arc::new(key));
        self
    }

    /// Request headers whose values are part of the key, so each value gets its own entry
    /// (e.g. `Accept-Language`). A response's own `Vary` is honoured either way: an entry serves
    /// only requests with the values it was rendered for.
    pub fn vary(mut self, headers: impl IntoIterator<Item = HeaderName>) -> Self {
        self.settings().vary = headers.into_iter().collect();
        self
    }

    /// Caches per user: `user` names the user of a request (from a session cookie, a token, ...)
    /// and becomes part of the key; `None` skips the cache for the request. Without this, a
    /// request with `Authorization` or `Cookie` is never served from or stored in the shared
    /// entry. Per-user entries may be `Cache-Control: private`.
    pub fn per_user(mut self, user: impl Fn(&request::Parts) -> Option<String> + Send + Sync + 'static) -> Self {
        self.settings().per_user = Some(Arc::new(user));
        self
    }

    /// Skips the cache for requests for which `skip` is true (Flask-Caching's `unless`).
    pub fn unless(mut self, skip: impl Fn(&request::Parts) -> bool + Send + Sync + 'static) -> Self {
        self.settings().unless = Some(Arc::new(skip));
        self
    }

    /// Which responses may be stored (default: status 200). `Set-Cookie`, `no-store`, `private`
    /// (outside [`per_user`](Self::per_user)) and `Vary: *` responses are never stored, whatever
    /// the filter says.
    pub fn response_filter(mut self, store: impl Fn(&response::Parts) -> bool + Send + Sync + 'static) -> Self {
        self.settings().response_filter = Arc::new(store);
        self
    }

    /// The `Cache-Control` header sent to clients with the route's cacheable responses (those
    /// without one of their own). [`CacheControl::no_store`] and [`CacheControl::private`] also
    /// keep the layer itself from storing them in the shared entry.
    pub fn cache_control(mut self, policy: CacheControl) -> Self {
        self.settings().cache_control = Some(policy);
        self
    }

    /// Whether a client's `Cache-Control: no-cache` (or `max-age=0`) or `Pragma: no-cache` — a
    /// browser's hard reload — re-renders the entry. Off by default, so that clients cannot bust a
    /// shared cache at will; turn it on for routes where a user's reload should show the latest
    /// data.
    pub fn allow_client_refresh(mut self, allow: bool) -> Self {
        self.settings().client_reload = allow;
        self
    }

    /// The largest body stored, in bytes (default [`DEFAULT_MAX_BODY_SIZE`]); larger responses are
    /// streamed to the client and not stored.
    pub fn max_body_size(mut self, bytes: usize) -> Self {
        self.settings().max_body_size = bytes;
        self
    }

    /// The clock for freshness and computed fresh periods (tests inject a fixed one).
    pub fn clock(mut self, clock: Clock) -> Self {
        self.settings().clock = clock;
        self
    }

    /// The prefix of this layer's keys in the cache (default `http:`), so that two layers over one
    /// cache with overlapping paths keep apart.
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.settings().namespace = namespace.into();
        self
    }

    /// The counters of this layer and every clone of it.
    pub fn stats(&self) -> HttpCacheStats {
        self.state.counters.snapshot()
    }

    /// The cache the layer stores responses in.
    pub fn cache(&self) -> &Cache {
        &self.state.cache
    }

    /// Forgets the stored response for a `GET` of `path_and_query` (with no `vary` headers and no
    /// user), e.g. after the data behind it changed. Returns whether there was one.
    pub async fn invalidate(&self, path_and_query: &str) -> Result<bool> {
        let parts = http::Request::get(path_and_query)
            .body(())
            .map_err(|e| cachette_core::CacheError::InvalidKey {
                key: path_and_query.to_owned(),
                message: format!("not a request path ({e}): give a path such as /report?day=1"),
            })?
            .into_parts()
            .0;
        let key = self.settings.cache_key(&parts, None);
        self.state.cache.delete(&key).await
    }
}

impl<S> Layer<S> for CacheLayer {
    type Service = CacheService<S>;

    fn layer(&self, inner: S) -> CacheService<S> {
        CacheService::new(inner, self.settings.clone(), self.state.clone())
    }
}

impl std::fmt::Debug for CacheLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CacheLayer")
            .field("fresh_for", &self.settings.fresh_for)
            .field("stale_while_revalidate", &self.settings.stale)
            .field("cache_control", &self.settings.cache_control)
            .field("max_body_size", &self.settings.max_body_size)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}
