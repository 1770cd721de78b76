//! [`Deadline`]: a future bounded in time, whose timer exists only if it does not finish at once.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use pin_project_lite::pin_project;
use tokio::time::Sleep;

pin_project! {
    /// `inner`, or `Err(Elapsed)` once `limit` has passed since its first poll.
    ///
    /// Why not `tokio::time::timeout`: it registers a timer for every call, and an in-process
    /// backend (SimpleCache) answers on the first poll in a few hundred nanoseconds, of which a
    /// timer would be a noticeable part. Here the timer is made only when the backend's future
    /// is still pending after its first poll, that is, when it waits on the network or a disk.
    pub(crate) struct Deadline<F> {
        #[pin]
        inner: F,
        sleep: Option<Pin<Box<Sleep>>>,
        limit: Duration,
    }
}

/// The deadline passed.
#[derive(Debug)]
pub(crate) struct Elapsed;

impl<F> Deadline<F> {
    pub(crate) fn new(inner: F, limit: Duration) -> Self {
        Deadline { inner, sleep: None, limit }
    }
}

impl<F: Future> Future for Deadline<F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(out) = this.inner.poll(cx) {
            return Poll::Ready(Ok(out));
        }
        let limit = *this.limit;
        let sleep = this.sleep.get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        ready!(sleep.as_mut().poll(cx));
        Poll::Ready(Err(Elapsed))
    }
}
