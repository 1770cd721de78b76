//! How a connection reaches its server: TCP, TLS over TCP (rustls, through tokio-rustls), or a
//! unix socket; and the entries of `CACHE_MEMCACHED_SERVERS` that say which.
//!
//! Every transport ends as a boxed read half and write half, so that the pool's pipelined
//! exchange (write and read at once) is the same code for all three. A plain TCP or unix stream
//! splits without a lock; a TLS stream, whose state both directions share, through
//! `tokio::io::split`.

use std::path::PathBuf;
use std::sync::Arc;

use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpStream, UnixStream};

/// The read half of a connection, whatever its transport.
pub(crate) type ReadHalf = Box<dyn AsyncRead + Send + Unpin>;
/// The write half of a connection, whatever its transport.
pub(crate) type WriteHalf = Box<dyn AsyncWrite + Send + Unpin>;

/// Where one server is, and how to talk to it.
#[derive(Clone)]
pub(crate) enum Transport {
    /// `host:port`.
    Tcp(String),
    /// `host:port`, with TLS; the certificate must be valid for `name`.
    Tls { addr: String, name: ServerName<'static> },
    /// A unix socket's path.
    Unix(PathBuf),
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Transport::Tcp(addr) => write!(f, "{addr}"),
            Transport::Tls { addr, .. } => write!(f, "tls://{addr}"),
            Transport::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

impl Transport {
    /// The server as shown in messages and [`MemcachedCache::servers`](crate::MemcachedCache::servers):
    /// `host:port`, `tls://host:port` or `unix:/path`.
    pub(crate) fn shown(&self) -> String {
        format!("{self:?}")
    }

    /// What the server's place in the hash ring is computed from. A TLS server hashes as its
    /// `host:port`, so that turning TLS on for a fleet moves no keys.
    pub(crate) fn ring_name(&self) -> String {
        match self {
            Transport::Tcp(addr) | Transport::Tls { addr, .. } => addr.clone(),
            Transport::Unix(_) => self.shown(),
        }
    }

    /// Opens a connection; for TLS, including the handshake (its client half: see
    /// `cachette_core::tls::diagnose` for when a refused client certificate shows).
    pub(crate) async fn open(&self, tls: Option<&Arc<rustls::ClientConfig>>) -> std::io::Result<(ReadHalf, WriteHalf)> {
        match self {
            Transport::Tcp(addr) => {
                let stream = TcpStream::connect(addr).await?;
                stream.set_nodelay(true)?;
                let (read, write) = stream.into_split();
                Ok((Box::new(read), Box::new(write)))
            }
            Transport::Tls { addr, name } => {
                let Some(config) = tls else {
                    return Err(std::io::Error::other("TLS is not configured"));
                };
                let stream = TcpStream::connect(addr).await?;
                stream.set_nodelay(true)?;
                let stream = tokio_rustls::TlsConnector::from(config.clone()).connect(name.clone(), stream).await?;
                let (read, write) = tokio::io::split(stream);
                Ok((Box::new(read), Box::new(write)))
            }
            Transport::Unix(path) => {
                let (read, write) = UnixStream::connect(path).await?.into_split();
                Ok((Box::new(read), Box::new(write)))
            }
        }
    }
}
