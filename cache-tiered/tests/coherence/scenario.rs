//! The backends and invalidation channels the coherence test runs over, the servers each needs,
//! and how each channel's connections are killed mid-run.

use std::sync::Arc;
use std::time::{Duration, Instant};

use cachette_conformance::harness::memcached::MemcachedServer;
use cachette_conformance::harness::redis::{ClusterTopology, RedisServer};
use cachette_core::{Config, Registry};
use cachette_redis::tracking::CONNECTION_NAME;
use cachette_tiered::TieredCache;

/// A backend with the channel that keeps its tiers coherent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// RedisCache, client tracking.
    RedisTracking,
    /// RedisClusterCache (3 masters), client tracking on every master.
    ClusterTracking,
    /// MemcachedCache, the pub/sub bus on a Redis of its own.
    MemcachedBus,
    /// RedisCache, the pub/sub bus on the same server.
    RedisBus,
}

impl Kind {
    pub(crate) const ALL: [Kind; 4] = [Kind::RedisTracking, Kind::ClusterTracking, Kind::MemcachedBus, Kind::RedisBus];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::RedisTracking => "redis_tracking",
            Kind::ClusterTracking => "cluster_tracking",
            Kind::MemcachedBus => "memcached_bus",
            Kind::RedisBus => "redis_bus",
        }
    }
}

/// The servers of one run, kept alive by the writer.
#[allow(clippy::large_enum_variant)] // One value per run.
pub(crate) enum Scenario {
    Redis { server: RedisServer, bus: bool },
    Cluster(ClusterTopology),
    Memcached { server: MemcachedServer, bus: RedisServer },
}

impl Scenario {
    pub(crate) fn start(kind: Kind) -> Scenario {
        match kind {
            Kind::RedisTracking => Scenario::Redis { server: RedisServer::start(), bus: false },
            Kind::RedisBus => Scenario::Redis { server: RedisServer::start(), bus: true },
            Kind::ClusterTracking => Scenario::Cluster(ClusterTopology::start(3, 0)),
            Kind::MemcachedBus => Scenario::Memcached { server: MemcachedServer::start(), bus: RedisServer::start() },
        }
    }

    /// The `CACHE_*` settings of both processes (the reader gets them as environment variables).
    pub(crate) fn settings(&self) -> Vec<(&'static str, String)> {
        let mut settings = vec![
            ("CACHE_KEY_PREFIX", "coherence:".to_owned()),
            ("CACHE_L1", "true".to_owned()),
            ("CACHE_L1_TIMEOUT", "60s".to_owned()),
        ];
        match self {
            Scenario::Redis { server, bus } => {
                settings.push(("CACHE_TYPE", "RedisCache".to_owned()));
                settings.push(("CACHE_REDIS_URL", server.url()));
                if *bus {
                    settings.push(("CACHE_L1_BUS_URL", server.url()));
                }
            }
            Scenario::Cluster(cluster) => {
                settings.push(("CACHE_TYPE", "RedisClusterCache".to_owned()));
                settings.push(("CACHE_REDIS_CLUSTER", cluster.target().nodes.join(",")));
            }
            Scenario::Memcached { server, bus } => {
                settings.push(("CACHE_TYPE", "MemcachedCache".to_owned()));
                settings.push(("CACHE_MEMCACHED_SERVERS", server.target().servers_list()));
                settings.push(("CACHE_L1_BUS_URL", bus.url()));
            }
        }
        settings
    }

    /// Kills every connection of the invalidation channel (both processes'), as a network fault
    /// would; returns how many.
    pub(crate) fn kill_channel(&self) -> usize {
        let kill_pubsub = |server: &RedisServer| {
            let out = server.cli(&["CLIENT", "KILL", "TYPE", "pubsub"]);
            out.trim().parse::<usize>().unwrap_or_else(|_| panic!("CLIENT KILL answered {out:?}"))
        };
        match self {
            Scenario::Redis { server, bus: false } => server.kill_clients_named(CONNECTION_NAME),
            Scenario::Redis { server, bus: true } => kill_pubsub(server),
            Scenario::Cluster(cluster) => cluster.kill_clients_named(CONNECTION_NAME),
            Scenario::Memcached { bus, .. } => kill_pubsub(bus),
        }
    }
}

/// The tier over the backend `config` names, once it follows its channel.
pub(crate) async fn tiered(config: &Config) -> Arc<TieredCache> {
    let mut registry = Registry::new();
    cachette_redis::register(&mut registry).unwrap();
    cachette_redis_cluster::register(&mut registry).unwrap();
    cachette_memcached::register(&mut registry).unwrap();
    let mut backend_config = config.clone();
    backend_config.l1 = false;
    let cache = TieredCache::new(registry.build(&backend_config).unwrap(), config).unwrap();
    let start = Instant::now();
    while !cache.is_active() {
        assert!(start.elapsed() < Duration::from_secs(10), "the tier did not follow its channel within 10 s");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Arc::new(cache)
}
