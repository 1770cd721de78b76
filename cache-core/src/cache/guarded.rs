//! One backend call under the fail-safe (the deadline and the circuit breaker), measured: the one
//! place every backend call of the facade passes. Reads are answered at once, with no future, by a
//! backend that can ([`BaseCache::get_at_once`](crate::BaseCache::get_at_once)) while the breaker
//! is closed.

use std::future::Future;

use bytes::Bytes;

use super::Cache;
use crate::{Result, observe};

impl Cache {
    /// One backend read of `key` under the fail-safe, as [`guarded`](Cache::guarded) makes it;
    /// answered at once, with no future, by a backend that can.
    ///
    /// The waiting read is boxed: inline, its deadline's timer made every read's future (and so
    /// each future holding one, up to an HTTP hit's) 450 bytes larger, moved at each step,
    /// where a backend that waits pays one allocation beside its round trip.
    pub(crate) async fn read(&self, key: &str) -> Result<Option<Bytes>> {
        let timer = observe::Timer::start();
        match self.read_at_once(key, timer) {
            Some(r) => r,
            None => Box::pin(self.read_waiting(key, timer)).await,
        }
    }

    /// The at-once part of [`read`](Cache::read), for callers that try it before making the
    /// future of a read that waits (a nested future polled is 100-odd instructions of a hit):
    /// `None` if the backend cannot answer at once or the breaker is not closed.
    #[inline]
    pub(crate) fn read_at_once(&self, key: &str, timer: observe::Timer) -> Option<Result<Option<Bytes>>> {
        self.at_once("get", timer, || self.inner.backend.get_at_once(key))
    }

    /// The rest of [`read`](Cache::read) after [`read_at_once`](Cache::read_at_once) said `None`.
    pub(crate) async fn read_waiting(&self, key: &str, timer: observe::Timer) -> Result<Option<Bytes>> {
        self.guarded_since(timer, "get", self.inner.backend.get(key)).await
    }

    /// `get_many` of `keys` under the fail-safe, answered at once as [`read`](Cache::read)
    /// answers a `get` when the backend answers each key at once: one admission and one record of
    /// the breaker for the whole read, as for `get_many`. Every HTTP hit reads its entry and its
    /// tags' versions here: the boxed futures of `get_many` and of each `get` in it, and the
    /// deadline's wrapper, were 1,000 of its instructions on SimpleCache.
    pub(crate) async fn read_many(&self, keys: &[&str]) -> Result<Vec<Option<Bytes>>> {
        let timer = observe::Timer::start();
        let backend = &self.inner.backend;
        // A backend answers every key at once or none (`None` after the first: `get_many` then
        // reads them all, as a backend that answers none would).
        let each_at_once = || keys.iter().map(|key| backend.get_at_once(key)).collect::<Option<Result<Vec<_>>>>();
        match self.at_once("get_many", timer, each_at_once) {
            Some(r) => r,
            None => self.guarded_since(timer, "get_many", backend.get_many(keys)).await,
        }
    }

    /// Runs one backend operation under the deadline and the circuit breaker, measured (the
    /// `metrics` feature, tracing at `trace`).
    pub(crate) async fn guarded<T>(&self, operation: &'static str, call: impl Future<Output = Result<T>>) -> Result<T> {
        self.guarded_since(observe::Timer::start(), operation, call).await
    }

    /// [`guarded`](Cache::guarded), measured from `timer`.
    async fn guarded_since<T>(
        &self,
        timer: observe::Timer,
        operation: &'static str,
        call: impl Future<Output = Result<T>>,
    ) -> Result<T> {
        let r = self.inner.fail_safe.call(operation, call).await;
        observe::backend_operation(self.inner.fail_safe.backend(), operation, &r, timer);
        r
    }

    /// `answer`, the backend's answer at once, admitted and recorded by the breaker and measured
    /// as `operation`; `None` if the backend cannot answer at once or the breaker is not closed.
    #[inline]
    fn at_once<T>(
        &self,
        operation: &'static str,
        timer: observe::Timer,
        answer: impl FnOnce() -> Option<Result<T>>,
    ) -> Option<Result<T>> {
        let r = self.inner.fail_safe.call_at_once(answer)?;
        observe::backend_operation(self.inner.fail_safe.backend(), operation, &r, timer);
        Some(r)
    }
}
