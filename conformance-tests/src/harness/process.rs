//! Server processes for tests: spawn, wait until ready, kill; and the binaries and ports they need.

use std::collections::HashSet;
use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The path of `binary` on `PATH`; panics with the install command if it is missing.
///
/// ```no_run
/// let redis = cachette_conformance::harness::require_binary("redis-server", "redis-server");
/// ```
pub fn require_binary(binary: &str, debian_package: &str) -> PathBuf {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths).map(|dir| dir.join(binary)).find(|candidate| is_executable(candidate))
    });
    found.unwrap_or_else(|| {
        panic!(
            "`{binary}` is not installed, and this test needs a real server. Install it with \
             `sudo apt-get install -y {debian_package}`, or run ./scripts/test, which installs every \
             server the test suite needs. (Or point the tests at running servers with the \
             environment variables described in the cachette-conformance docs.)"
        )
    })
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata().map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0).unwrap_or(false)
}

/// A loopback port that is free now and was not handed out before in this process, chosen in
/// 20000..=45000 so that `port + 10000` (Redis Cluster's bus port) is valid and free too.
pub fn free_port() -> u16 {
    static GIVEN: OnceLock<Mutex<HashSet<u16>>> = OnceLock::new();
    let given = GIVEN.get_or_init(|| Mutex::new(HashSet::new()));
    for _ in 0..10_000 {
        let port = 20_000 + (rand::random::<u16>() % 25_001);
        let mut given = given.lock().unwrap_or_else(|p| p.into_inner());
        if given.contains(&port) {
            continue;
        }
        let free = |p: u16| TcpListener::bind(("127.0.0.1", p)).is_ok();
        if free(port) && free(port + 10_000) {
            given.insert(port);
            return port;
        }
    }
    panic!("no free loopback port found in 20000..=45000");
}

/// Waits until something accepts TCP connections on `addr`.
pub fn wait_for_tcp(addr: SocketAddr, timeout: Duration) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    loop {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("nothing listens on {addr} after {timeout:?}"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A server process that is killed when this value is dropped — and, on Linux, through
/// `PR_SET_PDEATHSIG`, when the test process dies, however it dies (panic, timeout kill, ^C).
#[derive(Debug)]
pub struct ServerProcess {
    name: String,
    child: Option<Child>,
    log: PathBuf,
}

impl ServerProcess {
    /// Starts `command` with stdout and stderr appended to `log`.
    pub fn spawn(name: impl Into<String>, mut command: Command, log: &Path) -> io::Result<ServerProcess> {
        let name = name.into();
        let out = std::fs::OpenOptions::new().create(true).append(true).open(log)?;
        command.stdin(Stdio::null()).stdout(out.try_clone()?).stderr(out);
        let child = spawn_outliving_test_threads(command)?;
        Ok(ServerProcess { name, child: Some(child), log: log.to_owned() })
    }

    /// The process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.as_mut().map(|c| c.try_wait()), Some(Ok(None)))
    }

    /// Kills the process with SIGKILL (a crash, as a fault test wants) and reaps it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Sends `signal` to the process (e.g. `libc::SIGSTOP`); false if it is not running.
    pub fn signal(&mut self, signal: i32) -> bool {
        let Some(pid) = self.pid().and_then(|p| i32::try_from(p).ok()) else { return false };
        // SAFETY: kill(2) with the pid of a child we have not reaped: it cannot name another process.
        unsafe { libc::kill(pid, signal) == 0 }
    }

    /// The last `lines` lines of the process's log, for failure messages.
    pub fn log_tail(&self, lines: usize) -> String {
        log_tail(&self.log, lines)
    }

    /// The name given at spawn.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The last `lines` lines of the log file at `path` (empty if there is none yet).
pub(crate) fn log_tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Spawns from one long-lived thread. `PR_SET_PDEATHSIG` fires when the *thread* that forked the
/// child exits; test threads are short-lived while a shared server must live as long as the test
/// process, so every spawn goes through this thread, which lives until the process exits.
fn spawn_outliving_test_threads(mut command: Command) -> io::Result<Child> {
    type Job = (Command, mpsc::Sender<io::Result<Child>>);
    static SPAWNER: OnceLock<Mutex<mpsc::Sender<Job>>> = OnceLock::new();
    die_with_parent(&mut command);
    let spawner = SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("test-server-spawner".into())
            .spawn(move || {
                for (mut command, reply) in rx {
                    let _ = reply.send(command.spawn());
                }
            })
            .expect("cannot start the server spawner thread");
        Mutex::new(tx)
    });
    let (reply_tx, reply_rx) = mpsc::channel();
    spawner
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .send((command, reply_tx))
        .map_err(|_| io::Error::other("the server spawner thread is gone"))?;
    reply_rx.recv().map_err(|_| io::Error::other("the server spawner thread did not answer"))?
}

/// Has the child killed when the test process dies (Linux's `PR_SET_PDEATHSIG`).
#[cfg(any(target_os = "linux", target_os = "android"))]
fn die_with_parent(command: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: the closure runs in the child between fork and exec and only calls prctl, which is
    // async-signal-safe.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Other Unix systems have no `PR_SET_PDEATHSIG`: a server outlives a test process killed by a
/// signal there (drop and a normal exit still stop it, see `lifecycle::KeepForProcess`).
#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn die_with_parent(_command: &mut Command) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_binary_names_the_install_command() {
        let err = std::panic::catch_unwind(|| require_binary("surely-not-installed-xyz", "some-package")).unwrap_err();
        let msg = err.downcast_ref::<String>().unwrap();
        assert!(msg.contains("apt-get install -y some-package"), "{msg}");
    }

    #[test]
    fn process_is_killed_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = Command::new("sleep");
        cmd.arg("60");
        let mut p = ServerProcess::spawn("sleep", cmd, &dir.path().join("log")).unwrap();
        assert!(p.is_running());
        let pid = p.pid().unwrap();
        drop(p);
        // SAFETY: kill with signal 0 only checks whether the pid exists.
        let alive = unsafe { libc::kill(pid as i32, 0) } == 0;
        assert!(!alive, "the process must be gone after drop");
    }

    #[test]
    fn free_ports_are_distinct() {
        let a = free_port();
        let b = free_port();
        assert_ne!(a, b);
        assert!(a <= 45_000 && b <= 45_000);
    }
}
