//! FileSystemCache at its CACHE_THRESHOLD (writes of new keys, so it prunes) against plain files
//! in one directory (write, rename, and unlink of the oldest: the least a bounded directory of
//! files costs), and against itself not full. Each side has a directory and a key sequence of its
//! own, filled to the same size: when the cache not full shared the directory of the cache at its
//! threshold, the latter pruned the former's new keys too and paid two unlinks per write against
//! the plain files' one. Entries never expire: the 1M step runs longer than the default 300 s,
//! and expired entries would turn reads into misses and change what pruning removes.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use cachette::{Cache, Config, Ttl};
use cachette_fs::FileSystemCache;
use tokio::runtime::Runtime;

use crate::VALUE;
use crate::measure::{Curve, Op, Ratio, Side, Sides};

/// Reads pick among the newest 80% of the keys written: pruning keeps the newest 90%.
fn recent(next: usize, size: usize, r: u64) -> usize {
    next - 1 - (r as usize % (size * 8 / 10))
}

fn key(i: usize) -> String {
    format!("page:{i}")
}

struct Cachette {
    cache: Cache,
    size: usize,
    /// The next new key.
    next: AtomicUsize,
}

impl Side for Cachette {
    async fn get(&self, r: u64) {
        let i = recent(self.next.load(Ordering::Relaxed), self.size, r);
        assert!(self.cache.get_bytes(&key(i)).await.unwrap().is_some(), "{} is stored", key(i));
    }

    async fn set(&self, _: u64) {
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        self.cache.set_bytes(&key(i), VALUE.as_bytes().to_vec(), Ttl::Never).await.unwrap();
    }
}

struct PlainFiles {
    dir: PathBuf,
    size: usize,
    next: AtomicUsize,
}

impl PlainFiles {
    fn write(&self, i: usize) {
        let tmp = self.dir.join(format!("{i}.tmp"));
        std::fs::write(&tmp, VALUE).unwrap();
        std::fs::rename(&tmp, self.dir.join(i.to_string())).unwrap();
    }
}

impl Side for PlainFiles {
    async fn get(&self, r: u64) {
        let i = recent(self.next.load(Ordering::Relaxed), self.size, r);
        std::hint::black_box(std::fs::read(self.dir.join(i.to_string())).unwrap());
    }

    async fn set(&self, _: u64) {
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        self.write(i);
        std::fs::remove_file(self.dir.join((i - self.size).to_string())).unwrap();
    }
}

/// `size` entries in each directory; FileSystemCache's CACHE_THRESHOLD is `size` (and 10 x
/// `size` for the cache that is not full, in a directory of its own).
pub(crate) fn curve(rt: &Runtime, sizes: &[usize], rounds: usize) {
    let curve = Curve {
        title: "FileSystemCache (bytes, through Cache) at CACHE_THRESHOLD vs plain files in one directory, \
                100-byte values; set = a new key (the cache prunes, plain files unlink the oldest)",
        sizes,
        rounds,
        // Enough new keys for two prunes at every size: amortised cost, not luck.
        calls: |size| (size / 5).max(10_000),
        ratios: &[
            Ratio { op: Op::Get, a: 0, b: 1 },
            Ratio { op: Op::Set, a: 0, b: 1 },
            Ratio { op: Op::Set, a: 0, b: 2 },
        ],
    };
    let root = tempfile::tempdir().unwrap();
    curve.run(rt, |size| {
        let dir = root.path().join(size.to_string());
        let plain = PlainFiles { dir: dir.join("plain"), size, next: AtomicUsize::new(size) };
        std::fs::create_dir_all(&plain.dir).unwrap();
        let open = |name: &str, threshold: usize| {
            let cache_dir = dir.join(name);
            let config = Config::from_map([
                ("CACHE_DIR", cache_dir.to_str().unwrap()),
                ("CACHE_THRESHOLD", threshold.to_string().as_str()),
            ])
            .unwrap();
            let cache = Cache::new(Arc::new(FileSystemCache::new(&config).unwrap()), config);
            fill(rt, &cache, size);
            Cachette { cache, size, next: AtomicUsize::new(size) }
        };
        let (full, roomy) = (open("cache", size), open("roomy", size * 10));
        for i in 0..size {
            plain.write(i);
        }
        let sides: Sides = vec![
            ("cache at threshold", Box::new(full)),
            ("files", Box::new(plain)),
            ("cache not full", Box::new(roomy)),
        ];
        sides
    });
}

/// Writes keys `0..size` in order, one at a time: pruning removes the least recently written, and
/// reads pick among the newest keys by number, so the two orders must agree. (Written from 8
/// tasks, a task that lagged left low-numbered keys among the newest written and high-numbered
/// ones among the oldest: a read of a key pruned as old failed the bench now and then.)
fn fill(rt: &Runtime, cache: &Cache, size: usize) {
    rt.block_on(async {
        for i in 0..size {
            cache.set_bytes(&key(i), VALUE.as_bytes().to_vec(), Ttl::Never).await.unwrap();
        }
    });
}
