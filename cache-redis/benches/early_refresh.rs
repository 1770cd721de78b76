//! A hot key expiring under steady load from 4 processes, with and without XFetch early refresh
//! (`LoadPolicy::early_refresh`), on a real Redis, side by side in one run:
//!
//! ```text
//! cargo bench -p cachette-redis --bench early_refresh
//! ```
//!
//! Each of 4 worker processes (this binary re-run) keeps 20 tasks reading one key through
//! `get_or_set_with` (fresh for 1 s, a 50 ms loader that counts itself with an `inc` on the
//! server) for 8 s, after one read each (the cold start, not counted). Printed per variant: loader calls, per fresh
//! period, and reads that waited for a load (took over 25 ms; a hit takes well under one).
//! Without early refresh, leases keep the loads to one per expiry but the readers of every
//! process wait for it; with it, one reader refreshes the key before it goes stale and nobody
//! waits. At this read rate (~16,000/s) XFetch with beta 1 refreshes about a third of a second
//! early, so a little more often than once per fresh period: each refresh is one load, by one
//! process.

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use cachette_conformance::harness::redis::RedisServer;
use cachette_core::{Cache, CacheError, Config, LoadPolicy};
use cachette_redis::RedisCache;

const WORKERS: usize = 4;
const TASKS: usize = 20;
const RUN: Duration = Duration::from_secs(8);
const FRESH: Duration = Duration::from_secs(1);
const LOAD: Duration = Duration::from_millis(50);
const WAITED: Duration = Duration::from_millis(25);

fn cache(url: &str, prefix: &str) -> Cache {
    let config = Config::from_map([("CACHE_REDIS_URL", url), ("CACHE_KEY_PREFIX", prefix)]).unwrap();
    Cache::new(Arc::new(RedisCache::new(&config).unwrap()), config)
}

fn policy(early: bool) -> LoadPolicy {
    let policy = LoadPolicy::new(FRESH);
    if early { policy.early_refresh(1.0) } else { policy }
}

/// The loader: counts itself on the server, takes [`LOAD`].
fn load(cache: &Cache) -> impl FnOnce() -> futures::future::BoxFuture<'static, Result<u64, CacheError>> + use<> {
    let counter = cache.clone();
    move || {
        Box::pin(async move {
            counter.inc("loads", 1).await?;
            tokio::time::sleep(LOAD).await;
            Ok(7)
        })
    }
}

/// A worker: steady reads for [`RUN`]; prints how many waited.
async fn work(url: &str, prefix: &str, early: bool) {
    let cache = cache(url, prefix);
    // Connect and read the key once before the clock starts: the cold start (one load for all
    // workers, by the leases) is not what is measured.
    let _: u64 = cache.get_or_set_with("hot", &policy(early), load(&cache)).await.unwrap();
    let waited = Arc::new(AtomicU64::new(0));
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let (cache, waited) = (cache.clone(), waited.clone());
            tokio::spawn(async move {
                let policy = policy(early);
                let end = Instant::now() + RUN;
                while Instant::now() < end {
                    let started = Instant::now();
                    let _: u64 = cache.get_or_set_with("hot", &policy, load(&cache)).await.unwrap();
                    if started.elapsed() > WAITED {
                        waited.fetch_add(1, Relaxed);
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    println!("{}", waited.load(Relaxed));
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    if let Ok(variant) = std::env::var("EARLY_REFRESH_WORKER") {
        let url = std::env::var("EARLY_REFRESH_URL").unwrap();
        runtime.block_on(work(&url, &format!("{variant}:"), variant == "xfetch"));
        return;
    }
    if std::env::args().any(|a| a == "--list") {
        return; // cargo test --benches asks for a list
    }
    let server = RedisServer::start();
    println!("hot key, fresh {FRESH:?}, {LOAD:?} loader, {WORKERS} processes x {TASKS} readers, {RUN:?}");
    println!("{:<16} {:>6} {:>16} {:>20}", "variant", "loads", "per fresh period", "reads that waited");
    for variant in ["plain", "xfetch"] {
        let counter = cache(&server.url(), &format!("{variant}:"));
        let workers: Vec<_> = (0..WORKERS)
            .map(|_| {
                Command::new(std::env::current_exe().unwrap())
                    .env("EARLY_REFRESH_WORKER", variant)
                    .env("EARLY_REFRESH_URL", server.url())
                    .output_async()
            })
            .collect();
        let waited: u64 = workers.into_iter().map(|w| w()).sum();
        // Less the cold start's one load.
        let loads: i64 = runtime.block_on(counter.inc("loads", 0)).unwrap() - 1;
        let periods = RUN.as_secs_f64() / FRESH.as_secs_f64();
        println!("{variant:<16} {loads:>6} {:>16.2} {waited:>20}", loads as f64 / periods);
    }
}

/// Spawns a command now and gives a function that waits for it and reads the number it prints.
trait OutputAsync {
    fn output_async(&mut self) -> Box<dyn FnOnce() -> u64>;
}

impl OutputAsync for Command {
    fn output_async(&mut self) -> Box<dyn FnOnce() -> u64> {
        let child = self.stdout(std::process::Stdio::piped()).spawn().expect("start a worker");
        Box::new(move || {
            let out = child.wait_with_output().unwrap();
            assert!(out.status.success(), "a worker failed");
            String::from_utf8_lossy(&out.stdout).trim().parse().expect("a worker prints its count")
        })
    }
}
