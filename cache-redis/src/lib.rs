//! [`RedisCache`]: cachette on one Redis server — and the command layer ([`RedisBackend`],
//! [`Topology`], [`errors`], [`settings`]) that `RedisSentinelCache` and `RedisClusterCache` share.
//!
//! * **Connections.** redis-rs's reconnecting multiplexed connection (`ConnectionManager`):
//!   the commands of all concurrent tasks are pipelined on one socket (`pool_size` sockets with
//!   CACHE_OPTIONS), with no per-operation checkout. A restarted server is reconnected to on the
//!   next call; while it is down, calls fail within about half a second with
//!   `CacheError::Connection` (a miss through `Cache` with `CACHE_IGNORE_ERRORS`).
//! * **Settings.** `CACHE_REDIS_URL` (`redis://[user:password@]host:port/db`, `rediss://` for TLS
//!   with rustls, `unix:///path`), or `CACHE_REDIS_HOST` / `PORT` / `DB` / `USERNAME` (ACL) /
//!   `PASSWORD`; `CACHE_KEY_PREFIX`; CACHE_OPTIONS `pool_size`, `connect_timeout` (2 s),
//!   `response_timeout` (5 s), `tls_ca_file` (a PEM CA to trust for `rediss://` instead of the
//!   system's roots).
//! * **Commands.** `get_many` is one `MGET`, `set_many` one `MULTI`/`EXEC` transaction (atomic),
//!   `delete_many` one `UNLINK`, `add` is `SET NX`, `inc` is `INCRBY` on the decimal text the codec
//!   writes, `touch` is `PEXPIRE`/`PEXPIREAT`/`PERSIST`. Expiry: `PX` in milliseconds for
//!   `Ttl::After`, `PXAT` for `Ttl::At`.
//! * **clear** deletes only this cache's keys (`SCAN MATCH prefix*` + `UNLINK`), never `FLUSHDB`,
//!   and refuses to run without a prefix. [`RedisBackend::flush_database`] is the separately
//!   named, dangerous whole-database flush.
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
//! cache.set("user:1", "Ada", Ttl::Default).await?;
//! # Ok(()) }
//! ```

mod backend;
pub mod errors;
pub mod settings;
mod topology;

use std::sync::Arc;

use cachette_core::{BaseCache, Config, Registry, Result};

pub use backend::RedisBackend;
pub use topology::{STANDALONE_OPTIONS, Standalone, Topology};

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
