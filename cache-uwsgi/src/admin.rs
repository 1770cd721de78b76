//! [`Admin`] for UWSGICache: what `cachectl` can learn of a uWSGI cache. Its keys cannot be
//! listed or counted per prefix (the cache protocol has no such command, and a uWSGI cache has no
//! prefixes: its item count covers every application writing to it); its figures (items, hits,
//! misses, size) come from the server's stats server when `CACHE_OPTIONS.stats` names it (see
//! `stats.rs`), and `stats` says how to get them when it does not.

use cachette_core::admin::{Cleared, KeyCount, Progress, ServerInfo};
use cachette_core::{Admin, BaseCache, Result, async_trait};

use crate::UwsgiCache;

#[async_trait]
impl Admin for UwsgiCache {
    async fn count_keys(&self, _progress: Progress<'_>) -> Result<KeyCount> {
        Ok(KeyCount::Uncountable {
            reason: "uWSGI's cache protocol cannot list keys, and a uWSGI cache's item count covers every prefix \
                     (see the server's figures, with CACHE_OPTIONS.stats)"
                .to_owned(),
        })
    }

    async fn servers(&self) -> Result<Vec<ServerInfo>> {
        match &self.inner.stats {
            Some(stats) => Ok(vec![stats.figures(self.address(), self.cache_name()).await?]),
            None => Ok(Vec::new()),
        }
    }

    fn no_servers_reason(&self) -> Option<String> {
        self.inner.stats.is_none().then(|| {
            "uWSGI's cache protocol reports no figures: set CACHE_OPTIONS.stats to the address of the server's \
             --stats (e.g. stats=127.0.0.1:9191) for the cache's items, hits and misses"
                .to_owned()
        })
    }

    async fn clear_counting(&self, _progress: Progress<'_>) -> Result<Cleared> {
        self.clear().await?;
        Ok(Cleared::Uncounted {
            how: format!(
                "uWSGI's clear empties the whole cache {:?}, every prefix, without counting",
                self.cache_name()
            ),
        })
    }
}
