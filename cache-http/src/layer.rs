//! [`CacheLayer`]: the builder of a cached route's options, and its `Layer` impl.

use std::sync::Arc;
use std::time::Duration;

use cachette_core::{Cache, Result};
use http::{HeaderName, request, response};
use tower::Layer;

use crate::clock::Clock;
use crate::freshness::Freshness;
use crate::key::{DefaultKey, host_header};
use crate::observe::{Route, UNNAMED};
use crate::policy::CacheControl;
use crate::proxy::ProxyHeaders;
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
///   a request for which [`unless`](Self::unless) says so, a request with a proxy header the
///   layer does not [trust](Self::trust_proxy_headers), and — unless the route caches
///   [`per_user`](Self::per_user) — a request with `Authorization` or `Cookie`, goes straight to the
///   inner service.
/// * The key is the method, the host, the path and the normalised query (see
///   [`ignore_host`](Self::ignore_host), [`vary`](Self::vary), [`key_fn`](Self::key_fn)).
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
                stale_if_error: Duration::ZERO,
                key: None,
                default_key: DefaultKey::default(),
                proxy: ProxyHeaders::default(),
                per_user: None,
                unless: None,
                response_filter: Arc::new(|res: &response::Parts| res.status == http::StatusCode::OK),
                cache_control: None,
                client_reload: false,
                max_body_size: DEFAULT_MAX_BODY_SIZE,
                clock: Clock::system(),
                namespace: "http:".into(),
                tags: Vec::new(),
                keep_tag_headers: false,
                early_refresh: None,
                route: Route::Borrowed(UNNAMED),
                forced_update: None,
                body_filter: None,
                is_stale: None,
            }),
            state: Arc::new(State::new(cache)),
        }
    }

    pub(crate) fn settings_mut(&mut self) -> &mut Settings {
        Arc::make_mut(&mut self.settings)
    }

    /// How long a response stays fresh: a `Ttl` or `Duration`, [`Freshness::until_midnight`], or
    /// [`Freshness::from_fn`] computed per response. A handler's [`CacheTtl`](crate::CacheTtl) wins.
    /// By default, `Ttl::Default`: the cache's `CACHE_DEFAULT_TIMEOUT`.
    pub fn fresh_for(mut self, freshness: impl Into<Freshness>) -> Self {
        self.settings_mut().fresh_for = freshness.into();
        self
    }

    /// Serve an entry for up to `margin` past its fresh period while one background refresh
    /// renders a new one (`X-Cache: STALE`). Off (zero) by default.
    pub fn stale_while_revalidate(mut self, margin: Duration) -> Self {
        self.settings_mut().stale = margin;
        self
    }

    /// Serve an entry for up to `grace` past its fresh period when its render fails — the inner
    /// service returns an error, answers a `5xx`, or panics — instead of the failure
    /// (`X-Cache: STALE`; RFC 5861's `stale-if-error`), counted in
    /// [`HttpCacheStats::stale_if_error`] and logged. Off (zero) by default. The backend keeps each
    /// entry for its fresh period plus the longer of this and
    /// [`stale_while_revalidate`](Self::stale_while_revalidate). Tell clients and CDNs with
    /// [`CacheControl::stale_if_error`](crate::CacheControl::stale_if_error).
    ///
    /// ```
    /// use std::sync::{Arc, atomic::{AtomicBool, AtomicU64, Ordering::Relaxed}};
    /// use std::time::{Duration, SystemTime};
    /// use axum::{Router, body::Body, routing::get};
    /// use cachette_core::{Cache, Config};
    /// use cachette_http::{CacheControl, CacheLayer, Clock};
    /// use cachette_simple::SimpleCache;
    /// use http::StatusCode;
    /// use tower::ServiceExt;
    /// # async fn get_prices(app: &Router) -> (StatusCode, String) {
    /// #     let response = app.clone().oneshot(http::Request::get("/prices").body(Body::empty()).unwrap()).await.unwrap();
    /// #     (response.status(), response.headers()["x-cache"].to_str().unwrap().to_owned())
    /// # }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let cache = Cache::new(Arc::new(SimpleCache::new(&Config::default())?), Config::default());
    /// let (start, minutes, database_up) = (SystemTime::now(), Arc::new(AtomicU64::new(0)), Arc::new(AtomicBool::new(true)));
    /// let (m, up) = (minutes.clone(), database_up.clone());
    /// let hour = Duration::from_secs(3600);
    /// let layer = CacheLayer::new(cache)
    ///     .fresh_for(Duration::from_secs(60))
    ///     .stale_if_error(hour)
    ///     .cache_control(CacheControl::public().max_age_until_expiry().stale_if_error(hour))
    ///     .clock(Clock::from_fn(move || start + Duration::from_secs(60 * m.load(Relaxed)))); // minutes that the example moves
    /// let prices = get(move || {
    ///     let up = up.load(Relaxed);
    ///     async move { if up { (StatusCode::OK, "prices") } else { (StatusCode::SERVICE_UNAVAILABLE, "try later") } }
    /// });
    /// let app = Router::new().route("/prices", prices).layer(layer.clone());
    ///
    /// assert_eq!(get_prices(&app).await, (StatusCode::OK, "MISS".into()));
    /// database_up.store(false, Relaxed);
    /// minutes.store(2, Relaxed); // past the fresh minute, within the hour's grace: the old prices
    /// assert_eq!(get_prices(&app).await, (StatusCode::OK, "STALE".into()));
    /// minutes.store(62, Relaxed); // past the grace: the failure
    /// assert_eq!(get_prices(&app).await, (StatusCode::SERVICE_UNAVAILABLE, "MISS".into()));
    /// assert_eq!(layer.stats().stale_if_error, 1);
    /// # Ok(()) }
    /// ```
    pub fn stale_if_error(mut self, grace: Duration) -> Self {
        self.settings_mut().stale_if_error = grace;
        self
    }

    /// A key of your own for each request, instead of the default one: method, host, path,
    /// normalised query, and the values of the `vary` and trusted proxy headers. Requests that
    /// get the same key share an entry; the host and the proxy headers are then yours to key.
    /// (Requests with untrusted proxy headers still bypass the cache.)
    pub fn key_fn(mut self, key: impl Fn(&request::Parts) -> String + Send + Sync + 'static) -> Self {
        self.settings_mut().key = Some(Arc::new(key));
        self
    }

    /// Request headers whose values are part of the key, so each value gets its own entry
    /// (e.g. `Accept-Language`). A response's own `Vary` is honoured either way: an entry serves
    /// only requests with the values it was rendered for.
    pub fn vary(mut self, headers: impl IntoIterator<Item = HeaderName>) -> Self {
        self.settings_mut().default_key.vary = headers.into_iter().collect();
        self
    }

    /// Leaves the host out of the key: requests for any host share the entries. Only when one
    /// host reaches this service (a proxy in front of it answers for one name and sets `Host`
    /// itself); otherwise a page rendered for `Host: evil.example` would be served to everyone.
    ///
    /// By default the key includes the host the request is for — the `Host` header, or the URI's
    /// authority (HTTP/2's `:authority`, absolute-form requests) — lower-case, without a trailing
    /// dot, and without the default port of the scheme the request states; and the scheme, when
    /// it states one.
    pub fn ignore_host(mut self) -> Self {
        self.settings_mut().default_key.host = false;
        self
    }

    /// The proxy headers your reverse proxy sets on every request (overwriting what clients
    /// send), such as [`X_FORWARDED_HOST`](crate::X_FORWARDED_HOST) and
    /// [`X_FORWARDED_PROTO`](crate::X_FORWARDED_PROTO): their values become part of the key.
    ///
    /// Proxy headers — `Forwarded`, `X-Forwarded-*`, `X-Host`, `X-Original-Host`,
    /// `X-Original-URL`, `X-Rewrite-URL`, `X-Real-IP` — are trusted by none by default: a request
    /// with one the layer was not told about bypasses the cache, since a client may have forged
    /// it and a handler may build the page from it.
    pub fn trust_proxy_headers(mut self, headers: impl IntoIterator<Item = HeaderName>) -> Self {
        self.settings_mut().proxy.trusted = headers.into_iter().collect();
        self
    }

    /// Proxy headers that no handler behind this layer reads, such as the
    /// [`X_FORWARDED_FOR`](crate::X_FORWARDED_FOR) a load balancer adds to every request: neither
    /// keyed nor a reason to bypass the cache. Only for headers your handlers (and the
    /// middleware inside the layer) never read; the ones they read are to be
    /// [trusted](Self::trust_proxy_headers).
    pub fn ignore_proxy_headers(mut self, headers: impl IntoIterator<Item = HeaderName>) -> Self {
        self.settings_mut().proxy.ignored = headers.into_iter().collect();
        self
    }

    /// Caches per user: `user` names the user of a request (from a session cookie, a token, ...)
    /// and becomes part of the key; `None` skips the cache for the request. Without this, a
    /// request with `Authorization` or `Cookie` is never served from or stored in the shared
    /// entry. Per-user entries may be `Cache-Control: private`.
    pub fn per_user(mut self, user: impl Fn(&request::Parts) -> Option<String> + Send + Sync + 'static) -> Self {
        self.settings_mut().per_user = Some(Arc::new(user));
        self
    }

    /// Skips the cache for requests for which `skip` is true (Flask-Caching's `unless`).
    pub fn unless(mut self, skip: impl Fn(&request::Parts) -> bool + Send + Sync + 'static) -> Self {
        self.settings_mut().unless = Some(Arc::new(skip));
        self
    }

    /// Which responses may be stored (default: status 200). `Set-Cookie`, `no-store`, `private`
    /// (outside [`per_user`](Self::per_user)) and `Vary: *` responses are never stored, whatever
    /// the filter says.
    pub fn response_filter(mut self, store: impl Fn(&response::Parts) -> bool + Send + Sync + 'static) -> Self {
        self.settings_mut().response_filter = Arc::new(store);
        self
    }

    /// The `Cache-Control` header sent to clients with the route's cacheable responses (those
    /// without one of their own). [`CacheControl::no_store`] and [`CacheControl::private`] also
    /// keep the layer itself from storing them in the shared entry.
    pub fn cache_control(mut self, policy: CacheControl) -> Self {
        self.settings_mut().cache_control = Some(policy);
        self
    }

    /// Whether a client's `Cache-Control: no-cache` (or `max-age=0`) or `Pragma: no-cache` — a
    /// browser's hard reload — re-renders the entry. Off by default, so that clients cannot bust a
    /// shared cache at will; turn it on for routes where a user's reload should show the latest
    /// data.
    pub fn allow_client_refresh(mut self, allow: bool) -> Self {
        self.settings_mut().client_reload = allow;
        self
    }

    /// The largest body stored, in bytes (default [`DEFAULT_MAX_BODY_SIZE`]); larger responses are
    /// streamed to the client and not stored.
    pub fn max_body_size(mut self, bytes: usize) -> Self {
        self.settings_mut().max_body_size = bytes;
        self
    }

    /// The clock for freshness and computed fresh periods (tests inject a fixed one).
    pub fn clock(mut self, clock: Clock) -> Self {
        self.settings_mut().clock = clock;
        self
    }

    /// The prefix of this layer's keys in the cache (default `http:`), so that two layers over one
    /// cache with overlapping paths keep apart.
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.settings_mut().namespace = namespace.into();
        self
    }

    /// Tags on every entry this layer stores, besides those its handlers give
    /// ([`CacheTags`](crate::CacheTags), `Cache-Tag`, `Surrogate-Key`):
    /// [`Cache::invalidate_tag`](cachette_core::Cache::invalidate_tag) of one makes them all
    /// misses. Read with the entry, in the same round trip.
    pub fn tags<T: Into<String>>(mut self, tags: impl IntoIterator<Item = T>) -> Self {
        self.settings_mut().tags = tags.into_iter().map(Into::into).collect();
        self
    }

    /// Sends (and stores) the `Cache-Tag` and `Surrogate-Key` headers of responses, for a CDN in
    /// front that purges by them. By default the layer reads them and strips them.
    pub fn keep_tag_headers(mut self) -> Self {
        self.settings_mut().keep_tag_headers = true;
        self
    }

    /// Probabilistic early refresh (XFetch: Vattani, Chierichetti and Lowenstein, VLDB 2015), as
    /// [`LoadPolicy::early_refresh`](cachette_core::LoadPolicy::early_refresh) does for computed
    /// values: a hit on a fresh entry starts one background refresh of it, while it is served,
    /// with a probability that grows as its fresh period nears its end, weighted by how long its
    /// render took (each entry records it) — a hit at `now` refreshes when
    /// `now - render_time * beta * ln(u) >= fresh_until` for a uniform `u` in (0, 1]. So a hot
    /// route is rendered again by one request shortly before it would expire, rather than by
    /// every request after; a route hit rarely is left to expire. `beta` 1.0 is the paper's
    /// optimum; more refreshes earlier. One refresh per key at a time, across processes too (the
    /// lock stale-while-revalidate takes); counted in [`HttpCacheStats::early_refreshes`]. A
    /// `beta` that is not a positive finite number turns it off (the default).
    ///
    /// ```
    /// use std::time::Duration;
    /// use cachette_http::CacheLayer;
    /// # fn build(cache: cachette_core::Cache) -> CacheLayer {
    /// CacheLayer::new(cache).fresh_for(Duration::from_secs(60)).early_refresh(1.0)
    /// # }
    /// ```
    pub fn early_refresh(mut self, beta: f64) -> Self {
        self.settings_mut().early_refresh = (beta.is_finite() && beta > 0.0).then_some(beta);
        self
    }

    /// The name of the route in metrics (the `route` label), hooks
    /// ([`EventSource::View`](cachette_core::EventSource)) and logs: a route template such as
    /// `/users/{id}`, never a request's path (metrics labels must be a bounded set). `unnamed`
    /// until given.
    ///
    /// ```
    /// # fn build(cache: cachette_core::Cache) -> cachette_http::CacheLayer {
    /// cachette_http::CacheLayer::new(cache).route_name("/users/{id}")
    /// # }
    /// ```
    pub fn route_name(mut self, name: impl Into<std::borrow::Cow<'static, str>>) -> Self {
        self.settings_mut().route = name.into();
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

    /// Forgets the stored responses of the view `target`, e.g. after the data behind it
    /// changed: what [`ViewCache::delete_cached`](crate::ViewCache::delete_cached) does — every
    /// `Vary` variant, user and query (for a target without one) — after waiting for this
    /// layer's write of a response just rendered for it (at most the cache's deadline), so that
    /// the entry it forgets is not written after it. Returns whether there was an entry for a
    /// `GET` of `target` with no `vary` headers, no trusted proxy headers and no user.
    ///
    /// `target` is a URL with the host (`https://good.example/report?day=1`): the entries of
    /// HTTP/1 requests with `Host: good.example` and of requests that state the scheme (HTTP/2).
    /// A path alone (`/report?day=1`) is the entries of requests that name no host, which is
    /// every request's on a layer that [`ignore_host`](Self::ignore_host)s.
    pub async fn invalidate(&self, target: &str) -> Result<bool> {
        let keys = self.keys_of(target)?;
        let tags = crate::invalidate::view_tags(target)?;
        for key in &keys {
            if let Some(stored) = self.state.flights.storing(key) {
                let _ = stored.await;
            }
        }
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        let deleted = self.state.cache.delete_many(&keys).await? > 0;
        let tags: Vec<&str> = tags.iter().map(String::as_str).collect();
        self.state.cache.invalidate_tags(&tags).await?;
        let view = cachette_core::EventSource::View { route: &self.settings.route };
        let event = cachette_core::CacheEvent::new(cachette_core::EventKind::Invalidate, view, keys[0]);
        self.state.cache.emit(&event);
        Ok(deleted)
    }

    /// The keys of a `GET` of `target` (see [`invalidate`](Self::invalidate)).
    fn keys_of(&self, target: &str) -> Result<Vec<String>> {
        let invalid = |message: String| cachette_core::CacheError::InvalidKey { key: target.to_owned(), message };
        let request = |uri: &str, host: Option<&str>| {
            let mut request = http::Request::get(uri);
            if let Some(host) = host {
                request = request.header(http::header::HOST, host);
            }
            request.body(()).map(|r| r.into_parts().0).map_err(|e| {
                invalid(format!("not a request target ({e}): give a path such as /report?day=1 or a URL such as https://example.com/report"))
            })
        };
        let key = |parts: &request::Parts| {
            self.settings.cache_key(parts, None).ok_or_else(|| {
                invalid("the layer cannot key it (two hosts, or a query that does not decode as UTF-8)".to_owned())
            })
        };
        let stated = request(target, None)?;
        let mut keys = vec![key(&stated)?];
        // The same target as an HTTP/1 client asks for it: the path, and the host in `Host`.
        if let Some(host) = host_header(&stated.uri) {
            let path = stated.uri.path_and_query().map_or("/", |p| p.as_str());
            let plain = key(&request(path, Some(&host))?)?;
            if plain != keys[0] {
                keys.push(plain);
            }
        }
        Ok(keys)
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
            .field("stale_if_error", &self.settings.stale_if_error)
            .field("cache_control", &self.settings.cache_control)
            .field("max_body_size", &self.settings.max_body_size)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}
