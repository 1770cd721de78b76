//! [`MemcachedCache`]: cachette on memcached — several servers, SASL, values over the item size
//! limit, and a `clear()` that never runs `flush_all`.
//!
//! Three `CACHE_TYPE` names build it, all registered by [`register`]:
//!
//! | type | credentials | large values |
//! |---|---|---|
//! | `MemcachedCache` | used if given | spread (default; `spread=false` to refuse them) |
//! | `SASLMemcachedCache` | required | spread (default; `spread=false` to refuse them) |
//! | `SpreadSASLMemcachedCache` | used if given (Flask-Caching apps pick it for spreading alone) | always spread |
//!
//! ```no_run
//! use cachette_core::{BaseCache, Bytes, Config, Ttl};
//! use cachette_memcached::MemcachedCache;
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let config = Config::from_map([
//!     ("CACHE_TYPE", "SASLMemcachedCache"),
//!     ("CACHE_MEMCACHED_SERVERS", "10.0.0.1:11211,10.0.0.2:11211"),
//!     ("CACHE_MEMCACHED_USERNAME", "app"),
//!     ("CACHE_MEMCACHED_PASSWORD", "secret"),
//!     ("CACHE_KEY_PREFIX", "myapp:"),
//!     ("CACHE_OPTIONS", "pool_size=32,response_timeout=1s"),
//! ])?;
//! let cache = MemcachedCache::new(&config)?; // connects lazily, on first use
//! cache.set("greeting", Bytes::from_static(b"hello"), Ttl::Default).await?;
//! assert_eq!(cache.inc("visits", 1).await?, 1);
//! cache.clear().await?; // only myapp:'s keys become unreachable
//! # Ok::<(), cachette_core::CacheError>(())
//! # }).unwrap();
//! ```
//!
//! - [Settings](#settings): servers, credentials, `CACHE_OPTIONS`
//! - [Protocols](#protocols): meta (the default) or binary
//! - [The client](#the-client): connections, pipelining, retries
//! - [Keys](#keys): which keys stay readable, `get_many`'s order
//! - [TLS and unix sockets](#tls-and-unix-sockets)
//! - [Several servers](#several-servers): routing, and a server that is down
//! - [clear, expiry, counters and large values](#clear-expiry-counters-and-large-values)
//! - [Not supported](#not-supported)
//!
//! # Settings
//!
//! `CACHE_MEMCACHED_SERVERS` (`host:port`, `tls://host:port` or `unix:/path` entries; a bare host
//! gets port 11211; default `127.0.0.1:11211`), `CACHE_MEMCACHED_USERNAME` / `CACHE_MEMCACHED_PASSWORD` (SASL PLAIN on the
//! binary protocol, memcached `-S`), `CACHE_KEY_PREFIX`, `CACHE_DEFAULT_TIMEOUT`, and
//! `CACHE_OPTIONS`:
//!
//! | option | default | meaning |
//! |---|---|---|
//! | `protocol` | `meta`; `binary` with credentials | `meta` or `binary` (see [Protocols](#protocols)) |
//! | `pool_size` | 16 | connections per server (one request batch at a time each) |
//! | `connect_timeout` | 1s | time to open a connection and log in; a wrong password fails within it |
//! | `response_timeout` | 2s | time for one exchange (raise it for large values on slow links) |
//! | `spread` | true | store values over the item limit in several items instead of refusing them |
//! | `max_item_size` | 1m | the servers' item size limit (memcached `-I`); larger values are spread or refused |
//! | `tls` | false | TLS for every `host:port` entry (as if each were written `tls://host:port`) |
//! | `tls_ca_file` | system roots | PEM file of the CA that signed the servers' certificates |
//! | `tls_cert_file` / `tls_key_file` | none | client certificate and its key, for servers that require one (`ssl_verify_mode=2`) |
//! | `tls_server_name` | the entry's host | the name the servers' certificates must be valid for |
//!
//! # Protocols
//!
//! `protocol=meta` (the default) speaks memcached's meta protocol (memcached 1.6+; mcrouter,
//! Dragonfly and ElastiCache Serverless accept only it); `protocol=binary` the binary protocol,
//! deprecated by memcached since 1.6.0 but the only one with SASL, so credentials choose it (and
//! `protocol=meta` with credentials is a configuration error). Both store items the same way:
//! processes on either protocol share keys, values, counters and `clear()`, so a fleet can move
//! from one to the other a process at a time. A server that does not know meta commands
//! (answering `ERROR`, or closing the connection as `memcached -B binary` does) gives an error
//! naming `CACHE_OPTIONS.protocol`. The operations are written once; `protocol.rs` is the seam,
//! `meta.rs` and `binary.rs` the two codecs.
//!
//! # TLS and unix sockets
//!
//! An entry `tls://host:port` (or every TCP entry, with `tls=true`) is reached over TLS (rustls
//! with the ring provider, as the Redis backends; TLS 1.2 and 1.3), on memcached started with
//! `-Z`; SASL logs in over it as over TCP. The option names are those of RedisCache. The `tls_*`
//! files are read when the cache is built; naming them with no TLS server is an error rather
//! than a plain-text connection. A TLS server keeps its place in the hash ring of `host:port`, so
//! turning TLS on for a fleet moves no keys. Both protocols run over TLS.
//!
//! A handshake that fails — the server's certificate not signed by `tls_ca_file`, not valid for
//! the host (or `tls_server_name`), the client certificate missing, expired or refused — is a
//! [`CacheError::Authentication`] whose `setting` is the one to fix, at once: no wait for a
//! timeout. (With TLS 1.3 a refused client certificate shows on the first exchange, not on
//! connect; it is reported the same way.)
//!
//! An entry `unix:/path/to/memcached.sock` (or `unix:///path`) is a server on a unix socket
//! (memcached `-s`), in the hash ring like any other.
//!
//! # The client
//!
//! This crate speaks memcached's protocols itself, on tokio, instead of wrapping the
//! `memcache` crate, whose stable client is synchronous and cannot pipeline (`pool.rs` says what
//! else rules it out). Every request batch is pipelined on one pooled connection, each answer is
//! checked against its request, and a connection is reused only after an exchange that completed —
//! any error, timeout or cancelled call drops it. Idle connections that the server closed (a
//! restart) are noticed before reuse, and reads and plain writes are retried once on a fresh
//! connection. Connections belong to the tokio runtime that opened them: use one cache per runtime.
//!
//! # Keys
//!
//! memcached keys are at most 250 bytes of printable ASCII without spaces. A key that fits stays
//! readable inside the memcached key; any other (spaces, unicode, control characters, too long) is
//! replaced by its blake3 hash. Both forms carry a hash of `CACHE_KEY_PREFIX` and the namespace
//! generation (see `keys.rs` for the layout, which is injective). `get_many` sends one pipelined
//! batch per server and answers in the order asked, duplicates included.
//!
//! # Several servers
//!
//! Keys are spread by rendezvous (highest-random-weight) hashing of the prefix and the key over the
//! servers as written in `CACHE_MEMCACHED_SERVERS` (so list them the same way in every process).
//! Adding a server to N moves about 1/(N+1) of the keys, all of them to the new server; removing one
//! moves only its keys. memcached servers do not replicate: a key lives on one server, and when that
//! server is down its keys are errors (misses with `CACHE_IGNORE_ERRORS`) while the others work.
//!
//! # clear, expiry, counters and large values
//!
//! In short (each source file's docs say how and why):
//!
//! - `clear()` never runs `flush_all`: it moves the prefix to a new *namespace generation* on every
//!   server, so the prefix's older keys are unreachable at once, also to other processes, and age
//!   out; other prefixes are untouched. A server unreachable during `clear` keeps its entries
//!   readable until a later `clear` succeeds there (`namespace.rs`).
//! - A `Ttl` becomes memcached's exptime in whole seconds, rounded up; beyond 30 days an absolute
//!   unix time, capped at 2106. A write whose `Ttl` is already over deletes the key (`item.rs`).
//! - `inc` is one atomic `incr` where it can be; `dec`, negative numbers and races go through
//!   compare-and-swap, keeping the key's expiry. A result outside `i64` is refused with
//!   [`CacheError::NotAnInteger`] and the stored value left as it was (`counter.rs`).
//! - A value over `max_item_size` is spread over several items (on by default, so the 1 MiB values
//!   every cachette backend takes fit a stock memcached); with `spread=false` it is refused with
//!   [`CacheError::ValueTooLarge`] naming the option, and a `set` deletes the key's old value
//!   (`spread.rs`).
//!
//! # Not supported
//!
//! memcached's ASCII authentication (`-Y`): with credentials this backend logs in with SASL on the
//! binary protocol, which such a server refuses, so operations end in a `Timeout` error (or a
//! protocol error that names `-Y` if it answers); use SASL (`-S`) instead. UDP is not supported.
//! The meta protocol's anti-stampede flags (`N` vivify-on-miss, `R` recache, win/`W`, `Z`) are
//! not used: the facade's leases work through `add` and `get_many` on every backend (see
//! `protocol.rs` for where a lease on those flags would go).

mod admin;
mod binary;
mod counter;
mod endpoints;
mod item;
mod keys;
mod meta;
mod namespace;
mod pool;
mod protocol;
mod request;
mod route;
mod settings;
mod spread;
mod store;
mod transport;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;

use cachette_core::{BaseCache, Bytes, CacheError, Config, Expiry, Registry, Result, Ttl, async_trait};
use futures::future::try_join_all;

use crate::counter::{CAS_ATTEMPTS, back_off};
use crate::item::{HEAD_FLAGS, Lifetime};
use crate::keys::KeySpace;
use crate::pool::Server;
use crate::protocol::Protocol;
use crate::request::{Op, Request, status};
use crate::route::{Located, occupied};
use crate::settings::{Flavor, Settings};
use crate::store::Store;

/// The `CACHE_TYPE` name of the plain backend.
pub const TYPE_NAME: &str = "MemcachedCache";
/// The `CACHE_TYPE` name of the backend that requires SASL credentials.
pub const SASL_TYPE_NAME: &str = "SASLMemcachedCache";
/// The `CACHE_TYPE` name of the backend that always spreads large values (Flask-Caching's name).
pub const SPREAD_SASL_TYPE_NAME: &str = "SpreadSASLMemcachedCache";

/// Registers `MemcachedCache`, `SASLMemcachedCache` and `SpreadSASLMemcachedCache`.
pub fn register(registry: &mut Registry) -> Result<()> {
    registry.register(TYPE_NAME, |config: &Config| {
        Ok(Arc::new(MemcachedCache::with_flavor(config, Flavor::Plain)?) as Arc<dyn BaseCache>)
    })?;
    registry.register(SASL_TYPE_NAME, |config: &Config| {
        Ok(Arc::new(MemcachedCache::with_flavor(config, Flavor::Sasl)?) as Arc<dyn BaseCache>)
    })?;
    registry.register(SPREAD_SASL_TYPE_NAME, |config: &Config| {
        Ok(Arc::new(MemcachedCache::with_flavor(config, Flavor::SpreadSasl)?) as Arc<dyn BaseCache>)
    })
}

// `Cache::from_env()` finds this backend in every program this crate is linked into.
cachette_core::link_backend!(register);

/// A cache on one or more memcached servers. See the crate docs. Cloning is cheap and shares the
/// connection pools.
#[derive(Clone)]
pub struct MemcachedCache {
    inner: Arc<Inner>,
}

/// What the clones of one cache share. Its methods live in the module of their concern:
/// `route.rs` (which server), `namespace.rs` (the generation every request is checked against),
/// `store.rs` (set, add, delete), `spread.rs` (large values), `counter.rs` (inc and dec).
struct Inner {
    backend: &'static str,
    protocol: Protocol,
    servers: Vec<Server>,
    keys: KeySpace,
    generation_key: Bytes,
    default_ttl: Expiry,
    spread: bool,
    max_item_size: usize,
}

impl std::fmt::Debug for MemcachedCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct(self.inner.backend)
            .field("servers", &self.servers())
            .field("protocol", &self.protocol())
            .field("spread", &self.inner.spread)
            .field("max_item_size", &self.inner.max_item_size)
            .finish_non_exhaustive()
    }
}

impl MemcachedCache {
    /// A cache for `config`: `MemcachedCache`, or `SASLMemcachedCache` / `SpreadSASLMemcachedCache`
    /// when `config.cache_type` names one of those. Checks the settings and connects nothing yet.
    pub fn new(config: &Config) -> Result<MemcachedCache> {
        let flavor = match config.cache_type.as_str() {
            SASL_TYPE_NAME => Flavor::Sasl,
            SPREAD_SASL_TYPE_NAME => Flavor::SpreadSasl,
            _ => Flavor::Plain,
        };
        Self::with_flavor(config, flavor)
    }

    /// A `SASLMemcachedCache`: like [`MemcachedCache::new`], and `CACHE_MEMCACHED_USERNAME` /
    /// `CACHE_MEMCACHED_PASSWORD` are required.
    pub fn sasl(config: &Config) -> Result<MemcachedCache> {
        Self::with_flavor(config, Flavor::Sasl)
    }

    /// A `SpreadSASLMemcachedCache`: like [`MemcachedCache::new`], and spreading cannot be turned off.
    pub fn spread_sasl(config: &Config) -> Result<MemcachedCache> {
        Self::with_flavor(config, Flavor::SpreadSasl)
    }

    fn with_flavor(config: &Config, flavor: Flavor) -> Result<MemcachedCache> {
        let settings = Settings::from_config(config, flavor)?;
        let protocol = settings.connection.protocol;
        let connection = Arc::new(settings.connection);
        let servers = settings
            .servers
            .into_iter()
            .map(|transport| {
                let seed = keys::server_seed(&transport.ring_name());
                Server::new(transport, seed, connection.clone())
            })
            .collect();
        let keys = KeySpace::new(&config.key_prefix);
        let generation_key = Bytes::copy_from_slice(keys.generation_key().as_bytes());
        Ok(MemcachedCache {
            inner: Arc::new(Inner {
                backend: flavor.type_name(),
                protocol,
                servers,
                keys,
                generation_key,
                default_ttl: config.default_timeout,
                spread: settings.spread,
                max_item_size: settings.max_item_size,
            }),
        })
    }

    /// The servers, as configured.
    pub fn servers(&self) -> Vec<&str> {
        self.inner.servers.iter().map(|s| s.addr.as_str()).collect()
    }

    /// The server that holds `key` (for a spread value: its head item).
    pub fn server_for_key(&self, key: &str) -> &str {
        &self.inner.servers[self.inner.locate(key).server].addr
    }

    /// The wire protocol, as `CACHE_OPTIONS.protocol` names it: `"meta"` or `"binary"`.
    pub fn protocol(&self) -> &'static str {
        self.inner.protocol.name()
    }

    /// Whether values over the item size limit are spread over several items.
    pub fn spreads_large_values(&self) -> bool {
        self.inner.spread
    }
}

#[async_trait]
impl BaseCache for MemcachedCache {
    fn type_name(&self) -> &'static str {
        self.inner.backend
    }

    /// Says what memcached cannot count (see `admin.rs`).
    fn admin(&self) -> Option<&dyn cachette_core::Admin> {
        Some(self)
    }

    async fn get(&self, key: &str) -> Result<Option<Bytes>> {
        let inner = &*self.inner;
        let at = inner.locate(key);
        let (generation, response) = inner.exchange_one(&at, "get", true, Request::get(Bytes::new())).await?;
        match response.status {
            status::OK => inner.item_value(at.server, inner.data_key(generation, &at.body), response).await,
            status::NOT_FOUND => Ok(None),
            _ => Err(inner.servers[at.server].status_error("get", &response)),
        }
    }

    async fn get_many(&self, keys: &[&str]) -> Result<Vec<Option<Bytes>>> {
        let inner = &*self.inner;
        let mut unique: Vec<&str> = Vec::with_capacity(keys.len());
        let mut position: HashMap<&str, usize> = HashMap::with_capacity(keys.len());
        for key in keys {
            position.entry(key).or_insert_with(|| {
                unique.push(key);
                unique.len() - 1
            });
        }
        let groups = inner.group_by_server(unique.iter().copied());
        let fetches = occupied(&groups).map(|(s, group)| async move {
            let (generation, responses) = inner
                .in_namespace(s, "get_many", true, |g| {
                    let mut requests: Vec<Request> =
                        group.iter().map(|(_, body)| Request::get_quiet(inner.data_key(g, body))).collect();
                    requests.push(Request::noop());
                    requests
                })
                .await?;
            let mut found = Vec::new();
            for ((i, body), response) in group.iter().zip(responses) {
                match response {
                    None => {}
                    Some(r) if r.status == status::OK => {
                        if let Some(v) = inner.item_value(s, inner.data_key(generation, body), r).await? {
                            found.push((*i, v));
                        }
                    }
                    Some(r) => return Err(inner.servers[s].status_error("get_many", &r)),
                }
            }
            Ok::<_, CacheError>(found)
        });
        let mut values: Vec<Option<Bytes>> = vec![None; unique.len()];
        for found in try_join_all(fetches).await? {
            for (i, value) in found {
                values[i] = Some(value);
            }
        }
        Ok(keys.iter().map(|key| values[position[key]].clone()).collect())
    }

    async fn set(&self, key: &str, value: Bytes, ttl: Ttl) -> Result<()> {
        let inner = &*self.inner;
        let Some(life) = Lifetime::of(ttl, inner.default_ttl, SystemTime::now()) else {
            inner.delete(key).await?;
            return Ok(());
        };
        inner.store(Store::Set, key, value, life).await.map(|_| ())
    }

    async fn set_many(&self, items: &[(&str, Bytes)], ttl: Ttl) -> Result<()> {
        let inner = &*self.inner;
        if items.is_empty() {
            return Ok(());
        }
        let Some(life) = Lifetime::of(ttl, inner.default_ttl, SystemTime::now()) else {
            let keys: Vec<&str> = items.iter().map(|(k, _)| *k).collect();
            self.delete_many(&keys).await?;
            return Ok(());
        };
        let located: Vec<Located> = items.iter().map(|(key, _)| inner.locate(key)).collect();
        let large: Vec<usize> =
            (0..items.len()).filter(|&i| !inner.fits_in_one_item(&located[i].body, items[i].1.len())).collect();
        if let Some(&i) = large.first()
            && !inner.spread
        {
            let (key, value) = &items[i];
            let _ = inner.delete(key).await;
            return Err(inner.too_large(key, value.len()));
        }
        let mut groups: Vec<Vec<usize>> = vec![Vec::new(); inner.servers.len()];
        for (i, at) in located.iter().enumerate() {
            if !large.contains(&i) {
                groups[at.server].push(i);
            }
        }
        let writes = occupied(&groups).map(|(s, group)| {
            let located = &located;
            async move {
                let (_, responses) = inner
                    .in_namespace(s, "set_many", true, |g| {
                        let mut requests: Vec<Request> = group
                            .iter()
                            .map(|&i| {
                                let key = inner.data_key(g, &located[i].body);
                                Request::store(Op::SetQuiet, key, items[i].1.clone())
                                    .with_flags(life.deadline)
                                    .with_exptime(life.exptime)
                            })
                            .collect();
                        requests.push(Request::noop());
                        requests
                    })
                    .await?;
                for (&i, response) in group.iter().zip(responses) {
                    if let Some(r) = response {
                        return Err(match r.status {
                            status::TOO_LARGE => {
                                inner.refused_by_server(&inner.servers[s], items[i].0, items[i].1.len())
                            }
                            _ => inner.servers[s].status_error("set_many", &r),
                        });
                    }
                }
                Ok(())
            }
        });
        try_join_all(writes).await?;
        for i in large {
            inner.write_spread(&located[i], items[i].1.clone(), life, Store::Set).await?;
        }
        Ok(())
    }

    async fn add(&self, key: &str, value: Bytes, ttl: Ttl) -> Result<bool> {
        let Some(life) = Lifetime::of(ttl, self.inner.default_ttl, SystemTime::now()) else {
            // Nothing to store; report whether the key was free.
            return Ok(self.get(key).await?.is_none());
        };
        self.inner.store(Store::Add, key, value, life).await
    }

    async fn delete(&self, key: &str) -> Result<bool> {
        self.inner.delete(key).await
    }

    async fn delete_many(&self, keys: &[&str]) -> Result<u64> {
        let inner = &*self.inner;
        let groups = inner.group_by_server(keys.iter().copied());
        let deletes = occupied(&groups).map(|(s, group)| async move {
            let (_, responses) = inner
                .in_namespace(s, "delete_many", true, |g| {
                    group.iter().map(|(_, body)| Request::delete(inner.data_key(g, body), 0)).collect()
                })
                .await?;
            let mut removed = 0u64;
            for response in responses.into_iter().flatten() {
                match response.status {
                    status::OK => removed += 1,
                    status::NOT_FOUND => {}
                    _ => return Err(inner.servers[s].status_error("delete_many", &response)),
                }
            }
            Ok(removed)
        });
        Ok(try_join_all(deletes).await?.into_iter().sum())
    }

    async fn inc(&self, key: &str, delta: i64) -> Result<i64> {
        self.inner.inc(key, delta).await
    }

    async fn touch(&self, key: &str, ttl: Ttl) -> Result<bool> {
        let inner = &*self.inner;
        let Some(life) = Lifetime::of(ttl, inner.default_ttl, SystemTime::now()) else {
            return self.delete(key).await;
        };
        let at = inner.locate(key);
        let server = &inner.servers[at.server];
        // memcached's own touch cannot change the flags, where the deadline is recorded: read the
        // item and write it back with a compare-and-swap.
        for attempt in 0..CAS_ATTEMPTS {
            back_off(attempt).await;
            let (generation, current) = inner.exchange_one(&at, "touch", true, Request::get(Bytes::new())).await?;
            let (value, flags) = match current.status {
                status::NOT_FOUND => return Ok(false),
                status::OK if current.flags() == HEAD_FLAGS => {
                    let data_key = inner.data_key(generation, &at.body);
                    match inner.retimed_head(at.server, data_key, &current, life).await? {
                        Some(head) => (head, HEAD_FLAGS),
                        None => return Ok(false),
                    }
                }
                status::OK => (current.value.clone(), life.deadline),
                _ => return Err(server.status_error("touch", &current)),
            };
            let write = Request::store(Op::Set, Bytes::new(), value)
                .with_flags(flags)
                .with_exptime(life.exptime)
                .with_cas(current.cas);
            let (_, response) = inner.exchange_one(&at, "touch", true, write).await?;
            match response.status {
                status::OK => return Ok(true),
                status::EXISTS | status::NOT_FOUND => continue,
                _ => return Err(server.status_error("touch", &response)),
            }
        }
        Err(inner.contended(&at, "touch"))
    }

    async fn clear(&self) -> Result<()> {
        let inner = &*self.inner;
        let bumps = inner.servers.iter().map(|server| inner.bump_generation(server));
        // Every server is tried even if one fails, so a single unreachable server keeps only its
        // own entries.
        let results = futures::future::join_all(bumps).await;
        results.into_iter().collect::<Result<Vec<()>>>().map(|_| ())
    }
}

/// The response parsers of both protocols for the fuzz targets (`fuzz/`) and property tests: not
/// API, hidden, and may change in any release.
#[doc(hidden)]
#[path = "fuzz.rs"]
pub mod __fuzz;
