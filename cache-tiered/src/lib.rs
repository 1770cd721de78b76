//! [`TieredCache`] for [cachette](https://docs.rs/cachette): a bounded in-process tier (moka) over
//! any backend, kept coherent across processes by the backend's own change feed (Redis client
//! tracking) or an invalidation bus.
//!
//! A hit on a shared backend costs a network round trip; a hit in process costs well under a
//! microsecond. The tier is read-through (a miss fills it from the backend) and write-through
//! (`set`, `add`, `delete`, `inc`, `touch`, `clear`, ... go to the backend, then to the tier).
//!
//! # Contents
//!
//! * [Configuration](#configuration): the `CACHE_L1*` keys, and how to put the tier in front of a
//!   configured backend;
//! * [Coherence](#coherence): client tracking, the invalidation bus, and what a process may
//!   serve stale;
//! * [Failures](#failures): tracking or the bus lost, the backend down;
//! * [Performance](#performance): hits against SimpleCache and moka, and the coherence window.
//!
//! # Configuration
//!
//! | Key | Default | Meaning |
//! |---|---|---|
//! | `CACHE_L1` | false | [`TieredCache::wrap`] puts the tier in front of the backend |
//! | `CACHE_L1_THRESHOLD` | 10000 | most entries of the tier (0: no bound) |
//! | `CACHE_L1_TIMEOUT` | 10 s | longest life of an entry in the tier (0: only the backend's expiry) |
//! | `CACHE_L1_BUS_URL` | (none) | `redis://...` whose pub/sub carries invalidations (instead of client tracking) |
//!
//! Linked into a program (the `tiered` feature of `cachette`), this crate registers itself with
//! [`Registry::linked`](cachette_core::Registry::linked), so [`Cache::from_env`] and
//! [`Cache::from_config`] put the tier in front of the backend when `CACHE_L1=true`. By hand:
//! [`Registry::set_tier`](cachette_core::Registry::set_tier) on a registry of your own, or
//! [`TieredCache::wrap`] of a backend you built:
//!
//! [`Cache::from_env`]: cachette_core::Cache::from_env
//! [`Cache::from_config`]: cachette_core::Cache::from_config
//!
//! ```
//! use cachette_core::{BaseCache, Cache, Config, Registry};
//! use cachette_tiered::TieredCache;
//! # use std::sync::Arc;
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> cachette_core::Result<()> {
//! # let mut registry = Registry::new();
//! # registry.register("SimpleCache", |c: &Config| Ok(Arc::new(cachette_simple::SimpleCache::new(c)?) as Arc<dyn BaseCache>))?;
//! let config = Config::from_map([("CACHE_TYPE", "SimpleCache"), ("CACHE_L1", "true"), ("CACHE_L1_TIMEOUT", "5s")])?;
//! // Registry::linked() in an application has both; here a registry of SimpleCache and the tier.
//! registry.set_tier(TieredCache::wrap);
//! let backend = registry.build(&config)?;
//! assert_eq!(backend.type_name(), "TieredCache");
//! let cache = Cache::new(backend, config);
//! cache.set("greeting", &"hello", cachette_core::Ttl::Default).await?;
//! assert_eq!(cache.get::<String>("greeting").await?.as_deref(), Some("hello"));
//! # Ok(())
//! # }
//! ```
//!
//! # Coherence
//!
//! The tier follows one channel, chosen when it is built:
//!
//! 1. **`CACHE_L1_BUS_URL` set: the invalidation bus.** Every write, delete, `touch`, `inc` and
//!    `clear` of a process publishes the key (or "all") on the Redis channel
//!    `cachette:l1:<CACHE_KEY_PREFIX>` after the backend has it, and every other process with
//!    the same prefix evicts it. Works over every backend.
//! 2. **Else, the backend's change feed** ([`BaseCache::change_feed`]), when it offers one:
//!    RedisCache, RedisSentinelCache and RedisClusterCache do, by RESP3 client tracking in
//!    broadcast mode on the cache's stored prefix (one connection per server that holds keys:
//!    the server, Sentinel's current master, every Cluster master; see cachette-redis's crate
//!    docs). Redis itself reports every change of a key with the prefix, whoever makes it:
//!    other cachette processes, `cachectl`, `redis-cli`, another application, expiry.
//! 3. **Else nothing**: nothing tells a process that another changed a key, and the tier serves
//!    what it holds for up to `CACHE_L1_TIMEOUT`, which is then the bound on staleness. Use it
//!    so with a backend of one process (SimpleCache) or data that may lag by that much.
//!
//! **Why a configured bus wins over tracking** (rather than both running): the bus is then the
//! one channel that every process of the fleet reads and publishes on, including processes of
//! an earlier version that know no tracking; and a bus on a server other than the backend's
//! lets the tier outlive a backend outage (see [Failures](#failures)), which tracking, on the
//! backend's own servers, cannot. What it gives up: writes made around cachette are not seen.
//! Unset `CACHE_L1_BUS_URL` to use tracking.
//!
//! **Why a backend offers a feed rather than the tier knowing backends:** the tier asks any
//! backend for its [`ChangeFeed`](cachette_core::change_feed::ChangeFeed), an optional
//! capability of [`BaseCache`] (`None` by default); a backend of your own can offer one, and no
//! backend knows that a tier exists.
//!
//! Tag invalidations and memoize's `delete_memoized` are writes of version keys, so they travel
//! the same way. Once a process has received the invalidation of a key it never serves the old
//! value again: a fill that read the backend before the invalidation arrived is kept out of the
//! tier (see `epochs.rs`). With tracking, this process's own writes are reported back too and
//! evict what the write put in the tier (so the next read goes to the backend once): Redis's
//! `NOLOOP` could not tell them apart safely (cachette-redis's docs say why).
//!
//! An entry lives in the tier no longer than in the backend when its expiry there is known: a
//! value this process wrote, or one read from a backend that tells the expiry with the value
//! ([`BaseCache::get_many_with_expiry`]: the Redis backends, by a `PTTL` in the same round trip).
//! An entry read from another backend lives `CACHE_L1_TIMEOUT` (the trait's default cannot say
//! how long the backend keeps it), so it may outlive its backend expiry by up to that.
//!
//! # Failures
//!
//! * **The channel is lost** (the bus's or a tracking connection closes, or stops answering a
//!   PING / ROLE every 0.5 s; a Sentinel or Cluster master is failed over; a Cluster's masters
//!   or slots change): the tier is flushed and bypassed — every read goes to the backend —
//!   until it follows again, so a message missed meanwhile cannot leave a stale value. Until it
//!   first follows the tier is bypassed too ([`TieredCache::is_active`]);
//!   [`TieredCache::channel_losses`] counts the losses. A publish on the bus that fails is
//!   retried in the background as "flush all". A server that refuses tracking (Redis before 6,
//!   an ACL without `CLIENT`) leaves the tier bypassed, with an error logged that says what to
//!   change.
//! * **The backend is down**: the tier keeps serving what it holds, within its lifetimes, as
//!   long as its channel is up; misses and writes fail as the backend's do, and the
//!   [`Cache`](cachette_core::Cache) facade's deadlines and circuit breaker handle them. Tracking
//!   and a bus on the backend's own server go down with it, and then the tier is flushed (the
//!   rule above): put the bus on another server for the tier to outlive a backend outage. A
//!   failed write still evicts the key here and on the bus (it may have reached the backend).
//!
//! # Performance
//!
//! `cargo bench -p cachette-tiered --bench hits` prints, side by side: an L1 hit over Redis
//! costs 1.1-1.2x a SimpleCache hit through `BaseCache::get` and through
//! `Cache::get::<String>`; a memoize hit on Redis + L1 costs 1.8-1.9x moka's `get_with`, about
//! as on SimpleCache alone (1.7-1.8x in the same runs, load 1.4-1.6 on 2 cores; 2.0-2.1x and
//! 1.9-2.0x while short arguments were hashed with BLAKE3 rather than written into the key).
//! It was 3.1-3.2x while each call read the function's version through the tier before its
//! result (two L1 lookups; 3.7-3.8x before the tier answered hits at once,
//! `BaseCache::get_at_once`): the tier now gives memoize a [`KeyWatch`] on the version key
//! ([`BaseCache::watch`]), under which memoize keeps the version in process, and a hit is one
//! lookup (callgrind: 7,198 -> 4,668 instructions per hit, 4,421 with integer arguments written
//! by itoa, 3,798 with short arguments written into the key unhashed; SimpleCache 3,616, moka
//! 1,755). What is left over moka's 1,755 is the tier's moka lookup of a 70-byte string key
//! (1,150, of which SipHash 330) against moka's `u64` key, the decode of the 100-byte `String`
//! (460, a third of it UTF-8 validation), the result key (350) and the kept version's check
//! (200). The
//! watch turns on whatever ends the tier's own copy of the key (an invalidation of its epoch
//! slot, a flush, a lost channel), so the kept version is as coherent as the tier: another
//! process's `delete_memoized_all` is seen from the moment its invalidation arrives
//! (cachette-core's `cache/kept.rs` says what is accepted, and the coherence test has the
//! memoize case). A tier without a channel gives no watch, and the version is read per call.
//!
//! [`KeyWatch`]: cachette_core::KeyWatch
//! [`BaseCache::watch`]: cachette_core::BaseCache::watch
//!
//! `cargo test --release -p cachette-tiered --test coherence` measures how soon another process
//! stops serving a changed key: p50 0.07-0.15 ms on loopback over Redis and Cluster with tracking
//! and memcached and Redis with the bus; p99 0.2-2.9 ms with the reading process on one worker
//! thread, 1.4-8 ms when its spinning readers take both cores (see the test's docs).
//!
//! [`BaseCache::change_feed`]: cachette_core::BaseCache::change_feed
//! [`BaseCache`]: cachette_core::BaseCache
//! [`BaseCache::get_many_with_expiry`]: cachette_core::BaseCache::get_many_with_expiry

mod admin;
mod bus;
mod entry;
mod epochs;
mod feed;
mod tier;
mod tiered;

pub use tiered::TieredCache;

/// Puts the tier into every registry built by [`Registry::linked`](cachette_core::Registry::linked),
/// so `CACHE_L1=true` works through `Cache::from_env()`.
fn register(registry: &mut cachette_core::Registry) -> cachette_core::Result<()> {
    registry.set_tier(TieredCache::wrap);
    Ok(())
}
cachette_core::link_backend!(register);
