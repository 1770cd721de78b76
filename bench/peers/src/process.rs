//! The server processes of a run: started pinned to core 0, found listening, measured through
//! `/proc`, killed when dropped.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The core the servers run on; wrk and the driver use the other one ([`LOAD_CORE`]).
pub const SERVER_CORE: &str = "0";
/// The core of wrk and the driver.
pub const LOAD_CORE: &str = "1";

/// A server process (and its children, for gunicorn's workers), killed on drop.
pub struct Server {
    child: Child,
    /// Its loopback port.
    pub port: u16,
}

impl Server {
    /// Starts `program args...` under `taskset -c 0`. With `port: None` the program prints
    /// `listening <port>` as its first line (`cachette-peers serve`); otherwise it listens on
    /// `port`, and this waits until a connection succeeds.
    pub fn start(program: &str, args: &[&str], port: Option<u16>) -> Server {
        let mut child = Command::new("taskset")
            .args(["-c", SERVER_CORE, program])
            .args(args)
            .stdout(if port.is_some() { Stdio::null() } else { Stdio::piped() })
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {program} under taskset ({e}): is util-linux installed?"));
        let port = match port {
            Some(port) => port,
            None => {
                let mut line = String::new();
                BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
                line.trim()
                    .strip_prefix("listening ")
                    .and_then(|p| p.parse().ok())
                    .unwrap_or_else(|| panic!("{program} printed {line:?} instead of `listening <port>`"))
            }
        };
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(started.elapsed() < Duration::from_secs(30), "{program} does not listen on port {port} after 30 s");
            std::thread::sleep(Duration::from_millis(50));
        }
        Server { child, port }
    }

    /// The CPU time (user + system) this process and its descendants used so far.
    pub fn cpu_time(&self) -> Duration {
        let ticks: u64 = family(self.child.id()).into_iter().map(cpu_ticks).sum();
        Duration::from_secs_f64(ticks as f64 / clock_ticks_per_second())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // gunicorn stops its workers on SIGTERM; our servers need no more than a kill.
        let _ = Command::new("kill").arg(self.child.id().to_string()).status();
        let _ = self.child.wait();
    }
}

/// A free loopback port (bound and released: the next process to bind it gets it).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `pid` and its descendants, from `/proc/<pid>/task/<tid>/children`.
fn family(pid: u32) -> Vec<u32> {
    let mut all = vec![pid];
    let mut i = 0;
    while i < all.len() {
        let tasks = std::fs::read_dir(format!("/proc/{}/task", all[i])).into_iter().flatten().flatten();
        for task in tasks {
            let children = std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
            all.extend(children.split_whitespace().filter_map(|c| c.parse::<u32>().ok()));
        }
        i += 1;
    }
    all
}

/// utime + stime of a process (all its threads), in clock ticks: fields 14 and 15 of
/// `/proc/<pid>/stat`, counted after the command name's closing parenthesis (the name may hold
/// spaces). A process that is gone counts 0.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let Some((_, rest)) = stat.rsplit_once(')') else { return 0 };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state), so field n is fields[n - 3].
    let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
    field(14) + field(15)
}

fn clock_ticks_per_second() -> f64 {
    let out = Command::new("getconf").arg("CLK_TCK").output().ok();
    out.and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok()).unwrap_or(100.0)
}
