//! The cache key of a request.

use std::sync::Arc;

use http::request::Parts;

/// A custom key: the whole key of a request (the layer prefixes it with `http:`).
pub type KeyFn = Arc<dyn Fn(&Parts) -> String + Send + Sync>;

/// What identifies a user, for routes that cache per user; `None` bypasses the cache.
pub type UserFn = Arc<dyn Fn(&Parts) -> Option<String> + Send + Sync>;

/// Appends the default key of a request to `key`: method (HEAD as GET: a HEAD is served from the
/// GET entry), path, the query with its parameters sorted (so `?b=2&a=1` and `?a=1&b=2` share an
/// entry), and the values of the `vary` request headers.
pub(crate) fn write_default_key(key: &mut String, parts: &Parts, vary: &[http::HeaderName]) {
    let method = if parts.method == http::Method::HEAD { "GET" } else { parts.method.as_str() };
    key.reserve(method.len() + 1 + parts.uri.path().len() + parts.uri.query().map_or(0, |q| q.len() + 1));
    key.push_str(method);
    key.push(' ');
    key.push_str(parts.uri.path());
    if let Some(query) = parts.uri.query().filter(|q| !q.is_empty()) {
        let mut pairs: Vec<&str> = query.split('&').filter(|p| !p.is_empty()).collect();
        pairs.sort_unstable();
        for (i, pair) in pairs.iter().enumerate() {
            key.push(if i == 0 { '?' } else { '&' });
            key.push_str(pair);
        }
    }
    for name in vary {
        key.push('\n');
        key.push_str(name.as_str());
        key.push(':');
        for value in parts.headers.get_all(name) {
            key.push_str(&String::from_utf8_lossy(value.as_bytes()));
            key.push(',');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn default_key(parts: &Parts, vary: &[http::HeaderName]) -> String {
        let mut key = String::new();
        write_default_key(&mut key, parts, vary);
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
}
