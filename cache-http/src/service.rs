//! [`CacheService`]: what the layer does with each request (see [`CacheLayer`](crate::CacheLayer)).

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use http::header::{self, HeaderMap};
use http::{Method, Request, Response, request};
use http_body::Body;
use tower::Service;
use tracing::Instrument;

use crate::body::CacheBody;
use crate::call::{Call, Origin, Reply, RequestBody, Seen, StoredBody};
use crate::future::ResponseFuture;
use crate::hit::Lookup;
use crate::miss::Missed;
use crate::policy::directives;
use crate::refresh::Refresh;
use crate::shared::{Settings, State};
use crate::stats::Counters;
use crate::status::Served;

/// Put this in a request's extensions to make the layer render the route again and store the new
/// response, whatever the cache holds (the [`Refresher`](crate::Refresher) does). Clients cannot
/// set extensions; their hard reload is [`CacheLayer::allow_client_refresh`](crate::CacheLayer::allow_client_refresh).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Revalidate;

/// The service made by [`CacheLayer`](crate::CacheLayer) around an inner service `S`.
///
/// The inner service's request body must implement `Default` (axum's `Body` does): background
/// refreshes send it an empty request.
#[derive(Clone)]
pub struct CacheService<S> {
    inner: S,
    settings: Arc<Settings>,
    state: Arc<State>,
}

impl<S> CacheService<S> {
    pub(crate) fn new(inner: S, settings: Arc<Settings>, state: Arc<State>) -> Self {
        CacheService { inner, settings, state }
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The inner service, without the cache. The layer's entries and counters live on in the
    /// layer and its other services.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S: std::fmt::Debug> std::fmt::Debug for CacheService<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CacheService").field("inner", &self.inner).finish_non_exhaustive()
    }
}

/// How a request uses the cache.
struct Plan {
    key: String,
    /// Render and store again without looking.
    force: bool,
    /// The tags read with the entry (see [`Call::tags`]).
    tags: Vec<String>,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for CacheService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ReqBody: Default + Send + 'static,
    ResBody: Body<Data = Bytes> + Send + 'static,
    ResBody::Error: Send + 'static,
{
    type Response = Response<CacheBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResBody, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        // The ready service handles this request; a clone takes its place (tower's pattern).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let (parts, body) = request.into_parts();
        match plan(&self.settings, &parts) {
            // Not boxed: a request that does not use the cache costs the inner future alone.
            None => {
                Counters::add(&self.state.counters.bypassed);
                crate::observe::response(&self.settings.route, "bypass");
                drop(crate::observe::request_span(&self.settings.route, &parts.method, None));
                ResponseFuture::passthrough(inner.call(Request::from_parts(parts, body)))
            }
            Some(Plan { key, force, tags }) => {
                let span = crate::observe::request_span(&self.settings.route, &parts.method, Some(&key));
                let (settings, state) = (self.settings.clone(), self.state.clone());
                let call =
                    Call { settings, state, parts, key, force, tags, seen: Seen::default(), render_started: None };
                let Some(span) = span else { return ResponseFuture::cached(Box::pin(respond(call, inner, body))) };
                // The request's work polled inside its span; its time to the response's head.
                let started = Instant::now();
                let timed = span.clone();
                ResponseFuture::cached(Box::pin(
                    async move {
                        let reply = respond(call, inner, body).await;
                        timed.record("latency_us", started.elapsed().as_micros() as u64);
                        reply
                    }
                    .instrument(span),
                ))
            }
        }
    }
}

/// Whether and under which key a request uses the cache: not for methods other than `GET` and
/// `HEAD`, requests `unless` skips, requests with untrusted proxy headers, credentials outside
/// `per_user` routes, or requests that cannot be keyed.
fn plan(settings: &Settings, parts: &request::Parts) -> Option<Plan> {
    if parts.method != Method::GET && parts.method != Method::HEAD {
        return None;
    }
    if settings.unless.as_ref().is_some_and(|skip| skip(parts)) {
        return None;
    }
    // A proxy header the layer was not told about may be forged, and may change the page.
    if let Some(name) = settings.proxy.untrusted(&parts.headers) {
        tracing::debug!(header = %name, "cachette-http: an untrusted proxy header; not using the cache (see CacheLayer::trust_proxy_headers)");
        return None;
    }
    let user = match &settings.per_user {
        Some(user_of) => Some(user_of(parts)?),
        // A shared entry must not be served to, or rendered for, a request with credentials.
        None if parts.headers.contains_key(header::AUTHORIZATION) || parts.headers.contains_key(header::COOKIE) => {
            return None;
        }
        None => None,
    };
    let revalidate = parts.extensions.get::<Revalidate>().is_some();
    if revalidate && settings.key.is_none() && settings.default_key.host && !names_a_host(parts) {
        tracing::warn!(
            path = parts.uri.path(),
            "cachette-http: a revalidation names no host, so it renders an entry no request for a host is served; \
             give the Refresher a URL (https://example.com/report), or use CacheLayer::ignore_host if one host reaches the service"
        );
    }
    let force = revalidate
        || (settings.client_reload && asks_reload(&parts.headers))
        || settings.forced_update.as_ref().is_some_and(|force| force(parts));
    let (key, tags) = settings.key_and_tags(parts, user.as_deref())?;
    Some(Plan { key, force, tags })
}

/// Whether the request names the host it is for (in its URI or a `Host` header).
fn names_a_host(parts: &request::Parts) -> bool {
    parts.uri.authority().is_some() || parts.headers.contains_key(header::HOST)
}

/// A client's hard reload: `Cache-Control: no-cache` (or `max-age=0`), or `Pragma: no-cache`.
fn asks_reload(headers: &HeaderMap) -> bool {
    let cache_control =
        headers.get_all(header::CACHE_CONTROL).iter().filter_map(|v| v.to_str().ok()).any(|v| {
            directives(v).any(|(name, value)| name == "no-cache" || (name == "max-age" && value == Some("0")))
        });
    cache_control || headers.get(header::PRAGMA).and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("no-cache"))
}

/// A request that uses the cache: a fresh entry is served at once; a stale one too, while one
/// background refresh starts; anything else is a miss.
async fn respond<S, ReqBody, ResBody>(mut call: Call, inner: S, body: ReqBody) -> Reply<ResBody, S::Error>
where
    S: Origin<ReqBody, ResBody>,
    ReqBody: RequestBody,
    ResBody: StoredBody,
{
    // Read before the lookup: a store that finishes after this may have been missed by it.
    let stores_seen = call.state.flights.stores();
    let (fallback, failed) = if call.force {
        (None, false)
    } else {
        let now = call.now();
        match call.lookup(now).await {
            Lookup::Fresh(entry) => {
                Counters::add(&call.counters().hits);
                if let Some(beta) = call.settings.early_refresh
                    && let Some(fresh_until) = entry.entry.fresh_until()
                    && cachette_core::early_refresh_due(now, fresh_until, entry.entry.render_time(), beta)
                {
                    call.spawn_refresh(&inner, Refresh::Early);
                }
                return Ok(call.serve(&entry, now, Served::Hit));
            }
            Lookup::Stale(entry) => {
                Counters::add(&call.counters().stale);
                call.spawn_refresh(&inner, Refresh::Stale);
                return Ok(call.serve(&entry, now, Served::Stale));
            }
            Lookup::Fallback(entry) => (Some(entry), false),
            Lookup::Failed => (None, true),
            Lookup::Missing => (None, false),
        }
    };
    // Boxed on its own, so that a hit does not allocate and move the much larger miss machinery.
    Box::pin(call.miss(inner, body, Missed { stores_seen, fallback, failed, lease: None })).await
}
