//! Set and get of 1 KiB values through `cachette_core::Cache` over FileSystemCache against plain
//! `std::fs::write` + `rename` and `std::fs::read` of the same bytes, side by side in one run.
//!
//! `cargo bench -p cachette-fs --bench fs`
//!
//! Three lines per operation: the plain std calls on the bench thread (the baseline); the
//! same std calls through `spawn_blocking` (what any async caller pays to keep file I/O off the
//! runtime's threads); and FileSystemCache through `Cache`.
// criterion_group! defines a public function it cannot document.
#![allow(missing_docs)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use cachette_core::{Cache, Config, Ttl};
use cachette_fs::FileSystemCache;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const KEYS: usize = 1_000;

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let plain_dir = Arc::new(dir.path().join("plain"));
    std::fs::create_dir_all(&*plain_dir).unwrap();
    let config =
        Config::from_map([("CACHE_DIR", dir.path().to_str().unwrap()), ("CACHE_THRESHOLD", "100000")]).unwrap();
    let cache = Cache::new(Arc::new(FileSystemCache::new(&config).unwrap()), config);
    let value = Arc::new(vec![b'v'; 1024]);
    let keys: Vec<String> = (0..KEYS).map(|i| format!("page:{i}")).collect();
    let next = AtomicUsize::new(0);
    let pick = || next.fetch_add(1, Ordering::Relaxed) % KEYS;

    let plain_write = |dir: &std::path::Path, i: usize, value: &[u8]| {
        let tmp = dir.join(format!("{i}.tmp"));
        std::fs::write(&tmp, value).unwrap();
        std::fs::rename(&tmp, dir.join(i.to_string())).unwrap();
    };

    // Both stores hold every key before any benchmark runs, so each group stands alone.
    rt.block_on(async {
        for (i, key) in keys.iter().enumerate() {
            plain_write(&plain_dir, i, &value);
            cache.set_bytes(key, value.to_vec(), Ttl::Default).await.unwrap();
        }
    });

    let mut group = c.benchmark_group("fs_set_1KiB");
    group.throughput(Throughput::Elements(1));
    group.bench_function("std_write_rename", |b| b.iter(|| plain_write(&plain_dir, pick(), &value)));
    group.bench_function("std_write_rename_spawn_blocking", |b| {
        b.to_async(&rt).iter(|| {
            let (dir, value, i) = (plain_dir.clone(), value.clone(), pick());
            async move { tokio::task::spawn_blocking(move || plain_write(&dir, i, &value)).await.unwrap() }
        })
    });
    group.bench_function("cachette_filesystem", |b| {
        b.to_async(&rt).iter(|| async { cache.set_bytes(&keys[pick()], value.to_vec(), Ttl::Default).await.unwrap() })
    });
    group.finish();

    let mut group = c.benchmark_group("fs_get_1KiB");
    group.throughput(Throughput::Elements(1));
    group.bench_function("std_read", |b| {
        b.iter(|| std::hint::black_box(std::fs::read(plain_dir.join(pick().to_string())).unwrap()))
    });
    group.bench_function("std_read_spawn_blocking", |b| {
        b.to_async(&rt).iter(|| {
            let (dir, i) = (plain_dir.clone(), pick());
            async move {
                tokio::task::spawn_blocking(move || std::fs::read(dir.join(i.to_string())).unwrap()).await.unwrap()
            }
        })
    });
    group.bench_function("std_read_block_in_place", |b| {
        b.to_async(&rt).iter(|| {
            let (dir, i) = (plain_dir.clone(), pick());
            async move { tokio::task::block_in_place(move || std::fs::read(dir.join(i.to_string())).unwrap()) }
        })
    });
    group.bench_function("cachette_filesystem", |b| {
        b.to_async(&rt).iter(|| async { std::hint::black_box(cache.get_bytes(&keys[pick()]).await.unwrap().unwrap()) })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
