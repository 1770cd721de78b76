//! The lock over a cache directory and the entry count it guards.

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

    pub(super) fn set_count(&self, n: u64) -> io::Result<()> {
        self.state.write_all_at(&n.to_le_bytes(), 0)
    }

    pub(super) fn add_to_count(&self, delta: i64) -> io::Result<u64> {
        let n = self.count()?.saturating_add_signed(delta);
        self.set_count(n)?;
        Ok(n)
    }
}
