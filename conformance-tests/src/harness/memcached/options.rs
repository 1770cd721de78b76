//! [`MemcachedOptions`]: how to start a memcached, and what the shared lifecycle needs to know of
//! one (its command line, its binaries, how to ask it for its process id).

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use super::sasl::write_sasl_db;
use super::transport::{ServerCertificate, connect};
use crate::harness::process::require_binary;
use crate::harness::server::sealed::{Launch, Probe};
use crate::harness::tls::TestCertificates;

/// How to start a memcached.
#[derive(Debug, Clone)]
pub struct MemcachedOptions {
    sasl: Option<(String, String)>,
    ascii_auth: Option<(String, String)>,
    item_size: Option<String>,
    memory_mb: u32,
    tls: Option<ServerCertificate>,
    unix_socket: bool,
    binary_only: bool,
    extra_args: Vec<String>,
}

impl Default for MemcachedOptions {
    fn default() -> Self {
        MemcachedOptions {
            sasl: None,
            ascii_auth: None,
            item_size: None,
            memory_mb: 64,
            tls: None,
            unix_socket: false,
            binary_only: false,
            extra_args: Vec::new(),
        }
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

    /// Serves TLS only (`-Z`) with the [shared test certificates](TestCertificates::shared): a
    /// certificate for `localhost` and 127.0.0.1, and a client certificate signed by the test CA
    /// required of every client (`ssl_verify_mode=2`). Its [target](super::MemcachedServer::target)
    /// is `tls://127.0.0.1:<port>` with the client's `tls_*` options.
    pub fn tls(mut self) -> Self {
        self.tls = Some(ServerCertificate::Good);
        self
    }

    /// Like [`tls`](Self::tls), but the server presents a certificate for `wrong-name.invalid`:
    /// a client of 127.0.0.1 refuses it.
    pub fn tls_with_wrong_name(mut self) -> Self {
        self.tls = Some(ServerCertificate::WrongName);
        self
    }

    /// Listens on a unix socket in its directory (`-s`; memcached then opens no TCP port) instead
    /// of 127.0.0.1; its [target](super::MemcachedServer::target) is `unix:<path>`.
    pub fn unix_socket(mut self) -> Self {
        self.unix_socket = true;
        self
    }

    /// Speaks only the binary protocol (`-B binary`): the text and meta commands are refused
    /// (memcached closes the connection), as memcached before 1.6 refuses the meta commands.
    pub fn binary_only(mut self) -> Self {
        self.binary_only = true;
        self
    }

    /// Any other memcached argument.
    pub fn arg(mut self, arg: &str) -> Self {
        self.extra_args.push(arg.to_owned());
        self
    }
}

impl MemcachedOptions {
    /// The SASL user and password the server requires, if any.
    pub(super) fn sasl_credentials(&self) -> Option<&(String, String)> {
        self.sasl.as_ref()
    }

    /// How a client names this server in `CACHE_MEMCACHED_SERVERS`.
    pub(super) fn entry(&self, port: u16, dir: &Path) -> String {
        if self.unix_socket {
            return format!("unix:{}", socket_path(dir).display());
        }
        match self.tls {
            Some(_) => format!("tls://127.0.0.1:{port}"),
            None => format!("127.0.0.1:{port}"),
        }
    }

    /// The `CACHE_OPTIONS` a client needs (the TLS files of a TLS server).
    pub(super) fn client_options(&self) -> Vec<(String, String)> {
        if self.tls.is_none() {
            return Vec::new();
        }
        TestCertificates::shared().client_option_pairs()
    }
}

impl Launch for MemcachedOptions {
    const NAME: &'static str = "memcached";

    fn require_binaries(&self) {
        require_binary("memcached", "memcached");
    }

    fn prepare(&self, dir: &Path) {
        if let Some((user, password)) = &self.sasl {
            write_sasl_db(dir, user, password);
        }
        if let Some((user, password)) = &self.ascii_auth {
            std::fs::write(dir.join("authfile"), format!("{user}:{password}\n"))
                .unwrap_or_else(|e| panic!("cannot write the memcached auth file: {e}"));
        }
    }

    fn command(&self, port: u16, dir: &Path) -> Command {
        let mut command = Command::new("memcached");
        if self.unix_socket {
            command.arg("-s").arg(socket_path(dir));
        } else {
            command.args(["-l", "127.0.0.1", "-p", &port.to_string(), "-U", "0"]);
        }
        if let Some(certificate) = self.tls {
            let certs = TestCertificates::shared();
            let (cert, key) = certificate.files(certs);
            command.arg("-Z").arg("-o").arg(format!(
                "ssl_chain_cert={},ssl_key={},ssl_ca_cert={},ssl_verify_mode=2",
                cert.display(),
                key.display(),
                certs.ca_file().display()
            ));
        }
        command.args(["-m", &self.memory_mb.to_string()]);
        if let Some(size) = &self.item_size {
            command.args(["-I", size]);
        }
        if self.sasl.is_some() {
            command.arg("-S").env("SASL_CONF_PATH", dir.join("sasl"));
        }
        if self.ascii_auth.is_some() {
            command.arg("-Y").arg(dir.join("authfile"));
        }
        if self.binary_only {
            command.args(["-B", "binary"]);
        }
        // memcached refuses to run as root unless told which user to run as.
        // SAFETY: geteuid has no preconditions and cannot fail.
        if unsafe { libc::geteuid() } == 0 {
            command.args(["-u", "root"]);
        }
        command.args(&self.extra_args);
        command
    }

    fn listens_on_tcp(&self) -> bool {
        !self.unix_socket
    }

    /// `stats` names the pid (after the auth token for an ASCII-auth server). A SASL server tells
    /// nothing before authentication, and a binary-only one no text at all, so a binary
    /// `version` answered at all must do.
    fn probe(&self, port: u16, dir: &Path) -> Probe {
        let unix = self.unix_socket.then(|| socket_path(dir));
        let Some(mut stream) = connect(port, unix.as_deref(), self.tls) else { return Probe::Silent };
        if self.sasl.is_some() || self.binary_only {
            return binary_version_answered(stream);
        }
        let mut request = String::new();
        if let Some((user, password)) = &self.ascii_auth {
            let token = format!("{user} {password}");
            request.push_str(&format!("set auth 0 0 {}\r\n{token}\r\n", token.len()));
        }
        request.push_str("stats\r\n");
        if stream.write_all(request.as_bytes()).is_err() {
            return Probe::Silent;
        }
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            if let Some(pid) = line.strip_prefix("STAT pid ") {
                return pid.trim().parse().map_or(Probe::Silent, Probe::Pid);
            }
            if line.starts_with("END") {
                break;
            }
        }
        Probe::Silent
    }
}

/// Whether a binary-protocol `version` request gets a binary-protocol response (magic 0x81).
fn binary_version_answered(mut stream: Box<dyn super::transport::Stream>) -> Probe {
    let mut request = [0u8; 24];
    request[0] = 0x80; // request magic
    request[1] = 0x0b; // version
    let mut header = [0u8; 24];
    match stream.write_all(&request).and_then(|()| stream.read_exact(&mut header)) {
        Ok(()) if header[0] == 0x81 => Probe::Answers,
        _ => Probe::Silent,
    }
}

/// Where a unix-socket server listens.
fn socket_path(dir: &Path) -> PathBuf {
    dir.join("memcached.sock")
}
