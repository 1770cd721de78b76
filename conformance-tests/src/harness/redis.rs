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

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use cachette_core::Config;

use super::process::{ServerProcess, free_port, require_binary, wait_for_tcp};

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

/// How long a starting server may take to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(15);

fn require_server() {
    require_binary("redis-server", "redis-server");
}

fn require_cli() {
    require_binary("redis-cli", "redis-tools");
}

/// Where a cache under test finds a standalone Redis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisTarget {
    /// `redis://[user:password@]127.0.0.1:<port>`.
    pub url: String,
}

impl RedisTarget {
    /// Sets `CACHE_REDIS_URL`.
    pub fn apply(&self, config: &mut Config) {
        config.redis_url = Some(self.url.clone());
    }
}

/// How to start a redis-server.
#[derive(Debug, Clone, Default)]
pub struct RedisOptions {
    password: Option<String>,
    acl_user: Option<(String, String)>,
    replica_of: Option<u16>,
    cluster: bool,
    tls: bool,
    extra: Vec<String>,
}

impl RedisOptions {
    /// A plain server: no password, no persistence.
    pub fn new() -> Self {
        Self::default()
    }

    /// `requirepass` (the default user's password).
    pub fn password(mut self, password: &str) -> Self {
        self.password = Some(password.to_owned());
        self
    }

    /// An ACL user with every permission on every key.
    pub fn acl_user(mut self, user: &str, password: &str) -> Self {
        self.acl_user = Some((user.to_owned(), password.to_owned()));
        self
    }

    /// A replica of the server on 127.0.0.1:`port`.
    pub fn replica_of(mut self, port: u16) -> Self {
        self.replica_of = Some(port);
        self
    }

    /// A cluster node (`cluster-enabled yes`, node timeout 2 s).
    pub fn cluster_node(mut self) -> Self {
        self.cluster = true;
        self
    }

    /// Serve TLS only (`tls-port`), with a certificate for `localhost` and 127.0.0.1 signed by a
    /// CA made for this server with openssl ([`RedisServer::ca_file`]).
    pub fn tls(mut self) -> Self {
        self.tls = true;
        self
    }

    /// Any other line of redis.conf.
    pub fn conf(mut self, line: &str) -> Self {
        self.extra.push(line.to_owned());
        self
    }
}

/// A redis-server on a loopback port, killed when this value is dropped (and when the test
/// process dies).
#[derive(Debug)]
pub struct RedisServer {
    port: u16,
    options: RedisOptions,
    dir: tempfile::TempDir,
    process: Option<ServerProcess>,
}

impl RedisServer {
    /// Starts a plain server and waits until it answers.
    pub fn start() -> RedisServer {
        Self::start_with(RedisOptions::new())
    }

    /// Starts a server with `options` and waits until it answers `PING`. Panics with the install
    /// command if the binary is missing, or with the server's log if it does not start.
    pub fn start_with(options: RedisOptions) -> RedisServer {
        require_server();
        require_cli();
        let dir = tempfile::Builder::new()
            .prefix("cachette-redis-")
            .tempdir()
            .unwrap_or_else(|e| panic!("cannot create a temporary directory for redis: {e}"));
        let mut server = RedisServer { port: free_port(), options, dir, process: None };
        server.spawn_and_wait();
        server
    }

    fn write_conf(&self) -> PathBuf {
        let dir = self.dir.path();
        let mut conf = vec![
            format!("port {}", self.port),
            "bind 127.0.0.1".to_owned(),
            "daemonize no".to_owned(),
            "save \"\"".to_owned(),
            "appendonly no".to_owned(),
            format!("dir {}", dir.display()),
            format!("logfile {}", dir.join("redis.log").display()),
            // Replicas sync at once instead of after redis's default 5 s delay.
            "repl-diskless-sync-delay 0".to_owned(),
        ];
        if let Some(password) = &self.options.password {
            conf.push(format!("requirepass {password}"));
            conf.push(format!("masterauth {password}"));
        }
        if let Some((user, password)) = &self.options.acl_user {
            conf.push(format!("user {user} on >{password} ~* &* +@all"));
        }
        if self.options.tls {
            make_certificates(dir);
            conf[0] = "port 0".to_owned();
            conf.push(format!("tls-port {}", self.port));
            conf.push(format!("tls-cert-file {}", dir.join("server.crt").display()));
            conf.push(format!("tls-key-file {}", dir.join("server.key").display()));
            conf.push(format!("tls-ca-cert-file {}", dir.join("ca.crt").display()));
            conf.push("tls-auth-clients no".to_owned());
        }
        if let Some(master) = self.options.replica_of {
            conf.push(format!("replicaof 127.0.0.1 {master}"));
        }
        if self.options.cluster {
            conf.push("cluster-enabled yes".to_owned());
            conf.push(format!("cluster-config-file {}", dir.join("nodes.conf").display()));
            conf.push("cluster-node-timeout 2000".to_owned());
        }
        conf.extend(self.options.extra.iter().cloned());
        let path = dir.join("redis.conf");
        std::fs::write(&path, conf.join("\n") + "\n").unwrap_or_else(|e| panic!("cannot write redis.conf: {e}"));
        path
    }

    fn spawn_and_wait(&mut self) {
        let conf = self.write_conf();
        let mut command = Command::new("redis-server");
        command.arg(&conf);
        let log = self.dir.path().join("stdout.log");
        let process = ServerProcess::spawn(format!("redis:{}", self.port), command, &log)
            .unwrap_or_else(|e| panic!("cannot start redis-server: {e}"));
        self.process = Some(process);
        let addr: SocketAddr = ([127, 0, 0, 1], self.port).into();
        let deadline = Instant::now() + START_TIMEOUT;
        let ready = wait_for_tcp(addr, START_TIMEOUT).is_ok() && {
            loop {
                if self.cli(&["PING"]).trim() == "PONG" {
                    break true;
                }
                if Instant::now() > deadline {
                    break false;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        };
        if !ready {
            panic!("redis-server on port {} did not start. Its log:\n{}", self.port, self.log_tail(30));
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

    /// `redis://[:password@]127.0.0.1:<port>` (the default user); `rediss://localhost:<port>`
    /// for a TLS server.
    pub fn url(&self) -> String {
        if self.options.tls {
            return format!("rediss://localhost:{}", self.port);
        }
        match &self.options.password {
            Some(p) => format!("redis://:{p}@127.0.0.1:{}", self.port),
            None => format!("redis://127.0.0.1:{}", self.port),
        }
    }

    /// This server as a target.
    pub fn target(&self) -> RedisTarget {
        RedisTarget { url: self.url() }
    }

    /// Runs one command with redis-cli (authenticated as the default user) and returns its raw
    /// output (`--no-raw` off: plain values, one per line).
    pub fn cli(&self, args: &[&str]) -> String {
        if self.options.tls {
            let ca = self.ca_file();
            let mut tls_args = vec!["--tls", "--cacert", ca.to_str().unwrap_or_default()];
            tls_args.extend_from_slice(args);
            return cli(self.port, self.options.password.as_deref(), &tls_args);
        }
        cli(self.port, self.options.password.as_deref(), args)
    }

    /// The PEM file of the CA that signed a TLS server's certificate.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.crt")
    }

    /// One field of `INFO <section>`, e.g. `info_field("commandstats", "cmdstat_mget")`.
    pub fn info_field(&self, section: &str, field: &str) -> Option<String> {
        let info = self.cli(&["INFO", section]);
        info.lines().find_map(|line| line.trim().strip_prefix(&format!("{field}:")).map(str::to_owned))
    }

    /// Kills the process with SIGKILL, as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut process) = self.process.take() {
            process.kill();
        }
    }

    /// Starts the server again on the same port (killing it first if it runs) and waits until it
    /// answers. Without persistence it comes back empty.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn_and_wait();
    }

    /// Whether the process runs.
    pub fn is_running(&mut self) -> bool {
        self.process.as_mut().is_some_and(ServerProcess::is_running)
    }

    /// The last `lines` lines of the server's log file.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(self.dir.path().join("redis.log")).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// The server's temporary directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

/// A CA and a server certificate for `localhost` / 127.0.0.1 signed by it, in `dir`.
fn make_certificates(dir: &Path) {
    require_binary("openssl", "openssl");
    let run = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .unwrap_or_else(|e| panic!("cannot run openssl: {e}"));
        if !out.status.success() {
            panic!("openssl {} failed: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
        }
    };
    std::fs::write(dir.join("san.ext"), "subjectAltName=DNS:localhost,IP:127.0.0.1\n")
        .unwrap_or_else(|e| panic!("cannot write san.ext: {e}"));
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=cachette test CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
    ]);
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=localhost",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
    ]);
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "san.ext",
        "-out",
        "server.crt",
    ]);
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

/// A plain redis-server shared by the tests of this process (or `CACHETTE_TEST_REDIS_URL`).
pub fn standalone() -> RedisTarget {
    if let Ok(url) = std::env::var(URL_ENV) {
        return RedisTarget { url };
    }
    static SERVER: OnceLock<RedisServer> = OnceLock::new();
    SERVER.get_or_init(|| keep_for_process(RedisServer::start())).target()
}

/// Where a cache under test finds a Sentinel-managed master.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentinelTarget {
    /// `host:port` of each sentinel.
    pub sentinels: Vec<String>,
    /// The monitored master's name.
    pub master_name: String,
}

impl SentinelTarget {
    /// Sets `CACHE_REDIS_SENTINELS` and `CACHE_REDIS_SENTINEL_MASTER`.
    pub fn apply(&self, config: &mut Config) {
        config.redis_sentinels = self.sentinels.clone();
        config.redis_sentinel_master = Some(self.master_name.clone());
    }
}

/// One master, one replica and three sentinels (quorum 2, `down-after-milliseconds` 1000,
/// `failover-timeout` 3000), all on loopback. Killed when dropped.
#[derive(Debug)]
pub struct SentinelTopology {
    master: RedisServer,
    replica: RedisServer,
    sentinels: Vec<(u16, tempfile::TempDir, ServerProcess)>,
}

impl SentinelTopology {
    /// Starts the topology and waits until the sentinels know the master, the replica and each
    /// other (about 2 s): the replica is synced before the sentinels start, so they find it in
    /// their first poll instead of after 10 s.
    pub fn start() -> SentinelTopology {
        require_binary("redis-sentinel", "redis-sentinel");
        let master = RedisServer::start();
        let replica = RedisServer::start_with(RedisOptions::new().replica_of(master.port()));
        wait_until(Duration::from_secs(20), "the replica to sync", || {
            replica.info_field("replication", "master_link_status").as_deref() == Some("up")
        });
        let sentinels: Vec<_> = (0..3).map(|_| start_sentinel(master.port())).collect();
        let topology = SentinelTopology { master, replica, sentinels };
        let first = topology.sentinels[0].0;
        wait_until(Duration::from_secs(30), "the sentinels to see the replica and each other", || {
            let info = cli(first, None, &["SENTINEL", "MASTER", MASTER_NAME]);
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
        SentinelTarget {
            sentinels: self.sentinels.iter().map(|(port, ..)| format!("127.0.0.1:{port}")).collect(),
            master_name: MASTER_NAME.to_owned(),
        }
    }

    /// The master's port as the first sentinel reports it now.
    pub fn reported_master_port(&self) -> Option<u16> {
        let out = cli(self.sentinels[0].0, None, &["SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER_NAME]);
        out.lines().nth(1)?.trim().parse().ok()
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

    /// Waits until every sentinel reports the original replica as master and it answers `ROLE`
    /// as master; returns how long that took.
    pub fn wait_for_failover(&self, limit: Duration) -> Duration {
        let started = Instant::now();
        let replica = self.replica.port();
        wait_until(limit, "the sentinels to promote the replica", || {
            self.sentinels.iter().all(|(port, ..)| {
                let out = cli(*port, None, &["SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER_NAME]);
                out.lines().nth(1).map(str::trim) == Some(&replica.to_string())
            }) && self.replica.cli(&["ROLE"]).lines().next().map(str::trim) == Some("master")
        });
        started.elapsed()
    }
}

fn start_sentinel(master_port: u16) -> (u16, tempfile::TempDir, ServerProcess) {
    let port = free_port();
    let dir = tempfile::Builder::new()
        .prefix("cachette-sentinel-")
        .tempdir()
        .unwrap_or_else(|e| panic!("cannot create a temporary directory for redis-sentinel: {e}"));
    // Sentinel rewrites its config file, so it lives in the sentinel's own directory.
    let conf = dir.path().join("sentinel.conf");
    let text = format!(
        "port {port}\nbind 127.0.0.1\ndaemonize no\ndir {dir}\nlogfile {log}\n\
         sentinel monitor {MASTER_NAME} 127.0.0.1 {master_port} 2\n\
         sentinel down-after-milliseconds {MASTER_NAME} 1000\n\
         sentinel failover-timeout {MASTER_NAME} 3000\n\
         sentinel parallel-syncs {MASTER_NAME} 1\n",
        dir = dir.path().display(),
        log = dir.path().join("sentinel.log").display(),
    );
    std::fs::write(&conf, text).unwrap_or_else(|e| panic!("cannot write sentinel.conf: {e}"));
    let mut command = Command::new("redis-sentinel");
    command.arg(&conf);
    let process = ServerProcess::spawn(format!("sentinel:{port}"), command, &dir.path().join("stdout.log"))
        .unwrap_or_else(|e| panic!("cannot start redis-sentinel: {e}"));
    if let Err(e) = wait_for_tcp(([127, 0, 0, 1], port).into(), START_TIMEOUT) {
        let log = std::fs::read_to_string(dir.path().join("sentinel.log")).unwrap_or_default();
        panic!("redis-sentinel on port {port} did not start ({e}). Its log:\n{log}");
    }
    (port, dir, process)
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

/// A Sentinel topology shared by the tests of this process (or the sentinels named by
/// `CACHETTE_TEST_REDIS_SENTINELS`).
pub fn sentinel() -> SentinelTarget {
    if let Ok(list) = std::env::var(SENTINELS_ENV) {
        let sentinels = list.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect();
        let master_name = std::env::var(SENTINEL_MASTER_ENV).unwrap_or_else(|_| MASTER_NAME.to_owned());
        return SentinelTarget { sentinels, master_name };
    }
    static TOPOLOGY: OnceLock<SentinelTopology> = OnceLock::new();
    TOPOLOGY.get_or_init(|| keep_for_process(SentinelTopology::start())).target()
}

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
        require_cli();
        let count = masters * (1 + replicas);
        let nodes: Vec<RedisServer> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..count)
                .map(|_| scope.spawn(|| RedisServer::start_with(RedisOptions::new().cluster_node())))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e))).collect()
        });
        let mut command = Command::new("redis-cli");
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
    pub fn target(&self) -> ClusterTarget {
        ClusterTarget { nodes: self.nodes.iter().map(RedisServer::address).collect() }
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
    if let Ok(list) = std::env::var(CLUSTER_ENV) {
        return ClusterTarget {
            nodes: list.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect(),
        };
    }
    static TOPOLOGY: OnceLock<ClusterTopology> = OnceLock::new();
    TOPOLOGY.get_or_init(|| keep_for_process(ClusterTopology::start(3, 1))).target()
}

/// A server held in a `static` is never dropped: its process dies with the test process
/// (PR_SET_PDEATHSIG), and its temporary directory is removed at exit here.
fn keep_for_process<T: HasDirs>(topology: T) -> T {
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
    DIRS.lock().unwrap_or_else(|p| p.into_inner()).extend(topology.dirs());
    topology
}

/// Topologies whose temporary directories outlive a `static`.
trait HasDirs {
    fn dirs(&self) -> Vec<PathBuf>;
}

impl HasDirs for RedisServer {
    fn dirs(&self) -> Vec<PathBuf> {
        vec![self.dir().to_owned()]
    }
}

impl HasDirs for ClusterTopology {
    fn dirs(&self) -> Vec<PathBuf> {
        self.nodes.iter().flat_map(HasDirs::dirs).collect()
    }
}

impl HasDirs for SentinelTopology {
    fn dirs(&self) -> Vec<PathBuf> {
        let mut dirs = self.master.dirs();
        dirs.extend(self.replica.dirs());
        dirs.extend(self.sentinels.iter().map(|(_, dir, _)| dir.path().to_owned()));
        dirs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standalone_answers_and_restarts_on_the_same_port() {
        let mut server = RedisServer::start();
        assert_eq!(server.cli(&["SET", "k", "v"]).trim(), "OK");
        let port = server.port();
        server.kill();
        assert!(std::net::TcpStream::connect(server.address()).is_err());
        server.restart();
        assert_eq!(server.port(), port);
        assert_eq!(server.cli(&["PING"]).trim(), "PONG");
    }

    #[test]
    fn password_and_acl_user() {
        let server = RedisServer::start_with(RedisOptions::new().password("secret").acl_user("app", "apppass"));
        assert_eq!(server.cli(&["PING"]).trim(), "PONG");
        assert!(cli(server.port(), None, &["PING"]).contains("NOAUTH"));
        assert!(server.url().starts_with("redis://:secret@"));
        let out = Command::new("redis-cli")
            .args(["-p", &server.port().to_string(), "--user", "app", "--pass", "apppass", "--no-auth-warning", "PING"])
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "PONG");
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

    #[test]
    fn shared_standalone_is_reused() {
        assert_eq!(standalone(), standalone());
    }
}
