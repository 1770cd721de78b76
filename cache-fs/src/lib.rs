//! [`FileSystemCache`]: one file per key in `CACHE_DIR`, safe to share between processes.
//!
//! Flask-Caching's FileSystemCache is what many single-server deployments run: several worker
//! processes share one directory. This one keeps that model and makes it safe:
//!
//! * **Layout.** Each cache (each `CACHE_KEY_PREFIX`) has its own subdirectory of `CACHE_DIR`,
//!   named by a hash of the prefix, so `clear` of one prefix never touches another's entries nor
//!   any other file in `CACHE_DIR`. An entry is one file named by the BLAKE3 hash of the prefixed key
//!   (any key, of any length, is a valid file name), holding a 24-byte versioned header (magic,
//!   version, expiry, length) and the value.
//! * **Atomic writes.** A value is written to a temporary file in the same directory and renamed
//!   into place: a reader sees the old value or the new one, never a torn one, even if the writer is
//!   killed mid-write. `fsync` (CACHE_OPTIONS) is off by default: a cache loses nothing it cannot
//!   rebuild on a power cut, and an entry that a crash left empty reads as a miss; turn it on to keep
//!   entries across power loss at the cost of a disk flush per write.
//! * **Atomic read-modify-write across processes.** `add`, `inc`, `dec`, `touch`, `delete` and the
//!   rename of every write hold the directory's lock: an exclusive `flock` on a state file (std's
//!   `File::lock`, the same call fs4 makes, stable since Rust 1.89), plus a mutex for this process's
//!   threads. Reads take no lock. The data of a `set` is written before the lock is taken, so the
//!   lock is held for a rename and a counter update only.
//! * **A bound that stays right.** The state file also holds the entry count, changed under the
//!   lock whenever a file appears or disappears, so it is exact with any number of writing
//!   processes. When a write takes it past `CACHE_THRESHOLD`, the cache prunes down to 90% of it —
//!   expired and invalid entries first, then the least recently written — in one directory scan.
//!   That scan runs once per `threshold / 10` new entries, so the cost of a write does not grow with
//!   the number of entries (amortised O(1)); a read is one `open`+`read` whatever the size.
//! * **Damage is a miss.** A file that is truncated, corrupt, of an unknown version or not ours
//!   reads as a miss and is removed (under the lock, after checking again). Decoding never
//!   allocates from a length the file claims.
//! * **Permissions.** `CACHE_DIR` and the cache's subdirectory are created with mode 0700; entry
//!   files are 0600 unless CACHE_OPTIONS sets `mode` (octal, e.g. `mode=0640`).
//! * **Async.** File I/O never stalls the runtime: on the multi-thread runtime it runs under
//!   `block_in_place` (the worker hands its queued tasks to another thread first), on the
//!   current-thread runtime through `spawn_blocking`.
//!
//! Settings: `CACHE_DIR` (required), `CACHE_THRESHOLD` (default 500; 0 = unbounded),
//! `CACHE_DEFAULT_TIMEOUT`, `CACHE_KEY_PREFIX`, and CACHE_OPTIONS `fsync=true|false`, `mode=0600`.
//!
//! ```
//! use cachette_core::{BaseCache, Bytes, Config, Ttl};
//! use cachette_fs::FileSystemCache;
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let dir = tempfile::tempdir().unwrap();
//! let config = Config::from_map([("CACHE_DIR", dir.path().to_str().unwrap()), ("CACHE_THRESHOLD", "1000")])?;
//! let cache = FileSystemCache::new(&config)?;
//! cache.set("page:/", Bytes::from_static(b"<html>"), Ttl::Default).await?;
//! assert_eq!(cache.get("page:/").await?.as_deref(), Some(&b"<html>"[..]));
//! assert_eq!(cache.inc("hits", 1).await?, 1);
//! # Ok::<(), cachette_core::CacheError>(())
//! # }).unwrap();
//! ```

mod format;
mod store;

use std::path::PathBuf;
use std::sync::Arc;

use cachette_core::{BaseCache, Bytes, CacheError, Config, Expiry, Registry, Result, Ttl, async_trait};

pub use format::{HEADER_LEN, Header, NotAnEntry, decode as decode_entry};

/// The `CACHE_TYPE` name of this backend.
pub const TYPE_NAME: &str = "FileSystemCache";

/// The CACHE_OPTIONS FileSystemCache understands.
pub const OPTIONS: &[&str] = &["fsync", "mode"];

/// A cache in a directory, shared safely by processes. See the crate docs.
#[derive(Clone)]
pub struct FileSystemCache {
    store: Arc<store::Store>,
    prefix: Arc<str>,
    default_ttl: Expiry,
}

impl std::fmt::Debug for FileSystemCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileSystemCache").field("dir", &self.store.dir()).field("prefix", &self.prefix).finish()
    }
}

impl FileSystemCache {
    /// A cache in `CACHE_DIR` (created with mode 0700 if missing). Creating it opens the
    /// directory's state file; it reads no entries.
    pub fn new(config: &Config) -> Result<FileSystemCache> {
        config.options.reject_unknown(TYPE_NAME, OPTIONS)?;
        let root: PathBuf = config.dir.clone().ok_or_else(|| {
            CacheError::config("CACHE_DIR", "", "FileSystemCache needs a directory: set CACHE_DIR=/path/to/cache/dir")
        })?;
        let mode = match config.options.get("mode") {
            None => 0o600,
            Some(text) => u32::from_str_radix(text.trim().trim_start_matches("0o"), 8)
                .ok()
                .filter(|m| *m <= 0o777 && *m & 0o600 == 0o600)
                .ok_or_else(|| {
                    CacheError::config(
                        "CACHE_OPTIONS.mode",
                        text,
                        "expected octal permission bits that let the owner read and write, such as 0600 or 0640",
                    )
                })?,
        };
        let fsync = config.options.get_bool("fsync")?.unwrap_or(false);
        let prefix_hash = blake3::hash(config.key_prefix.as_bytes()).to_hex();
        let settings = store::Settings {
            dir: root.join(format!("cachette-{}", &prefix_hash[..16])),
            threshold: config.threshold as u64,
            fsync,
            mode,
        };
        Ok(FileSystemCache {
            store: Arc::new(store::Store::open(settings)?),
            prefix: config.key_prefix.as_str().into(),
            default_ttl: config.default_timeout,
        })
    }

    /// The directory holding this cache's entries (a subdirectory of `CACHE_DIR`).
    pub fn entries_dir(&self) -> PathBuf {
        self.store.dir().to_owned()
    }

    /// The entry count, as kept in the state file (exact across processes).
    pub async fn entry_count(&self) -> Result<u64> {
        self.blocking(|store| store.count()).await
    }

    /// The file holding `key`'s entry (it may not exist).
    pub fn entry_path(&self, key: &str) -> PathBuf {
        self.store.entry_path(&self.prefixed(key))
    }

    fn prefixed(&self, key: &str) -> String {
        let mut out = String::with_capacity(self.prefix.len() + key.len());
        out.push_str(&self.prefix);
        out.push_str(key);
        out
    }

    /// Runs file I/O without stalling the runtime. On tokio's multi-thread runtime that is
    /// `block_in_place`: the worker hands its other tasks to another thread and does the I/O
    /// itself, which costs nothing measurable, where `spawn_blocking` costs a thread hand-off of
    /// about 10 µs each way — twice a page-cache read of a 1 KiB entry (see benches/fs.rs). On the
    /// current-thread runtime, where blocking in place is not allowed, it is `spawn_blocking`.
    /// Outside any tokio runtime the I/O runs inline.
    async fn blocking<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&store::Store) -> Result<T> + Send + 'static,
    {
        use tokio::runtime::{Handle, RuntimeFlavor};
        match Handle::try_current().map(|h| h.runtime_flavor()) {
            Ok(RuntimeFlavor::MultiThread) => tokio::task::block_in_place(|| f(&self.store)),
            Ok(_) => {
                let store = self.store.clone();
                tokio::task::spawn_blocking(move || f(&store)).await.map_err(|e| {
                    CacheError::backend(TYPE_NAME, format!("a file-system task did not complete: {e}"), None)
                })?
            }
            Err(_) => f(&self.store),
        }
    }
}

/// Registers `FileSystemCache` in `registry`.
pub fn register(registry: &mut Registry) -> Result<()> {
    registry.register(TYPE_NAME, |config: &Config| Ok(Arc::new(FileSystemCache::new(config)?) as Arc<dyn BaseCache>))
}

// `Cache::from_env()` finds this backend in every program this crate is linked into.
cachette_core::link_backend!(register);

#[async_trait]
impl BaseCache for FileSystemCache {
    fn type_name(&self) -> &'static str {
        TYPE_NAME
    }

    async fn get(&self, key: &str) -> Result<Option<Bytes>> {
        let key = self.prefixed(key);
        self.blocking(move |s| s.get(&key)).await
    }

    async fn get_many(&self, keys: &[&str]) -> Result<Vec<Option<Bytes>>> {
        let keys: Vec<String> = keys.iter().map(|k| self.prefixed(k)).collect();
        self.blocking(move |s| keys.iter().map(|k| s.get(k)).collect()).await
    }

    async fn set(&self, key: &str, value: Bytes, ttl: Ttl) -> Result<()> {
        let key = self.prefixed(key);
        let expiry = ttl.resolve(self.default_ttl);
        self.blocking(move |s| s.set(&key, &value, expiry)).await
    }

    async fn set_many(&self, items: &[(&str, Bytes)], ttl: Ttl) -> Result<()> {
        let items: Vec<(String, Bytes)> = items.iter().map(|(k, v)| (self.prefixed(k), v.clone())).collect();
        let expiry = ttl.resolve(self.default_ttl);
        self.blocking(move |s| s.set_many(&items, expiry)).await
    }

    async fn add(&self, key: &str, value: Bytes, ttl: Ttl) -> Result<bool> {
        let key = self.prefixed(key);
        let expiry = ttl.resolve(self.default_ttl);
        self.blocking(move |s| s.add(&key, &value, expiry)).await
    }

    async fn delete(&self, key: &str) -> Result<bool> {
        let key = self.prefixed(key);
        self.blocking(move |s| s.delete(&key)).await
    }

    async fn delete_many(&self, keys: &[&str]) -> Result<u64> {
        let keys: Vec<String> = keys.iter().map(|k| self.prefixed(k)).collect();
        self.blocking(move |s| s.delete_many(&keys.iter().map(String::as_str).collect::<Vec<_>>())).await
    }

    async fn inc(&self, key: &str, delta: i64) -> Result<i64> {
        let (prefixed, user_key) = (self.prefixed(key), key.to_owned());
        self.blocking(move |s| s.inc(&prefixed, &user_key, delta)).await
    }

    async fn touch(&self, key: &str, ttl: Ttl) -> Result<bool> {
        let key = self.prefixed(key);
        let expiry = ttl.resolve(self.default_ttl);
        self.blocking(move |s| s.touch(&key, expiry)).await
    }

    async fn clear(&self) -> Result<()> {
        self.blocking(|s| s.clear()).await
    }
}
