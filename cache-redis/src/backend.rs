//! [`RedisBackend`]: the cache operations as Redis commands, for every [`Topology`].

mod admin;
mod expiry;

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};
use std::time::{SystemTime, UNIX_EPOCH};

use cachette_core::change_feed::ChangeFeed;
use cachette_core::{Admin, BaseCache, Bytes, CacheError, Config, Expiry, Result, Ttl, async_trait};
use redis::cluster_routing::Slot;
use redis::{Cmd, FromRedisValue, Pipeline, Value};

use self::admin::Sweep;
use crate::errors::is_not_an_integer;
use crate::keys::KeySpace;
use crate::topology::Topology;

/// `touch(key, Ttl::Never)`: `PERSIST` answers 0 both for a missing key and for a key without an
/// expiry, so existence is checked in the same atomic step.
static PERSIST_IF_EXISTS: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        "if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('PERSIST', KEYS[1]) return 1 else return 0 end",
    )
});

/// A Redis cache over a topology: [`crate::RedisCache`] (one server), and the Sentinel and
/// Cluster caches of the cachette-redis-sentinel and cachette-redis-cluster crates.
///
/// Every key is stored under `CACHE_KEY_PREFIX`, as `<byte length of the prefix>:<prefix><key>`
/// so that no two prefixes share a key (see the crate docs). Expiry maps exactly: `Ttl::After` is
/// `PX` (in milliseconds, rounded up), `Ttl::At` is `PXAT` (an absolute deadline, so "until
/// midnight" does not drift by a round trip), `Ttl::Never` is no expiry (`PERSIST` for `touch`).
pub struct RedisBackend<T: Topology> {
    /// Shared with the client tracking of [`change_feed`](BaseCache::change_feed).
    topology: Arc<T>,
    keys: KeySpace,
    default_ttl: Expiry,
}

impl<T: Topology> std::fmt::Debug for RedisBackend<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct(T::TYPE_NAME)
            .field("target", &self.topology.error_context().target)
            .field("prefix", &self.keys.prefix())
            .finish()
    }
}

fn unix_millis_ceil(t: SystemTime) -> u64 {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    u64::try_from(d.as_nanos().div_ceil(1_000_000)).unwrap_or(u64::MAX)
}

/// Appends the expiry arguments of `SET`; `None` when the expiry is already over.
/// Whether a command failed with a refused connection, which never reached the server, so that
/// sending it once more is safe even for `INCRBY`. redis-rs's `ConnectionManager` answers the first
/// command after a server's return with the error of its last failed reconnect (made while the
/// server was down) and only then reconnects: without one more try, the breaker's first probe
/// after a restart was always lost, and hits came back after a second cool-down (restart recovery
/// 2.0-2.1 s in `cargo bench -p cachette-http --bench outage`; 1.1 s with the retry).
fn refused_before_sending<R>(sent: &redis::RedisResult<R>) -> bool {
    sent.as_ref().err().is_some_and(|e| e.is_connection_refusal())
}

fn expiry_args(cmd: &mut Cmd, expiry: Expiry) -> Option<()> {
    let now = SystemTime::now();
    if expiry.is_over(now) {
        return None;
    }
    match expiry {
        Expiry::Never => {}
        Expiry::After(_) => {
            cmd.arg("PX").arg(expiry.remaining_millis_ceil(now).unwrap_or(1));
        }
        Expiry::At(t) => {
            cmd.arg("PXAT").arg(unix_millis_ceil(t));
        }
    }
    Some(())
}

impl<T: Topology> RedisBackend<T> {
    /// A cache for `config`: checks the settings, connects on first use.
    pub fn new(config: &Config) -> Result<Self> {
        Ok(RedisBackend {
            topology: Arc::new(T::from_config(config)?),
            keys: KeySpace::new(&config.key_prefix),
            default_ttl: config.default_timeout,
        })
    }

    /// The topology (for its own operations, e.g. the Sentinel master's address).
    pub fn topology(&self) -> &T {
        &self.topology
    }

    /// The key stored on the server for `key`: `<byte length of the prefix>:<prefix><key>`, e.g.
    /// `4:app:user:1` for `user:1` under the prefix `app:`. For looking at the server with
    /// `redis-cli`, or finding the cluster slot of a key.
    pub fn stored_key(&self, key: &str) -> String {
        self.keys.key(key)
    }

    fn key(&self, key: &str) -> String {
        self.keys.key(key)
    }

    fn fail(&self, operation: &'static str, error: redis::RedisError) -> CacheError {
        self.topology.observe_error(&error);
        self.topology.error_context().map(operation, error)
    }

    async fn query<R: FromRedisValue>(&self, operation: &'static str, cmd: &Cmd) -> Result<R> {
        let mut conn = self.topology.connection().await?;
        let answer = Answer::awaited(&*self.topology);
        let mut sent = cmd.query_async(&mut conn).await;
        if refused_before_sending(&sent) {
            sent = cmd.query_async(&mut conn).await;
        }
        answer.received(sent.map_err(|e| self.fail(operation, e)))
    }

    async fn query_pipe<R: FromRedisValue>(&self, operation: &'static str, pipe: &Pipeline) -> Result<R> {
        let mut conn = self.topology.connection().await?;
        let answer = Answer::awaited(&*self.topology);
        let mut sent = pipe.query_async(&mut conn).await;
        if refused_before_sending(&sent) {
            sent = pipe.query_async(&mut conn).await;
        }
        answer.received(sent.map_err(|e| self.fail(operation, e)))
    }

    /// `FLUSHDB` on every server of the topology: removes **every key in the database**, this
    /// cache's and any other application's. This is not `clear` (which removes only this cache's
    /// prefix); call it only on a database that holds nothing else.
    pub async fn flush_database(&self) -> Result<()> {
        for mut conn in self.topology.scan_connections().await? {
            redis::cmd("FLUSHDB").query_async::<()>(&mut conn).await.map_err(|e| self.fail("flush_database", e))?;
        }
        Ok(())
    }
}

#[async_trait]
impl<T: Topology> BaseCache for RedisBackend<T> {
    fn type_name(&self) -> &'static str {
        T::TYPE_NAME
    }

    /// Client tracking in broadcast mode on the cache's prefix, on every server that holds keys
    /// (see the crate docs, "Client tracking").
    fn change_feed(&self) -> Option<ChangeFeed> {
        Some(crate::tracking::feed(self.topology.clone(), self.keys.clone()))
    }

    async fn get(&self, key: &str) -> Result<Option<Bytes>> {
        let value: Option<Vec<u8>> = self.query("get", redis::cmd("GET").arg(self.key(key))).await?;
        Ok(value.map(Bytes::from))
    }

    /// One `MGET` (split per hash slot by redis-rs on a cluster, answers kept in order).
    async fn get_many(&self, keys: &[&str]) -> Result<Vec<Option<Bytes>>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let mut cmd = redis::cmd("MGET");
        for key in keys {
            cmd.arg(self.key(key));
        }
        let values: Vec<Option<Vec<u8>>> = self.query("get_many", &cmd).await?;
        Ok(values.into_iter().map(|v| v.map(Bytes::from)).collect())
    }

    /// `GET` and `PTTL` of each key in one round trip (one per hash slot on a cluster).
    async fn get_many_with_expiry(&self, keys: &[&str]) -> Result<Vec<Option<(Bytes, Option<Expiry>)>>> {
        self.get_many_expiring(keys).await
    }

    async fn has(&self, key: &str) -> Result<bool> {
        self.query("has", redis::cmd("EXISTS").arg(self.key(key))).await
    }

    async fn set(&self, key: &str, value: Bytes, ttl: Ttl) -> Result<()> {
        let mut cmd = redis::cmd("SET");
        cmd.arg(self.key(key)).arg(value.as_ref());
        match expiry_args(&mut cmd, ttl.resolve(self.default_ttl)) {
            Some(()) => self.query("set", &cmd).await,
            None => self.delete(key).await.map(drop),
        }
    }

    /// One round trip: a `MULTI`/`EXEC` transaction of `SET`s, so all values appear together. On a
    /// cluster, one transaction per hash slot, sent concurrently.
    async fn set_many(&self, items: &[(&str, Bytes)], ttl: Ttl) -> Result<()> {
        if items.is_empty() {
            return Ok(());
        }
        let expiry = ttl.resolve(self.default_ttl);
        let mut commands = Vec::with_capacity(items.len());
        for (key, value) in items {
            let key = self.key(key);
            let mut cmd = redis::cmd("SET");
            cmd.arg(&key).arg(value.as_ref());
            if expiry_args(&mut cmd, expiry).is_none() {
                let keys: Vec<&str> = items.iter().map(|(k, _)| *k).collect();
                return self.delete_many(&keys).await.map(drop);
            }
            commands.push((key, cmd));
        }
        let transaction = |cmds: &mut dyn Iterator<Item = Cmd>| {
            let mut pipe = redis::pipe();
            pipe.atomic();
            for cmd in cmds {
                pipe.add_command(cmd).ignore();
            }
            pipe
        };
        if !T::CLUSTER {
            let pipe = transaction(&mut commands.into_iter().map(|(_, cmd)| cmd));
            return self.query_pipe::<()>("set_many", &pipe).await;
        }
        let mut by_slot: HashMap<Slot, Vec<Cmd>> = HashMap::new();
        for (key, cmd) in commands {
            by_slot.entry(Slot::for_key(key.as_bytes())).or_default().push(cmd);
        }
        let pipes: Vec<Pipeline> = by_slot.into_values().map(|cmds| transaction(&mut cmds.into_iter())).collect();
        futures::future::try_join_all(pipes.iter().map(|pipe| self.query_pipe::<()>("set_many", pipe))).await?;
        Ok(())
    }

    /// `SET ... NX`: atomic on the server.
    async fn add(&self, key: &str, value: Bytes, ttl: Ttl) -> Result<bool> {
        let mut cmd = redis::cmd("SET");
        cmd.arg(self.key(key)).arg(value.as_ref()).arg("NX");
        match expiry_args(&mut cmd, ttl.resolve(self.default_ttl)) {
            Some(()) => Ok(!matches!(self.query::<Value>("add", &cmd).await?, Value::Nil)),
            // Nothing to store; the answer is whether the key was free.
            None => Ok(!self.has(key).await?),
        }
    }

    async fn delete(&self, key: &str) -> Result<bool> {
        let removed: u64 = self.query("delete", redis::cmd("UNLINK").arg(self.key(key))).await?;
        Ok(removed > 0)
    }

    /// One `UNLINK` (split per hash slot on a cluster).
    async fn delete_many(&self, keys: &[&str]) -> Result<u64> {
        if keys.is_empty() {
            return Ok(0);
        }
        let mut cmd = redis::cmd("UNLINK");
        for key in keys {
            cmd.arg(self.key(key));
        }
        self.query("delete_many", &cmd).await
    }

    /// `INCRBY`: atomic, creates the key at 0, keeps a live key's expiry.
    async fn inc(&self, key: &str, delta: i64) -> Result<i64> {
        let mut conn = self.topology.connection().await?;
        match redis::cmd("INCRBY").arg(self.key(key)).arg(delta).query_async(&mut conn).await {
            Ok(n) => Ok(n),
            Err(e) if is_not_an_integer(&e) => Err(CacheError::not_an_integer(
                key,
                format!("the stored value is not a decimal integer, or the result leaves i64 ({e})"),
            )),
            Err(e) => Err(self.fail("inc", e)),
        }
    }

    /// `PEXPIRE` / `PEXPIREAT`, or `PERSIST` for `Ttl::Never`.
    async fn touch(&self, key: &str, ttl: Ttl) -> Result<bool> {
        let expiry = ttl.resolve(self.default_ttl);
        let now = SystemTime::now();
        let full_key = self.key(key);
        match expiry {
            _ if expiry.is_over(now) => self.delete(key).await,
            Expiry::Never => {
                let mut conn = self.topology.connection().await?;
                let touched: i64 = PERSIST_IF_EXISTS
                    .key(&full_key)
                    .invoke_async(&mut conn)
                    .await
                    .map_err(|e| self.fail("touch", e))?;
                Ok(touched == 1)
            }
            Expiry::After(_) => {
                let ms = expiry.remaining_millis_ceil(now).unwrap_or(1);
                self.query("touch", redis::cmd("PEXPIRE").arg(&full_key).arg(ms)).await
            }
            Expiry::At(t) => self.query("touch", redis::cmd("PEXPIREAT").arg(&full_key).arg(unix_millis_ceil(t))).await,
        }
    }

    /// `SCAN MATCH <len>:<prefix>*` and `UNLINK` in batches of 1000, on every server of the
    /// topology: exactly this cache's keys, never another prefix's (see the crate docs). Never
    /// `FLUSHDB`: other applications' keys stay. Refused without a key prefix (see the crate docs
    /// for why, and `flush_database`). [`Admin::clear_counting`] is the same, counting.
    async fn clear(&self) -> Result<()> {
        self.check_clear_allowed()?;
        self.sweep("clear", Sweep::Unlink, &|_| {}).await.map(drop)
    }

    fn admin(&self) -> Option<&dyn Admin> {
        Some(self)
    }
}

/// A command waiting for its answer: dropped before [`received`](Answer::received) (the caller
/// gave up, e.g. at the `Cache` facade's deadline), it tells the topology, which no error would.
struct Answer<'a, T: Topology> {
    topology: &'a T,
    pending: bool,
}

impl<'a, T: Topology> Answer<'a, T> {
    fn awaited(topology: &'a T) -> Self {
        Answer { topology, pending: true }
    }

    fn received<R>(mut self, result: R) -> R {
        self.pending = false;
        result
    }
}

impl<T: Topology> Drop for Answer<'_, T> {
    fn drop(&mut self) {
        if self.pending {
            self.topology.observe_abandoned();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_deadlines_round_up_to_the_millisecond() {
        let t = UNIX_EPOCH + std::time::Duration::from_micros(1_500);
        assert_eq!(unix_millis_ceil(t), 2);
        assert_eq!(unix_millis_ceil(UNIX_EPOCH + std::time::Duration::from_millis(7)), 7);
    }
}
