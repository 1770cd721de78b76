//! Conditional requests: a strong ETag from the body, `If-None-Match` and `If-Modified-Since`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::HeaderMap;
use http::header::{IF_MODIFIED_SINCE, IF_NONE_MATCH};

/// A strong ETag: the first 128 bits of the body's BLAKE3 hash. The same body gives the same
/// ETag in every process and after every restart (unlike a random or time-based one), so a
/// client's `If-None-Match` keeps matching across a fleet of servers.
pub fn strong_etag(body: &[u8]) -> String {
    format!("\"{}\"", &blake3::hash(body).to_hex()[..32])
}

fn opaque(tag: &str) -> &str {
    tag.trim().trim_start_matches("W/")
}

/// Whether the request's validators say the client's copy (ETag `etag`, modified at
/// `last_modified`) is current, so a 304 is the answer. `If-None-Match` uses the weak comparison
/// (RFC 9110 13.1.2) and, when present, makes `If-Modified-Since` ignored.
pub(crate) fn not_modified(headers: &HeaderMap, etag: &str, last_modified: SystemTime) -> bool {
    if let Some(value) = headers.get(IF_NONE_MATCH) {
        let Ok(value) = value.to_str() else { return false };
        return value.split(',').any(|candidate| {
            let candidate = candidate.trim();
            candidate == "*" || opaque(candidate) == opaque(etag)
        });
    }
    if let Some(since) =
        headers.get(IF_MODIFIED_SINCE).and_then(|v| v.to_str().ok()).and_then(|v| httpdate::parse_http_date(v).ok())
    {
        // HTTP dates have whole seconds.
        let modified =
            UNIX_EPOCH + Duration::from_secs(last_modified.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs());
        return modified <= since;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(name: http::HeaderName, value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(name, value.parse().unwrap());
        h
    }

    #[test]
    fn etags_are_stable_and_compared_weakly() {
        let tag = strong_etag(b"hello");
        assert_eq!(tag, strong_etag(b"hello"));
        assert_ne!(tag, strong_etag(b"hello!"));
        let now = SystemTime::now();
        assert!(not_modified(&with(IF_NONE_MATCH, &tag), &tag, now));
        assert!(not_modified(&with(IF_NONE_MATCH, &format!("W/{tag}")), &tag, now));
        assert!(not_modified(&with(IF_NONE_MATCH, &format!("\"other\", {tag}")), &tag, now));
        assert!(not_modified(&with(IF_NONE_MATCH, "*"), &tag, now));
        assert!(!not_modified(&with(IF_NONE_MATCH, "\"other\""), &tag, now));
    }

    #[test]
    fn if_modified_since() {
        let modified = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let at = |t: SystemTime| with(IF_MODIFIED_SINCE, &httpdate::fmt_http_date(t));
        assert!(not_modified(&at(modified), "\"x\"", modified + Duration::from_millis(400)));
        assert!(not_modified(&at(modified + Duration::from_secs(5)), "\"x\"", modified));
        assert!(!not_modified(&at(modified - Duration::from_secs(5)), "\"x\"", modified));
        // If-None-Match wins over If-Modified-Since.
        let mut both = at(modified);
        both.insert(IF_NONE_MATCH, "\"other\"".parse().unwrap());
        assert!(!not_modified(&both, "\"x\"", modified));
    }
}
