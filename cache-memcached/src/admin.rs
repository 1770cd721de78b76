//! [`Admin`] for memcached: what an operator's tool can and cannot learn. memcached cannot list
//! or count keys (its item counts cover every prefix and application of the server), and `clear`
//! moves the prefix to a new namespace generation without deleting anything (`namespace.rs`), so
//! there is no count of either: the answers say so, rather than give a number that means
//! something else. [`Admin::servers`] asks each server for its own figures (`stats`, on either
//! protocol): memory, items, evictions, hits and misses.

use cachette_core::admin::{Cleared, KeyCount, Progress, ServerInfo};
use cachette_core::{Admin, BaseCache, Result, async_trait};
use futures::future::try_join_all;

use crate::MemcachedCache;
use crate::pool::Server;
use crate::request::{Request, status};

#[async_trait]
impl Admin for MemcachedCache {
    async fn count_keys(&self, _progress: Progress<'_>) -> Result<KeyCount> {
        Ok(KeyCount::Uncountable {
            reason: "memcached cannot list or count keys; its servers' item counts cover every prefix and \
                     application"
                .to_owned(),
        })
    }

    /// Each server's `stats`: `keys` is its `curr_items` — items of every prefix, a value spread
    /// over several items counted once per item, and the entries of a cleared prefix counted
    /// until they expire or are evicted.
    async fn servers(&self) -> Result<Vec<ServerInfo>> {
        try_join_all(self.inner.servers.iter().map(server_info)).await
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

async fn server_info(server: &Server) -> Result<ServerInfo> {
    let responses = server.exchange("stats", &[Request::stats()], true).await?;
    let response = responses.into_iter().next().flatten().unwrap_or_default();
    if response.status != status::OK {
        return Err(server.status_error("stats", &response));
    }
    Ok(from_figures(&server.addr, &String::from_utf8_lossy(&response.value)))
}

/// A [`ServerInfo`] from `stats`' `name value` lines (memcached's names, `doc/protocol.txt`).
fn from_figures(address: &str, figures: &str) -> ServerInfo {
    let mut info = ServerInfo::new(address);
    for (name, value) in figures.lines().filter_map(|line| line.split_once(' ')) {
        let number = || value.trim().parse::<u64>().ok();
        match name {
            "version" => info.version = Some(format!("memcached {}", value.trim())),
            "bytes" => info.memory_used = number(),
            "limit_maxbytes" => info.memory_limit = number(),
            "curr_items" => info.keys = number(),
            "evictions" => info.evictions = number(),
            "get_hits" => info.hits = number(),
            "get_misses" => info.misses = number(),
            _ => {}
        }
    }
    info
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_figures_an_operator_reads_are_taken_from_stats_and_the_rest_ignored() {
        let figures = "pid 7\nversion 1.6.18\nbytes 5120\nlimit_maxbytes 67108864\ncurr_items 12\n\
                       evictions 0\nget_hits 30\nget_misses 4\nthreads 4\n";
        let info = from_figures("10.0.0.1:11211", figures);
        assert_eq!(info.address, "10.0.0.1:11211");
        assert_eq!(info.version.as_deref(), Some("memcached 1.6.18"));
        assert_eq!(
            (info.memory_used, info.memory_limit, info.keys, info.evictions, info.hits, info.misses),
            (Some(5120), Some(67_108_864), Some(12), Some(0), Some(30), Some(4))
        );
        assert_eq!(from_figures("a:1", "bytes many\n").memory_used, None, "a figure that is not a number is unknown");
    }
}
