//! [`RedisClusterCache`]: cachette on Redis Cluster, through redis-rs's cluster-async client.
//!
//! * Every operation works across hash slots: `get_many` and `delete_many` are one `MGET` /
//!   `UNLINK` that redis-rs splits per slot (answers kept in order; not atomic across slots);
//!   `set_many` is one `MULTI`/`EXEC` transaction per slot, sent concurrently.
//! * `clear` scans every master (`SCAN MATCH <len>:<prefix>*`, found with `CLUSTER NODES`) and
//!   unlinks what it finds through the cluster connection. A master that is failing is skipped:
//!   its replica, once promoted, is scanned instead.
//! * Keys are stored as cachette-redis stores them, `<byte length of the prefix>:<prefix><key>`,
//!   so no two prefixes share a key ([`cachette_redis`'s docs](cachette_redis#keys-on-the-server)).
//!   Hash tags work as in Redis: the `<len>:` holds no brace, so a prefix such as `{app}:` puts all
//!   of a cache's keys in one slot, and keys that share a `{tag}` share a slot.
//! * A master's failover is followed by redis-rs, which refreshes the slot map on `MOVED` and on
//!   connection errors. Commands are retried for up to about 2.5 s meanwhile, then fail with a
//!   `CacheError::Connection` (misses through `Cache` with `CACHE_IGNORE_ERRORS`).
//!
//! Settings: `CACHE_REDIS_CLUSTER` (seed nodes, host:port list), `CACHE_REDIS_PASSWORD` /
//! `CACHE_REDIS_USERNAME`, `CACHE_KEY_PREFIX`, and the CACHE_OPTIONS of RedisCache. Redis Cluster
//! has one database, so `CACHE_REDIS_DB` must be 0 or unset.
//!
//! TLS: seeds written `rediss://host:port`, or any of the `tls_ca_file` / `tls_cert_file` /
//! `tls_key_file` options, make every node (and `clear`'s direct connections to the masters) TLS,
//! with the same CA and client certificate, as RedisCache takes them.
//!
//! ```no_run
//! use std::sync::Arc;
//! use cachette_core::{Cache, Config, Ttl};
//! use cachette_redis_cluster::RedisClusterCache;
//!
//! # async fn demo() -> cachette_core::Result<()> {
//! let config = Config::from_map([
//!     ("CACHE_TYPE", "RedisClusterCache"),
//!     ("CACHE_REDIS_CLUSTER", "10.0.0.1:7000,10.0.0.2:7000,10.0.0.3:7000"),
//!     ("CACHE_KEY_PREFIX", "myapp:"),
//! ])?;
//! let cache = Cache::new(Arc::new(RedisClusterCache::new(&config)?), config);
//! cache.set_many(&[("a", 1), ("b", 2)], Ttl::Default).await?;
//! # Ok(()) }
//! ```

use std::sync::Arc;

use cachette_core::{BaseCache, CacheError, Config, Registry, Result};
use cachette_redis::errors::ErrorContext;
use cachette_redis::settings::ConnectionOptions;
use cachette_redis::{RedisBackend, Topology, TrackedServers};
use redis::aio::MultiplexedConnection;
use redis::cluster::{ClusterClient, ClusterClientBuilder};
use redis::cluster_async::ClusterConnection;
use redis::{AsyncConnectionConfig, ConnectionAddr, IntoConnectionInfo, RedisConnectionInfo};
use tokio::sync::OnceCell;

/// A cache on a Redis Cluster. See the crate docs.
pub type RedisClusterCache = RedisBackend<Cluster>;

/// The `CACHE_TYPE` name of [`RedisClusterCache`].
pub const TYPE_NAME: &str = <Cluster as Topology>::TYPE_NAME;

/// Registers `RedisClusterCache` in `registry`.
pub fn register(registry: &mut Registry) -> Result<()> {
    registry.register(TYPE_NAME, |config: &Config| Ok(Arc::new(RedisClusterCache::new(config)?) as Arc<dyn BaseCache>))
}

// `Cache::from_env()` finds this backend in every program this crate is linked into.
cachette_core::link_backend!(register);

/// A Redis Cluster, reached through its seed nodes.
pub struct Cluster {
    client: ClusterClient,
    connection: OnceCell<ClusterConnection>,
    node_settings: RedisConnectionInfo,
    /// Whether the nodes speak TLS (`clear` connects to each master directly).
    tls_nodes: bool,
    tls: Option<redis::TlsCertificates>,
    options: ConnectionOptions,
    errors: ErrorContext,
}

impl Cluster {
    /// The masters that are up, from `CLUSTER NODES` (`host:port`).
    pub async fn masters(&self) -> Result<Vec<(String, u16)>> {
        Ok(self.live_masters("clear").await?.into_iter().map(|m| (m.host, m.port)).collect())
    }

    /// The live masters and their slots, read for `operation` (which errors name).
    async fn live_masters(&self, operation: &'static str) -> Result<Vec<Master>> {
        let mut conn = self.connection().await?;
        let nodes: String = redis::cmd("CLUSTER")
            .arg("NODES")
            .query_async(&mut conn)
            .await
            .map_err(|e| self.errors.map(operation, e))?;
        Ok(parse_masters(&nodes))
    }

    /// A direct client of the node at `host:port`, with the cluster's credentials and TLS.
    fn node_client(&self, host: String, port: u16, protocol: redis::ProtocolVersion) -> Result<redis::Client> {
        let addr = match self.tls_nodes {
            true => ConnectionAddr::TcpTls { host, port, insecure: false, tls_params: None },
            false => ConnectionAddr::Tcp(host, port),
        };
        let info = addr
            .into_connection_info()
            .map_err(|e| self.errors.map("connect", e))?
            .set_redis_settings(self.node_settings.clone().set_protocol(protocol));
        match &self.tls {
            Some(certs) => redis::Client::build_with_tls(info, certs.clone()),
            None => redis::Client::open(info),
        }
        .map_err(|e| self.errors.map("connect", e))
    }
}

/// A live master of `CLUSTER NODES`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Master {
    host: String,
    port: u16,
    /// Its slot fields as `CLUSTER NODES` lists them (`0-5460`, `5461`, `[5462->-<id>]`).
    slots: Vec<String>,
}

/// `<id> <ip:port@cport[,hostname]> <flags> <master> <ping> <pong> <epoch> <link> <slot>...`
/// lines: the masters whose flags have no `fail`.
fn parse_masters(nodes: &str) -> Vec<Master> {
    nodes
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let address = fields.nth(1)?;
            let flags = fields.next()?;
            let is_live_master =
                flags.split(',').any(|f| f == "master") && !flags.split(',').any(|f| f.starts_with("fail"));
            if !is_live_master {
                return None;
            }
            let host_port = address.split(['@', ',']).next()?;
            let (host, port) = host_port.rsplit_once(':')?;
            let slots = fields.skip(4).map(str::to_owned).collect();
            Some(Master { host: host.to_owned(), port: port.parse().ok()?, slots })
        })
        .collect()
}

/// Whether `masters` serve all 16384 slots between them (migration markers in brackets aside).
fn serve_every_slot(masters: &[Master]) -> bool {
    let mut served = vec![false; 16384];
    for range in masters.iter().flat_map(|m| &m.slots).filter(|s| !s.starts_with('[')) {
        let (start, end) = range.split_once('-').unwrap_or((range, range));
        if let (Ok(start), Ok(end)) = (start.parse::<usize>(), end.parse::<usize>()) {
            served.iter_mut().take(end.min(16383) + 1).skip(start).for_each(|s| *s = true);
        }
    }
    served.iter().all(|s| *s)
}

/// The masters and their slots, in an order that does not depend on the node that answered.
fn layout(masters: &[Master]) -> String {
    let mut lines: Vec<String> =
        masters.iter().map(|m| format!("{}:{} {}", m.host, m.port, m.slots.join(" "))).collect();
    lines.sort();
    lines.join("\n")
}

impl Topology for Cluster {
    const TYPE_NAME: &'static str = "RedisClusterCache";
    const CLUSTER: bool = true;
    type Connection = ClusterConnection;
    type ScanConnection = MultiplexedConnection;

    fn from_config(config: &Config) -> Result<Self> {
        let options = ConnectionOptions::from_config(config, Self::TYPE_NAME, cachette_core::tls::TLS_OPTIONS)?;
        if config.redis_cluster.is_empty() {
            return Err(CacheError::config(
                "CACHE_REDIS_CLUSTER",
                "",
                "RedisClusterCache needs seed nodes, e.g. CACHE_REDIS_CLUSTER=10.0.0.1:7000,10.0.0.2:7000",
            ));
        }
        if config.redis_db.is_some_and(|db| db != 0) {
            return Err(CacheError::config(
                "CACHE_REDIS_DB",
                config.redis_db.unwrap_or_default().to_string(),
                "Redis Cluster has only database 0; unset CACHE_REDIS_DB",
            ));
        }
        let errors = ErrorContext {
            backend: Self::TYPE_NAME,
            target: config.redis_cluster.join(","),
            address_setting: "CACHE_REDIS_CLUSTER",
            password_setting: "CACHE_REDIS_PASSWORD / CACHE_REDIS_USERNAME",
            db_setting: "CACHE_REDIS_DB",
            response_timeout: options.response_timeout,
            tls_files: options.tls_files(),
        };
        let seeds = config
            .redis_cluster
            .iter()
            .map(|node| {
                let url = if node.contains("://") { node.clone() } else { format!("redis://{node}") };
                url.as_str().into_connection_info().map_err(|e| {
                    CacheError::config("CACHE_REDIS_CLUSTER", node.clone(), format!("expected host:port ({e})"))
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let tls_seeds = seeds.iter().any(|s| matches!(s.addr(), ConnectionAddr::TcpTls { .. }));
        let mut builder = ClusterClientBuilder::new(seeds)
            .connection_timeout(options.connect_timeout)
            .response_timeout(options.response_timeout)
            // Retry through a failover for about 2.5 s (redis-rs's default would wait minutes).
            .retries(options.reconnect_retries.unwrap_or(5) as u32)
            .min_retry_wait(50)
            .max_retry_wait(500);
        // TLS when the seeds are rediss:// URLs (redis-rs takes the mode from the first) or
        // certificate files are set; the same certificates reach every node.
        let tls = options.tls_certificates()?;
        if let Some(certs) = &tls {
            builder = builder.certs(certs.clone());
        } else if tls_seeds {
            cachette_redis::settings::install_tls_provider();
        }
        let mut node_settings = RedisConnectionInfo::default();
        if let Some(user) = &config.redis_username {
            builder = builder.username(user);
            node_settings = node_settings.set_username(user);
        }
        if let Some(password) = &config.redis_password {
            builder = builder.password(password);
            node_settings = node_settings.set_password(password);
        }
        let client = builder.build().map_err(|e| errors.map("connect", e))?;
        let tls_nodes = tls.is_some() || tls_seeds;
        Ok(Cluster { client, connection: OnceCell::new(), node_settings, tls_nodes, tls, options, errors })
    }

    fn error_context(&self) -> &ErrorContext {
        &self.errors
    }

    async fn connection(&self) -> Result<ClusterConnection> {
        // Connected on first use; a failed first connection is retried on the next call.
        let conn = self
            .connection
            .get_or_try_init(|| async {
                self.client.get_async_connection().await.map_err(|e| self.errors.map("connect", e))
            })
            .await?;
        Ok(conn.clone())
    }

    /// A direct connection to every live master: SCAN must visit each of them.
    async fn scan_connections(&self) -> Result<Vec<MultiplexedConnection>> {
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.options.connect_timeout))
            .set_response_timeout(Some(self.options.response_timeout));
        let mut out = Vec::new();
        for master in self.live_masters("clear").await? {
            let client = self.node_client(master.host, master.port, redis::ProtocolVersion::RESP2)?;
            let mut conn = client
                .get_multiplexed_async_connection_with_config(&config)
                .await
                .map_err(|e| self.errors.map("clear", e))?;
            // The queried node's `CLUSTER NODES` can still list a replica as a master for a
            // moment after the cluster forms (or a failover), with the master's keys already
            // copied to it: a count over it said 331 keys for 200 in one run of three. Each node
            // knows its own role.
            let role: Vec<redis::Value> =
                redis::cmd("ROLE").query_async(&mut conn).await.map_err(|e| self.errors.map("clear", e))?;
            if matches!(role.first(), Some(redis::Value::BulkString(r)) if r.as_slice() == b"master") {
                out.push(conn);
            }
        }
        Ok(out)
    }

    /// Every live master, once they serve every slot between them: while a failed master's
    /// slots wait for a replica's promotion, the feed is not complete (whoever takes them over
    /// is not tracked yet), so it does not start. The layout (masters and slots) is compared
    /// every second: a failover, a slot migration or a new master restarts the feed.
    async fn tracked_servers(&self) -> Result<TrackedServers> {
        let masters = self.live_masters("client tracking").await?;
        if !serve_every_slot(&masters) {
            return Err(CacheError::Connection {
                backend: TYPE_NAME,
                target: self.errors.target.clone(),
                message: "the live masters do not serve every slot (a failover under way?): client tracking waits"
                    .into(),
                source: None,
            });
        }
        let layout = layout(&masters);
        let servers = masters
            .into_iter()
            .map(|m| {
                let name = format!("{}:{}", m.host, m.port);
                Ok((name, self.node_client(m.host, m.port, redis::ProtocolVersion::RESP3)?))
            })
            .collect::<Result<_>>()?;
        Ok(TrackedServers {
            servers,
            masters_only: true,
            layout: Some(layout),
            connect_timeout: self.options.connect_timeout,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NODES: &str = "\
a1 127.0.0.1:7000@17000 myself,master - 0 0 1 connected 0-5460
b2 127.0.0.1:7001@17001,host-b master - 0 0 2 connected 5461-10922
c3 127.0.0.1:7002@17002 master,fail - 0 0 3 connected
d4 127.0.0.1:7003@17003 slave a1 0 0 1 connected
e5 127.0.0.1:7004@17004 master - 0 0 5 connected 10923-16383 [16383->-a1]
";

    #[test]
    fn live_masters_are_read_from_cluster_nodes() {
        let masters: Vec<(String, u16)> = parse_masters(NODES).into_iter().map(|m| (m.host, m.port)).collect();
        assert_eq!(masters, vec![("127.0.0.1".into(), 7000), ("127.0.0.1".into(), 7001), ("127.0.0.1".into(), 7004)]);
    }

    #[test]
    fn tracking_waits_until_live_masters_serve_every_slot() {
        let masters = parse_masters(NODES);
        assert!(serve_every_slot(&masters));
        assert!(!serve_every_slot(&masters[..2]), "10923-16383 is on no live master");
        let single = parse_masters("a1 127.0.0.1:7000@17000 master - 0 0 1 connected 0-100 101 102-16383\n");
        assert!(serve_every_slot(&single));
    }

    #[test]
    fn the_layout_does_not_depend_on_the_node_that_answered() {
        let other_view = NODES.replace("myself,master", "master");
        let reordered: String = other_view.lines().rev().map(|l| format!("{l}\n")).collect();
        assert_eq!(layout(&parse_masters(NODES)), layout(&parse_masters(&reordered)));
        let moved = NODES.replace("0-5460", "0-5459").replace("5461-10922", "5460-10922");
        assert_ne!(layout(&parse_masters(NODES)), layout(&parse_masters(&moved)), "a slot moved");
    }
}
