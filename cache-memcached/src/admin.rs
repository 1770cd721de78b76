//! [`Admin`] for memcached: what an operator's tool can and cannot learn. memcached cannot list
//! or count keys (its item counts cover every prefix and application of the server), and `clear`
//! moves the prefix to a new namespace generation without deleting anything (`namespace.rs`), so
//! there is no count of either: the answers say so, rather than give a number that means
//! something else. The servers' own figures (`stats`: memory, items, evictions) are not asked
//! yet: [`Admin::servers`] is empty.

use cachette_core::admin::{Cleared, KeyCount, Progress};
use cachette_core::{Admin, BaseCache, Result, async_trait};

use crate::MemcachedCache;

#[async_trait]
impl Admin for MemcachedCache {
    async fn count_keys(&self, _progress: Progress<'_>) -> Result<KeyCount> {
        Ok(KeyCount::Uncountable {
            reason: "memcached cannot list or count keys; its servers' item counts cover every prefix and \
                     application"
                .to_owned(),
        })
    }

    async fn clear_counting(&self, _progress: Progress<'_>) -> Result<Cleared> {
        self.clear().await?;
        Ok(Cleared::Uncounted {
            how: "memcached's clear moves the prefix to a new namespace generation on every server: the old \
                  entries are unreachable at once and leave by expiry or eviction, uncounted"
                .to_owned(),
        })
    }
}
