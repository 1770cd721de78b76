//! One exchange with the server: a connection per request, because uWSGI answers one request per
//! connection and then closes it (checked on uWSGI 2.0.21: a second request on the same
//! connection gets no answer). A pool of connections is therefore not possible with this protocol.
//!
//! Measured on loopback (2 cores, uWSGI 2.0.21 with 4 threads, release build): one `get` — connect,
//! request, answer, close — takes about 40 µs (see `tests/uwsgi/protocol.rs`, which prints it).

use std::sync::Arc;
use std::time::Duration;

use cachette_core::{CacheError, Result};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::TYPE_NAME;
use crate::packet::{Request, Response, parse_response};

/// Where the server is and how long to wait for it.
#[derive(Debug, Clone)]
pub(crate) struct Client {
    pub address: String,
    pub connect_timeout: Duration,
    pub response_timeout: Duration,
}

impl Client {
    /// Sends `request` on a new connection and reads the answer until the server closes it.
    pub(crate) async fn exchange(&self, operation: &'static str, request: &Request) -> Result<Response> {
        let bytes = request.encode().ok_or_else(|| CacheError::InvalidKey {
            key: String::new(),
            message: "the request does not fit a uwsgi packet (its vars are limited to 64 KiB)".to_owned(),
        })?;
        let connect = TcpStream::connect(self.address.as_str());
        let mut stream = tokio::time::timeout(self.connect_timeout, connect)
            .await
            .map_err(|_| {
                CacheError::timeout(TYPE_NAME, operation, self.connect_timeout, "CACHE_OPTIONS.connect_timeout")
            })?
            .map_err(|e| self.connection_error(format!("{operation}: {e}; is uWSGI's --socket listening there?"), e))?;
        let _ = stream.set_nodelay(true);
        let exchange = async {
            stream.write_all(&bytes).await?;
            let mut answer = Vec::new();
            stream.read_to_end(&mut answer).await?;
            Ok::<_, std::io::Error>(answer)
        };
        let answer = match tokio::time::timeout(self.response_timeout, exchange).await {
            Err(_) => {
                let setting = "CACHE_OPTIONS.response_timeout";
                return Err(CacheError::timeout(TYPE_NAME, operation, self.response_timeout, setting));
            }
            Ok(Ok(answer)) => answer,
            // uWSGI refuses a value over the item size before reading it, and closing a socket with
            // unread data resets it: for a write that is the refusal, not a broken connection. The
            // write sees the reset as ECONNRESET, or as EPIPE when the reset arrived before its next
            // send (a 33 MiB value in a fresh-clone run of the test command).
            Ok(Err(e))
                if request.has_body()
                    && matches!(e.kind(), std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe) =>
            {
                return Ok(Response::Nothing);
            }
            Ok(Err(e)) => return Err(self.connection_error(format!("{operation}: the exchange failed: {e}"), e)),
        };
        parse_response(&answer).map_err(|message| CacheError::Protocol {
            backend: TYPE_NAME,
            message: format!("{operation} on {}: {message}", self.address),
        })
    }

    fn connection_error(&self, message: String, source: std::io::Error) -> CacheError {
        CacheError::Connection {
            backend: TYPE_NAME,
            target: self.address.clone(),
            message,
            source: Some(Arc::new(source)),
        }
    }
}
