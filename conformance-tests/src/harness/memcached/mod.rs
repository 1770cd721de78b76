//! memcached servers for tests: plain, with SASL, with ASCII auth, with a larger item size; shared
//! by the tests of one test binary, or started per test for fault tests (kill, restart on the same
//! port); or servers you run yourself, named by environment variables.
//!
//! # Shared servers
//!
//! [`single`], [`pair`], [`sasl`], [`tls`] and [`unix_socket`] return a [`MemcachedTarget`]
//! (server addresses, credentials, TLS files) for servers that live as long as the test process: the first call starts them,
//! later calls (from any test thread) reuse them. Tests share them safely when each uses its own
//! key prefix, as the conformance suite does.
//!
//! ```no_run
//! use cachette_conformance::harness::memcached;
//! use cachette_core::Config;
//!
//! let mut config = Config::default();
//! memcached::single().apply(&mut config); // sets CACHE_MEMCACHED_SERVERS (and credentials)
//! ```
//!
//! # Servers you run yourself (containers in CI)
//!
//! When these environment variables are set the shared targets use them and start nothing:
//!
//! | variable | used by | value |
//! |---|---|---|
//! | `CACHETTE_TEST_MEMCACHED_SERVERS` | [`single`] (first server), [`pair`] (all, at least two) | `host:port,host:port` |
//! | `CACHETTE_TEST_MEMCACHED_SASL_SERVERS` | [`sasl`] | `host:port` (a memcached started with `-S`) |
//! | `CACHETTE_TEST_MEMCACHED_USERNAME` / `CACHETTE_TEST_MEMCACHED_PASSWORD` | [`sasl`] | its SASL user |
//!
//! Fault tests (kill a server, restart it) always start their own local process with
//! [`MemcachedServer::start`] — a server given by the environment cannot be killed by the test.
//!
//! # Own servers
//!
//! ```no_run
//! use cachette_conformance::harness::memcached::{MemcachedOptions, MemcachedServer};
//!
//! let mut server = MemcachedServer::start_with(MemcachedOptions::new().sasl("app", "secret").item_size("2m"));
//! let target = server.target(); // 127.0.0.1:<port>, app / secret
//! server.kill();                // the port refuses connections now
//! server.restart();             // the same port answers again (empty: memcached keeps nothing)
//! ```
//!
//! TLS servers use certificates the harness makes at start-up ([`TestCertificates`](super::tls::TestCertificates)).
//!
//! The servers need the `memcached` binary (Debian package `memcached`) and, for SASL,
//! `saslpasswd2` (package `sasl2-bin`; the PLAIN mechanism is in `libsasl2-modules`). A missing
//! binary fails the test with the install command ([`require_binary`](super::require_binary)).

use std::sync::OnceLock;

use cachette_core::Config;

use super::env_list;
use super::keep::KeepForProcess;
use super::server::Server;

mod options;
mod sasl;
#[cfg(test)]
mod tests;
mod transport;

pub use options::MemcachedOptions;

/// Environment variable naming memcached servers to use instead of starting local ones.
pub const SERVERS_ENV: &str = "CACHETTE_TEST_MEMCACHED_SERVERS";
/// Environment variable naming a SASL-enabled memcached to use instead of starting one.
pub const SASL_SERVERS_ENV: &str = "CACHETTE_TEST_MEMCACHED_SASL_SERVERS";
/// The SASL user of [`SASL_SERVERS_ENV`].
pub const USERNAME_ENV: &str = "CACHETTE_TEST_MEMCACHED_USERNAME";
/// The SASL password of [`SASL_SERVERS_ENV`].
pub const PASSWORD_ENV: &str = "CACHETTE_TEST_MEMCACHED_PASSWORD";

/// The SASL user of the shared local SASL server.
pub const SASL_USERNAME: &str = "cachette";
/// The SASL password of the shared local SASL server.
pub const SASL_PASSWORD: &str = "cachette-test-password";

/// Where a cache under test finds memcached: server addresses, SASL credentials, and the
/// `CACHE_OPTIONS` a client of these servers needs (the TLS files).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemcachedTarget {
    /// Each server as `CACHE_MEMCACHED_SERVERS` names it: `host:port`, `tls://host:port` or
    /// `unix:/path`.
    pub servers: Vec<String>,
    /// SASL user name, if the servers need one.
    pub username: Option<String>,
    /// SASL password, if the servers need one.
    pub password: Option<String>,
    /// `CACHE_OPTIONS` entries a client needs: `tls_ca_file`, `tls_cert_file` and
    /// `tls_key_file` for a TLS server.
    pub options: Vec<(String, String)>,
}

impl MemcachedTarget {
    /// Sets `CACHE_MEMCACHED_SERVERS`, `CACHE_MEMCACHED_USERNAME` and `CACHE_MEMCACHED_PASSWORD`,
    /// and adds [`options`](Self::options) to `CACHE_OPTIONS`.
    pub fn apply(&self, config: &mut Config) {
        config.memcached_servers = self.servers.clone();
        config.memcached_username = self.username.clone();
        config.memcached_password = self.password.clone();
        for (name, value) in &self.options {
            config.options.insert(name, value);
        }
    }

    /// `servers` joined with commas, the form of `CACHE_MEMCACHED_SERVERS`.
    pub fn servers_list(&self) -> String {
        self.servers.join(",")
    }
}

/// A memcached process on a loopback port, killed when this value is dropped (and when the test
/// process dies). [`Server`]'s methods start, kill and restart it; [`target`](Server::target) is
/// memcached's own.
pub type MemcachedServer = Server<MemcachedOptions>;

impl Server<MemcachedOptions> {
    /// This server as a target, with its SASL credentials and TLS files if it has any.
    pub fn target(&self) -> MemcachedTarget {
        let options = self.options();
        let (username, password) = match options.sasl_credentials() {
            Some((u, p)) => (Some(u.clone()), Some(p.clone())),
            None => (None, None),
        };
        let servers = vec![options.entry(self.port(), self.dir())];
        MemcachedTarget { servers, username, password, options: options.client_options() }
    }
}

/// A plain memcached shared by the tests of this process (or the first of
/// `CACHETTE_TEST_MEMCACHED_SERVERS`).
pub fn single() -> MemcachedTarget {
    if let Some(servers) = servers_from_env(SERVERS_ENV) {
        return MemcachedTarget { servers: servers[..1].to_vec(), ..MemcachedTarget::default() };
    }
    static SERVER: OnceLock<MemcachedServer> = OnceLock::new();
    SERVER.get_or_init(|| MemcachedServer::start().keep_for_process()).target()
}

/// Two plain memcached servers shared by the tests of this process (or every server of
/// `CACHETTE_TEST_MEMCACHED_SERVERS`, which must then name at least two).
pub fn pair() -> MemcachedTarget {
    if let Some(servers) = servers_from_env(SERVERS_ENV) {
        assert!(
            servers.len() >= 2,
            "{SERVERS_ENV} names {} server(s), but the multi-server tests need at least two (comma-separated host:port)",
            servers.len()
        );
        return MemcachedTarget { servers, ..MemcachedTarget::default() };
    }
    static SERVERS: OnceLock<(MemcachedServer, MemcachedServer)> = OnceLock::new();
    let (a, b) = SERVERS.get_or_init(|| {
        let a = std::thread::spawn(|| MemcachedServer::start().keep_for_process());
        let b = MemcachedServer::start().keep_for_process();
        (a.join().unwrap_or_else(|e| std::panic::resume_unwind(e)), b)
    });
    MemcachedTarget { servers: vec![a.address(), b.address()], ..MemcachedTarget::default() }
}

/// A SASL-enabled memcached (user [`SASL_USERNAME`], password [`SASL_PASSWORD`]) shared by the
/// tests of this process, or the one named by `CACHETTE_TEST_MEMCACHED_SASL_SERVERS` with
/// `CACHETTE_TEST_MEMCACHED_USERNAME` / `CACHETTE_TEST_MEMCACHED_PASSWORD`.
pub fn sasl() -> MemcachedTarget {
    if let Some(servers) = servers_from_env(SASL_SERVERS_ENV) {
        let get = |name: &str| {
            std::env::var(name).unwrap_or_else(|_| panic!("{SASL_SERVERS_ENV} is set, so {name} must be set too"))
        };
        return MemcachedTarget {
            servers,
            username: Some(get(USERNAME_ENV)),
            password: Some(get(PASSWORD_ENV)),
            ..MemcachedTarget::default()
        };
    }
    static SERVER: OnceLock<MemcachedServer> = OnceLock::new();
    SERVER
        .get_or_init(|| {
            MemcachedServer::start_with(MemcachedOptions::new().sasl(SASL_USERNAME, SASL_PASSWORD)).keep_for_process()
        })
        .target()
}

/// A TLS-only memcached ([`MemcachedOptions::tls`]: client certificates required) shared by the
/// tests of this process. Always local: its certificates are made by the harness.
pub fn tls() -> MemcachedTarget {
    static SERVER: OnceLock<MemcachedServer> = OnceLock::new();
    SERVER.get_or_init(|| MemcachedServer::start_with(MemcachedOptions::new().tls()).keep_for_process()).target()
}

/// A memcached on a unix socket ([`MemcachedOptions::unix_socket`]) shared by the tests of this
/// process. Always local.
pub fn unix_socket() -> MemcachedTarget {
    static SERVER: OnceLock<MemcachedServer> = OnceLock::new();
    SERVER
        .get_or_init(|| MemcachedServer::start_with(MemcachedOptions::new().unix_socket()).keep_for_process())
        .target()
}

/// The servers named by the environment variable `name`, if it names any.
fn servers_from_env(name: &str) -> Option<Vec<String>> {
    env_list(name).filter(|servers| !servers.is_empty())
}
