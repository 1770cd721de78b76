//! Whole-directory work, all under the lock: pruning to the threshold, `clear`, and emptying a
//! directory whose mode was repaired.

use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use cachette_core::Result;

use super::journal::{EntryPaths, Record, all_hex, newest_of_each_entry};
use super::lock::{Head, Locked};
use super::{ENTRY_SUFFIX, Store, TEMP_PREFIX, io_error, now_ms};
use crate::files::{self, Opened};
use crate::format::{self, HEADER_LEN, Header};
use crate::trust;

/// A temporary file older than this was left by a writer that died; younger ones may be another
/// process's write in flight and are never touched.
const STALE_TEMP_AGE: Duration = Duration::from_secs(600);
/// Pruning brings the count down to this share of the threshold, so that it runs once per
/// `threshold / 10` new entries: its cost is amortised to O(1) per write.
const PRUNE_TARGET_PERCENT: u64 = 90;
/// One prune in this many scans the directory even when the journal would do: it corrects the
/// count if a process died between a rename and its count update, finds entries the journal does
/// not know of, and removes damaged entries and dead temporary files. Amortised, a twelfth of a
/// header read per write (a scan reads every header, once per `128 * threshold / 10` writes).
/// One in 32 was a third of a header read per write: 1.2 µs of a 16 µs write at CACHE_THRESHOLD,
/// 100,000 entries on tmpfs, once the journal's own work was 1.3 µs (perf,
/// examples/set_at_threshold.rs), and more on a disk whose page cache does not hold the headers.
/// What a scan corrects arises only from a process that died mid-write or an earlier version of
/// this crate; 128 prunes is 12.8 times the threshold in writes.
const SCAN_EVERY_PRUNES: u64 = 128;

/// A file of the directory that is FileSystemCache's.
enum DirFile {
    Entry(PathBuf),
    /// A temporary file that no live writer will rename: left by a dead one, or (in a repaired
    /// directory) made by another user.
    DeadTemp(PathBuf),
}

impl Store {
    /// Removes every entry file of this directory (and temporary files left by dead writers);
    /// any other file stays.
    pub(crate) fn clear(&self) -> Result<()> {
        self.clear_counting().map(drop)
    }

    /// [`clear`](Store::clear), saying how many entry files it removed.
    pub(crate) fn clear_counting(&self) -> Result<u64> {
        let locked = self.lock()?;
        self.remove_all_entries(&locked, false)
    }

    /// Empties a directory whose mode was just repaired: while others could write to it, any
    /// entry may have been planted or swapped, and any temporary file not ours planted.
    pub(super) fn empty_after_repair(&self) -> Result<()> {
        let locked = self.lock()?;
        self.remove_all_entries(&locked, true).map(drop)
    }

    /// Removes the entries (and dead temporary files); how many entry files it removed.
    fn remove_all_entries(&self, locked: &Locked<'_>, repairing: bool) -> Result<u64> {
        let mut removed = 0;
        for file in self.scan(repairing)? {
            match file {
                DirFile::Entry(path) => match fs::remove_file(&path) {
                    Ok(()) => removed += 1,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(io_error(&path, e)),
                },
                DirFile::DeadTemp(path) => {
                    let _ = fs::remove_file(path);
                }
            }
        }
        locked.rewrite(Head::default(), &[]).map_err(|e| io_error(&self.settings.dir, e))?;
        Ok(removed)
    }

    /// Brings the number of entries down to 90% of the threshold: expired entries first, then
    /// the least recently written. Runs under the lock, once per `threshold / 10` new entries,
    /// from the write journal; one prune in [`SCAN_EVERY_PRUNES`], and any the journal cannot
    /// finish, scans the directory instead.
    pub(super) fn prune(&self, locked: &Locked<'_>, head: Head) -> Result<()> {
        if head.prunes + 1 < SCAN_EVERY_PRUNES && self.prune_by_journal(locked, head)? {
            return Ok(());
        }
        self.prune_by_scan(locked)
    }

    /// Prunes the entries the journal names, oldest record first (a file written again has a
    /// newer record, and only its newest counts); whether it could. It cannot when the journal
    /// names fewer entries than the count, or when removing all it names leaves the count above
    /// the target: the directory holds entries it does not know of, and the caller scans. (Records
    /// of deleted entries can hide a few unknown ones from the first check; those stay until the
    /// next scan, at most [`SCAN_EVERY_PRUNES`] prunes later.)
    fn prune_by_journal(&self, locked: &Locked<'_>, head: Head) -> Result<bool> {
        let dir = &self.settings.dir;
        let state_error = |e| io_error(dir, e);
        let Some(records) = locked.records(&head).map_err(state_error)? else { return Ok(false) };
        let newest = newest_of_each_entry(&records);
        let named = newest.iter().filter(|&&newest| newest).count();
        if (named as u64) < head.count {
            // Entries the journal does not name (written by a version of this crate without it):
            // which are the oldest only a scan can tell.
            return Ok(false);
        }
        let target = self.settings.threshold * PRUNE_TARGET_PERCENT / 100;
        let now = now_ms();
        let mut remaining = head.count;
        // A file that is gone (deleted since) was counted out when it went.
        let mut paths = EntryPaths::new(dir);
        let mut removed = |record: &Record| u64::from(fs::remove_file(paths.of(record)).is_ok());
        let mut kept = Vec::with_capacity(named);
        for (record, newest) in records.into_iter().zip(newest) {
            if !newest {
                continue;
            }
            if record.is_expired(now) {
                remaining = remaining.saturating_sub(removed(&record));
            } else {
                kept.push(record);
            }
        }
        let mut cut = 0;
        while remaining > target && cut < kept.len() {
            remaining = remaining.saturating_sub(removed(&kept[cut]));
            cut += 1;
        }
        if remaining > target {
            return Ok(false);
        }
        let head = Head { count: remaining, records: 0, prunes: head.prunes + 1 };
        locked.rewrite(head, &kept[cut..]).map_err(state_error)?;
        tracing::debug!(dir = %dir.display(), remaining, "pruned FileSystemCache from its journal");
        Ok(true)
    }

    /// Prunes by reading every entry's header: expired and invalid entries first, then the least
    /// recently written (by modification time). Corrects the count, and writes the journal anew.
    pub(super) fn prune_by_scan(&self, locked: &Locked<'_>) -> Result<()> {
        let target = self.settings.threshold * PRUNE_TARGET_PERCENT / 100;
        let now = now_ms();
        let mut live: Vec<(SystemTime, PathBuf, Option<u64>)> = Vec::new();
        let mut removed = 0u64;
        for file in self.scan(false)? {
            let path = match file {
                DirFile::Entry(path) => path,
                DirFile::DeadTemp(path) => {
                    let _ = fs::remove_file(path);
                    continue;
                }
            };
            match read_header(&path) {
                Ok(Some((header, written))) if header.is_live(now) => live.push((written, path, header.expires_at_ms)),
                Ok(None) => {} // removed meanwhile
                // Expired, invalid, or not a regular file: goes first.
                _ => {
                    let _ = fs::remove_file(&path);
                    removed += 1;
                }
            }
        }
        live.sort_unstable_by_key(|(written, ..)| *written);
        let mut remaining = live.len() as u64;
        let mut cut = 0;
        while remaining > target && cut < live.len() {
            if fs::remove_file(&live[cut].1).is_ok() {
                removed += 1;
                remaining -= 1;
            }
            cut += 1;
        }
        let records: Vec<Record> =
            live[cut..].iter().filter_map(|(_, path, expires)| Record::new(path, *expires)).collect();
        tracing::debug!(dir = %self.settings.dir.display(), removed, remaining, "pruned FileSystemCache by a scan");
        let head = Head { count: remaining, records: 0, prunes: 0 };
        locked.rewrite(head, &records).map_err(|e| io_error(&self.settings.dir, e))
    }

    /// The entry files and dead temporary files of the directory; with `untrusted`, temporary
    /// files of other users count as dead whatever their age.
    fn scan(&self, untrusted: bool) -> Result<Vec<DirFile>> {
        let dir = &self.settings.dir;
        let mut out = Vec::new();
        for item in fs::read_dir(dir).map_err(|e| io_error(dir, e))? {
            let item = item.map_err(|e| io_error(dir, e))?;
            let name = item.file_name();
            let Some(name) = name.to_str() else { continue };
            if is_entry_name(name) {
                out.push(DirFile::Entry(item.path()));
            } else if name.starts_with(TEMP_PREFIX) {
                // DirEntry::metadata does not follow a link.
                let Ok(meta) = item.metadata() else { continue };
                let old = meta.modified().ok().and_then(|t| t.elapsed().ok()).is_some_and(|age| age > STALE_TEMP_AGE);
                if old || (untrusted && !trust::is_ours(&meta)) {
                    out.push(DirFile::DeadTemp(item.path()));
                }
            }
        }
        Ok(out)
    }
}

pub(super) fn is_entry_name(name: &str) -> bool {
    name.strip_suffix(ENTRY_SUFFIX).and_then(|stem| <&[u8; 32]>::try_from(stem.as_bytes()).ok()).is_some_and(all_hex)
}

/// The header and modification time of an entry file, reading only the header; `None` if gone.
/// What is not a regular file is an error, as an invalid entry is.
fn read_header(path: &Path) -> io::Result<Option<(Header, SystemTime)>> {
    let (mut file, meta) = match files::open_for_read(path)? {
        Opened::File(file, meta) => (file, meta),
        Opened::Missing => return Ok(None),
        Opened::NotAFile => return Err(io::Error::new(io::ErrorKind::InvalidData, "not a regular file")),
    };
    let mut buf = [0u8; HEADER_LEN];
    file.read_exact(&mut buf)?;
    let header =
        format::decode_header(&buf).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("{e:?}")))?;
    if (meta.len() as usize).checked_sub(HEADER_LEN) != Some(header.value_len) {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "length mismatch"));
    }
    Ok(Some((header, meta.modified()?)))
}
