//! [`Admin`] for [`TieredCache`]: the backend's key count and server figures (the tier holds the
//! backend's keys, nothing of its own), and a counting clear that empties the tiers afterwards,
//! here and in the other processes, as [`BaseCache::clear`](cachette_core::BaseCache::clear)
//! does. Offered only over a backend that has an `Admin` (`TieredCache::admin`).

use cachette_core::admin::{Cleared, KeyCount, Progress, ServerInfo};
use cachette_core::{Admin, CacheError, Result, async_trait};

use crate::TieredCache;

impl TieredCache {
    fn backend_admin(&self) -> Result<&dyn Admin> {
        self.backend().admin().ok_or_else(|| {
            let backend = self.backend().type_name();
            CacheError::backend("TieredCache", format!("{backend} offers no key counts or server figures"), None)
        })
    }
}

#[async_trait]
impl Admin for TieredCache {
    async fn count_keys(&self, progress: Progress<'_>) -> Result<KeyCount> {
        self.backend_admin()?.count_keys(progress).await
    }

    async fn servers(&self) -> Result<Vec<ServerInfo>> {
        self.backend_admin()?.servers().await
    }

    async fn clear_counting(&self, progress: Progress<'_>) -> Result<Cleared> {
        let result = self.backend_admin()?.clear_counting(progress).await;
        self.forget_all().await;
        result
    }
}
