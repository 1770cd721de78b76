//! [`ResponseFuture`]: the future of [`CacheService`](crate::CacheService)'s responses.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use futures::future::BoxFuture;
use http::Response;
use http_body::Body;
use pin_project_lite::pin_project;

use crate::body::CacheBody;

pin_project! {
    /// The response of [`CacheService`](crate::CacheService): the inner service's future, as is,
    /// for requests that do not use the cache; the cache's work otherwise.
    pub struct ResponseFuture<F, B: Body, E> {
        #[pin]
        kind: Kind<F, B, E>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<F, B: Body, E> {
        Passthrough { #[pin] future: F },
        Cached { future: BoxFuture<'static, Result<Response<CacheBody<B>>, E>> },
    }
}

impl<F, B: Body, E> ResponseFuture<F, B, E> {
    pub(crate) fn passthrough(future: F) -> Self {
        ResponseFuture { kind: Kind::Passthrough { future } }
    }

    pub(crate) fn cached(future: BoxFuture<'static, Result<Response<CacheBody<B>>, E>>) -> Self {
        ResponseFuture { kind: Kind::Cached { future } }
    }
}

impl<F, B, E> Future for ResponseFuture<F, B, E>
where
    F: Future<Output = Result<Response<B>, E>>,
    B: Body,
{
    type Output = Result<Response<CacheBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Passthrough { future } => {
                let response = ready!(future.poll(cx))?;
                Poll::Ready(Ok(response.map(CacheBody::inner)))
            }
            KindProj::Cached { future } => future.as_mut().poll(cx),
        }
    }
}
