//! [`FileSystemCache`]: one file per key in `CACHE_DIR`, safe to share between processes and
//! safe from the other users of the machine.
//!
//! Flask-Caching's FileSystemCache is what many single-server deployments run: several worker
//! processes share one directory. This one keeps that model and makes it safe.
//!
//! # Table of contents
//!
//! * [Example](#example)
//! * [Layout](#layout)
//! * [Atomic writes](#atomic-writes)
//! * [Sharing between processes](#sharing-between-processes)
//! * [The bound: CACHE_THRESHOLD](#the-bound-cache_threshold)
//! * [Damage is a miss](#damage-is-a-miss)
//! * [Other users: permissions, links, ownership](#other-users-permissions-links-ownership)
//! * [Async](#async)
//! * [cachectl](#cachectl)
//! * [Settings](#settings)
//!
//! # Example
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
//!
//! # Layout
//!
//! Each cache (each `CACHE_KEY_PREFIX`) has its own subdirectory of `CACHE_DIR`, named by a hash
//! of the prefix, so `clear` of one prefix never touches another's entries nor any other file in
//! `CACHE_DIR`. An entry is one file named by the BLAKE3 hash of the prefixed key (any key, of any
//! length, is a valid file name), holding a 24-byte versioned header (magic, version, expiry,
//! length) and the value ([`Header`], [`decode_entry`]). Beside the entries, a state file
//! (`.cachette-state`) holds the lock and the entry count.
//!
//! # Atomic writes
//!
//! A value is written to a temporary file in the same directory and renamed into place: a reader
//! sees the old value or the new one, never a torn one, even if the writer is killed mid-write.
//! `fsync` (CACHE_OPTIONS) is off by default: a cache loses nothing it cannot rebuild on a power
//! cut, and an entry that a crash left empty reads as a miss; turn it on to keep entries across
//! power loss at the cost of a disk flush per write.
//!
//! # Sharing between processes
//!
//! `add`, `inc`, `dec`, `touch`, `delete` and the rename of every write hold the directory's
//! lock: an exclusive `flock` on the state file (std's `File::lock`, the same call fs4 makes,
//! stable since Rust 1.89), plus a mutex for this process's threads. Reads take no lock. The data
//! of a `set` is written before the lock is taken, so the lock is held for a rename and a counter
//! update only.
//!
//! # The bound: CACHE_THRESHOLD
//!
//! The state file holds the entry count, changed under the lock whenever an entry file appears or
//! disappears, so it is exact with any number of writing processes. When a write takes it past
//! `CACHE_THRESHOLD`, the cache prunes down to 90% of it — expired entries first, then the least
//! recently written. A bounded cache keeps a write journal in the state file (40 bytes per write,
//! under the same lock: which file was written, in what order, until when), so a prune reads the
//! journal rather than every entry's header, and removes files without looking at the others.
//! One prune in 128, and any the journal cannot account for (entries written by an earlier version
//! of this crate, or by a process that died between its rename and its record), scans the
//! directory instead: it also removes damaged entries and dead temporary files, corrects the
//! count, and writes the journal anew. Pruning runs once per `threshold / 10` new entries, so the
//! cost of a write does not grow with the number of entries (amortised O(1)); a read is one
//! `open`+`read` whatever the size.
//!
//! # Damage is a miss
//!
//! A file that is truncated, corrupt, of an unknown version or not ours reads as a miss and is
//! removed (under the lock, after checking again). Decoding never allocates from a length the file
//! claims.
//!
//! # Other users: permissions, links, ownership
//!
//! `CACHE_DIR` and the cache's subdirectory are created with mode 0700; the state file and entry
//! files with 0600 (entries: unless CACHE_OPTIONS sets `mode`, octal, e.g. `mode=0640`). Whoever
//! can write to a cache's directory can plant entries (the names are predictable), swap two
//! entries or plant links, so FileSystemCache checks what it is given, as ssh checks its files:
//!
//! | what | when | then |
//! |---|---|---|
//! | `CACHE_DIR` | a symbolic link made by another user (one planted in `/tmp`, say) | refused |
//! | `CACHE_DIR` | owned by another user (neither this process's user nor root) | refused |
//! | `CACHE_DIR` | writable by group or others, without the sticky bit | refused |
//! | `CACHE_DIR` | writable by others with the sticky bit, as `/tmp` is | used |
//! | the cache's subdirectory | a symbolic link, or not a directory | refused |
//! | the cache's subdirectory | owned by another user (who created it first) | refused |
//! | the cache's subdirectory | ours, writable by group or others | repaired and emptied, with a warning |
//! | the state file | a symbolic or hard link, not a regular file, or another user's | refused |
//! | an entry's path | a symbolic link, FIFO, directory... | a miss; removed, with a warning |
//!
//! `CACHE_DIR` is the user's: it may hold other programs' files, and FileSystemCache cannot know
//! what others put in it while it was open to them, so its mode is not changed; the error names
//! `CACHE_DIR`, the path and the `chmod` to run. The sticky bit is enough, because others can
//! then add files to `CACHE_DIR` but not rename or remove ours, and the subdirectory is checked on
//! its own. The subdirectory is wholly FileSystemCache's, so it is repaired: the group and other
//! write bits are removed (0777 becomes 0755), and every entry in it is removed too, since whoever
//! could write there could have planted or swapped any of them. Parents of `CACHE_DIR` are not
//! checked.
//!
//! No file is opened through a link: every open uses `O_NOFOLLOW` (and `O_NONBLOCK`, so that a
//! FIFO cannot hang a read). Writes create a new temporary file (`O_CREAT | O_EXCL`) and rename it
//! into place; a rename over a planted link replaces the link, never the file it points to.
//!
//! ```
//! use std::os::unix::fs::PermissionsExt;
//! use cachette_core::Config;
//! use cachette_fs::FileSystemCache;
//!
//! let dir = tempfile::tempdir().unwrap();
//! std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
//! let config = Config::from_map([("CACHE_DIR", dir.path().to_str().unwrap())]).unwrap();
//! let err = FileSystemCache::new(&config).unwrap_err().to_string();
//! assert!(err.contains("CACHE_DIR") && err.contains("writable by other users (mode 0777)"), "{err}");
//! assert!(err.contains("chmod go-w"), "{err}");
//! ```
//!
//! # Async
//!
//! File I/O never stalls the runtime: on the multi-thread runtime it runs under `block_in_place`
//! (the worker hands its queued tasks to another thread first), on the current-thread runtime
//! through `spawn_blocking`.
//!
//! # cachectl
//!
//! `cachectl stats` shows the entry count of the state file and, as the cache's one "server",
//! its directory: the entry files in it and the disk they take (one scan of the directory);
//! `cachectl clear` says how many entries it removed (see [`Admin`](cachette_core::Admin)).
//!
//! # Settings
//!
//! `CACHE_DIR` (required), `CACHE_THRESHOLD` (default 500; 0 = unbounded),
//! `CACHE_DEFAULT_TIMEOUT`, `CACHE_KEY_PREFIX`, and CACHE_OPTIONS `fsync=true|false`, `mode=0600`.

mod admin;
mod files;
mod format;
mod store;
mod trust;

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
    /// A cache in `CACHE_DIR` (created with mode 0700 if missing). Creating it checks the
    /// directories and opens the state file; it reads no entries. A `CACHE_DIR` or subdirectory
    /// that other users could write to is a `CACHE_DIR` configuration error, or is repaired: see
    /// [Other users](crate#other-users-permissions-links-ownership).
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
            cache_dir: root,
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
        self.store.entry_path(&self.prefix, key)
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
        let path = self.entry_path(key);
        self.blocking(move |s| s.get(&path)).await
    }

    async fn get_many(&self, keys: &[&str]) -> Result<Vec<Option<Bytes>>> {
        let paths: Vec<PathBuf> = keys.iter().map(|k| self.entry_path(k)).collect();
        self.blocking(move |s| paths.iter().map(|p| s.get(p)).collect()).await
    }

    async fn set(&self, key: &str, value: Bytes, ttl: Ttl) -> Result<()> {
        let path = self.entry_path(key);
        let expiry = ttl.resolve(self.default_ttl);
        self.blocking(move |s| s.set(&path, &value, expiry)).await
    }

    async fn set_many(&self, items: &[(&str, Bytes)], ttl: Ttl) -> Result<()> {
        let items: Vec<(PathBuf, Bytes)> = items.iter().map(|(k, v)| (self.entry_path(k), v.clone())).collect();
        let expiry = ttl.resolve(self.default_ttl);
        self.blocking(move |s| s.set_many(&items, expiry)).await
    }

    async fn add(&self, key: &str, value: Bytes, ttl: Ttl) -> Result<bool> {
        let path = self.entry_path(key);
        let expiry = ttl.resolve(self.default_ttl);
        self.blocking(move |s| s.add(&path, &value, expiry)).await
    }

    async fn delete(&self, key: &str) -> Result<bool> {
        let path = self.entry_path(key);
        self.blocking(move |s| s.delete(&path)).await
    }

    async fn delete_many(&self, keys: &[&str]) -> Result<u64> {
        let paths: Vec<PathBuf> = keys.iter().map(|k| self.entry_path(k)).collect();
        self.blocking(move |s| s.delete_many(&paths)).await
    }

    async fn inc(&self, key: &str, delta: i64) -> Result<i64> {
        let (path, user_key) = (self.entry_path(key), key.to_owned());
        self.blocking(move |s| s.inc(&path, &user_key, delta)).await
    }

    async fn touch(&self, key: &str, ttl: Ttl) -> Result<bool> {
        let path = self.entry_path(key);
        let expiry = ttl.resolve(self.default_ttl);
        self.blocking(move |s| s.touch(&path, expiry)).await
    }

    async fn clear(&self) -> Result<()> {
        self.blocking(|s| s.clear()).await
    }

    fn admin(&self) -> Option<&dyn cachette_core::Admin> {
        Some(self)
    }
}
