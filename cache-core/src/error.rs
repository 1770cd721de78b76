//! [`CacheError`]: every way a cache operation can fail, as data.

use std::sync::Arc;
use std::time::Duration;

/// A boxed error from user code (a loader of [`crate::Cache::get_or_set`]) or from a client crate.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A shareable error source. Sources are behind `Arc` so that a [`CacheError`] can be cloned and
/// handed to every waiter of a single-flight load.
pub type ErrorSource = Arc<dyn std::error::Error + Send + Sync + 'static>;

/// `Result<T, CacheError>`.
pub type Result<T, E = CacheError> = std::result::Result<T, E>;

/// Everything a cache operation can report.
///
/// Each message says what failed and what to do about it. Variants carry the facts (the key, the
/// setting, the limit) as fields so that callers can match on them instead of parsing text.
///
/// [`CacheError::is_backend_failure`] separates failures of the backend (a server down, a timeout,
/// a disk error) from mistakes of the caller (a bad config, a value too large, a wrong type): with
/// `CACHE_IGNORE_ERRORS` the [`crate::Cache`] facade turns the former into misses.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum CacheError {
    /// A configuration key has a value that cannot be used.
    #[error("configuration error: {key} = {value:?}: {message}")]
    Config {
        /// The setting, e.g. `CACHE_DEFAULT_TIMEOUT` or `CACHE_OPTIONS.pool_size`.
        key: String,
        /// The value as given, with secrets redacted (see [`CacheError::config`]).
        value: String,
        /// What is wrong and what would be valid.
        message: String,
    },

    /// The backend could not be reached.
    #[error("{backend}: cannot connect to {target}: {message}")]
    Connection {
        /// Backend type name, e.g. `RedisCache`.
        backend: &'static str,
        /// Address or URL tried (without passwords).
        target: String,
        /// What failed and what to check.
        message: String,
        /// The client's error, if any.
        #[source]
        source: Option<ErrorSource>,
    },

    /// The server refused the credentials.
    #[error("{backend}: authentication failed: {message} (check {setting})")]
    Authentication {
        /// Backend type name.
        backend: &'static str,
        /// The setting that holds the credentials, e.g. `CACHE_REDIS_PASSWORD`.
        setting: &'static str,
        /// The server's answer.
        message: String,
    },

    /// The backend did not answer in time.
    #[error(
        "{backend}: {operation} timed out after {after:?} ({setting}); raise it if values are large or the server is far"
    )]
    Timeout {
        /// Backend type name.
        backend: &'static str,
        /// The operation, e.g. `get`.
        operation: &'static str,
        /// The limit that was hit.
        after: Duration,
        /// The setting that holds the limit, e.g. `CACHE_OPTIONS.deadline`.
        setting: &'static str,
    },

    /// Not tried: the backend's circuit breaker is open after consecutive failures, so the call
    /// failed at once instead of waiting for a backend that is down (see
    /// [`crate::fail_safe`]).
    #[error(
        "{backend}: {operation} not tried: the circuit breaker is open after {failures} consecutive failures; \
         the next attempt is in {retry_in:?} (CACHE_OPTIONS.breaker_failures, breaker_cooldown)"
    )]
    CircuitOpen {
        /// Backend type name.
        backend: &'static str,
        /// The operation, e.g. `get`.
        operation: &'static str,
        /// Consecutive failures seen.
        failures: u32,
        /// When a probe may go to the backend.
        retry_in: Duration,
    },

    /// The server answered something the client did not expect.
    #[error("{backend}: protocol error: {message}")]
    Protocol {
        /// Backend type name.
        backend: &'static str,
        /// What was unexpected.
        message: String,
    },

    /// A stored value does not decode as the requested type, or a value cannot be encoded.
    #[error("cannot decode the value of key {key:?}: {message}")]
    Codec {
        /// The key whose value failed.
        key: String,
        /// What did not match.
        message: String,
    },

    /// The key cannot be used with this backend.
    #[error("invalid key {key:?}: {message}")]
    InvalidKey {
        /// The key (possibly shortened).
        key: String,
        /// Why, and what is allowed.
        message: String,
    },

    /// The value is larger than the backend accepts.
    #[error("value for key {key:?} is {size} bytes, over the limit of {limit} bytes: {hint}")]
    ValueTooLarge {
        /// The key.
        key: String,
        /// Size of the encoded value.
        size: usize,
        /// The limit.
        limit: usize,
        /// What to do (e.g. enable value spreading, raise the server's item size).
        hint: String,
    },

    /// `inc`/`dec` on a value that is not a decimal integer, or a result outside `i64`.
    #[error("cannot increment key {key:?}: {message}")]
    NotAnInteger {
        /// The key.
        key: String,
        /// What was found.
        message: String,
    },

    /// The backend refuses the operation as configured (e.g. `clear` without a key prefix).
    #[error("{backend}: {operation} refused: {message}")]
    Refused {
        /// Backend type name.
        backend: &'static str,
        /// The operation.
        operation: &'static str,
        /// Why, and what to do instead.
        message: String,
    },

    /// A file-system error (FileSystemCache).
    #[error("{backend}: I/O error on {path}: {source}")]
    Io {
        /// Backend type name.
        backend: &'static str,
        /// File or directory involved.
        path: String,
        /// The OS error.
        #[source]
        source: Arc<std::io::Error>,
    },

    /// Any other failure of a backend.
    #[error("{backend}: {message}")]
    Backend {
        /// Backend type name.
        backend: &'static str,
        /// What failed.
        message: String,
        /// The client's error, if any.
        #[source]
        source: Option<ErrorSource>,
    },

    /// The loader of `get_or_set` / `memoize` failed; nothing was stored.
    #[error("the value loader failed: {0}")]
    Loader(#[source] ErrorSource),
}

impl CacheError {
    /// A configuration error for `key` with its `value`, safe to show: the value of a setting
    /// that holds a secret is redacted ([`config::redact`](crate::config::redact): passwords,
    /// secret-looking options, the userinfo of URLs), and so are the passwords of URLs in the
    /// message ([`config::redact_urls_in`](crate::config::redact_urls_in)). Build
    /// [`CacheError::Config`] with this, not as a struct, so that it stays so.
    pub fn config(key: impl Into<String>, value: impl Into<String>, message: impl Into<String>) -> Self {
        let key = key.into();
        let value = crate::config::redact(&key, &value.into());
        let message = crate::config::redact_urls_in(&message.into());
        CacheError::Config { key, value, message }
    }

    /// A backend failure with a message and an optional client error.
    pub fn backend(backend: &'static str, message: impl Into<String>, source: Option<ErrorSource>) -> Self {
        CacheError::Backend { backend, message: message.into(), source }
    }

    /// The backend did not answer `operation` within `after`, the limit `setting` holds.
    pub fn timeout(backend: &'static str, operation: &'static str, after: Duration, setting: &'static str) -> Self {
        CacheError::Timeout { backend, operation, after, setting }
    }

    /// A codec error for `key`.
    pub fn codec(key: &str, message: impl Into<String>) -> Self {
        CacheError::Codec { key: shorten(key), message: message.into() }
    }

    /// `inc`/`dec` found a value that is not a decimal integer.
    pub fn not_an_integer(key: &str, message: impl Into<String>) -> Self {
        CacheError::NotAnInteger { key: shorten(key), message: message.into() }
    }

    /// True for failures of the backend itself (unreachable, timed out, refused credentials,
    /// protocol or I/O errors): the errors that `CACHE_IGNORE_ERRORS` turns into misses.
    ///
    /// Mistakes of the caller (configuration, key, value size, type, a failing loader) are not
    /// backend failures and are always reported.
    pub fn is_backend_failure(&self) -> bool {
        matches!(
            self,
            CacheError::Connection { .. }
                | CacheError::Authentication { .. }
                | CacheError::Timeout { .. }
                | CacheError::CircuitOpen { .. }
                | CacheError::Protocol { .. }
                | CacheError::Io { .. }
                | CacheError::Backend { .. }
        )
    }
}

/// Keys in messages are cut to 200 characters so that a huge key does not flood a log.
pub fn shorten(key: &str) -> String {
    const MAX: usize = 200;
    if key.len() <= MAX {
        return key.to_owned();
    }
    let mut end = MAX;
    while !key.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...({} bytes)", &key[..end], key.len())
}
