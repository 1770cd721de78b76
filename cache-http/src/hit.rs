//! The hit path: find the stored entry of a request, and answer with it or with `304 Not Modified`.

use cachette_core::observe::ShortKey;
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use cachette_core::CacheError;
use http::header::{self, HeaderMap};
use http::{Method, Response, StatusCode};
use http_body::Body;

use crate::body::CacheBody;
use crate::call::{Call, X_CACHE};
use crate::conditional::not_modified;
use crate::entry::{Entry, Staleness};
use crate::prepared::Prepared;
use crate::stats::Counters;
use crate::status::{CACHE_STATUS, Served};
use crate::vary::{Marker, variant_key};

/// What a tagged read gives: the value, and the versions of the tags read with it.
type Read = (Option<Bytes>, Option<Vec<u64>>);

/// What a request's lookup found.
pub(crate) enum Lookup {
    /// An entry within its fresh period: served.
    Fresh(Arc<Prepared>),
    /// An entry within the stale-while-revalidate margin: served while it is refreshed.
    Stale(Arc<Prepared>),
    /// An entry past both, within the stale-if-error grace: served only if the render fails.
    Fallback(Arc<Prepared>),
    /// Nothing that may serve the request: absent, expired, rendered for other `Vary` values, or
    /// undecodable.
    Missing,
    /// The backend failed (counted and logged).
    Failed,
}

impl Call {
    /// What the cache holds for the request at `now`: its entry, read with the versions of its
    /// tags in one round trip; or, when the URL's key holds a `Vary` marker, its variant's entry,
    /// in a second one (see [`vary`](crate::vary)). Records what it learnt in [`Call::seen`].
    ///
    /// A backend failure or an entry that does not decode is a miss (logged, and a failure
    /// counted): the cache is an optimisation, never a reason to fail a request. While the
    /// backend's circuit breaker is open the lookup fails at once, logged at debug (the breaker
    /// logged its opening).
    pub(crate) async fn lookup(&mut self, now: SystemTime) -> Lookup {
        self.seen.looked = true;
        let read = self.read(&self.key).await;
        let Some(mut stored) = self.note_read(read) else { return Lookup::Failed };
        if let Some(bytes) = &stored
            && Marker::is_marker(bytes)
        {
            let marker = match Marker::decode(&self.key, bytes) {
                Ok(marker) => marker,
                Err(e) => {
                    tracing::warn!(key = %ShortKey(&self.key), error = %e, "cachette-http: a Vary marker does not decode; rendering the response");
                    return Lookup::Missing;
                }
            };
            let (variant, _) = variant_key(&self.key, &marker.names, &self.parts.headers);
            // Boxed: only URLs that vary take this second round trip, and every hit's future
            // stays smaller without it.
            let read = Box::pin(self.read(&variant)).await;
            self.seen.marker = Some(marker);
            self.seen.variant = Some(variant);
            stored = match self.note_read(read) {
                Some(stored) => stored,
                None => return Lookup::Failed,
            };
        }
        let Some(bytes) = stored else { return Lookup::Missing };
        let key = self.entry_key();
        let prepared = match crate::memo::prepared(key, &bytes) {
            Ok(prepared) => prepared,
            Err(_) if !Entry::is_current_format(&bytes) => {
                tracing::debug!(
                    key = %ShortKey(key),
                    "cachette-http: an entry stored by an older version of the layer; rendering it again"
                );
                return Lookup::Missing;
            }
            Err(e) => {
                tracing::warn!(key = %ShortKey(key), error = %e, "cachette-http: a stored response does not decode; rendering it again");
                return Lookup::Missing;
            }
        };
        let entry = &prepared.entry;
        if !entry.matches_vary(&self.parts.headers) {
            return Lookup::Missing;
        }
        if let Some(stale) = &self.settings.is_stale
            && stale(&prepared.response_head())
        {
            tracing::debug!(
                key = %ShortKey(key),
                "cachette-http: the stored response is stale by the layer's is_stale; rendering it again"
            );
            return Lookup::Missing;
        }
        match entry.staleness(now) {
            Staleness::Fresh => Lookup::Fresh(prepared),
            Staleness::Stale => Lookup::Stale(prepared),
            Staleness::Expired if entry.within_grace(now, self.settings.stale_if_error) => Lookup::Fallback(prepared),
            Staleness::Expired => Lookup::Missing,
        }
    }

    /// Reads `key` with the versions of the request's tags (a view has one or two, and the
    /// route's own: up to four are passed from the stack).
    async fn read(&self, key: &str) -> Result<Read, CacheError> {
        let (mut inline, spilled): ([&str; 4], Vec<&str>);
        let tags: &[&str] = if self.tags.len() <= 4 {
            inline = [""; 4];
            inline.iter_mut().zip(&self.tags).for_each(|(slot, tag)| *slot = tag);
            &inline[..self.tags.len()]
        } else {
            spilled = self.tags.iter().map(String::as_str).collect();
            &spilled
        };
        self.state.cache.get_bytes_tagged_seen(key, tags).await
    }

    /// What a read found, its versions noted; `None` if it failed (counted and logged).
    fn note_read(&mut self, read: Result<Read, CacheError>) -> Option<Option<Bytes>> {
        match read {
            Ok((found, versions)) => {
                self.seen.versions = versions;
                Some(found)
            }
            Err(e) => {
                Counters::add(&self.counters().errors);
                crate::observe::error(&self.settings.route);
                let key = self.key.as_str();
                if matches!(e, CacheError::CircuitOpen { .. }) {
                    tracing::debug!(key = %ShortKey(key), error = %e, "cachette-http: the cache is unavailable; rendering the response instead");
                } else {
                    tracing::warn!(key = %ShortKey(key), error = %e, "cachette-http: the cache failed; rendering the response instead");
                }
                None
            }
        }
    }

    /// The response for a stored entry: the stored one, or `304 Not Modified` if the request's
    /// validators match. `how` says how it was served (`X-Cache`, `Cache-Status`, `Age`, and the
    /// outcome it is counted under in the metrics).
    pub(crate) fn serve<B: Body>(&self, prepared: &Prepared, now: SystemTime, how: Served) -> Response<CacheBody<B>> {
        let entry = &prepared.entry;
        let headers = prepared.response_headers(now, how, self.settings.cache_control.as_ref());
        let status = entry.status();
        // The stored headers include ETag and Last-Modified (see `Entry::new`).
        if status.is_success() && not_modified(&self.parts.headers, &prepared.etag, entry.last_modified()) {
            Counters::add(&self.counters().not_modified);
            self.observe_response("not_modified");
            let mut response = Response::new(CacheBody::empty());
            *response.status_mut() = StatusCode::NOT_MODIFIED;
            *response.headers_mut() = not_modified_headers(&headers);
            return response;
        }
        // `Content-Length` is the `GET`'s for a `HEAD` too (see `Prepared::new`).
        let body =
            if self.parts.method == Method::HEAD { CacheBody::empty() } else { CacheBody::full(entry.body.clone()) };
        self.observe_response(how.outcome());
        let mut response = Response::new(body);
        *response.status_mut() = status;
        *response.headers_mut() = headers;
        response
    }
}

/// The headers of a `304` for a `200` with `headers`: those that describe the cached copy
/// (RFC 9110 15.4.5), and `X-Cache`.
fn not_modified_headers(headers: &HeaderMap) -> HeaderMap {
    const KEPT: [header::HeaderName; 9] = [
        header::AGE,
        CACHE_STATUS,
        header::CACHE_CONTROL,
        header::CONTENT_LOCATION,
        header::ETAG,
        header::EXPIRES,
        header::LAST_MODIFIED,
        header::VARY,
        X_CACHE,
    ];
    let mut kept = HeaderMap::with_capacity(KEPT.len());
    for name in KEPT {
        for value in headers.get_all(&name) {
            kept.append(name.clone(), value.clone());
        }
    }
    kept
}
