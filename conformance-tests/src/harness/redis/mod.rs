//! Redis servers for tests: a standalone server (plain, with a password, with an ACL user), a
//! Sentinel topology (1 master, 1 replica, 3 sentinels) and a Cluster (3 masters + 3 replicas),
//! started as local processes on free loopback ports; or servers you run yourself, named by
//! environment variables.
//!
//! # Shared servers
//!
//! [`standalone`], [`sentinel`] and [`cluster`] return targets for topologies that live as long as
//! the test process: the first call starts them, later calls (from any test thread) reuse them.
//! Tests share them safely when each uses its own key prefix, as the conformance suite does.
//!
//! ```no_run
//! use cachette_core::Config;
//! use cachette_conformance::harness::redis;
//!
//! let mut config = Config::default();
//! redis::standalone().apply(&mut config); // sets CACHE_REDIS_URL
//! ```
//!
//! Fault tests (killing a master, restarting a server) start their own topology with
//! [`RedisServer::start_with`], [`SentinelTopology::start`] or [`ClusterTopology::start`]: a server
//! given by the environment cannot be killed by the test.
//!
//! # Servers you run yourself (containers in CI)
//!
//! | variable | used by | value |
//! |---|---|---|
//! | `CACHETTE_TEST_REDIS_URL` | [`standalone`] | `redis://host:port` |
//! | `CACHETTE_TEST_REDIS_SENTINELS` | [`sentinel`] | `host:port,host:port,...` of the sentinels |
//! | `CACHETTE_TEST_REDIS_SENTINEL_MASTER` | [`sentinel`] | the monitored master's name (default `mymaster`) |
//! | `CACHETTE_TEST_REDIS_CLUSTER` | [`cluster`] | `host:port,...` of cluster nodes |
//!
//! A GitHub Actions job with a Redis service container:
//!
//! ```yaml
//! jobs:
//!   test:
//!     runs-on: ubuntu-latest
//!     services:
//!       redis:
//!         image: redis:7
//!         ports: ["6379:6379"]
//!         options: --health-cmd "redis-cli ping" --health-interval 1s --health-retries 30
//!     env:
//!       CACHETTE_TEST_REDIS_URL: redis://127.0.0.1:6379
//!     steps:
//!       - uses: actions/checkout@v4
//!       - run: cargo test -p my-backend
//! ```
//!
//! The local servers need `redis-server` (Debian package `redis-server`), `redis-sentinel`
//! (`redis-sentinel`) and `redis-cli` (`redis-tools`). A missing binary fails the test with the
//! install command ([`require_binary`]).

use std::process::Command;
use std::time::{Duration, Instant};

use super::process::require_binary;

mod certificates;
mod cluster;
mod options;
mod sentinel;
mod standalone;

pub use cluster::{ClusterTarget, ClusterTopology, cluster};
pub use options::RedisOptions;
pub use sentinel::{SentinelTarget, SentinelTopology, sentinel, sentinel_tls};
pub use standalone::{RedisServer, RedisTarget, standalone};

/// Names a standalone server to use instead of starting one.
pub const URL_ENV: &str = "CACHETTE_TEST_REDIS_URL";
/// Names sentinels to use instead of starting a topology.
pub const SENTINELS_ENV: &str = "CACHETTE_TEST_REDIS_SENTINELS";
/// The master name of [`SENTINELS_ENV`].
pub const SENTINEL_MASTER_ENV: &str = "CACHETTE_TEST_REDIS_SENTINEL_MASTER";
/// Names cluster nodes to use instead of starting a cluster.
pub const CLUSTER_ENV: &str = "CACHETTE_TEST_REDIS_CLUSTER";

/// The master name of the local Sentinel topology.
pub const MASTER_NAME: &str = "mymaster";

fn require_cli() {
    require_binary("redis-cli", "redis-tools");
}

/// `redis-cli -p <port> [-a password] <args>`: its standard output (an error reply is output too).
pub fn cli(port: u16, password: Option<&str>, args: &[&str]) -> String {
    let mut command = Command::new("redis-cli");
    command.args(["-h", "127.0.0.1", "-p", &port.to_string()]);
    if let Some(p) = password {
        command.args(["--no-auth-warning", "-a", p]);
    }
    let output = command.args(args).output().unwrap_or_else(|e| panic!("cannot run redis-cli: {e}"));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The process id in the output of `INFO server`, which redis-server and redis-sentinel both
/// answer: how a start tells its own server from another that took the port.
fn reported_pid(info: &str) -> super::server::sealed::Probe {
    use super::server::sealed::Probe;
    let pid = info.lines().find_map(|line| line.trim().strip_prefix("process_id:")?.parse().ok());
    pid.map_or(Probe::Silent, Probe::Pid)
}

fn wait_until(limit: Duration, what: &str, mut ready: impl FnMut() -> bool) {
    let started = Instant::now();
    while !ready() {
        if started.elapsed() > limit {
            panic!("gave up waiting for {what} after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}
