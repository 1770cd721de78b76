//! From the synchronous render to the asynchronous cache: [`wait`] runs one cache operation to
//! its end without ever blocking a runtime thread that has not been handed over for it.
//!
//! In order, cheapest first:
//!
//! 1. The future is polled once, on the spot. An in-process backend (SimpleCache) answers on
//!    that poll, so its fragments cost no thread hand-over at all, on any runtime.
//! 2. Inside [`render_with`](crate::render_with) the render runs on tokio's blocking pool, a
//!    thread no task needs: it waits there with `Handle::block_on`, on either runtime flavor
//!    (the runtime's own threads keep driving the network meanwhile).
//! 3. Elsewhere on a multi-thread runtime, `tokio::task::block_in_place` first hands the
//!    worker's other tasks to another thread, then the render waits.
//! 4. On a current-thread runtime there is no other thread to hand them to: waiting would stall
//!    every task of the runtime, and — since only that thread drives the network — never end. That
//!    is an error that says to render with [`render_with`](crate::render_with).
//!
//! Without a tokio runtime at all the cache cannot run (its deadlines are tokio timers): an error.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use minijinja::{Error, ErrorKind};
use tokio::runtime::{Handle, RuntimeFlavor};

use crate::scope;

/// What is waited for, for the messages.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Waiting<'a> {
    /// The fragment's name.
    pub(crate) fragment: &'a str,
    /// The backend's `CACHE_TYPE` name.
    pub(crate) backend: &'static str,
}

/// Runs `future` to completion from synchronous code (see the module docs for how).
pub(crate) fn wait<F: Future>(future: F, waiting: Waiting<'_>) -> Result<F::Output, Error> {
    // Checked before the first poll: a backend that has to wait creates its deadline timer
    // there, and a tokio timer outside a runtime panics.
    let handle = Handle::try_current().map_err(|_| no_runtime(waiting))?;
    let mut future = pin!(future);
    if let Poll::Ready(out) = future.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        return Ok(out);
    }
    if scope::active() {
        return Ok(handle.block_on(future));
    }
    if handle.runtime_flavor() == RuntimeFlavor::MultiThread {
        tracing::debug!(
            fragment = waiting.fragment,
            backend = waiting.backend,
            "fragment cache waits in block_in_place on a runtime thread (render_with keeps the workers free)"
        );
        return Ok(tokio::task::block_in_place(|| handle.block_on(future)));
    }
    Err(current_thread(waiting))
}

fn no_runtime(waiting: Waiting<'_>) -> Error {
    Error::new(
        ErrorKind::InvalidOperation,
        format!(
            "the fragment \"{}\" needs its cache ({}), which needs a tokio runtime, and this template is \
             rendered outside one: render it with cachette_minijinja::render(...).await, or from a thread \
             that entered the runtime (Handle::enter)",
            waiting.fragment, waiting.backend
        ),
    )
}

fn current_thread(waiting: Waiting<'_>) -> Error {
    Error::new(
        ErrorKind::InvalidOperation,
        format!(
            "the fragment \"{}\" has to wait for its cache ({}), and this template is rendered on a \
             current-thread tokio runtime, where waiting would stall every task and never end: render it \
             with cachette_minijinja::render(...).await (or render_with), or use the multi-thread runtime",
            waiting.fragment, waiting.backend
        ),
    )
}
