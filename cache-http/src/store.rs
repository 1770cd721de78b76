//! What may be stored: the [`StorePlan`] of a rendered response, and the write to the backend.
//! Shared by the miss path and the background refresh.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use cachette_core::observe::ShortKey;
use cachette_core::{CacheError, TagsSeen, Ttl};
use http::{Method, header, response};

use crate::call::Call;
use crate::entry::{Entry, Lifetime, VaryValues, vary_values};
use crate::flight::{Outcome, Storing};
use crate::lease::HeldLease;
use crate::observe::{self, Route};
use crate::options::BodyFilterFn;
use crate::policy::directives;
use crate::prepared::Prepared;
use crate::shared::{Settings, State};
use crate::stats::Counters;
use crate::tags::response_tags;
use crate::vary::{Admit, Marker, variant_key};
use tracing::Instrument;

/// How a rendered response may be stored.
pub(crate) struct StorePlan {
    lifetime: Lifetime,
    vary: VaryValues,
    /// For a render of a `HEAD`: the response's `Content-Length`, if it declares one.
    head: Option<Option<u64>>,
    /// The stale-if-error grace, which the backend must keep the entry for too.
    grace: Duration,
    /// Where the entry goes.
    place: Place,
    /// When the render started (the entry records how long it took, to the end of its body).
    started: Instant,
    /// The layer's filter of whole responses.
    body_filter: Option<BodyFilterFn>,
}

/// Where an entry is stored: its key, its tags, and the `Vary` marker to write with it.
pub(crate) struct Place {
    /// The entry's key: the request's, or its variant's.
    pub key: String,
    /// The entry's tags, each with the version the request's lookup saw (`None`: read at the
    /// write).
    pub tags: Vec<(String, Option<u64>)>,
    /// When the render began, by the real clock: a tag read at the write that was invalidated
    /// since then stores nothing (see [`TagsSeen`]).
    pub rendered_since: SystemTime,
    /// The marker to write at the URL's key (`base`) after the entry, for a URL that varies.
    pub marker: Option<(String, Marker, Ttl)>,
    /// The layer's route name, for the metrics and hooks of the write.
    pub route: Route,
}

impl Place {
    /// What the render of an entry stored here hands its followers: the entry; or, when a tag of
    /// it is read only at the store, [`Outcome::Unverified`] (they wait for the store and look
    /// again). Not when the write is skipped (`skip`: the request's lookup failed, the backend is
    /// down): no store can then keep the entry past an invalidation, and the followers are served
    /// the render as before, rather than each rendering their own during an outage.
    pub(crate) fn outcome(&self, entry: &Arc<Prepared>, skip: bool) -> Outcome {
        if !skip && self.tags.iter().any(|(_, seen)| seen.is_none()) {
            Outcome::Unverified
        } else {
            Outcome::Entry(entry.clone())
        }
    }
}

impl StorePlan {
    /// Whether the rendered `body` may become the entry. For a `GET`, always. A render of a `HEAD`
    /// becomes the `GET` entry only if it carries its content, as long as it says: what a route's
    /// `GET` handler answers when the route has no `HEAD` handler of its own (axum calls it). A
    /// `HEAD` handler's answer has no content (RFC 9110 §9.3.2) and is never served to a `GET`.
    ///
    /// Then the layer's [`body_filter`](crate::CacheLayer::body_filter), if it has one, on `res`
    /// and `body`.
    pub(crate) fn accepts(&self, res: &response::Parts, body: &Bytes) -> bool {
        let whole = match self.head {
            None => true,
            Some(declared) => !body.is_empty() && declared.is_none_or(|len| len == body.len() as u64),
        };
        whole && self.body_filter.as_ref().is_none_or(|store| store(res, body))
    }

    /// How long the backend keeps the entry: the fresh period plus the longer of the
    /// stale-while-revalidate margin and the stale-if-error grace, relative to the real clock
    /// whatever the layer's clock says.
    pub(crate) fn backend_ttl(&self) -> Ttl {
        backend_ttl(self.lifetime, self.grace)
    }

    /// The entry for the response `head` + `body`, and where it goes.
    pub(crate) fn entry(self, head: &response::Parts, body: Bytes) -> (Entry, Place) {
        let lifetime = Lifetime { took: self.started.elapsed(), ..self.lifetime };
        (Entry::new(head, body, lifetime, self.vary), self.place)
    }
}

/// See [`StorePlan::backend_ttl`].
fn backend_ttl(lifetime: Lifetime, grace: Duration) -> Ttl {
    let Lifetime { fresh, stale, .. } = lifetime;
    fresh.map_or(Ttl::Never, |d| Ttl::After(d.saturating_add(stale.max(grace))))
}

impl Call {
    /// Whether the response `res`, rendered at `now` and fresh for `fresh` (see
    /// [`Call::fresh_period`]), may be stored: the route's `response_filter` accepts it (by
    /// default, status 200), and it has no `Set-Cookie`, no `no-store`, no `private` outside
    /// `per_user`, no `Vary: *`, a fresh period that is not zero, and, for a response with
    /// `Vary`, room among its URL's variants (see [`vary`](crate::vary)).
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
        let lifetime = Lifetime { rendered_at: now, fresh, stale: settings.stale, took: Duration::ZERO };
        let started = self.render_started.unwrap_or_else(Instant::now);
        let rendered_since = SystemTime::now().checked_sub(started.elapsed()).unwrap_or(UNIX_EPOCH);
        let place = self.place(res, &vary, backend_ttl(lifetime, settings.stale_if_error), rendered_since)?;
        let body_filter = settings.body_filter.clone();
        Some(StorePlan { lifetime, vary, head, grace: settings.stale_if_error, place, started, body_filter })
    }

    /// Where a response is stored: under the request's key, or, when it varies, its variant's
    /// (`None`: its URL has [`MAX_VARIANTS`](crate::vary::MAX_VARIANTS) already); with the
    /// request's tags as its lookup saw them and the handler's.
    fn place(&self, res: &response::Parts, vary: &VaryValues, ttl: Ttl, rendered_since: SystemTime) -> Option<Place> {
        let versions = self.seen.versions.as_ref().filter(|v| v.len() == self.tags.len());
        let mut tags: Vec<(String, Option<u64>)> = match versions {
            Some(versions) => self.tags.iter().cloned().zip(versions.iter().map(|v| Some(*v))).collect(),
            None => self.tags.iter().map(|t| (t.clone(), None)).collect(),
        };
        for tag in response_tags(res) {
            if !tags.iter().any(|(t, _)| *t == tag) {
                tags.push((tag, None));
            }
        }
        if vary.is_empty() {
            let route = self.settings.route.clone();
            return Some(Place { key: self.key.clone(), tags, rendered_since, marker: None, route });
        }
        let names: Vec<String> = vary.iter().map(|(name, _)| name.clone()).collect();
        let (key, variant) = variant_key(&self.key, &names, &self.parts.headers);
        match Marker::admit(self.seen.marker.as_ref(), &names, variant, ttl) {
            Admit::Store(marker) => {
                let marker = marker.map(|(marker, ttl)| (self.key.clone(), marker, ttl));
                Some(Place { key, tags, rendered_since, marker, route: self.settings.route.clone() })
            }
            Admit::Full => {
                Counters::add(&self.counters().over_variant_limit);
                tracing::debug!(
                    key = %ShortKey(&self.key),
                    "cachette-http: not storing a Vary variant: its URL has the most variants stored"
                );
                None
            }
        }
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
    /// Stores `entry` at `place` for `ttl`, then the URL's `Vary` marker if it needs one, then
    /// gives the key's `lease` back (if the lease was lost during the render, the entry is
    /// removed again: see [`lease`](crate::lease)). A failure is logged and counted, not
    /// returned: the response was served either way. Logged at debug while the circuit breaker
    /// is open (it logged its opening), else as a warning.
    pub(crate) async fn put(&self, place: &Place, entry: &Entry, ttl: Ttl, lease: Option<HeldLease>) {
        let key = place.key.as_str();
        let tags: Vec<(&str, Option<u64>)> = place.tags.iter().map(|(t, v)| (t.as_str(), *v)).collect();
        let mut stored = match entry.encode(key) {
            Ok(bytes) => {
                let seen = TagsSeen { tags: &tags, computed_since: place.rendered_since };
                self.cache.set_bytes_tagged_seen(key, &bytes, ttl, seen).await
            }
            Err(e) => Err(e),
        };
        if let (Ok(true), Some((base, marker, marker_ttl))) = (&stored, &place.marker) {
            stored = match marker.encode(base) {
                Ok(bytes) => self.cache.set_bytes(base, bytes, *marker_ttl).await.map(|()| true),
                Err(e) => Err(e),
            };
        }
        if let (Ok(true), Some(lease)) = (&stored, lease)
            && !lease.end(key).await
        {
            stored = Ok(false);
        }
        self.flights.count_store();
        match stored {
            Ok(true) => {
                observe::record("outcome", "stored");
                Counters::add(&self.counters.stored);
                observe::stored(&self.cache, &place.route, key, entry.render_time());
            }
            // A tag was invalidated since the lookup, or the key deleted (its lease lost): what
            // was rendered may be older than the invalidation.
            Ok(false) => {
                observe::record("outcome", "not_kept");
                tracing::debug!(
                    key = %ShortKey(key),
                    "cachette-http: not keeping the response: the view was invalidated or deleted during the render"
                );
            }
            Err(e) => {
                observe::record("outcome", "error");
                Counters::add(&self.counters.errors);
                observe::error(&place.route);
                if matches!(e, CacheError::CircuitOpen { .. }) {
                    tracing::debug!(key = %ShortKey(key), error = %e, "cachette-http: the cache is unavailable; the response was served uncached");
                } else {
                    tracing::warn!(key = %ShortKey(key), error = %e, "cachette-http: cannot store the response; it was served uncached");
                }
            }
        }
    }

    /// Stores a rendered entry behind the response: on a task of its own, holding the flight of
    /// its key (`storing`) until the write has finished, so that requests arriving meanwhile are
    /// handed the entry (see [`Flights`](crate::flight::Flights)). Not stored for a request whose
    /// lookup failed (`skip`): the backend just failed it, and one error per request is counted.
    pub(crate) fn store_behind(self: &Arc<Self>, write: Write, storing: Storing) {
        let Write { entry, ttl, skip, place, lease } = write;
        let key = place.key.as_str();
        if skip {
            tracing::debug!(key = %ShortKey(key), "cachette-http: not storing the response: the cache failed this request's lookup");
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!(key = %ShortKey(key), "cachette-http: no tokio runtime to store the response on; it was served uncached");
            return;
        };
        let state = self.clone();
        let span = observe::store_span(&place.route, key);
        let store = async move {
            state.put(&place, &entry.entry, ttl, lease).await;
            drop(storing);
        };
        match span {
            Some(span) => runtime.spawn(store.instrument(span)),
            None => runtime.spawn(store),
        };
    }
}

/// A write [`State::store_behind`] makes.
pub(crate) struct Write {
    pub entry: Arc<Prepared>,
    pub ttl: Ttl,
    /// Don't write: the request's lookup failed.
    pub skip: bool,
    /// Where.
    pub place: Place,
    /// The key's lease, given back once the entry is written.
    pub lease: Option<HeldLease>,
}
