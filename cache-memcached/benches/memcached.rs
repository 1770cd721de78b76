//! Load driver: get and set of 100-byte values at 50 concurrent tasks, side by side on a
//! memcached started for the run, and on a second one serving TLS only (client certificates
//! required, as the tests' TLS server):
//!
//! * `Cache` — the typed facade (`cache.get::<String>` / `cache.set(&str)`, a 100-character string,
//!   102 bytes encoded) over `MemcachedCache` (meta protocol, the default);
//! * `MemcachedCache` — the backend called directly (`BaseCache::get` / `set`), on the meta and
//!   on the binary protocol (`CACHE_OPTIONS.protocol`), each over plain TCP and over TLS;
//! * the raw `memcache` crate client (0.21, binary protocol) from 50 OS threads (its best case,
//!   the ratio's denominator) and from 50 tokio tasks through `spawn_blocking` (how an async
//!   application would have to call it);
//! * `memcslap` (libmemcached-tools) as a reference, 50 threads, its own value size.
//!
//! Each mode runs for `BENCH_SECS` seconds (default 3), three rounds interleaved; the median
//! ops/s of each is printed with its ratio to the raw client, then meta against binary and TLS
//! against plain TCP. Run with `cargo bench -p cachette-memcached --bench memcached`. No timing
//! is asserted.

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use cachette_conformance::harness::memcached::{MemcachedOptions, MemcachedServer, MemcachedTarget};
use cachette_core::{BaseCache, Bytes, Cache, Config, Ttl};
use cachette_memcached::MemcachedCache;

const TASKS: usize = 50;
const KEYS: usize = 1000;
const VALUE_LEN: usize = 100;
const POOL: u32 = 16;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Op {
    Get,
    Set,
}

fn key(i: usize) -> String {
    format!("bench:key:{i}")
}

fn value() -> Vec<u8> {
    (0..VALUE_LEN).map(|i| b'a' + (i % 26) as u8).collect()
}

/// A tiny per-task key picker (xorshift), so tasks do not walk the keys in step.
struct Keys(u64);

impl Keys {
    fn next(&mut self) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % KEYS as u64) as usize
    }
}

fn secs() -> Duration {
    Duration::from_secs_f64(std::env::var("BENCH_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(3.0))
}

/// Runs `TASKS` tokio tasks calling `step(task, key index)` until the time is up; ops/s.
async fn run_tasks<F, Fut>(step: F) -> f64
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let step = Arc::new(step);
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let tasks: Vec<_> = (0..TASKS)
        .map(|t| {
            let (step, stop, done) = (step.clone(), stop.clone(), done.clone());
            tokio::spawn(async move {
                let mut keys = Keys(0x9e37_79b9_7f4a_7c15 ^ ((t as u64 + 1) * 0x1000_0000_01b3));
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    step(keys.next()).await;
                    n += 1;
                }
                done.fetch_add(n, Ordering::Relaxed);
            })
        })
        .collect();
    tokio::time::sleep(secs()).await;
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await.unwrap();
    }
    done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

/// Runs `TASKS` OS threads calling `step(key index)` until the time is up; ops/s.
fn run_threads(step: impl Fn(usize) + Send + Sync + 'static) -> f64 {
    let step = Arc::new(step);
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let threads: Vec<_> = (0..TASKS)
        .map(|t| {
            let (step, stop) = (step.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut keys = Keys(0x9e37_79b9_7f4a_7c15 ^ ((t as u64 + 1) * 0x1000_0000_01b3));
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    step(keys.next());
                    n += 1;
                }
                n
            })
        })
        .collect();
    std::thread::sleep(secs());
    stop.store(true, Ordering::Relaxed);
    let total: u64 = threads.into_iter().map(|t| t.join().unwrap()).sum();
    total as f64 / started.elapsed().as_secs_f64()
}

fn raw_client(addr: &str) -> memcache::Client {
    memcache::Client::builder()
        .add_server(format!("memcache://{addr}"))
        .unwrap()
        .with_max_pool_size(POOL)
        .with_connection_timeout(Duration::from_secs(2))
        .build()
        .unwrap()
}

/// memcslap's ops/s for `test` ("get" or "set"), if it is installed and its output parses.
fn memcslap(addr: &str, test: &str) -> Option<f64> {
    let output = Command::new("memcslap")
        .args([&format!("--servers={addr}"), "--concurrency=50", "--execute-number=4000", &format!("--test={test}")])
        .arg("--binary")
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr);
    let line = text.lines().find(|l| l.starts_with(&format!("Time to {test}")))?;
    let words: Vec<&str> = line.split_whitespace().collect();
    let keys: f64 = words.get(3)?.parse().ok()?;
    let seconds: f64 = words.iter().rev().nth(1)?.parse().ok()?;
    Some(keys / seconds)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

/// A `MemcachedCache` on `target` speaking `protocol`.
fn backend(target: &MemcachedTarget, protocol: &str) -> MemcachedCache {
    let options = format!("pool_size={POOL},protocol={protocol}");
    let mut config = Config::from_map([("CACHE_KEY_PREFIX", "bench:"), ("CACHE_OPTIONS", options.as_str())]).unwrap();
    target.apply(&mut config);
    MemcachedCache::new(&config).unwrap()
}

/// `op` on `backend` (`BaseCache` directly) from `TASKS` tasks; ops/s.
async fn direct(backend: MemcachedCache, op: Op, bytes: Bytes) -> f64 {
    run_tasks(move |i| {
        let (backend, bytes) = (backend.clone(), bytes.clone());
        async move {
            let k = format!("direct:{}", key(i));
            match op {
                Op::Get => assert!(backend.get(&k).await.unwrap().is_some()),
                Op::Set => backend.set(&k, bytes, Ttl::Never).await.unwrap(),
            }
        }
    })
    .await
}

fn main() {
    let server = MemcachedServer::start_with(MemcachedOptions::new().memory_mb(256));
    let tls_server = MemcachedServer::start_with(MemcachedOptions::new().memory_mb(256).tls());
    let addr = server.address();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();

    let (plain, tls) = (server.target(), tls_server.target());
    // The direct modes, in the order printed: (name, backend).
    let backends = [
        ("MemcachedCache, meta", backend(&plain, "meta")),
        ("MemcachedCache, binary", backend(&plain, "binary")),
        ("MemcachedCache, meta, TLS", backend(&tls, "meta")),
        ("MemcachedCache, binary, TLS", backend(&tls, "binary")),
    ];
    let config = {
        let mut config = Config::from_map([("CACHE_KEY_PREFIX", "bench:")]).unwrap();
        plain.apply(&mut config);
        config
    };
    let cache = Cache::new(Arc::new(backends[0].1.clone()), config);
    let raw = raw_client(&addr);

    let v = value();
    let bytes = Bytes::from(v.clone());
    let text: Arc<str> = String::from_utf8(v.clone()).unwrap().into();
    runtime.block_on(async {
        for i in 0..KEYS {
            cache.set(&key(i), &*text, Ttl::Never).await.unwrap();
            for seeded in [&backends[0].1, &backends[2].1] {
                seeded.set(&format!("direct:{}", key(i)), bytes.clone(), Ttl::Never).await.unwrap();
            }
        }
    });
    for i in 0..KEYS {
        raw.set(&key(i), &v[..], 0).unwrap();
    }

    let mut modes = vec!["Cache (typed facade, meta)"];
    modes.extend(backends.iter().map(|(name, _)| *name));
    modes.extend(["memcache crate, 50 threads", "memcache crate, spawn_blocking"]);
    let raw_mode = modes.len() - 2;
    println!(
        "memcached {addr} and tls://{}: {TASKS} concurrent tasks, {VALUE_LEN}-byte values, {KEYS} keys, pool of {POOL} \
         connections, {:?} per run",
        tls_server.address(),
        secs()
    );
    for op in [Op::Get, Op::Set] {
        let mut results: Vec<Vec<f64>> = vec![Vec::new(); modes.len()];
        for _round in 0..3 {
            results[0].push(runtime.block_on({
                let cache = cache.clone();
                let text = text.clone();
                run_tasks(move |i| {
                    let (cache, text) = (cache.clone(), text.clone());
                    async move {
                        match op {
                            Op::Get => {
                                let got: Option<String> = cache.get(&key(i)).await.unwrap();
                                assert!(got.is_some());
                            }
                            Op::Set => cache.set(&key(i), &*text, Ttl::Never).await.unwrap(),
                        }
                    }
                })
            }));
            for (m, (_, backend)) in backends.iter().enumerate() {
                results[1 + m].push(runtime.block_on(direct(backend.clone(), op, bytes.clone())));
            }
            results[raw_mode].push({
                let raw = raw.clone();
                let v = v.clone();
                run_threads(move |i| match op {
                    Op::Get => assert!(raw.get::<Vec<u8>>(&key(i)).unwrap().is_some()),
                    Op::Set => raw.set(&key(i), &v[..], 0).unwrap(),
                })
            });
            results[raw_mode + 1].push(runtime.block_on({
                let raw = raw.clone();
                let v = Arc::new(v.clone());
                run_tasks(move |i| {
                    let (raw, v) = (raw.clone(), v.clone());
                    async move {
                        tokio::task::spawn_blocking(move || match op {
                            Op::Get => assert!(raw.get::<Vec<u8>>(&key(i)).unwrap().is_some()),
                            Op::Set => raw.set(&key(i), &v[..], 0).unwrap(),
                        })
                        .await
                        .unwrap()
                    }
                })
            }));
        }
        let medians: Vec<f64> = results.into_iter().map(median).collect();
        let baseline = medians[raw_mode];
        println!("\n{op:?}:");
        for (mode, ops) in modes.iter().zip(&medians) {
            println!("  {mode:<32} {ops:>9.0} ops/s   ratio to raw client {:.2}", ops / baseline);
        }
        let (meta, binary, meta_tls, binary_tls) = (medians[1], medians[2], medians[3], medians[4]);
        println!(
            "  meta / binary: {:.2} plain, {:.2} TLS;  TLS / plain: {:.2} meta, {:.2} binary",
            meta / binary,
            meta_tls / binary_tls,
            meta_tls / meta,
            binary_tls / binary
        );
        let test = if op == Op::Get { "get" } else { "set" };
        match memcslap(&addr, test) {
            Some(ops) => println!(
                "  {:<32} {ops:>9.0} ops/s   (reference; its own keys and values, binary protocol)",
                "memcslap, 50 threads"
            ),
            None => println!("  memcslap not run (install libmemcached-tools)"),
        }
    }
}
