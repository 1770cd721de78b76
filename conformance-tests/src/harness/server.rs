//! The lifecycle every server of the harness shares, written once: a temporary directory, a free
//! loopback port, a process started there and waited for until it answers, killed, restarted on
//! the same port.
//!
//! A server type says only what differs (the sealed [`ServerKind`], implemented by its options):
//! the binaries it needs, the files it needs before its first start, its command line, and how to
//! ask whatever listens on its port who it is.

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::keep::{KeepForProcess, Kept};
use super::process::{ServerProcess, free_port, log_tail};

/// How long a starting server may take to answer.
const START_TIMEOUT: Duration = Duration::from_secs(15);

/// How many ports one start tries when other processes take the chosen port first.
const PORT_ATTEMPTS: usize = 5;

/// What redis ("bind: Address already in use") and memcached ("failed to listen on TCP port ...:
/// Address already in use") log when their port is taken, lowercased.
const ADDRESS_IN_USE: &str = "address already in use";

/// The options of a server type of the harness ([`RedisOptions`](super::redis::RedisOptions),
/// [`MemcachedOptions`](super::memcached::MemcachedOptions)): what a [`Server`] is started with.
///
/// Sealed: only this crate implements it (what it asks of a server type may change).
pub trait ServerKind: sealed::Launch {}

impl<K: sealed::Launch> ServerKind for K {}

pub(crate) mod sealed {
    use std::path::Path;
    use std::process::Command;

    /// What differs between server types.
    pub trait Launch: std::fmt::Debug {
        /// Short name: the process's name, the prefix of its directory, and `<NAME>.log` there.
        const NAME: &'static str;

        /// Panics with the install command if a binary the server needs is missing.
        fn require_binaries(&self);

        /// Writes what the server needs before its first start (certificates, a SASL database).
        fn prepare(&self, _dir: &Path) {}

        /// The command that runs the server in the foreground on 127.0.0.1:`port`, logging to its
        /// standard output and error, with its files in `dir`.
        fn command(&self, port: u16, dir: &Path) -> Command;

        /// Asks what accepts connections on 127.0.0.1:`port` who it is.
        fn probe(&self, port: u16, dir: &Path) -> Probe;

        /// False for a server that listens on a unix socket only: its probe is not preceded by a
        /// TCP connection to its (unused) port.
        fn listens_on_tcp(&self) -> bool {
            true
        }
    }

    /// What a probe learnt. A process id is asked for because, between `free_port` and the
    /// server's bind, another process (another test binary's harness, say) may take the port: an
    /// answer from that server must not pass for ours.
    pub enum Probe {
        /// Nothing there answers as this kind of server (yet).
        Silent,
        /// A server of this kind answers, and cannot say its process id before authentication
        /// (memcached with SASL).
        Answers,
        /// A server of this kind answers with this process id.
        Pid(u32),
    }
}

use sealed::Probe;

/// A server process on a loopback port, in its own temporary directory; killed when this value is
/// dropped (and, on Linux, when the test process dies). [`RedisServer`](super::redis::RedisServer)
/// and [`MemcachedServer`](super::memcached::MemcachedServer) are the two kinds.
///
/// A start picks a free port and waits until the server there answers with its own process id. A
/// server that exits while starting fails the start at once, with its log; one that exits because
/// another process took its port first is started again on a new port (up to 5 ports).
#[derive(Debug)]
pub struct Server<K> {
    options: K,
    port: u16,
    // Before `dir`: fields drop in order, and the process must be gone before its directory is.
    process: Option<ServerProcess>,
    dir: tempfile::TempDir,
}

/// Why a start failed.
enum Failure {
    /// The process exited, saying its port is taken.
    PortTaken,
    /// The process exited for another reason.
    Exited,
    /// The process runs but did not answer in time.
    TimedOut,
}

impl<K: ServerKind + Default> Server<K> {
    /// Starts a server with the default options and waits until it answers.
    pub fn start() -> Server<K> {
        Self::start_with(K::default())
    }
}

impl<K: ServerKind> Server<K> {
    /// Starts a server with `options` and waits until it answers. Panics with the install command
    /// if a binary is missing, or with the server's log if it does not start.
    pub fn start_with(options: K) -> Server<K> {
        Self::start_on_first_free(options, std::iter::repeat_with(free_port))
    }

    /// Starts on the first of `ports` (at most [`PORT_ATTEMPTS`] of them) that is still free when
    /// the server binds it: `free_port` only says a port was free when it chose it.
    fn start_on_first_free(options: K, ports: impl IntoIterator<Item = u16>) -> Server<K> {
        options.require_binaries();
        let dir = tempfile::Builder::new()
            .prefix(&format!("cachette-{}-", K::NAME))
            .tempdir()
            .unwrap_or_else(|e| panic!("cannot create a temporary directory for {}: {e}", K::NAME));
        options.prepare(dir.path());
        let mut server = Server { options, port: 0, process: None, dir };
        let mut ports = ports.into_iter().take(PORT_ATTEMPTS).enumerate().peekable();
        while let Some((tried, port)) = ports.next() {
            server.port = port;
            match server.spawn_and_wait() {
                Ok(()) => return server,
                Err(Failure::PortTaken) if ports.peek().is_some() => continue,
                Err(failure) => server.fail(failure, tried + 1),
            }
        }
        panic!("no port to start {} on", K::NAME)
    }

    /// Starts the server again on the same port (killing it first if it runs) and waits until it
    /// answers. Like a real restart without persistence, it comes back empty.
    pub fn restart(&mut self) {
        self.kill();
        if let Err(failure) = self.spawn_and_wait() {
            self.fail(failure, 1);
        }
    }

    /// Kills the process with SIGKILL, as a crash would. The port refuses connections afterwards.
    pub fn kill(&mut self) {
        if let Some(mut process) = self.process.take() {
            process.kill();
        }
    }

    /// Stops the process with SIGSTOP: a server that still accepts connections (the kernel
    /// completes the handshake) but never answers, as a hung or swapping server does. It can
    /// still be [killed](Self::kill) (and is, when dropped) or [resumed](Self::resume).
    ///
    /// Returns once every thread of the process has stopped: kill(2) only queues the signal, and
    /// a thread of a busy server could otherwise still answer the test's next request (seen once
    /// in the memcached stall test on a loaded machine).
    pub fn stall(&mut self) {
        if let Some(process) = self.process.as_mut()
            && process.signal(libc::SIGSTOP)
            && let Some(pid) = process.pid()
        {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
            while !all_threads_stopped(pid) && std::time::Instant::now() < deadline {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
        }
    }

    /// Continues a [stalled](Self::stall) server with SIGCONT; it answers what it was sent.
    pub fn resume(&mut self) {
        if let Some(process) = self.process.as_mut() {
            process.signal(libc::SIGCONT);
        }
    }

    /// Whether the process runs.
    pub fn is_running(&mut self) -> bool {
        self.process.as_mut().is_some_and(ServerProcess::is_running)
    }

    /// The port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:<port>`.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The last `lines` lines of the server's log (every run of it, restarts included).
    pub fn log_tail(&self, lines: usize) -> String {
        log_tail(&self.log_path(), lines)
    }

    /// The server's temporary directory: its log (`<name>.log`) and the files it was started with.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The options the server was started with.
    pub(crate) fn options(&self) -> &K {
        &self.options
    }

    fn log_path(&self) -> PathBuf {
        self.dir().join(format!("{}.log", K::NAME))
    }

    fn spawn_and_wait(&mut self) -> Result<(), Failure> {
        let log = self.log_path();
        // Only what this run writes says why it failed: a restart appends to the earlier runs' log.
        let run_starts_at = std::fs::metadata(&log).map_or(0, |m| m.len());
        let command = self.options.command(self.port, self.dir());
        let process = ServerProcess::spawn(format!("{}:{}", K::NAME, self.port), command, &log)
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", K::NAME));
        let pid = process.pid();
        self.process = Some(process);
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if !self.is_running() {
                let output = read_from(&log, run_starts_at).to_ascii_lowercase();
                return Err(if output.contains(ADDRESS_IN_USE) { Failure::PortTaken } else { Failure::Exited });
            }
            if !self.options.listens_on_tcp() || TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                match self.options.probe(self.port, self.dir()) {
                    Probe::Answers => return Ok(()),
                    Probe::Pid(answered) if Some(answered) == pid => return Ok(()),
                    Probe::Pid(_) | Probe::Silent => {}
                }
            }
            if Instant::now() > deadline {
                return Err(Failure::TimedOut);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn fail(&self, failure: Failure, ports_tried: usize) -> ! {
        let why = match failure {
            Failure::PortTaken if ports_tried > 1 => {
                format!("another process took each of the {ports_tried} ports it tried before it could listen")
            }
            Failure::PortTaken => "another process holds its port".to_owned(),
            Failure::Exited => "it exited while starting".to_owned(),
            Failure::TimedOut => format!("it did not answer within {START_TIMEOUT:?}"),
        };
        panic!("{} on port {} did not start: {why}. Its log:\n{}", K::NAME, self.port, self.log_tail(30));
    }
}

impl<K: ServerKind> KeepForProcess for Server<K> {
    fn kept(&self) -> Vec<Kept> {
        vec![Kept { pid: self.process.as_ref().and_then(ServerProcess::pid), dir: self.dir().to_owned() }]
    }
}

impl<K: ServerKind> Server<K> {
    /// This server, for a `static` of a test binary: a `static` is never dropped, so the server
    /// is killed and its directory removed when the process exits instead.
    pub fn cleaned_up_at_exit(self) -> Self {
        self.keep_for_process()
    }
}

/// What the file at `path` holds past its first `offset` bytes.
fn read_from(path: &Path, offset: u64) -> String {
    let bytes = std::fs::read(path).unwrap_or_default();
    let start = usize::try_from(offset).unwrap_or(usize::MAX).min(bytes.len());
    String::from_utf8_lossy(&bytes[start..]).into_owned()
}

/// Whether every thread of process `pid` is stopped (state `T` in `/proc/<pid>/task/*/stat`).
/// Where `/proc` cannot tell, it says yes: the caller then only loses the wait.
fn all_threads_stopped(pid: u32) -> bool {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return true };
    tasks.flatten().all(|task| {
        let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
        // The state follows the command name, which is in parentheses and may hold spaces.
        stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().next()).is_none_or(|state| state == "T")
    })
}

#[cfg(test)]
mod tests {
    use std::net::TcpListener;
    use std::panic::{AssertUnwindSafe, catch_unwind};

    use super::*;
    use crate::harness::memcached::MemcachedOptions;
    use crate::harness::redis::RedisOptions;

    /// `first`, then ports from `free_port`.
    fn ports_from(first: u16) -> impl Iterator<Item = u16> {
        std::iter::once(first).chain(std::iter::repeat_with(free_port))
    }

    fn panic_message(run: impl FnOnce()) -> String {
        let panic = catch_unwind(AssertUnwindSafe(run)).expect_err("the start must fail");
        panic.downcast_ref::<String>().cloned().unwrap_or_default()
    }

    /// Far below [`START_TIMEOUT`]: the failure was noticed, not waited out.
    const PROMPTLY: Duration = Duration::from_secs(5);

    #[test]
    fn a_start_on_a_port_something_else_listens_on_moves_to_another_port() {
        let taken = free_port();
        let _holder = TcpListener::bind(("127.0.0.1", taken)).unwrap();
        let started = Instant::now();
        let server = Server::start_on_first_free(MemcachedOptions::new(), ports_from(taken));
        assert_ne!(server.port(), taken);
        assert!(started.elapsed() < PROMPTLY, "took {:?}", started.elapsed());
        assert!(server.log_tail(50).to_ascii_lowercase().contains(ADDRESS_IN_USE), "{}", server.log_tail(50));
    }

    #[test]
    fn another_memcached_on_the_port_is_not_mistaken_for_ours() {
        let other = Server::start_with(MemcachedOptions::new());
        let ours = Server::start_on_first_free(MemcachedOptions::new(), ports_from(other.port()));
        assert_ne!(ours.port(), other.port());
    }

    #[test]
    fn another_redis_on_the_port_is_not_mistaken_for_ours() {
        let other = Server::start_with(RedisOptions::new());
        let started = Instant::now();
        let ours = Server::start_on_first_free(RedisOptions::new(), ports_from(other.port()));
        assert_ne!(ours.port(), other.port());
        assert!(started.elapsed() < PROMPTLY, "took {:?}", started.elapsed());
    }

    #[test]
    fn a_restart_on_a_port_taken_meanwhile_fails_at_once_with_the_log() {
        let mut server = Server::start_with(MemcachedOptions::new());
        server.kill();
        let _holder = TcpListener::bind(("127.0.0.1", server.port())).unwrap();
        let started = Instant::now();
        let message = panic_message(|| server.restart());
        assert!(started.elapsed() < PROMPTLY, "took {:?}", started.elapsed());
        assert!(message.contains("another process holds its port"), "{message}");
        assert!(message.to_ascii_lowercase().contains(ADDRESS_IN_USE), "the log is in the message: {message}");
    }

    #[test]
    fn a_server_that_exits_while_starting_fails_at_once_with_its_log() {
        let started = Instant::now();
        let message = panic_message(|| {
            Server::start_with(MemcachedOptions::new().arg("--no-such-option"));
        });
        assert!(started.elapsed() < PROMPTLY, "took {:?}", started.elapsed());
        assert!(message.contains("it exited while starting"), "{message}");
        assert!(message.contains("no-such-option"), "the log is in the message: {message}");
    }
}
