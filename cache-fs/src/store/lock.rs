//! The lock over a cache directory and the state it guards: the entry count, and the head of the
//! write journal (see `journal`).

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::sync::MutexGuard;

/// The lock over a cache directory, held while a change is made. Dropping it releases the lock.
pub(super) struct Locked<'a> {
    pub(super) state: MutexGuard<'a, File>,
}

impl Drop for Locked<'_> {
    fn drop(&mut self) {
        let _ = self.state.unlock();
    }
}

/// The fixed start of the state file: the entry count in bytes 0..8 (where every version of
/// this crate keeps it), the number of records in the write journal in 8..16, and the number of
/// prunes made from the journal since the directory was last scanned in 16..24. A state file
/// written before the journal existed is 8 bytes long; a new one is empty: what is missing is 0.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Head {
    pub(super) count: u64,
    pub(super) records: u64,
    pub(super) prunes: u64,
}

/// The length of [`Head`] in the state file; the journal's records follow it.
pub(super) const HEAD_LEN: u64 = 24;

impl Locked<'_> {
    pub(super) fn count(&self) -> io::Result<u64> {
        let mut buf = [0u8; 8];
        match self.state.read_exact_at(&mut buf, 0) {
            Ok(()) => Ok(u64::from_le_bytes(buf)),
            // A new state file is empty: no entries yet.
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(0),
            Err(e) => Err(e),
        }
    }

    pub(super) fn add_to_count(&self, delta: i64) -> io::Result<u64> {
        let n = self.count()?.saturating_add_signed(delta);
        self.state.write_all_at(&n.to_le_bytes(), 0)?;
        Ok(n)
    }

    pub(super) fn head(&self) -> io::Result<Head> {
        let mut buf = [0u8; HEAD_LEN as usize];
        let mut filled = 0;
        while filled < buf.len() {
            match self.state.read_at(&mut buf[filled..], filled as u64) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        let field = |i: usize| u64::from_le_bytes(buf[i * 8..i * 8 + 8].try_into().expect("8 bytes"));
        Ok(Head { count: field(0), records: field(1), prunes: field(2) })
    }

    pub(super) fn set_head(&self, head: &Head) -> io::Result<()> {
        let mut buf = [0u8; HEAD_LEN as usize];
        for (i, n) in [head.count, head.records, head.prunes].into_iter().enumerate() {
            buf[i * 8..i * 8 + 8].copy_from_slice(&n.to_le_bytes());
        }
        self.state.write_all_at(&buf, 0)
    }
}
