//! Connections to one memcached server: dialing (with SASL), pipelined exchanges, and a small pool.
//!
//! A connection serves one exchange at a time. An exchange writes a batch of requests and reads
//! their responses concurrently (so a large batch cannot deadlock on full socket buffers), and the
//! whole exchange runs under the response timeout. A connection goes back to the pool only after an
//! exchange that completed; any error, timeout or cancellation drops it, so a half-read response
//! can never be mistaken for the answer to a later request.
//!
//! Why not the `memcache` crate (0.21): its stable client is synchronous (every call would have to
//! hop to a blocking thread) and, read at its source: it writes each request field by field with
//! one system call per field, unbuffered; it cannot pipeline, which this backend needs to check the
//! namespace generation in the same round trip as each command (`namespace.rs`); its increment
//! cannot set the initial value or the expiry of a created counter; and it neither checks that a
//! response belongs to the request nor discards a connection after an error or timeout (its pool's
//! `has_broken` is a to-do), so a late response could be read as the answer to the next request.
//! Its async client (`memcache::exp`) is experimental and speaks only the meta protocol, which has
//! no SASL; the `async-memcached` crate is ASCII-only and pulls old hyper/h2 with advisories.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use cachette_core::{CacheError, Result};
use tokio::io::{AsyncBufRead, AsyncWriteExt, BufReader, BufWriter};
use tokio::sync::Semaphore;

use crate::binary::ReadError;
use crate::endpoints::TlsSetup;
use crate::protocol::Protocol;
use crate::request::{Request, Response, status};
use crate::transport::{ReadHalf, Transport, WriteHalf};

/// How connections are made and how long an exchange may take.
#[derive(Debug, Clone)]
pub(crate) struct ConnSettings {
    pub backend: &'static str,
    /// The wire protocol (`CACHE_OPTIONS.protocol`).
    pub protocol: Protocol,
    /// How TLS servers are reached, when any is configured.
    pub tls: Option<TlsSetup>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub pool_size: usize,
    pub connect_timeout: Duration,
    pub response_timeout: Duration,
}

/// Why an exchange failed, before it is told in a [`CacheError`] naming the server.
#[derive(Debug)]
enum WireError {
    Io(std::io::Error),
    Malformed(String),
}

impl From<std::io::Error> for WireError {
    fn from(e: std::io::Error) -> Self {
        WireError::Io(e)
    }
}

impl From<ReadError> for WireError {
    fn from(e: ReadError) -> Self {
        match e {
            ReadError::Io(e) => WireError::Io(e),
            ReadError::Malformed(m) => WireError::Malformed(m),
        }
    }
}

const BUFFER: usize = 64 * 1024;

struct Connection {
    reader: BufReader<ReadHalf>,
    writer: BufWriter<WriteHalf>,
    /// End a TLS record after each stored value (TLS connections only).
    ///
    /// memcached before 1.6.39 can stop reading a TLS connection for good when a pipelined
    /// command shares a TLS record with the end of a set's value: OpenSSL decrypts the whole
    /// record while memcached reads the value, keeps the next command buffered, and memcached
    /// waits for the socket instead (fixed upstream by "tls: fix potential hang when pipelining
    /// sets", 96e05b75f). Seen here as a 1.1 MB value (two pieces and a no-op in one batch) that
    /// timed out on memcached 1.6.18, on both protocols. Flushing after each value ends the
    /// record there, so the next command arrives in a record of its own; it costs one more TLS
    /// record per value of a batch, on TLS connections only.
    record_per_value: bool,
}

impl Connection {
    /// Sends `requests` (numbered 0.. in the protocol's opaque field) and reads their responses.
    /// The last request must be one that always answers, so the end of the batch is known;
    /// answers of quiet requests are `None` when the server had nothing to say.
    async fn exchange(&mut self, protocol: Protocol, requests: &[Request]) -> Result<Vec<Option<Response>>, WireError> {
        let Connection { reader, writer, record_per_value } = self;
        let write = async {
            for (i, request) in requests.iter().enumerate() {
                protocol.write(request, writer, i as u32).await?;
                if *record_per_value && request.op.stores() && i + 1 < requests.len() {
                    writer.flush().await?;
                }
            }
            writer.flush().await?;
            Ok::<(), WireError>(())
        };
        let read = async {
            let mut out: Vec<Option<Response>> = (0..requests.len()).map(|_| None).collect();
            let mut next = 0usize;
            while next < requests.len() {
                let (i, response) = protocol.read(reader, requests, next).await?;
                if i < next {
                    return Err(WireError::Malformed(format!(
                        "a second answer to request {i} of the batch ({:?})",
                        requests[i].op
                    )));
                }
                if let Some(skipped) = requests[next..i].iter().find(|r| !r.is_quiet()) {
                    return Err(WireError::Malformed(format!("no answer to a {:?} request", skipped.op)));
                }
                out[i] = response;
                next = i + 1;
            }
            Ok(out)
        };
        let ((), out) = tokio::try_join!(write, read)?;
        Ok(out)
    }

    /// False if the server closed the connection (or sent something unasked) while it was idle.
    ///
    /// One poll of the reader, which must find nothing to read yet: any transport answers it
    /// without waiting, and over TLS it also takes in what the server may send unasked that is
    /// not data (TLS 1.3 session tickets), which a peek at the raw socket would mistake for an
    /// unasked answer.
    fn is_reusable(&mut self) -> bool {
        if !self.reader.buffer().is_empty() {
            return false;
        }
        let mut context = std::task::Context::from_waker(std::task::Waker::noop());
        std::pin::Pin::new(&mut self.reader).poll_fill_buf(&mut context).is_pending()
    }
}

/// One server: its address, its connection pool, and this cache's namespace generation there.
pub(crate) struct Server {
    /// As configured (`host:port`, `tls://host:port`, `unix:/path`), for messages.
    pub addr: String,
    transport: Transport,
    /// Rendezvous-hashing seed, from the address.
    pub seed: u64,
    generation: AtomicU64,
    idle: Mutex<Vec<Connection>>,
    permits: Semaphore,
    settings: std::sync::Arc<ConnSettings>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server").field("addr", &self.addr).finish_non_exhaustive()
    }
}

const UNKNOWN_GENERATION: u64 = u64::MAX;

impl Server {
    pub(crate) fn new(transport: Transport, seed: u64, settings: std::sync::Arc<ConnSettings>) -> Server {
        Server {
            addr: transport.shown(),
            transport,
            seed,
            generation: AtomicU64::new(UNKNOWN_GENERATION),
            idle: Mutex::new(Vec::new()),
            permits: Semaphore::new(settings.pool_size),
            settings,
        }
    }

    /// The namespace generation last seen on this server, if any.
    pub(crate) fn generation(&self) -> Option<u64> {
        let g = self.generation.load(Ordering::Acquire);
        (g != UNKNOWN_GENERATION).then_some(g)
    }

    /// Remembers the generation seen on the server (`None`: the server has none).
    pub(crate) fn set_generation(&self, generation: Option<u64>) {
        // Generations are drawn below 2^63 and bumped by one per clear, so they never reach the
        // sentinel.
        self.generation.store(generation.unwrap_or(UNKNOWN_GENERATION), Ordering::Release);
    }

    /// Runs one pipelined exchange on a pooled connection. `idempotent` requests are sent again,
    /// once, on a new connection if a pooled one turns out to be dead (the server restarted since
    /// it was last used).
    pub(crate) async fn exchange(
        &self,
        operation: &'static str,
        requests: &[Request],
        idempotent: bool,
    ) -> Result<Vec<Option<Response>>> {
        if requests.is_empty() {
            return Ok(Vec::new());
        }
        debug_assert!(!requests[requests.len() - 1].is_quiet(), "a batch must end with a request that answers");
        let timeout = self.settings.response_timeout;
        let _permit = match tokio::time::timeout(timeout, self.permits.acquire()).await {
            Ok(permit) => permit.map_err(|_| self.backend_error("the connection pool is closed"))?,
            Err(_) => {
                return Err(self.timed_out(operation));
            }
        };
        let (mut connection, reused) = match self.take_idle() {
            Some(c) => (c, true),
            None => (self.dial().await?, false),
        };
        match tokio::time::timeout(timeout, connection.exchange(self.settings.protocol, requests)).await {
            Ok(Ok(responses)) => {
                self.put_idle(connection);
                Ok(responses)
            }
            Ok(Err(WireError::Io(e))) if reused && idempotent => {
                tracing::debug!("memcached {}: a pooled connection failed ({e}); retrying on a new one", self.addr);
                drop(connection);
                let mut connection = self.dial().await?;
                match tokio::time::timeout(timeout, connection.exchange(self.settings.protocol, requests)).await {
                    Ok(Ok(responses)) => {
                        self.put_idle(connection);
                        Ok(responses)
                    }
                    Ok(Err(e)) => Err(self.wire_error(e)),
                    Err(_) => Err(self.timed_out(operation)),
                }
            }
            Ok(Err(e)) => Err(self.wire_error(e)),
            Err(_) => Err(self.timed_out(operation)),
        }
    }

    /// No answer within `response_timeout`.
    fn timed_out(&self, operation: &'static str) -> CacheError {
        CacheError::timeout(
            self.settings.backend,
            operation,
            self.settings.response_timeout,
            "CACHE_OPTIONS.response_timeout",
        )
    }

    fn take_idle(&self) -> Option<Connection> {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        while let Some(mut connection) = idle.pop() {
            if connection.is_reusable() {
                return Some(connection);
            }
        }
        None
    }

    fn put_idle(&self, connection: Connection) {
        self.idle.lock().unwrap_or_else(|p| p.into_inner()).push(connection);
    }

    async fn dial(&self) -> Result<Connection> {
        let settings = &self.settings;
        let connect = async {
            let tls = settings.tls.as_ref().map(|t| &t.config);
            let (read, write) = self.transport.open(tls).await.map_err(|e| self.open_error(e))?;
            let mut connection = Connection {
                reader: BufReader::with_capacity(BUFFER, read),
                writer: BufWriter::with_capacity(BUFFER, write),
                record_per_value: matches!(self.transport, Transport::Tls { .. }),
            };
            if let (Some(user), Some(password)) = (&settings.username, &settings.password) {
                self.authenticate(&mut connection, user, password).await?;
            }
            Ok(connection)
        };
        match tokio::time::timeout(settings.connect_timeout, connect).await {
            Ok(result) => result,
            Err(_) => Err(self.connect_error(&format!(
                "no connection within {:?} (CACHE_OPTIONS.connect_timeout)",
                settings.connect_timeout
            ))),
        }
    }

    async fn authenticate(&self, connection: &mut Connection, user: &str, password: &str) -> Result<()> {
        let responses = connection
            .exchange(Protocol::Binary, &[Request::sasl_plain(user, password)])
            .await
            .map_err(|e| self.wire_error(e))?;
        let response = responses.into_iter().next().flatten().ok_or_else(|| self.backend_error("no SASL answer"))?;
        match response.status {
            status::OK => Ok(()),
            status::AUTH_ERROR => Err(CacheError::Authentication {
                backend: self.settings.backend,
                setting: "CACHE_MEMCACHED_PASSWORD",
                message: format!(
                    "memcached at {} refused SASL PLAIN login of user {user:?}: {} (check CACHE_MEMCACHED_USERNAME too)",
                    self.addr,
                    response.message()
                ),
            }),
            status::UNKNOWN_COMMAND => Err(CacheError::Authentication {
                backend: self.settings.backend,
                setting: "CACHE_MEMCACHED_USERNAME",
                message: format!(
                    "memcached at {} does not have SASL enabled (start it with -S), but credentials are configured; \
                     remove CACHE_MEMCACHED_USERNAME and CACHE_MEMCACHED_PASSWORD or enable SASL",
                    self.addr
                ),
            }),
            other => Err(self.backend_error(&format!(
                "SASL authentication failed with status 0x{other:02x} ({}): {}",
                status::name(other),
                response.message()
            ))),
        }
    }

    /// A connection that could not be opened; a failed TLS handshake names the setting to fix.
    fn open_error(&self, e: std::io::Error) -> CacheError {
        self.tls_failure(&e).unwrap_or_else(|| self.connect_error(&e.to_string()))
    }

    /// `e` explained as a failed TLS handshake, if it is one.
    fn tls_failure(&self, e: &std::io::Error) -> Option<CacheError> {
        let tls = self.settings.tls.as_ref().filter(|_| matches!(self.transport, Transport::Tls { .. }))?;
        // tokio-rustls keeps the rustls error inside the io::Error, where `source()` skips it.
        let failure = match e.get_ref() {
            Some(inner) => cachette_core::tls::diagnose(inner, &tls.files, &self.addr, tls.name_setting),
            None => cachette_core::tls::diagnose(e, &tls.files, &self.addr, tls.name_setting),
        }?;
        Some(CacheError::Authentication {
            backend: self.settings.backend,
            setting: failure.setting,
            message: failure.message,
        })
    }

    fn connect_error(&self, message: &str) -> CacheError {
        CacheError::Connection {
            backend: self.settings.backend,
            target: self.addr.clone(),
            message: format!("{message}; check CACHE_MEMCACHED_SERVERS and that memcached runs there"),
            source: None,
        }
    }

    fn wire_error(&self, e: WireError) -> CacheError {
        match e {
            WireError::Io(e) if self.tls_failure(&e).is_some() => self.open_error(e),
            WireError::Io(e) => CacheError::Connection {
                backend: self.settings.backend,
                target: self.addr.clone(),
                message: format!(
                    "lost the connection: {e}; check that memcached runs there{}",
                    if self.settings.protocol == Protocol::Meta && e.kind() == std::io::ErrorKind::UnexpectedEof {
                        // What memcached -B binary does with a meta command: it closes the connection.
                        " (a memcached started with -B binary closes connections that send meta commands: set \
                         CACHE_OPTIONS.protocol=binary for it)"
                    } else {
                        ""
                    }
                ),
                source: Some(std::sync::Arc::new(e)),
            },
            WireError::Malformed(m) => CacheError::Protocol {
                backend: self.settings.backend,
                message: format!("memcached at {}: {m}", self.addr),
            },
        }
    }

    pub(crate) fn backend_error(&self, message: &str) -> CacheError {
        CacheError::backend(self.settings.backend, format!("memcached at {}: {message}", self.addr), None)
    }

    /// The error for a response status this backend did not expect from `operation`.
    pub(crate) fn status_error(&self, operation: &str, response: &Response) -> CacheError {
        match response.status {
            status::AUTH_ERROR => CacheError::Authentication {
                backend: self.settings.backend,
                setting: "CACHE_MEMCACHED_USERNAME",
                message: format!(
                    "memcached at {} requires SASL authentication ({}); set CACHE_MEMCACHED_USERNAME and \
                     CACHE_MEMCACHED_PASSWORD",
                    self.addr,
                    response.message()
                ),
            },
            status::OUT_OF_MEMORY => self.backend_error(&format!(
                "{operation}: the server is out of memory ({}); give it more memory (-m) or store less",
                response.message()
            )),
            other => self.backend_error(&format!(
                "{operation}: unexpected status 0x{other:02x} ({}): {}",
                status::name(other),
                response.message()
            )),
        }
    }
}
