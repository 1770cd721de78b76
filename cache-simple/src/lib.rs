//! [`SimpleCache`]: an in-process cache on [moka](https://docs.rs/moka).
//!
//! The embedded default of cachette: no server, thread-safe, with a per-entry expiry and
//! `CACHE_THRESHOLD` as the bound on the number of entries. Each `SimpleCache` is its own store,
//! so `CACHE_KEY_PREFIX` needs no effect here and `clear` empties just this store.
//!
//! # Table of contents
//!
//! * [Example](#example)
//! * [Expiry](#expiry)
//! * [The bound: CACHE_THRESHOLD](#the-bound-cache_threshold)
//! * [Atomic operations](#atomic-operations)
//! * [Why moka's sync cache](#why-mokas-sync-cache)
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use cachette_core::{BaseCache, Bytes, Config, Ttl};
//! use cachette_simple::SimpleCache;
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let cache = SimpleCache::new(&Config::from_map([("CACHE_THRESHOLD", "10000")])?)?;
//! cache.set("k", Bytes::from_static(b"v"), Ttl::After(Duration::from_secs(60))).await?;
//! assert_eq!(cache.get("k").await?.as_deref(), Some(&b"v"[..]));
//! assert!(!cache.add("k", Bytes::from_static(b"other"), Ttl::Default).await?);
//! assert_eq!(cache.inc("hits", 1).await?, 1);
//! # Ok::<(), cachette_core::CacheError>(())
//! # }).unwrap();
//! ```
//!
//! # Expiry
//!
//! Each entry keeps the [`Ttl`] it was written with, `Ttl::At` deadlines included; an expired
//! entry is never returned. `inc` keeps a key's expiry, `touch` changes it.
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use cachette_core::{BaseCache, Bytes, Config, Ttl};
//! use cachette_simple::SimpleCache;
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let cache = SimpleCache::new(&Config::default())?;
//! let soon = SystemTime::now() + Duration::from_millis(50);
//! cache.set("until-soon", Bytes::from_static(b"1"), Ttl::At(soon)).await?;
//! tokio::time::sleep(Duration::from_millis(100)).await;
//! assert_eq!(cache.get("until-soon").await?, None);
//! # Ok::<(), cachette_core::CacheError>(())
//! # }).unwrap();
//! ```
//!
//! # The bound: CACHE_THRESHOLD
//!
//! `CACHE_THRESHOLD` bounds the number of entries (0: unbounded). Every write is stored — the
//! value just set is readable — and room is made by evicting the least recently used entry (the
//! one read or written longest ago), expired entries before live ones. This is moka's LRU
//! policy, not its default TinyLFU, whose admission filter refuses new keys to a full cache: a
//! `set` returned `Ok` and the next `get` missed.
//!
//! Evictions are amortised O(1), so a full cache is as fast as an empty one. They happen in
//! moka's housekeeping, which runs on the callers' threads once 64 writes are pending or 300 ms
//! have passed, so the bound holds within a slack:
//!
//! * **One writer at a time:** at most `CACHE_THRESHOLD + 65` entries (64 pending writes and the
//!   one being made). Measured at thresholds 1, 20, 100, 200 and 1000: 64 over between two sets,
//!   65 seen by another thread during a set.
//! * **Concurrent writers:** at most `CACHE_THRESHOLD + 768 +` the number of threads writing:
//!   moka's write log holds 384 pending writes and fills again while housekeeping applies the
//!   previous 384. Measured on 2 cores: 684 to 779 entries over the threshold with 2 to 16
//!   threads writing new keys in a tight loop.
//! * [`SimpleCache::entry_count`] runs the pending housekeeping first: it never reports more
//!   than `CACHE_THRESHOLD`.
//!
//! Three consequences of the same design, all moka's:
//!
//! * Expired entries are found by moka's timer wheel, whose resolution is about a second
//!   (2<sup>30</sup> ns): until the wheel passes an expired entry's deadline, that entry (never
//!   served) still holds its place, and a live entry may be evicted instead.
//! * Recency is what housekeeping has recorded: a read of an entry whose write is still pending
//!   (fewer than 64 writes and 300 ms ago) does not count as a use.
//! * With concurrent writers, the value just set stays readable until `CACHE_THRESHOLD` newer
//!   writes have been made: a thread descheduled between its `set` and its `get` can find its
//!   value evicted by the other threads' newer ones, as least-recently-used says it should be.
//!
//! ```
//! use cachette_core::{BaseCache, Bytes, Config, Ttl};
//! use cachette_simple::SimpleCache;
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let cache = SimpleCache::new(&Config::from_map([("CACHE_THRESHOLD", "3")])?)?;
//! for key in ["a", "b", "c"] {
//!     cache.set(key, Bytes::from_static(b"v"), Ttl::Never).await?;
//! }
//! cache.entry_count(); // housekeeping records the writes
//! cache.get("a").await?; // "b" is now the least recently used
//! cache.set("d", Bytes::from_static(b"v"), Ttl::Never).await?;
//! assert!(cache.get("d").await?.is_some(), "the value just set is there");
//! assert_eq!(cache.entry_count(), 3);
//! assert_eq!(cache.get("b").await?, None);
//! assert!(cache.get("a").await?.is_some());
//! # Ok::<(), cachette_core::CacheError>(())
//! # }).unwrap();
//! ```
//!
//! # Atomic operations
//!
//! `add`, `inc`, `dec`, `touch` and `delete` are atomic per key (moka's `and_compute_with`):
//! concurrent `add`s of one key have one winner, concurrent `inc`s lose no update.
//!
//! ```
//! use cachette_core::{BaseCache, Bytes, Config, Ttl};
//! use cachette_simple::SimpleCache;
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let cache = SimpleCache::new(&Config::default())?;
//! assert!(cache.add("lock", Bytes::from_static(b"me"), Ttl::Default).await?);
//! assert!(!cache.add("lock", Bytes::from_static(b"you"), Ttl::Default).await?);
//! assert_eq!(cache.dec("stock", 2).await?, -2);
//! # Ok::<(), cachette_core::CacheError>(())
//! # }).unwrap();
//! ```
//!
//! # Why moka's sync cache
//!
//! The store is moka's *sync* cache, used from async code on purpose: every operation here is a
//! short in-memory step that never waits on I/O (the per-key locks are held for a parse and an
//! add at most), and the sync cache's hit path is about a quarter faster than `moka::future`'s
//! (measured: 201 ns against 273 ns per get with per-entry expiry), which is what keeps a typed hit
//! through `Cache` close to a bare moka get.

mod bound;
mod cache;
mod slot;

use std::sync::Arc;

use cachette_core::{BaseCache, Config, Registry, Result};

pub use cache::SimpleCache;

#[cfg(doc)]
use cachette_core::Ttl;

/// The `CACHE_TYPE` name of this backend.
pub const TYPE_NAME: &str = "SimpleCache";

/// Registers `SimpleCache` in `registry`.
pub fn register(registry: &mut Registry) -> Result<()> {
    registry.register(TYPE_NAME, |config: &Config| Ok(Arc::new(SimpleCache::new(config)?) as Arc<dyn BaseCache>))
}

// `Cache::from_env()` finds this backend in every program this crate is linked into.
cachette_core::link_backend!(register);
