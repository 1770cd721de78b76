//! Real servers for the tests: started as local processes on free loopback ports, stopped when the
//! test process ends (Unix only; cargo feature `harness`, on by default).
//!
//! A missing server binary is a test failure whose message names the package to install — never a
//! silent skip.
//!
//! * [`redis`]: a standalone server, a Sentinel topology and a Cluster;
//! * [`memcached`]: plain, SASL and ASCII-auth servers;
//! * [`Server`]: the lifecycle both share (start on a free port, kill, stall, restart on the same
//!   port);
//! * [`tls`]: the certificates of the TLS servers and their clients, made at test time;
//! * [`faults`]: what the `Cache` facade must do while a backend is stalled or dead, written once
//!   for every backend's fault tests;
//! * [`leases`]: one load per key across real processes (the test binary re-run as workers);
//! * [`process`]: the pieces under it (a process killed with its test, free ports, binaries).

pub mod faults;
mod keep;
pub mod leases;
pub mod memcached;
pub mod process;
pub mod redis;
mod server;
pub mod tls;
pub mod uwsgi;

pub use process::{ServerProcess, free_port, require_binary, wait_for_tcp};
pub use server::{Server, ServerKind};

/// The comma-separated list in the environment variable `name`, if it is set (empty items
/// dropped): servers a user runs, named instead of started.
fn env_list(name: &str) -> Option<Vec<String>> {
    let value = std::env::var(name).ok()?;
    Some(value.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect())
}
