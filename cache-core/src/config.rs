//! [`Config`]: Flask-Caching's `CACHE_*` settings, read from a map, the environment, or serde.
//!
//! - [`Config`]: the settings, checked; [`KEYS`]: every key, with its default and meaning.
//! - [`ConfigValue`]: a value before it is checked; each key's parser says what it expects.
//! - [`Options`]: `CACHE_OPTIONS`, the backends' own options, with typed getters.
//! - [Secrets](#secrets): how passwords are kept out of `Debug`, `Display` and errors.
//!
//! # Secrets
//!
//! No password or token appears in the `Debug` of [`Config`] or [`Options`], nor in the message
//! of a [`CacheError::Config`], whatever form it was given in (text, a list, a map, JSON, TOML,
//! the environment). The keys that hold one are [`SECRET_KEYS`], the userinfo and `pass` query
//! parameter of URLs ([`redact_url`]), and the `CACHE_OPTIONS` entries whose names look secret
//! ([`is_secret_name`]: `password`, `token`, `secret`, ...). [`CacheError::config`] redacts the
//! value it is given by the key it names ([`redact`]) and the URLs in its message
//! ([`redact_urls_in`]), so every error built with it is safe to log, in every crate.
//!
//! ```
//! use cachette_core::Config;
//!
//! let err = Config::from_map([("CACHE_REDIS_PASSWORD", vec!["hunter2"])]).unwrap_err();
//! assert!(!err.to_string().contains("hunter2") && !format!("{err:?}").contains("hunter2"));
//! ```

mod keys;
mod options;
mod redact;
#[cfg(test)]
mod tests;
mod value;

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use serde::Deserialize;

use crate::codec::Codec;
use crate::fail_safe::FailSafePolicy;
use crate::{CacheError, Expiry, Result};
use keys::{is_service_link, normalize_type_name, unknown_key_hint};
use value::{boolean, integer, list, optional, options, port, text, timeout};

pub use keys::{BUILTIN_BACKENDS, BuiltinBackend, KEYS, KeyInfo};
pub use options::Options;
pub use redact::{REDACTED, SECRET_KEYS, is_secret_key, is_secret_name, redact, redact_url, redact_urls_in};
pub use value::{ConfigValue, parse_duration};

/// The cache configuration: Flask-Caching's `CACHE_*` keys.
///
/// Build it from a map, the process environment or serde (TOML, JSON), or start from
/// [`Config::default`] (SimpleCache, 300 s) and change fields. Every source goes through the same
/// checks: an unknown `CACHE_*` key or a malformed value is a [`CacheError::Config`] naming the key,
/// the value and the nearest valid choice. Passwords are redacted from `Debug` output and errors
/// (see [Secrets](crate::config#secrets)).
///
/// ```
/// use std::time::Duration;
/// use cachette_core::{Config, Expiry};
///
/// let config = Config::from_map([
///     ("CACHE_TYPE", "RedisCache"),
///     ("CACHE_REDIS_URL", "redis://127.0.0.1:6379/0"),
///     ("CACHE_DEFAULT_TIMEOUT", "600"),
///     ("CACHE_KEY_PREFIX", "myapp:"),
/// ])?;
/// assert_eq!(config.cache_type, "RedisCache");
/// assert_eq!(config.default_timeout, Expiry::After(Duration::from_secs(600)));
///
/// let err = Config::from_map([("CACHE_DEFAULT_TIMOUT", "600")]).unwrap_err();
/// assert!(err.to_string().contains("did you mean CACHE_DEFAULT_TIMEOUT"));
///
/// // The same keys from TOML (or any serde format):
/// let config: Config = toml::from_str(r#"
///     CACHE_TYPE = "SimpleCache"
///     CACHE_THRESHOLD = 10000
///     CACHE_OPTIONS = { pool_size = 8 }
/// "#).unwrap();
/// assert_eq!(config.threshold, 10000);
/// # Ok::<(), cachette_core::CacheError>(())
/// ```
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub struct Config {
    /// `CACHE_TYPE`: the backend's registered name (old lowercase names already mapped).
    pub cache_type: String,
    /// `CACHE_DEFAULT_TIMEOUT`: what [`Ttl::Default`](crate::Ttl::Default) means (a resolved [`Expiry`], so it cannot
    /// be `Ttl::Default` itself).
    pub default_timeout: Expiry,
    /// `CACHE_KEY_PREFIX`.
    pub key_prefix: String,
    /// `CACHE_THRESHOLD`: most entries kept (0: no bound).
    pub threshold: usize,
    /// `CACHE_DIR`.
    pub dir: Option<PathBuf>,
    /// `CACHE_IGNORE_ERRORS`.
    pub ignore_errors: bool,
    /// `CACHE_NO_NULL_WARNING`.
    pub no_null_warning: bool,
    /// `CACHE_ARGS`.
    pub args: Vec<String>,
    /// `CACHE_OPTIONS`.
    pub options: Options,
    /// The deadlines and circuit breaker of the [`Cache`](crate::Cache) facade, read from
    /// `CACHE_OPTIONS` (`deadline`, `clear_deadline`, `breaker_failures`, `breaker_cooldown`, `lease`).
    pub fail_safe: FailSafePolicy,
    /// `CACHE_SOURCE_CHECK`.
    pub source_check: bool,
    /// `CACHE_SERIALIZER`, `CACHE_COMPRESSION`, `CACHE_COMPRESSION_MIN_SIZE`: the stored form of
    /// typed values (see [`Codec`]).
    pub codec: Codec,
    /// `CACHE_REDIS_URL`.
    pub redis_url: Option<String>,
    /// `CACHE_REDIS_HOST`.
    pub redis_host: Option<String>,
    /// `CACHE_REDIS_PORT`.
    pub redis_port: Option<u16>,
    /// `CACHE_REDIS_USERNAME`.
    pub redis_username: Option<String>,
    /// `CACHE_REDIS_PASSWORD`.
    pub redis_password: Option<String>,
    /// `CACHE_REDIS_DB`.
    pub redis_db: Option<u32>,
    /// `CACHE_REDIS_SENTINELS`.
    pub redis_sentinels: Vec<String>,
    /// `CACHE_REDIS_SENTINEL_MASTER`.
    pub redis_sentinel_master: Option<String>,
    /// `CACHE_REDIS_SENTINEL_PASSWORD`.
    pub redis_sentinel_password: Option<String>,
    /// `CACHE_REDIS_CLUSTER`.
    pub redis_cluster: Vec<String>,
    /// `CACHE_MEMCACHED_SERVERS`.
    pub memcached_servers: Vec<String>,
    /// `CACHE_MEMCACHED_USERNAME`.
    pub memcached_username: Option<String>,
    /// `CACHE_MEMCACHED_PASSWORD`.
    pub memcached_password: Option<String>,
    /// `CACHE_UWSGI_NAME`: `cache@host:port`, a cache of a uWSGI server.
    pub uwsgi_name: Option<String>,
    /// `CACHE_L1`: an in-process tier in front of the backend (built by `cachette-tiered`).
    pub l1: bool,
    /// `CACHE_L1_THRESHOLD`: most entries of the in-process tier.
    pub l1_threshold: usize,
    /// `CACHE_L1_TIMEOUT`: longest life of an entry of the in-process tier ([`Expiry::Never`]: no
    /// bound but the backend's expiry).
    pub l1_timeout: Expiry,
    /// `CACHE_L1_BUS_URL`: the Redis server whose pub/sub carries the tier's invalidations
    /// (instead of the backend's change feed, e.g. Redis client tracking).
    pub l1_bus_url: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            cache_type: "SimpleCache".to_owned(),
            default_timeout: Expiry::After(crate::ttl::DEFAULT_TIMEOUT),
            key_prefix: String::new(),
            threshold: 500,
            dir: None,
            ignore_errors: false,
            no_null_warning: false,
            args: Vec::new(),
            options: Options::default(),
            fail_safe: FailSafePolicy::default(),
            source_check: false,
            codec: Codec::default(),
            redis_url: None,
            redis_host: None,
            redis_port: None,
            redis_username: None,
            redis_password: None,
            redis_db: None,
            redis_sentinels: Vec::new(),
            redis_sentinel_master: None,
            redis_sentinel_password: None,
            redis_cluster: Vec::new(),
            memcached_servers: Vec::new(),
            memcached_username: None,
            memcached_password: None,
            uwsgi_name: None,
            l1: false,
            l1_threshold: 10_000,
            l1_timeout: Expiry::After(std::time::Duration::from_secs(10)),
            l1_bus_url: None,
        }
    }
}

/// Passwords show as `<redacted>` (a password that is set but empty too, so that `Debug` does
/// not tell its length); URLs, address lists and arguments without their passwords; options
/// with secret-looking names redacted (see [Secrets](crate::config#secrets)).
impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn secret(p: &Option<String>) -> Option<&'static str> {
            p.as_ref().map(|_| REDACTED)
        }
        fn addresses(items: &[String]) -> Vec<String> {
            items.iter().map(|item| redact::redact_items(item, true)).collect()
        }
        let args: Vec<String> = self.args.iter().map(|arg| redact::redact_items(arg, false)).collect();
        f.debug_struct("Config")
            .field("cache_type", &self.cache_type)
            .field("default_timeout", &self.default_timeout)
            .field("key_prefix", &self.key_prefix)
            .field("threshold", &self.threshold)
            .field("dir", &self.dir)
            .field("ignore_errors", &self.ignore_errors)
            .field("no_null_warning", &self.no_null_warning)
            .field("args", &args)
            .field("options", &self.options)
            .field("fail_safe", &self.fail_safe)
            .field("source_check", &self.source_check)
            .field("codec", &self.codec)
            .field("redis_url", &self.redis_url.as_deref().map(redact_url))
            .field("redis_host", &self.redis_host.as_deref().map(|h| redact::redact_items(h, true)))
            .field("redis_port", &self.redis_port)
            .field("redis_username", &self.redis_username)
            .field("redis_password", &secret(&self.redis_password))
            .field("redis_db", &self.redis_db)
            .field("redis_sentinels", &addresses(&self.redis_sentinels))
            .field("redis_sentinel_master", &self.redis_sentinel_master)
            .field("redis_sentinel_password", &secret(&self.redis_sentinel_password))
            .field("redis_cluster", &addresses(&self.redis_cluster))
            .field("memcached_servers", &addresses(&self.memcached_servers))
            .field("memcached_username", &self.memcached_username)
            .field("memcached_password", &secret(&self.memcached_password))
            .field("uwsgi_name", &self.uwsgi_name)
            .field("l1", &self.l1)
            .field("l1_threshold", &self.l1_threshold)
            .field("l1_timeout", &self.l1_timeout)
            .field("l1_bus_url", &self.l1_bus_url.as_deref().map(redact_url))
            .finish()
    }
}

impl Config {
    /// A config from `(key, value)` pairs; keys not given keep their defaults.
    pub fn from_map<I, K, V>(entries: I) -> Result<Config>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: Into<ConfigValue>,
    {
        let mut config = Config::default();
        for (key, value) in entries {
            config.set(key.as_ref(), value)?;
        }
        Ok(config)
    }

    /// A config from the process environment: every variable whose name starts with `CACHE_`.
    ///
    /// The environment holds variables that are not for us: an unknown `CACHE_*` variable is a
    /// warning naming the nearest known key (`did you mean CACHE_DEFAULT_TIMEOUT?`), not an error,
    /// and Kubernetes' service links (`CACHE_PORT=tcp://10.0.0.5:6379`, `CACHE_SERVICE_HOST`, ...,
    /// injected into every pod when a Service is named `cache`) are skipped with a debug event,
    /// even where one collides with a key (`CACHE_REDIS_PORT=tcp://...` for a Service named
    /// `cache-redis`). A malformed value of a known key is still an error. From a map or a file
    /// ([`Config::from_map`], serde) an unknown key is an error.
    pub fn from_env() -> Result<Config> {
        Config::from_env_vars(std::env::vars_os())
    }

    /// Like [`Config::from_env`], from the given variables (testable without touching the process
    /// environment).
    pub fn from_env_vars<I>(vars: I) -> Result<Config>
    where
        I: IntoIterator<Item = (std::ffi::OsString, std::ffi::OsString)>,
    {
        let mut config = Config::default();
        for (name, value) in vars {
            let Some(name) = name.to_str() else { continue };
            if !name.starts_with("CACHE_") {
                continue;
            }
            let value = value
                .into_string()
                .map_err(|v| CacheError::config(name, v.to_string_lossy(), "the value is not valid UTF-8"))?;
            if is_service_link(name, &value) {
                tracing::debug!(variable = name, "skipped a Kubernetes service-link variable");
                continue;
            }
            if !KEYS.iter().any(|k| k.name.eq_ignore_ascii_case(name)) {
                tracing::warn!(
                    variable = name,
                    "unknown cache setting in the environment, ignored;{}",
                    unknown_key_hint(&name.to_ascii_uppercase())
                );
                continue;
            }
            config.set(name, value)?;
        }
        Ok(config)
    }

    /// Sets one key (case-insensitive: `cache_type` is `CACHE_TYPE`) after checking its value.
    pub fn set(&mut self, key: &str, value: impl Into<ConfigValue>) -> Result<()> {
        let value = value.into();
        let name = key.trim().to_ascii_uppercase();
        let raw = value.to_string();
        let bad = |message: String| CacheError::config(&name, &raw, message);
        match name.as_str() {
            "CACHE_TYPE" => self.cache_type = normalize_type_name(&text(&value).map_err(bad)?),
            "CACHE_DEFAULT_TIMEOUT" => self.default_timeout = timeout(&value).map_err(bad)?,
            "CACHE_KEY_PREFIX" => self.key_prefix = text(&value).map_err(bad)?,
            "CACHE_THRESHOLD" => self.threshold = integer(&value, usize::MAX as u64).map_err(bad)?,
            "CACHE_DIR" => self.dir = optional(text(&value).map_err(bad)?).map(PathBuf::from),
            "CACHE_IGNORE_ERRORS" => self.ignore_errors = boolean(&value).map_err(bad)?,
            "CACHE_NO_NULL_WARNING" => self.no_null_warning = boolean(&value).map_err(bad)?,
            "CACHE_ARGS" => self.args = list(&value).map_err(bad)?,
            "CACHE_OPTIONS" => {
                let options = options(&value).map_err(bad)?;
                self.fail_safe = FailSafePolicy::from_options(&options)?;
                self.options = options;
            }
            "CACHE_SOURCE_CHECK" => self.source_check = boolean(&value).map_err(bad)?,
            "CACHE_SERIALIZER" => self.codec.serializer = text(&value).map_err(bad)?.parse().map_err(bad)?,
            "CACHE_COMPRESSION" => self.codec.compression = text(&value).map_err(bad)?.parse().map_err(bad)?,
            "CACHE_COMPRESSION_MIN_SIZE" => {
                self.codec.compression_min_size = integer(&value, usize::MAX as u64).map_err(bad)?;
            }
            "CACHE_REDIS_URL" => self.redis_url = optional(text(&value).map_err(bad)?),
            "CACHE_REDIS_HOST" => self.redis_host = optional(text(&value).map_err(bad)?),
            "CACHE_REDIS_PORT" => self.redis_port = Some(port(&value).map_err(bad)?),
            "CACHE_REDIS_USERNAME" => self.redis_username = optional(text(&value).map_err(bad)?),
            "CACHE_REDIS_PASSWORD" => self.redis_password = optional(text(&value).map_err(bad)?),
            "CACHE_REDIS_DB" => self.redis_db = Some(integer(&value, u32::MAX.into()).map_err(bad)?),
            "CACHE_REDIS_SENTINELS" => self.redis_sentinels = list(&value).map_err(bad)?,
            "CACHE_REDIS_SENTINEL_MASTER" => self.redis_sentinel_master = optional(text(&value).map_err(bad)?),
            "CACHE_REDIS_SENTINEL_PASSWORD" => self.redis_sentinel_password = optional(text(&value).map_err(bad)?),
            "CACHE_REDIS_CLUSTER" => self.redis_cluster = list(&value).map_err(bad)?,
            "CACHE_MEMCACHED_SERVERS" => self.memcached_servers = list(&value).map_err(bad)?,
            "CACHE_MEMCACHED_USERNAME" => self.memcached_username = optional(text(&value).map_err(bad)?),
            "CACHE_MEMCACHED_PASSWORD" => self.memcached_password = optional(text(&value).map_err(bad)?),
            "CACHE_UWSGI_NAME" => self.uwsgi_name = optional(text(&value).map_err(bad)?),
            "CACHE_L1" => self.l1 = boolean(&value).map_err(bad)?,
            "CACHE_L1_THRESHOLD" => self.l1_threshold = integer(&value, usize::MAX as u64).map_err(bad)?,
            "CACHE_L1_TIMEOUT" => self.l1_timeout = timeout(&value).map_err(bad)?,
            "CACHE_L1_BUS_URL" => self.l1_bus_url = optional(text(&value).map_err(bad)?),
            _ => {
                return Err(CacheError::config(
                    &name,
                    &raw,
                    format!("unknown configuration key;{}", unknown_key_hint(&name)),
                ));
            }
        }
        Ok(())
    }

    /// `key` with this cache's `CACHE_KEY_PREFIX` in front.
    pub fn prefixed(&self, key: &str) -> String {
        let mut out = String::with_capacity(self.key_prefix.len() + key.len());
        out.push_str(&self.key_prefix);
        out.push_str(key);
        out
    }
}

impl<'de> Deserialize<'de> for Config {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let map = BTreeMap::<String, ConfigValue>::deserialize(deserializer)?;
        Config::from_map(map).map_err(serde::de::Error::custom)
    }
}
