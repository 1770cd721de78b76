//! The cost of a memoized hit (SimpleCache): `Memoized::call`, `Cache::memoize` and `#[memoize]`,
//! without options and with Flask-Caching's, and `Cache::get_or_set`, against a typed `Cache::get`
//! of the same value and `moka::future::Cache::get_with` (issue 19's yardstick: the peer
//! benchmark's), side by side in one run.
//!
//! `cargo bench -p cachette --bench memoize_hit`. Each round times every way once (200,000 hits
//! over 1,000 argument sets), rounds alternate the order of the ways, and the medians of 7 rounds
//! are printed with their ratios to `Cache::get` and to moka's `get_with`.
//!
//! For instruction counts (valgrind's callgrind, repeatable on a loaded machine):
//! `MEMOIZE_HIT_WAYS=<part of a way's name> MEMOIZE_HIT_CALLS=10000 MEMOIZE_HIT_ROUNDS=1
//! valgrind --tool=callgrind --collect-atstart=no --toggle-collect='*measure*' <the bench binary>`
//! counts only the measured calls of the ways named. `BENCH_LOG=cachette=debug` measures them with
//! a `tracing` subscriber at that level (formatting into a sink).
// A bench binary: its items need no docs.
#![allow(missing_docs)]

use std::hint::black_box;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use cachette::{Cache, Config, Memoized, Ttl};
use rounds::{alternating_medians, setting};

#[path = "support/rounds.rs"]
mod rounds;

static CACHE: LazyLock<Cache> = LazyLock::new(|| {
    Cache::from_config(Config::from_map([("CACHE_TYPE", "SimpleCache"), ("CACHE_THRESHOLD", "10000")]).unwrap())
        .unwrap()
});
static HANDLE: LazyLock<Memoized> = LazyLock::new(|| CACHE.memoized("bench::by_handle", Ttl::Never));
/// As the peer benchmark's: `u64` ids, a bound of 10,000, the `String` itself cloned on a hit.
static MOKA: LazyLock<moka::future::Cache<u64, String>> =
    LazyLock::new(|| moka::future::Cache::builder().max_capacity(10_000).build());
/// Loads, counted: the measured calls must all be hits.
static LOADS: AtomicU64 = AtomicU64::new(0);

const IDS: u64 = 1_000;

/// The work memoized: small, so that what is measured is what the cache adds.
async fn load(id: u64) -> std::result::Result<String, std::io::Error> {
    LOADS.fetch_add(1, Ordering::Relaxed);
    Ok(format!("user {id:>95}"))
}

#[cachette::memoize(cache = CACHE, ttl = Ttl::Never)]
async fn by_attribute(id: u64) -> std::result::Result<String, std::io::Error> {
    load(id).await
}

/// Every option that is asked on a hit, none of which changes the result.
#[cachette::memoize(
    cache = CACHE,
    ttl = Ttl::Never,
    unless = id == u64::MAX,
    forced_update = id == u64::MAX,
    is_stale = |user: &String| user.is_empty(),
    response_filter = |user: &String| !user.is_empty(),
)]
async fn with_options(id: u64) -> std::result::Result<String, std::io::Error> {
    load(id).await
}

#[cachette::memoize(cache = CACHE, ttl = Ttl::Never, make_name = |name| format!("{name}.de"))]
async fn with_make_name(id: u64) -> std::result::Result<String, std::io::Error> {
    load(id).await
}

/// The ways of getting user `id` that are compared.
#[derive(Clone, Copy)]
enum Way {
    Moka,
    Get,
    GetOrSet,
    Handle,
    CacheMemoize,
    Attribute,
    Options,
    MakeName,
}

const WAYS: [(&str, Way); 8] = [
    ("moka future::Cache::get_with", Way::Moka),
    ("Cache::get (one read)", Way::Get),
    ("Cache::get_or_set", Way::GetOrSet),
    ("Memoized::call", Way::Handle),
    ("Cache::memoize", Way::CacheMemoize),
    ("#[memoize]", Way::Attribute),
    ("#[memoize(unless, forced_update, is_stale, response_filter)]", Way::Options),
    ("#[memoize(make_name)]", Way::MakeName),
];

impl Way {
    async fn run(self, id: u64) -> String {
        match self {
            Way::Moka => MOKA.get_with(id, async { load(id).await.unwrap() }).await,
            Way::Get => CACHE.get::<String>(&format!("user:{id}")).await.unwrap().unwrap(),
            Way::GetOrSet => CACHE.get_or_set(&format!("user:{id}"), Ttl::Never, || load(id)).await.unwrap(),
            Way::Handle => HANDLE.call(&id, || load(id)).await.unwrap(),
            Way::CacheMemoize => CACHE.memoize("bench::by_cache", &id, Ttl::Never, || load(id)).await.unwrap(),
            Way::Attribute => by_attribute(id).await.unwrap(),
            Way::Options => with_options(id).await.unwrap(),
            Way::MakeName => with_make_name(id).await.unwrap(),
        }
    }
}

/// The time per call of `calls` hits of `way` (named for callgrind's `--toggle-collect`).
#[inline(never)]
fn measure(rt: &tokio::runtime::Runtime, way: Way, calls: u64) -> Duration {
    rt.block_on(async {
        let start = Instant::now();
        for n in 0..calls {
            black_box(way.run(n % IDS).await);
        }
        start.elapsed() / calls as u32
    })
}

fn main() {
    // `BENCH_LOG=cachette=debug`: the same hits with a subscriber that formats every span and
    // event of that filter (into a sink), for what tracing at that level costs.
    if let Ok(filter) = std::env::var("BENCH_LOG") {
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::sink).init();
    }
    let calls: u64 = setting("MEMOIZE_HIT_CALLS", 200_000);
    let rounds: usize = setting("MEMOIZE_HIT_ROUNDS", 7);
    let only: String = setting("MEMOIZE_HIT_WAYS", String::new());
    let ways: Vec<(&str, Way)> = WAYS.into_iter().filter(|(name, _)| name.contains(only.as_str())).collect();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        for id in 0..IDS {
            CACHE.set(&format!("user:{id}"), &load(id).await.unwrap(), Ttl::Never).await.unwrap();
            for (_, way) in WAYS {
                way.run(id).await; // every way's first call stores; what follows are hits
            }
        }
    });
    let loads = LOADS.load(Ordering::Relaxed);
    let medians = alternating_medians(rounds, ways.len(), |i| measure(&rt, ways[i].1, calls));
    assert_eq!(LOADS.load(Ordering::Relaxed), loads, "every measured call was a hit");
    let find = |way: &str| ways.iter().position(|(name, _)| *name == way).map(|i| medians[i].as_secs_f64());
    let (get, moka) = (find(WAYS[1].0), find(WAYS[0].0));
    println!("memoized hits, SimpleCache, median of {rounds} alternating rounds x {calls} calls:");
    println!("    {:<62} {:>14} {:>14} {:>14}", "", "ns per call", "x Cache::get", "x moka");
    let times = |base: Option<f64>, t: f64| base.map_or_else(String::new, |base| format!("{:.2}", t / base));
    for (i, (name, _)) in ways.iter().enumerate() {
        let t = medians[i].as_secs_f64();
        println!("    {name:<62} {:>14} {:>14} {:>14}", medians[i].as_nanos(), times(get, t), times(moka, t));
    }
    let stats = CACHE.stats();
    println!("    ({} hits, {} misses, {} loads in all)", stats.hits, stats.misses, stats.loads);
}
