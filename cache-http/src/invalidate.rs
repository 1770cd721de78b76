//! [`ViewCache`]: deleting a cached view from outside a request, with every entry of it.

use std::future::Future;

use cachette_core::{Cache, CacheError, Result};

use crate::key::target_tags;

/// Deletes cached views through the [`Cache`] the layers store them in: no clone of a layer
/// needed, and every layer over the cache reached (Flask-Caching's `delete_cached`).
///
/// ```
/// use std::sync::Arc;
/// use axum::{Router, body::Body, routing::get};
/// use cachette_core::{Cache, Config};
/// use cachette_http::{CacheLayer, ViewCache};
/// use cachette_simple::SimpleCache;
/// use tower::ServiceExt;
/// # async fn x_cache(app: &Router, path: &str) -> String {
/// #     let request = http::Request::get(path).header("host", "good.example").body(Body::empty()).unwrap();
/// #     app.clone().oneshot(request).await.unwrap().headers()["x-cache"].to_str().unwrap().to_owned()
/// # }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let cache = Cache::new(Arc::new(SimpleCache::new(&Config::default())?), Config::default());
/// let app = Router::new().route("/users/{id}", get(|| async { "Ada" })).layer(CacheLayer::new(cache.clone()));
/// x_cache(&app, "/users/42").await;
/// x_cache(&app, "/users/42?tab=posts").await;
/// assert_eq!(x_cache(&app, "/users/42").await, "HIT");
///
/// cache.delete_cached("https://good.example/users/42").await?; // every query of the path
/// assert_eq!(x_cache(&app, "/users/42").await, "MISS");
/// assert_eq!(x_cache(&app, "/users/42?tab=posts").await, "MISS");
/// # Ok(()) }
/// ```
pub trait ViewCache {
    /// Makes every stored entry of the view `target` a miss: each of its `Vary` variants, each
    /// user's entry, the `HEAD` and the `GET`, on every layer over this cache. One backend write.
    ///
    /// `target` is a URL with its host (`https://good.example/users/42`), or a path alone
    /// (`/users/42`) for the entries of requests that name no host — every entry of a layer that
    /// [`ignore_host`](crate::CacheLayer::ignore_host)s or has a [`key_fn`](crate::CacheLayer::key_fn).
    /// A URL with a host reaches those too. The scheme does not matter, nor the ports 80 and 443.
    /// With a query (`?tab=posts`, normalised as keys are), the entries of that query; without,
    /// those of every query of the path.
    ///
    /// A render in progress when the view is deleted is not stored if its lookup came before
    /// the deletion (its entry records the view's old version), but a response rendered before
    /// and still being written may land: [`CacheLayer::invalidate`](crate::CacheLayer::invalidate)
    /// waits for the writes of its own layer.
    fn delete_cached(&self, target: &str) -> impl Future<Output = Result<()>> + Send;
}

impl ViewCache for Cache {
    async fn delete_cached(&self, target: &str) -> Result<()> {
        let tags = view_tags(target)?;
        let tags: Vec<&str> = tags.iter().map(String::as_str).collect();
        self.invalidate_tags(&tags).await
    }
}

/// The tags that delete the view `target`, or the error that says what a target is.
pub(crate) fn view_tags(target: &str) -> Result<Vec<String>> {
    target_tags(target).ok_or_else(|| CacheError::InvalidKey {
        key: target.to_owned(),
        message: "not a request target: give a URL such as https://example.com/report or a path such as /report"
            .to_owned(),
    })
}
