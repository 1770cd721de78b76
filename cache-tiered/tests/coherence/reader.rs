//! Process B: reads the key with [`READERS`] concurrent tasks until it has seen the last write,
//! printing `seen <i> <nanos>` the first time it reads value `i`, `gone <i> <nanos>` the first
//! time it reads the key absent after the delete that follows write `i`, and at the end `stale
//! <count>` and `losses <count>`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use cachette_core::{BaseCache, Config};

use crate::{DELETE_EVERY, WRITES, exit_with_the_writer, now_nanos, ops_through_write, report_reader, scenario};

/// Concurrent reading tasks.
const READERS: usize = 4;

pub(crate) async fn run() {
    exit_with_the_writer();
    let config = Config::from_env().expect("the writer passes a valid CACHE_* environment");
    let cache = scenario::tiered(&config).await;
    println!("ready");
    let seen: Arc<Vec<AtomicU64>> = Arc::new((0..=WRITES).map(|_| AtomicU64::new(0)).collect());
    let gone: Arc<Vec<AtomicU64>> = Arc::new((0..=WRITES).map(|_| AtomicU64::new(0)).collect());
    let max_seen = Arc::new(AtomicU64::new(0));
    let stale = Arc::new(AtomicU64::new(0));
    let tasks: Vec<_> = (0..READERS)
        .map(|_| {
            let (cache, seen, gone, max_seen, stale) =
                (cache.clone(), seen.clone(), gone.clone(), max_seen.clone(), stale.clone());
            tokio::spawn(async move {
                while max_seen.load(Ordering::SeqCst) < WRITES || gone[WRITES as usize].load(Ordering::SeqCst) == 0 {
                    // Both taken before the read begins: what B knew when it asked.
                    let applied = cache.invalidations_received();
                    let seen_before = max_seen.load(Ordering::SeqCst);
                    let value = cache.get("k").await.ok().flatten();
                    let at = now_nanos();
                    match value.map(|v| std::str::from_utf8(&v).unwrap().parse::<u64>().unwrap()) {
                        Some(i) => {
                            // The invalidations of every operation through write i are at most
                            // ops_through_write(i): more applied, and the value was stale.
                            if applied > ops_through_write(i) {
                                stale.fetch_add(1, Ordering::SeqCst);
                            }
                            // 0 was written before this process started: no window to report.
                            if i > 0
                                && seen[i as usize].compare_exchange(0, at, Ordering::SeqCst, Ordering::SeqCst).is_ok()
                            {
                                println!("seen {i} {at}");
                            }
                            max_seen.fetch_max(i, Ordering::SeqCst);
                        }
                        // Absent, in a read begun after write i was seen: its delete.
                        None if seen_before > 0 && seen_before % DELETE_EVERY == 0 => {
                            let i = seen_before as usize;
                            if gone[i].compare_exchange(0, at, Ordering::SeqCst, Ordering::SeqCst).is_ok() {
                                println!("gone {i} {at}");
                            }
                        }
                        None => {}
                    }
                    tokio::task::yield_now().await;
                }
            })
        })
        .collect();
    report_reader(tasks, &stale, || cache.channel_losses()).await;
}
