//! Scale curves: the cost of a get and a set on each backend at 1,000, 100,000 and 1,000,000
//! entries, against the raw engine beneath it at the same sizes, so that "the cost of an
//! operation does not grow with the number of entries" is a measured statement. Where the raw
//! engine's cost grows too (memory and cache effects of a bigger table, a bigger directory), that
//! growth is the limit, not a defect of the layer above it.
//!
//! `cargo bench -p cachette --bench scale` prints one table per backend:
//!
//! * SimpleCache against a bare `moka::future::Cache` of the same bound;
//! * FileSystemCache at its CACHE_THRESHOLD, writing new keys (so it prunes), against plain
//!   files in one directory and against itself not full;
//! * RedisCache against raw redis-rs, and MemcachedCache against the `memcache` crate, on servers
//!   the harness starts (redis-server, memcached).
//!
//! Settings (environment): `SCALE_SIZES` (`1000,100000,1000000`), `SCALE_BACKENDS`
//! (`simple,fs,redis,memcached`), `SCALE_ROUNDS` (3). Each cell is the median of the rounds; the
//! sides of a size are timed in alternating order. The 1M-entry file-system step writes about
//! 8 GB of small files (4 KiB blocks) to the temporary directory and takes minutes.
// A bench binary: its items need no docs.
#![allow(missing_docs)]

mod fs;
mod measure;
mod memcached;
mod redis;
mod simple;
mod typed;

/// Every stored value: 100 characters.
const VALUE: &str =
    concat!("0123456789abcdefghij0123456789abcdefghij0123456789abcdefghij", "0123456789abcdefghij0123456789abcdefghij");

/// `key:0` .. `key:<n - 1>`.
fn keys(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("key:{i}")).collect()
}

fn setting(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

fn main() {
    let sizes: Vec<usize> = setting("SCALE_SIZES", "1000,100000,1000000")
        .split(',')
        .map(|s| s.trim().parse().unwrap_or_else(|_| panic!("SCALE_SIZES: {s:?} is not a number of entries")))
        .collect();
    let rounds: usize = setting("SCALE_ROUNDS", "3").parse().expect("SCALE_ROUNDS is a number");
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    for backend in setting("SCALE_BACKENDS", "simple,fs,redis,memcached").split(',') {
        match backend.trim() {
            "simple" => simple::curve(&rt, &sizes, rounds),
            "fs" => fs::curve(&rt, &sizes, rounds),
            "redis" => redis::curve(&rt, &sizes, rounds),
            "memcached" => memcached::curve(&rt, &sizes, rounds),
            other => panic!("SCALE_BACKENDS: unknown backend {other:?}: expected simple, fs, redis or memcached"),
        }
    }
}
