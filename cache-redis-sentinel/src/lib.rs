//! [`RedisSentinelCache`]: cachette on a Redis master found through Sentinel, following failovers
//! without a restart of the application.
//!
//! redis-rs resolves a Sentinel master once; following a failover is this crate's job:
//!
//! * The master's address is asked of the sentinels in `CACHE_REDIS_SENTINELS`, in order, until
//!   one answers (`SENTINEL GET-MASTER-ADDR-BY-NAME <CACHE_REDIS_SENTINEL_MASTER>`).
//! * Commands go to that master over a reconnecting multiplexed connection, exactly as
//!   [`cachette_redis::RedisCache`] does — the command layer is cachette-redis's [`RedisBackend`],
//!   and keys are stored as it stores them, so that no two prefixes share a key
//!   ([Keys on the server](cachette_redis#keys-on-the-server)).
//! * A connection error, or a `READONLY` answer (the old master came back as a replica), marks the
//!   address stale; the next call asks the sentinels again (at most every 100 ms) and, when they
//!   name a new master, switches to it. While a failover is under way calls fail with
//!   `CacheError::Connection` (misses through `Cache` with `CACHE_IGNORE_ERRORS`); once the
//!   sentinels have promoted the replica, the next call writes to it.
//!
//! Settings: `CACHE_REDIS_SENTINELS` (host:port list), `CACHE_REDIS_SENTINEL_MASTER` (default
//! `mymaster`), `CACHE_REDIS_PASSWORD` / `CACHE_REDIS_USERNAME` / `CACHE_REDIS_DB` for the master,
//! `CACHE_REDIS_SENTINEL_PASSWORD` for the sentinels, and the CACHE_OPTIONS of RedisCache.
//!
//! TLS: a sentinel written `rediss://host:port` is reached over TLS. The master (and, after a
//! failover, the promoted replica) is reached over TLS when any sentinel is written so or any of
//! `CACHE_OPTIONS.tls_ca_file` / `tls_cert_file` / `tls_key_file` is set, the files serving the
//! sentinels and the master alike: the CA that signed their certificates, and the client
//! certificate for servers and sentinels with `tls-auth-clients yes`. (TLS sentinels in front of
//! a plain-text master are not supported: with `tls-replication yes`, which TLS sentinels need
//! to reach a TLS master, a deployment is TLS throughout.) The master's certificate must be
//! valid for the address the sentinels name (their `announce-ip`, or the IP they monitor). A
//! failed handshake — a certificate not signed by `tls_ca_file`, not valid for the name, a client
//! certificate missing, expired or refused — is a [`CacheError::Authentication`] naming the
//! setting to fix, from the sentinels as from the master.
//!
//! ```no_run
//! use std::sync::Arc;
//! use cachette_core::{Cache, Config, Ttl};
//! use cachette_redis_sentinel::RedisSentinelCache;
//!
//! # async fn demo() -> cachette_core::Result<()> {
//! let config = Config::from_map([
//!     ("CACHE_TYPE", "RedisSentinelCache"),
//!     ("CACHE_REDIS_SENTINELS", "10.0.0.1:26379,10.0.0.2:26379,10.0.0.3:26379"),
//!     ("CACHE_REDIS_SENTINEL_MASTER", "mymaster"),
//!     ("CACHE_KEY_PREFIX", "myapp:"),
//! ])?;
//! let cache = Cache::new(Arc::new(RedisSentinelCache::new(&config)?), config);
//! cache.set("k", "v", Ttl::Default).await?;
//! # Ok(()) }
//! ```

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use cachette_core::{BaseCache, CacheError, Config, Registry, Result};
use cachette_redis::errors::ErrorContext;
use cachette_redis::settings::{ConnectionOptions, redis_settings};
use cachette_redis::{RedisBackend, Topology, TrackedServers};
use redis::aio::ConnectionManager;
use redis::{AsyncConnectionConfig, ConnectionAddr, IntoConnectionInfo, RedisConnectionInfo, RedisError};

/// A cache on the master that Redis Sentinel names. See the crate docs.
pub type RedisSentinelCache = RedisBackend<Sentinel>;

/// The `CACHE_TYPE` name of [`RedisSentinelCache`].
pub const TYPE_NAME: &str = <Sentinel as Topology>::TYPE_NAME;

/// The least time between two questions to the sentinels.
const RESOLVE_INTERVAL: Duration = Duration::from_millis(100);

/// Registers `RedisSentinelCache` in `registry`.
pub fn register(registry: &mut Registry) -> Result<()> {
    registry.register(TYPE_NAME, |config: &Config| Ok(Arc::new(RedisSentinelCache::new(config)?) as Arc<dyn BaseCache>))
}

// `Cache::from_env()` finds this backend in every program this crate is linked into.
cachette_core::link_backend!(register);

/// The master Sentinel names, followed across failovers.
pub struct Sentinel {
    sentinels: Vec<SentinelAddress>,
    /// The certificates of `tls_*`, when any is set.
    tls: Option<redis::TlsCertificates>,
    /// Whether the master is reached over TLS.
    tls_master: bool,
    master_name: String,
    sentinel_settings: RedisConnectionInfo,
    master_settings: RedisConnectionInfo,
    options: ConnectionOptions,
    current: RwLock<Option<Master>>,
    stale: AtomicBool,
    /// One resolution at a time; the others wait for it and use its result.
    resolving: tokio::sync::Mutex<Option<Instant>>,
    errors: ErrorContext,
}

/// One entry of `CACHE_REDIS_SENTINELS`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SentinelAddress {
    host: String,
    port: u16,
    /// Written `rediss://`.
    tls: bool,
}

#[derive(Clone)]
struct Master {
    address: (String, u16),
    connection: ConnectionManager,
}

impl Sentinel {
    /// The master's address as last resolved, if any.
    pub fn master_address(&self) -> Option<(String, u16)> {
        self.current.read().unwrap_or_else(|p| p.into_inner()).as_ref().map(|m| m.address.clone())
    }

    /// Asks the sentinels, in order, for the master's address.
    async fn ask_sentinels(&self) -> Result<(String, u16)> {
        let mut failures = Vec::new();
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.options.connect_timeout))
            .set_response_timeout(Some(self.options.connect_timeout));
        for sentinel in &self.sentinels {
            let (host, port) = (&sentinel.host, sentinel.port);
            let info = self
                .address(host.clone(), port, sentinel.tls)
                .into_connection_info()
                .map(|i| i.set_redis_settings(self.sentinel_settings.clone()));
            let answer = async {
                let client = self.client(info?)?;
                let mut conn = client.get_multiplexed_async_connection_with_config(&config).await?;
                redis::cmd("SENTINEL")
                    .arg("GET-MASTER-ADDR-BY-NAME")
                    .arg(&self.master_name)
                    .query_async::<Option<(String, u16)>>(&mut conn)
                    .await
            };
            match answer.await {
                Ok(Some(address)) => return Ok(address),
                Ok(None) => failures.push(format!("{host}:{port} does not know a master named {:?}", self.master_name)),
                Err(e) if e.kind() == redis::ErrorKind::AuthenticationFailed || e.code() == Some("NOAUTH") => {
                    return Err(CacheError::Authentication {
                        backend: TYPE_NAME,
                        setting: "CACHE_REDIS_SENTINEL_PASSWORD",
                        message: format!("sentinel {host}:{port} refused the credentials: {e}"),
                    });
                }
                Err(e) => {
                    let shown = format!("sentinel {host}:{port}");
                    let tls = cachette_core::tls::diagnose(&e, &self.errors.tls_files, &shown, "CACHE_REDIS_SENTINELS");
                    if let Some(failure) = tls {
                        return Err(CacheError::Authentication {
                            backend: TYPE_NAME,
                            setting: failure.setting,
                            message: failure.message,
                        });
                    }
                    failures.push(format!("{host}:{port}: {e}"));
                }
            }
        }
        let unknown_master = failures.iter().all(|f| f.contains("does not know a master"));
        if unknown_master {
            return Err(CacheError::config(
                "CACHE_REDIS_SENTINEL_MASTER",
                self.master_name.clone(),
                format!("no sentinel monitors a master of this name ({})", failures.join("; ")),
            ));
        }
        Err(CacheError::Connection {
            backend: TYPE_NAME,
            target: self.errors.target.clone(),
            message: format!(
                "no sentinel named the master ({}); check CACHE_REDIS_SENTINELS and that the sentinels run",
                failures.join("; ")
            ),
            source: None,
        })
    }

    /// Where a sentinel (`tls`: written `rediss://`) or the master is.
    fn address(&self, host: String, port: u16, tls: bool) -> ConnectionAddr {
        match tls {
            true => ConnectionAddr::TcpTls { host, port, insecure: false, tls_params: None },
            false => ConnectionAddr::Tcp(host, port),
        }
    }

    /// A client for `info`, with the `tls_*` certificates when they are set.
    fn client(&self, info: redis::ConnectionInfo) -> redis::RedisResult<redis::Client> {
        match &self.tls {
            Some(certs) => redis::Client::build_with_tls(info, certs.clone()),
            None => redis::Client::open(info),
        }
    }

    fn current(&self) -> Option<Master> {
        self.current.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Resolves the master again (unless another task just did), switching connections if it moved.
    async fn resolve(&self) -> Result<ConnectionManager> {
        let mut last = self.resolving.lock().await;
        if let Some(master) = self.current()
            && (!self.stale.load(Ordering::Acquire) || last.is_some_and(|t| t.elapsed() < RESOLVE_INTERVAL))
        {
            return Ok(master.connection);
        }
        *last = Some(Instant::now());
        let address = self.ask_sentinels().await?;
        self.stale.store(false, Ordering::Release);
        if let Some(master) = self.current()
            && master.address == address
        {
            return Ok(master.connection);
        }
        let info = self
            .address(address.0.clone(), address.1, self.tls_master)
            .into_connection_info()
            .map_err(|e| self.errors.map("connect", e))?
            .set_redis_settings(self.master_settings.clone());
        let client = self.client(info).map_err(|e| self.errors.map("connect", e))?;
        let connection = ConnectionManager::new_lazy_with_config(client, self.options.manager_config())
            .map_err(|e| self.errors.map("connect", e))?;
        if let Some(old) = self.master_address() {
            tracing::warn!(from = ?old, to = ?address, master = %self.master_name, "Redis Sentinel master moved; following it");
        }
        *self.current.write().unwrap_or_else(|p| p.into_inner()) =
            Some(Master { address, connection: connection.clone() });
        Ok(connection)
    }
}

fn parse_address(entry: &str) -> Result<SentinelAddress> {
    let bad = || {
        CacheError::config(
            "CACHE_REDIS_SENTINELS",
            cachette_core::config::redact_url(entry),
            "expected host:port or rediss://host:port (TLS) entries separated by commas, e.g. \
             10.0.0.1:26379,10.0.0.2:26379 (set the sentinels' password in CACHE_REDIS_SENTINEL_PASSWORD)",
        )
    };
    let entry = entry.trim();
    let (rest, tls) = match entry.strip_prefix("rediss://") {
        Some(rest) => (rest.trim_end_matches('/'), true),
        None => (entry, false),
    };
    if rest.contains("://") || rest.contains('@') || rest.contains('/') {
        return Err(bad());
    }
    let (host, port) = rest.rsplit_once(':').ok_or_else(bad)?;
    let port = port.parse::<u16>().map_err(|_| bad())?;
    if host.is_empty() {
        return Err(bad());
    }
    Ok(SentinelAddress { host: host.trim_matches(['[', ']']).to_owned(), port, tls })
}

impl Topology for Sentinel {
    const TYPE_NAME: &'static str = "RedisSentinelCache";
    type Connection = ConnectionManager;
    type ScanConnection = ConnectionManager;

    fn from_config(config: &Config) -> Result<Self> {
        let options = ConnectionOptions::from_config(config, Self::TYPE_NAME, cachette_core::tls::TLS_OPTIONS)?;
        if config.redis_sentinels.is_empty() {
            return Err(CacheError::config(
                "CACHE_REDIS_SENTINELS",
                "",
                "RedisSentinelCache needs the sentinels' addresses, e.g. CACHE_REDIS_SENTINELS=10.0.0.1:26379,10.0.0.2:26379",
            ));
        }
        let sentinels = config.redis_sentinels.iter().map(|s| parse_address(s)).collect::<Result<Vec<_>>>()?;
        let tls = options.tls_certificates()?;
        let tls_sentinels = sentinels.iter().any(|s| s.tls);
        if tls_sentinels {
            cachette_redis::settings::install_tls_provider();
        }
        let master_name = config.redis_sentinel_master.clone().unwrap_or_else(|| "mymaster".to_owned());
        let mut sentinel_settings = RedisConnectionInfo::default();
        if let Some(password) = &config.redis_sentinel_password {
            sentinel_settings = sentinel_settings.set_password(password);
        }
        let errors = ErrorContext {
            backend: Self::TYPE_NAME,
            target: format!("master {master_name:?} via sentinels {}", config.redis_sentinels.join(",")),
            address_setting: "CACHE_REDIS_SENTINELS / CACHE_REDIS_SENTINEL_MASTER",
            password_setting: "CACHE_REDIS_PASSWORD / CACHE_REDIS_USERNAME",
            db_setting: "CACHE_REDIS_DB",
            response_timeout: options.response_timeout,
            tls_files: options.tls_files(),
        };
        Ok(Sentinel {
            sentinels,
            tls_master: tls.is_some() || tls_sentinels,
            tls,
            master_name,
            sentinel_settings,
            master_settings: redis_settings(config),
            options,
            current: RwLock::new(None),
            stale: AtomicBool::new(true),
            resolving: tokio::sync::Mutex::new(None),
            errors,
        })
    }

    fn error_context(&self) -> &ErrorContext {
        &self.errors
    }

    async fn connection(&self) -> Result<ConnectionManager> {
        if !self.stale.load(Ordering::Acquire)
            && let Some(master) = self.current()
        {
            return Ok(master.connection);
        }
        self.resolve().await
    }

    async fn scan_connections(&self) -> Result<Vec<ConnectionManager>> {
        Ok(vec![self.connection().await?])
    }

    /// The master the sentinels name now, asked afresh. Client tracking on it ends when it
    /// stops answering `ROLE` as a master (failed over) or its connection drops, and starts
    /// again on the master the sentinels name then.
    async fn tracked_servers(&self) -> Result<TrackedServers> {
        let (host, port) = self.ask_sentinels().await?;
        let name = format!("{host}:{port}");
        let info = self
            .address(host, port, self.tls_master)
            .into_connection_info()
            .map_err(|e| self.errors.map("connect", e))?
            .set_redis_settings(self.master_settings.clone().set_protocol(redis::ProtocolVersion::RESP3));
        let client = self.client(info).map_err(|e| self.errors.map("connect", e))?;
        Ok(TrackedServers {
            servers: vec![(name, client)],
            masters_only: true,
            layout: None,
            connect_timeout: self.options.connect_timeout,
        })
    }

    /// A dropped or refused connection, a timeout, or `READONLY` (the old master is back as a
    /// replica) may mean a failover: ask the sentinels again before the next command.
    fn observe_error(&self, error: &RedisError) {
        let moved = error.is_io_error()
            || error.is_connection_refusal()
            || error.is_connection_dropped()
            || error.is_timeout()
            || matches!(error.kind(), redis::ErrorKind::Server(redis::ServerErrorKind::ReadOnly));
        if moved {
            self.stale.store(true, Ordering::Release);
        }
    }

    /// A command given up on (the facade's deadline): a stalled master answers no error, and the
    /// sentinels may have promoted a replica meanwhile, so ask them before the next command.
    fn observe_abandoned(&self) {
        self.stale.store(true, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentinel_addresses_are_checked() {
        let at = |host: &str, port, tls| SentinelAddress { host: host.to_owned(), port, tls };
        assert_eq!(parse_address("10.0.0.1:26379").unwrap(), at("10.0.0.1", 26379, false));
        assert_eq!(parse_address(" [::1]:26379 ").unwrap(), at("::1", 26379, false));
        assert_eq!(parse_address("rediss://s1.example:26380/").unwrap(), at("s1.example", 26380, true));
        for bad in ["10.0.0.1", ":26379", "host:port", "host:99999", "redis://h:1", "rediss://u:S3CR3T@h:1"] {
            let err = parse_address(bad).unwrap_err();
            assert!(matches!(&err, CacheError::Config { key, .. } if key == "CACHE_REDIS_SENTINELS"), "{bad}: {err}");
            assert!(!err.to_string().contains("S3CR3T"), "{err}");
        }
    }
}
