//! The spans of the facade's operations: one per public [`Cache`](crate::Cache) operation and
//! memoized call, entered while its future is polled, so that the events of the operation (a
//! miss's reason, a breaker that rejected, a lease wait, each backend call at `trace`) show under
//! it; its `outcome` and `latency_us` are recorded when it ends.
//!
//! A span is made only when a subscriber is interested in it: with none, or the level off, an
//! operation pays a level check and polls its work directly, reading no clock. callgrind per
//! hit (`cargo bench -p cachette --bench memoize_hit`, MEMOIZE_HIT_CALLS=10000): `Cache::get`
//! 2,805 -> 2,854 instructions, `get_or_set` 2,823 -> 2,906, `#[memoize]` 4,356 -> 4,449: the
//! work's future is no longer folded into its caller's (a poll more), under the 3 % we allow the
//! hit path for this. With the operation boxed and the outcome a function item (no size), the
//! future grows by a pointer: 10 to 20 instructions fewer than a `Span`, an `Instant` and a `fn`
//! pointer in it. Writing `get` as a plain `fn` returning the wrapped future (no `async fn`
//! around it) was worse: 3,058.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Instant;

use pin_project_lite::pin_project;
use tracing::Span;

use crate::{CacheError, Result};

/// The span of one operation, when a subscriber wants it, and when it started.
pub(crate) struct Operation {
    span: Span,
    started: Instant,
}

impl Operation {
    /// `span` (from [`operation_span!`]) if it is enabled; `None` costs nothing more. Boxed, so
    /// that an operation's future grows by a pointer, not by a span and an instant that every
    /// move of the future would copy with tracing off.
    #[inline]
    pub(crate) fn start(span: Span) -> Option<Box<Operation>> {
        if span.is_disabled() { None } else { Some(Box::new(Operation { span, started: Instant::now() })) }
    }
}

/// The span of a facade operation named `cachette.<operation>` at debug level, with the fields
/// `backend`, `operation`, `key` (a [`ShortKey`](crate::observe::ShortKey): never the whole of a
/// long key) and, recorded at its end, `outcome` and `latency_us`. Extra fields (`function` for a
/// memoized call) follow the key. Field values are evaluated only when the span is enabled.
macro_rules! operation_span {
    ($operation:literal, $cache:expr, $key:expr $(, $($field:tt)*)?) => {
        // The level first: with no subscriber set, a disabled `span!` of a `tracing` built with
        // its `log` feature (as some of our dependencies build it) makes a span for `log`
        // anyway, 150 instructions of a 2,800-instruction hit (callgrind); a span for `log`
        // alone is not worth that on every operation.
        if ::tracing::level_enabled!(::tracing::Level::DEBUG) {
            $crate::observe::span::Operation::start(::tracing::debug_span!(
                concat!("cachette.", $operation),
                backend = $cache.backend().type_name(),
                operation = $operation,
                key = %$crate::observe::ShortKey($key),
                $($($field)*,)?
                outcome = ::tracing::field::Empty,
                latency_us = ::tracing::field::Empty,
            ))
        } else {
            None
        }
    };
}
pub(crate) use operation_span;

pin_project! {
    /// `inner` polled inside the operation's span (if any), the outcome `outcome` gives its
    /// result recorded when it is ready.
    pub(crate) struct InOperation<F, O> {
        #[pin]
        inner: F,
        operation: Option<Box<Operation>>,
        // A function item or closure: no size, where a `fn` pointer would add one to the future.
        outcome: O,
    }
}

/// `inner` as the operation `operation` (see [`operation_span!`]), its end's outcome named by
/// `outcome`.
#[inline]
pub(crate) fn in_operation<F, O>(operation: Option<Box<Operation>>, outcome: O, inner: F) -> InOperation<F, O>
where
    F: Future,
    O: Fn(&F::Output) -> &'static str,
{
    InOperation { inner, operation, outcome }
}

impl<F, O> Future for InOperation<F, O>
where
    F: Future,
    O: Fn(&F::Output) -> &'static str,
{
    type Output = F::Output;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let Some(operation) = this.operation.as_ref() else {
            return this.inner.poll(cx);
        };
        let entered = operation.span.enter();
        let r = ready!(this.inner.poll(cx));
        drop(entered);
        let Operation { span, started } = *this.operation.take().expect("polled after its end");
        span.record("outcome", (this.outcome)(&r));
        span.record("latency_us", started.elapsed().as_micros() as u64);
        Poll::Ready(r)
    }
}

/// The outcome of a failed operation: `timeout`, `rejected` (the breaker is open) or `error`.
pub(crate) fn failure(e: &CacheError) -> &'static str {
    match e {
        CacheError::Timeout { .. } => "timeout",
        CacheError::CircuitOpen { .. } => "rejected",
        _ => "error",
    }
}

/// A read's outcome: `hit` or `miss` (a failure absorbed by `CACHE_IGNORE_ERRORS` is a miss,
/// whose warning inside the span says why), or the failure.
pub(crate) fn read<T>(r: &Result<Option<T>>) -> &'static str {
    match r {
        Ok(Some(_)) => "hit",
        Ok(None) => "miss",
        Err(e) => failure(e),
    }
}

/// A loading read's outcome (`get_or_set`, a memoized call): `hit`, `miss` (the loader ran, or
/// another's load was waited for), or the failure.
pub(crate) fn served<T>(r: &Result<(T, bool)>) -> &'static str {
    match r {
        Ok((_, true)) => "hit",
        Ok((_, false)) => "miss",
        Err(e) => failure(e),
    }
}

/// The outcome an operation named itself (a memoized call: `hit`, `miss` or `forced`), or the
/// failure.
pub(crate) fn named<T>(r: &Result<(T, &'static str)>) -> &'static str {
    match r {
        Ok((_, outcome)) => outcome,
        Err(e) => failure(e),
    }
}

/// A write's or a count's outcome: `ok`, or the failure.
pub(crate) fn done<T>(r: &Result<T>) -> &'static str {
    match r {
        Ok(_) => "ok",
        Err(e) => failure(e),
    }
}

/// The outcome of an operation that tells whether it did something: `yes` or `no` (`add`:
/// `stored` / `present`; `delete`: `deleted` / `absent`), or the failure.
pub(crate) fn answered(r: &Result<bool>, yes: &'static str, no: &'static str) -> &'static str {
    match r {
        Ok(true) => yes,
        Ok(false) => no,
        Err(e) => failure(e),
    }
}

/// The outcome of a read of many keys: `hit` if every key was found, `miss` if none, `partial`
/// otherwise.
pub(crate) fn read_many<T>(r: &Result<Vec<Option<T>>>) -> &'static str {
    match r {
        Ok(values) if values.iter().all(Option::is_some) => "hit",
        Ok(values) if values.iter().all(Option::is_none) => "miss",
        Ok(_) => "partial",
        Err(e) => failure(e),
    }
}
