//! The miss path: render the response once for every concurrent miss of its key (single-flight),
//! stream it to the client while a copy is kept (the tee), hand it to the followers of the
//! render, and store it behind the response.
//!
//! A miss makes one backend round trip before the handler runs — the request's lookup — and a
//! second only if an entry was stored since (see [`Flights::stores`](crate::flight::Flights::stores));
//! on a shared backend, the leader of the render also takes the key's lease across processes
//! (one more round trip: see [`lease`](crate::lease)).
//! The store does not delay the response: the entry is published to the followers and answered
//! first, and written on a task of its own.

use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use http::header::{self, HeaderValue};
use http::{Method, Request, Response, response};
use http_body::Body;
use tower::Service;

use crate::body::{CacheBody, OnEnd, Tee};
use crate::call::{Call, Origin, Reply, RequestBody, StoredBody};
use crate::entry::Staleness;
use crate::failure::Rendered;
use crate::flight::{Failure, Leader, Outcome, Role};
use crate::hit::Lookup;
use crate::lease::{HeldLease, Leasing};
use crate::prepared::Prepared;
use crate::refresh::Refresh;
use crate::stats::Counters;
use crate::status::Served;
use crate::store::{StorePlan, Write};

/// What a streamed render stores when its body ends.
struct Ending {
    store: StorePlan,
    head: response::Parts,
    /// The request's lookup failed: the entry is handed on but not stored.
    skip: bool,
    lease: Option<HeldLease>,
}

/// What a request's lookup leaves the miss path.
pub(crate) struct Missed {
    /// [`Flights::stores`](crate::flight::Flights::stores) before the lookup.
    pub stores_seen: u64,
    /// The entry within the stale-if-error grace, served if the render fails.
    pub fallback: Option<Arc<Prepared>>,
    /// The lookup failed (counted): no second lookup, no lease, and no store, for this request.
    pub failed: bool,
    /// The key's lease across processes, once this request leads the render and holds it.
    pub lease: Option<HeldLease>,
}

impl Call {
    /// A miss: wait for the render of the key in progress, or lead one.
    pub(crate) async fn miss<S, ReqBody, ResBody>(
        mut self,
        inner: S,
        body: ReqBody,
        mut missed: Missed,
    ) -> Reply<ResBody, S::Error>
    where
        S: Origin<ReqBody, ResBody>,
        ReqBody: RequestBody,
        ResBody: StoredBody,
    {
        loop {
            match self.state.flights.join(self.entry_key(), self.seen.versions.as_deref()) {
                // Rendered before this request came, and being stored: a hit in all but name.
                Role::Published(Outcome::Entry(entry), _)
                    if !self.force
                        && entry.entry.matches_vary(&self.parts.headers)
                        && entry.entry.staleness(self.now()) == Staleness::Fresh =>
                {
                    Counters::add(&self.counters().hits);
                    return Ok(self.serve(&entry, self.now(), Served::Hit));
                }
                // Of no use to this request (it forces a render, varies, or the entry is no longer
                // fresh): wait for the store, at most the cache's deadline, then lead.
                Role::Published(_, stored) => {
                    let _ = stored.await;
                }
                // Rendered from before an invalidation this request's lookup saw: of no use.
                Role::Outdated(waiter, stored) => {
                    if let Some(stored) = stored {
                        let _ = stored.await;
                    } else {
                        let _ = waiter.await;
                    }
                    // Its store, if any, records the old versions: this request's next lookup
                    // would miss it; lead (or follow a render as recent as this request).
                }
                Role::Follower(waiter) => {
                    let outcome = waiter.await;
                    if let Ok(Outcome::Unverified) = outcome {
                        // Kept or not, its store says: wait for it, then look again.
                        if let Some(stored) = self.state.flights.storing(self.entry_key()) {
                            let _ = stored.await;
                        }
                        continue;
                    }
                    if let Ok(outcome) = outcome {
                        Counters::add(&self.counters().misses);
                        return self.follow(outcome, inner, body, missed.fallback.as_deref()).await;
                    }
                    // The leader went away without an outcome (its client left mid-render): lead,
                    // or follow whoever leads now.
                }
                Role::Leader(leader) => {
                    // An entry of this key may have been stored between our lookup and our lead:
                    // look once more, so that one burst of misses is one render. Only then: the
                    // common miss makes one round trip before it renders.
                    if !self.force && !missed.failed && self.state.flights.stores() != missed.stores_seen {
                        let now = self.now();
                        match self.lookup(now).await {
                            Lookup::Fresh(entry) => {
                                leader.publish(Outcome::Entry(entry.clone()));
                                Counters::add(&self.counters().hits);
                                return Ok(self.serve(&entry, now, Served::Hit));
                            }
                            // Stored since as the lookup missed it, and already stale (the store
                            // took a while, or the clock moved): served as any stale hit.
                            Lookup::Stale(entry) => {
                                drop(leader);
                                Counters::add(&self.counters().stale);
                                self.spawn_refresh(&inner, Refresh::Stale);
                                return Ok(self.serve(&entry, now, Served::Stale));
                            }
                            Lookup::Fallback(entry) => missed.fallback = Some(entry),
                            Lookup::Failed => missed.failed = true,
                            Lookup::Missing => {}
                        }
                    }
                    // One render across processes too: take the key's lease, or serve what the
                    // process that holds it renders.
                    if !self.force && !missed.failed {
                        match self.lease_or_wait().await {
                            Leasing::Held(lease) => missed.lease = Some(lease),
                            Leasing::Served(entry) => {
                                // Another process stored the key since the lookups of the
                                // requests still on their way to this flight: counted as a
                                // store, so that they look again rather than lead a render of
                                // their own (the lease is free again by then).
                                self.state.flights.count_store();
                                leader.publish(Outcome::Entry(entry.clone()));
                                Counters::add(&self.counters().misses);
                                return Ok(self.serve(&entry, self.now(), Served::Collapsed));
                            }
                            Leasing::Stale(entry) => {
                                self.state.flights.count_store();
                                drop(leader);
                                Counters::add(&self.counters().stale);
                                self.spawn_refresh(&inner, Refresh::Stale);
                                return Ok(self.serve(&entry, self.now(), Served::Stale));
                            }
                            Leasing::Failed => missed.failed = true,
                            Leasing::Render => {}
                        }
                    }
                    Counters::add(&self.counters().misses);
                    return self.render(inner, body, leader, missed).await;
                }
            }
        }
    }

    /// A follower's answer from its leader's outcome: the entry, or its own answer to a failure,
    /// or else its own render.
    async fn follow<S, ReqBody, ResBody>(
        &self,
        outcome: Outcome,
        inner: S,
        body: ReqBody,
        fallback: Option<&Prepared>,
    ) -> Reply<ResBody, S::Error>
    where
        S: Service<Request<ReqBody>, Response = Response<ResBody>>,
        ResBody: Body,
    {
        match outcome {
            Outcome::Entry(entry) if entry.entry.matches_vary(&self.parts.headers) => {
                Ok(self.serve(&entry, self.now(), Served::Collapsed))
            }
            Outcome::Failed(failure) => match self.answer_failed(failure, fallback) {
                Some(answer) => Ok(answer),
                None => self.render_uncached(inner, body, None).await,
            },
            // Not storable, or rendered for other Vary values: render our own, uncached.
            _ => self.render_uncached(inner, body, fallback).await,
        }
    }

    /// Renders the request as the leader of its key, streams it to the client and stores it.
    async fn render<S, ReqBody, ResBody>(
        mut self,
        inner: S,
        body: ReqBody,
        leader: Leader,
        missed: Missed,
    ) -> Reply<ResBody, S::Error>
    where
        S: Service<Request<ReqBody>, Response = Response<ResBody>>,
        ResBody: StoredBody,
    {
        let request = Request::from_parts(self.render_request(), body);
        self.render_started = Some(Instant::now());
        let response = match self.render_guarded(inner, request, missed.fallback.as_deref()).await {
            Rendered::Response(response) => response,
            Rendered::Failed(failure, answer) => {
                leader.publish(Outcome::Failed(failure));
                return answer;
            }
        };
        let (mut head, body) = response.into_parts();
        let now = self.now();
        let fresh = self.fresh_period(&head, now);
        let store = self.store_plan(&head, fresh, now);
        self.settings.strip_tag_headers(&mut head.headers);
        let mut tee = Tee::new(body, store.as_ref().and_then(|_| self.settings.copy_limit(&head)));
        let whole = futures::future::poll_fn(|cx| Poll::Ready(tee.drain_ready(cx))).await;

        match (store, whole) {
            // The whole body was ready: answer with the entry, and store it behind the response.
            (Some(store), Some(bytes)) if store.accepts(&head, &bytes) => {
                let ttl = store.backend_ttl();
                let (entry, place) = store.entry(&head, bytes);
                let entry = Prepared::new(entry);
                let storing = leader.publish_and_hold(place.outcome(&entry, missed.failed));
                let rendered = Served::Rendered { stored: !missed.failed, forced: self.force };
                let response = self.serve(&entry, now, rendered);
                let write = Write { entry, ttl, skip: missed.failed, place, lease: missed.lease };
                self.state.store_behind(write, storing);
                return Ok(response);
            }
            // A real stream: store it when the client has read it all.
            (Some(store), None) if tee.is_storing() => {
                let at_end = Ending { store, head: head.clone(), skip: missed.failed, lease: missed.lease };
                tee.on_end(self.store_at_end(at_end, leader));
            }
            _ if head.status.is_server_error() => leader.publish(Outcome::Failed(Failure::Status(head.status))),
            _ => leader.publish(Outcome::NotStorable),
        }
        self.decorate_miss(&mut head, |_| fresh);
        if self.parts.method == Method::HEAD {
            return Ok(Response::from_parts(head, CacheBody::empty()));
        }
        Ok(Response::from_parts(head, CacheBody::tee(tee)))
    }

    /// What a streamed render does when its body ends: hand the entry to the followers and store
    /// it if the body stayed storable, or tell them it is not storable (and give the lease back).
    fn store_at_end(&self, ending: Ending, leader: Leader) -> OnEnd {
        let state = self.state.clone();
        let Ending { store, head, skip, lease } = ending;
        Box::new(move |whole| match whole {
            Some(bytes) if store.accepts(&head, &bytes) => {
                let ttl = store.backend_ttl();
                let (entry, place) = store.entry(&head, bytes);
                let entry = Prepared::new(entry);
                let storing = leader.publish_and_hold(place.outcome(&entry, skip));
                state.store_behind(Write { entry, ttl, skip, place, lease }, storing);
            }
            _ => leader.publish(Outcome::NotStorable),
        })
    }

    /// A follower's own render when the leader's response cannot serve it: the request as it
    /// came, not stored; if it fails, `fallback` (the stale entry) is served instead.
    async fn render_uncached<S, ReqBody, ResBody>(
        &self,
        inner: S,
        body: ReqBody,
        fallback: Option<&Prepared>,
    ) -> Reply<ResBody, S::Error>
    where
        S: Service<Request<ReqBody>, Response = Response<ResBody>>,
        ResBody: Body,
    {
        let request = Request::from_parts(self.parts.clone(), body);
        let response = match self.render_guarded(inner, request, fallback).await {
            Rendered::Response(response) => response,
            Rendered::Failed(_, answer) => return answer,
        };
        let (mut head, body) = response.map(CacheBody::inner).into_parts();
        self.settings.strip_tag_headers(&mut head.headers);
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
        Served::Rendered { stored: false, forced: self.force }.decorate(&mut head.headers, None, self.now());
        self.observe_response("miss");
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
