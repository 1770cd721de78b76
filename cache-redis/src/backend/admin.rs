//! [`Admin`] for every Redis topology: this prefix's keys counted and cleared by one scan
//! ([`RedisBackend::sweep`], which `clear` uses too), and each server's `INFO`.

use cachette_core::admin::{Cleared, KeyCount, Progress, ServerInfo};
use cachette_core::{Admin, CacheError, Result, async_trait};
use redis::InfoDict;

use super::RedisBackend;
use crate::topology::Topology;

/// Keys deleted per `UNLINK` (and asked per `SCAN`) while clearing or counting.
const BATCH: usize = 1000;

/// What a sweep of this prefix's keys does with each batch `SCAN` finds.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Sweep {
    /// Counts them.
    Count,
    /// `UNLINK`s them, counting what was removed.
    Unlink,
}

impl<T: Topology> RedisBackend<T> {
    /// `SCAN MATCH <len>:<prefix>*` on every server of the topology, counting or unlinking each
    /// batch: exactly this cache's keys, never another prefix's (see the crate docs). Returns
    /// the keys counted or removed, telling `progress` after each batch.
    pub(super) async fn sweep(&self, operation: &'static str, sweep: Sweep, progress: Progress<'_>) -> Result<u64> {
        let pattern = self.keys.scan_pattern();
        let mut total = 0;
        for mut node in self.topology.scan_connections().await? {
            let mut cursor: u64 = 0;
            loop {
                let (next, keys): (u64, Vec<Vec<u8>>) = redis::cmd("SCAN")
                    .arg(cursor)
                    .arg("MATCH")
                    .arg(&pattern)
                    .arg("COUNT")
                    .arg(BATCH)
                    .query_async(&mut node)
                    .await
                    .map_err(|e| self.fail(operation, e))?;
                if !keys.is_empty() {
                    total += match sweep {
                        Sweep::Count => keys.len() as u64,
                        Sweep::Unlink => {
                            let mut unlink = redis::cmd("UNLINK");
                            for key in &keys {
                                unlink.arg(key);
                            }
                            self.query::<u64>(operation, &unlink).await?
                        }
                    };
                    progress(total);
                }
                cursor = next;
                if cursor == 0 {
                    break;
                }
            }
        }
        Ok(total)
    }

    /// `clear` without a prefix is refused (see the crate docs for why, and `flush_database`).
    pub(super) fn check_clear_allowed(&self) -> Result<()> {
        if !self.keys.prefix().is_empty() {
            return Ok(());
        }
        Err(CacheError::Refused {
            backend: T::TYPE_NAME,
            operation: "clear",
            message: "CACHE_KEY_PREFIX is empty: clear would remove every key that starts with `0:`, \
                      which other applications sharing an unscoped database may write too. Set \
                      CACHE_KEY_PREFIX (e.g. myapp:) to scope this cache, or call flush_database() \
                      if the database holds nothing else."
                .into(),
        })
    }

    /// One server's `INFO`, `DBSIZE` and address.
    async fn server_info(&self, node: &mut T::ScanConnection) -> Result<ServerInfo> {
        let info: InfoDict = redis::cmd("INFO").query_async(node).await.map_err(|e| self.fail("servers", e))?;
        let keys: u64 = redis::cmd("DBSIZE").query_async(node).await.map_err(|e| self.fail("servers", e))?;
        let mut server = ServerInfo::new(self.address_of(node).await);
        server.version = info.get::<String>("redis_version").map(|v| format!("redis {v}"));
        server.memory_used = info.get("used_memory");
        server.memory_limit = info.get::<u64>("maxmemory").filter(|&limit| limit > 0);
        server.keys = Some(keys);
        server.evictions = info.get("evicted_keys");
        server.hits = info.get("keyspace_hits");
        server.misses = info.get("keyspace_misses");
        Ok(server)
    }

    /// The server's address as it sees this connection (`CLIENT INFO`'s `laddr`, Redis 6.2 and
    /// later): the one way to name each node of a cluster. The configured target (which never
    /// holds a password) when the server does not say.
    async fn address_of(&self, node: &mut T::ScanConnection) -> String {
        let client: redis::RedisResult<String> = redis::cmd("CLIENT").arg("INFO").query_async(node).await;
        client
            .ok()
            .and_then(|line| line.split(' ').find_map(|field| field.strip_prefix("laddr=").map(str::to_owned)))
            .unwrap_or_else(|| self.topology.error_context().target.clone())
    }
}

#[async_trait]
impl<T: Topology> Admin for RedisBackend<T> {
    async fn count_keys(&self, progress: Progress<'_>) -> Result<KeyCount> {
        let keys = self.sweep("count_keys", Sweep::Count, progress).await?;
        Ok(KeyCount::Counted { keys })
    }

    async fn servers(&self) -> Result<Vec<ServerInfo>> {
        let mut servers = Vec::new();
        for mut node in self.topology.scan_connections().await? {
            servers.push(self.server_info(&mut node).await?);
        }
        Ok(servers)
    }

    async fn clear_counting(&self, progress: Progress<'_>) -> Result<Cleared> {
        self.check_clear_allowed()?;
        let keys = self.sweep("clear", Sweep::Unlink, progress).await?;
        Ok(Cleared::Removed { keys })
    }
}
