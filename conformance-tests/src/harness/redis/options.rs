//! [`RedisOptions`]: how to start a redis-server, and what the shared lifecycle needs to know of
//! one (its redis.conf, its binaries, how to ask it for its process id).

use std::path::{Path, PathBuf};
use std::process::Command;

use super::certificates::make_certificates;
use super::{cli, reported_pid, require_cli};
use crate::harness::process::require_binary;
use crate::harness::server::sealed::{Launch, Probe};

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

    /// Serve TLS only (`tls-port`), with a certificate for `localhost` and 127.0.0.1 signed by the
    /// harness's test CA ([`RedisServer::ca_file`](super::RedisServer::ca_file)), and require a
    /// client certificate signed by it (`tls-auth-clients yes`: [`TestCertificates`] has one). A
    /// cluster node replicates and gossips over TLS too.
    ///
    /// [`TestCertificates`]: crate::harness::tls::TestCertificates
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

impl RedisOptions {
    /// Whether the server speaks TLS only.
    pub(super) fn is_tls(&self) -> bool {
        self.tls
    }

    /// Runs one command with redis-cli against the server on `port` started with these options
    /// (over TLS with the CA in `dir` for a TLS server, as the default user).
    pub(super) fn cli(&self, port: u16, dir: &Path, args: &[&str]) -> String {
        if self.tls {
            let (ca, cert, key) = (dir.join("ca.crt"), dir.join("client.crt"), dir.join("client.key"));
            let path = |p: &Path| p.to_str().unwrap_or_default().to_owned();
            let (ca, cert, key) = (path(&ca), path(&cert), path(&key));
            let mut tls_args = vec!["--tls", "--cacert", &ca, "--cert", &cert, "--key", &key];
            tls_args.extend_from_slice(args);
            return cli(port, self.password.as_deref(), &tls_args);
        }
        cli(port, self.password.as_deref(), args)
    }

    /// `redis://[:password@]127.0.0.1:<port>` (the default user); `rediss://localhost:<port>`
    /// for a TLS server.
    pub(super) fn url(&self, port: u16) -> String {
        if self.tls {
            return format!("rediss://localhost:{port}");
        }
        match &self.password {
            Some(p) => format!("redis://:{p}@127.0.0.1:{port}"),
            None => format!("redis://127.0.0.1:{port}"),
        }
    }

    fn write_conf(&self, port: u16, dir: &Path) -> PathBuf {
        let mut conf = vec![
            format!("port {port}"),
            "bind 127.0.0.1".to_owned(),
            "daemonize no".to_owned(),
            "save \"\"".to_owned(),
            "appendonly no".to_owned(),
            format!("dir {}", dir.display()),
            // No `logfile`: the log goes to standard output, which the lifecycle writes to
            // redis.log, so that early errors (a bad line, a taken port) land there too.
            // Replicas sync at once instead of after redis's default 5 s delay.
            "repl-diskless-sync-delay 0".to_owned(),
        ];
        if let Some(password) = &self.password {
            conf.push(format!("requirepass {password}"));
            conf.push(format!("masterauth {password}"));
        }
        if let Some((user, password)) = &self.acl_user {
            conf.push(format!("user {user} on >{password} ~* &* +@all"));
        }
        if self.tls {
            conf[0] = "port 0".to_owned();
            conf.push(format!("tls-port {port}"));
            conf.push(format!("tls-cert-file {}", dir.join("server.crt").display()));
            conf.push(format!("tls-key-file {}", dir.join("server.key").display()));
            conf.push(format!("tls-ca-cert-file {}", dir.join("ca.crt").display()));
            conf.push("tls-auth-clients yes".to_owned());
            if self.cluster {
                conf.push("tls-cluster yes".to_owned());
            }
            conf.push("tls-replication yes".to_owned());
        }
        if let Some(master) = self.replica_of {
            conf.push(format!("replicaof 127.0.0.1 {master}"));
        }
        if self.cluster {
            conf.push("cluster-enabled yes".to_owned());
            conf.push(format!("cluster-config-file {}", dir.join("nodes.conf").display()));
            conf.push("cluster-node-timeout 2000".to_owned());
        }
        conf.extend(self.extra.iter().cloned());
        let path = dir.join("redis.conf");
        std::fs::write(&path, conf.join("\n") + "\n").unwrap_or_else(|e| panic!("cannot write redis.conf: {e}"));
        path
    }
}

impl Launch for RedisOptions {
    const NAME: &'static str = "redis";

    fn require_binaries(&self) {
        require_binary("redis-server", "redis-server");
        require_cli();
    }

    /// A TLS server's certificates are made once, so a restart keeps the CA its clients trust.
    fn prepare(&self, dir: &Path) {
        if self.tls {
            make_certificates(dir);
        }
    }

    fn command(&self, port: u16, dir: &Path) -> Command {
        let mut command = Command::new("redis-server");
        command.arg(self.write_conf(port, dir));
        command
    }

    fn probe(&self, port: u16, dir: &Path) -> Probe {
        reported_pid(&self.cli(port, dir, &["INFO", "server"]))
    }
}
