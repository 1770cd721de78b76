//! The added cost of a memoized call while the backend is down and its circuit breaker open:
//! `Cache::memoize` and a `#[memoize]` fn against calling the loader directly, on two dead
//! backends — a `BaseCache` of the bench's own that fails every call at once, and a RedisCache
//! on a loopback port nobody listens on (connection refused).
//!
//! `cargo bench -p cachette --bench fail_safe`. Criterion measures each side; a plain timing
//! loop then prints the difference per call against issue 13's target (under 10 µs added).
//!
//! Every setting is the default a user gets (`Config::default()`: breaker 5 failures, 1 s
//! cool-down): the breaker is opened before measuring, and once a second one call goes through
//! as a probe, which is part of what a user pays while the backend is down. A tracing subscriber
//! is installed as in an application (`RUST_LOG`, `error` unless set, so that the two warnings
//! of each failed probe do not bury criterion's output): each rejected call is a debug event,
//! filtered.
// criterion_group! defines a public function it cannot document.
#![allow(missing_docs)]

use std::hint::black_box;
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use cachette::{BaseCache, BreakerState, Bytes, Cache, CacheError, Config, Result, Ttl, async_trait};
use criterion::{Criterion, criterion_group};

/// A backend that is down: every call fails at once.
#[derive(Debug)]
struct Refusing;

fn refused<T>() -> Result<T> {
    Err(CacheError::backend("RefusingCache", "the backend is down (a bench's own)", None))
}

#[async_trait]
impl BaseCache for Refusing {
    fn type_name(&self) -> &'static str {
        "RefusingCache"
    }
    async fn get(&self, _key: &str) -> Result<Option<Bytes>> {
        refused()
    }
    async fn set(&self, _key: &str, _value: Bytes, _ttl: Ttl) -> Result<()> {
        refused()
    }
    async fn add(&self, _key: &str, _value: Bytes, _ttl: Ttl) -> Result<bool> {
        refused()
    }
    async fn delete(&self, _key: &str) -> Result<bool> {
        refused()
    }
    async fn inc(&self, _key: &str, _delta: i64) -> Result<i64> {
        refused()
    }
    async fn touch(&self, _key: &str, _ttl: Ttl) -> Result<bool> {
        refused()
    }
    async fn clear(&self) -> Result<()> {
        refused()
    }
}

static REFUSING: LazyLock<Cache> = LazyLock::new(|| Cache::new(Arc::new(Refusing), Config::default()));

static DEAD_REDIS: LazyLock<Cache> = LazyLock::new(|| {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut config = Config::default();
    config.redis_url = Some(format!("redis://127.0.0.1:{port}"));
    Cache::new(Arc::new(cachette_redis::RedisCache::new(&config).unwrap()), config)
});

/// The work memoized: small, so that what is measured is what the cache adds.
async fn load(id: u64) -> std::result::Result<String, std::io::Error> {
    Ok(format!("user {id}"))
}

#[cachette::memoize(cache = REFUSING, ttl = Ttl::After(Duration::from_secs(60)))]
async fn user_refusing(id: u64) -> std::result::Result<String, std::io::Error> {
    load(id).await
}

#[cachette::memoize(cache = DEAD_REDIS, ttl = Ttl::After(Duration::from_secs(60)))]
async fn user_dead_redis(id: u64) -> std::result::Result<String, std::io::Error> {
    load(id).await
}

/// The ways of getting user `id` that are compared.
#[derive(Clone, Copy)]
enum Call {
    Loader,
    Memoize(&'static LazyLock<Cache>),
    RefusingAttribute,
    DeadRedisAttribute,
}

impl Call {
    async fn run(self, id: u64) -> String {
        match self {
            Call::Loader => load(id).await.unwrap(),
            Call::Memoize(cache) => {
                cache.memoize("bench::user", &id, Ttl::After(Duration::from_secs(60)), || load(id)).await.unwrap()
            }
            Call::RefusingAttribute => user_refusing(id).await.unwrap(),
            Call::DeadRedisAttribute => user_dead_redis(id).await.unwrap(),
        }
    }
}

const CALLS: [(&str, Call); 5] = [
    ("loader directly", Call::Loader),
    ("Cache::memoize, refusing backend", Call::Memoize(&REFUSING)),
    ("Cache::memoize, dead redis", Call::Memoize(&DEAD_REDIS)),
    ("#[memoize], refusing backend", Call::RefusingAttribute),
    ("#[memoize], dead redis", Call::DeadRedisAttribute),
];

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

/// Fails calls until both breakers are open.
fn open_breakers(rt: &tokio::runtime::Runtime) {
    rt.block_on(async {
        for cache in [&REFUSING, &DEAD_REDIS] {
            for id in 0..20 {
                cache.memoize("bench::warm", &id, Ttl::Default, || load(id)).await.unwrap();
            }
            assert_eq!(cache.stats().breaker.state, BreakerState::Open, "{:?}", cache.stats());
        }
    });
}

fn bench(c: &mut Criterion) {
    let rt = runtime();
    open_breakers(&rt);
    let mut group = c.benchmark_group("memoize_breaker_open");
    for (name, call) in CALLS {
        let mut id = 0u64;
        group.bench_function(name, |b| {
            b.to_async(&rt).iter(|| {
                id += 1;
                async move { black_box(call.run(id % 1000).await) }
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);

/// Mean time per call of `call` over `n` calls.
fn per_call(rt: &tokio::runtime::Runtime, call: Call, n: u64) -> Duration {
    rt.block_on(async {
        let start = Instant::now();
        for id in 0..n {
            black_box(call.run(id % 1000).await);
        }
        start.elapsed() / n as u32
    })
}

/// The best of 5 rounds of each call, rounds interleaved, and the difference to the loader.
fn print_differences() {
    const N: u64 = 200_000;
    let rt = runtime();
    open_breakers(&rt);
    let mut best = [Duration::MAX; CALLS.len()];
    for _ in 0..5 {
        for (i, (_, call)) in CALLS.iter().enumerate() {
            best[i] = best[i].min(per_call(&rt, *call, N));
        }
    }
    println!("\nadded per call with the breaker open (best of 5 x {N} calls; target < 10 µs):");
    for (i, (name, _)) in CALLS.iter().enumerate().skip(1) {
        let added = best[i].saturating_sub(best[0]);
        let verdict = if added < Duration::from_micros(10) { "met" } else { "MISSED" };
        println!("    {name:<34} {:>8.2} µs per call, {:>6.2} µs added: {verdict}", us(best[i]), us(added));
    }
    println!("    {:<34} {:>8.2} µs per call", CALLS[0].0, us(best[0]));
    for cache in [&REFUSING, &DEAD_REDIS] {
        let stats = cache.stats();
        println!(
            "    {}: {} backend failures, {} of them rejected at once by the open breaker",
            cache.backend().type_name(),
            stats.errors,
            stats.breaker.rejected
        );
    }
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "error".into()))
        .with_writer(std::io::stderr)
        .init();
    benches();
    Criterion::default().configure_from_args().final_summary();
    print_differences();
}
