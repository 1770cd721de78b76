//! Memoized hits side by side in one criterion group: cachette's `#[memoize]`, `Cache::memoize`,
//! `get_or_set` and a typed `Cache::get` (SimpleCache) against `cached`'s `#[cached]` (sync and
//! async) and moka's `get_with` (future and sync).
//!
//! `cargo bench --bench memoize` in bench/peers (./run runs it and prints the table with
//! ratios to moka's `future::Cache::get_with`). Every side holds the same 1,000 results (a
//! 100-character `String` per `u64` id) for 300 s in a store bounded at 10,000 entries, and
//! every call is a hit: what is measured is what each library adds to a lookup.
//!
//! What differs by design: cachette stores encoded bytes behind `Arc<dyn BaseCache>` (any
//! backend, a process-shared one included), so a hit decodes a `String` and a memoized hit reads
//! the function's version first (O(1) `delete_memoized`); `cached` and moka keep the `String`
//! itself in the process and clone it.
// criterion_group! defines a public function it cannot document.
#![allow(missing_docs)]

use std::hint::black_box;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use cachette::{Cache, Config, Ttl};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// The criterion group; ./run reads its results by this name.
const GROUP: &str = "peers_memoized_hit";
const IDS: u64 = 1_000;
const FRESH_FOR: Duration = Duration::from_secs(300);

static CACHE: LazyLock<Cache> = LazyLock::new(|| {
    let config = Config::from_map([("CACHE_TYPE", "SimpleCache"), ("CACHE_THRESHOLD", "10000")]).unwrap();
    Cache::from_config(config).unwrap()
});

/// The work memoized: small, so that what is measured is what the cache adds.
fn load(id: u64) -> String {
    format!("user {id:>95}")
}

async fn load_async(id: u64) -> Result<String, std::io::Error> {
    Ok(load(id))
}

#[cachette::memoize(cache = CACHE, ttl = Ttl::After(FRESH_FOR))]
async fn by_cachette(id: u64) -> Result<String, std::io::Error> {
    load_async(id).await
}

#[cached::macros::cached(max_size = 10_000, ttl_secs = 300)]
fn by_cached_sync(id: u64) -> String {
    load(id)
}

#[cached::macros::cached(max_size = 10_000, ttl_secs = 300)]
async fn by_cached_async(id: u64) -> String {
    load(id)
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let moka_future: moka::future::Cache<u64, String> =
        moka::future::Cache::builder().max_capacity(10_000).time_to_live(FRESH_FOR).build();
    let moka_sync: moka::sync::Cache<u64, String> =
        moka::sync::Cache::builder().max_capacity(10_000).time_to_live(FRESH_FOR).build();
    let ttl = Ttl::After(FRESH_FOR);
    // Every way's first call stores; what the group measures are hits.
    rt.block_on(async {
        for id in 0..IDS {
            moka_future.get_with(id, async { load(id) }).await;
            moka_sync.get_with(id, || load(id));
            by_cached_sync(id);
            by_cached_async(id).await;
            by_cachette(id).await.unwrap();
            CACHE.memoize("bench::by_cache", &id, ttl, || load_async(id)).await.unwrap();
            CACHE.get_or_set(&format!("user:{id}"), ttl, || load_async(id)).await.unwrap();
        }
    });

    let misses = CACHE.stats().misses;
    let next = AtomicU64::new(0);
    let id = || next.fetch_add(1, Ordering::Relaxed) % IDS;
    let mut group = c.benchmark_group(GROUP);
    group.throughput(Throughput::Elements(1));
    group.bench_function("moka future::Cache::get_with", |b| {
        b.to_async(&rt).iter(|| async {
            let id = id();
            black_box(moka_future.get_with(id, async move { load(id) }).await)
        })
    });
    group.bench_function("moka sync::Cache::get_with", |b| {
        b.iter(|| {
            let id = id();
            black_box(moka_sync.get_with(id, || load(id)))
        })
    });
    group.bench_function("cached #[cached] sync fn", |b| b.iter(|| black_box(by_cached_sync(id()))));
    group.bench_function("cached #[cached] async fn", |b| {
        b.to_async(&rt).iter(|| async { black_box(by_cached_async(id()).await) })
    });
    group.bench_function("cachette Cache::get", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(CACHE.get::<String>(&format!("user:{}", id())).await.unwrap().unwrap()) })
    });
    group.bench_function("cachette Cache::get_or_set", |b| {
        b.to_async(&rt).iter(|| async {
            let id = id();
            black_box(CACHE.get_or_set(&format!("user:{id}"), ttl, || load_async(id)).await.unwrap())
        })
    });
    group.bench_function("cachette Cache::memoize", |b| {
        b.to_async(&rt).iter(|| async {
            let id = id();
            black_box(CACHE.memoize("bench::by_cache", &id, ttl, || load_async(id)).await.unwrap())
        })
    });
    group.bench_function("cachette #[memoize]", |b| {
        b.to_async(&rt).iter(|| async { black_box(by_cachette(id()).await.unwrap()) })
    });
    group.finish();
    let stats = CACHE.stats();
    assert_eq!(stats.misses, misses, "every measured cachette call was a hit: {stats:?}");
}

criterion_group!(benches, bench);
criterion_main!(benches);
