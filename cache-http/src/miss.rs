//! The miss path: render the response once for every concurrent miss of its key (single-flight),
//! stream it to the client while a copy is kept (the tee), store it, and let the followers of the
//! render serve the stored entry.

use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use http::header::{self, HeaderValue};
use http::{Method, Request, Response, response};
use http_body::Body;
use tower::{Service, ServiceExt};

use crate::body::{CacheBody, OnEnd, Tee};
use crate::call::{Call, Origin, Reply, RequestBody, StoredBody, X_CACHE};
use crate::flight::{Leader, Outcome, Role};
use crate::stats::Counters;
use crate::store::StorePlan;

impl Call {
    /// A miss: wait for the render of the key in progress, or lead one.
    pub(crate) async fn miss<S, ReqBody, ResBody>(self, inner: S, body: ReqBody) -> Reply<ResBody, S::Error>
    where
        S: Origin<ReqBody, ResBody>,
        ReqBody: RequestBody,
        ResBody: StoredBody,
    {
        loop {
            match self.state.flights.join(&self.key) {
                Role::Follower(waiter) => match waiter.await {
                    Ok(Outcome::Stored(entry)) if entry.matches_vary(&self.parts.headers) => {
                        Counters::add(&self.counters().misses);
                        return Ok(self.serve(&entry, self.now(), "MISS"));
                    }
                    // Not storable, or rendered for other Vary values: render our own, uncached.
                    Ok(_) => {
                        Counters::add(&self.counters().misses);
                        return self.render_uncached(inner, body).await;
                    }
                    // The leader went away without an answer (client gone, error): look again, and
                    // lead if nobody else does.
                    Err(_) => {
                        let now = self.now();
                        if let Some(entry) = self.fresh_entry(now).await {
                            Counters::add(&self.counters().hits);
                            return Ok(self.serve(&entry, now, "HIT"));
                        }
                    }
                },
                Role::Leader(leader) => {
                    // A render of this key may have finished between our miss and our lead: look
                    // once more, so that one burst of misses is one render.
                    let now = self.now();
                    if let Some(entry) = self.fresh_entry(now).await {
                        let entry = Arc::new(entry);
                        leader.publish(Outcome::Stored(entry.clone()));
                        Counters::add(&self.counters().hits);
                        return Ok(self.serve(&entry, now, "HIT"));
                    }
                    Counters::add(&self.counters().misses);
                    return self.render(inner, body, leader).await;
                }
            }
        }
    }

    /// Renders the request as the leader of its key, streams it to the client and stores it.
    async fn render<S, ReqBody, ResBody>(self, mut inner: S, body: ReqBody, leader: Leader) -> Reply<ResBody, S::Error>
    where
        S: Service<Request<ReqBody>, Response = Response<ResBody>>,
        ResBody: StoredBody,
    {
        // An error here drops `leader`: the followers try again.
        let response = inner.ready().await?.call(Request::from_parts(self.render_request(), body)).await?;
        let (mut head, body) = response.into_parts();
        let now = self.now();
        let fresh = self.fresh_period(&head, now);
        let store = self.store_plan(&head, fresh, now);
        let mut tee = Tee::new(body, store.as_ref().and_then(|_| self.settings.copy_limit(&head)));
        let whole = futures::future::poll_fn(|cx| Poll::Ready(tee.drain_ready(cx))).await;

        match (store, whole) {
            // The whole body was ready: store it now, so the next request is a hit.
            (Some(store), Some(bytes)) if store.accepts(&bytes) => {
                let ttl = store.backend_ttl();
                let entry = Arc::new(store.entry(&head, bytes));
                self.state.put(&self.key, &entry, ttl).await;
                leader.publish(Outcome::Stored(entry.clone()));
                return Ok(self.serve(&entry, now, "MISS"));
            }
            // A real stream: store it when the client has read it all.
            (Some(store), None) if tee.is_storing() => tee.on_end(self.store_at_end(store, head.clone(), leader)),
            _ => leader.publish(Outcome::NotStorable),
        }
        self.decorate_miss(&mut head, |_| fresh);
        if self.parts.method == Method::HEAD {
            return Ok(Response::from_parts(head, CacheBody::empty()));
        }
        Ok(Response::from_parts(head, CacheBody::tee(tee)))
    }

    /// What a streamed render does when its body ends: store the body if it stayed storable and
    /// hand the entry to the followers, or tell them it is not storable.
    fn store_at_end(&self, store: StorePlan, head: response::Parts, leader: Leader) -> OnEnd {
        let (state, key) = (self.state.clone(), self.key.clone());
        Box::new(move |whole| match whole {
            Some(bytes) if store.accepts(&bytes) => {
                let ttl = store.backend_ttl();
                let entry = Arc::new(store.entry(&head, bytes));
                let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
                runtime.spawn(async move {
                    state.put(&key, &entry, ttl).await;
                    leader.publish(Outcome::Stored(entry));
                });
            }
            _ => leader.publish(Outcome::NotStorable),
        })
    }

    /// A follower's own render when the leader's response cannot serve it: the request as it
    /// came, not stored.
    async fn render_uncached<S, ReqBody, ResBody>(&self, mut inner: S, body: ReqBody) -> Reply<ResBody, S::Error>
    where
        S: Service<Request<ReqBody>, Response = Response<ResBody>>,
        ResBody: Body,
    {
        let response = inner.ready().await?.call(Request::from_parts(self.parts.clone(), body)).await?;
        let (mut head, body) = response.map(CacheBody::inner).into_parts();
        let now = self.now();
        self.decorate_miss(&mut head, |head| self.fresh_period(head, now));
        Ok(Response::from_parts(head, body))
    }

    /// The headers of a response rendered for a miss: `X-Cache: MISS`, and the route's
    /// `Cache-Control` if the response is the route's content (it passes the filter, sets no
    /// cookie), whether or not the layer stores it (a `private` route's responses are not stored,
    /// but clients must be told they are private). `fresh` gives the response's fresh period,
    /// computed only if the policy needs it.
    fn decorate_miss(&self, head: &mut response::Parts, fresh: impl FnOnce(&response::Parts) -> Option<Duration>) {
        head.headers.insert(X_CACHE, HeaderValue::from_static("MISS"));
        if let Some(policy) = &self.settings.cache_control
            && !head.headers.contains_key(header::CACHE_CONTROL)
            && !head.headers.contains_key(header::SET_COOKIE)
            && (self.settings.response_filter)(head)
            && let Ok(value) = HeaderValue::from_str(&policy.header_value(fresh(head)))
        {
            head.headers.insert(header::CACHE_CONTROL, value);
        }
    }
}
