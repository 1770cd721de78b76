//! Two real processes on one real Redis, each with an in-process tier and the invalidation bus:
//! process A (this test) writes a key 1,000 times; process B (this binary re-run as a reader,
//! `CACHETTE_TIERED_READER=1`) reads it with four concurrent tasks.
//!
//! * The window: from the start of A's write of value `i` to the first read of `i` in B; p50 and
//!   p99 are printed (a report, not an assertion: performance is for benchmarks).
//! * Stale reads after the invalidation arrived: a read in B that began after B had applied the
//!   invalidation of write `n` (B's [`TieredCache::invalidations_received`] was `n`) and returned
//!   a value older than `n`. Must be 0.
//! * Halfway, every pub/sub connection is killed (`CLIENT KILL TYPE pubsub`): B must still see
//!   every later value (a missed message would leave it serving the old one for the 60 s tier
//!   life; the run fails if one write is not seen within 10 s).

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use cachette_conformance::harness::redis::RedisServer;
use cachette_core::{BaseCache, Bytes, Config, Ttl};
use cachette_redis::RedisCache;
use cachette_tiered::TieredCache;
use redis::AsyncCommands;

const WRITES: u64 = 1_000;
const READERS: usize = 4;
const ROLE: &str = "CACHETTE_TIERED_READER";
const URL: &str = "CACHETTE_TIERED_URL";

fn now_nanos() -> u128 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos()
}

fn config(url: &str) -> Config {
    Config::from_map([
        ("CACHE_REDIS_URL", url),
        ("CACHE_KEY_PREFIX", "coherence:"),
        ("CACHE_L1", "true"),
        ("CACHE_L1_TIMEOUT", "60s"),
        ("CACHE_L1_BUS_URL", url),
    ])
    .unwrap()
}

async fn tiered(url: &str) -> Arc<TieredCache> {
    let config = config(url);
    let cache = TieredCache::new(Arc::new(RedisCache::new(&config).unwrap()), &config).unwrap();
    let start = Instant::now();
    while !cache.is_active() {
        assert!(start.elapsed() < Duration::from_secs(5), "the bus did not subscribe within 5 s");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Arc::new(cache)
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    if std::env::var(ROLE).is_ok() {
        runtime.block_on(reader(std::env::var(URL).unwrap()));
        return;
    }
    runtime.block_on(writer());
    println!("test a_write_in_one_process_is_seen_by_another_and_never_after_its_invalidation ... ok");
}

/// Process B: reads until it has seen the last value, reports progress in the key `progress`,
/// then prints `seen <value> <nanos>` for every value and `stale <count>`.
async fn reader(url: String) {
    let cache = tiered(&url).await;
    let mut progress = redis::Client::open(url.as_str()).unwrap().get_multiplexed_async_connection().await.unwrap();
    progress.set::<_, _, ()>("progress", "ready").await.unwrap();
    let first_seen: Arc<Vec<AtomicU64>> = Arc::new((0..=WRITES).map(|_| AtomicU64::new(0)).collect());
    let max_seen = Arc::new(AtomicU64::new(0));
    let stale = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..READERS {
        let (cache, first_seen, max_seen, stale, mut progress) =
            (cache.clone(), first_seen.clone(), max_seen.clone(), stale.clone(), progress.clone());
        tasks.push(tokio::spawn(async move {
            while max_seen.load(Ordering::SeqCst) < WRITES {
                let applied = cache.invalidations_received();
                let value = match cache.get("k").await {
                    Ok(Some(v)) => std::str::from_utf8(&v).unwrap().parse::<u64>().unwrap(),
                    _ => 0,
                };
                let at = now_nanos() as u64;
                if value < applied {
                    stale.fetch_add(1, Ordering::SeqCst);
                }
                let _ = first_seen[value as usize].compare_exchange(0, at, Ordering::SeqCst, Ordering::SeqCst);
                if max_seen.fetch_max(value, Ordering::SeqCst) < value {
                    progress.set::<_, _, ()>("progress", value).await.unwrap();
                }
                tokio::task::yield_now().await;
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    for (value, at) in first_seen.iter().enumerate().skip(1) {
        println!("seen {value} {}", at.load(Ordering::SeqCst));
    }
    println!("stale {}", stale.load(Ordering::SeqCst));
}

async fn wait_progress(conn: &mut redis::aio::MultiplexedConnection, at_least: u64, limit: Duration) {
    let start = Instant::now();
    loop {
        let got: Option<String> = conn.get("progress").await.unwrap();
        if got.as_deref().and_then(|p| p.parse::<u64>().ok()).is_some_and(|p| p >= at_least)
            || (at_least == 0 && got.is_some())
        {
            return;
        }
        assert!(
            start.elapsed() < limit,
            "process B did not see value {at_least} within {limit:?}: a stale value stayed"
        );
        tokio::time::sleep(Duration::from_micros(100)).await;
    }
}

/// Process A.
async fn writer() {
    let server = RedisServer::start();
    let url = server.url();
    let a = tiered(&url).await;
    a.set("k", Bytes::from_static(b"0"), Ttl::Never).await.unwrap();
    let b = Command::new(std::env::current_exe().unwrap())
        .env(ROLE, "1")
        .env(URL, &url)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut conn = redis::Client::open(url.as_str()).unwrap().get_multiplexed_async_connection().await.unwrap();
    wait_progress(&mut conn, 0, Duration::from_secs(10)).await;
    let mut started = Vec::with_capacity(WRITES as usize);
    for i in 1..=WRITES {
        if i == WRITES / 2 {
            let killed = server.cli(&["CLIENT", "KILL", "TYPE", "pubsub"]);
            println!("killed the pub/sub connections: {}", killed.trim());
        }
        started.push(now_nanos());
        a.set("k", Bytes::from(i.to_string()), Ttl::Never).await.unwrap();
        wait_progress(&mut conn, i, Duration::from_secs(10)).await;
    }
    let out = tokio::task::spawn_blocking(move || b.wait_with_output().unwrap()).await.unwrap();
    assert!(out.status.success(), "process B failed");
    let text = String::from_utf8(out.stdout).unwrap();
    let mut windows: Vec<u128> = Vec::new();
    let mut stale = None;
    for line in text.lines() {
        let parts: Vec<&str> = line.split_whitespace().collect();
        match parts.as_slice() {
            ["seen", value, at] => {
                let (value, at): (usize, u128) = (value.parse().unwrap(), at.parse().unwrap());
                windows.push(at.saturating_sub(started[value - 1]));
            }
            ["stale", n] => stale = Some(n.parse::<u64>().unwrap()),
            _ => {}
        }
    }
    windows.sort_unstable();
    let pct = |p: usize| windows[(windows.len() * p / 100).min(windows.len() - 1)] as f64 / 1e6;
    println!(
        "coherence over {} writes: p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms; stale reads after the invalidation arrived: {:?}",
        windows.len(),
        pct(50),
        pct(99),
        pct(100),
        stale
    );
    assert_eq!(windows.len() as u64, WRITES, "B saw every value");
    assert_eq!(stale, Some(0), "no read after an invalidation arrived returned the old value");
}
