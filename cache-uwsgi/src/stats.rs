//! The figures of a uWSGI cache, from the server's stats server (`--stats`): the cache protocol
//! (modifier1 111) has no command that reports them — its commands are get, set, del, a dict
//! get, a streamed get, a dump of the whole cache's memory and the "magic" get / set / update /
//! del / exists / clear (uWSGI's `plugins/cache/cache.c`) — while the stats server writes one
//! JSON document on each connection and closes it, with a `caches` list of each cache's `items`,
//! `hits`, `miss`, `full`, `max_items`, `blocks` and `blocksize` (`core/master_utils.c`).

use std::sync::Arc;
use std::time::Duration;

use cachette_core::admin::ServerInfo;
use cachette_core::{CacheError, Result};
use serde::Deserialize;
use tokio::io::AsyncReadExt;

use crate::TYPE_NAME;

/// The largest document read: a server's stats list its workers and cores, a few KiB each.
const MAX_DOCUMENT: u64 = 16 * 1024 * 1024;

/// Where the stats server is, and how long to wait for it.
#[derive(Debug, Clone)]
pub(crate) struct StatsServer {
    /// `CACHE_OPTIONS.stats`: `host:port` or a unix socket's path.
    pub address: String,
    pub connect_timeout: Duration,
    pub response_timeout: Duration,
}

/// The part of the stats document read here.
#[derive(Deserialize)]
struct Document {
    version: Option<String>,
    #[serde(default)]
    caches: Vec<CacheFigures>,
}

/// One cache's figures, as uWSGI names them.
#[derive(Deserialize)]
struct CacheFigures {
    name: String,
    items: Option<u64>,
    hits: Option<u64>,
    miss: Option<u64>,
    blocks: Option<u64>,
    blocksize: Option<u64>,
}

impl StatsServer {
    /// The figures of the cache named `cache` (the first cache when empty) of the server whose
    /// uwsgi socket is `socket`, as a [`ServerInfo`]: `keys` its items (every prefix: uWSGI's
    /// caches have none), `hits` and `misses` its own counters since it started, `memory_limit`
    /// its data area (blocks × blocksize).
    pub(crate) async fn figures(&self, socket: &str, cache: &str) -> Result<ServerInfo> {
        let document = self.read().await?;
        let document: Document = serde_json::from_slice(&document).map_err(|e| CacheError::Protocol {
            backend: TYPE_NAME,
            message: format!("the stats server at {} (CACHE_OPTIONS.stats) sent no uWSGI stats: {e}", self.address),
        })?;
        let names: Vec<&str> = document.caches.iter().map(|c| c.name.as_str()).collect();
        let Some(figures) = document.caches.iter().find(|c| cache.is_empty() || c.name == cache) else {
            return Err(CacheError::backend(
                TYPE_NAME,
                format!(
                    "the stats server at {} reports no cache named {cache:?} (its caches: {names:?}): is \
                     CACHE_OPTIONS.stats the --stats of the server CACHE_UWSGI_NAME names?",
                    self.address
                ),
                None,
            ));
        };
        let mut info = ServerInfo::new(format!("{}@{socket}", figures.name));
        info.version = document.version.map(|v| format!("uWSGI {v}"));
        info.keys = figures.items;
        info.hits = figures.hits;
        info.misses = figures.miss;
        info.memory_limit = figures.blocks.zip(figures.blocksize).map(|(n, size)| n.saturating_mul(size));
        Ok(info)
    }

    /// The whole document the server writes before it closes the connection.
    async fn read(&self) -> Result<Vec<u8>> {
        let timeout = |setting| CacheError::timeout(TYPE_NAME, "stats", self.connect_timeout, setting);
        let connection_error = |e: std::io::Error| CacheError::Connection {
            backend: TYPE_NAME,
            target: self.address.clone(),
            message: format!("stats: {e}; is CACHE_OPTIONS.stats the address of the uWSGI server's --stats?"),
            source: Some(Arc::new(e)),
        };
        let connect = async {
            if self.address.starts_with('/') {
                #[cfg(unix)]
                return tokio::net::UnixStream::connect(&self.address).await.map(Stream::Unix);
                #[cfg(not(unix))]
                return Err(std::io::Error::other("unix sockets need a Unix system"));
            }
            tokio::net::TcpStream::connect(self.address.as_str()).await.map(Stream::Tcp)
        };
        let stream = tokio::time::timeout(self.connect_timeout, connect)
            .await
            .map_err(|_| timeout("CACHE_OPTIONS.connect_timeout"))?
            .map_err(connection_error)?;
        let mut document = Vec::new();
        let read = async {
            match stream {
                Stream::Tcp(s) => s.take(MAX_DOCUMENT).read_to_end(&mut document).await,
                #[cfg(unix)]
                Stream::Unix(s) => s.take(MAX_DOCUMENT).read_to_end(&mut document).await,
            }
        };
        tokio::time::timeout(self.response_timeout, read)
            .await
            .map_err(|_| {
                CacheError::timeout(TYPE_NAME, "stats", self.response_timeout, "CACHE_OPTIONS.response_timeout")
            })?
            .map_err(connection_error)?;
        Ok(document)
    }
}

/// A connection to the stats server.
enum Stream {
    Tcp(tokio::net::TcpStream),
    #[cfg(unix)]
    Unix(tokio::net::UnixStream),
}
