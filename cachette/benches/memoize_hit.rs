//! The cost of a memoized hit (SimpleCache): `Memoized::call`, `Cache::memoize` and `#[memoize]`,
//! without options and with Flask-Caching's, against a typed `Cache::get` of the same value, side
//! by side in one run.
//!
//! `cargo bench -p cachette --bench memoize_hit`. Each round times every way once (200,000 hits
//! over 1,000 argument sets), rounds alternate the ways, and the medians of 7 rounds are printed
//! with their ratio to `Cache::get`. A memoized hit reads the function's version and then the
//! value: two reads, so about twice a `get` is the floor.
// A bench binary: its items need no docs.
#![allow(missing_docs)]

use std::hint::black_box;
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use cachette::{Cache, Config, Memoized, Ttl};

static CACHE: LazyLock<Cache> = LazyLock::new(|| {
    Cache::from_config(Config::from_map([("CACHE_TYPE", "SimpleCache"), ("CACHE_THRESHOLD", "10000")]).unwrap())
        .unwrap()
});
static HANDLE: LazyLock<Memoized> = LazyLock::new(|| CACHE.memoized("bench::by_handle", Ttl::Never));

const IDS: u64 = 1_000;
const CALLS: u64 = 200_000;
const ROUNDS: usize = 7;

/// The work memoized: small, so that what is measured is what the cache adds.
async fn load(id: u64) -> std::result::Result<String, std::io::Error> {
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
    Get,
    Handle,
    CacheMemoize,
    Attribute,
    Options,
    MakeName,
}

const WAYS: [(&str, Way); 6] = [
    ("Cache::get (one read)", Way::Get),
    ("Memoized::call", Way::Handle),
    ("Cache::memoize", Way::CacheMemoize),
    ("#[memoize]", Way::Attribute),
    ("#[memoize(unless, forced_update, is_stale, response_filter)]", Way::Options),
    ("#[memoize(make_name)]", Way::MakeName),
];

impl Way {
    async fn run(self, id: u64) -> String {
        match self {
            Way::Get => CACHE.get::<String>(&format!("user:{id}")).await.unwrap().unwrap(),
            Way::Handle => HANDLE.call(&id, || load(id)).await.unwrap(),
            Way::CacheMemoize => CACHE.memoize("bench::by_cache", &id, Ttl::Never, || load(id)).await.unwrap(),
            Way::Attribute => by_attribute(id).await.unwrap(),
            Way::Options => with_options(id).await.unwrap(),
            Way::MakeName => with_make_name(id).await.unwrap(),
        }
    }
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        for id in 0..IDS {
            CACHE.set(&format!("user:{id}"), &load(id).await.unwrap(), Ttl::Never).await.unwrap();
            for (_, way) in WAYS {
                way.run(id).await; // every way's first call stores; what follows are hits
            }
        }
    });
    let mut times: Vec<Vec<Duration>> = vec![Vec::new(); WAYS.len()];
    for _ in 0..ROUNDS {
        for (i, (_, way)) in WAYS.iter().enumerate() {
            let took = rt.block_on(async {
                let start = Instant::now();
                for n in 0..CALLS {
                    black_box(way.run(n % IDS).await);
                }
                start.elapsed()
            });
            times[i].push(took / CALLS as u32);
        }
    }
    let medians: Vec<Duration> = times
        .iter_mut()
        .map(|t| {
            t.sort();
            t[t.len() / 2]
        })
        .collect();
    println!("memoized hits, SimpleCache, median of {ROUNDS} alternating rounds x {CALLS} calls:");
    for (i, (name, _)) in WAYS.iter().enumerate() {
        let ratio = medians[i].as_secs_f64() / medians[0].as_secs_f64();
        println!("    {name:<62} {:>6} ns per call  {ratio:>5.2} x Cache::get", medians[i].as_nanos());
    }
    let stats = CACHE.stats();
    println!("    ({} hits, {} misses, {} loads in all)", stats.hits, stats.misses, stats.loads);
}
