//! [`Topology`]: how a Redis backend reaches its server(s). The commands are the same for every
//! topology ([`crate::RedisBackend`]); only connecting differs.

use std::future::Future;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use cachette_core::{Config, Result};
use redis::RedisError;
use redis::aio::{ConnectionLike, ConnectionManager};

use crate::errors::ErrorContext;
use crate::settings::{ConnectionOptions, client, endpoint, resp3};

/// A way of reaching Redis: one server, a master found through sentinels, or a cluster.
pub trait Topology: Send + Sync + Sized + 'static {
    /// The `CACHE_TYPE` name of the backend.
    const TYPE_NAME: &'static str;
    /// True for Redis Cluster: a transaction or pipeline cannot span hash slots there.
    const CLUSTER: bool = false;

    /// What commands are sent on.
    type Connection: ConnectionLike + Clone + Send + Sync + 'static;
    /// What `clear` scans: the one server, or each cluster master.
    type ScanConnection: ConnectionLike + Send + 'static;

    /// Checks the settings and prepares clients; never connects (connections are made on first
    /// use, so that an application starts while its cache server is down).
    fn from_config(config: &Config) -> Result<Self>;

    /// How errors name the settings.
    fn error_context(&self) -> &ErrorContext;

    /// A connection for the next command.
    fn connection(&self) -> impl Future<Output = Result<Self::Connection>> + Send;

    /// A connection to every server that holds keys, for `clear`.
    fn scan_connections(&self) -> impl Future<Output = Result<Vec<Self::ScanConnection>>> + Send;

    /// The servers that hold keys, for client tracking to follow (see [`TrackedServers`]):
    /// asked when the [change feed](cachette_core::BaseCache::change_feed) starts, after each
    /// loss, and every second when [`TrackedServers::layout`] is set.
    fn tracked_servers(&self) -> impl Future<Output = Result<TrackedServers>> + Send;

    /// Sees every error a command returned, so that a topology can react to it (re-resolve a
    /// master after a failover).
    fn observe_error(&self, _error: &RedisError) {}

    /// Sees a command given up before its answer came (the `Cache` facade's deadline dropped
    /// it): the server may be stalled, which no error will ever say, so a topology that can
    /// reach the same data elsewhere (a promoted replica) looks again.
    fn observe_abandoned(&self) {}
}

/// The servers a change feed follows, as [`Topology::tracked_servers`] gives them.
pub struct TrackedServers {
    /// Every server that holds keys: its address (for logs) and a client for it that speaks
    /// RESP3 ([`resp3`](crate::settings::resp3)), with the cache's credentials and TLS settings.
    pub servers: Vec<(String, redis::Client)>,
    /// Whether each must go on answering `ROLE` as a master (Sentinel, Cluster): one that
    /// answers as a replica was failed over, and the feed starts again on the new master.
    pub masters_only: bool,
    /// What the layout is (Cluster: the masters and their slots), compared every second: a
    /// change restarts the feed. `None`: it cannot change while the servers answer.
    pub layout: Option<String>,
    /// The limit for connecting to each server (`CACHE_OPTIONS.connect_timeout`).
    pub connect_timeout: std::time::Duration,
}

/// One Redis server, through redis-rs's reconnecting multiplexed connection(s).
///
/// Not deadpool-redis: its pool recycles every checkout with `UNWATCH` + `PING`, a round trip per
/// cache operation, while a multiplexed connection needs no checkout at all — it pipelines the
/// commands of all concurrent tasks on one socket — and `ConnectionManager` reconnects by itself.
pub struct Standalone {
    client: redis::Client,
    /// The same server in RESP3, for client tracking's push messages.
    tracking: redis::Client,
    options: ConnectionOptions,
    connections: OnceLock<Box<[ConnectionManager]>>,
    next: AtomicUsize,
    errors: ErrorContext,
}

impl Topology for Standalone {
    const TYPE_NAME: &'static str = "RedisCache";
    type Connection = ConnectionManager;
    type ScanConnection = ConnectionManager;

    fn from_config(config: &Config) -> Result<Self> {
        let options = ConnectionOptions::from_config(config, Self::TYPE_NAME, cachette_core::tls::TLS_OPTIONS)?;
        let endpoint = endpoint(config)?;
        let errors = ErrorContext {
            backend: Self::TYPE_NAME,
            target: endpoint.target.clone(),
            address_setting: endpoint.address_setting,
            password_setting: endpoint.password_setting,
            db_setting: endpoint.db_setting,
            response_timeout: options.response_timeout,
            tls_files: options.tls_files(),
        };
        let tracking = client(resp3(endpoint.info.clone()), &options)?;
        let client = client(endpoint.info, &options)?;
        Ok(Standalone { client, tracking, options, connections: OnceLock::new(), next: AtomicUsize::new(0), errors })
    }

    fn error_context(&self) -> &ErrorContext {
        &self.errors
    }

    async fn connection(&self) -> Result<ConnectionManager> {
        // Made on first use, inside the runtime that uses them (a ConnectionManager drives its
        // socket from a task of the runtime that created it).
        let connections = self.connections.get_or_init(|| {
            (0..self.options.pool_size)
                .map(|_| {
                    ConnectionManager::new_lazy_with_config(self.client.clone(), self.options.manager_config())
                        .expect("a ConnectionManager without pub/sub settings always builds")
                })
                .collect()
        });
        let i = self.next.fetch_add(1, Ordering::Relaxed) % connections.len();
        Ok(connections[i].clone())
    }

    async fn scan_connections(&self) -> Result<Vec<ConnectionManager>> {
        Ok(vec![self.connection().await?])
    }

    async fn tracked_servers(&self) -> Result<TrackedServers> {
        Ok(TrackedServers {
            servers: vec![(self.errors.target.clone(), self.tracking.clone())],
            masters_only: false,
            layout: None,
            connect_timeout: self.options.connect_timeout,
        })
    }
}

/// The CACHE_OPTIONS of [`Standalone`]: the common ones and `tls_ca_file`, `tls_cert_file`,
/// `tls_key_file`.
pub const STANDALONE_OPTIONS: &[&str] = &[
    "pool_size",
    "connect_timeout",
    "response_timeout",
    "reconnect_retries",
    "tls_ca_file",
    "tls_cert_file",
    "tls_key_file",
];
