//! [`TieredCache`]: the in-process tier over a backend, as a [`BaseCache`].

use std::sync::Arc;

use cachette_core::{Admin, BaseCache, Bytes, Config, Expiry, KeyWatch, Result, Ttl, async_trait};

use crate::bus::{Bus, Invalidation};
use crate::entry::life;
use crate::epochs::Seen;
use crate::feed::FeedListener;
use crate::tier::Tier;

/// A bounded in-process tier (moka) over any backend: reads are served from memory when they
/// can be and fill it from the backend when not; every write goes to the backend, then to the
/// tier. Other processes' changes reach the tier through the backend's own change feed (Redis
/// client tracking) or the invalidation bus. See the [crate docs](crate) for the guarantees.
pub struct TieredCache {
    l2: Arc<dyn BaseCache>,
    tier: Arc<Tier>,
    channel: Channel,
    cap: Expiry,
    default: Expiry,
}

/// How other processes' changes reach the tier.
enum Channel {
    /// The pub/sub bus of `CACHE_L1_BUS_URL`, on which this process publishes its own.
    Bus(Box<Bus>),
    /// The backend's change feed (Redis client tracking).
    Feed(FeedListener),
    /// Nothing: `CACHE_L1_TIMEOUT` bounds staleness.
    None,
}

impl Channel {
    fn name(&self) -> &'static str {
        match self {
            Channel::Bus(_) => "invalidation bus",
            Channel::Feed(_) => "backend change feed",
            Channel::None => "none",
        }
    }
}

impl std::fmt::Debug for TieredCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TieredCache")
            .field("backend", &self.l2.type_name())
            .field("l1_timeout", &self.cap)
            .field("channel", &self.channel.name())
            .field("active", &self.tier.active())
            .finish()
    }
}

impl TieredCache {
    /// A tier of `config.l1_threshold` entries living at most `config.l1_timeout` over `l2`,
    /// kept coherent by (see [Coherence](crate#coherence)):
    ///
    /// * the invalidation bus of `config.l1_bus_url` if set (then it must be called inside a
    ///   tokio runtime; the bus connects in the background);
    /// * else the backend's own [change feed](BaseCache::change_feed) if it offers one (Redis,
    ///   Sentinel and Cluster: client tracking), started in the current tokio runtime, or at the
    ///   first call made inside one;
    /// * else nothing, and `config.l1_timeout` bounds staleness.
    ///
    /// With a bus or a feed, the tier is bypassed (every read goes to the backend) until it
    /// follows, and again whenever it loses it.
    ///
    /// `config.l1` is not consulted here: [`TieredCache::wrap`] is the constructor that honours it.
    pub fn new(l2: Arc<dyn BaseCache>, config: &Config) -> Result<TieredCache> {
        let capacity = if config.l1_threshold == 0 { u64::MAX } else { config.l1_threshold as u64 };
        let feed = match config.l1_bus_url {
            Some(_) => None,
            None => l2.change_feed(),
        };
        let followed = config.l1_bus_url.is_some() || feed.is_some();
        let tier = Arc::new(Tier::new(capacity, followed));
        let channel = match (&config.l1_bus_url, feed) {
            (Some(url), _) => Channel::Bus(Box::new(Bus::start(url, &config.key_prefix, Arc::downgrade(&tier))?)),
            (None, Some(feed)) => Channel::Feed(FeedListener::new(feed, Arc::downgrade(&tier))),
            (None, None) => {
                if l2.is_shared() {
                    tracing::info!(
                        backend = l2.type_name(),
                        l1_timeout = ?config.l1_timeout,
                        "in-process tier over a backend without a change feed and without CACHE_L1_BUS_URL: another \
                         process's writes show here only after CACHE_L1_TIMEOUT"
                    );
                }
                Channel::None
            }
        };
        Ok(TieredCache { l2, tier, channel, cap: config.l1_timeout, default: config.default_timeout })
    }

    /// `l2` behind a tier when `config.l1` (`CACHE_L1=true`), else `l2` itself: the step to add
    /// after building a backend from a [`Registry`](cachette_core::Registry).
    pub fn wrap(l2: Arc<dyn BaseCache>, config: &Config) -> Result<Arc<dyn BaseCache>> {
        if !config.l1 {
            return Ok(l2);
        }
        Ok(Arc::new(TieredCache::new(l2, config)?))
    }

    /// Whether reads are served from the tier now: `false` while its bus or change feed does not
    /// follow (at start, and after losing it), when every read goes to the backend.
    pub fn is_active(&self) -> bool {
        self.tier.active()
    }

    /// How many invalidations the tier has applied from its bus or change feed (evictions of a
    /// key, and flushes), for monitoring and tests. On the bus these are other processes'
    /// changes; a change feed reports this process's own writes too.
    pub fn invalidations_received(&self) -> u64 {
        self.tier.received_count()
    }

    /// How many times the tier lost its bus or change feed, and so was flushed and bypassed
    /// until it followed again, for monitoring and tests.
    pub fn channel_losses(&self) -> u64 {
        self.tier.losses()
    }

    /// How many entries the tier holds (approximate, as moka's `entry_count` is).
    pub fn l1_entry_count(&self) -> u64 {
        self.tier.entry_count()
    }

    /// The backend under the tier.
    pub fn backend(&self) -> &Arc<dyn BaseCache> {
        &self.l2
    }

    /// What the tier needs to know before a fill of `key`: see [`Tier::before_fill`]. Starts a
    /// change feed that waited for a runtime: this is the path of every call while the tier is
    /// bypassed.
    fn before_fill(&self, key: &str) -> Option<Seen> {
        if let Channel::Feed(feed) = &self.channel {
            feed.start();
        }
        self.tier.before_fill(key)
    }

    /// Empties this tier and tells the other processes to empty theirs: after a `clear` of the
    /// backend (by [`BaseCache::clear`] or [`Admin::clear_counting`]).
    pub(crate) async fn forget_all(&self) {
        self.tier.flush();
        self.publish(Invalidation::All).await;
    }

    /// Tells the other processes, when this process is the one that tells them (the bus).
    async fn publish(&self, what: Invalidation<'_>) {
        if let Channel::Bus(bus) = &self.channel {
            bus.publish(what).await;
        }
    }

    /// Evicts `key` here and tells the other processes.
    async fn invalidate(&self, key: &str) {
        self.tier.evict(key);
        self.publish(Invalidation::Key(key)).await;
    }

    /// Reads `keys` from the backend and keeps what it finds, each for no longer than
    /// `CACHE_L1_TIMEOUT` nor past its expiry in the backend when the backend tells it (the
    /// values read are kept out if the key was invalidated meanwhile: see `epochs.rs`).
    async fn read_through(&self, keys: &[&str]) -> Result<Vec<Option<Bytes>>> {
        let seen: Vec<Option<Seen>> = keys.iter().map(|key| self.before_fill(key)).collect();
        let found = self.l2.get_many_with_expiry(keys).await?;
        let mut out = Vec::with_capacity(keys.len());
        for ((key, seen), entry) in keys.iter().zip(seen).zip(found) {
            let Some((value, expiry)) = entry else {
                out.push(None);
                continue;
            };
            if let Some(seen) = seen {
                self.tier.fill_read(key, value.clone(), seen, life(self.cap, expiry));
            }
            out.push(Some(value));
        }
        Ok(out)
    }

    /// After a write of `value` to the backend: keep it here, and tell the others.
    async fn written(&self, key: &str, value: Bytes, seen: Option<Seen>, ttl: Ttl) {
        let life = life(self.cap, Some(ttl.resolve(self.default)));
        self.tier.fill_write(key, value, seen, life);
        self.publish(Invalidation::Key(key)).await;
    }
}

#[async_trait]
impl BaseCache for TieredCache {
    fn type_name(&self) -> &'static str {
        "TieredCache"
    }

    fn is_shared(&self) -> bool {
        self.l2.is_shared()
    }

    /// A watch that holds until the tier applies an invalidation of the key's epoch slot (the
    /// key's, or another key's of the same slot), is flushed, or loses its channel: the same
    /// events that end what the tier holds of the key, so what is kept under it is as coherent
    /// as the tier (see [Coherence](crate#coherence)). None without a channel (nothing reports
    /// other processes' changes) and while the tier is bypassed.
    fn watch(&self, key: &str) -> Option<KeyWatch> {
        if matches!(self.channel, Channel::None) {
            return None;
        }
        let seen = self.before_fill(key)?;
        let tier = self.tier.clone();
        Some(KeyWatch::new(move || tier.unchanged(seen)))
    }

    /// A hit of the tier, answered without a future (a moka lookup and the epoch check); a miss
    /// goes through `get`, to the backend.
    fn get_at_once(&self, key: &str) -> Option<Result<Option<Bytes>>> {
        self.tier.get(key).map(|value| Ok(Some(value)))
    }

    async fn get(&self, key: &str) -> Result<Option<Bytes>> {
        if let Some(value) = self.tier.get(key) {
            return Ok(Some(value));
        }
        Ok(self.read_through(&[key]).await?.pop().flatten())
    }

    async fn get_many(&self, keys: &[&str]) -> Result<Vec<Option<Bytes>>> {
        let mut out = Vec::with_capacity(keys.len());
        let mut misses = Vec::new();
        for (i, key) in keys.iter().enumerate() {
            let hit = self.tier.get(key);
            if hit.is_none() {
                misses.push((i, *key));
            }
            out.push(hit);
        }
        if misses.is_empty() {
            return Ok(out);
        }
        let names: Vec<&str> = misses.iter().map(|(_, key)| *key).collect();
        for ((i, _), value) in misses.into_iter().zip(self.read_through(&names).await?) {
            out[i] = value;
        }
        Ok(out)
    }

    async fn has(&self, key: &str) -> Result<bool> {
        if self.tier.get(key).is_some() {
            return Ok(true);
        }
        self.l2.has(key).await
    }

    async fn set(&self, key: &str, value: Bytes, ttl: Ttl) -> Result<()> {
        let seen = self.before_fill(key);
        match self.l2.set(key, value.clone(), ttl).await {
            Ok(()) => {
                self.written(key, value, seen, ttl).await;
                Ok(())
            }
            Err(e) => {
                // The write may or may not have reached the backend: keep nothing, tell everyone.
                self.invalidate(key).await;
                Err(e)
            }
        }
    }

    async fn set_many(&self, items: &[(&str, Bytes)], ttl: Ttl) -> Result<()> {
        let seen: Vec<Option<Seen>> = items.iter().map(|(key, _)| self.before_fill(key)).collect();
        let result = self.l2.set_many(items, ttl).await;
        for ((key, value), seen) in items.iter().zip(seen) {
            match result {
                Ok(()) => self.written(key, value.clone(), seen, ttl).await,
                Err(_) => self.invalidate(key).await,
            }
        }
        result
    }

    async fn add(&self, key: &str, value: Bytes, ttl: Ttl) -> Result<bool> {
        let seen = self.before_fill(key);
        let stored = self.l2.add(key, value.clone(), ttl).await?;
        if stored {
            // Another process may still hold a value that expired in the backend.
            self.written(key, value, seen, ttl).await;
        }
        Ok(stored)
    }

    async fn delete(&self, key: &str) -> Result<bool> {
        let result = self.l2.delete(key).await;
        self.invalidate(key).await;
        result
    }

    async fn delete_many(&self, keys: &[&str]) -> Result<u64> {
        let result = self.l2.delete_many(keys).await;
        for key in keys {
            self.invalidate(key).await;
        }
        result
    }

    async fn inc(&self, key: &str, delta: i64) -> Result<i64> {
        let result = self.l2.inc(key, delta).await;
        self.invalidate(key).await;
        result
    }

    async fn dec(&self, key: &str, delta: i64) -> Result<i64> {
        let result = self.l2.dec(key, delta).await;
        self.invalidate(key).await;
        result
    }

    async fn touch(&self, key: &str, ttl: Ttl) -> Result<bool> {
        // A value held here takes the new expiry (a shortened life must not be outlived here);
        // one not held is not fetched.
        let seen = self.before_fill(key);
        let held = self.tier.get(key);
        let result = self.l2.touch(key, ttl).await;
        match (&result, held) {
            (Ok(true), Some(value)) => self.written(key, value, seen, ttl).await,
            _ => self.invalidate(key).await,
        }
        result
    }

    async fn clear(&self) -> Result<()> {
        let result = self.l2.clear().await;
        self.forget_all().await;
        result
    }

    /// The backend's, when it has one: the tier holds the backend's keys, and a counting clear
    /// empties the tiers afterwards as `clear` does.
    fn admin(&self) -> Option<&dyn Admin> {
        self.l2.admin().map(|_| self as &dyn Admin)
    }
}
