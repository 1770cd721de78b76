//! The options of [`CacheLayer`] that Flask-Caching's `@cache.cached` decorator has besides the
//! fresh period and the key: [`forced_update`](CacheLayer::forced_update), a response filter that
//! sees the body ([`body_filter`](CacheLayer::body_filter)) and
//! [`is_stale`](CacheLayer::is_stale); `unless` and `response_filter` are in `layer.rs` with the
//! rest.
//!
//! Flask-Caching's `cache_none` has no counterpart: it is about a cached function returning
//! `None`, and a view always answers a response (what may be stored is the filters' to say).

use std::sync::Arc;

use bytes::Bytes;
use http::{request, response};

use crate::layer::CacheLayer;

/// A predicate on a request: `true` renders and stores it again whatever the cache holds.
pub type ForcedUpdateFn = Arc<dyn Fn(&request::Parts) -> bool + Send + Sync>;

/// A predicate on a whole response, head and body: `true` lets it be stored.
pub type BodyFilterFn = Arc<dyn Fn(&response::Parts, &Bytes) -> bool + Send + Sync>;

/// A predicate on a stored response's status and headers: `true` makes it a miss.
pub type IsStaleFn = Arc<dyn Fn(&response::Parts) -> bool + Send + Sync>;

impl CacheLayer {
    /// Renders and stores the route again, without looking at the cache, for the requests for
    /// which `force` is true (Flask-Caching's `forced_update`): the answer is the new render
    /// (`X-Cache: MISS`, `Cache-Status: cachette; fwd=request; stored`), and later requests are
    /// served it. For a request extension set by your own middleware there is also
    /// [`Revalidate`](crate::Revalidate); for a client's hard reload,
    /// [`allow_client_refresh`](Self::allow_client_refresh).
    ///
    /// ```
    /// use std::sync::{Arc, atomic::{AtomicUsize, Ordering}};
    /// use axum::{Router, body::Body, routing::get};
    /// use cachette_core::{Cache, Config};
    /// use cachette_http::CacheLayer;
    /// use cachette_simple::SimpleCache;
    /// use tower::ServiceExt;
    /// # async fn body(app: &Router, uri: &str) -> String {
    /// #     let response = app.clone().oneshot(http::Request::get(uri).body(Body::empty()).unwrap()).await.unwrap();
    /// #     String::from_utf8(axum::body::to_bytes(response.into_body(), 1024).await.unwrap().to_vec()).unwrap()
    /// # }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let cache = Cache::new(Arc::new(SimpleCache::new(&Config::default())?), Config::default());
    /// let renders = Arc::new(AtomicUsize::new(0));
    /// let r = renders.clone();
    /// let page = get(move || { let n = r.fetch_add(1, Ordering::SeqCst) + 1; async move { format!("render {n}") } });
    /// let layer = CacheLayer::new(cache).forced_update(|request| request.uri.query() == Some("rebuild"));
    /// let app = Router::new().route("/report", page).layer(layer.clone());
    ///
    /// assert_eq!(body(&app, "/report").await, "render 1");
    /// # while layer.stats().stored < 1 { tokio::task::yield_now().await; }
    /// assert_eq!(body(&app, "/report?rebuild").await, "render 2"); // rendered again
    /// # Ok(()) }
    /// ```
    ///
    /// The forced request has its own key here (its query differs); a predicate on a header
    /// (`X-Rebuild`) re-renders the entry other requests read.
    pub fn forced_update(mut self, force: impl Fn(&request::Parts) -> bool + Send + Sync + 'static) -> Self {
        self.settings_mut().forced_update = Some(Arc::new(force));
        self
    }

    /// Which responses may be stored, seeing the whole body: run after
    /// [`response_filter`](Self::response_filter) and the built-in rules accepted the head, on
    /// the body as it would be stored (at most [`max_body_size`](Self::max_body_size) bytes).
    /// A refused response is still answered to its client; it is not stored, and the requests
    /// waiting for its render render their own.
    ///
    /// A body that was ready whole when the handler answered is filtered before the response is
    /// sent. A streamed body is sent to the client as it comes and filtered when it ends: the
    /// filter then decides only whether it is stored.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use cachette_http::CacheLayer;
    /// # fn build(cache: cachette_core::Cache) -> CacheLayer {
    /// // A page rendered while the database was degraded says so in its body: not kept.
    /// CacheLayer::new(cache).body_filter(|_head, body: &Bytes| !body.windows(8).any(|w| w == b"DEGRADED"))
    /// # }
    /// ```
    pub fn body_filter(mut self, store: impl Fn(&response::Parts, &Bytes) -> bool + Send + Sync + 'static) -> Self {
        self.settings_mut().body_filter = Some(Arc::new(store));
        self
    }

    /// Makes a stored response a miss when `stale` says so of its status and headers, however
    /// fresh it is: it is rendered again and replaced (as with a lookup that finds nothing).
    /// For entries that outlive what they were built from, such as a page stamped with the
    /// release that rendered it.
    ///
    /// ```
    /// use cachette_http::CacheLayer;
    /// # fn build(cache: cachette_core::Cache) -> CacheLayer {
    /// const RELEASE: &str = "2026.12.1";
    /// CacheLayer::new(cache).is_stale(|stored| stored.headers.get("x-release").is_none_or(|r| r != RELEASE))
    /// # }
    /// ```
    pub fn is_stale(mut self, stale: impl Fn(&response::Parts) -> bool + Send + Sync + 'static) -> Self {
        self.settings_mut().is_stale = Some(Arc::new(stale));
        self
    }
}
