//! Property runs for decoders of outside bytes (stored values, server answers): a fixed seed, so
//! a failure reproduces, and a wall-clock budget, so a decode that never ends fails the test
//! instead of hanging it.

use std::sync::mpsc;
use std::time::Duration;

use proptest::strategy::Strategy;
use proptest::test_runner::{Config, RngSeed, TestCaseError, TestRunner};

/// Wall-clock time after which a property run counts as hung (each takes well under a second).
pub const BUDGET: Duration = Duration::from_secs(60);

/// Runs `property` on `cases` inputs of `strategy` from the fixed `seed`, on a thread that must
/// finish within [`BUDGET`]. Panics with the failing input, or when the budget runs out.
pub fn check<S: Strategy + 'static>(
    cases: u32,
    seed: u64,
    strategy: fn() -> S,
    property: fn(S::Value) -> Result<(), TestCaseError>,
) {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let config = Config { cases, rng_seed: RngSeed::Fixed(seed), failure_persistence: None, ..Config::default() };
        let _ = tx.send(TestRunner::new(config).run(&strategy(), property).map_err(|e| e.to_string()));
    });
    match rx.recv_timeout(BUDGET) {
        Ok(result) => result.unwrap(),
        Err(_) => panic!("the property did not finish in {BUDGET:?}: a decode hangs"),
    }
}
