//! The phases of the run: routes side by side, an outage, a recovery.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use cachette_core::CacheStats;
use cachette_http::{CacheLayer, HttpCacheStats};

use crate::wrk::{self, Run};

/// Rounds of (plain slice, cached slice) per measured phase.
const ROUNDS: usize = 3;

/// How long an outage runs under load before it is measured: the issue's targets hold "from one
/// second into the outage", the time the breaker takes to open (5 failures at a 250 ms deadline).
const OUTAGE_LEAD_IN: Duration = Duration::from_secs(1);

/// How often the hit ratio is sampled while the server comes back, and for how long.
const SAMPLE_EVERY: Duration = Duration::from_millis(100);
const RECOVERY_WINDOW: Duration = Duration::from_secs(4);

/// The hit ratio counted as back: this share of the healthy phase's.
pub(crate) const RECOVERED_SHARE: f64 = 0.9;

/// What the backend saw, from the cache's counters.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BackendCalls {
    /// Calls that reached the backend and failed (timed out, refused).
    pub(crate) failed: u64,
    /// Calls the open breaker failed at once.
    pub(crate) rejected: u64,
    /// Times the breaker opened.
    pub(crate) opened: u64,
}

impl BackendCalls {
    fn between(before: &CacheStats, after: &CacheStats) -> BackendCalls {
        let rejected = after.breaker.rejected - before.breaker.rejected;
        BackendCalls {
            failed: (after.errors - before.errors).saturating_sub(rejected),
            rejected,
            opened: after.breaker.opened - before.breaker.opened,
        }
    }
}

/// Both routes measured in one phase.
#[derive(Debug, Clone)]
pub(crate) struct SideBySide {
    pub(crate) plain: Run,
    pub(crate) cached: Run,
    /// Hits / (hits + misses) of the cached route over its slices.
    pub(crate) hit_ratio: f64,
    pub(crate) backend: BackendCalls,
    /// The p99 of each slice, plain then cached: how much the machine's noise moves it.
    pub(crate) slice_p99s: (Vec<Duration>, Vec<Duration>),
}

/// How the cached route came back after the server did.
#[derive(Debug, Clone)]
pub(crate) struct Recovery {
    /// Time from the server's return to the end of the first sample at the recovered level.
    pub(crate) after: Option<Duration>,
    /// The hit ratio counted as recovered.
    pub(crate) level: f64,
    /// The hit ratio of each [`SAMPLE_EVERY`] from the server's return.
    pub(crate) samples: Vec<f64>,
    pub(crate) backend: BackendCalls,
}

/// The two routes of the server and the layer of the cached one.
pub(crate) struct Bench {
    plain: String,
    cached: String,
    script: PathBuf,
    layer: CacheLayer,
    slice: u64,
}

fn ratio(before: HttpCacheStats, after: HttpCacheStats) -> f64 {
    let hits = (after.hits + after.stale) - (before.hits + before.stale);
    let reads = hits + after.misses - before.misses;
    if reads == 0 { 0.0 } else { hits as f64 / reads as f64 }
}

fn median_by<T: PartialOrd + Copy>(runs: &[Run], field: impl Fn(&Run) -> T) -> T {
    let mut values: Vec<T> = runs.iter().map(field).collect();
    values.sort_by(|a, b| a.partial_cmp(b).expect("no NaN"));
    values[values.len() / 2]
}

/// The medians of a phase's slices (errors summed).
fn median(runs: &[Run]) -> Run {
    Run {
        req_per_sec: median_by(runs, |r| r.req_per_sec),
        p50: median_by(runs, |r| r.p50),
        p99: median_by(runs, |r| r.p99),
        errors: runs.iter().map(|r| r.errors).sum(),
        cpu_per_request: median_by(runs, |r| r.cpu_per_request),
    }
}

impl Bench {
    pub(crate) fn new(addr: SocketAddr, layer: CacheLayer, slice: u64) -> Bench {
        Bench {
            plain: format!("http://{addr}/plain/"),
            cached: format!("http://{addr}/cached/"),
            script: wrk::script(),
            layer,
            slice,
        }
    }

    /// One second of each route: connections, the 200 entries stored.
    pub(crate) fn warm_up(&self) {
        wrk::run(&self.plain, &self.script, 1);
        wrk::run(&self.cached, &self.script, 1);
    }

    /// [`ROUNDS`] slices of each route, alternating which goes first.
    pub(crate) fn side_by_side(&self) -> SideBySide {
        let before = self.layer.cache().stats();
        let (mut plain, mut cached) = (Vec::new(), Vec::new());
        let (mut hits, mut reads) = (0.0, 0.0);
        for round in 0..ROUNDS {
            for cached_turn in [round % 2 == 1, round % 2 == 0] {
                if cached_turn {
                    let start = self.layer.stats();
                    cached.push(wrk::run(&self.cached, &self.script, self.slice));
                    let end = self.layer.stats();
                    let n = (end.hits + end.stale + end.misses) - (start.hits + start.stale + start.misses);
                    hits += ratio(start, end) * n as f64;
                    reads += n as f64;
                } else {
                    plain.push(wrk::run(&self.plain, &self.script, self.slice));
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        SideBySide {
            plain: median(&plain),
            cached: median(&cached),
            hit_ratio: if reads == 0.0 { 0.0 } else { hits / reads },
            backend: BackendCalls::between(&before, &self.layer.cache().stats()),
            slice_p99s: (plain.iter().map(|r| r.p99).collect(), cached.iter().map(|r| r.p99).collect()),
        }
    }

    /// Breaks the server with `break_it`, drives the cached route for [`OUTAGE_LEAD_IN`], then
    /// measures both routes side by side. The server stays broken.
    pub(crate) fn outage<S>(&self, server: &mut S, break_it: impl FnOnce(&mut S)) -> SideBySide {
        let lead_in = wrk::spawn(&self.cached, &self.script, OUTAGE_LEAD_IN.as_secs());
        break_it(server);
        tracing::info!("the server is broken");
        wrk::finish(lead_in);
        self.side_by_side()
    }

    /// With wrk driving the cached route, mends the server with `mend` and samples the hit ratio
    /// every [`SAMPLE_EVERY`] for [`RECOVERY_WINDOW`].
    pub(crate) fn recovery<S>(&self, server: &mut S, mend: impl FnOnce(&mut S), healthy: f64) -> Recovery {
        let load_secs = 1 + RECOVERY_WINDOW.as_secs() + 1;
        let load = wrk::spawn(&self.cached, &self.script, load_secs);
        std::thread::sleep(Duration::from_secs(1));
        let before = self.layer.cache().stats();
        mend(server);
        let back = Instant::now();
        tracing::info!("the server is back");
        let level = RECOVERED_SHARE * healthy;
        let (mut samples, mut after) = (Vec::new(), None);
        let mut last = self.layer.stats();
        while back.elapsed() < RECOVERY_WINDOW {
            std::thread::sleep(SAMPLE_EVERY);
            let now = self.layer.stats();
            let sample = ratio(last, now);
            if after.is_none() && sample >= level {
                after = Some(back.elapsed());
            }
            samples.push(sample);
            last = now;
        }
        let backend = BackendCalls::between(&before, &self.layer.cache().stats());
        wrk::finish(load);
        Recovery { after, level, samples, backend }
    }
}
