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

use std::collections::HashSet;
use std::ffi::OsStr;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileExt;
use std::path::Path;

use super::ENTRY_SUFFIX;
use super::lock::{HEAD_LEN, Head, Locked};

/// The bytes of a record: the 32 hex digits of the entry file's name, and its expiry (unix ms, 0
/// for never).
const RECORD_LEN: u64 = 40;
/// Records read or written per system call: 40 KiB.
const CHUNK_RECORDS: usize = 1024;

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
        all_hex(&stem).then_some(Record { stem, expires_at_ms: expires_at_ms.unwrap_or(0) })
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
        all_hex(&stem).then_some(Record { stem, expires_at_ms: expires })
    }
}

/// Whether every byte is a hex digit (an entry file's stem, in the journal or the directory),
/// looking at all 32 without stopping at the first that is not: a loop the compiler vectorises. Every record of the journal is checked at each prune, and
/// `iter().all(is_ascii_hexdigit)` (a branch per byte) was 4.3% of a write at CACHE_THRESHOLD,
/// 100,000 entries (perf, examples/set_at_threshold.rs).
pub(super) fn all_hex(stem: &[u8; 32]) -> bool {
    stem.iter().fold(true, |ok, &b| ok & (b.is_ascii_digit() | matches!(b | 0x20, b'a'..=b'f')))
}

/// The paths of the entry files records are about, built in one buffer: a `Path::join` and a
/// push per record removed allocated twice.
pub(super) struct EntryPaths {
    buf: Vec<u8>,
    dir_len: usize,
}

impl EntryPaths {
    pub(super) fn new(dir: &Path) -> EntryPaths {
        let mut buf = Vec::with_capacity(dir.as_os_str().len() + 1 + 32 + ENTRY_SUFFIX.len());
        buf.extend_from_slice(dir.as_os_str().as_bytes());
        buf.push(b'/');
        EntryPaths { dir_len: buf.len(), buf }
    }

    /// The entry file `record` is about.
    pub(super) fn of(&mut self, record: &Record) -> &Path {
        self.buf.truncate(self.dir_len);
        self.buf.extend_from_slice(&record.stem);
        self.buf.extend_from_slice(ENTRY_SUFFIX.as_bytes());
        Path::new(OsStr::from_bytes(&self.buf))
    }
}

/// For each record, whether it is the newest of its entry (a file written again has a newer
/// record, and only that one counts): one pass from the newest record back, one set insertion
/// each. Two passes through a `HashMap` with std's SipHash (an insertion per record, then a
/// lookup per record) were 1.3 µs of a 21 µs write at CACHE_THRESHOLD, 100,000 entries (perf,
/// examples/set_at_threshold.rs; a prune goes through every record once per `threshold / 10`
/// writes).
///
/// Hashed with foldhash, seeded at random for each prune: entry names derive from keys a client
/// may choose, and an unseeded hash would let one aim keys at colliding stems (SipHash, seeded
/// too, costs several times more on 32 bytes).
pub(super) fn newest_of_each_entry(records: &[Record]) -> Vec<bool> {
    let mut seen = HashSet::with_capacity_and_hasher(records.len(), foldhash::fast::RandomState::default());
    let mut newest = vec![false; records.len()];
    for (i, record) in records.iter().enumerate().rev() {
        newest[i] = seen.insert(record.stem);
    }
    newest
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
    ///
    /// Read and decoded a chunk at a time into a vector of the right size: reading the whole
    /// journal into a zeroed buffer, then collecting through `Option` (which grows its vector by
    /// doubling, copying as it goes) was half of the 0.5 µs the journal's reading cost each write
    /// at CACHE_THRESHOLD, 100,000 entries on tmpfs (perf, examples/set_at_threshold.rs).
    pub(super) fn records(&self, head: &Head) -> io::Result<Option<Vec<Record>>> {
        // Never allocate from a length the file claims: a damaged head could claim anything.
        let stored = self.state.metadata()?.len().saturating_sub(HEAD_LEN);
        let len = head.records.checked_mul(RECORD_LEN).filter(|&n| n <= stored).and_then(|n| usize::try_from(n).ok());
        let Some(len) = len else { return Ok(None) };
        let mut records = Vec::new();
        if records.try_reserve_exact(len / RECORD_LEN as usize).is_err() {
            return Ok(None);
        }
        let mut chunk = vec![0u8; CHUNK_RECORDS * RECORD_LEN as usize];
        let mut done = 0;
        while done < len {
            let bytes = &mut chunk[..(len - done).min(CHUNK_RECORDS * RECORD_LEN as usize)];
            match self.state.read_exact_at(bytes, HEAD_LEN + done as u64) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
                Err(e) => return Err(e),
            }
            for bytes in bytes.chunks_exact(RECORD_LEN as usize) {
                let Some(record) = Record::decode(bytes) else { return Ok(None) };
                records.push(record);
            }
            done += bytes.len();
        }
        Ok(Some(records))
    }

    /// Replaces the journal with `records` and writes `head` (whose `records` it sets), encoding
    /// a chunk at a time (collecting through `flat_map` was 0.1 µs per write at CACHE_THRESHOLD,
    /// 100,000 entries, measured as `records`).
    pub(super) fn rewrite(&self, mut head: Head, records: &[Record]) -> io::Result<()> {
        let mut bytes = Vec::with_capacity(CHUNK_RECORDS * RECORD_LEN as usize);
        let mut offset = HEAD_LEN;
        for chunk in records.chunks(CHUNK_RECORDS) {
            bytes.clear();
            for record in chunk {
                bytes.extend_from_slice(&record.encode());
            }
            self.state.write_all_at(&bytes, offset)?;
            offset += bytes.len() as u64;
        }
        head.records = records.len() as u64;
        self.set_head(&head)?;
        // Whatever followed (a longer journal) goes, so the file does not keep its largest size.
        self.state.set_len(HEAD_LEN + head.records * RECORD_LEN)
    }
}

#[cfg(test)]
mod tests {
    use super::{Record, newest_of_each_entry};

    fn record(digit: u8) -> Record {
        Record { stem: [digit; 32], expires_at_ms: 0 }
    }

    #[test]
    fn only_the_last_record_of_an_entry_written_again_is_its_newest() {
        let records: Vec<Record> = b"abcbaad".iter().map(|&d| record(d)).collect();
        assert_eq!(newest_of_each_entry(&records), [false, false, true, true, false, true, true]);
    }

    #[test]
    fn a_record_with_a_digit_that_is_not_hex_is_not_a_record() {
        for bad in [b'g', b'G', b'/', b':', b'@', b'`', 0, 0xff] {
            let mut bytes = [b'a'; 40];
            bytes[31] = bad;
            assert_eq!(Record::decode(&bytes), None, "{bad:#x}");
        }
        assert!(Record::decode(&[b'F'; 40]).is_some() && Record::decode(&[b'0'; 40]).is_some());
    }
}
