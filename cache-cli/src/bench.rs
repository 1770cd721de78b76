//! `stats` (the backend, its redacted config, a probe's latency) and `bench` (a load test).

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use cachette::{Bytes, Cache, CacheError, Config, Ttl};

/// Prints the backend, `config` (the one given, redacted by its `Debug`) and the latency of a
/// set/get/delete probe.
pub(crate) async fn stats(cache: &Cache, config: &Config) -> Result<(), CacheError> {
    println!("backend: {}", cache.backend().type_name());
    println!("config:  {config:#?}");
    let key = format!("cachectl-probe:{}:{}", std::process::id(), rand_suffix());
    let t = Instant::now();
    cache.set(&key, "probe", Ttl::After(Duration::from_secs(60))).await?;
    let set = t.elapsed();
    let t = Instant::now();
    let got = cache.get::<String>(&key).await?;
    let get = t.elapsed();
    let t = Instant::now();
    cache.delete(&key).await?;
    let delete = t.elapsed();
    if got.as_deref() != Some("probe") && cache.backend().type_name() != "NullCache" {
        return Err(CacheError::backend(
            "cachectl",
            format!("the probe value did not read back (got {got:?}): the backend is not storing values"),
            None,
        ));
    }
    println!("probe:   set {set:?}, get {get:?}, delete {delete:?}");
    Ok(())
}

fn rand_suffix() -> u64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0)
}

/// How much load: `ops` operations per phase over `concurrency` tasks, values of `size` bytes
/// (each checked by the command line: [`crate::cli`]).
pub(crate) struct Load {
    pub(crate) ops: usize,
    pub(crate) concurrency: usize,
    pub(crate) size: usize,
}

/// `ops` sets, then `ops` gets, over at most 10 000 distinct keys; prints throughput and
/// latency percentiles per phase, then deletes its keys.
pub(crate) async fn bench(cache: &Cache, load: Load) -> Result<(), CacheError> {
    let Load { ops, concurrency, size } = load;
    let run = rand_suffix();
    // One key list and one value, shared by every task.
    let keys: Arc<[String]> = (0..ops.min(10_000)).map(|i| format!("cachectl-bench:{run}:{i}")).collect();
    let value = Bytes::from(vec![b'x'; size]);
    for phase in ["set", "get"] {
        let started = Instant::now();
        let mut tasks = Vec::with_capacity(concurrency);
        for worker in 0..concurrency {
            let (cache, keys, value) = (cache.clone(), keys.clone(), value.clone());
            tasks.push(tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut i = worker;
                while i < ops {
                    let key = &keys[i % keys.len()];
                    let t = Instant::now();
                    if phase == "set" {
                        cache.set_bytes(key, value.clone(), Ttl::After(Duration::from_secs(300))).await?;
                    } else {
                        cache.get_bytes(key).await?;
                    }
                    latencies.push(t.elapsed());
                    i += concurrency;
                }
                Ok::<_, CacheError>(latencies)
            }));
        }
        let mut latencies = Vec::with_capacity(ops);
        for task in tasks {
            let part =
                task.await.map_err(|e| CacheError::backend("cachectl", format!("a bench task failed: {e}"), None))?;
            latencies.extend(part?);
        }
        let elapsed = started.elapsed();
        latencies.sort();
        let pct =
            |p: f64| latencies.get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)));
        println!(
            "{phase}: {ops} ops at {concurrency} tasks, {size}-byte values: {:.0} ops/s, p50 {:?}, p99 {:?}",
            ops as f64 / elapsed.as_secs_f64(),
            pct(0.50).copied().unwrap_or_default(),
            pct(0.99).copied().unwrap_or_default()
        );
    }
    let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    cache.delete_many(&refs).await?;
    Ok(())
}
