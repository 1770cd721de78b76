//! The blocking half of FileSystemCache: every function here does file I/O, and is called only
//! through `FileSystemCache::blocking`, which keeps it from stalling the runtime.

mod journal;
mod lock;
mod prune;
mod usage;

use std::ffi::{OsStr, OsString};
use std::fs::{self, File};
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use cachette_core::codec::{checked_counter_add, encode_counter, parse_counter};
use cachette_core::{Bytes, CacheError, Expiry, Result};

use self::journal::Record;
use self::lock::Locked;
use crate::TYPE_NAME;
use crate::files::{self, Content, Quick};
use crate::format::{self, HEADER_LEN, Header};
use crate::trust::{self, OwnDir};

/// Name of the state file in a cache's directory: its `flock` serialises every change of the
/// directory across processes; it holds the entry count and the write journal (see `lock::Head`).
const STATE_FILE: &str = ".cachette-state";
/// Suffix of entry files; the stem is 32 hex digits.
const ENTRY_SUFFIX: &str = ".entry";
/// Prefix of temporary files being written.
const TEMP_PREFIX: &str = ".cachette-tmp-";

/// Settings of a store.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// CACHE_DIR, which holds the cache's own directory.
    pub cache_dir: PathBuf,
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

/// A temporary file written and not yet renamed into place, and the expiry in its header.
struct Written {
    file: tempfile::NamedTempFile,
    expires_at_ms: Option<u64>,
}

/// What is under a key, read without the lock.
enum Found {
    Missing,
    Live(Header, Vec<u8>),
    /// Expired, or not a valid entry: a miss that should be removed.
    Stale,
    /// A link, a FIFO, a directory...: a miss that should be removed, and that was never counted.
    NotAFile,
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

pub(crate) fn io_error(path: &Path, source: io::Error) -> CacheError {
    CacheError::Io { backend: TYPE_NAME, path: path.display().to_string(), source: std::sync::Arc::new(source) }
}

impl Store {
    /// Opens the directory and its state file, creating them (mode 0700 and 0600) if missing,
    /// after checking that other users cannot write there (see `trust`).
    pub(crate) fn open(settings: Settings) -> Result<Store> {
        let cache_dir = &settings.cache_dir;
        fs::DirBuilder::new().recursive(true).mode(0o700).create(cache_dir).map_err(|e| io_error(cache_dir, e))?;
        // CACHE_DIR first: only once others cannot rename things in it is a check of what is
        // inside worth anything.
        trust::check_cache_dir(cache_dir)?;
        match fs::DirBuilder::new().mode(0o700).create(&settings.dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(io_error(&settings.dir, e)),
        }
        let own_dir = trust::check_own_dir(cache_dir, &settings.dir)?;
        let path = settings.dir.join(STATE_FILE);
        if own_dir == OwnDir::Repaired {
            trust::remove_untrusted_state_file(&path)?;
        }
        let state = files::open_state(&path).map_err(|e| trust::state_open_error(cache_dir, &path, e))?;
        trust::check_state_file(cache_dir, &path, &state)?;
        let store = Store { settings, state: Mutex::new(state) };
        if own_dir == OwnDir::Repaired {
            store.empty_after_repair()?;
        }
        Ok(store)
    }

    /// The directory of this store.
    pub(crate) fn dir(&self) -> &Path {
        &self.settings.dir
    }

    /// The file of an entry: the hash of the prefixed key, so any key is a valid file name (the
    /// first 32 hex digits of the BLAKE3 hash of prefix and key).
    ///
    /// Built in one allocation of the right size, hashing prefix and key without joining them
    /// first, and writing only the 32 digits it uses: `format!`, `Path::join`, the joined key and
    /// `Hash::to_hex` (all 64 digits, pushed one `char` at a time into an `ArrayString`) were
    /// 3,400 of the 5,600 instructions of a 1 KiB read (callgrind, benches/fs.rs).
    pub(crate) fn entry_path(&self, prefix: &str, key: &str) -> PathBuf {
        let hash = blake3::Hasher::new().update(prefix.as_bytes()).update(key.as_bytes()).finalize();
        let dir = self.settings.dir.as_os_str();
        let mut path = OsString::with_capacity(dir.len() + 1 + 32 + ENTRY_SUFFIX.len());
        path.push(dir);
        path.push("/");
        path.push(OsStr::from_bytes(&hex_stem(hash.as_bytes())));
        path.push(ENTRY_SUFFIX);
        PathBuf::from(path)
    }

    fn lock(&self) -> Result<Locked<'_>> {
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.lock().map_err(|e| io_error(&self.settings.dir.join(STATE_FILE), e))?;
        Ok(Locked { state })
    }

    fn read(&self, path: &Path) -> Result<Found> {
        let bytes = match files::read(path).map_err(|e| io_error(path, e))? {
            Content::Bytes(bytes) => bytes,
            Content::Missing => return Ok(Found::Missing),
            Content::NotAFile => return Ok(Found::NotAFile),
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

    /// The value under a key; an expired or invalid file, or anything that is not a regular
    /// file, is a miss and is removed.
    pub(crate) fn get(&self, path: &Path) -> Result<Option<Bytes>> {
        // A hit or a missing file in three system calls; anything else is looked at again,
        // checking what the path is (see `files::read_quick`).
        let live = |bytes: &[u8]| format::decode(bytes).is_ok_and(|h| h.is_live(now_ms()));
        match files::read_quick(path, |bytes| live(bytes).then(|| Bytes::copy_from_slice(&bytes[HEADER_LEN..]))) {
            Quick::Small(Some(value)) => return Ok(Some(value)),
            Quick::Large(bytes) if live(&bytes) => return Ok(Some(Bytes::from(bytes).slice(HEADER_LEN..))),
            Quick::Missing => return Ok(None),
            Quick::Small(None) | Quick::Large(_) | Quick::Unsure => {}
        }
        match self.read(path)? {
            Found::Live(_, bytes) => Ok(Some(Bytes::from(bytes).slice(HEADER_LEN..))),
            Found::Missing => Ok(None),
            Found::Stale | Found::NotAFile => {
                self.remove_if_not_live(path)?;
                Ok(None)
            }
        }
    }

    /// Removes what was found not live, if it still is not once the lock is held (another
    /// process may have written a fresh value meanwhile).
    fn remove_if_not_live(&self, path: &Path) -> Result<()> {
        let locked = self.lock()?;
        let found = self.read(path)?;
        if !matches!(found, Found::Live(..)) {
            self.remove(&locked, path, &found)?;
        }
        Ok(())
    }

    /// Removes what `found` says is at `path` (under the lock); whether an entry file was removed.
    /// Only entry files are counted; anything else there never was.
    fn remove(&self, locked: &Locked<'_>, path: &Path, found: &Found) -> Result<bool> {
        match found {
            Found::Missing => Ok(false),
            Found::Live(..) | Found::Stale => match fs::remove_file(path) {
                Ok(()) => {
                    locked.add_to_count(-1).map_err(|e| io_error(path, e))?;
                    Ok(true)
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
                Err(e) => Err(io_error(path, e)),
            },
            Found::NotAFile => {
                tracing::warn!(path = %path.display(), "not a regular file where a cache entry belongs: removed");
                match fs::remove_file(path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    // A directory, say: a miss all the same, and a write there fails with its path.
                    Err(e) => tracing::warn!(path = %path.display(), error = %e, "cannot remove it"),
                }
                Ok(false)
            }
        }
    }

    /// Writes header and value to a new temporary file in the directory (not yet visible).
    /// `tempfile` creates it with `O_EXCL`, so nothing planted is ever opened (see `files`).
    fn write_temp(&self, expires_at_ms: Option<u64>, value: &[u8]) -> Result<Written> {
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
        Ok(Written { file: tmp, expires_at_ms })
    }

    /// Renames a temporary file into place (atomic: readers see the old file or the new one; a
    /// link there is replaced, not followed), keeps the count and, in a bounded cache, the write
    /// journal, and prunes when the count passes the threshold. Needs the lock.
    fn commit(&self, locked: &Locked<'_>, written: Written, path: &Path) -> Result<()> {
        // Only entry files are counted: a link or anything else the rename replaces was not.
        let existed = files::is_regular_file(path);
        written.file.persist(path).map_err(|e| io_error(path, e.error))?;
        if self.settings.fsync {
            let dir = &self.settings.dir;
            files::open_dir(dir).and_then(|d| d.sync_all()).map_err(|e| io_error(dir, e))?;
        }
        let threshold = self.settings.threshold;
        if threshold == 0 {
            // Unbounded: nothing is ever pruned, so no journal is kept.
            if !existed {
                locked.add_to_count(1).map_err(|e| io_error(path, e))?;
            }
            return Ok(());
        }
        let state_error = |e| io_error(&self.settings.dir.join(STATE_FILE), e);
        let mut head = locked.head().map_err(state_error)?;
        head.count += u64::from(!existed);
        if head.records >= threshold.saturating_mul(2).saturating_add(64) {
            // Rewrites and deletes leave records that no prune has dropped (or the head is
            // damaged): a scan rebuilds the journal from the files, once per `threshold` writes at
            // most. Checked before appending, so a record is never written far past the end.
            locked.set_head(&head).map_err(state_error)?;
            return self.prune_by_scan(locked);
        }
        if let Some(record) = Record::new(path, written.expires_at_ms) {
            locked.append(&mut head, &record).map_err(state_error)?;
        }
        locked.set_head(&head).map_err(state_error)?;
        if head.count > threshold {
            self.prune(locked, head)?;
        }
        Ok(())
    }

    /// Stores a value (`expiry` not over).
    pub(crate) fn set(&self, path: &Path, value: &[u8], expiry: Expiry) -> Result<()> {
        let Some(expires) = deadline_ms(expiry) else {
            self.delete(path)?;
            return Ok(());
        };
        // The slow part (writing the data) happens before the lock; only the rename is serialised.
        let tmp = self.write_temp(expires, value)?;
        let locked = self.lock()?;
        self.commit(&locked, tmp, path)
    }

    /// Stores several values, taking the lock once.
    pub(crate) fn set_many(&self, items: &[(PathBuf, Bytes)], expiry: Expiry) -> Result<()> {
        let Some(expires) = deadline_ms(expiry) else {
            let paths: Vec<PathBuf> = items.iter().map(|(p, _)| p.clone()).collect();
            self.delete_many(&paths)?;
            return Ok(());
        };
        let temps = items
            .iter()
            .map(|(path, value)| Ok((path, self.write_temp(expires, value)?)))
            .collect::<Result<Vec<_>>>()?;
        let locked = self.lock()?;
        for (path, tmp) in temps {
            self.commit(&locked, tmp, path)?;
        }
        Ok(())
    }

    /// Stores a value only if no live value is there.
    pub(crate) fn add(&self, path: &Path, value: &[u8], expiry: Expiry) -> Result<bool> {
        let locked = self.lock()?;
        let found = self.read(path)?;
        if let Found::Live(..) = found {
            return Ok(false);
        }
        match deadline_ms(expiry) {
            Some(expires) => {
                let tmp = self.write_temp(expires, value)?;
                self.commit(&locked, tmp, path)?;
            }
            // Nothing to store, but the key was free; what was there goes.
            None => {
                self.remove(&locked, path, &found)?;
            }
        }
        Ok(true)
    }

    /// Removes a key; whether a live value was removed.
    pub(crate) fn delete(&self, path: &Path) -> Result<bool> {
        let locked = self.lock()?;
        let found = self.read(path)?;
        self.remove(&locked, path, &found)?;
        Ok(matches!(found, Found::Live(..)))
    }

    /// Removes keys, taking the lock once; how many live values were removed.
    pub(crate) fn delete_many(&self, paths: &[PathBuf]) -> Result<u64> {
        let locked = self.lock()?;
        let mut removed = 0;
        for path in paths {
            let found = self.read(path)?;
            self.remove(&locked, path, &found)?;
            removed += u64::from(matches!(found, Found::Live(..)));
        }
        Ok(removed)
    }

    /// Adds to a decimal counter, creating it at 0 with no expiry; a live key keeps its expiry.
    pub(crate) fn inc(&self, path: &Path, user_key: &str, delta: i64) -> Result<i64> {
        let locked = self.lock()?;
        let (current, expires) = match self.read(path)? {
            Found::Live(header, bytes) => (parse_counter(user_key, &bytes[HEADER_LEN..])?, header.expires_at_ms),
            Found::Missing | Found::Stale | Found::NotAFile => (0, None),
        };
        let next = checked_counter_add(user_key, current, delta)?;
        let tmp = self.write_temp(expires, &encode_counter(next))?;
        self.commit(&locked, tmp, path)?;
        Ok(next)
    }

    /// Gives a live value a new expiry (rewriting the file, so readers never see a half-changed
    /// header); an expiry already over removes it.
    pub(crate) fn touch(&self, path: &Path, expiry: Expiry) -> Result<bool> {
        let locked = self.lock()?;
        let found = self.read(path)?;
        let Found::Live(_, bytes) = &found else { return Ok(false) };
        match deadline_ms(expiry) {
            Some(expires) => {
                let tmp = self.write_temp(expires, &bytes[HEADER_LEN..])?;
                self.commit(&locked, tmp, path)?;
            }
            None => {
                self.remove(&locked, path, &found)?;
            }
        }
        Ok(true)
    }

    /// The entry count kept in the state file.
    pub(crate) fn count(&self) -> Result<u64> {
        let locked = self.lock()?;
        locked.count().map_err(|e| io_error(&self.settings.dir, e))
    }
}

/// The first 16 bytes of a hash as 32 lowercase hex digits, as `blake3::Hash::to_hex` writes
/// them (hand-written: `to_hex` writes all 64, a `char` at a time, and no hex crate is a
/// dependency for a loop of 16 steps).
fn hex_stem(hash: &[u8; 32]) -> [u8; 32] {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = [0u8; 32];
    for (pair, byte) in out.chunks_exact_mut(2).zip(hash) {
        pair[0] = DIGITS[usize::from(byte >> 4)];
        pair[1] = DIGITS[usize::from(byte & 0x0f)];
    }
    out
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

#[cfg(test)]
mod tests {
    use super::hex_stem;

    #[test]
    fn entry_names_are_the_first_32_hex_digits_of_blake3_as_before() {
        for input in ["", "k", "prefix:page:1", &"x".repeat(5000)] {
            let hash = blake3::hash(input.as_bytes());
            assert_eq!(std::str::from_utf8(&hex_stem(hash.as_bytes())).unwrap(), &hash.to_hex()[..32]);
        }
    }
}
