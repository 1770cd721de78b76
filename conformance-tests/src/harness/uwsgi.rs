//! uWSGI servers for `UWSGICache`'s tests: a uWSGI process (Debian's `uwsgi-core`) serving one
//! named cache over the uwsgi protocol on a loopback `--socket` (the cache plugin answers
//! modifier1 111 there; `--cache-udp-server` is replication, not this).
//!
//! ```no_run
//! use cachette_conformance::harness::uwsgi::{self, UwsgiOptions, UwsgiServer};
//! use cachette_core::Config;
//!
//! let mut config = Config::default();
//! uwsgi::single().apply(&mut config); // CACHE_UWSGI_NAME=cachette@127.0.0.1:<port>
//!
//! let mut server = UwsgiServer::start_with(UwsgiOptions::new().arg("--load-file-in-cache").arg("/etc/hostname"));
//! server.kill();    // the port refuses connections now
//! server.restart(); // the same port answers again, with an empty cache
//! ```
//!
//! `CACHETTE_TEST_UWSGI_NAME` (`cache@host:port`) names a server you run instead: [`single`] then
//! starts nothing. Fault tests always start their own process.
//!
//! The cache is in bitmap mode (`blocksize=4096,blocks=8192,bitmap=1`: values up to 32 MiB),
//! `items=4000`, `keysize=2048`, `lazy_expire=1` (an expired entry is a miss at once), with
//! `--buffer-size 65535` so that a 2048-byte key fits the request.

use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

use cachette_core::Config;

use super::keep::KeepForProcess;
use super::process::require_binary;
use super::server::Server;
use super::server::sealed::{Launch, Probe};

/// Environment variable naming a uWSGI cache to use instead of starting a local server.
pub const NAME_ENV: &str = "CACHETTE_TEST_UWSGI_NAME";

/// The name of the cache the harness's servers serve.
pub const CACHE_NAME: &str = "cachette";

/// The binary of Debian's `uwsgi-core`.
const BINARY: &str = "uwsgi-core";

/// Where a cache under test finds uWSGI: `CACHE_UWSGI_NAME`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UwsgiTarget {
    /// `cache@host:port`.
    pub name: String,
}

impl UwsgiTarget {
    /// Sets `CACHE_UWSGI_NAME`.
    pub fn apply(&self, config: &mut Config) {
        config.uwsgi_name = Some(self.name.clone());
    }

    /// `host:port` of the server.
    pub fn address(&self) -> &str {
        self.name.split_once('@').map_or("", |(_, address)| address)
    }
}

/// How to start a uWSGI cache server.
#[derive(Debug, Clone, Default)]
pub struct UwsgiOptions {
    extra_args: Vec<String>,
}

impl UwsgiOptions {
    /// The cache described in the module docs, named [`CACHE_NAME`].
    pub fn new() -> Self {
        Self::default()
    }

    /// Any other uWSGI argument (e.g. `--load-file-in-cache`, then a path).
    pub fn arg(mut self, arg: &str) -> Self {
        self.extra_args.push(arg.to_owned());
        self
    }
}

/// A uWSGI process on a loopback port, killed when this value is dropped (and when the test process
/// dies). [`Server`]'s methods start, kill, stall and restart it.
pub type UwsgiServer = Server<UwsgiOptions>;

impl Server<UwsgiOptions> {
    /// This server's cache as a target.
    pub fn target(&self) -> UwsgiTarget {
        UwsgiTarget { name: format!("{CACHE_NAME}@{}", self.address()) }
    }
}

impl Launch for UwsgiOptions {
    const NAME: &'static str = "uwsgi";

    fn require_binaries(&self) {
        require_binary(BINARY, "uwsgi-core");
    }

    fn command(&self, port: u16, dir: &Path) -> Command {
        let mut command = Command::new(BINARY);
        command.args(["--plugin", "cache", "--socket", &format!("127.0.0.1:{port}")]);
        command.args([
            "--cache2",
            &format!("name={CACHE_NAME},items=4000,blocksize=4096,blocks=8192,bitmap=1,keysize=2048,lazy_expire=1"),
        ]);
        // One process, one thread: SIGKILL and SIGSTOP reach the whole server (and see the crate docs of
        // cachette-uwsgi on threads and add).
        command.args(["--threads", "1", "--buffer-size", "65535", "--listen", "128"]);
        command.arg("--pidfile").arg(dir.join("uwsgi.pid"));
        command.args(&self.extra_args);
        command
    }

    /// uWSGI tells its pid only in its pidfile, which it writes before it binds: the log line of the
    /// bind to this port says the process that wrote it listens here.
    fn probe(&self, port: u16, dir: &Path) -> Probe {
        if TcpStream::connect(("127.0.0.1", port)).is_err() {
            return Probe::Silent;
        }
        let log = std::fs::read_to_string(dir.join("uwsgi.log")).unwrap_or_default();
        let bound = format!("bound to TCP address 127.0.0.1:{port} ");
        let Some(last_run) = log.rsplit("*** Starting uWSGI").next() else { return Probe::Silent };
        if !last_run.contains(&bound) || !last_run.contains("spawned uWSGI worker") {
            return Probe::Silent;
        }
        std::fs::read_to_string(dir.join("uwsgi.pid"))
            .ok()
            .and_then(|pid| pid.trim().parse().ok())
            .map_or(Probe::Silent, Probe::Pid)
    }
}

/// A uWSGI cache shared by the tests of this process (or the one `CACHETTE_TEST_UWSGI_NAME`
/// names).
pub fn single() -> UwsgiTarget {
    if let Ok(name) = std::env::var(NAME_ENV)
        && !name.trim().is_empty()
    {
        return UwsgiTarget { name: name.trim().to_owned() };
    }
    static SERVER: OnceLock<UwsgiServer> = OnceLock::new();
    SERVER.get_or_init(|| UwsgiServer::start().keep_for_process()).target()
}

/// A second shared uWSGI, apart from [`single`], for the conformance suite: uWSGI's `clear`
/// empties the whole named cache (no prefix), so the suite's `clear` cases must not share a cache
/// with other tests running at the same time.
pub fn for_suite() -> UwsgiTarget {
    static SERVER: OnceLock<UwsgiServer> = OnceLock::new();
    SERVER.get_or_init(|| UwsgiServer::start().keep_for_process()).target()
}
