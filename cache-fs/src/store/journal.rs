//! The write journal: a record of every write of an entry, in the order of the writes, kept in
//! the state file after its head (and so under the same lock, checks and ownership).
//!
//! Pruning reads it instead of every entry file's header. A prune by directory scan opened and
//! read every entry: at 100,000 entries, ten header reads per write amortised, and a write at
//! CACHE_THRESHOLD cost 2.6 times one below it (`cargo bench -p cachette --bench scale`). The
//! journal is one sequential read of 40 bytes per record. It is a hint, never the truth: a record
//! whose file is gone (deleted, or removed by another version of this crate) is skipped, and what
//! the journal cannot account for — entries written by a process that died between its rename
//! and its record, or by a version of this crate before the journal — is found by a directory
//! scan, which rebuilds the journal (see `prune`).

use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::{ffi::OsStr, io};

use super::ENTRY_SUFFIX;
use super::lock::{HEAD_LEN, Head, Locked};

/// The bytes of a record: the 32 hex digits of the entry file's name, and its expiry (unix ms, 0
/// for never).
const RECORD_LEN: u64 = 40;

/// One write of an entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Record {
    pub(super) stem: [u8; 32],
    expires_at_ms: u64,
}

impl Record {
    /// The record of a write to the entry file at `path`; `None` if the path is not an entry's.
    pub(super) fn new(path: &Path, expires_at_ms: Option<u64>) -> Option<Record> {
        let name = path.file_name()?.as_bytes();
        let stem: [u8; 32] = name.strip_suffix(ENTRY_SUFFIX.as_bytes())?.try_into().ok()?;
        stem.iter().all(u8::is_ascii_hexdigit).then_some(Record { stem, expires_at_ms: expires_at_ms.unwrap_or(0) })
    }

    /// The entry file this record is about.
    pub(super) fn path(&self, dir: &Path) -> PathBuf {
        let mut path = dir.join(OsStr::from_bytes(&self.stem));
        path.as_mut_os_string().push(ENTRY_SUFFIX);
        path
    }

    /// Whether the entry written had expired by `now_ms`.
    pub(super) fn is_expired(&self, now_ms: u64) -> bool {
        self.expires_at_ms != 0 && self.expires_at_ms <= now_ms
    }

    fn encode(&self) -> [u8; RECORD_LEN as usize] {
        let mut out = [0u8; RECORD_LEN as usize];
        out[..32].copy_from_slice(&self.stem);
        out[32..].copy_from_slice(&self.expires_at_ms.to_le_bytes());
        out
    }

    fn decode(bytes: &[u8]) -> Option<Record> {
        let stem: [u8; 32] = bytes.get(..32)?.try_into().ok()?;
        let expires = u64::from_le_bytes(bytes.get(32..40)?.try_into().ok()?);
        stem.iter().all(u8::is_ascii_hexdigit).then_some(Record { stem, expires_at_ms: expires })
    }
}

impl Locked<'_> {
    /// Adds a record after the journal's last (the caller writes `head` back).
    pub(super) fn append(&self, head: &mut Head, record: &Record) -> io::Result<()> {
        self.state.write_all_at(&record.encode(), HEAD_LEN + head.records * RECORD_LEN)?;
        head.records += 1;
        Ok(())
    }

    /// The journal's records, oldest first; `None` if one is not a record (the journal is then
    /// of no use, and a scan rebuilds it).
    pub(super) fn records(&self, head: &Head) -> io::Result<Option<Vec<Record>>> {
        // Never allocate from a length the file claims: a damaged head could claim anything.
        let stored = self.state.metadata()?.len().saturating_sub(HEAD_LEN);
        let len = head.records.checked_mul(RECORD_LEN).filter(|&n| n <= stored).and_then(|n| usize::try_from(n).ok());
        let Some(len) = len else { return Ok(None) };
        let mut bytes = Vec::new();
        if bytes.try_reserve_exact(len).is_err() {
            return Ok(None);
        }
        bytes.resize(len, 0);
        match self.state.read_exact_at(&mut bytes, HEAD_LEN) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
            Err(e) => return Err(e),
        }
        Ok(bytes.chunks_exact(RECORD_LEN as usize).map(Record::decode).collect())
    }

    /// Replaces the journal with `records` and writes `head` (whose `records` it sets).
    pub(super) fn rewrite(&self, mut head: Head, records: &[Record]) -> io::Result<()> {
        let bytes: Vec<u8> = records.iter().flat_map(|r| r.encode()).collect();
        self.state.write_all_at(&bytes, HEAD_LEN)?;
        head.records = records.len() as u64;
        self.set_head(&head)?;
        // Whatever followed (a longer journal) goes, so the file does not keep its largest size.
        self.state.set_len(HEAD_LEN + head.records * RECORD_LEN)
    }
}
