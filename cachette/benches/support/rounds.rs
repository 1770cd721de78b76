//! What the benches that compare ways side by side share: settings from the environment, and
//! alternating rounds summed up by their medians.

use std::time::Duration;

/// A setting from the environment, or `default`.
pub(crate) fn setting<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// The median time of each of `ways` ways over `rounds` rounds, each round timing every way once
/// with `measure(way)`, in turn forwards and backwards (so that neither way always follows the
/// other while the machine's load moves).
pub(crate) fn alternating_medians(
    rounds: usize,
    ways: usize,
    mut measure: impl FnMut(usize) -> Duration,
) -> Vec<Duration> {
    let mut times: Vec<Vec<Duration>> = vec![Vec::new(); ways];
    for round in 0..rounds {
        let mut order: Vec<usize> = (0..ways).collect();
        if round % 2 == 1 {
            order.reverse();
        }
        for way in order {
            times[way].push(measure(way));
        }
    }
    times
        .iter_mut()
        .map(|t| {
            t.sort();
            t[t.len() / 2]
        })
        .collect()
}
