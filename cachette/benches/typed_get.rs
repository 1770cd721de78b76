//! Typed `get` hits of a 100-byte value through `cachette::Cache` (SimpleCache) against the same
//! gets on a bare `moka::future::Cache`, side by side in one run.
//!
//! Run: `cargo bench -p cachette --bench typed_get`. Both sides read the same 1,000 keys in
//! turn and return an owned `String`, so the difference is what cachette adds: the trait call,
//! the fail-safe, the codec and the counters. Each round times both sides once (200,000 gets
//! each), rounds alternate which goes first, and the medians of 11 rounds are printed with
//! cachette's throughput as a share of moka's. Alternating rounds rather than criterion's one
//! side after the other: on a shared machine the load moves between the two halves of a run
//! (criterion gave 0.90 and then 0.80 a few minutes apart at load 4).
//!
//! For instruction counts (valgrind's callgrind, repeatable on a loaded machine):
//! `TYPED_GET_SIDES=<moka|cachette> TYPED_GET_CALLS=10000 TYPED_GET_ROUNDS=1 valgrind
//! --tool=callgrind --collect-atstart=no --toggle-collect='*measure*' <the bench binary>`.
// A bench binary: its items need no docs.
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use cachette::{Cache, Config, Ttl};
use rounds::{alternating_medians, setting};

#[path = "support/rounds.rs"]
mod rounds;

const KEYS: usize = 1_000;

/// The two sides compared.
struct Sides {
    keys: Vec<String>,
    moka: moka::future::Cache<String, String>,
    cache: Cache,
}

#[derive(Clone, Copy, PartialEq)]
enum Side {
    Moka,
    Cachette,
}

/// The time per get of `calls` hits on `side` (named for callgrind's `--toggle-collect`).
#[inline(never)]
fn measure(rt: &tokio::runtime::Runtime, sides: &Sides, side: Side, calls: usize) -> Duration {
    rt.block_on(async {
        let start = Instant::now();
        for n in 0..calls {
            let key = &sides.keys[n % KEYS];
            let value: String = match side {
                Side::Moka => sides.moka.get(key.as_str()).await.unwrap(),
                Side::Cachette => sides.cache.get::<String>(key).await.unwrap().unwrap(),
            };
            black_box(value);
        }
        start.elapsed() / calls as u32
    })
}

fn main() {
    let calls: usize = setting("TYPED_GET_CALLS", 200_000);
    let rounds: usize = setting("TYPED_GET_ROUNDS", 11);
    let only: String = setting("TYPED_GET_SIDES", String::new());
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let value: String = "x".repeat(100);
    let sides = Sides {
        keys: (0..KEYS).map(|i| format!("user:{i}")).collect(),
        moka: moka::future::Cache::builder().max_capacity(10_000).build(),
        cache: Cache::from_config(
            Config::from_map([("CACHE_TYPE", "SimpleCache"), ("CACHE_THRESHOLD", "10000")]).unwrap(),
        )
        .unwrap(),
    };
    rt.block_on(async {
        for key in &sides.keys {
            sides.moka.insert(key.clone(), value.clone()).await;
            sides.cache.set(key, &value, Ttl::Never).await.unwrap();
        }
    });
    let named = [("moka", Side::Moka), ("cachette", Side::Cachette)];
    let chosen: Vec<(&str, Side)> = named.into_iter().filter(|(name, _)| name.contains(only.as_str())).collect();
    let medians = alternating_medians(rounds, chosen.len(), |i| measure(&rt, &sides, chosen[i].1, calls));
    println!("typed get hits of a 100-byte String, median of {rounds} alternating rounds x {calls} gets:");
    for ((name, _), median) in chosen.iter().zip(&medians) {
        println!("    {name:<10} {:>6} ns per get", median.as_nanos());
    }
    if let [moka, cachette] = medians[..] {
        println!("    cachette's throughput: {:.2} of moka's", moka.as_secs_f64() / cachette.as_secs_f64());
    }
}
