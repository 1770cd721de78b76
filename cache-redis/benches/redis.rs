//! Load driver: get and set of a 100-byte value at 50 concurrent tasks, through `Cache` over
//! RedisCache, against raw redis-rs (a multiplexed connection, the crate's recommended async
//! client) on the same server, and against `redis-benchmark -c 50 -d 100 -t get,set`
//! (unpipelined) — side by side in one run, five rounds (alternating which client goes first), medians and
//! ratios printed.
//!
//! `cargo bench -p cachette-redis --bench redis` (starts its own redis-server on a free port).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use cachette_conformance::harness::redis::RedisServer;
use cachette_core::{Cache, Config, Ttl};
use cachette_redis::RedisCache;

const TASKS: usize = 50;
const OPS: usize = 200_000;
const KEYS: usize = 10_000;
const ROUNDS: usize = 5;

async fn drive<F, Fut>(op: F) -> f64
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let op = Arc::new(op);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let (op, next) = (op.clone(), next.clone());
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= OPS {
                        break;
                    }
                    op(i % KEYS).await;
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    OPS as f64 / started.elapsed().as_secs_f64()
}

fn redis_benchmark(port: u16) -> (f64, f64) {
    let out = std::process::Command::new("redis-benchmark")
        .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-c", "50", "-d", "100", "-t", "get,set"])
        .args(["-n", &OPS.to_string(), "-r", &KEYS.to_string(), "-q"])
        .output()
        .expect("redis-benchmark (package redis-tools) runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let rps = |name: &str| -> f64 {
        text.split(['\r', '\n'])
            .filter(|l| l.starts_with(name))
            .filter_map(|l| l.split_whitespace().nth(1)?.parse().ok())
            .next_back()
            .unwrap_or_else(|| panic!("no {name} line in redis-benchmark's output: {text}"))
    };
    (rps("SET:"), rps("GET:"))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    cachette_conformance::harness::require_binary("redis-benchmark", "redis-tools");
    let server = RedisServer::start();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let value: String = "v".repeat(100);
    let keys: Arc<Vec<String>> = Arc::new((0..KEYS).map(|i| format!("key:{i:05}")).collect());

    let config = Config::from_map([("CACHE_REDIS_URL", server.url()), ("CACHE_KEY_PREFIX", "bench:".into())]).unwrap();
    let (cache, raw) = rt.block_on(async {
        let cache = Cache::new(Arc::new(RedisCache::new(&config).unwrap()), config.clone());
        let raw = redis::Client::open(server.url()).unwrap().get_multiplexed_async_connection().await.unwrap();
        (cache, raw)
    });

    let mut results: Vec<[f64; 6]> = Vec::new();
    for round in 1..=ROUNDS {
        let measure_cache = || {
            rt.block_on(async {
                let (c, k, v) = (cache.clone(), keys.clone(), value.clone());
                let set = drive(move |i| {
                    let (c, k, v) = (c.clone(), k.clone(), v.clone());
                    async move { c.set(&k[i], &v, Ttl::Default).await.unwrap() }
                })
                .await;
                let (c, k) = (cache.clone(), keys.clone());
                let get = drive(move |i| {
                    let (c, k) = (c.clone(), k.clone());
                    async move {
                        std::hint::black_box(c.get::<String>(&k[i]).await.unwrap().unwrap());
                    }
                })
                .await;
                (set, get)
            })
        };
        let measure_raw = || {
            rt.block_on(async {
                let (r, k, v) = (raw.clone(), keys.clone(), value.clone());
                let set = drive(move |i| {
                    let (mut r, k, v) = (r.clone(), k.clone(), v.clone());
                    async move {
                        let key = format!("raw:{}", k[i]);
                        redis::cmd("SET")
                            .arg(key)
                            .arg(&v)
                            .arg("PX")
                            .arg(300_000)
                            .query_async::<()>(&mut r)
                            .await
                            .unwrap()
                    }
                })
                .await;
                let (r, k) = (raw.clone(), keys.clone());
                let get = drive(move |i| {
                    let (mut r, k) = (r.clone(), k.clone());
                    async move {
                        let v: Option<String> =
                            redis::cmd("GET").arg(format!("raw:{}", k[i])).query_async(&mut r).await.unwrap();
                        std::hint::black_box(v.unwrap());
                    }
                })
                .await;
                (set, get)
            })
        };
        let ((cache_set, cache_get), (raw_set, raw_get)) = if round % 2 == 1 {
            let c = measure_cache();
            (c, measure_raw())
        } else {
            let r = measure_raw();
            (measure_cache(), r)
        };
        let (rb_set, rb_get) = redis_benchmark(server.port());
        println!(
            "round {round}: set  cache {cache_set:>9.0}/s  redis-rs {raw_set:>9.0}/s  redis-benchmark {rb_set:>9.0}/s\n\
             round {round}: get  cache {cache_get:>9.0}/s  redis-rs {raw_get:>9.0}/s  redis-benchmark {rb_get:>9.0}/s"
        );
        results.push([cache_set, raw_set, rb_set, cache_get, raw_get, rb_get]);
    }
    let col = |i: usize| median(results.iter().map(|r| r[i]).collect());
    let (cs, rs, bs, cg, rg, bg) = (col(0), col(1), col(2), col(3), col(4), col(5));
    println!("\nmedians of {ROUNDS} rounds, {OPS} ops each, {TASKS} concurrent tasks, 100-byte values:");
    println!(
        "set: Cache {cs:.0}/s, raw redis-rs {rs:.0}/s, redis-benchmark {bs:.0}/s -> {:.2} of redis-rs, {:.2} of redis-benchmark",
        cs / rs,
        cs / bs
    );
    println!(
        "get: Cache {cg:.0}/s, raw redis-rs {rg:.0}/s, redis-benchmark {bg:.0}/s -> {:.2} of redis-rs, {:.2} of redis-benchmark",
        cg / rg,
        cg / bg
    );
}
