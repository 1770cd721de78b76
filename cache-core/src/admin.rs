//! [`Admin`]: what an operator's tool (`cachectl stats`, `cachectl clear`) asks of a backend
//! beyond caching — how many keys this cache holds on the server, what the server says about
//! itself, and a `clear` that counts what it removes.
//!
//! A backend offers it by overriding [`BaseCache::admin`](crate::BaseCache::admin); the default is
//! `None`, so a backend of your own needs nothing. Applications never need it: these calls can
//! take long (a scan of every key on the server) and bypass the [`Cache`](crate::Cache) facade's
//! deadline and breaker, which are there to protect requests, not an operator who watches the
//! progress.

use async_trait::async_trait;
use serde::Serialize;

use crate::Result;

/// Told the number of keys found (or removed) so far, after each batch of a long scan.
pub type Progress<'a> = &'a (dyn Fn(u64) + Send + Sync);

/// Operators' calls on a backend: see the [module docs](self).
///
/// ```
/// # use cachette_core::{Cache, Config};
/// # async fn demo(cache: Cache) -> cachette_core::Result<()> {
/// match cache.backend().admin() {
///     Some(admin) => println!("{:?}", admin.count_keys(&|so_far| eprint!("\r{so_far} keys")).await?),
///     None => println!("{} offers no key count", cache.backend().type_name()),
/// }
/// # Ok(()) }
/// ```
#[async_trait]
pub trait Admin: Send + Sync {
    /// How many keys of this cache (its `CACHE_KEY_PREFIX`, nothing else) the server(s) hold,
    /// counted without stopping the server (on Redis: `SCAN MATCH` in batches, never `KEYS`).
    /// `progress` hears the count so far after each batch.
    async fn count_keys(&self, progress: Progress<'_>) -> Result<KeyCount>;

    /// What each server says about itself: memory, all its keys, evictions, its own hit counters.
    /// Empty (the default) for a backend that does not ask its servers.
    async fn servers(&self) -> Result<Vec<ServerInfo>> {
        Ok(Vec::new())
    }

    /// Why [`servers`](Admin::servers) is empty, for the operator (a setting that would give
    /// figures, say); `None` (the default) when it is not, or there is nothing to say.
    fn no_servers_reason(&self) -> Option<String> {
        None
    }

    /// [`BaseCache::clear`](crate::BaseCache::clear) (the same keys, the same refusals), saying
    /// how many keys it removed; `progress` hears the count so far after each batch.
    async fn clear_counting(&self, progress: Progress<'_>) -> Result<Cleared>;
}

/// The answer of [`Admin::count_keys`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
#[non_exhaustive]
pub enum KeyCount {
    /// The keys found. A key present during the whole count is counted; one written or expired
    /// meanwhile may or may not be, and Redis's `SCAN` can return a key twice while it resizes
    /// its table, so on a busy server this is close, not exact.
    Counted {
        /// How many.
        keys: u64,
    },
    /// The backend cannot count one prefix's keys (memcached has no way to list keys): a number
    /// would mean something else, so there is none.
    Uncountable {
        /// Why, for the operator.
        reason: String,
    },
}

/// The answer of [`Admin::clear_counting`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
#[non_exhaustive]
pub enum Cleared {
    /// The keys were deleted, this many.
    Removed {
        /// How many keys were deleted.
        keys: u64,
    },
    /// The keys were made unreachable without being counted (memcached: the namespace's version
    /// was bumped; the old entries leave with their expiry or by eviction).
    Uncounted {
        /// How, for the operator.
        how: String,
    },
}

/// What one server says about itself, for [`Admin::servers`]. Every figure is the server's whole,
/// all prefixes and applications together, and `None` where the server does not report it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ServerInfo {
    /// Where it is (`127.0.0.1:6379`), without credentials.
    pub address: String,
    /// Its software and version (`redis 7.0.15`).
    pub version: Option<String>,
    /// Bytes of memory it uses for data.
    pub memory_used: Option<u64>,
    /// Its memory limit in bytes (`None`: none set, or not reported).
    pub memory_limit: Option<u64>,
    /// Bytes its files take on disk (a backend whose server is a directory: FileSystemCache).
    pub disk_used: Option<u64>,
    /// Keys it holds in the database this cache uses, every prefix.
    pub keys: Option<u64>,
    /// Keys it evicted to stay under its memory limit.
    pub evictions: Option<u64>,
    /// Reads it answered with a value, since it started.
    pub hits: Option<u64>,
    /// Reads it answered with nothing, since it started.
    pub misses: Option<u64>,
}

impl ServerInfo {
    /// A server at `address`, with no figures yet.
    pub fn new(address: impl Into<String>) -> ServerInfo {
        ServerInfo { address: address.into(), ..ServerInfo::default() }
    }
}
