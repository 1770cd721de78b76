//! What every service of a layer shares: its [`Settings`] (fixed once the services are made) and
//! its [`State`] (the cache, the renders in flight, the refreshes running, the counters).
//!
//! [`CacheLayer`](crate::CacheLayer) builds them and each [`CacheService`](crate::CacheService)
//! holds both behind `Arc`s; this module depends on neither, so that the builder and the request
//! paths can both use it without importing each other.

use std::collections::HashSet;
use std::ops::Range;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cachette_core::Cache;
use http::{request, response};

use crate::clock::Clock;
use crate::flight::Flights;
use crate::freshness::Freshness;
use crate::key::{DefaultKey, KeyFn, UserFn, request_tags};
use crate::observe::Route;
use crate::options::{BodyFilterFn, ForcedUpdateFn, IsStaleFn};
use crate::policy::CacheControl;
use crate::proxy::ProxyHeaders;
use crate::stats::Counters;

/// A predicate on a request: `true` skips the cache for it.
pub type UnlessFn = Arc<dyn Fn(&request::Parts) -> bool + Send + Sync>;

/// A predicate on a response: `true` lets it be stored.
pub type ResponseFilterFn = Arc<dyn Fn(&response::Parts) -> bool + Send + Sync>;

/// The options of a layer (see the builder methods of [`CacheLayer`](crate::CacheLayer)).
#[derive(Clone)]
pub(crate) struct Settings {
    pub fresh_for: Freshness,
    pub stale: Duration,
    /// The stale-if-error grace: how long past its fresh period an entry is served if its render
    /// fails.
    pub stale_if_error: Duration,
    pub key: Option<KeyFn>,
    pub default_key: DefaultKey,
    pub proxy: ProxyHeaders,
    pub per_user: Option<UserFn>,
    pub unless: Option<UnlessFn>,
    pub response_filter: ResponseFilterFn,
    pub cache_control: Option<CacheControl>,
    pub client_reload: bool,
    pub max_body_size: usize,
    pub clock: Clock,
    pub namespace: String,
    /// The route's own tags, on every entry it stores.
    pub tags: Vec<String>,
    /// Whether `Cache-Tag` and `Surrogate-Key` are sent (and stored) rather than stripped.
    pub keep_tag_headers: bool,
    /// XFetch's `beta`, when fresh entries are refreshed early.
    pub early_refresh: Option<f64>,
    /// The `route` label of the layer's metrics and events.
    pub route: Route,
    pub forced_update: Option<ForcedUpdateFn>,
    pub body_filter: Option<BodyFilterFn>,
    pub is_stale: Option<IsStaleFn>,
}

impl Settings {
    /// The key of a request: namespace, then the custom or default key, then the user. `None`:
    /// the request cannot be keyed unambiguously (see [`DefaultKey::write`]) and bypasses the
    /// cache.
    pub(crate) fn cache_key(&self, parts: &request::Parts, user: Option<&str>) -> Option<String> {
        Some(self.write_key(parts, user)?.0)
    }

    /// The key of a request ([`cache_key`](Settings::cache_key)) and the tags its entry is read
    /// with: its view's, then the route's own. The view's host is the one the key names (none
    /// where the layer does not key the host), taken from the key rather than normalised again.
    pub(crate) fn key_and_tags(&self, parts: &request::Parts, user: Option<&str>) -> Option<(String, Vec<String>)> {
        let (key, authority) = self.write_key(parts, user)?;
        let mut tags = request_tags(&key[authority], parts);
        tags.extend(self.tags.iter().filter(|t| !tags.contains(t)).cloned().collect::<Vec<_>>());
        Some((key, tags))
    }

    /// [`cache_key`](Settings::cache_key), and where the authority its default key names is in it
    /// (empty: none).
    fn write_key(&self, parts: &request::Parts, user: Option<&str>) -> Option<(String, Range<usize>)> {
        let mut key = String::with_capacity(self.namespace.len() + DefaultKey::len_hint(parts));
        key.push_str(&self.namespace);
        let authority = match &self.key {
            Some(custom) => {
                key.push_str(&custom(parts));
                key.len()..key.len()
            }
            None => self.default_key.write(&mut key, parts, &self.proxy.trusted)?,
        };
        if let Some(user) = user {
            key.push_str("\nuser:");
            key.push_str(user);
        }
        Some((key, authority))
    }
}

/// What every service of a layer shares at run time.
pub(crate) struct State {
    pub cache: Cache,
    pub flights: Arc<Flights>,
    /// The keys whose background refresh runs in this process.
    pub refreshing: Mutex<HashSet<String>>,
    pub counters: Counters,
}

impl State {
    /// The state of a new layer over `cache`: nothing in flight, every counter at zero.
    pub(crate) fn new(cache: Cache) -> State {
        State { cache, flights: Arc::default(), refreshing: Mutex::default(), counters: Counters::default() }
    }
}
