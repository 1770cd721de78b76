//! What a cache directory holds, for an operator (`cachectl stats`): its entry files and the
//! disk they take, found by one scan of the directory. The state file's count (`Store::count`)
//! is the cheap, exact number of entries; the bytes are known only by looking at the files, which
//! is what an operator asking for stats expects to pay (a `readdir` and an `lstat` per file).

use std::fs;
use std::os::unix::fs::MetadataExt;

use cachette_core::Result;

use super::prune::is_entry_name;
use super::{Store, io_error};

/// The entry files of a directory and what they take.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Usage {
    /// Entry files, live or expired and not yet removed.
    pub entries: u64,
    /// The disk they take: their allocated blocks (`st_blocks` × 512).
    pub disk_bytes: u64,
}

impl Store {
    /// One scan of the directory, without the lock: a file written or removed meanwhile may or
    /// may not be counted. Links and anything else that is not a regular file are not entries.
    pub(crate) fn usage(&self) -> Result<Usage> {
        let dir = self.dir();
        let mut usage = Usage::default();
        for item in fs::read_dir(dir).map_err(|e| io_error(dir, e))? {
            let item = item.map_err(|e| io_error(dir, e))?;
            if !item.file_name().to_str().is_some_and(is_entry_name) {
                continue;
            }
            // DirEntry::metadata does not follow a link; a file removed since the readdir is skipped.
            let Ok(meta) = item.metadata() else { continue };
            if meta.is_file() {
                usage.entries += 1;
                usage.disk_bytes += meta.blocks() * 512;
            }
        }
        Ok(usage)
    }
}
