//! wrk, pinned to the load core, and what it reports.

use std::process::Command;
use std::time::Duration;

use crate::process::LOAD_CORE;

/// wrk's connections: enough to keep one server core busy.
pub const CONNECTIONS: u32 = 50;

/// What one wrk run measured.
pub struct Load {
    /// Requests per second.
    pub rate: f64,
    /// Requests completed.
    pub requests: u64,
}

/// Runs `wrk -t1 -c50 -d<secs>` against `url` on the load core. Errors or non-2xx answers are
/// a failed run (a peer that errors under load must not look fast).
pub fn run(url: &str, duration: Duration) -> Load {
    let output = Command::new("taskset")
        .args(["-c", LOAD_CORE, "wrk", "-t1", &format!("-c{CONNECTIONS}"), &format!("-d{}s", duration.as_secs())])
        .arg(url)
        .output()
        .unwrap_or_else(|e| panic!("cannot run wrk ({e}): ./run installs it (apt-get install -y wrk)"));
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(!text.contains("Non-2xx") && !text.contains("Socket errors"), "wrk saw errors against {url}:\n{text}");
    let rate = text.lines().find_map(|l| l.strip_prefix("Requests/sec:")).and_then(|v| v.trim().parse().ok());
    // "  123456 requests in 5.00s, 140.00MB read"
    let requests = text.lines().find_map(|l| l.trim().split_once(" requests in ")?.0.parse().ok());
    match (rate, requests) {
        (Some(rate), Some(requests)) => Load { rate, requests },
        _ => panic!("no Requests/sec or request count in wrk's output against {url}:\n{text}"),
    }
}
