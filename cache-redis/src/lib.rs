//! [`RedisCache`]: cachette on one Redis server — and the command layer ([`RedisBackend`],
//! [`Topology`], [`errors`], [`settings`]) that `RedisSentinelCache` and `RedisClusterCache` share.
//!
//! * **Connections.** redis-rs's reconnecting multiplexed connection (`ConnectionManager`):
//!   the commands of all concurrent tasks are pipelined on one socket (`pool_size` sockets with
//!   CACHE_OPTIONS), with no per-operation checkout. A restarted server is reconnected to on the
//!   next call; while it is down, calls fail at once with `CacheError::Connection` (a miss
//!   through `Cache` with `CACHE_IGNORE_ERRORS`; after a few, the `Cache` facade's circuit
//!   breaker stops calling until a probe succeeds).
//! * **Settings.** `CACHE_REDIS_URL` (`redis://[user:password@]host:port/db`, `rediss://` for TLS
//!   with rustls, `unix:///path`), or `CACHE_REDIS_HOST` / `PORT` / `DB` / `USERNAME` (ACL) /
//!   `PASSWORD`; `CACHE_KEY_PREFIX`; CACHE_OPTIONS `pool_size`, `connect_timeout` (2 s),
//!   `response_timeout` (5 s), `reconnect_retries` (0), `tls_ca_file` (a PEM CA to trust for
//!   `rediss://` instead of the system's roots), `tls_cert_file` / `tls_key_file` (a client
//!   certificate and its key, for servers with `tls-auth-clients yes`), and the facade's
//!   `deadline` and breaker options that every backend takes. A failed TLS handshake (server
//!   certificate not trusted or not for the URL's host, client certificate missing, expired or
//!   refused) is a `CacheError::Authentication` naming the setting to fix, at once.
//! * **Commands.** `get_many` is one `MGET`, `set_many` one `MULTI`/`EXEC` transaction (atomic),
//!   `delete_many` one `UNLINK`, `add` is `SET NX`, `inc` is `INCRBY` on the decimal text the codec
//!   writes, `touch` is `PEXPIRE`/`PEXPIREAT`/`PERSIST`. Expiry: `PX` in milliseconds for
//!   `Ttl::After`, `PXAT` for `Ttl::At`.
//! * **Keys** are stored as `<byte length of the prefix>:<prefix><key>`, so that two prefixes
//!   never share a key (see [Keys on the server](#keys-on-the-server)).
//! * **Client tracking.** [`change_feed`](cachette_core::BaseCache::change_feed) gives the
//!   changes any client makes to this cache's keys, for the in-process tier of `CACHE_L1`: one
//!   RESP3 connection per server that holds keys (this one; Sentinel's current master; every
//!   Cluster master), named `cachette-tracking`, runs `CLIENT TRACKING ON BCAST PREFIX
//!   <len>:<prefix>` and maps each invalidated stored key back to the cache's key with the
//!   encoding below. A closed or silent connection, a master failed over, or a Cluster layout
//!   change is reported as a loss, then tracking starts again. Needs Redis 6 or later (and, with
//!   ACLs, `HELLO` and `CLIENT` for the user). See [`tracking`] for why not `NOLOOP`.
//! * **clear** deletes only this cache's keys (`SCAN MATCH <len>:<prefix>*` + `UNLINK`), never
//!   `FLUSHDB`, and refuses to run without a prefix. [`RedisBackend::flush_database`] is the
//!   separately named, dangerous whole-database flush.
//!
//! ```no_run
//! use cachette_core::{Cache, Config, Ttl};
//! use cachette_redis::RedisCache;
//! use std::sync::Arc;
//!
//! # async fn demo() -> cachette_core::Result<()> {
//! let config = Config::from_map([
//!     ("CACHE_TYPE", "RedisCache"),
//!     ("CACHE_REDIS_URL", "redis://127.0.0.1:6379/0"),
//!     ("CACHE_KEY_PREFIX", "myapp:"),
//! ])?;
//! let cache = Cache::new(Arc::new(RedisCache::new(&config)?), config);
//! cache.set("user:1", "Ada", Ttl::Default).await?; // stored as 6:myapp:user:1
//! # Ok(()) }
//! ```
//!
//! # Keys on the server
//!
//! The key `user:1` of a cache with the prefix `app:` is stored as `4:app:user:1`; with the
//! prefix `app:v2:` as `7:app:v2:user:1`; with no prefix as `0:user:1`
//! ([`RedisBackend::stored_key`] gives it). Plain concatenation would store `app:` + `v2:user:1`
//! and `app:v2:` + `user:1` at the same place, and `clear()` of `app:` (`SCAN MATCH app:*`)
//! would remove every key of `app:v2:`. This is the same for the Sentinel and Cluster caches.
//!
//! **Why two prefixes never meet.** The digits before a stored key's first `:` are the byte
//! length n of its prefix and the n bytes after that `:` are the prefix, so every stored key
//! belongs to exactly one prefix, and caches with different prefixes never read, write or delete
//! each other's keys. `clear()`'s pattern is `<n>:<prefix>` (glob characters `*?[]\` escaped)
//! followed by `*`, so it matches only keys that begin with `<n>:<prefix>`, which by the first
//! sentence are exactly the keys of the prefix `<prefix>`.
//!
//! **Redis Cluster hash tags** work as with a plain prefix: the `<n>:` in front holds no brace,
//! so the first `{...}` of a stored key is the first `{...}` of `<prefix><key>`. A prefix such as
//! `{app}:` still puts all of a cache's keys in one slot, and keys that share a `{tag}` share a
//! slot.
//!
//! **clear without a prefix stays refused.** Its pattern would be `0:*`, which matches no key of
//! a cachette cache with a prefix; but the encoding separates cachette's caches from each other,
//! not from other programs, and a database used without a prefix is usually shared with other
//! data: any key of theirs that starts with `0:` would go too. Set `CACHE_KEY_PREFIX`, or call
//! [`RedisBackend::flush_database`] on a database that holds nothing else. (Allowing it later
//! would break nobody; taking it back would.)
//!
//! Entries written before this encoding (as `<prefix><key>`) are neither read (they are misses)
//! nor cleared; they leave with their expiry, and never-expiring ones stay until deleted by hand.

mod backend;
pub mod errors;
mod keys;
pub mod settings;
mod topology;
pub mod tracking;

use std::sync::Arc;

use cachette_core::{BaseCache, Config, Registry, Result};

pub use backend::RedisBackend;
pub use topology::{STANDALONE_OPTIONS, Standalone, Topology, TrackedServers};

/// A cache on one Redis server. See the crate docs.
pub type RedisCache = RedisBackend<Standalone>;

/// The `CACHE_TYPE` name of [`RedisCache`].
pub const TYPE_NAME: &str = <Standalone as Topology>::TYPE_NAME;

/// Registers `RedisCache` in `registry`.
pub fn register(registry: &mut Registry) -> Result<()> {
    registry.register(TYPE_NAME, |config: &Config| Ok(Arc::new(RedisCache::new(config)?) as Arc<dyn BaseCache>))
}

// `Cache::from_env()` finds this backend in every program this crate is linked into.
cachette_core::link_backend!(register);
