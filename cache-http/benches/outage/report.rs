//! What the run prints: each phase as it ends, then a summary against the targets.

use std::time::Duration;

use crate::phases::{BackendCalls, RECOVERED_SHARE, Recovery, SideBySide};
use crate::wrk::{CONNECTIONS, Run, URLS};

/// Issue 13's targets.
const MIN_REQ_RATIO: f64 = 0.8;
const MAX_P99_RATIO: f64 = 2.0;
const MAX_RECOVERY: Duration = Duration::from_secs(2);

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn met(ok: bool) -> &'static str {
    if ok { "met" } else { "MISSED" }
}

fn row(route: &str, run: &Run) {
    println!(
        "    {route:<7} {:>9.0} req/s   p50 {:>10}   p99 {:>10}   server CPU {:>6.1} µs/request   errors {}",
        run.req_per_sec,
        ms(run.p50),
        ms(run.p99),
        run.cpu_per_request.as_secs_f64() * 1e6,
        run.errors
    );
}

fn ratios(phase: &SideBySide) -> (f64, f64) {
    (phase.cached.req_per_sec / phase.plain.req_per_sec, phase.cached.p99.as_secs_f64() / phase.plain.p99.as_secs_f64())
}

fn backend(calls: &BackendCalls) -> String {
    format!(
        "backend calls failed {}, rejected at once by the open breaker {}, breaker opened {}x",
        calls.failed, calls.rejected, calls.opened
    )
}

/// Prints a measured phase; with `healthy`, an outage checked against the targets.
pub(crate) fn phase(name: &str, phase: &SideBySide, healthy: Option<&SideBySide>) {
    println!("{name}  ({CONNECTIONS} connections, {URLS} URLs per route)");
    row("plain", &phase.plain);
    row("cached", &phase.cached);
    let (req, p99) = ratios(phase);
    println!("    cached/plain: req/s {req:.2}x, p99 {p99:.2}x; hit ratio {:.1} %", phase.hit_ratio * 100.0);
    let list = |p99s: &[Duration]| p99s.iter().map(|d| ms(*d)).collect::<Vec<_>>().join(", ");
    println!("    p99 of each slice: plain {}; cached {}", list(&phase.slice_p99s.0), list(&phase.slice_p99s.1));
    println!("    {}", backend(&phase.backend));
    if healthy.is_some() {
        println!(
            "    targets: req/s >= {MIN_REQ_RATIO}x {}; p99 <= {MAX_P99_RATIO}x {}",
            met(req >= MIN_REQ_RATIO),
            met(p99 <= MAX_P99_RATIO)
        );
    }
    println!();
}

/// Prints a recovery: when the hit ratio was back, and the first samples.
pub(crate) fn recovery(name: &str, recovery: &Recovery) {
    match recovery.after {
        Some(after) => println!(
            "{name}: hit ratio back to >= {:.1} % ({:.0} % of healthy) {:.2} s after the server's return; \
             target <= {} s {}",
            recovery.level * 100.0,
            RECOVERED_SHARE * 100.0,
            after.as_secs_f64(),
            MAX_RECOVERY.as_secs(),
            met(after <= MAX_RECOVERY)
        ),
        None => println!(
            "{name}: hit ratio NOT back to {:.1} % within {} samples; target MISSED",
            recovery.level * 100.0,
            recovery.samples.len()
        ),
    }
    let shown: Vec<String> = recovery.samples.iter().take(25).map(|s| format!("{:.2}", s)).collect();
    println!("    hit ratio per 100 ms from the return: {}", shown.join(" "));
    println!("    {}", backend(&recovery.backend));
    println!();
}

/// The outages' ratios and the recoveries' times, each against its target.
pub(crate) fn summary(outages: &[(&str, &SideBySide)], recoveries: &[(&str, &Recovery)]) {
    println!(
        "summary (targets: from 1 s into an outage cached/plain req/s >= {MIN_REQ_RATIO}, p99 <= {MAX_P99_RATIO}x; hit ratio back within {} s)",
        MAX_RECOVERY.as_secs()
    );
    for (name, phase) in outages {
        let (req, p99) = ratios(phase);
        println!(
            "    {name:<13} req/s {req:.2}x {:<6}  p99 {p99:.2}x {}",
            met(req >= MIN_REQ_RATIO),
            met(p99 <= MAX_P99_RATIO)
        );
    }
    for (name, recovery) in recoveries {
        match recovery.after {
            Some(after) => {
                println!("    {name:<13} hit ratio back in {:.2} s {}", after.as_secs_f64(), met(after <= MAX_RECOVERY))
            }
            None => println!("    {name:<13} hit ratio not back within the window MISSED"),
        }
    }
}
