//! Rounds of wrk against every target, in an order that changes each round, with the server's
//! CPU time per request from `/proc`; ratios are taken within a round and their medians printed.

use std::time::Duration;

use crate::process::Server;
use crate::stats::median;
use crate::wrk;

/// One URL measured, served by `server` (whose CPU time is counted while it is loaded).
pub struct Target<'a> {
    /// The name in the tables.
    pub name: String,
    /// What wrk loads.
    pub url: String,
    /// The process serving it.
    pub server: &'a Server,
}

/// One target in one round.
#[derive(Clone, Copy)]
struct Sample {
    rate: f64,
    /// Server CPU time per request, in microseconds.
    cpu_us: f64,
}

/// Every round's samples: `samples[round][target]`.
pub struct Results {
    names: Vec<String>,
    samples: Vec<Vec<Sample>>,
}

/// Warms every target up for a second, then runs `rounds` rounds of `duration` per target.
/// Round `r` starts at target `r` and odd rounds go backwards, so no target always follows the
/// same one (a server's leftover work, the page cache, turbo and thermal state move around).
pub fn measure(targets: &[Target<'_>], rounds: usize, duration: Duration) -> Results {
    for target in targets {
        wrk::run(&target.url, Duration::from_secs(1));
    }
    let n = targets.len();
    let mut samples = vec![vec![Sample { rate: 0.0, cpu_us: 0.0 }; n]; rounds];
    for (round, row) in samples.iter_mut().enumerate() {
        let mut order: Vec<usize> = (0..n).map(|i| (i + round) % n).collect();
        if round % 2 == 1 {
            order.reverse();
        }
        for i in order {
            let target = &targets[i];
            let before = target.server.cpu_time();
            let load = wrk::run(&target.url, duration);
            let cpu = target.server.cpu_time().saturating_sub(before);
            row[i] = Sample { rate: load.rate, cpu_us: cpu.as_secs_f64() * 1e6 / load.requests as f64 };
            std::thread::sleep(Duration::from_millis(200));
        }
        let line: Vec<String> =
            targets.iter().zip(row.iter()).map(|(t, s)| format!("{} {:.0}/s", t.name, s.rate)).collect();
        eprintln!("round {}: {}", round + 1, line.join(", "));
    }
    Results { names: targets.iter().map(|t| t.name.clone()).collect(), samples }
}

impl Results {
    fn index(&self, name: &str) -> usize {
        self.names.iter().position(|n| n == name).unwrap_or_else(|| panic!("no target named {name}"))
    }

    /// The median requests/s of `name`.
    pub fn rate(&self, name: &str) -> f64 {
        let i = self.index(name);
        median(self.samples.iter().map(|row| row[i].rate).collect())
    }

    /// The median server CPU time per request of `name`, in µs.
    pub fn cpu_us(&self, name: &str) -> f64 {
        let i = self.index(name);
        median(self.samples.iter().map(|row| row[i].cpu_us).collect())
    }

    /// The median over rounds of `a`'s requests/s divided by `b`'s in the same round.
    pub fn rate_ratio(&self, a: &str, b: &str) -> f64 {
        let (a, b) = (self.index(a), self.index(b));
        median(self.samples.iter().map(|row| row[a].rate / row[b].rate).collect())
    }

    /// The median over rounds of `a`'s CPU time per request divided by `b`'s in the same round.
    pub fn cpu_ratio(&self, a: &str, b: &str) -> f64 {
        let (a, b) = (self.index(a), self.index(b));
        median(self.samples.iter().map(|row| row[a].cpu_us / row[b].cpu_us).collect())
    }

    /// How many rounds were run.
    pub fn rounds(&self) -> usize {
        self.samples.len()
    }
}
