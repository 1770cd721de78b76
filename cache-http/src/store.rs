//! What may be stored: the [`StorePlan`] of a rendered response, and the write to the backend.
//! Shared by the miss path and the background refresh.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use cachette_core::{CacheError, Ttl};
use http::{Method, header, response};

use crate::call::Call;
use crate::entry::{Entry, Lifetime, VaryValues, vary_values};
use crate::flight::Storing;
use crate::policy::directives;
use crate::shared::{Settings, State};
use crate::stats::Counters;

/// How a rendered response may be stored.
pub(crate) struct StorePlan {
    lifetime: Lifetime,
    vary: VaryValues,
    /// For a render of a `HEAD`: the response's `Content-Length`, if it declares one.
    head: Option<Option<u64>>,
    /// The stale-if-error grace, which the backend must keep the entry for too.
    grace: Duration,
}

impl StorePlan {
    /// Whether the rendered `body` may become the entry. For a `GET`, always. A render of a `HEAD`
    /// becomes the `GET` entry only if it carries its content, as long as it says: what a route's
    /// `GET` handler answers when the route has no `HEAD` handler of its own (axum calls it). A
    /// `HEAD` handler's answer has no content (RFC 9110 §9.3.2) and is never served to a `GET`.
    pub(crate) fn accepts(&self, body: &Bytes) -> bool {
        match self.head {
            None => true,
            Some(declared) => !body.is_empty() && declared.is_none_or(|len| len == body.len() as u64),
        }
    }

    /// How long the backend keeps the entry: the fresh period plus the longer of the
    /// stale-while-revalidate margin and the stale-if-error grace, relative to the real clock
    /// whatever the layer's clock says.
    pub(crate) fn backend_ttl(&self) -> Ttl {
        let Lifetime { fresh, stale, .. } = self.lifetime;
        fresh.map_or(Ttl::Never, |d| Ttl::After(d.saturating_add(stale.max(self.grace))))
    }

    /// The entry for the response `head` + `body`.
    pub(crate) fn entry(self, head: &response::Parts, body: Bytes) -> Entry {
        Entry::new(head, body, self.lifetime, self.vary)
    }
}

impl Call {
    /// Whether the response `res`, rendered at `now` and fresh for `fresh` (see
    /// [`Call::fresh_period`]), may be stored: the route's `response_filter` accepts it (by
    /// default, status 200), and it has no `Set-Cookie`, no `no-store`, no `private` outside
    /// `per_user`, no `Vary: *`, and a fresh period that is not zero.
    pub(crate) fn store_plan(
        &self,
        res: &response::Parts,
        fresh: Option<Duration>,
        now: SystemTime,
    ) -> Option<StorePlan> {
        let settings = &self.settings;
        if !(settings.response_filter)(res) || res.headers.contains_key(header::SET_COOKIE) {
            return None;
        }
        let per_user = settings.per_user.is_some();
        for value in res.headers.get_all(header::CACHE_CONTROL) {
            for (directive, _) in directives(value.to_str().ok()?) {
                if directive == "no-store" || (directive == "private" && !per_user) {
                    return None;
                }
            }
        }
        if let Some(policy) = &settings.cache_control
            && (policy.is_no_store() || (policy.is_private() && !per_user))
        {
            return None;
        }
        if fresh.is_some_and(|d| d.is_zero()) {
            return None;
        }
        let vary = vary_values(&res.headers, &self.parts.headers)?;
        let head = (self.parts.method == Method::HEAD).then(|| declared_length(res));
        let lifetime = Lifetime { rendered_at: now, fresh, stale: settings.stale };
        Some(StorePlan { lifetime, vary, head, grace: settings.stale_if_error })
    }
}

impl Settings {
    /// How much of a storable body to keep a copy of: up to `max_body_size`, or nothing if the
    /// response declares a larger `Content-Length` (it will not fit, so copying it is waste).
    pub(crate) fn copy_limit(&self, res: &response::Parts) -> Option<usize> {
        match declared_length(res) {
            Some(len) if len > self.max_body_size as u64 => None,
            _ => Some(self.max_body_size),
        }
    }
}

/// The response's `Content-Length`, if it declares one.
fn declared_length(res: &response::Parts) -> Option<u64> {
    res.headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
}

impl State {
    /// Stores `entry` under `key` for `ttl`. A failure is logged and counted, not returned: the
    /// response was served either way. Logged at debug while the circuit breaker is open (it
    /// logged its opening), else as a warning.
    pub(crate) async fn put(&self, key: &str, entry: &Entry, ttl: Ttl) {
        let stored = match entry.encode(key) {
            Ok(bytes) => self.cache.set_bytes(key, bytes, ttl).await,
            Err(e) => Err(e),
        };
        self.flights.count_store();
        match stored {
            Ok(()) => Counters::add(&self.counters.stored),
            Err(e) => {
                Counters::add(&self.counters.errors);
                if matches!(e, CacheError::CircuitOpen { .. }) {
                    tracing::debug!(key, error = %e, "cachette-http: the cache is unavailable; the response was served uncached");
                } else {
                    tracing::warn!(key, error = %e, "cachette-http: cannot store the response; it was served uncached");
                }
            }
        }
    }

    /// Stores a rendered entry behind the response: on a task of its own, holding the flight of
    /// its key (`storing`) until the write has finished, so that requests arriving meanwhile are
    /// handed the entry (see [`Flights`](crate::flight::Flights)). Not stored for a request whose
    /// lookup failed (`skip`): the backend just failed it, and one error per request is counted.
    pub(crate) fn store_behind(self: &Arc<Self>, key: &str, write: Write, storing: Storing) {
        let Write { entry, ttl, skip } = write;
        if skip {
            tracing::debug!(key, "cachette-http: not storing the response: the cache failed this request's lookup");
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!(key, "cachette-http: no tokio runtime to store the response on; it was served uncached");
            return;
        };
        let (state, key) = (self.clone(), key.to_owned());
        runtime.spawn(async move {
            state.put(&key, &entry, ttl).await;
            drop(storing);
        });
    }
}

/// A write [`State::store_behind`] makes.
pub(crate) struct Write {
    pub entry: Arc<Entry>,
    pub ttl: Ttl,
    /// Don't write: the request's lookup failed.
    pub skip: bool,
}
