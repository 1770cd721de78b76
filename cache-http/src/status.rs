//! How a response says where it came from: `X-Cache`, `Age` (RFC 9111 §5.1) and `Cache-Status`
//! (RFC 9211), and the outcome it is counted under ([`Served`]).
//!
//! | how | `X-Cache` | `Cache-Status` | `Age` |
//! |-----|-----------|----------------|-------|
//! | a fresh entry (or `304` from it) | `HIT` | `cachette; hit; ttl=<s left>` | yes |
//! | a stale entry, refreshed behind it | `STALE` | `cachette; fwd=stale; ttl=-<s past>` | yes |
//! | a stale entry for a failed render | `STALE` | `cachette; fwd=stale; fwd-status=<5xx>; ttl=-<s past>` | yes |
//! | another request's render of the key | `MISS` | `cachette; fwd=miss; collapsed` | yes |
//! | rendered for this request, stored | `MISS` | `cachette; fwd=miss; stored` | no |
//! | rendered for this request, not stored | `MISS` | `cachette; fwd=miss` | no |
//!
//! A forced render (a [`Revalidate`](crate::Revalidate), a client's hard reload,
//! [`forced_update`](crate::CacheLayer::forced_update)) says `fwd=request` instead of `fwd=miss`.
//! `ttl` is left out for an entry that never expires.

use std::fmt::Write;
use std::time::SystemTime;

use bytes::Bytes;
use http::HeaderMap;
use http::header::{self, HeaderName, HeaderValue};

use crate::call::X_CACHE;
use crate::entry::Entry;
use crate::flight::Failure;

/// The `Cache-Status` header (RFC 9211).
pub const CACHE_STATUS: HeaderName = HeaderName::from_static("cache-status");

/// How a response was served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Served {
    /// From a fresh entry.
    Hit,
    /// From a stale entry, while it is refreshed.
    Stale,
    /// From a stale entry, because the render failed.
    StaleIfError(Failure),
    /// From the entry another request rendered (in this process or another).
    Collapsed,
    /// Rendered for this request; `stored`: handed to the store.
    Rendered { stored: bool, forced: bool },
}

impl Served {
    /// The `X-Cache` value.
    pub(crate) fn x_cache(self) -> &'static str {
        match self {
            Served::Hit => "HIT",
            Served::Stale | Served::StaleIfError(_) => "STALE",
            Served::Collapsed | Served::Rendered { .. } => "MISS",
        }
    }

    /// The outcome label of `cachette_http_responses_total` (a `304` is `not_modified` instead).
    pub(crate) fn outcome(self) -> &'static str {
        match self {
            Served::Hit => "hit",
            Served::Stale | Served::StaleIfError(_) => "stale",
            Served::Collapsed | Served::Rendered { .. } => "miss",
        }
    }

    /// Sets `X-Cache`, `Cache-Status` and, for a response from a stored entry, `Age` on
    /// `headers`. `entry`: the entry served (for its age and what is left of its fresh period).
    pub(crate) fn decorate(self, headers: &mut HeaderMap, entry: Option<&Entry>, now: SystemTime) {
        headers.insert(X_CACHE, HeaderValue::from_static(self.x_cache()));
        let from_cache = !matches!(self, Served::Rendered { .. });
        if let (true, Some(entry)) = (from_cache, entry) {
            headers.insert(header::AGE, HeaderValue::from(entry.age(now).as_secs()));
        }
        let ttl = entry.filter(|_| from_cache).and_then(|e| e.ttl_secs(now));
        headers.insert(CACHE_STATUS, self.cache_status(ttl));
    }

    /// The `Cache-Status` value, with `ttl` seconds of freshness left (negative: past).
    fn cache_status(self, ttl: Option<i64>) -> HeaderValue {
        let fixed = match self {
            Served::Rendered { stored: false, forced: false } => "cachette; fwd=miss",
            Served::Rendered { stored: true, forced: false } => "cachette; fwd=miss; stored",
            Served::Rendered { stored: false, forced: true } => "cachette; fwd=request",
            Served::Rendered { stored: true, forced: true } => "cachette; fwd=request; stored",
            Served::Collapsed => "cachette; fwd=miss; collapsed",
            _ => "",
        };
        if !fixed.is_empty() {
            return HeaderValue::from_static(fixed);
        }
        let mut value = String::with_capacity(48);
        value.push_str(match self {
            Served::Hit => "cachette; hit",
            _ => "cachette; fwd=stale",
        });
        if let Served::StaleIfError(Failure::Status(status)) = self {
            value.push_str("; fwd-status=");
            value.push_str(status.as_str());
        } else if let Served::StaleIfError(Failure::Panic) = self {
            value.push_str("; fwd-status=500");
        }
        if let Some(ttl) = ttl {
            let _ = write!(value, "; ttl={ttl}");
        }
        // Only ASCII was written; `from_maybe_shared` takes the bytes without copying them.
        HeaderValue::from_maybe_shared(Bytes::from(value)).unwrap_or_else(|_| HeaderValue::from_static("cachette"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_status_values_follow_rfc_9211() {
        assert_eq!(Served::Hit.cache_status(Some(42)), "cachette; hit; ttl=42");
        assert_eq!(Served::Hit.cache_status(None), "cachette; hit");
        assert_eq!(Served::Stale.cache_status(Some(-5)), "cachette; fwd=stale; ttl=-5");
        let failed = Served::StaleIfError(Failure::Status(http::StatusCode::SERVICE_UNAVAILABLE));
        assert_eq!(failed.cache_status(Some(-61)), "cachette; fwd=stale; fwd-status=503; ttl=-61");
        assert_eq!(Served::Collapsed.cache_status(None), "cachette; fwd=miss; collapsed");
        assert_eq!(Served::Rendered { stored: true, forced: false }.cache_status(None), "cachette; fwd=miss; stored");
        assert_eq!(Served::Rendered { stored: false, forced: true }.cache_status(None), "cachette; fwd=request");
    }
}
