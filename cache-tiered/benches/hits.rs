//! Hits of the in-process tier against their peers, side by side in one run: seven rounds that
//! alternate which side goes first, medians and ratios printed.
//!
//! * An L1 hit (TieredCache over RedisCache, coherent by client tracking) against a SimpleCache
//!   hit: through the typed `Cache::get::<String>` and through the trait's `get` (bytes).
//! * A memoize hit (`Memoized::call`) on Redis + L1 and on SimpleCache against
//!   `moka::future::Cache::get_with`.
//!
//! `cargo bench -p cachette-tiered --bench hits` (starts its own redis-server). One task on a
//! current-thread runtime, 200,000 hits per side and round over 1,000 keys of 100-byte values.
//!
//! For instruction counts (valgrind's callgrind, repeatable on a loaded machine):
//! `HITS_SIDE=<memo-l1|memo-simple|moka> HITS_CALLS=10000 valgrind --tool=callgrind
//! --collect-atstart=no --toggle-collect='*measure*' <the bench binary>` times only that side,
//! once, and counts only its calls.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cachette_conformance::harness::redis::RedisServer;
use cachette_core::{BaseCache, Cache, Config, Memoized, Ttl};
use cachette_redis::RedisCache;
use cachette_simple::SimpleCache;
use cachette_tiered::TieredCache;

const KEYS: usize = 1_000;
const ROUNDS: usize = 7;

/// Hits per side and round: `HITS_CALLS`, 200,000 unless set.
fn hits() -> usize {
    std::env::var("HITS_CALLS").ok().and_then(|v| v.parse().ok()).unwrap_or(200_000)
}

/// `rt.block_on(hits)`, named for callgrind's `--toggle-collect`.
#[inline(never)]
fn measure(rt: &tokio::runtime::Runtime, hits: impl Future<Output = f64>) -> f64 {
    rt.block_on(hits)
}

/// Nanoseconds per call of `hit(i)` over [`hits`] calls.
async fn per_hit<F, Fut>(hit: F) -> f64
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = ()>,
{
    let hits = hits();
    let started = Instant::now();
    for i in 0..hits {
        hit(i % KEYS).await;
    }
    started.elapsed().as_nanos() as f64 / hits as f64
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn config(settings: &[(&str, &str)]) -> Config {
    let mut all = vec![("CACHE_KEY_PREFIX", "bench:"), ("CACHE_THRESHOLD", "10000"), ("CACHE_L1_THRESHOLD", "10000")];
    all.extend_from_slice(settings);
    Config::from_map(all).unwrap()
}

/// Both measurements, the first run first in even rounds and second in odd ones.
fn pair(round: usize, a: impl FnOnce() -> f64, b: impl FnOnce() -> f64) -> (f64, f64) {
    if round.is_multiple_of(2) {
        let x = a();
        (x, b())
    } else {
        let y = b();
        (a(), y)
    }
}

/// One line of the table: the medians of two sides and their ratio.
fn row(name: &str, ours: &[f64], theirs: &[f64], peer: &str) {
    let (a, b) = (median(ours.to_vec()), median(theirs.to_vec()));
    println!("{name:<44} {a:>8.1} ns   {peer:<28} {b:>8.1} ns   {:>5.2}x", a / b);
}

fn main() {
    let server = RedisServer::start();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let keys: Vec<String> = (0..KEYS).map(|i| format!("user:{i}")).collect();
    let value = "x".repeat(100);

    let (simple, tiered, raw_simple, raw_tiered) = rt.block_on(async {
        let simple_config = config(&[]);
        let raw_simple: Arc<dyn BaseCache> = Arc::new(SimpleCache::new(&simple_config).unwrap());
        let url = server.url();
        let tiered_config = config(&[("CACHE_REDIS_URL", &url), ("CACHE_L1", "true"), ("CACHE_L1_TIMEOUT", "1h")]);
        let l2 = Arc::new(RedisCache::new(&tiered_config).unwrap());
        let tier = TieredCache::new(l2, &tiered_config).unwrap();
        while !tier.is_active() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let raw_tiered: Arc<dyn BaseCache> = Arc::new(tier);
        let simple = Cache::new(raw_simple.clone(), simple_config);
        let tiered = Cache::new(raw_tiered.clone(), tiered_config);
        for key in &keys {
            simple.set(key, &value, Ttl::Never).await.unwrap();
            tiered.set(key, &value, Ttl::Never).await.unwrap();
        }
        // The writes' own invalidations evict them (see the crate docs): one read fills the tier.
        tokio::time::sleep(Duration::from_millis(200)).await;
        for key in &keys {
            let _: Option<String> = tiered.get(key).await.unwrap();
        }
        (simple, tiered, raw_simple, raw_tiered)
    });
    let moka: moka::future::Cache<u64, String> = moka::future::Cache::builder().max_capacity(10_000).build();
    let memo_simple = Memoized::new(simple.clone(), "profile", Ttl::Never);
    let memo_tiered = Memoized::new(tiered.clone(), "profile", Ttl::Never);
    let load = |id: u64| async move { Ok::<_, std::io::Error>(format!("{id:0>100}")) };
    rt.block_on(async {
        for id in 0..KEYS as u64 {
            moka.get_with(id, async { load(id).await.unwrap() }).await;
            memo_simple.call(&id, || load(id)).await.unwrap();
            memo_tiered.call(&id, || load(id)).await.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        for id in 0..KEYS as u64 {
            memo_tiered.call(&id, || load(id)).await.unwrap();
        }
    });

    let typed = |cache: &Cache| {
        let (cache, keys) = (cache.clone(), &keys);
        measure(
            &rt,
            per_hit(move |i| {
                let cache = cache.clone();
                async move {
                    std::hint::black_box(cache.get::<String>(&keys[i]).await.unwrap().unwrap());
                }
            }),
        )
    };
    let bytes = |cache: &Arc<dyn BaseCache>| {
        let keys = &keys;
        measure(
            &rt,
            per_hit(move |i| async move {
                std::hint::black_box(cache.get(&keys[i]).await.unwrap().unwrap());
            }),
        )
    };
    let memoized = |f: &Memoized| {
        measure(
            &rt,
            per_hit(|i| async move {
                let id = i as u64;
                std::hint::black_box(f.call(&id, || load(id)).await.unwrap());
            }),
        )
    };
    let get_with = || {
        measure(
            &rt,
            per_hit(|i| {
                let moka = &moka;
                async move {
                    let id = i as u64;
                    std::hint::black_box(moka.get_with(id, async { load(id).await.unwrap() }).await);
                }
            }),
        )
    };

    if let Ok(side) = std::env::var("HITS_SIDE") {
        let ns = match side.as_str() {
            "memo-l1" => memoized(&memo_tiered),
            "memo-simple" => memoized(&memo_simple),
            "moka" => get_with(),
            other => panic!("HITS_SIDE={other}: expected memo-l1, memo-simple or moka"),
        };
        println!("{side}: {ns:.1} ns per hit over {} hits", hits());
        return;
    }
    let mut t = [const { Vec::new() }; 7];
    for round in 0..ROUNDS {
        let (l1, simple_hit) = pair(round, || typed(&tiered), || typed(&simple));
        let (raw_l1, raw_simple_hit) = pair(round, || bytes(&raw_tiered), || bytes(&raw_simple));
        let (memo_l1, moka_hit) = pair(round, || memoized(&memo_tiered), get_with);
        let memo_simple_hit = memoized(&memo_simple);
        for (column, v) in
            t.iter_mut().zip([l1, simple_hit, raw_l1, raw_simple_hit, memo_l1, moka_hit, memo_simple_hit])
        {
            column.push(v);
        }
        let ns =
            [l1, simple_hit, raw_l1, raw_simple_hit, memo_l1, moka_hit, memo_simple_hit].map(|v| format!("{v:.1}"));
        println!("round {}: ns per hit (columns as in the table below, peers after each) {}", round + 1, ns.join(" "));
    }
    println!("\nmedians of {ROUNDS} rounds, {} hits each over {KEYS} keys (100-byte values), one task:", hits());
    row("Cache::get::<String>, Redis + L1", &t[0], &t[1], "SimpleCache");
    row("BaseCache::get, TieredCache over Redis", &t[2], &t[3], "SimpleCache");
    row("Memoized::call, Redis + L1", &t[4], &t[5], "moka get_with");
    row("Memoized::call, SimpleCache", &t[6], &t[5], "moka get_with");
}
