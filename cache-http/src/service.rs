//! [`CacheService`]: what the layer does with each request (see [`CacheLayer`](crate::CacheLayer)).

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use cachette_core::Ttl;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, Request, Response, StatusCode, request, response};
use http_body::Body;
use tower::{Service, ServiceExt};

use crate::body::{CacheBody, Tee};
use crate::conditional::not_modified;
use crate::entry::{Entry, Staleness, vary_values};
use crate::flight::{Leader, Outcome, Role};
use crate::freshness::CacheTtl;
use crate::future::ResponseFuture;
use crate::policy::directives;
use crate::shared::{Settings, State};
use crate::stats::Counters;

/// The `X-Cache` header: `HIT`, `MISS` or `STALE`.
pub const X_CACHE: header::HeaderName = header::HeaderName::from_static("x-cache");

/// Put this in a request's extensions to make the layer render the route again and store the new
/// response, whatever the cache holds (the [`Refresher`](crate::Refresher) does). Clients cannot
/// set extensions; their hard refresh is [`CacheLayer::allow_client_refresh`](crate::CacheLayer::allow_client_refresh).
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
}

impl<S: std::fmt::Debug> std::fmt::Debug for CacheService<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CacheService").field("inner", &self.inner).finish_non_exhaustive()
    }
}

/// How a request uses the cache.
struct Plan {
    key: String,
    /// Render and store again without looking (a refresh).
    force: bool,
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
            None => {
                Counters::add(&self.state.counters.bypassed);
                ResponseFuture::passthrough(inner.call(Request::from_parts(parts, body)))
            }
            Some(plan) => {
                let (settings, state) = (self.settings.clone(), self.state.clone());
                ResponseFuture::cached(Box::pin(cached(settings, state, inner, parts, body, plan)))
            }
        }
    }
}

/// Whether and under which key a request uses the cache.
fn plan(settings: &Settings, parts: &request::Parts) -> Option<Plan> {
    if parts.method != Method::GET && parts.method != Method::HEAD {
        return None;
    }
    if settings.unless.as_ref().is_some_and(|skip| skip(parts)) {
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
    let force =
        parts.extensions.get::<Revalidate>().is_some() || (settings.client_refresh && asks_refresh(&parts.headers));
    Some(Plan { key: settings.cache_key(parts, user.as_deref()), force })
}

/// A client's hard refresh: `Cache-Control: no-cache` (or `max-age=0`), or `Pragma: no-cache`.
fn asks_refresh(headers: &HeaderMap) -> bool {
    let cache_control =
        headers.get_all(header::CACHE_CONTROL).iter().filter_map(|v| v.to_str().ok()).any(|v| {
            directives(v).any(|(name, value)| name == "no-cache" || (name == "max-age" && value == Some("0")))
        });
    cache_control || headers.get(header::PRAGMA).and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("no-cache"))
}

type Reply<B, E> = Result<Response<CacheBody<B>>, E>;

/// The bounds of [`CacheService`]'s `Service` impl on the inner service, stated once for the
/// functions below.
trait Inner<ReqBody, ResBody>:
    Service<Request<ReqBody>, Response = Response<ResBody>, Future: Send + 'static, Error: Send + 'static>
    + Clone
    + Send
    + 'static
{
}

impl<S, ReqBody, ResBody> Inner<ReqBody, ResBody> for S where
    S: Service<Request<ReqBody>, Response = Response<ResBody>, Future: Send + 'static, Error: Send + 'static>
        + Clone
        + Send
        + 'static
{
}

/// The bounds on the inner service's response body.
trait StoredBody: Body<Data = Bytes, Error: Send + 'static> + Send + 'static {}

impl<B> StoredBody for B where B: Body<Data = Bytes, Error: Send + 'static> + Send + 'static {}

async fn cached<S, ReqBody, ResBody>(
    settings: Arc<Settings>,
    state: Arc<State>,
    inner: S,
    parts: request::Parts,
    body: ReqBody,
    plan: Plan,
) -> Reply<ResBody, S::Error>
where
    S: Inner<ReqBody, ResBody>,
    ReqBody: Default + Send + 'static,
    ResBody: StoredBody,
{
    let counters = &state.counters;
    if !plan.force {
        let now = settings.clock.now();
        match lookup(&state, &plan.key, &parts, now).await {
            Some((entry, Staleness::Fresh)) => {
                Counters::add(&counters.hits);
                return Ok(serve(&settings, &state, &entry, &parts, now, "HIT"));
            }
            Some((entry, _stale)) => {
                Counters::add(&counters.stale);
                spawn_refresh(&settings, &state, &inner, &parts, &plan.key);
                return Ok(serve(&settings, &state, &entry, &parts, now, "STALE"));
            }
            None => {}
        }
    }
    // Boxed on its own, so that a hit does not allocate and move the much larger miss machinery.
    Box::pin(miss(settings, state, inner, parts, body, plan)).await
}

/// A miss: wait for the render of the key in progress, or lead one.
async fn miss<S, ReqBody, ResBody>(
    settings: Arc<Settings>,
    state: Arc<State>,
    inner: S,
    parts: request::Parts,
    body: ReqBody,
    plan: Plan,
) -> Reply<ResBody, S::Error>
where
    S: Inner<ReqBody, ResBody>,
    ReqBody: Default + Send + 'static,
    ResBody: StoredBody,
{
    let counters = &state.counters;
    loop {
        match state.flights.join(&plan.key) {
            Role::Follower(waiter) => match waiter.await {
                Ok(Outcome::Stored(entry)) if entry.matches_vary(&parts.headers) => {
                    Counters::add(&counters.misses);
                    return Ok(serve(&settings, &state, &entry, &parts, settings.clock.now(), "MISS"));
                }
                // Not storable, or rendered for other Vary values: render our own, uncached.
                Ok(_) => {
                    Counters::add(&counters.misses);
                    let (mut head, body) = passthrough(inner, parts.clone(), body).await?.into_parts();
                    let now = settings.clock.now();
                    decorate_miss(&settings, &mut head, |head| fresh_period(&settings, &state, &parts, head, now));
                    return Ok(Response::from_parts(head, body));
                }
                // The leader went away without an answer (client gone, error): look again, and
                // lead if nobody else does.
                Err(_) => {
                    if !plan.force
                        && let Some((entry, Staleness::Fresh)) =
                            lookup(&state, &plan.key, &parts, settings.clock.now()).await
                    {
                        Counters::add(&counters.hits);
                        return Ok(serve(&settings, &state, &entry, &parts, settings.clock.now(), "HIT"));
                    }
                }
            },
            Role::Leader(leader) => {
                // A render of this key may have finished between our miss and our lead: look once
                // more, so that one burst of misses is one render.
                if !plan.force
                    && let Some((entry, Staleness::Fresh)) =
                        lookup(&state, &plan.key, &parts, settings.clock.now()).await
                {
                    let entry = Arc::new(entry);
                    leader.publish(Outcome::Stored(entry.clone()));
                    Counters::add(&counters.hits);
                    return Ok(serve(&settings, &state, &entry, &parts, settings.clock.now(), "HIT"));
                }
                Counters::add(&counters.misses);
                return render(settings, state, inner, parts, body, plan, leader).await;
            }
        }
    }
}

async fn passthrough<S, ReqBody, ResBody>(
    mut inner: S,
    parts: request::Parts,
    body: ReqBody,
) -> Reply<ResBody, S::Error>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: Body,
{
    let response = inner.ready().await?.call(Request::from_parts(parts, body)).await?;
    Ok(response.map(CacheBody::inner))
}

/// The stored entry for `key`, if it serves this request and is not expired.
async fn lookup(state: &State, key: &str, parts: &request::Parts, now: SystemTime) -> Option<(Entry, Staleness)> {
    let bytes = match state.cache.get_bytes(key).await {
        Ok(found) => found?,
        Err(e) => {
            Counters::add(&state.counters.errors);
            tracing::warn!(key, error = %e, "cachette-http: the cache failed; rendering the response instead");
            return None;
        }
    };
    let entry = match Entry::decode(key, &bytes) {
        Ok(entry) => entry,
        Err(e) => {
            tracing::warn!(key, error = %e, "cachette-http: a stored response does not decode; rendering it again");
            return None;
        }
    };
    if !entry.matches_vary(&parts.headers) {
        return None;
    }
    match entry.staleness(now) {
        Staleness::Expired => None,
        staleness => Some((entry, staleness)),
    }
}

/// Headers that make a request conditional: stripped from renders, whose response must be the
/// whole one (it is shared with other clients); the layer answers the condition itself.
const CONDITIONAL: [header::HeaderName; 6] = [
    header::IF_NONE_MATCH,
    header::IF_MODIFIED_SINCE,
    header::IF_MATCH,
    header::IF_UNMODIFIED_SINCE,
    header::IF_RANGE,
    header::RANGE,
];

/// The request the inner service renders an entry from: a `GET` without conditions.
fn render_request(parts: &request::Parts) -> request::Parts {
    let mut render = parts.clone();
    render.method = Method::GET;
    for name in &CONDITIONAL {
        render.headers.remove(name);
    }
    render
}

/// Renders a miss as the leader of its key, streams it to the client and stores it.
async fn render<S, ReqBody, ResBody>(
    settings: Arc<Settings>,
    state: Arc<State>,
    mut inner: S,
    parts: request::Parts,
    body: ReqBody,
    plan: Plan,
    leader: Leader,
) -> Reply<ResBody, S::Error>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: Body<Data = Bytes> + Send + 'static,
    ResBody::Error: Send + 'static,
{
    // An error here drops `leader`: the followers try again.
    let response = inner.ready().await?.call(Request::from_parts(render_request(&parts), body)).await?;
    let (mut head, body) = response.into_parts();
    let now = settings.clock.now();
    let fresh = fresh_period(&settings, &state, &parts, &head, now);
    let store = store_plan(&settings, &parts, &head, fresh);
    let declared = head.headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    let limit = match (&store, declared) {
        (Some(_), Some(len)) if len > settings.max_body_size as u64 => None,
        (Some(_), _) => Some(settings.max_body_size),
        (None, _) => None,
    };
    let mut tee = Tee::new(body, limit);
    let whole = futures::future::poll_fn(|cx| Poll::Ready(tee.drain_ready(cx))).await;

    match (store, whole) {
        // The whole body was ready: store it now, so the next request is a hit.
        (Some(store), Some(bytes)) => {
            let ttl = store.backend_ttl();
            let entry = Arc::new(store.entry(&head, bytes, now));
            put(&state, &plan.key, &entry, ttl).await;
            leader.publish(Outcome::Stored(entry.clone()));
            return Ok(serve(&settings, &state, &entry, &parts, now, "MISS"));
        }
        // A real stream: store it when the client has read it all.
        (Some(store), None) if tee.is_storing() => {
            let (state, key, stored_head) = (state.clone(), plan.key.clone(), head.clone());
            tee.on_end(Box::new(move |whole| match whole {
                Some(bytes) => {
                    let ttl = store.backend_ttl();
                    let entry = Arc::new(store.entry(&stored_head, bytes, now));
                    let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
                    runtime.spawn(async move {
                        put(&state, &key, &entry, ttl).await;
                        leader.publish(Outcome::Stored(entry));
                    });
                }
                None => leader.publish(Outcome::NotStorable),
            }));
        }
        _ => leader.publish(Outcome::NotStorable),
    }
    decorate_miss(&settings, &mut head, |_| fresh);
    if parts.method == Method::HEAD {
        return Ok(Response::from_parts(head, CacheBody::empty()));
    }
    Ok(Response::from_parts(head, CacheBody::tee(tee)))
}

/// The headers of a response rendered for a miss: `X-Cache: MISS`, and the route's
/// `Cache-Control` if the response is the route's content (it passes the filter, sets no cookie),
/// whether or not the layer stores it (a `private` route's responses are not stored, but clients
/// must be told they are private).
/// `fresh` gives the response's fresh period, computed only if the policy needs it.
fn decorate_miss(
    settings: &Settings,
    head: &mut response::Parts,
    fresh: impl FnOnce(&response::Parts) -> Option<Duration>,
) {
    head.headers.insert(X_CACHE, HeaderValue::from_static("MISS"));
    if let Some(policy) = &settings.cache_control
        && !head.headers.contains_key(header::CACHE_CONTROL)
        && !head.headers.contains_key(header::SET_COOKIE)
        && (settings.response_filter)(head)
        && let Ok(value) = HeaderValue::from_str(&policy.header_value(fresh(head)))
    {
        head.headers.insert(header::CACHE_CONTROL, value);
    }
}

/// How long a rendered response stays fresh (`None`: forever): the handler's [`CacheTtl`] if it
/// set one, else the layer's [`Freshness`](crate::Freshness).
fn fresh_period(
    settings: &Settings,
    state: &State,
    req: &request::Parts,
    res: &response::Parts,
    now: SystemTime,
) -> Option<Duration> {
    let ttl = res.extensions.get::<CacheTtl>().map_or_else(|| settings.fresh_for.resolve(req, res, now), |t| t.0);
    ttl.resolve(state.cache.config().default_timeout).remaining(now)
}

/// How a response may be stored.
struct StorePlan {
    /// The fresh period (`None`: forever).
    fresh: Option<Duration>,
    /// The stale-while-revalidate margin after it.
    stale: Duration,
    vary: Vec<(String, Option<serde_bytes::ByteBuf>)>,
}

impl StorePlan {
    /// How long the backend keeps the entry: the fresh period plus the stale margin, relative to
    /// the real clock whatever the layer's clock says.
    fn backend_ttl(&self) -> Ttl {
        self.fresh.map_or(Ttl::Never, |d| Ttl::After(d.saturating_add(self.stale)))
    }

    /// The entry for the response `head` + `body`, rendered at `now`.
    fn entry(self, head: &response::Parts, body: Bytes, now: SystemTime) -> Entry {
        Entry::new(head, body, now, self.fresh, self.stale, self.vary)
    }
}

/// Whether a rendered response may be stored, given its fresh period (see [`fresh_period`]).
fn store_plan(
    settings: &Settings,
    req: &request::Parts,
    res: &response::Parts,
    fresh: Option<Duration>,
) -> Option<StorePlan> {
    if !(settings.response_filter)(res) || res.headers.contains_key(header::SET_COOKIE) {
        return None;
    }
    let per_user = settings.per_user.is_some();
    for value in res.headers.get_all(header::CACHE_CONTROL) {
        for (directive, _) in directives(value.to_str().ok()?) {
            if directive == "no-store" || (directive == "private" && !per_user) {
                return None;
            }
        }
    }
    if let Some(policy) = &settings.cache_control
        && (policy.is_no_store() || (policy.is_private() && !per_user))
    {
        return None;
    }
    if fresh.is_some_and(|d| d.is_zero()) {
        return None;
    }
    let vary = vary_values(&res.headers, &req.headers)?;
    Some(StorePlan { fresh, stale: settings.stale, vary })
}

async fn put(state: &State, key: &str, entry: &Entry, ttl: Ttl) {
    let stored = match entry.encode(key) {
        Ok(bytes) => state.cache.set_bytes(key, bytes, ttl).await,
        Err(e) => Err(e),
    };
    match stored {
        Ok(()) => Counters::add(&state.counters.stored),
        Err(e) => {
            Counters::add(&state.counters.errors);
            tracing::warn!(key, error = %e, "cachette-http: cannot store the response; it was served uncached");
        }
    }
}

/// The response for a stored entry: the stored one, or `304 Not Modified`.
fn serve<B: Body>(
    settings: &Settings,
    state: &State,
    entry: &Entry,
    parts: &request::Parts,
    now: SystemTime,
    x_cache: &'static str,
) -> Response<CacheBody<B>> {
    // The stored headers include ETag and Last-Modified (see `Entry::new`).
    let mut headers = entry.header_map(2);
    if let Some(policy) = &settings.cache_control
        && !headers.contains_key(header::CACHE_CONTROL)
        && let Ok(value) = HeaderValue::from_str(&policy.header_value(entry.remaining_fresh(now)))
    {
        headers.insert(header::CACHE_CONTROL, value);
    }
    headers.insert(X_CACHE, HeaderValue::from_static(x_cache));

    let status = StatusCode::from_u16(entry.head.status).unwrap_or(StatusCode::OK);
    let etag = headers.get(header::ETAG).and_then(|v| v.to_str().ok()).unwrap_or_default();
    if status.is_success() && not_modified(&parts.headers, etag, entry.last_modified()) {
        Counters::add(&state.counters.not_modified);
        let mut response = Response::new(CacheBody::empty());
        *response.status_mut() = StatusCode::NOT_MODIFIED;
        *response.headers_mut() = not_modified_headers(&headers);
        return response;
    }
    let body = if parts.method == Method::HEAD {
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(entry.body.len()));
        CacheBody::empty()
    } else {
        CacheBody::full(entry.body.clone())
    };
    let mut response = Response::new(body);
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    response
}

/// The headers of a `304` for a `200` with `headers`: those that describe the cached copy
/// (RFC 9110 15.4.5), and `X-Cache`.
fn not_modified_headers(headers: &HeaderMap) -> HeaderMap {
    const KEPT: [header::HeaderName; 7] = [
        header::CACHE_CONTROL,
        header::CONTENT_LOCATION,
        header::ETAG,
        header::EXPIRES,
        header::LAST_MODIFIED,
        header::VARY,
        X_CACHE,
    ];
    let mut kept = HeaderMap::with_capacity(KEPT.len());
    for name in KEPT {
        for value in headers.get_all(&name) {
            kept.append(name.clone(), value.clone());
        }
    }
    kept
}

/// Starts the one background refresh of a stale entry, unless one is running for the key. The
/// request and the service are cloned only when a refresh starts: every other stale hit of the
/// key costs a set lookup.
fn spawn_refresh<S, ReqBody, ResBody>(
    settings: &Arc<Settings>,
    state: &Arc<State>,
    inner: &S,
    parts: &request::Parts,
    key: &str,
) where
    S: Inner<ReqBody, ResBody>,
    ReqBody: Default + Send + 'static,
    ResBody: StoredBody,
{
    let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
    if !state.refreshing.lock().unwrap_or_else(|p| p.into_inner()).insert(key.to_owned()) {
        return;
    }
    let (settings, state, inner, parts, key) =
        (settings.clone(), state.clone(), inner.clone(), parts.clone(), key.to_owned());
    runtime.spawn(async move {
        let _done = Unmark { state: state.clone(), key: key.clone() };
        // One refresh per key across processes too: the lock is an atomic `add` in the shared
        // cache, held at most a minute in case this process dies mid-refresh.
        let lock = format!("{key}\nrefreshing");
        let lock_ttl = Ttl::After(settings.stale.clamp(Duration::from_secs(1), Duration::from_secs(60)));
        if let Ok(false) = state.cache.add(&lock, &true, lock_ttl).await {
            return;
        }
        Counters::add(&state.counters.refreshes);
        if !refresh(&settings, &state, inner, &parts, &key).await {
            Counters::add(&state.counters.refresh_failures);
        }
        let _ = state.cache.delete(&lock).await;
    });
}

/// Removes a key from the refreshes running when its refresh ends (or is dropped).
struct Unmark {
    state: Arc<State>,
    key: String,
}

impl Drop for Unmark {
    fn drop(&mut self) {
        self.state.refreshing.lock().unwrap_or_else(|p| p.into_inner()).remove(&self.key);
    }
}

/// Renders `parts` again and stores the response; whether it could. A failure keeps the stale entry.
async fn refresh<S, ReqBody, ResBody>(
    settings: &Settings,
    state: &State,
    inner: S,
    parts: &request::Parts,
    key: &str,
) -> bool
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ReqBody: Default,
    ResBody: Body<Data = Bytes>,
{
    let Ok(response) = inner.oneshot(Request::from_parts(render_request(parts), ReqBody::default())).await else {
        tracing::warn!(
            key,
            "cachette-http: background refresh failed (the inner service errored); keeping the stale entry"
        );
        return false;
    };
    let (head, body) = response.into_parts();
    let now = settings.clock.now();
    let fresh = fresh_period(settings, state, parts, &head, now);
    let Some(store) = store_plan(settings, parts, &head, fresh) else {
        tracing::warn!(key, status = %head.status, "cachette-http: background refresh gave a response that may not be stored; keeping the stale entry");
        return false;
    };
    let Some(bytes) = Tee::new(body, Some(settings.max_body_size)).collect().await else {
        tracing::warn!(
            key,
            "cachette-http: background refresh body failed or is over max_body_size; keeping the stale entry"
        );
        return false;
    };
    let ttl = store.backend_ttl();
    put(state, key, &store.entry(&head, bytes, now), ttl).await;
    true
}
