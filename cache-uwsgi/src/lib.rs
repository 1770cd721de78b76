//! [`UwsgiCache`] (`CACHE_TYPE=UWSGICache`): a named cache of a uWSGI server, reached over the
//! uwsgi protocol, so that a Rust service shares one cache with the Python apps of that server.
//!
//! A Rust service does not run inside uWSGI, but uWSGI's caching framework serves its caches to
//! remote clients: the cache plugin answers modifier1 111 on the server's `--socket`. This crate
//! speaks that protocol (the "magic" interface, modifier2 17, that uWSGI's own `cache_get(key,
//! "name@host:port")` uses) on tokio.
//!
//! ```no_run
//! use cachette_core::{BaseCache, Bytes, Config, Ttl};
//! use cachette_uwsgi::UwsgiCache;
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! // uwsgi --socket 127.0.0.1:3031 --plugin cache --cache2 name=mycache,items=1000,lazy_expire=1 ...
//! let config = Config::from_map([
//!     ("CACHE_TYPE", "UWSGICache"),
//!     ("CACHE_UWSGI_NAME", "mycache@127.0.0.1:3031"),
//! ])?;
//! let cache = UwsgiCache::new(&config)?; // connects on each operation
//! cache.set("greeting", Bytes::from_static(b"hello"), Ttl::Default).await?;
//! // A Python app of that server reads it: uwsgi.cache_get("greeting", "mycache") == b"hello"
//! assert_eq!(cache.get("greeting").await?, Some(Bytes::from_static(b"hello")));
//! # Ok::<(), cachette_core::CacheError>(())
//! # }).unwrap();
//! ```
//!
//! - [Settings](#settings): `CACHE_UWSGI_NAME`, `CACHE_OPTIONS`
//! - [The server](#the-server): what the uWSGI side needs
//! - [Operations](#operations): how each one travels, and what uWSGI cannot do
//! - [Keys, clear and sharing with Python](#keys-clear-and-sharing-with-python)
//! - [Expiry](#expiry)
//!
//! # Settings
//!
//! `CACHE_UWSGI_NAME=cache@host:port` (Flask-Caching's form): the name of a `--cache2` cache and
//! the address of the server's uwsgi `--socket`. `@host:port` (an empty name) is the server's
//! first cache. A name without `@` means "the cache of this uWSGI process" to Flask-Caching, which
//! a Rust service is not: it is a configuration error that names the form to use. `UWSGICache`
//! and Flask-Caching's old name `uwsgi` select this backend. `CACHE_OPTIONS`:
//!
//! | option | default | meaning |
//! |---|---|---|
//! | `connect_timeout` | 1s | time to open a connection |
//! | `response_timeout` | 2s | time for one exchange (raise it for large values on slow links) |
//! | `concurrency` | 8 | connections at once for `get_many`, `set_many`, `delete_many` |
//! | `max_key_size` | 2048 | longest key (prefix included), the `keysize` of the server's cache |
//! | `stats` | (none) | the address of the server's `--stats` (`host:port` or a unix socket's path), which `cachectl stats` reads for the cache's items, hits, misses and size: the cache protocol has no command that reports them |
//!
//! The facade's deadline and circuit breaker (`cachette_core::fail_safe`) wrap this backend like
//! every other.
//!
//! # The server
//!
//! ```text
//! uwsgi --plugin cache --socket 127.0.0.1:3031 \
//!       --cache2 name=mycache,items=1000,blocksize=65536,lazy_expire=1
//! ```
//!
//! - `--socket` (uwsgi protocol over TCP) is what this crate talks to; `--cache-udp-server` and
//!   the cache's `udp` / `nodes` options are uWSGI's cache replication, a different thing.
//! - `lazy_expire=1` makes an expired entry a miss at once; without it uWSGI keeps serving it until
//!   its master's sweeper removes it (`--cache-expire-freq`, default 3 s, and only with `--master`).
//! - The largest value is the cache's `blocksize` (default 64 KiB), or `blocksize` × `blocks` with
//!   `bitmap=1`; the longest key its `keysize` (default 2048), and the request must fit the server's
//!   `--buffer-size` (default 4096 bytes for the key and the other fields together).
//! - uWSGI answers one request per connection and then closes it, so each operation opens a
//!   connection (about 40 µs on loopback); there is no connection pool to size.
//!
//! # Operations
//!
//! | operation | over the wire | notes |
//! |---|---|---|
//! | `get`, `get_many` | `get` | the `_many` forms send `concurrency` requests at a time |
//! | `has` | `exists` | |
//! | `set`, `set_many` | `update` | overwrites, with the new expiry |
//! | `add` | `set` | uWSGI's `set` stores only if the key is absent, under the cache's lock: atomic on a server without `--threads` (see below) |
//! | `delete`, `delete_many` | `del` | the answer tells whether a key was removed |
//! | `clear` | `clear` | the whole named cache (see below) |
//! | `inc`, `dec` | — | [`CacheError::Refused`]: uWSGI's increment exists only inside the server (`cache_inc` of a Python app); over the network there is no atomic form, and a read-then-write emulation would lose concurrent increments |
//! | `touch` | — | [`CacheError::Refused`]: no remote command changes an expiry alone; a read-then-`update` would overwrite a value another client wrote meanwhile |
//!
//! uWSGI answers a failed command with silence, so a `set` it refuses is reported as an error that
//! lists the reasons it could have (value over the item size, key over the keysize, cache full, no
//! cache of that name), and the key's old value is deleted so it is not served in place of the new
//! one; an `add` that is refused is `Ok(false)` when the key exists and that error otherwise. An
//! empty value cannot be stored (uWSGI refuses a zero-length value): it is refused with
//! [`CacheError::Refused`]. Typed values through `Cache` are never empty.
//!
//! **Threads.** Against uWSGI 2.0.21 started with `--threads 4`, 100 concurrent `add`s of one key
//! saw two winners (and a refused write of an absent key, which `add` tries again up to 3 times):
//! the remote `set` is not atomic across the threads of one worker there. With one thread per
//! worker (the default; processes share the cache's lock) exactly one wins, as the conformance
//! case checks. Run the cache's uWSGI without `--threads` where `add` (leases, `get_or_set`
//! across the fleet) must be atomic.
//!
//! # Keys, clear and sharing with Python
//!
//! A key is sent as `CACHE_KEY_PREFIX` followed by the key, byte for byte, as Flask-Caching's
//! `UWSGICache` (which has no prefix) sends its keys: leave `CACHE_KEY_PREFIX` empty to read and
//! write the keys of a Python app. Raw values ([`BaseCache`]) are the bytes the Python side's
//! `uwsgi.cache_get` returns; typed values through `Cache` carry cachette's tagged encoding (the
//! Python side sees bytes it would have to decode itself, as cachette sees pickles). The test
//! `a_value_written_by_cachette_is_read_by_the_python_side_of_the_same_uwsgi` runs a WSGI app in
//! the cache's uWSGI (Debian's `uwsgi-plugin-python3`) and reads through its `uwsgi.cache_get`
//! what cachette wrote, and sees cachette's delete.
//!
//! `clear()` empties the whole named cache: uWSGI has no command that lists or removes keys by
//! prefix. The unit of isolation is the cache, so give each application a cache of its own
//! (`--cache2 name=app1,...`, `--cache2 name=app2,...`); two prefixes in one cache share its
//! `clear`. (uWSGI 2.0's remote `clear` walks as many slots as the server's *first* cache has:
//! make the dedicated cache the first, or no smaller than it.)
//!
//! # Expiry
//!
//! uWSGI expires in whole seconds of its own clock: an entry written with `expires=N` at second
//! `s` is gone from second `s + N`. A `Ttl` of `d` is therefore sent as `ceil(d) + 1` seconds, so an
//! entry lives at least `d` and at most a second and a rounding longer; a sub-second `Ttl` lives 1
//! to 2 seconds. `Ttl::At` becomes the time left until it, rounded the same way. A write whose
//! `Ttl` is already over stores nothing and deletes the key. `Ttl::Never` sends no expiry.

mod admin;
mod client;
mod packet;
mod settings;
mod stats;

use std::sync::Arc;
use std::time::SystemTime;

use cachette_core::{BaseCache, Bytes, CacheError, Config, Expiry, Registry, Result, Ttl, async_trait};
use futures::future::try_join_all;

use crate::client::Client;
use crate::packet::{Request, Response};
use crate::settings::Settings;
use crate::stats::StatsServer;

/// Tries of an `add` that uWSGI refused while the key was absent.
const ADD_ATTEMPTS: usize = 3;

/// The `CACHE_TYPE` name of this backend (Flask-Caching's).
pub const TYPE_NAME: &str = "UWSGICache";

/// Registers `UWSGICache`.
pub fn register(registry: &mut Registry) -> Result<()> {
    registry.register(TYPE_NAME, |config: &Config| Ok(Arc::new(UwsgiCache::new(config)?) as Arc<dyn BaseCache>))
}

// `Cache::from_env()` finds this backend in every program this crate is linked into.
cachette_core::link_backend!(register);

/// A named cache of a uWSGI server. See the crate docs. Cloning is cheap.
#[derive(Debug, Clone)]
pub struct UwsgiCache {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    client: Client,
    cache: String,
    prefix: String,
    default_ttl: Expiry,
    concurrency: usize,
    max_key_size: usize,
    /// The server's stats server, when CACHE_OPTIONS.stats names it (for `cachectl stats`).
    stats: Option<StatsServer>,
}

impl UwsgiCache {
    /// A cache for `config` (`CACHE_UWSGI_NAME`, `CACHE_KEY_PREFIX`, `CACHE_DEFAULT_TIMEOUT`,
    /// `CACHE_OPTIONS`). Checks the settings and connects nothing yet.
    pub fn new(config: &Config) -> Result<UwsgiCache> {
        let s = Settings::from_config(config)?;
        let stats = s.stats.map(|address| StatsServer {
            address,
            connect_timeout: s.connect_timeout,
            response_timeout: s.response_timeout,
        });
        let client =
            Client { address: s.address, connect_timeout: s.connect_timeout, response_timeout: s.response_timeout };
        Ok(UwsgiCache {
            inner: Arc::new(Inner {
                client,
                cache: s.cache,
                prefix: config.key_prefix.clone(),
                default_ttl: config.default_timeout,
                concurrency: s.concurrency,
                max_key_size: s.max_key_size,
                stats,
            }),
        })
    }

    /// The cache's name on the server (empty: the server's first cache).
    pub fn cache_name(&self) -> &str {
        &self.inner.cache
    }

    /// `host:port` of the server.
    pub fn address(&self) -> &str {
        &self.inner.client.address
    }
}

/// The seconds to send as `expires` for `ttl` written now: `Some(0)` for never, `None` if it is
/// already over. uWSGI's expiry is `now_seconds + N`, gone once its clock reaches it, so `ceil + 1`
/// keeps an entry alive for at least its `Ttl`.
fn expires_secs(ttl: Ttl, default: Expiry, now: SystemTime) -> Option<u64> {
    match ttl.resolve(default).remaining_secs_ceil(now) {
        None => Some(0),
        Some(0) => None,
        Some(secs) => Some(secs.saturating_add(1)),
    }
}

impl Inner {
    fn key(&self, key: &str) -> Result<Vec<u8>> {
        let full = [self.prefix.as_bytes(), key.as_bytes()].concat();
        if full.len() > self.max_key_size {
            return Err(CacheError::InvalidKey {
                key: cachette_core::shorten(key),
                message: format!(
                    "with CACHE_KEY_PREFIX it is {} bytes, over the {} bytes of CACHE_OPTIONS.max_key_size (the keysize \
                     of the server's --cache2; the request must also fit its --buffer-size)",
                    full.len(),
                    self.max_key_size
                ),
            });
        }
        Ok(full)
    }

    fn request(&self, cmd: &str, key: &str) -> Result<Request> {
        Ok(Request::new(cmd, &self.cache, Some(&self.key(key)?)))
    }

    async fn get(&self, key: &str) -> Result<Option<Bytes>> {
        match self.client.exchange("get", &self.request("get", key)?).await? {
            Response::Ok(value) => Ok(Some(value)),
            Response::Nothing => Ok(None),
        }
    }

    async fn delete(&self, key: &str) -> Result<bool> {
        let answer = self.client.exchange("delete", &self.request("del", key)?).await?;
        Ok(answer != Response::Nothing)
    }

    /// `update` (overwrite) or `set` (only if absent); whether the server stored it.
    async fn write(&self, cmd: &'static str, key: &str, value: Bytes, expires: u64) -> Result<bool> {
        if value.is_empty() {
            return Err(CacheError::Refused {
                backend: TYPE_NAME,
                operation: cmd,
                message: format!("uWSGI's cache does not store empty values (key {key:?})"),
            });
        }
        let request = self.request(cmd, key)?.with_value(value, expires);
        Ok(self.client.exchange(cmd, &request).await? != Response::Nothing)
    }

    async fn set(&self, key: &str, value: Bytes, ttl: Ttl) -> Result<()> {
        let Some(expires) = expires_secs(ttl, self.default_ttl, SystemTime::now()) else {
            self.delete(key).await?;
            return Ok(());
        };
        let size = value.len();
        if self.write("update", key, value, expires).await? {
            return Ok(());
        }
        // The old value must not be served in place of the one that was refused.
        let _ = self.delete(key).await;
        Err(self.not_stored(key, size))
    }

    fn not_stored(&self, key: &str, size: usize) -> CacheError {
        CacheError::backend(
            TYPE_NAME,
            format!(
                "uWSGI at {} stored nothing for key {:?} ({size} bytes): the value is over the cache's item size \
                 (blocksize, or blocksize x blocks with bitmap=1), the key over its keysize, the cache is full \
                 (items), or the server has no cache named {:?} (CACHE_UWSGI_NAME)",
                self.client.address,
                cachette_core::shorten(key),
                self.cache
            ),
            None,
        )
    }

    fn unsupported(operation: &'static str, why: &str) -> CacheError {
        CacheError::Refused { backend: TYPE_NAME, operation, message: why.to_owned() }
    }
}

#[async_trait]
impl BaseCache for UwsgiCache {
    fn type_name(&self) -> &'static str {
        TYPE_NAME
    }

    async fn get(&self, key: &str) -> Result<Option<Bytes>> {
        self.inner.get(key).await
    }

    async fn get_many(&self, keys: &[&str]) -> Result<Vec<Option<Bytes>>> {
        let inner = &*self.inner;
        let mut values = Vec::with_capacity(keys.len());
        for batch in keys.chunks(inner.concurrency) {
            values.extend(try_join_all(batch.iter().map(|key| inner.get(key))).await?);
        }
        Ok(values)
    }

    async fn has(&self, key: &str) -> Result<bool> {
        let inner = &*self.inner;
        Ok(inner.client.exchange("has", &inner.request("exists", key)?).await? != Response::Nothing)
    }

    async fn set(&self, key: &str, value: Bytes, ttl: Ttl) -> Result<()> {
        self.inner.set(key, value, ttl).await
    }

    async fn set_many(&self, items: &[(&str, Bytes)], ttl: Ttl) -> Result<()> {
        let inner = &*self.inner;
        for batch in items.chunks(inner.concurrency) {
            try_join_all(batch.iter().map(|(key, value)| inner.set(key, value.clone(), ttl))).await?;
        }
        Ok(())
    }

    async fn add(&self, key: &str, value: Bytes, ttl: Ttl) -> Result<bool> {
        let inner = &*self.inner;
        let Some(expires) = expires_secs(ttl, inner.default_ttl, SystemTime::now()) else {
            // Nothing to store; report whether the key was free.
            return Ok(!self.has(key).await?);
        };
        let size = value.len();
        // uWSGI's silence does not say why a write was refused: a live key is the answer add
        // expects; an absent one means the write failed for another reason, tried again a few times
        // (seen under 100 concurrent adds of one key) before it is an error.
        for _ in 0..ADD_ATTEMPTS {
            if inner.write("set", key, value.clone(), expires).await? {
                return Ok(true);
            }
            if self.has(key).await? {
                return Ok(false);
            }
        }
        Err(inner.not_stored(key, size))
    }

    async fn delete(&self, key: &str) -> Result<bool> {
        self.inner.delete(key).await
    }

    async fn delete_many(&self, keys: &[&str]) -> Result<u64> {
        let inner = &*self.inner;
        let mut removed = 0;
        for batch in keys.chunks(inner.concurrency) {
            let answers = try_join_all(batch.iter().map(|key| inner.delete(key))).await?;
            removed += answers.into_iter().filter(|&r| r).count() as u64;
        }
        Ok(removed)
    }

    async fn inc(&self, _key: &str, _delta: i64) -> Result<i64> {
        Err(Inner::unsupported(
            "inc",
            "uWSGI's cache has no atomic increment over the network (cache_inc works only inside the uWSGI \
             process), and a read-then-write would lose concurrent increments; use a backend with counters \
             (RedisCache, MemcachedCache) for them",
        ))
    }

    async fn touch(&self, _key: &str, _ttl: Ttl) -> Result<bool> {
        Err(Inner::unsupported(
            "touch",
            "uWSGI's cache has no remote command that changes an expiry alone, and a read-then-update would \
             overwrite a value another client wrote meanwhile; write the value again with set",
        ))
    }

    async fn clear(&self) -> Result<()> {
        let inner = &*self.inner;
        match inner.client.exchange("clear", &Request::new("clear", &inner.cache, None)).await? {
            Response::Ok(_) => Ok(()),
            Response::Nothing => Err(CacheError::backend(
                TYPE_NAME,
                format!(
                    "uWSGI at {} did not clear: it has no cache named {:?} (CACHE_UWSGI_NAME)",
                    inner.client.address, inner.cache
                ),
                None,
            )),
        }
    }

    fn admin(&self) -> Option<&dyn cachette_core::Admin> {
        Some(self)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_ttl_is_sent_as_whole_seconds_rounded_up_plus_one() {
        let now = SystemTime::now();
        let default = Expiry::After(Duration::from_secs(300));
        assert_eq!(expires_secs(Ttl::Never, default, now), Some(0));
        assert_eq!(expires_secs(Ttl::Default, default, now), Some(301));
        assert_eq!(expires_secs(Ttl::After(Duration::from_millis(300)), default, now), Some(2));
        assert_eq!(expires_secs(Ttl::After(Duration::from_secs(2)), default, now), Some(3));
        assert_eq!(expires_secs(Ttl::At(now + Duration::from_millis(1500)), default, now), Some(3));
        assert_eq!(expires_secs(Ttl::After(Duration::ZERO), default, now), None);
        assert_eq!(expires_secs(Ttl::At(now - Duration::from_secs(1)), default, now), None);
    }

    #[test]
    fn the_type_is_registered_under_its_flask_caching_name() {
        let mut registry = Registry::new();
        register(&mut registry).unwrap();
        let config =
            Config::from_map([("CACHE_TYPE", "uwsgi"), ("CACHE_UWSGI_NAME", "mycache@127.0.0.1:3031")]).unwrap();
        assert_eq!(config.cache_type, TYPE_NAME);
        let cache = registry.build(&config).unwrap();
        assert_eq!(cache.type_name(), TYPE_NAME);
    }
}
