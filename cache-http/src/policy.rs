//! [`CacheControl`]: the `Cache-Control` header a route sends to clients and shared caches.

use std::time::Duration;

/// How long clients may reuse a response (`max-age`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaxAge {
    /// A fixed number of seconds.
    Fixed(Duration),
    /// What is left of the entry's fresh period: a view cached until midnight tells browsers to
    /// keep it until midnight too.
    UntilExpiry,
}

/// A route's `Cache-Control` policy, sent on every response of the route that does not carry a
/// `Cache-Control` of its own.
///
/// ```
/// use std::time::Duration;
/// use cachette_http::CacheControl;
///
/// let policy = CacheControl::public().max_age_until_expiry().stale_while_revalidate(Duration::from_secs(30));
/// assert_eq!(policy.header_value(Some(Duration::from_secs(120))), "public, max-age=120, stale-while-revalidate=30");
/// assert_eq!(CacheControl::no_store().header_value(None), "no-store");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CacheControl {
    public: bool,
    private: bool,
    no_store: bool,
    no_cache: bool,
    must_revalidate: bool,
    max_age: Option<MaxAge>,
    s_maxage: Option<Duration>,
    stale_while_revalidate: Option<Duration>,
    stale_if_error: Option<Duration>,
}

impl CacheControl {
    /// `public`: any cache may store the response.
    pub fn public() -> Self {
        CacheControl { public: true, ..Self::default() }
    }

    /// `private`: only the user's own browser may store it. cachette-http never stores a private
    /// response in the shared entry (only per user, see `CacheLayer::per_user`).
    pub fn private() -> Self {
        CacheControl { private: true, ..Self::default() }
    }

    /// `no-store`: nobody stores it, cachette-http included.
    pub fn no_store() -> Self {
        CacheControl { no_store: true, ..Self::default() }
    }

    /// Adds `no-cache`: clients must revalidate (with the ETag) before every reuse.
    pub fn no_cache(mut self) -> Self {
        self.no_cache = true;
        self
    }

    /// Adds `must-revalidate`.
    pub fn must_revalidate(mut self) -> Self {
        self.must_revalidate = true;
        self
    }

    /// `max-age` of a fixed duration.
    pub fn max_age(mut self, age: Duration) -> Self {
        self.max_age = Some(MaxAge::Fixed(age));
        self
    }

    /// `max-age` of what is left of the entry's fresh period.
    pub fn max_age_until_expiry(mut self) -> Self {
        self.max_age = Some(MaxAge::UntilExpiry);
        self
    }

    /// `s-maxage` for shared caches (CDNs).
    pub fn s_maxage(mut self, age: Duration) -> Self {
        self.s_maxage = Some(age);
        self
    }

    /// `stale-while-revalidate`.
    pub fn stale_while_revalidate(mut self, margin: Duration) -> Self {
        self.stale_while_revalidate = Some(margin);
        self
    }

    /// `stale-if-error` (RFC 5861): caches may serve the response this long past its freshness
    /// when the origin fails. The layer's own grace is
    /// [`CacheLayer::stale_if_error`](crate::CacheLayer::stale_if_error).
    ///
    /// ```
    /// use std::time::Duration;
    /// use cachette_http::CacheControl;
    ///
    /// let policy = CacheControl::public().max_age(Duration::from_secs(60)).stale_if_error(Duration::from_secs(86_400));
    /// assert_eq!(policy.header_value(None), "public, max-age=60, stale-if-error=86400");
    /// ```
    pub fn stale_if_error(mut self, grace: Duration) -> Self {
        self.stale_if_error = Some(grace);
        self
    }

    /// Whether this policy forbids a shared cache to store the response.
    pub fn forbids_shared_storage(&self) -> bool {
        self.no_store || self.private
    }

    pub(crate) fn is_no_store(&self) -> bool {
        self.no_store
    }

    pub(crate) fn is_private(&self) -> bool {
        self.private
    }

    /// The header value; `remaining` is what is left of the fresh period (`None`: never expires).
    pub fn header_value(&self, remaining: Option<Duration>) -> String {
        let mut parts: Vec<String> = Vec::new();
        if self.public {
            parts.push("public".into());
        }
        if self.private {
            parts.push("private".into());
        }
        if self.no_store {
            parts.push("no-store".into());
        }
        if self.no_cache {
            parts.push("no-cache".into());
        }
        if self.must_revalidate {
            parts.push("must-revalidate".into());
        }
        match self.max_age {
            Some(MaxAge::Fixed(d)) => parts.push(format!("max-age={}", d.as_secs())),
            // A year is the longest max-age a client should be told for "never expires".
            Some(MaxAge::UntilExpiry) => {
                let secs = remaining.map_or(31_536_000, |d| d.as_secs());
                parts.push(format!("max-age={secs}"));
            }
            None => {}
        }
        if let Some(d) = self.s_maxage {
            parts.push(format!("s-maxage={}", d.as_secs()));
        }
        if let Some(d) = self.stale_while_revalidate {
            parts.push(format!("stale-while-revalidate={}", d.as_secs()));
        }
        if let Some(d) = self.stale_if_error {
            parts.push(format!("stale-if-error={}", d.as_secs()));
        }
        parts.join(", ")
    }
}

/// The directives of a `Cache-Control` header value: each name lowercased, with its value if it
/// has one (`max-age=60` gives `("max-age", Some("60"))`).
pub(crate) fn directives(value: &str) -> impl Iterator<Item = (String, Option<&str>)> + '_ {
    value.split(',').map(|directive| {
        let (name, value) = match directive.split_once('=') {
            Some((name, value)) => (name, Some(value.trim().trim_matches('"'))),
            None => (directive, None),
        };
        (name.trim().to_ascii_lowercase(), value)
    })
}
