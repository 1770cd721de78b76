//! Running `wrk` against one route of the bench's server and reading what it printed.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Keep-alive connections per run: a fixed number, so both routes are offered the same load.
pub(crate) const CONNECTIONS: u32 = 32;

/// Distinct URLs per route, each equally likely (see the script).
pub(crate) const URLS: u32 = 200;

/// What one wrk run measured.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Run {
    pub(crate) req_per_sec: f64,
    pub(crate) p50: Duration,
    pub(crate) p99: Duration,
    /// Non-2xx answers and socket errors (connect, read, write, timeout).
    pub(crate) errors: u64,
    /// CPU time this process (the server) spent per request during the run: what the route
    /// costs, whatever else the machine runs.
    pub(crate) cpu_per_request: Duration,
}

/// The Lua script that spreads requests uniformly over `URLS` paths under the URL's path
/// (`http://host/cached/` asks for `/cached/1` ... `/cached/200`). Uniform rather than Zipf: every
/// key is as hot as any other, so after a restart all of them must be rendered and stored again
/// before the hit ratio is back — the harder case for the recovery measure.
pub(crate) fn script() -> PathBuf {
    let path = std::env::temp_dir().join(format!("cachette-outage-{}.lua", std::process::id()));
    let mut file = std::fs::File::create(&path).expect("write wrk's script to the temporary directory");
    write!(
        file,
        "math.randomseed(os.time())\n\
         request = function()\n  return wrk.format(nil, wrk.path .. math.random({URLS}))\nend\n"
    )
    .unwrap();
    path
}

/// Starts wrk for `secs` seconds on `url` (one thread, [`CONNECTIONS`] connections).
pub(crate) fn spawn(url: &str, script: &PathBuf, secs: u64) -> Child {
    Command::new("wrk")
        .args(["-t1", &format!("-c{CONNECTIONS}"), &format!("-d{secs}s"), "--latency", "-s"])
        .arg(script)
        .arg(url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run wrk ({e}): install it with `apt-get install -y wrk` (./scripts/setup)"))
}

/// Waits for a run started by [`spawn`] and reads its figures.
pub(crate) fn finish(child: Child) -> Run {
    let output = child.wait_with_output().expect("wait for wrk");
    parse(&String::from_utf8_lossy(&output.stdout))
}

/// Runs wrk for `secs` seconds on `url`, counting the server's CPU time meanwhile.
pub(crate) fn run(url: &str, script: &PathBuf, secs: u64) -> Run {
    let cpu = process_cpu();
    let mut run = finish(spawn(url, script, secs));
    let requests = (run.req_per_sec * secs as f64).max(1.0);
    run.cpu_per_request = (process_cpu() - cpu).div_f64(requests);
    run
}

/// User and system CPU time of this process so far (`/proc/self/stat`, in clock ticks of 10 ms:
/// over a slice of tens of thousands of requests, well under a microsecond per request).
fn process_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("read /proc/self/stat (Linux)");
    // The fields after the command name (which is in parentheses and may hold spaces).
    let fields: Vec<&str> = stat[stat.rfind(')').expect("a command name") + 2..].split(' ').collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    Duration::from_millis(ticks * 10)
}

fn parse(text: &str) -> Run {
    let field = |prefix: &str| text.lines().find_map(|l| l.trim().strip_prefix(prefix).map(str::trim));
    let req_per_sec = field("Requests/sec:")
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no Requests/sec in wrk's output:\n{text}"));
    let percentile =
        |p: &str| field(p).and_then(duration).unwrap_or_else(|| panic!("no {p} latency in wrk's output:\n{text}"));
    let non_2xx: u64 = field("Non-2xx or 3xx responses:").and_then(|v| v.parse().ok()).unwrap_or(0);
    // "Socket errors: connect 0, read 0, write 0, timeout 0"
    let socket: u64 = field("Socket errors:")
        .map(|v| v.split(',').filter_map(|part| part.split_whitespace().last()?.parse::<u64>().ok()).sum())
        .unwrap_or(0);
    Run {
        req_per_sec,
        p50: percentile("50%"),
        p99: percentile("99%"),
        errors: non_2xx + socket,
        cpu_per_request: Duration::ZERO,
    }
}

/// wrk's durations: `812.00us`, `2.31ms`, `1.02s`, `1.50m`.
fn duration(text: &str) -> Option<Duration> {
    let split = text.find(|c: char| c.is_ascii_alphabetic())?;
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let secs = match unit {
        "us" => number / 1e6,
        "ms" => number / 1e3,
        "s" => number,
        "m" => number * 60.0,
        _ => return None,
    };
    Some(Duration::from_secs_f64(secs))
}
