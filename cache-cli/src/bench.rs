//! `bench`: sets then gets against the configured backend, with a progress bar, latency
//! percentiles (hdrhistogram) and the hit rate of the gets, over a key space the cache can keep.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use cachette::{Bytes, Cache, CacheError, Config, Ttl};
use hdrhistogram::Histogram;
use serde::Serialize;

use crate::output::{self, Out};
use crate::progress;

/// How much load: `ops` operations per phase over `concurrency` tasks, values of `size` bytes
/// (each checked by the command line: [`crate::cli`]), `keys` distinct keys if given.
pub(crate) struct Load {
    pub(crate) ops: usize,
    pub(crate) concurrency: usize,
    pub(crate) size: usize,
    pub(crate) keys: Option<usize>,
}

/// What `bench` prints (`--json`: this object).
#[derive(Serialize)]
pub(crate) struct BenchReport {
    backend: &'static str,
    keys: usize,
    /// Why that many keys.
    keys_sized_by: String,
    value_size: usize,
    concurrency: usize,
    phases: Vec<Phase>,
}

#[derive(Serialize)]
struct Phase {
    operation: &'static str,
    ops: u64,
    seconds: f64,
    ops_per_second: f64,
    latency_us: Percentiles,
    /// For gets: how many found their value.
    #[serde(skip_serializing_if = "Option::is_none")]
    hits: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    hit_rate: Option<f64>,
}

/// Microseconds, with the nanosecond digits (a SimpleCache get takes well under one).
#[derive(Serialize)]
struct Percentiles {
    p50: f64,
    p90: f64,
    p99: f64,
    p999: f64,
    max: f64,
}

/// The most keys by default: enough to spread over servers and slots, few enough to write fast.
const DEFAULT_KEYS: usize = 10_000;
/// Per-key overhead assumed when fitting keys into a server's memory limit (its key, its entry).
const ENTRY_OVERHEAD: u64 = 100;
/// Histograms the tasks record into: tasks share them by stripes, so that 10 000 tasks do not
/// each hold one (250 KiB at 3 significant digits up to an hour), and few tasks share a lock.
const STRIPES: usize = 64;

/// Runs both phases, deletes its keys, prints the report.
pub(crate) async fn bench(cache: &Cache, config: &Config, load: Load, out: Out) -> Result<(), CacheError> {
    let (keys, keys_sized_by) = key_space(cache, config, &load).await;
    let run = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let work = Work {
        names: (0..keys).map(|i| format!("cachectl-bench:{run}:{i}")).collect(),
        value: Bytes::from(vec![b'x'; load.size]),
        ops: load.ops,
        concurrency: load.concurrency,
    };
    let mut phases = Vec::new();
    for operation in ["set", "get"] {
        phases.push(phase(cache, operation, &work).await?);
    }
    for chunk in work.names.chunks(1000) {
        let refs: Vec<&str> = chunk.iter().map(String::as_str).collect();
        cache.delete_many(&refs).await?;
    }
    let report = BenchReport {
        backend: cache.backend().type_name(),
        keys,
        keys_sized_by,
        value_size: load.size,
        concurrency: load.concurrency,
        phases,
    };
    out.show(&report, human);
    Ok(())
}

/// How many distinct keys: `--keys`, else as many as `--ops` up to 10 000, then no more than the
/// cache keeps, so that the gets measure hits and not evictions.
async fn key_space(cache: &Cache, config: &Config, load: &Load) -> (usize, String) {
    if let Some(keys) = load.keys {
        return (keys.min(load.ops), "--keys (at most --ops)".to_owned());
    }
    let mut keys = load.ops.min(DEFAULT_KEYS);
    let mut why = if keys == load.ops { "--ops".to_owned() } else { format!("at most {DEFAULT_KEYS} by default") };
    let bounded = matches!(cache.backend().type_name(), "SimpleCache" | "FileSystemCache");
    // 90%: moka's admission policy (TinyLFU) already refuses some new entries near the bound.
    let threshold = config.threshold * 9 / 10;
    if bounded && config.threshold > 0 && threshold.max(1) < keys {
        keys = threshold.max(1);
        why = format!("90% of CACHE_THRESHOLD={}", config.threshold);
    }
    if let Some(admin) = cache.backend().admin()
        && let Ok(servers) = admin.servers().await
        && !servers.is_empty()
        && let Some(limit) = servers.iter().map(|s| s.memory_limit).sum::<Option<u64>>()
    {
        let fits = (limit / 4 / (load.size as u64 + ENTRY_OVERHEAD)).max(1);
        if fits < keys as u64 {
            keys = fits as usize;
            why = format!("a quarter of the servers' memory limit ({})", output::bytes(limit));
        }
    }
    (keys, why)
}

/// What every phase runs over: the keys (shared by the tasks), one value, the load.
struct Work {
    names: Arc<[String]>,
    value: Bytes,
    ops: usize,
    concurrency: usize,
}

/// `work.ops` operations of one kind over `work.concurrency` tasks, timed one by one.
async fn phase(cache: &Cache, operation: &'static str, work: &Work) -> Result<Phase, CacheError> {
    let Work { ops, concurrency, .. } = *work;
    let histogram = Histogram::<u64>::new_with_bounds(1, 3_600_000_000_000, 3).expect("valid histogram bounds");
    let stripes: Arc<[Mutex<Histogram<u64>>]> =
        (0..concurrency.min(STRIPES)).map(|_| Mutex::new(histogram.clone())).collect();
    let bar = progress::bar(operation, ops as u64);
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(concurrency);
    for worker in 0..concurrency {
        let (cache, names, value, stripes, bar) =
            (cache.clone(), work.names.clone(), work.value.clone(), stripes.clone(), bar.clone());
        tasks.push(tokio::spawn(async move {
            let stripe = &stripes[worker % stripes.len()];
            let mut hits = 0u64;
            let mut i = worker;
            let mut done = 0u64;
            while i < ops {
                let key = &names[i % names.len()];
                let t = Instant::now();
                if operation == "set" {
                    cache.set_bytes(key, value.clone(), Ttl::After(Duration::from_secs(300))).await?;
                } else if cache.get_bytes(key).await?.is_some() {
                    hits += 1;
                }
                let elapsed = t.elapsed().as_nanos() as u64;
                stripe.lock().unwrap_or_else(|p| p.into_inner()).saturating_record(elapsed.max(1));
                i += concurrency;
                done += 1;
                // Batched: one atomic add per op would show in a SimpleCache get (~200 ns).
                if done.is_multiple_of(64) {
                    bar.inc(64);
                }
            }
            bar.inc(done % 64);
            Ok::<_, CacheError>(hits)
        }));
    }
    let mut hits = 0;
    for task in tasks {
        let part =
            task.await.map_err(|e| CacheError::backend("cachectl", format!("a bench task failed: {e}"), None))?;
        hits += part.inspect_err(|_| bar.abandon())?;
    }
    let elapsed = started.elapsed();
    bar.finish_and_clear();
    let mut all = histogram;
    for stripe in stripes.iter() {
        all.add(&*stripe.lock().unwrap_or_else(|p| p.into_inner())).expect("histograms of the same bounds add");
    }
    let us = |q: f64| all.value_at_quantile(q) as f64 / 1_000.0;
    let is_get = operation == "get";
    Ok(Phase {
        operation,
        ops: ops as u64,
        seconds: elapsed.as_secs_f64(),
        ops_per_second: ops as f64 / elapsed.as_secs_f64(),
        latency_us: Percentiles {
            p50: us(0.5),
            p90: us(0.9),
            p99: us(0.99),
            p999: us(0.999),
            max: all.max() as f64 / 1e3,
        },
        hits: is_get.then_some(hits),
        hit_rate: is_get.then(|| hits as f64 / ops as f64),
    })
}

fn human(report: &BenchReport) -> String {
    let mut table = output::table(&["PHASE", "OPS", "OPS/S", "P50", "P90", "P99", "P99.9", "MAX", "HIT RATE"], 1);
    let us = |v: f64| output::latency(Duration::from_nanos((v * 1_000.0) as u64));
    for p in &report.phases {
        let l = &p.latency_us;
        table.add_row([
            p.operation.to_owned(),
            p.ops.to_string(),
            format!("{:.0}", p.ops_per_second),
            us(l.p50),
            us(l.p90),
            us(l.p99),
            us(l.p999),
            us(l.max),
            output::percent(p.hit_rate),
        ]);
    }
    let mut text = format!(
        "{}: {} tasks, {}-byte values, {} keys ({})\n{}\n",
        report.backend,
        report.concurrency,
        report.value_size,
        report.keys,
        report.keys_sized_by,
        output::trimmed(&table)
    );
    if let Some(rate) = report.phases.iter().find_map(|p| p.hit_rate)
        && rate < 0.99
    {
        text.push_str(&format!(
            "note: {:.1}% of the gets missed: the cache evicted or refused entries; try fewer --keys\n",
            (1.0 - rate) * 100.0
        ));
    }
    text
}
