//! [`Call`]: one request that uses the cache, as the hit path, the miss path and the background
//! refresh see it; and the bounds they put on the inner service, stated once.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http::header::{self, HeaderName};
use http::{Request, Response, request, response};
use http_body::Body;
use tower::Service;

use crate::body::CacheBody;
use crate::freshness::CacheTtl;
use crate::shared::{Settings, State};
use crate::stats::Counters;
use crate::vary::Marker;

/// The `X-Cache` header: `HIT`, `MISS` or `STALE`.
pub const X_CACHE: HeaderName = HeaderName::from_static("x-cache");

/// A request that uses the cache: the layer's settings and state, the request's head and its key.
///
/// [`CacheService`](crate::CacheService) makes one only for a request that uses the cache, so a
/// bypassed request clones no `Arc`. Each path adds its methods in its own module: `hit` (lookup,
/// serve, 304), `miss` (render, tee, store, follow a render in flight), `store` (what may be
/// stored) and `refresh::background` (stale-while-revalidate). Cloning one (for a background
/// refresh) clones the request's head and key, as the refresh needs them after the request ends.
#[derive(Clone)]
pub(crate) struct Call {
    pub settings: Arc<Settings>,
    pub state: Arc<State>,
    pub parts: request::Parts,
    pub key: String,
    /// Render and store again without looking (a [`Revalidate`](crate::Revalidate) request, or a
    /// client's hard reload where the route allows it).
    pub force: bool,
    /// The tags read with the entry: the view's (see [`request_tags`](crate::key::request_tags))
    /// and the route's own. The handler's are learnt from the entry.
    pub tags: Vec<String>,
    /// What the lookup learnt, for the store of what is rendered.
    pub seen: Seen,
    /// When the render of this request's entry started (the entry records how long it took).
    pub render_started: Option<Instant>,
}

/// What a request's lookup learnt, for the store of what it renders.
#[derive(Clone, Default)]
pub(crate) struct Seen {
    /// Whether a lookup ran (not for a forced render).
    pub looked: bool,
    /// The versions of [`Call::tags`] it read, in order (`0`: none yet; `None`: unknown). The
    /// store records these, not those current when the render ends, so that an invalidation
    /// during the render makes its entry a miss.
    pub versions: Option<Vec<u64>>,
    /// The URL's `Vary` marker, if its key held one.
    pub marker: Option<Marker>,
    /// The key of the request's variant, when the URL's responses vary.
    pub variant: Option<String>,
}

/// What the cached paths answer.
pub(crate) type Reply<B, E> = Result<Response<CacheBody<B>>, E>;

/// The inner service of [`CacheService`](crate::CacheService), as its `Service` impl bounds it:
/// the origin of the responses the layer caches. Named once here so that each path's methods
/// need not repeat the bounds.
pub(crate) trait Origin<ReqBody, ResBody>:
    Service<Request<ReqBody>, Response = Response<ResBody>, Future: Send + 'static, Error: Send + 'static>
    + Clone
    + Send
    + 'static
{
}

impl<S, ReqBody, ResBody> Origin<ReqBody, ResBody> for S where
    S: Service<Request<ReqBody>, Response = Response<ResBody>, Future: Send + 'static, Error: Send + 'static>
        + Clone
        + Send
        + 'static
{
}

/// The bounds on the inner service's request body: a background refresh sends a default (empty)
/// one from a spawned task.
pub(crate) trait RequestBody: Default + Send + 'static {}

impl<B> RequestBody for B where B: Default + Send + 'static {}

/// The bounds on the inner service's response body, which may be kept and stored.
pub(crate) trait StoredBody: Body<Data = Bytes, Error: Send + 'static> + Send + 'static {}

impl<B> StoredBody for B where B: Body<Data = Bytes, Error: Send + 'static> + Send + 'static {}

/// Headers that make a request conditional: stripped from renders, whose response must be the
/// whole one (it is shared with other clients); the layer answers the condition itself.
const CONDITIONAL: [HeaderName; 6] = [
    header::IF_NONE_MATCH,
    header::IF_MODIFIED_SINCE,
    header::IF_MATCH,
    header::IF_UNMODIFIED_SINCE,
    header::IF_RANGE,
    header::RANGE,
];

impl Call {
    /// The layer's counters.
    pub(crate) fn counters(&self) -> &Counters {
        &self.state.counters
    }

    /// The key of the request's entry: its variant's when the URL varies, else the request's.
    /// Concurrent misses of one entry key share a render.
    pub(crate) fn entry_key(&self) -> &str {
        self.seen.variant.as_deref().unwrap_or(&self.key)
    }

    /// The time by the layer's clock.
    pub(crate) fn now(&self) -> SystemTime {
        self.settings.clock.now()
    }

    /// The request the inner service renders an entry from: the request without conditions.
    ///
    /// Its method is kept: a router chooses the handler by method before the layer sees the
    /// request (axum layers each method's handler), so a `HEAD` turned into a `GET` here would
    /// still reach a route's own `HEAD` handler. What a `HEAD` render may store is
    /// [`StorePlan::accepts`](crate::store::StorePlan::accepts)'s to say.
    pub(crate) fn render_request(&self) -> request::Parts {
        let mut render = self.parts.clone();
        for name in &CONDITIONAL {
            render.headers.remove(name);
        }
        render
    }

    /// How long a response rendered at `now` stays fresh (`None`: forever): the handler's
    /// [`CacheTtl`] if it set one, else the layer's [`Freshness`](crate::Freshness).
    pub(crate) fn fresh_period(&self, res: &response::Parts, now: SystemTime) -> Option<Duration> {
        let ttl = res
            .extensions
            .get::<CacheTtl>()
            .map_or_else(|| self.settings.fresh_for.resolve(&self.parts, res, now), |t| t.0);
        ttl.resolve(self.state.cache.config().default_timeout).remaining(now)
    }
}
