//! The blocking half of FileSystemCache: every function here does file I/O, and is called only
//! through `FileSystemCache::blocking`, which keeps it from stalling the runtime.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, FileExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cachette_core::codec::{checked_counter_add, encode_counter, parse_counter};
use cachette_core::{Bytes, CacheError, Expiry, Result};

use crate::TYPE_NAME;
use crate::format::{self, HEADER_LEN, Header};

/// Name of the state file in a cache's directory: its `flock` serialises every change of the
/// directory across processes, and its first 8 bytes hold the entry count.
const STATE_FILE: &str = ".cachette-state";
/// Suffix of entry files; the stem is 32 hex digits.
const ENTRY_SUFFIX: &str = ".entry";
/// Prefix of temporary files being written.
const TEMP_PREFIX: &str = ".cachette-tmp-";
/// A temporary file older than this was left by a writer that died; younger ones may be another
/// process's write in flight and are never touched.
const STALE_TEMP_AGE: Duration = Duration::from_secs(600);
/// Pruning brings the count down to this share of the threshold, so that it runs once per
/// `threshold / 10` new entries: the directory scan is amortised to O(1) per write.
const PRUNE_TARGET_PERCENT: u64 = 90;

/// Settings of a store.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// The cache's own directory (a subdirectory of CACHE_DIR).
    pub dir: PathBuf,
    /// Most entries (0: unbounded).
    pub threshold: u64,
    /// fsync entry files (and the directory) before a write returns.
    pub fsync: bool,
    /// Permission bits of entry files.
    pub mode: u32,
}

/// One cache directory.
pub(crate) struct Store {
    settings: Settings,
    /// The state file. The mutex orders this process's threads (a `flock` taken twice through one
    /// open file does not exclude); the `flock` orders processes.
    state: Mutex<File>,
}

/// The lock over a cache directory, held while a change is made. Dropping it releases the lock.
struct Locked<'a> {
    state: MutexGuard<'a, File>,
}

impl Drop for Locked<'_> {
    fn drop(&mut self) {
        let _ = self.state.unlock();
    }
}

impl Locked<'_> {
    fn count(&self) -> io::Result<u64> {
        let mut buf = [0u8; 8];
        match self.state.read_exact_at(&mut buf, 0) {
            Ok(()) => Ok(u64::from_le_bytes(buf)),
            // A new state file is empty: no entries yet.
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(0),
            Err(e) => Err(e),
        }
    }

    fn set_count(&self, n: u64) -> io::Result<()> {
        self.state.write_all_at(&n.to_le_bytes(), 0)
    }

    fn add_to_count(&self, delta: i64) -> io::Result<u64> {
        let n = self.count()?.saturating_add_signed(delta);
        self.set_count(n)?;
        Ok(n)
    }
}

/// What is under a key, read without the lock.
enum Found {
    Missing,
    Live(Header, Vec<u8>),
    /// Expired, or not a valid entry: a miss that should be removed.
    Stale,
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

fn io_error(path: &Path, source: io::Error) -> CacheError {
    CacheError::Io { backend: TYPE_NAME, path: path.display().to_string(), source: std::sync::Arc::new(source) }
}

impl Store {
    /// Opens (creating with mode 0700 if missing) the directory and its state file.
    pub(crate) fn open(settings: Settings) -> Result<Store> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&settings.dir)
            .map_err(|e| io_error(&settings.dir, e))?;
        let path = settings.dir.join(STATE_FILE);
        let state = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| io_error(&path, e))?;
        Ok(Store { settings, state: Mutex::new(state) })
    }

    /// The directory of this store.
    pub(crate) fn dir(&self) -> &Path {
        &self.settings.dir
    }

    /// The file of an entry: the hash of the prefixed key, so any key is a valid file name.
    pub(crate) fn entry_path(&self, prefixed_key: &str) -> PathBuf {
        let hash = blake3::hash(prefixed_key.as_bytes());
        let hex = hash.to_hex();
        self.settings.dir.join(format!("{}{ENTRY_SUFFIX}", &hex[..32]))
    }

    fn lock(&self) -> Result<Locked<'_>> {
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.lock().map_err(|e| io_error(&self.settings.dir.join(STATE_FILE), e))?;
        Ok(Locked { state })
    }

    fn read(&self, path: &Path) -> Result<Found> {
        let bytes = match fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Found::Missing),
            Err(e) => return Err(io_error(path, e)),
        };
        match format::decode(&bytes) {
            Ok(header) if header.is_live(now_ms()) => Ok(Found::Live(header, bytes)),
            Ok(_) => Ok(Found::Stale),
            Err(reason) => {
                tracing::debug!(path = %path.display(), ?reason, "not a valid cache entry; treated as a miss");
                Ok(Found::Stale)
            }
        }
    }

    /// The value under a key; an expired or invalid file is a miss and is removed.
    pub(crate) fn get(&self, prefixed_key: &str) -> Result<Option<Bytes>> {
        let path = self.entry_path(prefixed_key);
        match self.read(&path)? {
            Found::Live(_, bytes) => Ok(Some(Bytes::from(bytes).slice(HEADER_LEN..))),
            Found::Missing => Ok(None),
            Found::Stale => {
                self.remove_if_stale(&path)?;
                Ok(None)
            }
        }
    }

    /// Removes a file found stale, if it still is once the lock is held (another process may
    /// have written a fresh value meanwhile).
    fn remove_if_stale(&self, path: &Path) -> Result<()> {
        let locked = self.lock()?;
        if let Found::Stale = self.read(path)? {
            self.unlink(&locked, path)?;
        }
        Ok(())
    }

    fn unlink(&self, locked: &Locked<'_>, path: &Path) -> Result<bool> {
        match fs::remove_file(path) {
            Ok(()) => {
                locked.add_to_count(-1).map_err(|e| io_error(path, e))?;
                Ok(true)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(io_error(path, e)),
        }
    }

    /// Writes header and value to a new temporary file in the directory (not yet visible).
    fn write_temp(&self, expires_at_ms: Option<u64>, value: &[u8]) -> Result<tempfile::NamedTempFile> {
        let dir = &self.settings.dir;
        let mut tmp = tempfile::Builder::new()
            .prefix(TEMP_PREFIX)
            .permissions(fs::Permissions::from_mode(self.settings.mode))
            .tempfile_in(dir)
            .map_err(|e| io_error(dir, e))?;
        let file = tmp.as_file_mut();
        let header = format::encode_header(expires_at_ms, value.len());
        let written = file.write_all(&header).and_then(|()| file.write_all(value));
        let synced = written.and_then(|()| if self.settings.fsync { file.sync_data() } else { Ok(()) });
        synced.map_err(|e| io_error(tmp.path(), e))?;
        Ok(tmp)
    }

    /// Renames a temporary file into place (atomic: readers see the old file or the new one),
    /// keeps the count, and prunes when the count passes the threshold. Needs the lock.
    fn commit(&self, locked: &Locked<'_>, tmp: tempfile::NamedTempFile, path: &Path) -> Result<()> {
        let existed = fs::symlink_metadata(path).is_ok();
        tmp.persist(path).map_err(|e| io_error(path, e.error))?;
        if self.settings.fsync {
            File::open(&self.settings.dir).and_then(|d| d.sync_all()).map_err(|e| io_error(&self.settings.dir, e))?;
        }
        if !existed {
            let count = locked.add_to_count(1).map_err(|e| io_error(path, e))?;
            if self.settings.threshold > 0 && count > self.settings.threshold {
                self.prune(locked)?;
            }
        }
        Ok(())
    }

    /// Stores a value (`expiry` not over).
    pub(crate) fn set(&self, prefixed_key: &str, value: &[u8], expiry: Expiry) -> Result<()> {
        let path = self.entry_path(prefixed_key);
        let Some(expires) = deadline_ms(expiry) else {
            self.delete(prefixed_key)?;
            return Ok(());
        };
        // The slow part (writing the data) happens before the lock; only the rename is serialised.
        let tmp = self.write_temp(expires, value)?;
        let locked = self.lock()?;
        self.commit(&locked, tmp, &path)
    }

    /// Stores several values, taking the lock once.
    pub(crate) fn set_many(&self, items: &[(String, Bytes)], expiry: Expiry) -> Result<()> {
        let Some(expires) = deadline_ms(expiry) else {
            let keys: Vec<&str> = items.iter().map(|(k, _)| k.as_str()).collect();
            self.delete_many(&keys)?;
            return Ok(());
        };
        let temps = items
            .iter()
            .map(|(key, value)| Ok((self.entry_path(key), self.write_temp(expires, value)?)))
            .collect::<Result<Vec<_>>>()?;
        let locked = self.lock()?;
        for (path, tmp) in temps {
            self.commit(&locked, tmp, &path)?;
        }
        Ok(())
    }

    /// Stores a value only if no live value is there.
    pub(crate) fn add(&self, prefixed_key: &str, value: &[u8], expiry: Expiry) -> Result<bool> {
        let path = self.entry_path(prefixed_key);
        let locked = self.lock()?;
        if let Found::Live(..) = self.read(&path)? {
            return Ok(false);
        }
        match deadline_ms(expiry) {
            Some(expires) => {
                let tmp = self.write_temp(expires, value)?;
                self.commit(&locked, tmp, &path)?;
            }
            // Nothing to store, but the key was free; a stale file goes.
            None => {
                self.unlink(&locked, &path)?;
            }
        }
        Ok(true)
    }

    /// Removes a key; whether a live value was removed.
    pub(crate) fn delete(&self, prefixed_key: &str) -> Result<bool> {
        let path = self.entry_path(prefixed_key);
        let locked = self.lock()?;
        let live = matches!(self.read(&path)?, Found::Live(..));
        self.unlink(&locked, &path)?;
        Ok(live)
    }

    /// Removes keys, taking the lock once; how many live values were removed.
    pub(crate) fn delete_many(&self, prefixed_keys: &[&str]) -> Result<u64> {
        let locked = self.lock()?;
        let mut removed = 0;
        for key in prefixed_keys {
            let path = self.entry_path(key);
            let live = matches!(self.read(&path)?, Found::Live(..));
            self.unlink(&locked, &path)?;
            removed += u64::from(live);
        }
        Ok(removed)
    }

    /// Adds to a decimal counter, creating it at 0 with no expiry; a live key keeps its expiry.
    pub(crate) fn inc(&self, prefixed_key: &str, user_key: &str, delta: i64) -> Result<i64> {
        let path = self.entry_path(prefixed_key);
        let locked = self.lock()?;
        let (current, expires) = match self.read(&path)? {
            Found::Live(header, bytes) => (parse_counter(user_key, &bytes[HEADER_LEN..])?, header.expires_at_ms),
            Found::Missing | Found::Stale => (0, None),
        };
        let next = checked_counter_add(user_key, current, delta)?;
        let tmp = self.write_temp(expires, &encode_counter(next))?;
        self.commit(&locked, tmp, &path)?;
        Ok(next)
    }

    /// Gives a live value a new expiry (rewriting the file, so readers never see a half-changed
    /// header); an expiry already over removes it.
    pub(crate) fn touch(&self, prefixed_key: &str, expiry: Expiry) -> Result<bool> {
        let path = self.entry_path(prefixed_key);
        let locked = self.lock()?;
        let Found::Live(_, bytes) = self.read(&path)? else { return Ok(false) };
        match deadline_ms(expiry) {
            Some(expires) => {
                let tmp = self.write_temp(expires, &bytes[HEADER_LEN..])?;
                self.commit(&locked, tmp, &path)?;
            }
            None => {
                self.unlink(&locked, &path)?;
            }
        }
        Ok(true)
    }

    /// Removes every entry file of this directory (and temporary files left by dead writers);
    /// any other file stays.
    pub(crate) fn clear(&self) -> Result<()> {
        let locked = self.lock()?;
        for file in self.scan()? {
            match file {
                DirFile::Entry(path) => match fs::remove_file(&path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(io_error(&path, e)),
                },
                DirFile::StaleTemp(path) => {
                    let _ = fs::remove_file(path);
                }
            }
        }
        locked.set_count(0).map_err(|e| io_error(&self.settings.dir, e))
    }

    /// The entry count kept in the state file.
    pub(crate) fn count(&self) -> Result<u64> {
        let locked = self.lock()?;
        locked.count().map_err(|e| io_error(&self.settings.dir, e))
    }

    /// Brings the number of entries down to 90% of the threshold: expired and invalid entries
    /// first, then the least recently written. Runs under the lock, once per `threshold / 10` new
    /// entries; it also corrects the count if a process died between a rename and its count update.
    fn prune(&self, locked: &Locked<'_>) -> Result<()> {
        let target = self.settings.threshold * PRUNE_TARGET_PERCENT / 100;
        let now = now_ms();
        let mut live: Vec<(SystemTime, PathBuf)> = Vec::new();
        let mut removed = 0u64;
        for file in self.scan()? {
            let DirFile::Entry(path) = file else {
                if let DirFile::StaleTemp(path) = file {
                    let _ = fs::remove_file(path);
                }
                continue;
            };
            match read_header(&path) {
                Ok(Some((header, written))) if header.is_live(now) => live.push((written, path)),
                Ok(None) => {} // removed meanwhile
                // Expired or invalid: goes first.
                _ => {
                    let _ = fs::remove_file(&path);
                    removed += 1;
                }
            }
        }
        let mut remaining = live.len() as u64;
        if remaining > target {
            live.sort_unstable_by_key(|(written, _)| *written);
            for (_, path) in &live[..(remaining - target) as usize] {
                if fs::remove_file(path).is_ok() {
                    removed += 1;
                    remaining -= 1;
                }
            }
        }
        tracing::debug!(dir = %self.settings.dir.display(), removed, remaining, "pruned FileSystemCache");
        locked.set_count(remaining).map_err(|e| io_error(&self.settings.dir, e))
    }

    fn scan(&self) -> Result<Vec<DirFile>> {
        let dir = &self.settings.dir;
        let mut out = Vec::new();
        for item in fs::read_dir(dir).map_err(|e| io_error(dir, e))? {
            let item = item.map_err(|e| io_error(dir, e))?;
            let name = item.file_name();
            let Some(name) = name.to_str() else { continue };
            if is_entry_name(name) {
                out.push(DirFile::Entry(item.path()));
            } else if name.starts_with(TEMP_PREFIX) {
                let old = item
                    .metadata()
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.elapsed().ok())
                    .is_some_and(|age| age > STALE_TEMP_AGE);
                if old {
                    out.push(DirFile::StaleTemp(item.path()));
                }
            }
        }
        Ok(out)
    }
}

enum DirFile {
    Entry(PathBuf),
    StaleTemp(PathBuf),
}

fn is_entry_name(name: &str) -> bool {
    name.strip_suffix(ENTRY_SUFFIX).is_some_and(|stem| stem.len() == 32 && stem.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The header and modification time of an entry file, reading only the header; `None` if gone.
fn read_header(path: &Path) -> io::Result<Option<(Header, SystemTime)>> {
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let meta = file.metadata()?;
    let mut buf = [0u8; HEADER_LEN];
    file.read_exact(&mut buf)?;
    let header =
        format::decode_header(&buf).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("{e:?}")))?;
    if (meta.len() as usize).checked_sub(HEADER_LEN) != Some(header.value_len) {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "length mismatch"));
    }
    Ok(Some((header, meta.modified()?)))
}

/// An expiry as the header's deadline: `Some(None)` never, `Some(Some(ms))`, `None` already over.
fn deadline_ms(expiry: Expiry) -> Option<Option<u64>> {
    let now = SystemTime::now();
    if expiry.is_over(now) {
        return None;
    }
    Some(expiry.deadline(now).map(|t| {
        let ms = t.duration_since(UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0);
        // Round up so that a deadline within the same millisecond is still in the future.
        u64::try_from(ms).unwrap_or(u64::MAX).saturating_add(1)
    }))
}
