//! [`Admin`] for FileSystemCache: its directory is its server. `cachectl stats` shows the entry
//! count kept in the state file (exact across processes, read under the lock) and, as the one
//! "server", the prefix's own directory: its entry files and the disk they take, from one scan of
//! it (see `store::usage`). `cachectl clear` says how many entry files it removed.

use cachette_core::admin::{Cleared, KeyCount, Progress, ServerInfo};
use cachette_core::{Admin, Result, async_trait};

use crate::FileSystemCache;

#[async_trait]
impl Admin for FileSystemCache {
    /// The state file's count: entries of this prefix, expired ones not yet removed included.
    async fn count_keys(&self, progress: Progress<'_>) -> Result<KeyCount> {
        let keys = self.entry_count().await?;
        progress(keys);
        Ok(KeyCount::Counted { keys })
    }

    /// One [`ServerInfo`]: the prefix's directory (a subdirectory of `CACHE_DIR` no other
    /// prefix shares), with `keys` the entry files found in it and `disk_used` their blocks.
    async fn servers(&self) -> Result<Vec<ServerInfo>> {
        let usage = self.blocking(|store| store.usage()).await?;
        let mut info = ServerInfo::new(self.entries_dir().display().to_string());
        info.keys = Some(usage.entries);
        info.disk_used = Some(usage.disk_bytes);
        Ok(vec![info])
    }

    async fn clear_counting(&self, progress: Progress<'_>) -> Result<Cleared> {
        let keys = self.blocking(|store| store.clear_counting()).await?;
        progress(keys);
        Ok(Cleared::Removed { keys })
    }
}
