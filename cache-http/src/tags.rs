//! Tags on cached responses: [`CacheTags`], the `Cache-Tag` and `Surrogate-Key` headers, and the
//! route's own tags. [`Cache::invalidate_tag`](cachette_core::Cache::invalidate_tag) of any of an
//! entry's tags makes it a miss (one write, whatever the number of entries).

use http::header::{HeaderMap, HeaderName};
use http::response;

use crate::shared::Settings;

/// `Cache-Tag`: tags separated by commas, as Cloudflare reads them.
pub const CACHE_TAG: HeaderName = HeaderName::from_static("cache-tag");

/// `Surrogate-Key`: tags separated by spaces, as Fastly reads them.
pub const SURROGATE_KEY: HeaderName = HeaderName::from_static("surrogate-key");

/// Put this in a response's extensions to store its entry under these tags:
/// [`Cache::invalidate_tag`](cachette_core::Cache::invalidate_tag) of any of them makes it a miss.
///
/// ```
/// use axum::{Extension, routing::get};
/// use cachette_http::CacheTags;
///
/// let profile = get(|| async { (Extension(CacheTags::new(["user:42"])), "Ada's profile") });
/// # let _: axum::routing::MethodRouter = profile;
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CacheTags(pub Vec<String>);

impl CacheTags {
    /// The tags `tags`.
    pub fn new<T: Into<String>>(tags: impl IntoIterator<Item = T>) -> CacheTags {
        CacheTags(tags.into_iter().map(Into::into).collect())
    }
}

/// The tags a handler gave its response: its [`CacheTags`], then those of its `Cache-Tag`
/// (comma-separated) and `Surrogate-Key` (space-separated) headers; each once, blanks dropped.
pub(crate) fn response_tags(res: &response::Parts) -> Vec<String> {
    let mut tags: Vec<String> = Vec::new();
    let mut add = |tag: &str| {
        let tag = tag.trim();
        if !tag.is_empty() && !tags.iter().any(|t| t == tag) {
            tags.push(tag.to_owned());
        }
    };
    if let Some(CacheTags(given)) = res.extensions.get::<CacheTags>() {
        given.iter().for_each(|tag| add(tag));
    }
    for (name, separator) in [(CACHE_TAG, ','), (SURROGATE_KEY, ' ')] {
        for value in res.headers.get_all(name).iter().filter_map(|v| v.to_str().ok()) {
            value.split(separator).for_each(&mut add);
        }
    }
    tags
}

impl Settings {
    /// Removes the tag headers from a response before it is sent or stored, unless the layer
    /// keeps them ([`keep_tag_headers`](crate::CacheLayer::keep_tag_headers)): they are for the
    /// layer (and a CDN in front that reads them), not for browsers.
    pub(crate) fn strip_tag_headers(&self, headers: &mut HeaderMap) {
        if !self.keep_tag_headers {
            headers.remove(CACHE_TAG);
            headers.remove(SURROGATE_KEY);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_come_from_the_extension_and_both_headers_once_each() {
        let mut head = http::Response::builder()
            .header(CACHE_TAG, "user:42, team:7,,")
            .header(SURROGATE_KEY, "user:42  page:home")
            .body(())
            .unwrap()
            .into_parts()
            .0;
        head.extensions.insert(CacheTags::new(["team:7", "admin"]));
        assert_eq!(response_tags(&head), ["team:7", "admin", "user:42", "page:home"]);
    }
}
