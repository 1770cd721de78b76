//! A Sentinel topology: one master, one replica and three sentinels; [`SentinelTopology`] (started
//! per test, for failover tests), [`sentinel`] and [`sentinel_tls`] (one of each for the whole
//! test process).

use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use cachette_core::Config;

use super::certificates::make_certificates;
use super::{MASTER_NAME, RedisOptions, RedisServer, SENTINEL_MASTER_ENV, SENTINELS_ENV};
use super::{cli, reported_pid, require_cli, wait_until};
use crate::harness::env_list;
use crate::harness::keep::{KeepForProcess, Kept};
use crate::harness::process::require_binary;
use crate::harness::server::Server;
use crate::harness::server::sealed::{Launch, Probe};

/// Where a cache under test finds a Sentinel-managed master.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentinelTarget {
    /// `host:port` of each sentinel (`rediss://host:port` for a TLS sentinel).
    pub sentinels: Vec<String>,
    /// The monitored master's name.
    pub master_name: String,
    /// `CACHE_OPTIONS` entries a client needs: the `tls_*` files of a TLS topology.
    pub options: Vec<(String, String)>,
}

impl SentinelTarget {
    /// Sets `CACHE_REDIS_SENTINELS` and `CACHE_REDIS_SENTINEL_MASTER`, and adds
    /// [`options`](Self::options) to `CACHE_OPTIONS`.
    pub fn apply(&self, config: &mut Config) {
        config.redis_sentinels = self.sentinels.clone();
        config.redis_sentinel_master = Some(self.master_name.clone());
        for (name, value) in &self.options {
            config.options.insert(name, value);
        }
    }
}

/// One master, one replica and three sentinels (quorum 2, `down-after-milliseconds` 1000,
/// `failover-timeout` 3000), all on loopback. Killed when dropped.
#[derive(Debug)]
pub struct SentinelTopology {
    master: RedisServer,
    replica: RedisServer,
    sentinels: Vec<Server<SentinelOptions>>,
    tls: bool,
}

impl SentinelTopology {
    /// Starts the topology and waits until the sentinels know the master, the replica and each
    /// other (about 2 s): the replica is synced before the sentinels start, so they find it in
    /// their first poll instead of after 10 s.
    pub fn start() -> SentinelTopology {
        Self::start_with_tls(false)
    }

    /// Like [`start`](Self::start), with TLS only everywhere: the master and the replica as
    /// [`RedisOptions::tls`] (client certificates required, replication over TLS), and sentinels
    /// that listen on TLS only (`tls-port`, `tls-auth-clients yes`) and reach the servers and
    /// each other over TLS (`tls-replication yes`), all with the harness's
    /// [test certificates](crate::harness::tls::TestCertificates). Its [target](Self::target)
    /// names the sentinels `rediss://127.0.0.1:<port>`, with the client's `tls_*` options. The
    /// sentinels listen on 127.0.0.2 too, a name their certificate is not valid for.
    pub fn start_tls() -> SentinelTopology {
        Self::start_with_tls(true)
    }

    fn start_with_tls(tls: bool) -> SentinelTopology {
        require_binary("redis-sentinel", "redis-sentinel");
        let server = |options: RedisOptions| if tls { options.tls() } else { options };
        let master = RedisServer::start_with(server(RedisOptions::new()));
        let replica = RedisServer::start_with(server(RedisOptions::new().replica_of(master.port())));
        wait_until(Duration::from_secs(20), "the replica to sync", || {
            replica.info_field("replication", "master_link_status").as_deref() == Some("up")
        });
        let sentinels: Vec<_> =
            (0..3).map(|_| Server::start_with(SentinelOptions { master_port: master.port(), tls })).collect();
        let topology = SentinelTopology { master, replica, sentinels, tls };
        let first = &topology.sentinels[0];
        wait_until(Duration::from_secs(30), "the sentinels to see the replica and each other", || {
            let info = sentinel_cli(first, &["SENTINEL", "MASTER", MASTER_NAME]);
            let field = |name: &str| {
                let lines: Vec<&str> = info.lines().map(str::trim).collect();
                lines.iter().position(|l| *l == name).and_then(|i| lines.get(i + 1)).map(|v| v.to_string())
            };
            field("num-other-sentinels").as_deref() == Some("2") && field("num-slaves").as_deref() == Some("1")
        });
        topology
    }

    /// This topology as a target.
    pub fn target(&self) -> SentinelTarget {
        let scheme = if self.tls { "rediss://" } else { "" };
        let options = match self.tls {
            false => Vec::new(),
            true => crate::harness::tls::TestCertificates::shared().client_option_pairs(),
        };
        SentinelTarget {
            sentinels: self.sentinels.iter().map(|s| format!("{scheme}{}", s.address())).collect(),
            master_name: MASTER_NAME.to_owned(),
            options,
        }
    }

    /// The master's port as the first sentinel reports it now.
    pub fn reported_master_port(&self) -> Option<u16> {
        master_port_reported_by(&self.sentinels[0])
    }

    /// The port of the master the topology started with.
    pub fn original_master_port(&self) -> u16 {
        self.master.port()
    }

    /// The port of the replica the topology started with.
    pub fn original_replica_port(&self) -> u16 {
        self.replica.port()
    }

    /// Kills the original master with SIGKILL, as a crash would.
    pub fn kill_master(&mut self) {
        self.master.kill();
    }

    /// Stops the original master with SIGSTOP: it accepts connections and never answers, until
    /// the sentinels' down-after period makes them promote the replica.
    pub fn stall_master(&mut self) {
        self.master.stall();
    }

    /// Waits until every sentinel reports the original replica as master and it answers `ROLE`
    /// as master; returns how long that took.
    pub fn wait_for_failover(&self, limit: Duration) -> Duration {
        let started = Instant::now();
        let replica = self.replica.port();
        wait_until(limit, "the sentinels to promote the replica", || {
            self.sentinels.iter().all(|s| master_port_reported_by(s) == Some(replica))
                && self.replica.cli(&["ROLE"]).lines().next().map(str::trim) == Some("master")
        });
        started.elapsed()
    }
}

/// The master's port as `sentinel` reports it.
fn master_port_reported_by(sentinel: &Server<SentinelOptions>) -> Option<u16> {
    let out = sentinel_cli(sentinel, &["SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER_NAME]);
    out.lines().nth(1)?.trim().parse().ok()
}

/// redis-cli against `sentinel` (over TLS, with the certificates in its directory, for a TLS one).
fn sentinel_cli(sentinel: &Server<SentinelOptions>, args: &[&str]) -> String {
    sentinel.options().cli(sentinel.port(), sentinel.dir(), args)
}

impl KeepForProcess for SentinelTopology {
    fn kept(&self) -> Vec<Kept> {
        let mut kept = self.master.kept();
        kept.extend(self.replica.kept());
        kept.extend(self.sentinels.iter().flat_map(KeepForProcess::kept));
        kept
    }
}

/// A redis-sentinel monitoring the master on 127.0.0.1:`master_port` (over TLS, and serving TLS
/// only, when `tls`).
#[derive(Debug)]
struct SentinelOptions {
    master_port: u16,
    tls: bool,
}

impl SentinelOptions {
    /// redis-cli against this sentinel on `port`, as [`RedisOptions`]'s does for a server.
    fn cli(&self, port: u16, dir: &Path, args: &[&str]) -> String {
        match self.tls {
            false => cli(port, None, args),
            true => RedisOptions::new().tls().cli(port, dir, args),
        }
    }
}

impl Launch for SentinelOptions {
    const NAME: &'static str = "sentinel";

    fn require_binaries(&self) {
        require_binary("redis-sentinel", "redis-sentinel");
        require_cli();
    }

    /// A TLS sentinel's certificates, as a TLS server's.
    fn prepare(&self, dir: &Path) {
        if self.tls {
            make_certificates(dir);
        }
    }

    fn command(&self, port: u16, dir: &Path) -> Command {
        // Sentinel rewrites its config file, so it lives in the sentinel's own directory.
        let conf = dir.join("sentinel.conf");
        let master_port = self.master_port;
        let mut text = format!(
            "port {port}\nbind 127.0.0.1\ndaemonize no\ndir {dir}\n\
             sentinel monitor {MASTER_NAME} 127.0.0.1 {master_port} 2\n\
             sentinel down-after-milliseconds {MASTER_NAME} 1000\n\
             sentinel failover-timeout {MASTER_NAME} 3000\n\
             sentinel parallel-syncs {MASTER_NAME} 1\n",
            dir = dir.display(),
        );
        if self.tls {
            // The first line (`port <port>`) becomes `port 0`: TLS only.
            text = text.replacen(&format!("port {port}\n"), "port 0\n", 1);
            // 127.0.0.2 too, an address the certificates are not for (the name-mismatch tests).
            text = text.replacen("bind 127.0.0.1\n", "bind 127.0.0.1 127.0.0.2\n", 1);
            let file = |name: &str| dir.join(name).display().to_string();
            text.push_str(&format!(
                "tls-port {port}\ntls-cert-file {}\ntls-key-file {}\ntls-ca-cert-file {}\ntls-auth-clients yes\n\
                 tls-replication yes\n",
                file("server.crt"),
                file("server.key"),
                file("ca.crt"),
            ));
        }
        std::fs::write(&conf, text).unwrap_or_else(|e| panic!("cannot write sentinel.conf: {e}"));
        let mut command = Command::new("redis-sentinel");
        command.arg(&conf);
        command
    }

    fn probe(&self, port: u16, dir: &Path) -> Probe {
        reported_pid(&self.cli(port, dir, &["INFO", "server"]))
    }
}

/// A Sentinel topology shared by the tests of this process (or the sentinels named by
/// `CACHETTE_TEST_REDIS_SENTINELS`).
pub fn sentinel() -> SentinelTarget {
    if let Some(sentinels) = env_list(SENTINELS_ENV) {
        let master_name = std::env::var(SENTINEL_MASTER_ENV).unwrap_or_else(|_| MASTER_NAME.to_owned());
        return SentinelTarget { sentinels, master_name, options: Vec::new() };
    }
    static TOPOLOGY: OnceLock<SentinelTopology> = OnceLock::new();
    TOPOLOGY.get_or_init(|| SentinelTopology::start().keep_for_process()).target()
}

/// A TLS-only Sentinel topology ([`SentinelTopology::start_tls`]) shared by the tests of this
/// process. Always local: its certificates are made by the harness.
pub fn sentinel_tls() -> SentinelTarget {
    static TOPOLOGY: OnceLock<SentinelTopology> = OnceLock::new();
    TOPOLOGY.get_or_init(|| SentinelTopology::start_tls().keep_for_process()).target()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tls_sentinel_topology_names_its_master() {
        let topology = SentinelTopology::start_tls();
        assert_eq!(topology.reported_master_port(), Some(topology.original_master_port()));
        assert!(topology.target().sentinels.iter().all(|s| s.starts_with("rediss://127.0.0.1:")));
        // TLS only: nothing answers in plain text on a sentinel's port.
        assert!(!cli(topology.sentinels[0].port(), None, &["PING"]).contains("PONG"));
    }

    #[test]
    fn sentinel_topology_fails_over() {
        let started = Instant::now();
        let mut topology = SentinelTopology::start();
        println!("sentinel topology ready in {:?}", started.elapsed());
        assert_eq!(topology.reported_master_port(), Some(topology.original_master_port()));
        topology.kill_master();
        let took = topology.wait_for_failover(Duration::from_secs(30));
        println!("sentinel failover took {took:?}");
        assert_eq!(topology.reported_master_port(), Some(topology.original_replica_port()));
    }
}
