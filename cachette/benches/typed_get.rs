//! Typed `get` hits of a 100-byte value through `cachette::Cache` (SimpleCache) against the same
//! gets on a bare `moka::future::Cache`, side by side in one run.
//!
//! Run: `cargo bench -p cachette --bench typed_get`. Both sides read the same 1,000 keys in
//! turn and return an owned `String`, so the difference is what cachette adds: the trait call,
//! the codec and the counters.
// criterion_group! defines a public function it cannot document.
#![allow(missing_docs)]

use std::sync::atomic::{AtomicUsize, Ordering};

use cachette::{Cache, Config, Ttl};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const KEYS: usize = 1_000;

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let value: String = "x".repeat(100);
    let keys: Vec<String> = (0..KEYS).map(|i| format!("user:{i}")).collect();

    let moka: moka::future::Cache<String, String> = moka::future::Cache::builder().max_capacity(10_000).build();
    let cache =
        Cache::from_config(Config::from_map([("CACHE_TYPE", "SimpleCache"), ("CACHE_THRESHOLD", "10000")]).unwrap())
            .unwrap();
    rt.block_on(async {
        for key in &keys {
            moka.insert(key.clone(), value.clone()).await;
            cache.set(key, &value, Ttl::Never).await.unwrap();
        }
    });

    let mut group = c.benchmark_group("typed_get_hit_100B");
    group.throughput(Throughput::Elements(1));
    let next = AtomicUsize::new(0);
    group.bench_function("moka", |b| {
        b.to_async(&rt).iter(|| async {
            let key = &keys[next.fetch_add(1, Ordering::Relaxed) % KEYS];
            let v: String = moka.get(key.as_str()).await.unwrap();
            std::hint::black_box(v)
        })
    });
    group.bench_function("cachette", |b| {
        b.to_async(&rt).iter(|| async {
            let key = &keys[next.fetch_add(1, Ordering::Relaxed) % KEYS];
            let v: String = cache.get::<String>(key).await.unwrap().unwrap();
            std::hint::black_box(v)
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
