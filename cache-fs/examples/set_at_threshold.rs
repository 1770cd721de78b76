//! A driver for profiling FileSystemCache's set of new keys (`perf record`, `strace -c`):
//! writes keys `page:<from>` .. `page:<to - 1>` through `Cache`, 100-byte values, into a cache
//! directory with the given CACHE_THRESHOLD, and prints the cost per write. Run it once to fill a
//! directory, then again on the same directory to profile the writes alone:
//!
//! ```text
//! cargo run --release -p cachette-fs --example set_at_threshold -- /dev/shm/t 100000 0 100000
//! perf record -g cargo run ... -- /dev/shm/t 100000 100000 420000
//! ```
// An example binary: its items need no docs.
#![allow(missing_docs)]

use std::sync::Arc;
use std::time::Instant;

use cachette_core::{Cache, Config, Ttl};
use cachette_fs::FileSystemCache;

const VALUE: &str =
    concat!("0123456789abcdefghij0123456789abcdefghij0123456789abcdefghij", "0123456789abcdefghij0123456789abcdefghij");

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [dir, threshold, from, to] = &args[..] else {
        panic!("usage: set_at_threshold <CACHE_DIR> <CACHE_THRESHOLD> <from> <to>");
    };
    let (from, to): (usize, usize) = (from.parse().expect("from"), to.parse().expect("to"));
    let config = Config::from_map([("CACHE_DIR", dir.as_str()), ("CACHE_THRESHOLD", threshold.as_str())]).unwrap();
    let cache = Cache::new(Arc::new(FileSystemCache::new(&config).unwrap()), config);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let started = Instant::now();
    rt.block_on(async {
        for i in from..to {
            cache.set_bytes(&format!("page:{i}"), VALUE.as_bytes().to_vec(), Ttl::Never).await.unwrap();
        }
    });
    let per_write = started.elapsed().as_nanos() as f64 / (to - from).max(1) as f64;
    println!("{} writes, {:.2} µs per write", to - from, per_write / 1000.0);
}
