//! Proxy headers: what a reverse proxy tells the service about the client's request
//! (`Forwarded`, `X-Forwarded-Host`, ...), and what a client can forge when no proxy overwrites
//! them.
//!
//! A handler that builds absolute URLs from `X-Forwarded-Host` renders a different page for each
//! value, so an entry rendered for a forged value must never be shared. The layer trusts none of
//! them by default: a request that carries one bypasses the cache (rather than being keyed by it)
//! because the layer cannot know how the handler reads it — a header the proxy did not set may be
//! anything, and keying every forged value would only fill the cache. The layer is told which ones
//! the proxy sets ([`CacheLayer::trust_proxy_headers`](crate::CacheLayer::trust_proxy_headers):
//! their values become part of the key) and which ones the handlers never read
//! ([`CacheLayer::ignore_proxy_headers`](crate::CacheLayer::ignore_proxy_headers)).

use http::{HeaderMap, HeaderName};

/// `X-Forwarded-Host`: the host the client asked a proxy for.
pub const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");

/// `X-Forwarded-Proto`: the scheme the client used to reach a proxy.
pub const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");

/// `X-Forwarded-For`: the client's address, and those of the proxies before this one.
pub const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

/// `X-Forwarded-Port`: the port the client used to reach a proxy.
pub const X_FORWARDED_PORT: HeaderName = HeaderName::from_static("x-forwarded-port");

/// `X-Forwarded-Prefix`: the path prefix a proxy removed.
pub const X_FORWARDED_PREFIX: HeaderName = HeaderName::from_static("x-forwarded-prefix");

/// `X-Real-IP`: the client's address, as nginx passes it.
pub const X_REAL_IP: HeaderName = HeaderName::from_static("x-real-ip");

/// Proxy headers other than `Forwarded` and `X-Forwarded-*`: aliases that frameworks read for
/// the host, the client or the URL itself.
const OTHER_PROXY_HEADERS: [&str; 5] = ["x-host", "x-original-host", "x-original-url", "x-rewrite-url", "x-real-ip"];

/// Whether `name` is a proxy header: `Forwarded`, any `X-Forwarded-*`, `X-Host`,
/// `X-Original-Host`, `X-Original-URL`, `X-Rewrite-URL` or `X-Real-IP`.
pub(crate) fn is_proxy_header(name: &HeaderName) -> bool {
    let name = name.as_str();
    name == "forwarded" || name.starts_with("x-forwarded-") || OTHER_PROXY_HEADERS.contains(&name)
}

/// What a layer does with proxy headers (see the module docs).
#[derive(Clone, Debug, Default)]
pub(crate) struct ProxyHeaders {
    /// Set by the proxy: keyed.
    pub trusted: Vec<HeaderName>,
    /// Never read by the handlers: neither keyed nor a reason to bypass.
    pub ignored: Vec<HeaderName>,
}

impl ProxyHeaders {
    /// The first proxy header of `headers` that the layer was not told about: the request
    /// bypasses the cache.
    pub(crate) fn untrusted<'h>(&self, headers: &'h HeaderMap) -> Option<&'h HeaderName> {
        headers
            .keys()
            .find(|name| is_proxy_header(name) && !self.trusted.contains(name) && !self.ignored.contains(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_and_every_x_forwarded_header_is_a_proxy_header() {
        for name in ["forwarded", "x-forwarded-host", "x-forwarded-scheme", "x-host", "x-original-url", "x-real-ip"] {
            assert!(is_proxy_header(&HeaderName::from_static(name)), "{name}");
        }
        for name in ["host", "x-forwarded", "accept", "x-request-id"] {
            assert!(!is_proxy_header(&HeaderName::from_static(name)), "{name}");
        }
    }

    #[test]
    fn only_headers_the_layer_was_not_told_about_are_untrusted() {
        let proxy = ProxyHeaders { trusted: vec![X_FORWARDED_HOST], ignored: vec![X_FORWARDED_FOR] };
        let mut headers = HeaderMap::new();
        headers.insert(X_FORWARDED_HOST, "a".parse().unwrap());
        headers.insert(X_FORWARDED_FOR, "10.0.0.1".parse().unwrap());
        assert_eq!(proxy.untrusted(&headers), None);
        headers.insert(X_FORWARDED_PROTO, "https".parse().unwrap());
        assert_eq!(proxy.untrusted(&headers), Some(&X_FORWARDED_PROTO));
    }
}
