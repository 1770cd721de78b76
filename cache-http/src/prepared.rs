//! [`Prepared`]: an entry as the layer serves it — decoded, its stored headers made into a
//! `HeaderMap` once, and the headers of its last hit kept for the next one.
//!
//! What is per entry is done once per entry, not once per request: decoding the stored form and
//! checking and indexing its headers (a `HeaderMap` built from the stored header block on every
//! hit was the hottest function of the hit path), and formatting `Age` and `Cache-Status`, which
//! change once a second. A hit then clones a `HeaderMap` that is ready to send.
//!
//! Entries found in the cache are prepared through this thread's [`memo`](crate::memo), so a
//! hot entry is decoded once per thread that serves it; entries rendered by this process are
//! prepared when they are rendered, and handed as they are to the requests that wait for them.

use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::response;

use crate::entry::{Entry, HeaderBlock};
use crate::policy::CacheControl;
use crate::status::Served;

/// Headers a response from an entry adds to the stored ones: `Content-Length`, `X-Cache`, `Age`,
/// `Cache-Status` and the route's `Cache-Control`.
const ADDED: usize = 5;

/// An entry ready to serve (see the module docs).
pub(crate) struct Prepared {
    pub entry: Entry,
    /// The stored headers (which include the validators) and `Content-Length`, with room for
    /// [`ADDED`].
    headers: HeaderMap,
    /// Its `ETag` (empty: none), which a response from it sends as stored.
    pub etag: Box<str>,
    /// The headers of the last fresh hit served from it, while they would be the same.
    hit: Mutex<Option<HitHeaders>>,
}

impl std::fmt::Debug for Prepared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prepared").field("entry", &self.entry).finish_non_exhaustive()
    }
}

/// The headers of a fresh hit at a given second of the entry's age and of its remaining
/// freshness, for a given `Cache-Control` policy.
struct HitHeaders {
    age: u64,
    ttl: Option<i64>,
    policy: Option<CacheControl>,
    headers: HeaderMap,
}

impl Prepared {
    /// `entry`, with its stored headers made into a map. The values are slices of the stored
    /// block, checked again (an entry is data from outside the process: an invalid header is
    /// dropped, not sent).
    ///
    /// With the body's `Content-Length` (a response from an entry has the whole body, and a
    /// `HEAD`'s says how long the `GET`'s is): set once here rather than by the server or the
    /// router on each response, which would format it and, in a cloned map with no room left,
    /// grow the map (1,000 instructions a hit).
    pub(crate) fn new(entry: Entry) -> Arc<Prepared> {
        // Sized exactly: a map sized for more than 6 allocates over 1 KiB, which glibc's malloc
        // serves from its large bins at a measurable cost per hit.
        let mut headers = HeaderMap::with_capacity(HeaderBlock::pairs(&entry.headers).count() + ADDED);
        for (name, value) in HeaderBlock::pairs(&entry.headers) {
            let name = HeaderName::from_bytes(name);
            let value = HeaderValue::from_maybe_shared(entry.headers.slice_ref(value));
            if let (Ok(name), Ok(value)) = (name, value) {
                headers.append(name, value);
            }
        }
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(entry.body.len()));
        let etag = headers.get(header::ETAG).and_then(|v| v.to_str().ok()).unwrap_or_default().into();
        Arc::new(Prepared { entry, headers, etag, hit: Mutex::new(None) })
    }

    /// Its status and headers as stored, as a response head (for the layer's
    /// [`is_stale`](crate::CacheLayer::is_stale)).
    pub(crate) fn response_head(&self) -> response::Parts {
        let mut head = http::Response::new(()).into_parts().0;
        head.status = self.entry.status();
        head.headers = self.headers.clone();
        head.headers.remove(header::CONTENT_LENGTH);
        head
    }

    /// The headers of a response served from it at `now`, `how`, under the route's `policy`:
    /// the stored ones, the policy's `Cache-Control` unless the handler set one, and `X-Cache`,
    /// `Age` and `Cache-Status`.
    ///
    /// Those of a fresh hit are kept and cloned for the next hits while its age and remaining
    /// freshness stay within the same seconds (the only values they print): formatting them
    /// was a fifth of what the layer spent on a hit.
    pub(crate) fn response_headers(&self, now: SystemTime, how: Served, policy: Option<&CacheControl>) -> HeaderMap {
        if how != Served::Hit {
            return self.decorated(now, how, policy);
        }
        let (age, ttl) = (self.entry.age(now).as_secs(), self.entry.ttl_secs(now));
        let mut kept = self.hit.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(hit) = kept.as_ref()
            && hit.age == age
            && hit.ttl == ttl
            && hit.policy.as_ref() == policy
        {
            return hit.headers.clone();
        }
        let headers = self.decorated(now, how, policy);
        *kept = Some(HitHeaders { age, ttl, policy: policy.cloned(), headers: headers.clone() });
        headers
    }

    /// [`response_headers`](Prepared::response_headers), made afresh.
    fn decorated(&self, now: SystemTime, how: Served, policy: Option<&CacheControl>) -> HeaderMap {
        let mut headers = self.headers.clone();
        if let Some(policy) = policy
            && !headers.contains_key(header::CACHE_CONTROL)
            && let Ok(value) = HeaderValue::from_str(&policy.header_value(self.entry.remaining_fresh(now)))
        {
            headers.insert(header::CACHE_CONTROL, value);
        }
        how.decorate(&mut headers, Some(&self.entry), now);
        headers
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use bytes::Bytes;

    use super::*;
    use crate::entry::Lifetime;

    fn prepared(rendered_at: SystemTime) -> Arc<Prepared> {
        let head = http::Response::builder().header("content-type", "text/plain").body(()).unwrap().into_parts().0;
        let lifetime =
            Lifetime { rendered_at, fresh: Some(Duration::from_secs(60)), stale: Duration::ZERO, took: Duration::ZERO };
        Prepared::new(Entry::new(&head, Bytes::from_static(b"body"), lifetime, vec![]))
    }

    #[test]
    fn a_hits_headers_are_those_made_afresh_at_every_second() {
        let rendered = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let entry = prepared(rendered);
        let policy = CacheControl::public().max_age_until_expiry();
        for ms in [0, 400, 999, 1000, 1001, 1999, 2000, 2500, 1500, 61_000] {
            let now = rendered + Duration::from_millis(ms);
            for policy in [None, Some(&policy)] {
                let served = entry.response_headers(now, Served::Hit, policy);
                assert_eq!(served, entry.decorated(now, Served::Hit, policy), "at {ms} ms, {policy:?}");
            }
        }
        let now = rendered + Duration::from_millis(1500);
        assert_eq!(entry.response_headers(now, Served::Hit, None)["age"], "1");
        assert_eq!(entry.response_headers(now, Served::Hit, None)["cache-status"], "cachette; hit; ttl=58");
        assert_eq!(entry.response_headers(now, Served::Stale, None)["x-cache"], "STALE", "not the hit's");
        assert_eq!(*entry.etag, entry.response_headers(now, Served::Hit, None)["etag"], "the ETag a response sends");
    }
}
