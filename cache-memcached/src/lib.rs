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
//! # Settings
//!
//! `CACHE_MEMCACHED_SERVERS` (`host:port` list; a bare host gets port 11211; default
//! `127.0.0.1:11211`), `CACHE_MEMCACHED_USERNAME` / `CACHE_MEMCACHED_PASSWORD` (SASL PLAIN on the
//! binary protocol, memcached `-S`), `CACHE_KEY_PREFIX`, `CACHE_DEFAULT_TIMEOUT`, and
//! `CACHE_OPTIONS`:
//!
//! | option | default | meaning |
//! |---|---|---|
//! | `pool_size` | 16 | connections per server (one request batch at a time each) |
//! | `connect_timeout` | 1s | time to open a connection and log in; a wrong password fails within it |
//! | `response_timeout` | 2s | time for one exchange (raise it for large values on slow links) |
//! | `spread` | true | store values over the item limit in several items instead of refusing them |
//! | `max_item_size` | 1m | the servers' item size limit (memcached `-I`); larger values are spread or refused |
//!
//! # The client
//!
//! This crate speaks memcached's binary protocol itself, on tokio, instead of wrapping the `memcache`
//! crate (0.21). That crate's stable client is synchronous (every call would have to hop to a
//! blocking thread) and, read at its source: it writes each request field by field with one system
//! call per field, unbuffered; it cannot pipeline, which this backend needs to check the namespace
//! generation in the same round trip as each command (below); its increment cannot set the initial
//! value or the expiry of a created counter; and it neither checks that a response belongs to the
//! request nor discards a connection after an error or timeout (its pool's `has_broken` is a
//! to-do), so a late response could be read as the answer to the next request. Its async client
//! (`memcache::exp`) is experimental and speaks only the meta protocol, which has no SASL; the
//! `async-memcached` crate is ASCII-only and pulls old hyper/h2 with advisories.
//!
//! The client here (modules `proto` and `pool`) is small: every request batch is pipelined on one
//! pooled connection, each request is numbered through the protocol's `opaque` field and each answer
//! checked against it, and a connection is reused only after an exchange that completed — any
//! error, timeout or cancelled call drops it. Idle connections that the server closed (a restart)
//! are noticed before reuse, and reads and plain writes are retried once on a fresh connection.
//! Connections belong to the tokio runtime that opened them: use one cache per runtime.
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
//! # clear() without flush_all
//!
//! Every data key contains the prefix's *namespace generation*, a number stored in memcached under a
//! key derived from the prefix, one per server. `clear` increments it on every server (memcached
//! `incr`), so every older key of the prefix becomes unreachable at once and ages out by its expiry
//! or the server's LRU; other prefixes and other applications are untouched.
//!
//! Correctness across processes comes first: every command is sent in one pipelined batch behind a
//! read of the generation (`GETK gen; <command>`), so a `clear` by another process is seen by the
//! very next operation. That costs no extra round trip, only one extra small command per request
//! (the benchmark measured about 5% fewer operations per second than with the check left out).
//! When the generation turns out to have changed, the command is sent again with the new one (a
//! write that went to the old namespace is unreachable garbage). Each process remembers the last
//! generation per server only to know which keys to ask for.
//!
//! A generation key that was evicted or lost (server restart) is recreated with a *random* 63-bit
//! value, never by counting from zero again, so entries of an earlier generation can never become
//! reachable again. If a server is unreachable during `clear`, `clear` fails and that server's
//! entries stay readable until a later `clear` succeeds there (a restarted memcached is empty anyway).
//!
//! # Expiry
//!
//! `Ttl` maps to memcached's exptime in whole seconds, rounded up: up to 30 days relative, beyond
//! that an absolute unix time (memcached's rule), `Ttl::At` alike; a deadline past 2106 is capped
//! there. A write whose `Ttl` is already over deletes the key. Each item also records its absolute
//! deadline in its 32-bit flags (0: none): memcached's compare-and-swap must send an exptime, and the
//! flags let `inc`/`dec`'s compare-and-swap path and `touch` keep or change the expiry exactly.
//! Because memcached's `touch` cannot change flags, `touch` reads the item and writes it back with a
//! compare-and-swap (a value round trip; it retries if the item changed meanwhile).
//!
//! # inc and dec
//!
//! `inc` by a delta >= 0 is one memcached `incr` that creates an absent key holding the delta (no
//! expiry), atomic on the server and keeping a live key's expiry. memcached counts in unsigned 64
//! bits while `BaseCache::inc` needs `i64`: a result above `i64::MAX` (or a stored number above it)
//! is put back at once — the old text written back with a compare-and-swap, or, if another client
//! changed it in that instant, a wrapping `incr` of the complement — and reported as `NotAnInteger`;
//! for that instant another client could read the out-of-range number. `dec`, a negative delta, and
//! a negative stored value (which memcached's `incr` refuses) go through a gets/compare-and-swap
//! loop that keeps the expiry recorded in the flags and creates an absent key with `add`, retrying
//! on a race with a random back-off (two round trips; slower than `incr` when many clients hit one
//! key). memcached's `decr` is never used: it stops at 0 and pads shortened
//! numbers with spaces.
//!
//! # Values over the item size limit
//!
//! A value that does not fit in one item (`max_item_size`, memcached `-I`, default 1 MB) is, with
//! spreading on (the default of all three types), written as pieces of at most `max_item_size`
//! minus a margin, under keys made from a fresh random 128-bit write id, and then a small head item
//! under the value's key naming the id, the length, the piece size and the blake3 hash. Readers
//! fetch the head, then the pieces (one batch per server); a reader therefore never mixes two
//! writes, and a value with a piece missing (evicted) or failing the hash reads as absent (the head
//! is then deleted if unchanged). An overwritten or deleted spread value leaves its pieces to expire
//! with the value's ttl or the LRU. With spreading off, such a value is refused with
//! [`CacheError::ValueTooLarge`] naming the option, before anything is sent, and — as memcached
//! itself does — the key's old value is deleted so that readers do not see stale data.
//!
//! Why spreading is on by default: values up to the limit are stored exactly as without it (one
//! item, one round trip), so it costs nothing until a value would otherwise be refused, and with it
//! `MemcachedCache` accepts the 1 MiB values every cachette backend accepts (the conformance suite
//! checks that) against a stock memcached. `spread=false` gives Flask-Caching's behaviour without
//! its silent drop.
//!
//! # Not supported
//!
//! memcached's ASCII authentication (`-Y`) and `-B ascii` forbid the binary protocol: such a server
//! waits for an ASCII line, so operations end in a `Timeout` error (or a protocol error that names
//! `-Y` if it answers); use SASL (`-S`) instead. Unix sockets, UDP and TLS are not supported.
#![warn(missing_docs)]

mod item;
mod keys;
mod pool;
mod proto;
mod settings;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::BytesMut;
use cachette_core::codec::{checked_counter_add, encode_counter, parse_counter};
use cachette_core::{BaseCache, Bytes, CacheError, Config, Registry, Result, Ttl, async_trait};
use futures::future::try_join_all;

use crate::item::{HEAD_FLAGS, Head, Lifetime};
use crate::keys::{Body, KeySpace};
use crate::pool::Server;
use crate::proto::{NO_CREATE, Request, Response, opcode, status};
use crate::settings::{Flavor, Settings};

/// The `CACHE_TYPE` name of the plain backend.
pub const TYPE_NAME: &str = "MemcachedCache";
/// The `CACHE_TYPE` name of the backend that requires SASL credentials.
pub const SASL_TYPE_NAME: &str = "SASLMemcachedCache";
/// The `CACHE_TYPE` name of the backend that always spreads large values (Flask-Caching's name).
pub const SPREAD_SASL_TYPE_NAME: &str = "SpreadSASLMemcachedCache";

/// Room beside the value in an item: memcached's item header, cas, flags and the key.
const ITEM_OVERHEAD: usize = 128;
/// Room beside each piece of a spread value.
const CHUNK_MARGIN: usize = 512;
/// How often an operation starts over when the namespace generation changed under it.
const NAMESPACE_ATTEMPTS: usize = 8;
/// How often a compare-and-swap loop (inc, touch) tries before giving up under contention (with
/// the back-off, well over a second of trying).
const CAS_ATTEMPTS: usize = 100;

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

struct Inner {
    backend: &'static str,
    servers: Vec<Server>,
    keys: KeySpace,
    generation_key: Bytes,
    default_ttl: Ttl,
    spread: bool,
    max_item_size: usize,
}

impl std::fmt::Debug for MemcachedCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct(self.inner.backend)
            .field("servers", &self.servers())
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
        let connection = Arc::new(settings.connection);
        let servers = settings
            .servers
            .into_iter()
            .map(|addr| {
                let seed = keys::server_seed(&addr);
                Server::new(addr, seed, connection.clone())
            })
            .collect();
        let keys = KeySpace::new(&config.key_prefix);
        let generation_key = Bytes::copy_from_slice(keys.generation_key().as_bytes());
        Ok(MemcachedCache {
            inner: Arc::new(Inner {
                backend: flavor.type_name(),
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

    /// Whether values over the item size limit are spread over several items.
    pub fn spreads_large_values(&self) -> bool {
        self.inner.spread
    }
}

/// A key's server and the gen-independent part of its memcached key.
struct Located {
    server: usize,
    body: Body,
}

impl Inner {
    fn locate(&self, key: &str) -> Located {
        let server = if self.servers.len() == 1 {
            0
        } else {
            keys::pick(self.servers.iter().map(|s| s.seed), self.keys.route(key))
        };
        Located { server, body: self.keys.body(key) }
    }

    fn chunk_server(&self, id: u128, index: u32) -> usize {
        if self.servers.len() == 1 {
            0
        } else {
            keys::pick(self.servers.iter().map(|s| s.seed), KeySpace::chunk_route(id, index))
        }
    }

    fn data_key(&self, generation: u64, body: &str) -> Bytes {
        Bytes::from(self.keys.data_key(generation, body))
    }

    fn fits_in_one_item(&self, body: &str, len: usize) -> bool {
        len.saturating_add(keys::DATA_HEAD + body.len()).saturating_add(ITEM_OVERHEAD) <= self.max_item_size
    }

    fn protocol_error(&self, message: &str) -> CacheError {
        CacheError::Protocol { backend: self.backend, message: message.to_owned() }
    }

    /// The single response of a request that always answers.
    fn answer(&self, responses: Vec<Option<Response>>) -> Result<Response> {
        responses.into_iter().next().flatten().ok_or_else(|| self.protocol_error("a request was not answered"))
    }

    fn parse_generation(&self, server: &Server, response: Option<Response>) -> Result<Option<u64>> {
        let response = response.ok_or_else(|| self.protocol_error("the namespace generation was not answered"))?;
        match response.status {
            status::OK => {
                let text = std::str::from_utf8(response.value.trim_ascii()).ok();
                match text.and_then(|t| t.parse::<u64>().ok()) {
                    Some(g) if g != u64::MAX => Ok(Some(g)),
                    _ => Err(server.backend_error(&format!(
                        "the namespace generation key {:?} holds {:?}, not a number: another program wrote it; \
                         call clear() to reset it",
                        self.keys.generation_key(),
                        String::from_utf8_lossy(&response.value[..response.value.len().min(40)])
                    ))),
                }
            }
            status::NOT_FOUND => Ok(None),
            _ => Err(server.status_error("reading the namespace generation", &response)),
        }
    }

    /// The server's current generation, creating a random one if it has none.
    async fn load_generation(&self, server: &Server) -> Result<u64> {
        for _ in 0..NAMESPACE_ATTEMPTS {
            let responses = server.exchange("namespace", &[Request::getk(self.generation_key.clone())], true).await?;
            if let Some(g) = self.parse_generation(server, responses.into_iter().next().flatten())? {
                server.set_generation(Some(g));
                return Ok(g);
            }
            let fresh = random_generation();
            let add = Request::store(opcode::ADD, self.generation_key.clone(), fresh.to_string().into(), 0, 0, 0);
            let response = self.answer(server.exchange("namespace", &[add], false).await?)?;
            match response.status {
                status::OK => {
                    server.set_generation(Some(fresh));
                    return Ok(fresh);
                }
                status::EXISTS | status::NOT_STORED => continue,
                _ => return Err(server.status_error("creating the namespace generation", &response)),
            }
        }
        Err(server
            .backend_error("the namespace generation key keeps disappearing (is the server evicting it at once?)"))
    }

    /// Sends the requests that `build` makes for a generation, behind a read of the server's
    /// generation in the same pipelined batch; starts over with the new generation if it changed.
    /// Returns the generation used and the answers to `build`'s requests.
    async fn in_namespace<F>(
        &self,
        s: usize,
        operation: &'static str,
        idempotent: bool,
        build: F,
    ) -> Result<(u64, Vec<Option<Response>>)>
    where
        F: Fn(u64) -> Vec<Request> + Send + Sync,
    {
        let server = &self.servers[s];
        for _ in 0..NAMESPACE_ATTEMPTS {
            let generation = match server.generation() {
                Some(g) => g,
                None => self.load_generation(server).await?,
            };
            let built = build(generation);
            let mut requests = Vec::with_capacity(built.len() + 1);
            requests.push(Request::getk(self.generation_key.clone()));
            requests.extend(built);
            let mut responses = server.exchange(operation, &requests, idempotent).await?;
            let seen = self.parse_generation(server, responses[0].take())?;
            if seen == Some(generation) {
                responses.remove(0);
                return Ok((generation, responses));
            }
            tracing::debug!(
                "memcached {}: namespace generation changed ({generation} -> {seen:?}); redoing {operation}",
                server.addr
            );
            server.set_generation(seen);
        }
        Err(server.backend_error(&format!(
            "{operation}: the namespace generation changed {NAMESPACE_ATTEMPTS} times in a row (is something calling \
             clear() continuously?)"
        )))
    }

    fn too_large(&self, key: &str, size: usize) -> CacheError {
        CacheError::ValueTooLarge {
            key: shorten(key),
            size,
            limit: self.max_item_size,
            hint: format!(
                "{} does not spread values over several items with CACHE_OPTIONS.spread=false; turn spreading on \
                 (remove spread=false, or use CACHE_TYPE=SpreadSASLMemcachedCache), or start memcached with a larger \
                 item size (-I) and set CACHE_OPTIONS.max_item_size to match",
                self.backend
            ),
        }
    }

    fn refused_by_server(&self, server: &Server, key: &str, size: usize) -> CacheError {
        CacheError::ValueTooLarge {
            key: shorten(key),
            size,
            limit: self.max_item_size,
            hint: format!(
                "memcached at {} refused the item: its item size limit (-I; `stats settings` shows item_size_max) is \
                 below CACHE_OPTIONS.max_item_size={}; set max_item_size to the server's limit",
                server.addr, self.max_item_size
            ),
        }
    }

    /// The value of a found item: itself, or reassembled from its pieces if it is a head.
    async fn item_value(&self, s: usize, data_key: Bytes, response: Response) -> Result<Option<Bytes>> {
        if response.flags() != HEAD_FLAGS {
            return Ok(Some(response.value));
        }
        let Some(head) = Head::decode(&response.value) else {
            tracing::warn!("memcached: the head item of a spread value is corrupt; treating it as absent");
            self.delete_if_unchanged(s, data_key, response.cas).await;
            return Ok(None);
        };
        match self.read_pieces(&head).await? {
            Some(value) => Ok(Some(value)),
            None => {
                tracing::debug!("memcached: a piece of a spread value is missing (evicted?); treating it as absent");
                self.delete_if_unchanged(s, data_key, response.cas).await;
                Ok(None)
            }
        }
    }

    /// The pieces of a spread value, reassembled and checked; `None` if any is missing or wrong.
    async fn read_pieces(&self, head: &Head) -> Result<Option<Bytes>> {
        let mut groups: Vec<Vec<u32>> = vec![Vec::new(); self.servers.len()];
        for index in 0..head.chunks {
            groups[self.chunk_server(head.id, index)].push(index);
        }
        let fetches = groups.iter().enumerate().filter(|(_, g)| !g.is_empty()).map(|(s, indices)| async move {
            let mut requests: Vec<Request> =
                indices.iter().map(|&i| Request::getkq(Bytes::from(self.keys.chunk_key(head.id, i)))).collect();
            requests.push(Request::noop());
            let responses = self.servers[s].exchange("get", &requests, true).await?;
            let mut found = Vec::with_capacity(indices.len());
            for (&index, response) in indices.iter().zip(responses) {
                match response {
                    Some(r) if r.status == status::OK => found.push((index, r.value)),
                    Some(r) => return Err(self.servers[s].status_error("get", &r)),
                    None => return Ok(None),
                }
            }
            Ok(Some(found))
        });
        let mut pieces: Vec<Option<Bytes>> = vec![None; head.chunks as usize];
        for group in try_join_all(fetches).await? {
            let Some(found) = group else { return Ok(None) };
            for (index, value) in found {
                pieces[index as usize] = Some(value);
            }
        }
        let mut value = BytesMut::with_capacity(head.total as usize);
        for (index, piece) in pieces.into_iter().enumerate() {
            match piece {
                Some(p) if p.len() == head.range(index as u32).len() => value.extend_from_slice(&p),
                _ => return Ok(None),
            }
        }
        let value = value.freeze();
        if value.len() as u64 != head.total || hash(value.clone()).await? != head.hash {
            return Ok(None);
        }
        Ok(Some(value))
    }

    async fn delete_if_unchanged(&self, s: usize, key: Bytes, cas: u64) {
        let _ = self.servers[s].exchange("delete", &[Request::delete(key, cas)], true).await;
    }

    /// Writes a value too large for one item as pieces, then its head with `set` or `add`.
    /// Returns whether the head was stored (always for `set`).
    async fn write_spread(&self, key: &str, at: &Located, value: Bytes, life: Lifetime, add: bool) -> Result<bool> {
        let chunk_size = self.max_item_size - CHUNK_MARGIN;
        let chunks = u32::try_from(value.len().div_ceil(chunk_size)).map_err(|_| CacheError::ValueTooLarge {
            key: shorten(key),
            size: value.len(),
            limit: chunk_size * u32::MAX as usize,
            hint: "no value can be spread over more than 2^32 items".to_owned(),
        })?;
        let head = Head {
            id: rand::random(),
            total: value.len() as u64,
            chunk_size: chunk_size as u32,
            chunks,
            deadline: life.deadline,
            hash: hash(value.clone()).await?,
        };
        let mut groups: Vec<Vec<u32>> = vec![Vec::new(); self.servers.len()];
        for index in 0..chunks {
            groups[self.chunk_server(head.id, index)].push(index);
        }
        let writes = groups.iter().enumerate().filter(|(_, g)| !g.is_empty()).map(|(s, indices)| {
            let value = &value;
            let head = &head;
            async move {
                let mut requests: Vec<Request> = indices
                    .iter()
                    .map(|&i| {
                        let piece = value.slice(head.range(i));
                        Request::store(opcode::SETQ, self.keys.chunk_key(head.id, i), piece, 0, life.exptime, 0)
                    })
                    .collect();
                requests.push(Request::noop());
                let server = &self.servers[s];
                for response in server.exchange("set", &requests, true).await?.into_iter().flatten() {
                    match response.status {
                        status::NOT_FOUND | status::OK => {}
                        status::TOO_LARGE => return Err(self.refused_by_server(server, key, value.len())),
                        _ => return Err(server.status_error("set", &response)),
                    }
                }
                Ok(())
            }
        });
        try_join_all(writes).await?;

        let encoded = Bytes::from(head.encode());
        let op = if add { opcode::ADD } else { opcode::SET };
        let (_, responses) = self
            .in_namespace(at.server, if add { "add" } else { "set" }, !add, |g| {
                vec![Request::store(op, self.data_key(g, &at.body), encoded.clone(), HEAD_FLAGS, life.exptime, 0)]
            })
            .await?;
        let response = self.answer(responses)?;
        match response.status {
            status::OK => Ok(true),
            status::EXISTS | status::NOT_STORED if add => {
                self.delete_pieces(&head).await;
                Ok(false)
            }
            _ => Err(self.servers[at.server].status_error(if add { "add" } else { "set" }, &response)),
        }
    }

    /// Best effort: the pieces of a spread value that was not stored.
    async fn delete_pieces(&self, head: &Head) {
        for index in 0..head.chunks {
            let server = &self.servers[self.chunk_server(head.id, index)];
            let key = Bytes::from(self.keys.chunk_key(head.id, index));
            let _ = server.exchange("delete", &[Request::delete(key, 0)], true).await;
        }
    }

    /// `inc` through gets + compare-and-swap: for negative deltas and values memcached's `incr`
    /// refuses (negative numbers, text).
    async fn inc_by_cas(&self, key: &str, at: &Located, delta: i64) -> Result<i64> {
        let server = &self.servers[at.server];
        for attempt in 0..CAS_ATTEMPTS {
            back_off(attempt).await;
            let (_, responses) =
                self.in_namespace(at.server, "inc", true, |g| vec![Request::getk(self.data_key(g, &at.body))]).await?;
            let current = self.answer(responses)?;
            let write = match current.status {
                status::NOT_FOUND => {
                    let text = encode_counter(delta);
                    Request::store(opcode::ADD, Bytes::new(), text, 0, 0, 0)
                }
                status::OK => {
                    if current.flags() == HEAD_FLAGS {
                        return Err(CacheError::not_an_integer(
                            key,
                            "the stored value is a large value spread over several items, not a decimal integer",
                        ));
                    }
                    let value = parse_counter(key, current.value.trim_ascii_end())?;
                    let next = checked_counter_add(key, value, delta)?;
                    let life = Lifetime::from_flags(current.flags());
                    Request::store(
                        opcode::SET,
                        Bytes::new(),
                        encode_counter(next),
                        current.flags(),
                        life.exptime,
                        current.cas,
                    )
                }
                _ => return Err(server.status_error("inc", &current)),
            };
            let (_, responses) = self
                .in_namespace(at.server, "inc", false, |g| {
                    let mut request = write.clone();
                    request.key = self.data_key(g, &at.body);
                    vec![request]
                })
                .await?;
            let response = self.answer(responses)?;
            match response.status {
                status::OK => return parse_counter(key, &write.value),
                status::EXISTS | status::NOT_FOUND | status::NOT_STORED => continue,
                _ => return Err(server.status_error("inc", &response)),
            }
        }
        Err(server.backend_error(&format!(
            "inc: key {:?} changed under {CAS_ATTEMPTS} compare-and-swap attempts in a row; try again",
            shorten(key)
        )))
    }

    /// Puts back the value an `incr` by `amount` turned into `result` (outside `i64`): written back
    /// as it was (text, flags, expiry) if nothing changed it since, else undone by adding the
    /// complement (which wraps back; memcached then may pad the shorter number with spaces).
    async fn undo_increment(&self, s: usize, key: Bytes, result: u64, amount: u64) -> Result<()> {
        let server = &self.servers[s];
        let current = self.answer(server.exchange("inc", &[Request::getk(key.clone())], false).await?)?;
        let unchanged = current.status == status::OK
            && std::str::from_utf8(current.value.trim_ascii()).ok().and_then(|t| t.parse::<u64>().ok()) == Some(result);
        if unchanged {
            let old = Bytes::from(result.wrapping_sub(amount).to_string());
            let life = Lifetime::from_flags(current.flags());
            let restore = Request::store(opcode::SET, key.clone(), old, current.flags(), life.exptime, current.cas);
            if self.answer(server.exchange("inc", &[restore], false).await?)?.status == status::OK {
                return Ok(());
            }
        }
        let undo = Request::increment(key, amount.wrapping_neg(), 0, NO_CREATE);
        server.exchange("inc", &[undo], false).await?;
        Ok(())
    }

    /// Touches every piece of a spread value; false if one is gone.
    async fn touch_pieces(&self, head: &Head, exptime: u32) -> Result<bool> {
        let mut groups: Vec<Vec<u32>> = vec![Vec::new(); self.servers.len()];
        for index in 0..head.chunks {
            groups[self.chunk_server(head.id, index)].push(index);
        }
        let touches = groups.iter().enumerate().filter(|(_, g)| !g.is_empty()).map(|(s, indices)| async move {
            let requests: Vec<Request> = indices
                .iter()
                .map(|&i| Request::touch(Bytes::from(self.keys.chunk_key(head.id, i)), exptime))
                .collect();
            let server = &self.servers[s];
            let mut all = true;
            for response in server.exchange("touch", &requests, true).await?.into_iter().flatten() {
                match response.status {
                    status::OK => {}
                    status::NOT_FOUND => all = false,
                    _ => return Err(server.status_error("touch", &response)),
                }
            }
            Ok(all)
        });
        Ok(try_join_all(touches).await?.into_iter().all(|present| present))
    }

    fn group_by_server<'k>(&self, keys: impl Iterator<Item = &'k str>) -> Vec<Vec<(usize, Body)>> {
        let mut groups: Vec<Vec<(usize, Body)>> = vec![Vec::new(); self.servers.len()];
        for (i, key) in keys.enumerate() {
            let at = self.locate(key);
            groups[at.server].push((i, at.body));
        }
        groups
    }
}

#[async_trait]
impl BaseCache for MemcachedCache {
    fn type_name(&self) -> &'static str {
        self.inner.backend
    }

    async fn get(&self, key: &str) -> Result<Option<Bytes>> {
        let inner = &*self.inner;
        let at = inner.locate(key);
        let (generation, responses) =
            inner.in_namespace(at.server, "get", true, |g| vec![Request::getk(inner.data_key(g, &at.body))]).await?;
        let response = inner.answer(responses)?;
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
        let fetches = groups.iter().enumerate().filter(|(_, g)| !g.is_empty()).map(|(s, group)| async move {
            let (generation, responses) = inner
                .in_namespace(s, "get_many", true, |g| {
                    let mut requests: Vec<Request> =
                        group.iter().map(|(_, body)| Request::getkq(inner.data_key(g, body))).collect();
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
            self.delete(key).await?;
            return Ok(());
        };
        let at = inner.locate(key);
        if !inner.fits_in_one_item(&at.body, value.len()) {
            if !inner.spread {
                let _ = self.delete(key).await;
                return Err(inner.too_large(key, value.len()));
            }
            inner.write_spread(key, &at, value, life, false).await?;
            return Ok(());
        }
        let size = value.len();
        let (_, responses) = inner
            .in_namespace(at.server, "set", true, |g| {
                vec![Request::store(
                    opcode::SET,
                    inner.data_key(g, &at.body),
                    value.clone(),
                    life.deadline,
                    life.exptime,
                    0,
                )]
            })
            .await?;
        let response = inner.answer(responses)?;
        match response.status {
            status::OK => Ok(()),
            status::TOO_LARGE => Err(inner.refused_by_server(&inner.servers[at.server], key, size)),
            _ => Err(inner.servers[at.server].status_error("set", &response)),
        }
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
            let _ = self.delete(key).await;
            return Err(inner.too_large(key, value.len()));
        }
        let mut groups: Vec<Vec<usize>> = vec![Vec::new(); inner.servers.len()];
        for (i, at) in located.iter().enumerate() {
            if !large.contains(&i) {
                groups[at.server].push(i);
            }
        }
        let writes = groups.iter().enumerate().filter(|(_, g)| !g.is_empty()).map(|(s, group)| {
            let located = &located;
            async move {
                let (_, responses) = inner
                    .in_namespace(s, "set_many", true, |g| {
                        let mut requests: Vec<Request> = group
                            .iter()
                            .map(|&i| {
                                let key = inner.data_key(g, &located[i].body);
                                Request::store(opcode::SETQ, key, items[i].1.clone(), life.deadline, life.exptime, 0)
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
            inner.write_spread(items[i].0, &located[i], items[i].1.clone(), life, false).await?;
        }
        Ok(())
    }

    async fn add(&self, key: &str, value: Bytes, ttl: Ttl) -> Result<bool> {
        let inner = &*self.inner;
        let Some(life) = Lifetime::of(ttl, inner.default_ttl, SystemTime::now()) else {
            // Nothing to store; report whether the key was free.
            return Ok(self.get(key).await?.is_none());
        };
        let at = inner.locate(key);
        if !inner.fits_in_one_item(&at.body, value.len()) {
            if !inner.spread {
                return Err(inner.too_large(key, value.len()));
            }
            return inner.write_spread(key, &at, value, life, true).await;
        }
        let size = value.len();
        let (_, responses) = inner
            .in_namespace(at.server, "add", false, |g| {
                vec![Request::store(
                    opcode::ADD,
                    inner.data_key(g, &at.body),
                    value.clone(),
                    life.deadline,
                    life.exptime,
                    0,
                )]
            })
            .await?;
        let response = inner.answer(responses)?;
        match response.status {
            status::OK => Ok(true),
            status::EXISTS | status::NOT_STORED => Ok(false),
            status::TOO_LARGE => Err(inner.refused_by_server(&inner.servers[at.server], key, size)),
            _ => Err(inner.servers[at.server].status_error("add", &response)),
        }
    }

    async fn delete(&self, key: &str) -> Result<bool> {
        let inner = &*self.inner;
        let at = inner.locate(key);
        let (_, responses) = inner
            .in_namespace(at.server, "delete", true, |g| vec![Request::delete(inner.data_key(g, &at.body), 0)])
            .await?;
        let response = inner.answer(responses)?;
        match response.status {
            status::OK => Ok(true),
            status::NOT_FOUND => Ok(false),
            _ => Err(inner.servers[at.server].status_error("delete", &response)),
        }
    }

    async fn delete_many(&self, keys: &[&str]) -> Result<u64> {
        let inner = &*self.inner;
        let groups = inner.group_by_server(keys.iter().copied());
        let deletes = groups.iter().enumerate().filter(|(_, g)| !g.is_empty()).map(|(s, group)| async move {
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
        let inner = &*self.inner;
        let at = inner.locate(key);
        // memcached creates an absent key by an internal `add`; when two increments of an absent
        // key race, the loser's add fails and it answers NOT_STORED although the key now exists.
        // Trying again increments the winner's value (seen in the conformance suite's 8 × 1000
        // concurrent incs, about one run in five).
        let mut attempts = 0;
        let amount = u64::try_from(delta).ok();
        while let Some(amount) = amount {
            let (generation, responses) = inner
                .in_namespace(at.server, "inc", false, |g| {
                    vec![Request::increment(inner.data_key(g, &at.body), amount, amount, 0)]
                })
                .await?;
            let response = inner.answer(responses)?;
            match response.status {
                status::NOT_STORED if attempts < CAS_ATTEMPTS => attempts += 1,
                status::OK => {
                    let value = response.counter().ok_or_else(|| inner.protocol_error("incr answered no number"))?;
                    if value >= amount && value <= i64::MAX as u64 {
                        return Ok(value as i64);
                    }
                    inner.undo_increment(at.server, inner.data_key(generation, &at.body), value, amount).await?;
                    return Err(CacheError::not_an_integer(
                        key,
                        format!("adding {delta} gives a number outside i64 (the value is left unchanged)"),
                    ));
                }
                status::NON_NUMERIC => break,
                _ => return Err(inner.servers[at.server].status_error("inc", &response)),
            }
        }
        inner.inc_by_cas(key, &at, delta).await
    }

    async fn touch(&self, key: &str, ttl: Ttl) -> Result<bool> {
        let inner = &*self.inner;
        let Some(life) = Lifetime::of(ttl, inner.default_ttl, SystemTime::now()) else {
            return self.delete(key).await;
        };
        let at = inner.locate(key);
        let server = &inner.servers[at.server];
        for attempt in 0..CAS_ATTEMPTS {
            back_off(attempt).await;
            let (generation, responses) = inner
                .in_namespace(at.server, "touch", true, |g| vec![Request::getk(inner.data_key(g, &at.body))])
                .await?;
            let current = inner.answer(responses)?;
            let (value, flags) = match current.status {
                status::NOT_FOUND => return Ok(false),
                status::OK if current.flags() == HEAD_FLAGS => {
                    let head = Head::decode(&current.value);
                    let present = match &head {
                        Some(head) => inner.touch_pieces(head, life.exptime).await?,
                        None => false,
                    };
                    let Some(mut head) = head.filter(|_| present) else {
                        inner.delete_if_unchanged(at.server, inner.data_key(generation, &at.body), current.cas).await;
                        return Ok(false);
                    };
                    head.deadline = life.deadline;
                    (Bytes::from(head.encode()), HEAD_FLAGS)
                }
                status::OK => (current.value.clone(), life.deadline),
                _ => return Err(server.status_error("touch", &current)),
            };
            let (_, responses) = inner
                .in_namespace(at.server, "touch", true, |g| {
                    vec![Request::store(
                        opcode::SET,
                        inner.data_key(g, &at.body),
                        value.clone(),
                        flags,
                        life.exptime,
                        current.cas,
                    )]
                })
                .await?;
            let response = inner.answer(responses)?;
            match response.status {
                status::OK => return Ok(true),
                status::EXISTS | status::NOT_FOUND => continue,
                _ => return Err(server.status_error("touch", &response)),
            }
        }
        Err(server.backend_error(&format!(
            "touch: key {:?} changed under {CAS_ATTEMPTS} compare-and-swap attempts in a row; try again",
            shorten(key)
        )))
    }

    async fn clear(&self) -> Result<()> {
        let inner = &*self.inner;
        let bumps = inner.servers.iter().map(|server| async move {
            for _ in 0..NAMESPACE_ATTEMPTS {
                let bump = Request::increment(inner.generation_key.clone(), 1, 0, NO_CREATE);
                let response = inner.answer(server.exchange("clear", &[bump], false).await?)?;
                let replace = match response.status {
                    status::OK => {
                        let g = response.counter().ok_or_else(|| inner.protocol_error("incr answered no number"))?;
                        server.set_generation(Some(g));
                        return Ok(());
                    }
                    // No generation: nothing of this prefix is reachable there; start a random one.
                    status::NOT_FOUND => opcode::ADD,
                    // Not a number (written by something else): replace it.
                    status::NON_NUMERIC => opcode::SET,
                    _ => return Err(server.status_error("clear", &response)),
                };
                let fresh = random_generation();
                let write = Request::store(replace, inner.generation_key.clone(), fresh.to_string().into(), 0, 0, 0);
                let response = inner.answer(server.exchange("clear", &[write], false).await?)?;
                match response.status {
                    status::OK => {
                        server.set_generation(Some(fresh));
                        return Ok(());
                    }
                    status::EXISTS | status::NOT_STORED => continue,
                    _ => return Err(server.status_error("clear", &response)),
                }
            }
            Err(server.backend_error("clear: the namespace generation changed too often"))
        });
        // Every server is tried even if one fails, so a single unreachable server keeps only its
        // own entries.
        let results = futures::future::join_all(bumps).await;
        results.into_iter().collect::<Result<Vec<()>>>().map(|_| ())
    }
}

/// Waits before compare-and-swap attempt `attempt` (none before the first two): a random pause of
/// up to 1, 2, 4 ... 32 ms. Without it, contenders that read in the same order keep losing in the
/// same order, and one of them can lose every round.
async fn back_off(attempt: usize) {
    if attempt < 2 {
        return;
    }
    let ceiling_ms = 1u64 << (attempt - 2).min(5);
    let pause = Duration::from_micros(rand::random_range(0..=ceiling_ms * 1000));
    tokio::time::sleep(pause).await;
}

/// The blake3 hash of a spread value. Hashing runs at about 1-3 GB/s, so large values are hashed
/// on a blocking thread rather than stalling the runtime's worker for milliseconds.
async fn hash(value: Bytes) -> Result<[u8; 32]> {
    const INLINE: usize = 256 * 1024;
    if value.len() <= INLINE {
        return Ok(*blake3::hash(&value).as_bytes());
    }
    tokio::task::spawn_blocking(move || *blake3::hash(&value).as_bytes())
        .await
        .map_err(|e| CacheError::backend("MemcachedCache", format!("hashing a spread value failed: {e}"), None))
}

/// A fresh namespace generation: random below 2^63, so it never wraps and never repeats an earlier
/// one by counting up from a fixed start.
fn random_generation() -> u64 {
    rand::random::<u64>() >> 1
}

/// Keys in messages are cut to 200 bytes so that a huge key does not flood a log.
fn shorten(key: &str) -> String {
    if key.len() <= 200 {
        return key.to_owned();
    }
    let mut end = 200;
    while !key.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...({} bytes)", &key[..end], key.len())
}
