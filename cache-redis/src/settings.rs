//! Connection settings from CACHE_* keys, shared by the three Redis backends.

use std::time::Duration;

use cachette_core::config::redact_url;
use cachette_core::tls::TlsFiles;
use cachette_core::{CacheError, Config, Result};
use redis::aio::ConnectionManagerConfig;
use redis::{ConnectionAddr, ConnectionInfo, IntoConnectionInfo, RedisConnectionInfo};

/// The CACHE_OPTIONS every Redis backend understands.
pub const OPTIONS: &[&str] = &["pool_size", "connect_timeout", "response_timeout", "reconnect_retries"];

/// CACHE_OPTIONS of the Redis backends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionOptions {
    /// Multiplexed connections per server (`pool_size`, default 1). One multiplexed connection
    /// pipelines the commands of any number of concurrent tasks; more help only on many cores.
    pub pool_size: usize,
    /// Limit for establishing a connection (`connect_timeout`, default 2 s).
    pub connect_timeout: Duration,
    /// Limit for an answer (`response_timeout`, default 5 s). redis-rs's own default (about
    /// 500 ms) is short for large values or a busy server.
    pub response_timeout: Duration,
    /// How many times a lost connection is tried again, with 50–250 ms between tries, before a
    /// call fails (`reconnect_retries`; default 0 for one server, 5 for a cluster, where it rides
    /// through a failover's moved slots). While a server is down each try costs its connect
    /// time; with 0 a refused connection fails at once and the next call reconnects, and the
    /// `Cache` facade's circuit breaker stops the calls altogether until a probe succeeds.
    pub reconnect_retries: Option<usize>,
    /// PEM file of the certificate authority to trust for `rediss://` (`tls_ca_file`), instead of
    /// the system's roots: for servers with a private or self-signed CA. RedisCache and
    /// RedisClusterCache.
    pub tls_ca_file: Option<std::path::PathBuf>,
    /// PEM file of the client certificate to present (`tls_cert_file`), for servers with
    /// `tls-auth-clients yes`; set with `tls_key_file`. RedisCache and RedisClusterCache.
    pub tls_cert_file: Option<std::path::PathBuf>,
    /// PEM file of the client certificate's private key (`tls_key_file`).
    pub tls_key_file: Option<std::path::PathBuf>,
}

impl ConnectionOptions {
    /// Reads and checks the options; `extra` are option names a backend adds to [`OPTIONS`].
    pub fn from_config(config: &Config, backend: &str, extra: &[&str]) -> Result<ConnectionOptions> {
        let known: Vec<&str> = OPTIONS.iter().chain(extra).copied().collect();
        config.options.reject_unknown(backend, &known)?;
        let pool_size = config.options.get_u64("pool_size")?.unwrap_or(1);
        if !(1..=1024).contains(&pool_size) {
            return Err(CacheError::config("CACHE_OPTIONS.pool_size", pool_size.to_string(), "expected 1 to 1024"));
        }
        let tls = TlsFiles::from_options(&config.options)?;
        Ok(ConnectionOptions {
            pool_size: pool_size as usize,
            connect_timeout: config.options.get_positive_duration("connect_timeout")?.unwrap_or(Duration::from_secs(2)),
            response_timeout: config
                .options
                .get_positive_duration("response_timeout")?
                .unwrap_or(Duration::from_secs(5)),
            reconnect_retries: config.options.get_u64("reconnect_retries")?.map(|n| n.min(100) as usize),
            tls_ca_file: tls.ca_file,
            tls_cert_file: tls.cert_file,
            tls_key_file: tls.key_file,
        })
    }

    /// The `tls_*` files, as cachette-core's TLS helpers take them.
    pub fn tls_files(&self) -> TlsFiles {
        TlsFiles {
            ca_file: self.tls_ca_file.clone(),
            cert_file: self.tls_cert_file.clone(),
            key_file: self.tls_key_file.clone(),
        }
    }

    /// The CA and client certificate for redis-rs, read and checked, if any `tls_*` file is set.
    pub fn tls_certificates(&self) -> Result<Option<redis::TlsCertificates>> {
        let files = self.tls_files();
        if files.is_empty() {
            return Ok(None);
        }
        install_tls_provider();
        let pem = files.read()?;
        let client_tls = pem.client.map(|(client_cert, client_key)| redis::ClientTlsConfig { client_cert, client_key });
        Ok(Some(redis::TlsCertificates { client_tls, root_cert: pem.ca }))
    }

    /// The reconnecting connection's settings: `reconnect_retries` tries (none by default), with
    /// short delays, so that while a server is down a call fails at once instead of waiting out
    /// a back-off (the fixed two retries before cost about 270 ms per call), and the first call
    /// after it is back reconnects.
    pub fn manager_config(&self) -> ConnectionManagerConfig {
        ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.connect_timeout))
            .set_response_timeout(Some(self.response_timeout))
            .set_number_of_retries(self.reconnect_retries.unwrap_or(0))
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_millis(250))
    }
}

/// Database, user name and password from CACHE_REDIS_DB / USERNAME / PASSWORD.
pub fn redis_settings(config: &Config) -> RedisConnectionInfo {
    let mut info = RedisConnectionInfo::default().set_db(i64::from(config.redis_db.unwrap_or(0)));
    if let Some(user) = &config.redis_username {
        info = info.set_username(user);
    }
    if let Some(password) = &config.redis_password {
        info = info.set_password(password);
    }
    info
}

/// Where a standalone server is, from CACHE_REDIS_URL or HOST / PORT / DB / USERNAME / PASSWORD.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// What redis-rs connects to.
    pub info: ConnectionInfo,
    /// The address for messages (no password).
    pub target: String,
    /// The setting(s) that gave the address.
    pub address_setting: &'static str,
    /// The setting(s) that gave the credentials.
    pub password_setting: &'static str,
    /// The setting(s) that gave the database index.
    pub db_setting: &'static str,
}

/// The standalone endpoint `config` names. CACHE_REDIS_URL wins over the separate keys, with a
/// warning naming those that are set, so that a password or database given beside a URL is not
/// ignored without a word.
///
/// Without a URL the target shown in messages is `host:port`, and `host:port/db` when
/// CACHE_REDIS_DB is set (the index an "out of range" error names).
pub fn endpoint(config: &Config) -> Result<Endpoint> {
    if let Some(url) = &config.redis_url {
        let shown = redact_url(url);
        warn_of_keys_beside_the_url(config, &shown);
        if url.starts_with("rediss://") {
            install_tls_provider();
        }
        let info = url.as_str().into_connection_info().map_err(|e| {
            CacheError::config(
                "CACHE_REDIS_URL",
                shown.clone(),
                format!("not a Redis URL ({e}); expected redis://[user:password@]host:port/db, rediss://... for TLS, or unix:///path/to/socket"),
            )
        })?;
        return Ok(Endpoint {
            info,
            target: shown,
            address_setting: "CACHE_REDIS_URL",
            password_setting: "the password in CACHE_REDIS_URL",
            db_setting: "CACHE_REDIS_URL",
        });
    }
    let host = config.redis_host.clone().unwrap_or_else(|| "localhost".to_owned());
    let port = config.redis_port.unwrap_or(6379);
    let info = ConnectionAddr::Tcp(host.clone(), port)
        .into_connection_info()
        .map_err(|e| CacheError::config("CACHE_REDIS_HOST", host.clone(), e.to_string()))?
        .set_redis_settings(redis_settings(config));
    let target = match config.redis_db {
        Some(db) => format!("{host}:{port}/{db}"),
        None => format!("{host}:{port}"),
    };
    Ok(Endpoint {
        info,
        target,
        address_setting: "CACHE_REDIS_HOST / CACHE_REDIS_PORT",
        password_setting: "CACHE_REDIS_PASSWORD / CACHE_REDIS_USERNAME",
        db_setting: "CACHE_REDIS_DB",
    })
}

/// The URL wins over HOST / PORT / USERNAME / PASSWORD / DB: a warning names those that are set
/// and how to write them into the URL (never their values).
fn warn_of_keys_beside_the_url(config: &Config, shown_url: &str) {
    let beside: Vec<&str> = [
        ("CACHE_REDIS_HOST", config.redis_host.is_some()),
        ("CACHE_REDIS_PORT", config.redis_port.is_some()),
        ("CACHE_REDIS_USERNAME", config.redis_username.is_some()),
        ("CACHE_REDIS_PASSWORD", config.redis_password.is_some()),
        ("CACHE_REDIS_DB", config.redis_db.is_some()),
    ]
    .into_iter()
    .filter_map(|(key, set)| set.then_some(key))
    .collect();
    if !beside.is_empty() {
        tracing::warn!(
            url = %shown_url,
            "CACHE_REDIS_URL is set, so {} {} ignored: the URL wins. Put them in the URL instead: \
             redis://[username]:<password>@host:port/<db> (percent-encode `/`, `@`, `:`, `?` and `#` in the password, \
             e.g. / as %2F), or unset CACHE_REDIS_URL",
            beside.join(", "),
            if beside.len() == 1 { "is" } else { "are" },
        );
    }
}

/// redis-rs's rustls support panics at the first TLS connection unless a process-wide crypto
/// provider is installed; install ring's once (a provider the application installed stays).
pub fn install_tls_provider() {
    cachette_core::tls::install_provider();
}

/// A client for `info`, trusting `CACHE_OPTIONS.tls_ca_file` and presenting `tls_cert_file` /
/// `tls_key_file` when they are set (TLS connections only).
pub fn client(info: ConnectionInfo, options: &ConnectionOptions) -> Result<redis::Client> {
    match options.tls_certificates()? {
        None => redis::Client::open(info).map_err(|e| CacheError::config("CACHE_REDIS_URL", "", e.to_string())),
        Some(certs) => redis::Client::build_with_tls(info, certs).map_err(|e| {
            let files = options.tls_files();
            let path = files.ca_file.or(files.cert_file).map(|p| p.display().to_string()).unwrap_or_default();
            CacheError::config(TLS_FILES_SETTING, path, format!("cannot use these certificates: {e}"))
        }),
    }
}

/// `info` speaking RESP3, the protocol of push messages (client tracking's invalidations).
pub fn resp3(info: ConnectionInfo) -> ConnectionInfo {
    let settings = info.redis_settings().clone().set_protocol(redis::ProtocolVersion::RESP3);
    info.set_redis_settings(settings)
}

/// How errors name the certificate files together.
const TLS_FILES_SETTING: &str = "CACHE_OPTIONS.tls_ca_file / tls_cert_file / tls_key_file";

#[cfg(test)]
mod tests {
    use std::fmt::Write;
    use std::sync::{Arc, Mutex};

    use cachette_conformance::harness::redis::RedisServer;
    use cachette_core::BaseCache;

    use super::*;

    /// Collects the events logged on this thread: level and fields, one line each.
    #[derive(Default)]
    struct Logged(Mutex<Vec<String>>);

    struct Fields<'a>(&'a mut String);

    impl tracing::field::Visit for Fields<'_> {
        fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }

    impl tracing::Subscriber for Logged {
        fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
            true
        }
        fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
            tracing::span::Id::from_u64(1)
        }
        fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
        fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
        fn event(&self, event: &tracing::Event<'_>) {
            let mut line = event.metadata().level().to_string();
            event.record(&mut Fields(&mut line));
            self.0.lock().unwrap().push(line);
        }
        fn enter(&self, _: &tracing::span::Id) {}
        fn exit(&self, _: &tracing::span::Id) {}
    }

    fn logged_during<T>(run: impl FnOnce() -> T) -> (T, Vec<String>) {
        let logged = Arc::new(Logged::default());
        let out = tracing::subscriber::with_default(logged.clone(), run);
        let lines = logged.0.lock().unwrap().clone();
        (out, lines)
    }

    const SECRET: &str = "S3CR3T-sentinel-value";

    #[test]
    fn a_password_or_db_next_to_a_url_is_a_warning_that_the_url_wins() {
        let config = Config::from_map([
            ("CACHE_REDIS_URL", "redis://127.0.0.1:6379/0"),
            ("CACHE_REDIS_PASSWORD", SECRET),
            ("CACHE_REDIS_DB", "3"),
        ])
        .unwrap();
        let (found, logged) = logged_during(|| endpoint(&config));
        assert_eq!(found.unwrap().target, "redis://127.0.0.1:6379/0");
        let warning = logged.iter().find(|line| line.starts_with("WARN")).expect("a warning");
        for named in ["CACHE_REDIS_URL", "CACHE_REDIS_PASSWORD", "CACHE_REDIS_DB", "redis://"] {
            assert!(warning.contains(named), "{named} missing: {warning}");
        }
        assert!(!warning.contains(SECRET), "{warning}");
        let config = Config::from_map([("CACHE_REDIS_URL", "redis://127.0.0.1:6379/0")]).unwrap();
        let (_, logged) = logged_during(|| endpoint(&config));
        assert!(logged.is_empty(), "a URL alone is no warning: {logged:?}");
    }

    #[tokio::test]
    async fn an_out_of_range_db_names_cache_redis_db_and_the_index() {
        let server = RedisServer::start();
        let config = Config::from_map([
            ("CACHE_REDIS_HOST", "127.0.0.1".to_owned()),
            ("CACHE_REDIS_PORT", server.port().to_string()),
            ("CACHE_REDIS_DB", "99".to_owned()),
        ])
        .unwrap();
        let err = crate::RedisCache::new(&config).unwrap().get("k").await.unwrap_err();
        match &err {
            CacheError::Config { key, value, .. } => {
                assert_eq!((key.as_str(), value.as_str()), ("CACHE_REDIS_DB", "99"))
            }
            other => panic!("{other:?}"),
        }
        assert!(err.to_string().contains("CACHE_REDIS_DB = \"99\""), "{err}");
    }
}
