//! A Redis Cluster: [`ClusterTopology`] (started per test, for failover tests) and [`cluster`]
//! (one for the whole test process).

use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use cachette_core::Config;

use super::{CLUSTER_ENV, RedisOptions, RedisServer, require_cli, wait_until};
use crate::harness::env_list;
use crate::harness::keep::{KeepForProcess, Kept};

/// Where a cache under test finds a Redis Cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterTarget {
    /// `host:port` of the seed nodes.
    pub nodes: Vec<String>,
}

impl ClusterTarget {
    /// Sets `CACHE_REDIS_CLUSTER`.
    pub fn apply(&self, config: &mut Config) {
        config.redis_cluster = self.nodes.clone();
    }
}

/// A Redis Cluster of `masters` masters with `replicas` replicas each (node timeout 2 s), made
/// with `redis-cli --cluster create`. Killed when dropped.
#[derive(Debug)]
pub struct ClusterTopology {
    nodes: Vec<RedisServer>,
}

impl ClusterTopology {
    /// Starts the nodes, creates the cluster and waits until every node reports `cluster_state:ok`
    /// with all 16384 slots served and every replica synced (about 2.5 s for 3 + 3).
    pub fn start(masters: usize, replicas: usize) -> ClusterTopology {
        Self::start_with(masters, replicas, RedisOptions::new())
    }

    /// Like [`start`](Self::start), every node started with `options` (and `cluster_node`):
    /// `RedisOptions::new().tls()` makes a cluster that speaks TLS only, client certificates
    /// required, with the shared test certificates.
    pub fn start_with(masters: usize, replicas: usize, options: RedisOptions) -> ClusterTopology {
        require_cli();
        let options = options.cluster_node();
        let count = masters * (1 + replicas);
        let nodes: Vec<RedisServer> = std::thread::scope(|scope| {
            let handles: Vec<_> =
                (0..count).map(|_| scope.spawn(|| RedisServer::start_with(options.clone()))).collect();
            handles.into_iter().map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e))).collect()
        });
        let mut command = Command::new("redis-cli");
        if options.is_tls() {
            let dir = nodes[0].dir();
            command.arg("--tls").arg("--cacert").arg(dir.join("ca.crt"));
            command.arg("--cert").arg(dir.join("client.crt")).arg("--key").arg(dir.join("client.key"));
        }
        command.arg("--cluster").arg("create");
        command.args(nodes.iter().map(RedisServer::address));
        command.args(["--cluster-replicas", &replicas.to_string(), "--cluster-yes"]);
        let out = command.output().unwrap_or_else(|e| panic!("cannot run redis-cli --cluster create: {e}"));
        if !out.status.success() {
            panic!(
                "redis-cli --cluster create failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let topology = ClusterTopology { nodes };
        wait_until(Duration::from_secs(30), "the cluster to be ok on every node", || topology.is_ok());
        wait_until(Duration::from_secs(30), "the replicas to sync", || {
            topology.nodes.iter().all(|n| {
                n.info_field("replication", "role").as_deref() != Some("slave")
                    || n.info_field("replication", "master_link_status").as_deref() == Some("up")
            })
        });
        topology
    }

    /// Whether every running node reports `cluster_state:ok` and all slots served.
    pub fn is_ok(&self) -> bool {
        self.nodes.iter().filter(|n| std::net::TcpStream::connect(n.address()).is_ok()).all(|n| {
            let info = n.cli(&["CLUSTER", "INFO"]);
            info.contains("cluster_state:ok") && info.contains("cluster_slots_ok:16384")
        })
    }

    /// This cluster as a target (every node is a seed).
    ///
    /// The nodes of a TLS cluster are `rediss://127.0.0.1:<port>` URLs; a client also needs the
    /// test certificates (`TestCertificates::client_options`).
    pub fn target(&self) -> ClusterTarget {
        let tls = self.nodes.first().is_some_and(|n| n.options().is_tls());
        let node = |n: &RedisServer| if tls { format!("rediss://{}", n.address()) } else { n.address() };
        ClusterTarget { nodes: self.nodes.iter().map(node).collect() }
    }

    /// The port of the master serving `slot`, as a running node reports it.
    pub fn master_port_for_slot(&self, slot: u16) -> Option<u16> {
        let node = self.nodes.iter().find(|n| std::net::TcpStream::connect(n.address()).is_ok())?;
        let out = node.cli(&["CLUSTER", "SHARDS"]);
        // Parse the flat redis-cli rendering: each shard lists "slots" (pairs) then "nodes", whose
        // entries carry "port" and "role".
        let lines: Vec<&str> = out.lines().map(str::trim).collect();
        let mut i = 0;
        let mut owns = false;
        while i < lines.len() {
            match lines[i] {
                "slots" => {
                    owns = false;
                    let mut j = i + 1;
                    while j + 1 < lines.len() {
                        let (Ok(start), Ok(end)) = (lines[j].parse::<u16>(), lines[j + 1].parse::<u16>()) else {
                            break;
                        };
                        owns |= (start..=end).contains(&slot);
                        j += 2;
                    }
                    i = j;
                }
                "port" if owns => {
                    let port = lines.get(i + 1)?.parse::<u16>().ok();
                    let role_index = lines[i..].iter().position(|l| *l == "role").map(|p| p + i + 1)?;
                    let health_index = lines[i..].iter().position(|l| *l == "health").map(|p| p + i + 1);
                    let healthy = health_index.and_then(|h| lines.get(h)).is_none_or(|h| *h == "online");
                    if lines.get(role_index) == Some(&"master") && healthy {
                        return port;
                    }
                    i += 1;
                }
                _ => i += 1,
            }
        }
        None
    }

    /// Closes every client connection named `name` on every running node (see
    /// [`RedisServer::kill_clients_named`]); returns how many it closed.
    pub fn kill_clients_named(&self, name: &str) -> usize {
        let running = self.nodes.iter().filter(|n| std::net::TcpStream::connect(n.address()).is_ok());
        running.map(|n| n.kill_clients_named(name)).sum()
    }

    /// Kills the node on `port` with SIGKILL.
    pub fn kill_node(&mut self, port: u16) {
        if let Some(node) = self.nodes.iter_mut().find(|n| n.port() == port) {
            node.kill();
        }
    }

    /// Waits until `slot` is served by a master other than the one on `old_port` and the cluster
    /// is ok again; returns how long that took.
    pub fn wait_for_failover(&self, slot: u16, old_port: u16, limit: Duration) -> Duration {
        let started = Instant::now();
        wait_until(limit, "a replica to take over the slot", || {
            self.master_port_for_slot(slot).is_some_and(|p| p != old_port) && self.is_ok()
        });
        started.elapsed()
    }
}

/// A 3 masters + 3 replicas cluster shared by the tests of this process (or the nodes named by
/// `CACHETTE_TEST_REDIS_CLUSTER`).
pub fn cluster() -> ClusterTarget {
    if let Some(nodes) = env_list(CLUSTER_ENV) {
        return ClusterTarget { nodes };
    }
    static TOPOLOGY: OnceLock<ClusterTopology> = OnceLock::new();
    TOPOLOGY.get_or_init(|| ClusterTopology::start(3, 1).keep_for_process()).target()
}

impl KeepForProcess for ClusterTopology {
    fn kept(&self) -> Vec<Kept> {
        self.nodes.iter().flat_map(KeepForProcess::kept).collect()
    }
}

impl ClusterTopology {
    /// This cluster, for a `static` of a test binary: a `static` is never dropped, so its nodes
    /// are killed and their directories removed when the process exits instead.
    pub fn cleaned_up_at_exit(self) -> Self {
        self.keep_for_process()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_topology_fails_over() {
        let started = Instant::now();
        let mut cluster = ClusterTopology::start(3, 1);
        println!("cluster ready in {:?}", started.elapsed());
        let owner = cluster.master_port_for_slot(0).expect("slot 0 has a master");
        cluster.kill_node(owner);
        let took = cluster.wait_for_failover(0, owner, Duration::from_secs(30));
        println!("cluster failover took {took:?}");
        assert_ne!(cluster.master_port_for_slot(0), Some(owner));
    }
}
