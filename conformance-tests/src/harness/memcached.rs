//! memcached servers for tests: plain, with SASL, with ASCII auth, with a larger item size; shared
//! by the tests of one test binary, or started per test for fault tests (kill, restart on the same
//! port); or servers you run yourself, named by environment variables.
//!
//! # Shared servers
//!
//! [`single`], [`pair`] and [`sasl`] return a [`MemcachedTarget`] (server addresses and
//! credentials) for servers that live as long as the test process: the first call starts them,
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
//! The servers need the `memcached` binary (Debian package `memcached`) and, for SASL,
//! `saslpasswd2` (package `sasl2-bin`; the PLAIN mechanism is in `libsasl2-modules`). A missing
//! binary fails the test with the install command ([`require_binary`]).

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use cachette_core::Config;

use super::process::{ServerProcess, free_port, require_binary, wait_for_tcp};

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

/// How long a starting memcached may take to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(15);

/// Where a cache under test finds memcached: server addresses and SASL credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemcachedTarget {
    /// `host:port` of each server.
    pub servers: Vec<String>,
    /// SASL user name, if the servers need one.
    pub username: Option<String>,
    /// SASL password, if the servers need one.
    pub password: Option<String>,
}

impl MemcachedTarget {
    /// Sets `CACHE_MEMCACHED_SERVERS`, `CACHE_MEMCACHED_USERNAME` and `CACHE_MEMCACHED_PASSWORD`.
    pub fn apply(&self, config: &mut Config) {
        config.memcached_servers = self.servers.clone();
        config.memcached_username = self.username.clone();
        config.memcached_password = self.password.clone();
    }

    /// `servers` joined with commas, the form of `CACHE_MEMCACHED_SERVERS`.
    pub fn servers_list(&self) -> String {
        self.servers.join(",")
    }
}

/// How to start a memcached.
#[derive(Debug, Clone)]
pub struct MemcachedOptions {
    sasl: Option<(String, String)>,
    ascii_auth: Option<(String, String)>,
    item_size: Option<String>,
    memory_mb: u32,
    extra_args: Vec<String>,
}

impl Default for MemcachedOptions {
    fn default() -> Self {
        MemcachedOptions { sasl: None, ascii_auth: None, item_size: None, memory_mb: 64, extra_args: Vec::new() }
    }
}

impl MemcachedOptions {
    /// A plain server: no authentication, 64 MB of memory, the default 1 MB item size.
    pub fn new() -> Self {
        Self::default()
    }

    /// Requires SASL (`-S`, binary protocol only) with one PLAIN user in a sasldb made by
    /// `saslpasswd2` in the server's temporary directory.
    pub fn sasl(mut self, username: &str, password: &str) -> Self {
        self.sasl = Some((username.to_owned(), password.to_owned()));
        self
    }

    /// Requires ASCII-protocol authentication (`-Y`, memcached >= 1.5.15, experimental) with one
    /// `user:password` line. Such a server refuses the binary protocol.
    pub fn ascii_auth(mut self, username: &str, password: &str) -> Self {
        self.ascii_auth = Some((username.to_owned(), password.to_owned()));
        self
    }

    /// The largest item the server stores (`-I`, e.g. `"2m"`; memcached's default is 1m).
    pub fn item_size(mut self, size: &str) -> Self {
        self.item_size = Some(size.to_owned());
        self
    }

    /// Memory for items in megabytes (`-m`, default 64 here).
    pub fn memory_mb(mut self, megabytes: u32) -> Self {
        self.memory_mb = megabytes;
        self
    }

    /// Any other memcached argument.
    pub fn arg(mut self, arg: &str) -> Self {
        self.extra_args.push(arg.to_owned());
        self
    }
}

/// A memcached process on a loopback port, killed when this value is dropped (and when the test
/// process dies).
#[derive(Debug)]
pub struct MemcachedServer {
    port: u16,
    options: MemcachedOptions,
    dir: tempfile::TempDir,
    process: Option<ServerProcess>,
}

impl MemcachedServer {
    /// Starts a plain memcached and waits until it accepts connections.
    pub fn start() -> MemcachedServer {
        Self::start_with(MemcachedOptions::new())
    }

    /// Starts a memcached with `options` and waits until it accepts connections. Panics with the
    /// install command if a binary is missing, or with the server's log if it does not start.
    pub fn start_with(options: MemcachedOptions) -> MemcachedServer {
        require_binary("memcached", "memcached");
        let dir = tempfile::Builder::new()
            .prefix("cachette-memcached-")
            .tempdir()
            .unwrap_or_else(|e| panic!("cannot create a temporary directory for memcached: {e}"));
        if let Some((user, password)) = &options.sasl {
            write_sasl_db(dir.path(), user, password);
        }
        if let Some((user, password)) = &options.ascii_auth {
            std::fs::write(dir.path().join("authfile"), format!("{user}:{password}\n"))
                .unwrap_or_else(|e| panic!("cannot write the memcached auth file: {e}"));
        }
        let mut server = MemcachedServer { port: free_port(), options, dir, process: None };
        server.spawn_and_wait();
        server
    }

    fn command(&self) -> Command {
        let mut command = Command::new("memcached");
        command.args(["-l", "127.0.0.1", "-p", &self.port.to_string(), "-U", "0"]);
        command.args(["-m", &self.options.memory_mb.to_string()]);
        if let Some(size) = &self.options.item_size {
            command.args(["-I", size]);
        }
        if self.options.sasl.is_some() {
            command.arg("-S").env("SASL_CONF_PATH", self.dir.path().join("sasl"));
        }
        if self.options.ascii_auth.is_some() {
            command.arg("-Y").arg(self.dir.path().join("authfile"));
        }
        // memcached refuses to run as root unless told which user to run as.
        // SAFETY: geteuid has no preconditions and cannot fail.
        if unsafe { libc::geteuid() } == 0 {
            command.args(["-u", "root"]);
        }
        command.args(&self.options.extra_args);
        command
    }

    fn spawn_and_wait(&mut self) {
        let log = self.dir.path().join("memcached.log");
        let process = ServerProcess::spawn(format!("memcached:{}", self.port), self.command(), &log)
            .unwrap_or_else(|e| panic!("cannot start memcached: {e}"));
        self.process = Some(process);
        let addr: SocketAddr = ([127, 0, 0, 1], self.port).into();
        if let Err(e) = wait_for_tcp(addr, START_TIMEOUT) {
            let running = self.is_running();
            let tail = self.log_tail(20);
            panic!("memcached on port {} did not start ({e}; running: {running}). Its log:\n{tail}", self.port);
        }
    }

    /// The port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:<port>`.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// This server as a target, with its SASL credentials if it has any.
    pub fn target(&self) -> MemcachedTarget {
        let (username, password) = match &self.options.sasl {
            Some((u, p)) => (Some(u.clone()), Some(p.clone())),
            None => (None, None),
        };
        MemcachedTarget { servers: vec![self.address()], username, password }
    }

    /// Kills the process with SIGKILL, as a crash would. The port refuses connections afterwards.
    pub fn kill(&mut self) {
        if let Some(mut process) = self.process.take() {
            process.kill();
        }
    }

    /// Starts the server again on the same port (killing it first if it runs) and waits until it
    /// accepts connections. Like any memcached restart, it comes back empty.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn_and_wait();
    }

    /// Whether the process runs.
    pub fn is_running(&mut self) -> bool {
        self.process.as_mut().is_some_and(ServerProcess::is_running)
    }

    /// The last `lines` lines of the server's log.
    pub fn log_tail(&self, lines: usize) -> String {
        self.process.as_ref().map(|p| p.log_tail(lines)).unwrap_or_default()
    }

    /// The server's temporary directory (log, sasldb, auth file).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

/// Writes `sasl/memcached.conf` and a sasldb holding one user (PLAIN mechanism).
fn write_sasl_db(dir: &Path, user: &str, password: &str) {
    let saslpasswd2 = require_binary("saslpasswd2", "sasl2-bin");
    let sasl_dir = dir.join("sasl");
    std::fs::create_dir_all(&sasl_dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", sasl_dir.display()));
    let db = sasl_dir.join("sasldb2");
    std::fs::write(sasl_dir.join("memcached.conf"), format!("mech_list: plain\nsasldb_path: {}\n", db.display()))
        .unwrap_or_else(|e| panic!("cannot write the SASL config for memcached: {e}"));
    // -p reads the password from stdin without a prompt; -a memcached is the application name
    // memcached uses, so the entry lands in memcached's realm (this host's name).
    let mut child = Command::new(saslpasswd2)
        .args(["-p", "-a", "memcached", "-c", "-f"])
        .arg(&db)
        .arg(user)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run saslpasswd2: {e}"));
    child
        .stdin
        .take()
        .expect("saslpasswd2's stdin is piped")
        .write_all(password.as_bytes())
        .unwrap_or_else(|e| panic!("cannot give saslpasswd2 the password: {e}"));
    let output = child.wait_with_output().unwrap_or_else(|e| panic!("saslpasswd2 did not finish: {e}"));
    if !output.status.success() {
        panic!(
            "saslpasswd2 failed ({}): {}. The SASL PLAIN mechanism needs the package libsasl2-modules.",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

/// A plain memcached shared by the tests of this process (or the first of
/// `CACHETTE_TEST_MEMCACHED_SERVERS`).
pub fn single() -> MemcachedTarget {
    if let Some(servers) = env_list(SERVERS_ENV) {
        return MemcachedTarget { servers: servers[..1].to_vec(), username: None, password: None };
    }
    static SERVER: OnceLock<MemcachedServer> = OnceLock::new();
    SERVER.get_or_init(|| keep_for_process(MemcachedServer::start())).target()
}

/// Two plain memcached servers shared by the tests of this process (or every server of
/// `CACHETTE_TEST_MEMCACHED_SERVERS`, which must then name at least two).
pub fn pair() -> MemcachedTarget {
    if let Some(servers) = env_list(SERVERS_ENV) {
        assert!(
            servers.len() >= 2,
            "{SERVERS_ENV} names {} server(s), but the multi-server tests need at least two (comma-separated host:port)",
            servers.len()
        );
        return MemcachedTarget { servers, username: None, password: None };
    }
    static SERVERS: OnceLock<(MemcachedServer, MemcachedServer)> = OnceLock::new();
    let (a, b) = SERVERS.get_or_init(|| {
        let a = std::thread::spawn(|| keep_for_process(MemcachedServer::start()));
        let b = keep_for_process(MemcachedServer::start());
        (a.join().unwrap_or_else(|e| std::panic::resume_unwind(e)), b)
    });
    MemcachedTarget { servers: vec![a.address(), b.address()], username: None, password: None }
}

/// A SASL-enabled memcached (user [`SASL_USERNAME`], password [`SASL_PASSWORD`]) shared by the
/// tests of this process, or the one named by `CACHETTE_TEST_MEMCACHED_SASL_SERVERS` with
/// `CACHETTE_TEST_MEMCACHED_USERNAME` / `CACHETTE_TEST_MEMCACHED_PASSWORD`.
pub fn sasl() -> MemcachedTarget {
    if let Some(servers) = env_list(SASL_SERVERS_ENV) {
        let get = |name: &str| {
            std::env::var(name).unwrap_or_else(|_| panic!("{SASL_SERVERS_ENV} is set, so {name} must be set too"))
        };
        return MemcachedTarget { servers, username: Some(get(USERNAME_ENV)), password: Some(get(PASSWORD_ENV)) };
    }
    static SERVER: OnceLock<MemcachedServer> = OnceLock::new();
    SERVER
        .get_or_init(|| {
            keep_for_process(MemcachedServer::start_with(MemcachedOptions::new().sasl(SASL_USERNAME, SASL_PASSWORD)))
        })
        .target()
}

fn env_list(name: &str) -> Option<Vec<String>> {
    let value = std::env::var(name).ok()?;
    let servers: Vec<String> = value.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect();
    if servers.is_empty() { None } else { Some(servers) }
}

/// A server held in a `static` is never dropped: its process dies with the test process
/// (PR_SET_PDEATHSIG), and its temporary directory is removed at exit here.
fn keep_for_process(server: MemcachedServer) -> MemcachedServer {
    static DIRS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
    static REGISTERED: OnceLock<()> = OnceLock::new();
    extern "C" fn remove_dirs() {
        if let Ok(dirs) = DIRS.lock() {
            for dir in dirs.iter() {
                let _ = std::fs::remove_dir_all(dir);
            }
        }
    }
    REGISTERED.get_or_init(|| {
        // SAFETY: registers a plain `extern "C" fn` that only touches a static.
        unsafe { libc::atexit(remove_dirs) };
    });
    DIRS.lock().unwrap_or_else(|p| p.into_inner()).push(server.dir().to_owned());
    server
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Read};
    use std::net::TcpStream;

    fn ascii(addr: &str, command: &str) -> String {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        stream.write_all(command.as_bytes()).unwrap();
        let mut line = String::new();
        BufReader::new(stream).read_line(&mut line).unwrap();
        line
    }

    #[test]
    fn plain_server_answers_and_restarts_on_the_same_port() {
        let mut server = MemcachedServer::start();
        assert!(ascii(&server.address(), "version\r\n").starts_with("VERSION"));
        let port = server.port();
        server.kill();
        assert!(TcpStream::connect(server.address()).is_err(), "a killed server refuses connections");
        server.restart();
        assert_eq!(server.port(), port);
        assert!(ascii(&server.address(), "version\r\n").starts_with("VERSION"));
    }

    #[test]
    fn sasl_server_accepts_its_user_only() {
        let server = MemcachedServer::start_with(MemcachedOptions::new().sasl("u1", "p1"));
        // binary SASL PLAIN auth: header (24 bytes), key "PLAIN", value "\0u1\0p1"
        let auth = |password: &str| {
            let mut stream = TcpStream::connect(server.address()).unwrap();
            stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let value = format!("\0u1\0{password}");
            let body = 5 + value.len() as u32;
            let mut packet = vec![0x80, 0x21, 0, 5, 0, 0, 0, 0];
            packet.extend_from_slice(&body.to_be_bytes());
            packet.extend_from_slice(&[0; 12]);
            packet.extend_from_slice(b"PLAIN");
            packet.extend_from_slice(value.as_bytes());
            stream.write_all(&packet).unwrap();
            let mut header = [0u8; 24];
            stream.read_exact(&mut header).unwrap();
            u16::from_be_bytes([header[6], header[7]])
        };
        assert_eq!(auth("p1"), 0, "the right password is accepted");
        assert_eq!(auth("wrong"), 0x20, "a wrong password is an auth error");
        assert_eq!(server.target().username.as_deref(), Some("u1"));
    }

    #[test]
    fn ascii_auth_server_wants_the_token() {
        let server = MemcachedServer::start_with(MemcachedOptions::new().ascii_auth("u2", "p2"));
        assert!(ascii(&server.address(), "version\r\n").starts_with("CLIENT_ERROR"));
        let mut stream = TcpStream::connect(server.address()).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        stream.write_all(b"set auth 0 0 5\r\nu2 p2\r\nversion\r\n").unwrap();
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        assert_eq!(line, "STORED\r\n");
        line.clear();
        reader.read_line(&mut line).unwrap();
        assert!(line.starts_with("VERSION"), "{line}");
    }

    #[test]
    fn item_size_option_is_passed() {
        let server = MemcachedServer::start_with(MemcachedOptions::new().item_size("2m"));
        let mut stream = TcpStream::connect(server.address()).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        stream.write_all(b"stats settings\r\n").unwrap();
        let reader = BufReader::new(stream);
        let mut found = None;
        for line in reader.lines() {
            let line = line.unwrap();
            if line.starts_with("END") {
                break;
            }
            if let Some(v) = line.strip_prefix("STAT item_size_max ") {
                found = Some(v.to_owned());
            }
        }
        assert_eq!(found.as_deref(), Some("2097152"));
    }

    #[test]
    fn shared_targets_are_reused() {
        assert_eq!(single(), single());
        let pair = pair();
        assert_eq!(pair.servers.len(), 2);
        assert_ne!(pair.servers[0], pair.servers[1]);
        assert!(ascii(&pair.servers[1], "version\r\n").starts_with("VERSION"));
    }
}
