//! The background refresh of stale-while-revalidate: past an entry's fresh period and within the
//! layer's stale margin, a request is served the stale entry at once, and one task renders the
//! route again and stores the new response, however many stale requests arrive meanwhile.

use cachette_core::observe::ShortKey;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use cachette_core::Ttl;
use futures::FutureExt;
use http::{Request, Response};
use http_body::Body;
use tower::{Service, ServiceExt};
use tracing::Instrument;

use crate::body::Tee;
use crate::call::{Call, Origin, RequestBody, StoredBody};
use crate::failure::panic_message;
use crate::observe;
use crate::shared::State;
use crate::stats::Counters;

/// Why an entry is refreshed in the background.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refresh {
    /// It is stale, within the stale-while-revalidate margin.
    Stale,
    /// It is fresh, and a hit drew an early refresh (XFetch, [`CacheLayer::early_refresh`](crate::CacheLayer::early_refresh)).
    Early,
}

impl Call {
    /// Starts the one background refresh of this request's entry (stale, or drawn for an early
    /// refresh), unless one is running for the key. The request and the service are cloned only
    /// when a refresh starts: every other hit of the key that asks for one costs a set lookup.
    pub(crate) fn spawn_refresh<S, ReqBody, ResBody>(&self, inner: &S, why: Refresh)
    where
        S: Origin<ReqBody, ResBody>,
        ReqBody: RequestBody,
        ResBody: StoredBody,
    {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        if !self.state.refreshing.lock().unwrap_or_else(|p| p.into_inner()).insert(self.entry_key().to_owned()) {
            return;
        }
        let (mut call, inner) = (self.clone(), inner.clone());
        let why_name = if why == Refresh::Early { "early" } else { "stale" };
        let span = observe::refresh_span(&self.settings.route, self.entry_key(), why_name);
        let refresh = async move {
            let _done = Unmark { state: call.state.clone(), key: call.entry_key().to_owned() };
            let state = &call.state;
            // One refresh per key across processes too: the lock is an atomic `add` in the shared
            // cache, held at most a minute in case this process dies mid-refresh. Bookkeeping,
            // not a user's read or write; if the cache cannot say, refresh anyway.
            let lock = format!("{}\nrefreshing", call.entry_key());
            let lock_ttl = Ttl::After(call.settings.stale.clamp(Duration::from_secs(1), Duration::from_secs(60)));
            if let Ok(false) = state.cache.internal_add(&lock, &true, lock_ttl).await {
                return;
            }
            Counters::add(&state.counters.refreshes);
            if why == Refresh::Early {
                Counters::add(&state.counters.early_refreshes);
            }
            call.render_started = Some(std::time::Instant::now());
            // A panicking handler fails the refresh (the stale entry stays), and the lock is
            // released rather than held for its whole lifetime.
            let refreshed = AssertUnwindSafe(call.refresh(inner)).catch_unwind().await;
            if let Err(panic) = &refreshed {
                Counters::add(&state.counters.panics);
                tracing::error!(
                    key = %ShortKey(&call.key),
                    panic = panic_message(panic.as_ref()),
                    "cachette-http: the handler panicked in a background refresh; keeping the stale entry"
                );
            }
            if !matches!(refreshed, Ok(true)) {
                observe::record("outcome", "failed");
                Counters::add(&state.counters.refresh_failures);
            }
            let _ = state.cache.internal_delete(&lock).await;
        };
        match span {
            Some(span) => runtime.spawn(refresh.instrument(span)),
            None => runtime.spawn(refresh),
        };
    }

    /// Renders the request again and stores the response; whether it could. A failure keeps the
    /// stale entry.
    async fn refresh<S, ReqBody, ResBody>(&self, inner: S) -> bool
    where
        S: Service<Request<ReqBody>, Response = Response<ResBody>>,
        ReqBody: Default,
        ResBody: Body<Data = Bytes>,
    {
        let key = self.key.as_str();
        let started = std::time::Instant::now();
        let rendered = inner.oneshot(Request::from_parts(self.render_request(), ReqBody::default())).await;
        self.observe_render(started.elapsed());
        let Ok(response) = rendered else {
            tracing::warn!(
                key = %ShortKey(key),
                "cachette-http: background refresh failed (the inner service errored); keeping the stale entry"
            );
            return false;
        };
        let (head, body) = response.into_parts();
        let now = self.now();
        let fresh = self.fresh_period(&head, now);
        let mut head = head;
        let Some(store) = self.store_plan(&head, fresh, now) else {
            tracing::warn!(key = %ShortKey(key), status = %head.status, "cachette-http: background refresh gave a response that may not be stored; keeping the stale entry");
            return false;
        };
        let Some(bytes) = Tee::new(body, Some(self.settings.max_body_size)).collect().await else {
            tracing::warn!(
                key = %ShortKey(key),
                "cachette-http: background refresh body failed or is over max_body_size; keeping the stale entry"
            );
            return false;
        };
        if !store.accepts(&head, &bytes) {
            tracing::debug!(
                key = %ShortKey(key),
                "cachette-http: the refresh may not be stored (a HEAD handler's, or refused by the body filter); \
                 keeping the stale entry"
            );
            return false;
        }
        self.settings.strip_tag_headers(&mut head.headers);
        let ttl = store.backend_ttl();
        let (entry, place) = store.entry(&head, bytes);
        self.state.put(&place, &entry, ttl, None).await;
        true
    }
}

/// Removes a key from the refreshes running when its refresh ends (or is dropped).
struct Unmark {
    state: Arc<State>,
    key: String,
}

impl Drop for Unmark {
    fn drop(&mut self) {
        self.state.refreshing.lock().unwrap_or_else(|p| p.into_inner()).remove(&self.key);
    }
}
