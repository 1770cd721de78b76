//! The cache key of a request: which requests share an entry.
//!
//! The default key is `METHOD ORIGIN PATH?QUERY`, then one line per keyed header:
//!
//! * the method, `HEAD` as `GET` (a `HEAD` is served from the `GET` entry);
//! * the origin ([`host`]): the scheme when the request states it, and the host, normalised;
//!   left out with [`CacheLayer::ignore_host`](crate::CacheLayer::ignore_host);
//! * the path as it came, and the query normalised ([`query`]);
//! * the values of the layer's `vary` headers and of its trusted proxy headers.
//!
//! Every part is written into the one `String` that becomes the key; a request that has nothing
//! to normalise costs no other allocation. A request that cannot be keyed unambiguously gets no
//! key, and bypasses the cache.

mod host;
mod query;
mod view;

pub(crate) use host::host_header;
pub(crate) use view::{request_tags, target_tags};

use std::ops::Range;
use std::sync::Arc;

use http::HeaderName;
use http::request::Parts;

/// A custom key: the whole key of a request (the layer prefixes it with `http:`).
pub type KeyFn = Arc<dyn Fn(&Parts) -> String + Send + Sync>;

/// What identifies a user, for routes that cache per user; `None` bypasses the cache.
pub type UserFn = Arc<dyn Fn(&Parts) -> Option<String> + Send + Sync>;

/// The options of the default key.
#[derive(Clone, Debug)]
pub(crate) struct DefaultKey {
    /// Request headers whose values are keyed (the layer's `vary`).
    pub vary: Vec<HeaderName>,
    /// Whether the origin is keyed (`false`: one host reaches the service).
    pub host: bool,
}

impl Default for DefaultKey {
    fn default() -> Self {
        DefaultKey { vary: Vec::new(), host: true }
    }
}

impl DefaultKey {
    /// Room for a request's key, so that writing it does not grow the string: the URI and
    /// room for a host (`Host` is not looked up for this: it is looked up once, to be written).
    pub(crate) fn len_hint(parts: &Parts) -> usize {
        const METHOD_AND_HOST: usize = 80;
        METHOD_AND_HOST + parts.uri.path().len() + parts.uri.query().map_or(0, |q| q.len() + 1)
    }

    /// Appends the default key of a request to `key`, keying the values of the `trusted` proxy
    /// headers with the `vary` ones. Returns where the normalised authority (`host[:port]`) is in
    /// `key` (empty: none, or the host is not keyed), from which the view's tags are made without
    /// normalising it again; `None`: the request cannot be keyed (an ambiguous host, a query that
    /// is not UTF-8), and `key` holds a part of one.
    pub(crate) fn write(&self, key: &mut String, parts: &Parts, trusted: &[HeaderName]) -> Option<Range<usize>> {
        let method = if parts.method == http::Method::HEAD { "GET" } else { parts.method.as_str() };
        let (path, query) = (parts.uri.path(), parts.uri.query().filter(|q| !q.is_empty()));
        key.push_str(method);
        key.push(' ');
        let authority = if self.host { host::write_origin(key, parts)? } else { key.len()..key.len() };
        key.push_str(path);
        if let Some(query) = query
            && !query::write_query(key, query)
        {
            return None;
        }
        for name in self.vary.iter().chain(trusted) {
            key.push('\n');
            key.push_str(name.as_str());
            key.push(':');
            for value in parts.headers.get_all(name) {
                key.push_str(&String::from_utf8_lossy(value.as_bytes()));
                key.push(',');
            }
        }
        Some(authority)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn default_key(parts: &Parts, vary: &[http::HeaderName]) -> String {
        let mut key = String::new();
        assert!(DefaultKey { vary: vary.to_vec(), host: true }.write(&mut key, parts, &[]).is_some());
        key
    }

    fn parts(uri: &str, method: http::Method) -> Parts {
        http::Request::builder()
            .uri(uri)
            .method(method)
            .header("accept-language", "fr")
            .body(())
            .unwrap()
            .into_parts()
            .0
    }

    fn with_host(uri: &str, host: &str) -> Parts {
        let mut parts = parts(uri, http::Method::GET);
        parts.headers.insert(http::header::HOST, host.parse().unwrap());
        parts
    }

    #[test]
    fn query_order_does_not_matter_and_head_is_get() {
        let a = default_key(&parts("/p?b=2&a=1", http::Method::GET), &[]);
        let b = default_key(&parts("/p?a=1&b=2", http::Method::HEAD), &[]);
        assert_eq!(a, b);
        assert_ne!(a, default_key(&parts("/p?a=1&b=3", http::Method::GET), &[]));
        assert_eq!(default_key(&parts("/p?", http::Method::GET), &[]), "GET /p");
    }

    #[test]
    fn vary_headers_are_part_of_the_key() {
        let name = http::HeaderName::from_static("accept-language");
        let fr = default_key(&parts("/p", http::Method::GET), std::slice::from_ref(&name));
        let mut other = parts("/p", http::Method::GET);
        other.headers.insert("accept-language", "de".parse().unwrap());
        assert_ne!(fr, default_key(&other, &[name]));
    }

    #[test]
    fn the_host_is_part_of_the_key_unless_ignored() {
        let good = default_key(&with_host("/p?a=1", "good.example"), &[]);
        assert_eq!(good, "GET good.example /p?a=1");
        assert_ne!(good, default_key(&with_host("/p?a=1", "evil.example"), &[]));
        assert_eq!(
            default_key(&parts("https://good.example/p", http::Method::GET), &[]),
            "GET https://good.example /p"
        );
        let mut key = String::new();
        assert!(
            DefaultKey { vary: Vec::new(), host: false }
                .write(&mut key, &with_host("/p", "evil.example"), &[])
                .is_some()
        );
        assert_eq!(key, "GET /p");
    }

    #[test]
    fn a_path_that_looks_like_a_host_is_not_one() {
        let hostless = default_key(&parts("//good.example/p", http::Method::GET), &[]);
        assert_ne!(hostless, default_key(&with_host("/p", "good.example"), &[]));
        assert_ne!(hostless, default_key(&parts("http://good.example/p", http::Method::GET), &[]));
    }

    #[test]
    fn trusted_proxy_headers_are_keyed_like_vary_headers() {
        let name = http::HeaderName::from_static("x-forwarded-host");
        let key = |value: &str| {
            let mut parts = with_host("/p", "good.example");
            parts.headers.insert(&name, value.parse().unwrap());
            let mut key = String::new();
            assert!(DefaultKey::default().write(&mut key, &parts, std::slice::from_ref(&name)).is_some());
            key
        };
        assert_eq!(key("a.example"), "GET good.example /p\nx-forwarded-host:a.example,");
        assert_ne!(key("a.example"), key("b.example"));
    }
}
