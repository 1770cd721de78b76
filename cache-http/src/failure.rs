//! What a failed render becomes, so that a failing handler never makes a cached route worse
//! than no cache: the stale entry within the [`stale_if_error`](crate::CacheLayer::stale_if_error)
//! grace (RFC 5861), a `500` for a panic, or the handler's own error or `5xx`, passed on.
//!
//! The inner service's call runs under `catch_unwind`: a panicking handler is answered `500`
//! (logged at error with its message), never a connection closed without a response, and every
//! request waiting for its render gets its answer at once instead of taking turns to render.

use cachette_core::observe::ShortKey;
use std::any::Any;
use std::panic::AssertUnwindSafe;

use futures::FutureExt;
use http::header::{self, HeaderValue};
use http::{Request, Response, StatusCode};
use http_body::Body;
use tower::{Service, ServiceExt};

use crate::body::CacheBody;
use crate::call::{Call, Reply, X_CACHE};
use crate::flight::Failure;
use crate::prepared::Prepared;
use crate::stats::Counters;
use crate::status::Served;

/// What a render came to.
pub(crate) enum Rendered<B: Body, E> {
    /// The inner service's response: a success, or a `5xx` when there is no stale entry to serve
    /// instead (it is then passed on as any response is).
    Response(Response<B>),
    /// The render failed, and this is the request's answer: the stale entry, a `500` for a panic,
    /// or the inner service's error.
    Failed(Failure, Reply<B, E>),
}

impl Call {
    /// Calls the inner service with `request`, catching a panic of its call or its future.
    /// `fallback` is the request's entry within the stale-if-error grace, served if it fails.
    pub(crate) async fn render_guarded<S, ReqBody, ResBody>(
        &self,
        inner: S,
        request: Request<ReqBody>,
        fallback: Option<&Prepared>,
    ) -> Rendered<ResBody, S::Error>
    where
        S: Service<Request<ReqBody>, Response = Response<ResBody>>,
        ResBody: Body,
    {
        // The service and its future are dropped, unused, after a panic: nothing observes a
        // state the panic broke.
        let started = std::time::Instant::now();
        let rendered = AssertUnwindSafe(inner.oneshot(request)).catch_unwind().await;
        self.observe_render(started.elapsed());
        let (failure, error) = match rendered {
            Ok(Ok(response)) if !response.status().is_server_error() || fallback.is_none() => {
                return Rendered::Response(response);
            }
            Ok(Ok(response)) => (Failure::Status(response.status()), None),
            Ok(Err(e)) => (Failure::Error, Some(e)),
            Err(payload) => {
                Counters::add(&self.counters().panics);
                tracing::error!(
                    key = %ShortKey(&self.key),
                    panic = panic_message(payload.as_ref()),
                    "cachette-http: the handler panicked; answering 500 (or the stale entry) to this request and to \
                     every request waiting for its render"
                );
                (Failure::Panic, None)
            }
        };
        let answer = match (self.serve_fallback(fallback, failure), error) {
            (Some(stale), _) => Ok(stale),
            (None, Some(e)) => Err(e),
            // A panic: `Status` is a failure only with a fallback.
            (None, None) => Ok(panicked()),
        };
        Rendered::Failed(failure, answer)
    }

    /// The answer of a follower whose leader's render failed: its own stale entry if it has one,
    /// a `500` for a panic, or `None`: render its own.
    pub(crate) fn answer_failed<B: Body>(
        &self,
        failure: Failure,
        fallback: Option<&Prepared>,
    ) -> Option<Response<CacheBody<B>>> {
        match self.serve_fallback(fallback, failure) {
            Some(stale) => Some(stale),
            None if failure == Failure::Panic => Some(panicked()),
            None => None,
        }
    }

    /// The stale entry for a request whose render failed (`X-Cache: STALE`), counted and logged;
    /// `None` without one.
    fn serve_fallback<B: Body>(&self, fallback: Option<&Prepared>, failure: Failure) -> Option<Response<CacheBody<B>>> {
        let entry = fallback?;
        Counters::add(&self.counters().stale_if_error);
        tracing::warn!(key = %ShortKey(&self.key), %failure, "cachette-http: serving the stale entry (stale-if-error)");
        Some(self.serve(entry, self.now(), Served::StaleIfError(failure)))
    }
}

/// The answer to a request whose render panicked: `500`, empty, and `no-store` so that no cache
/// downstream keeps it.
fn panicked<B: Body>() -> Response<CacheBody<B>> {
    let mut response = Response::new(CacheBody::empty());
    *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response.headers_mut().insert(X_CACHE, HeaderValue::from_static("MISS"));
    response.headers_mut().insert(crate::status::CACHE_STATUS, HeaderValue::from_static("cachette; fwd=miss"));
    response
}

/// A panic's message, as `panic!` formats it (a `&str` or a `String`).
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a panic without a message")
}
