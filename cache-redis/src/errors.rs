//! Redis errors as [`CacheError`]s that name the setting to check.

use std::sync::Arc;

use cachette_core::CacheError;
use redis::{ErrorKind, RedisError, ServerErrorKind};

/// What an error message needs to know about the connection: the backend, where it connects
/// (without secrets), and which settings hold the address, credentials and database.
#[derive(Debug, Clone)]
pub struct ErrorContext {
    /// Backend type name.
    pub backend: &'static str,
    /// The address or URL, without passwords.
    pub target: String,
    /// The setting(s) that give the address, e.g. `CACHE_REDIS_URL`.
    pub address_setting: &'static str,
    /// The setting(s) that give the credentials.
    pub password_setting: &'static str,
    /// The limit for an answer (`CACHE_OPTIONS.response_timeout`), for timeout messages.
    pub response_timeout: std::time::Duration,
    /// The setting that gives the database index.
    pub db_setting: &'static str,
    /// The `tls_*` files, which a failed TLS handshake is explained with.
    pub tls_files: cachette_core::tls::TlsFiles,
}

impl ErrorContext {
    /// Maps a redis-rs error from `operation`.
    pub fn map(&self, operation: &'static str, error: RedisError) -> CacheError {
        let backend = self.backend;
        let source = Some(Arc::new(error.clone()) as cachette_core::ErrorSource);
        if let Some(failure) = cachette_core::tls::diagnose(&error, &self.tls_files, &self.target, self.address_setting)
        {
            return CacheError::Authentication { backend, setting: failure.setting, message: failure.message };
        }
        if error.kind() == ErrorKind::AuthenticationFailed
            || matches!(error.kind(), ErrorKind::Server(ServerErrorKind::NoPerm))
            || error.code() == Some("NOAUTH")
            || error.code() == Some("WRONGPASS")
        {
            return CacheError::Authentication {
                backend,
                setting: self.password_setting,
                message: format!("{} refused the credentials: {error}", self.target),
            };
        }
        if error.detail().is_some_and(|d| d.contains("DB index is out of range")) {
            // CACHE_REDIS_DB's value is the index, which the target ends with (`host:port/99`);
            // a URL's is the URL itself.
            let value = match db_index(&self.target) {
                Some(db) if self.db_setting == "CACHE_REDIS_DB" => db,
                _ => &self.target,
            };
            return CacheError::config(
                self.db_setting,
                value,
                format!(
                    "the server has no such database ({error}); use an index below its `databases` setting (16 by default)"
                ),
            );
        }
        if error.is_timeout() {
            return CacheError::timeout(backend, operation, self.response_timeout, "CACHE_OPTIONS.response_timeout");
        }
        if error.is_io_error() || error.is_connection_refusal() || error.is_connection_dropped() {
            return CacheError::Connection {
                backend,
                target: self.target.clone(),
                message: format!(
                    "{error}; check that the server is running and that {} is right",
                    self.address_setting
                ),
                source,
            };
        }
        match error.kind() {
            ErrorKind::Server(ServerErrorKind::ReadOnly) => CacheError::Connection {
                backend,
                target: self.target.clone(),
                message: "the server is a read-only replica (a failover may be in progress); retry".into(),
                source,
            },
            ErrorKind::Server(
                ServerErrorKind::ClusterDown | ServerErrorKind::MasterDown | ServerErrorKind::TryAgain,
            )
            | ErrorKind::ClusterConnectionNotFound
            | ErrorKind::MasterNameNotFoundBySentinel
            | ErrorKind::EmptySentinelList => CacheError::Connection {
                backend,
                target: self.target.clone(),
                message: format!("{error}; check {}", self.address_setting),
                source,
            },
            ErrorKind::InvalidClientConfig => {
                CacheError::config(self.address_setting, self.target.clone(), error.to_string())
            }
            ErrorKind::Parse | ErrorKind::UnexpectedReturnType => {
                CacheError::Protocol { backend, message: format!("{operation}: {error}") }
            }
            _ => CacheError::backend(backend, format!("{operation} failed: {error}"), source),
        }
    }
}

/// `inc`'s server errors: a value that is not an integer, or a result that overflows.
pub fn is_not_an_integer(error: &RedisError) -> bool {
    error.detail().is_some_and(|d| d.contains("not an integer") || d.contains("overflow"))
}

/// The database index a target ends with: `host:port/3`, a URL's `/3` path or its `?db=3`.
fn db_index(target: &str) -> Option<&str> {
    let (before_query, query) = target.split_once('?').unwrap_or((target, ""));
    let from_query = query.split(['&', '#']).find_map(|pair| pair.strip_prefix("db="));
    let from_path = before_query.rsplit_once('/').map(|(_, last)| last);
    from_query.or(from_path).filter(|db| !db.is_empty() && db.bytes().all(|b| b.is_ascii_digit()))
}
