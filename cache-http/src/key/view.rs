//! The tags every entry carries without being asked: the view it is of. They are what
//! [`ViewCache::delete_cached`](crate::ViewCache::delete_cached) invalidates, so that deleting a
//! view reaches every entry of it — each `Vary` variant, each user's, `HEAD` and `GET` — in one
//! write, without knowing their keys.
//!
//! * `http-path:HOST/PATH` — every entry of the path, whatever its query;
//! * `http-url:HOST/PATH?QUERY` — every entry of the path with that query (only entries of a
//!   request with a query carry one).
//!
//! `HOST` is normalised as in the key (lower-case, no trailing dot), without the scheme and
//! without the ports 80 and 443, so that HTTP/1 and HTTP/2 requests for a URL share its tags; it
//! is empty for requests that name no host and for every entry of a layer that does not key the
//! host ([`ignore_host`](crate::CacheLayer::ignore_host), or a [`key_fn`](crate::CacheLayer::key_fn)
//! of its own). The query is normalised as in the key.

use http::request::Parts;

use super::{host, query};

/// The prefix of a path's tag.
const PATH_TAG: &str = "http-path:";
/// The prefix of a URL's (path and query) tag.
const URL_TAG: &str = "http-url:";

/// The tags of the entry of a request whose key names `authority` (normalised, as
/// [`DefaultKey::write`](super::DefaultKey::write) writes it; empty when the key names no host):
/// its path's, then its URL's if it has a query.
pub(crate) fn request_tags(authority: &str, parts: &Parts) -> Vec<String> {
    tags_of(host::without_web_port(authority), parts.uri.path(), parts.uri.query())
}

/// The tags to invalidate to delete the view `target` names (a URL, or a path alone): with a
/// query, that URL's; without, its path's. With a host, the host-less tags too, which entries
/// of layers that do not key the host carry. `None` if `target` is not a request target.
pub(crate) fn target_tags(target: &str) -> Option<Vec<String>> {
    let uri: http::Uri = target.parse().ok()?;
    let path = if uri.path().is_empty() { "/" } else { uri.path() };
    let pick = |tags: Vec<String>| tags.into_iter().last();
    let mut tags = vec![pick(tags_of("", path, uri.query()))?];
    if let Some(authority) = uri.authority() {
        tags.insert(0, pick(tags_of(&host::view_host(authority.as_str())?, path, uri.query()))?);
    }
    Some(tags)
}

/// The path's tag and, for a query with parameters, the URL's; `host` is the view's host (see
/// [`host::view_host`]).
fn tags_of(host: &str, path: &str, query: Option<&str>) -> Vec<String> {
    let mut path_tag = String::with_capacity(PATH_TAG.len() + host.len() + path.len());
    path_tag.push_str(PATH_TAG);
    path_tag.push_str(host);
    path_tag.push_str(path);
    let Some(query) = query.filter(|q| !q.is_empty()) else { return vec![path_tag] };
    let mut url_tag = String::with_capacity(path_tag.len() + query.len() + 1);
    url_tag.push_str(URL_TAG);
    url_tag.push_str(&path_tag[PATH_TAG.len()..]);
    let before = url_tag.len();
    // A query that does not decode as UTF-8 is keyed by no default key; a custom key's entry of
    // one carries its path's tag alone.
    let tagged = query::write_query(&mut url_tag, query) && url_tag.len() > before;
    if tagged { vec![path_tag, url_tag] } else { vec![path_tag] }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tags of a request to `uri` with `host`, by a layer that keys the host or not.
    fn tags(uri: &str, host: Option<&str>, keys_host: bool) -> Vec<String> {
        let mut request = http::Request::get(uri);
        if let Some(host) = host {
            request = request.header(http::header::HOST, host);
        }
        let parts = request.body(()).unwrap().into_parts().0;
        let mut key = String::new();
        let authority = super::super::DefaultKey { vary: Vec::new(), host: keys_host }.write(&mut key, &parts, &[]);
        request_tags(&key[authority.expect("a keyed request")], &parts)
    }

    #[test]
    fn http1_and_http2_requests_for_a_url_share_its_tags() {
        let http1 = tags("/users/42?b=2&a=1", Some("Good.Example:443"), true);
        let http2 = tags("https://good.example/users/42?a=1&b=2", None, true);
        assert_eq!(http1, ["http-path:good.example/users/42", "http-url:good.example/users/42?a=1&b=2"]);
        assert_eq!(http1, http2);
        assert_eq!(tags("http://good.example:80/users/42", None, true), ["http-path:good.example/users/42"]);
        assert_eq!(tags("/users/42", Some("good.example:80"), true), ["http-path:good.example/users/42"]);
        assert_eq!(tags("https://good.example:80/users/42", None, true), ["http-path:good.example/users/42"]);
        assert_eq!(tags("/users/42", Some("good.example:8080"), true), ["http-path:good.example:8080/users/42"]);
        let plain = tags("/users/42", Some("good.example"), true);
        assert_eq!(plain, ["http-path:good.example/users/42"]);
        let hostless = tags("/users/42?", Some("good.example"), false);
        assert_eq!(hostless, ["http-path:/users/42"]);
        assert_eq!(tags("/users/42", None, true), ["http-path:/users/42"]);
    }

    #[test]
    fn a_target_names_its_url_or_its_path_with_and_without_the_host() {
        assert_eq!(
            target_tags("https://good.example/users/42?tab=posts").unwrap(),
            ["http-url:good.example/users/42?tab=posts", "http-url:/users/42?tab=posts"]
        );
        assert_eq!(
            target_tags("http://good.example:8080/users/42").unwrap(),
            ["http-path:good.example:8080/users/42", "http-path:/users/42"]
        );
        assert_eq!(target_tags("/users/42").unwrap(), ["http-path:/users/42"]);
        assert!(target_tags("not a target").is_none());
    }
}
