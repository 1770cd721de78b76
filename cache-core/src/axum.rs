//! `CacheError` as an axum response (feature `axum`).

use axum_core::response::{IntoResponse, Response};
use http::StatusCode;

use crate::CacheError;

/// A `503 Service Unavailable` with a short body that names no key, setting or server; the whole
/// error is logged with `tracing` at error level. Lets a handler write `cache.get(..).await?`.
///
/// Every variant maps to 503: whether the cache server is down, a loader failed or a value does
/// not decode, the request could not be served now and may be on a retry, and the body is the
/// same so that clients learn nothing about the cache's set-up. (Handlers that would rather serve
/// without the cache use `CACHE_IGNORE_ERRORS` or `get_or_set`, which fall back to the loader.)
///
/// ```
/// use axum_core::response::IntoResponse;
/// use cachette_core::CacheError;
///
/// let error = CacheError::config("CACHE_REDIS_URL", "redis://:secret@cache/", "no such host");
/// let response = error.into_response();
/// assert_eq!(response.status(), 503);
/// ```
impl IntoResponse for CacheError {
    fn into_response(self) -> Response {
        tracing::error!(error = %self, "cache error answered with 503 Service Unavailable");
        (StatusCode::SERVICE_UNAVAILABLE, "503 Service Unavailable: the cache failed; try again later\n")
            .into_response()
    }
}
