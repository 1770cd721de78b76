//! [`Config`]: Flask-Caching's `CACHE_*` settings, read from a map, the environment, or serde.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::fail_safe::{FAIL_SAFE_OPTIONS, FailSafePolicy};
use crate::suggest::did_you_mean;
use crate::{CacheError, Expiry, Result};

/// A built-in backend: its type name, the old lowercase names that still select it, and the
/// cargo feature of the `cachette` crate that compiles it in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuiltinBackend {
    /// The name used in `CACHE_TYPE`, e.g. `"RedisCache"`.
    pub type_name: &'static str,
    /// Deprecated lowercase names (Flask-Caching 1.x), e.g. `"redis"`.
    pub old_names: &'static [&'static str],
    /// The `cachette` cargo feature that provides it.
    pub feature: &'static str,
}

/// Every backend that ships with cachette.
pub const BUILTIN_BACKENDS: &[BuiltinBackend] = &[
    BuiltinBackend { type_name: "NullCache", old_names: &["null"], feature: "null" },
    BuiltinBackend { type_name: "SimpleCache", old_names: &["simple"], feature: "simple" },
    BuiltinBackend { type_name: "FileSystemCache", old_names: &["filesystem"], feature: "filesystem" },
    BuiltinBackend { type_name: "RedisCache", old_names: &["redis"], feature: "redis" },
    BuiltinBackend { type_name: "RedisSentinelCache", old_names: &["redissentinel"], feature: "redis-sentinel" },
    BuiltinBackend { type_name: "RedisClusterCache", old_names: &["rediscluster"], feature: "redis-cluster" },
    BuiltinBackend { type_name: "MemcachedCache", old_names: &["memcached", "gaememcached"], feature: "memcached" },
    BuiltinBackend { type_name: "SASLMemcachedCache", old_names: &["saslmemcached"], feature: "memcached" },
    BuiltinBackend { type_name: "SpreadSASLMemcachedCache", old_names: &["spreadsaslmemcached"], feature: "memcached" },
];

/// One `CACHE_*` key: its name, what it holds, its default and what it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyInfo {
    /// The key, e.g. `"CACHE_DEFAULT_TIMEOUT"`.
    pub name: &'static str,
    /// The kind of value, for documentation.
    pub kind: &'static str,
    /// The default, for documentation.
    pub default: &'static str,
    /// What it does.
    pub doc: &'static str,
}

macro_rules! keys {
    ($($name:literal, $kind:literal, $default:literal, $doc:literal;)*) => {
        /// Every key [`Config`] understands (the README's configuration table is this list).
        pub const KEYS: &[KeyInfo] = &[$(KeyInfo { name: $name, kind: $kind, default: $default, doc: $doc }),*];
    };
}

keys! {
    "CACHE_TYPE", "backend name", "SimpleCache", "Which backend: NullCache, SimpleCache, FileSystemCache, RedisCache, RedisSentinelCache, RedisClusterCache, MemcachedCache, SASLMemcachedCache, SpreadSASLMemcachedCache, or a name registered by the application. Old lowercase names (simple, redis, ...) work with a deprecation warning.";
    "CACHE_DEFAULT_TIMEOUT", "seconds or duration", "300", "Lifetime of entries written with Ttl::Default. 0 means never expire. Accepts 300, 90s, 5m, 1h, 1d.";
    "CACHE_KEY_PREFIX", "string", "(empty)", "Prefix of every key this cache writes; clear() removes only keys under it.";
    "CACHE_THRESHOLD", "integer", "500", "Most entries kept by SimpleCache and FileSystemCache before pruning (0: no bound).";
    "CACHE_DIR", "path", "(none)", "Directory of FileSystemCache (created with mode 0700 if missing).";
    "CACHE_IGNORE_ERRORS", "bool", "false", "Treat backend failures (server down, timeouts, undecodable entries) as misses, logged with tracing, so a cache outage never takes the site down.";
    "CACHE_NO_NULL_WARNING", "bool", "false", "Silence the warning NullCache logs when it is created.";
    "CACHE_ARGS", "list", "(empty)", "Positional arguments for a backend's factory (comma-separated or a JSON array).";
    "CACHE_OPTIONS", "map", "(empty)", "Backend options, e.g. pool_size=16,response_timeout=2s (or a JSON object / TOML table). Each backend documents its own; unknown names are errors.";
    "CACHE_SOURCE_CHECK", "bool", "false", "Include a hash of a memoized function's source in its cache keys, so editing the function invalidates its entries.";
    "CACHE_REDIS_URL", "URL", "(none)", "redis://[user:password@]host:port/db, rediss:// for TLS, unix:///path.sock. Wins over HOST/PORT/PASSWORD/DB.";
    "CACHE_REDIS_HOST", "host", "localhost", "Redis host when no URL is given.";
    "CACHE_REDIS_PORT", "port", "6379", "Redis port when no URL is given.";
    "CACHE_REDIS_USERNAME", "string", "(none)", "Redis ACL user name.";
    "CACHE_REDIS_PASSWORD", "string", "(none)", "Redis password.";
    "CACHE_REDIS_DB", "integer", "0", "Redis database index.";
    "CACHE_REDIS_SENTINELS", "list of host:port", "(none)", "Sentinels of RedisSentinelCache.";
    "CACHE_REDIS_SENTINEL_MASTER", "string", "mymaster", "Name of the master the sentinels monitor.";
    "CACHE_REDIS_SENTINEL_PASSWORD", "string", "(none)", "Password of the sentinels themselves (requirepass in sentinel.conf).";
    "CACHE_REDIS_CLUSTER", "list of host:port", "(none)", "Seed nodes of RedisClusterCache.";
    "CACHE_MEMCACHED_SERVERS", "list of host:port", "127.0.0.1:11211", "Memcached servers; keys are spread over them by consistent hashing.";
    "CACHE_MEMCACHED_USERNAME", "string", "(none)", "SASL user name for memcached.";
    "CACHE_MEMCACHED_PASSWORD", "string", "(none)", "SASL password for memcached.";
}

/// A value of a configuration key before it is checked: what a map, the environment, JSON or TOML
/// can hold.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum ConfigValue {
    /// `true` / `false`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A floating-point number.
    Float(f64),
    /// Text; parsed according to the key.
    Str(String),
    /// A list (sentinels, cluster nodes, servers, args).
    List(Vec<ConfigValue>),
    /// A map (CACHE_OPTIONS).
    Map(BTreeMap<String, ConfigValue>),
}

impl fmt::Display for ConfigValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigValue::Bool(b) => write!(f, "{b}"),
            ConfigValue::Int(i) => write!(f, "{i}"),
            ConfigValue::Float(x) => write!(f, "{x}"),
            ConfigValue::Str(s) => f.write_str(s),
            ConfigValue::List(items) => {
                let parts: Vec<String> = items.iter().map(|v| v.to_string()).collect();
                write!(f, "[{}]", parts.join(", "))
            }
            ConfigValue::Map(map) => {
                let parts: Vec<String> = map.iter().map(|(k, v)| format!("{k}={v}")).collect();
                write!(f, "{{{}}}", parts.join(", "))
            }
        }
    }
}

macro_rules! config_value_from {
    ($($ty:ty => $variant:ident($conv:expr)),* $(,)?) => {
        $(impl From<$ty> for ConfigValue {
            fn from(v: $ty) -> Self { ConfigValue::$variant($conv(v)) }
        })*
    };
}

config_value_from! {
    &str => Str(str::to_owned),
    String => Str(std::convert::identity),
    &String => Str(String::clone),
    bool => Bool(std::convert::identity),
    i64 => Int(std::convert::identity),
    i32 => Int(i64::from),
    u32 => Int(i64::from),
    u16 => Int(i64::from),
    f64 => Float(std::convert::identity),
}

impl From<Vec<&str>> for ConfigValue {
    fn from(v: Vec<&str>) -> Self {
        ConfigValue::List(v.into_iter().map(ConfigValue::from).collect())
    }
}

/// Backend options (`CACHE_OPTIONS`): names to values, read with typed getters whose errors name
/// `CACHE_OPTIONS.<name>`.
///
/// ```
/// use std::time::Duration;
/// use cachette_core::Config;
///
/// let config = Config::from_map([("CACHE_OPTIONS", "pool_size=16, response_timeout=750ms")])?;
/// let options = &config.options;
/// options.reject_unknown("RedisCache", &["pool_size", "response_timeout", "connect_timeout"])?;
/// assert_eq!(options.get_u64("pool_size")?, Some(16));
/// assert_eq!(options.get_duration("response_timeout")?, Some(Duration::from_millis(750)));
/// assert_eq!(options.get_duration("connect_timeout")?, None);
/// # Ok::<(), cachette_core::CacheError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options(BTreeMap<String, String>);

impl Options {
    /// The raw text of an option.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// Sets an option.
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.0.insert(name.into(), value.into());
    }

    /// Every option, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// True if no option is set.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// An error for the first option whose name is neither in `known` nor one of the options the
    /// [`Cache`](crate::Cache) facade reads for every backend ([`FAIL_SAFE_OPTIONS`]), naming the
    /// nearest valid one.
    pub fn reject_unknown(&self, backend: &str, known: &[&str]) -> Result<()> {
        for (name, value) in &self.0 {
            if !known.contains(&name.as_str()) && !FAIL_SAFE_OPTIONS.contains(&name.as_str()) {
                let valid = || known.iter().chain(FAIL_SAFE_OPTIONS).copied();
                let hint = did_you_mean(name, valid());
                let own = if known.is_empty() { "none of its own".to_owned() } else { known.join(", ") };
                return Err(CacheError::config(
                    format!("CACHE_OPTIONS.{name}"),
                    value,
                    format!(
                        "{backend} has no option {name:?}.{hint} Its options: {own}; every backend's: {}.",
                        FAIL_SAFE_OPTIONS.join(", ")
                    ),
                ));
            }
        }
        Ok(())
    }

    fn parsed<T>(&self, name: &str, what: &str, parse: impl FnOnce(&str) -> Option<T>) -> Result<Option<T>> {
        match self.0.get(name) {
            None => Ok(None),
            Some(raw) => parse(raw.trim())
                .map(Some)
                .ok_or_else(|| CacheError::config(format!("CACHE_OPTIONS.{name}"), raw, format!("expected {what}"))),
        }
    }

    /// An unsigned integer option.
    pub fn get_u64(&self, name: &str) -> Result<Option<u64>> {
        self.parsed(name, "a non-negative integer", |s| s.parse().ok())
    }

    /// A boolean option (true/false, yes/no, on/off, 1/0).
    pub fn get_bool(&self, name: &str) -> Result<Option<bool>> {
        self.parsed(name, "true or false", parse_bool)
    }

    /// A duration option: `500ms`, `2s`, `5m`, `1h30m`, `1d`; a bare number is seconds (see
    /// [`parse_duration`]).
    pub fn get_duration(&self, name: &str) -> Result<Option<Duration>> {
        self.parsed(name, "a duration such as 500ms, 2s, 5m, 1h30m (a bare number is seconds)", parse_duration)
    }

    /// A duration option that must be more than zero: a timeout or deadline (zero would fail every
    /// operation at once).
    pub fn get_positive_duration(&self, name: &str) -> Result<Option<Duration>> {
        self.parsed(name, "a duration above zero such as 500ms, 2s, 5m (a timeout of 0 would fail every call)", |s| {
            parse_duration(s).filter(|d| !d.is_zero())
        })
    }
}

/// Parses a duration: a bare number of seconds (`300`, `2.5`), or units as jiff's friendly
/// format reads them, compound ones included: `500ms`, `90s`, `1.5s`, `5m`, `1h30m`, `1h 30m`,
/// `2 days`, `1d`, `1w` (days and weeks are 24 h and 7 × 24 h; months and years, whose length
/// varies, are refused). Negative durations are refused.
///
/// ```
/// use std::time::Duration;
/// use cachette_core::config::parse_duration;
///
/// assert_eq!(parse_duration("1h30m"), Some(Duration::from_secs(5400)));
/// assert_eq!(parse_duration("300"), Some(Duration::from_secs(300)));
/// assert_eq!(parse_duration("-5s"), None);
/// ```
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    if let Ok(seconds) = text.parse::<f64>() {
        return Duration::try_from_secs_f64(seconds).ok();
    }
    let span: jiff::Span = text.parse().ok()?;
    let signed = span.to_duration(jiff::SpanRelativeTo::days_are_24_hours()).ok()?;
    Duration::try_from(signed).ok()
}

fn parse_bool(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" | "" => Some(false),
        _ => None,
    }
}

/// The cache configuration: Flask-Caching's `CACHE_*` keys.
///
/// Build it from a map, the process environment or serde (TOML, JSON), or start from
/// [`Config::default`] (SimpleCache, 300 s) and change fields. Every source goes through the same
/// checks: an unknown `CACHE_*` key or a malformed value is a [`CacheError::Config`] naming the key,
/// the value and the nearest valid choice. Passwords are redacted from `Debug` output.
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
    /// `CACHE_OPTIONS` (`deadline`, `clear_deadline`, `breaker_failures`, `breaker_cooldown`).
    pub fail_safe: FailSafePolicy,
    /// `CACHE_SOURCE_CHECK`.
    pub source_check: bool,
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
        }
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn redact(p: &Option<String>) -> Option<&'static str> {
            p.as_ref().map(|_| "<redacted>")
        }
        f.debug_struct("Config")
            .field("cache_type", &self.cache_type)
            .field("default_timeout", &self.default_timeout)
            .field("key_prefix", &self.key_prefix)
            .field("threshold", &self.threshold)
            .field("dir", &self.dir)
            .field("ignore_errors", &self.ignore_errors)
            .field("no_null_warning", &self.no_null_warning)
            .field("args", &self.args)
            .field("options", &self.options)
            .field("fail_safe", &self.fail_safe)
            .field("source_check", &self.source_check)
            .field("redis_url", &self.redis_url.as_deref().map(redact_url))
            .field("redis_host", &self.redis_host)
            .field("redis_port", &self.redis_port)
            .field("redis_username", &self.redis_username)
            .field("redis_password", &redact(&self.redis_password))
            .field("redis_db", &self.redis_db)
            .field("redis_sentinels", &self.redis_sentinels)
            .field("redis_sentinel_master", &self.redis_sentinel_master)
            .field("redis_sentinel_password", &redact(&self.redis_sentinel_password))
            .field("redis_cluster", &self.redis_cluster)
            .field("memcached_servers", &self.memcached_servers)
            .field("memcached_username", &self.memcached_username)
            .field("memcached_password", &redact(&self.memcached_password))
            .finish()
    }
}

/// `redis://user:secret@host/` -> `redis://user:<redacted>@host/`, for logs and errors.
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else { return url.to_owned() };
    let rest = &url[scheme_end..];
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        None => url.to_owned(),
        Some(at) => {
            let userinfo = &rest[..at];
            let user = userinfo.split(':').next().unwrap_or("");
            let shown = if userinfo.contains(':') { format!("{user}:<redacted>") } else { "<redacted>".to_owned() };
            format!("{}{}{}", &url[..scheme_end], shown, &rest[at..])
        }
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
            "CACHE_REDIS_URL" => self.redis_url = optional(text(&value).map_err(bad)?),
            "CACHE_REDIS_HOST" => self.redis_host = optional(text(&value).map_err(bad)?),
            "CACHE_REDIS_PORT" => self.redis_port = Some(integer(&value, u16::MAX.into()).map_err(bad)?),
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

/// ` did you mean CACHE_X?`, or the list of known keys when none is near.
fn unknown_key_hint(name: &str) -> String {
    let hint = did_you_mean(name, KEYS.iter().map(|k| k.name));
    if hint.is_empty() {
        format!(" Known keys: {}.", KEYS.iter().map(|k| k.name).collect::<Vec<_>>().join(", "))
    } else {
        hint.replace("Did", "did")
    }
}

/// Whether an environment variable is one of the service links Kubernetes injects for a Service
/// whose name starts with `cache` (`CACHE_PORT=tcp://10.0.0.5:6379`, `CACHE_SERVICE_HOST=10.0.0.5`,
/// `CACHE_SERVICE_PORT_REDIS=6379`, `CACHE_PORT_6379_TCP_ADDR=10.0.0.5`, ...).
fn is_service_link(name: &str, value: &str) -> bool {
    let value = value.trim();
    let is_url = ["tcp://", "udp://", "sctp://"].iter().any(|scheme| value.starts_with(scheme));
    let has_port_suffix = name.split("_PORT_").nth(1).is_some_and(|rest| {
        let mut parts = rest.split('_');
        parts.next().is_some_and(|port| !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()))
            && parts.next().is_some_and(|proto| matches!(proto, "TCP" | "UDP" | "SCTP"))
    });
    (name.ends_with("_PORT") && is_url)
        || name.ends_with("_SERVICE_HOST")
        || name.contains("_SERVICE_PORT")
        || has_port_suffix
}

/// Maps old lowercase names and Flask-Caching import paths to type names, with a warning.
fn normalize_type_name(name: &str) -> String {
    let name = name.trim();
    let last = name.rsplit('.').next().unwrap_or(name);
    if (name.starts_with("flask_caching.") || name.starts_with("cachelib.")) && !last.is_empty() {
        tracing::warn!(
            "CACHE_TYPE={name:?} is a Python import path; using {last:?}. Write CACHE_TYPE={last} to silence this warning."
        );
        return normalize_type_name(last);
    }
    for backend in BUILTIN_BACKENDS {
        if backend.old_names.contains(&name) {
            tracing::warn!(
                "CACHE_TYPE={name:?} is deprecated; use CACHE_TYPE={} (the old lowercase names will be removed)",
                backend.type_name
            );
            return backend.type_name.to_owned();
        }
    }
    name.to_owned()
}

fn text(value: &ConfigValue) -> std::result::Result<String, String> {
    match value {
        ConfigValue::Str(s) => Ok(s.clone()),
        ConfigValue::Int(_) | ConfigValue::Float(_) | ConfigValue::Bool(_) => Ok(value.to_string()),
        _ => Err("expected a single text value".to_owned()),
    }
}

fn optional(text: String) -> Option<String> {
    if text.trim().is_empty() { None } else { Some(text) }
}

fn integer<T: TryFrom<u64>>(value: &ConfigValue, max: u64) -> std::result::Result<T, String> {
    let range = || format!("expected an integer from 0 to {max}");
    let n: u64 = match value {
        ConfigValue::Int(i) => u64::try_from(*i).map_err(|_| range())?,
        ConfigValue::Str(s) => s.trim().parse().map_err(|_| range())?,
        _ => return Err(range()),
    };
    if n > max {
        return Err(range());
    }
    T::try_from(n).map_err(|_| range())
}

fn boolean(value: &ConfigValue) -> std::result::Result<bool, String> {
    match value {
        ConfigValue::Bool(b) => Ok(*b),
        ConfigValue::Int(0) => Ok(false),
        ConfigValue::Int(1) => Ok(true),
        ConfigValue::Str(s) => {
            parse_bool(s).ok_or_else(|| "expected true or false (also yes/no, on/off, 1/0)".to_owned())
        }
        _ => Err("expected true or false".to_owned()),
    }
}

fn timeout(value: &ConfigValue) -> std::result::Result<Expiry, String> {
    let expected = "expected seconds (0 = never expire) or a duration such as 90s, 5m, 1h";
    let duration = match value {
        ConfigValue::Int(i) if *i >= 0 => Duration::from_secs(*i as u64),
        ConfigValue::Float(x) => Duration::try_from_secs_f64(*x).map_err(|_| expected.to_owned())?,
        ConfigValue::Str(s) => parse_duration(s).ok_or_else(|| expected.to_owned())?,
        _ => return Err(expected.to_owned()),
    };
    Ok(if duration.is_zero() { Expiry::Never } else { Expiry::After(duration) })
}

fn list(value: &ConfigValue) -> std::result::Result<Vec<String>, String> {
    match value {
        ConfigValue::List(items) => items.iter().map(text).collect(),
        ConfigValue::Str(s) if s.trim_start().starts_with('[') => {
            let items: Vec<ConfigValue> =
                serde_json::from_str(s).map_err(|e| format!("looks like a JSON array but does not parse: {e}"))?;
            items.iter().map(text).collect()
        }
        ConfigValue::Str(s) => Ok(s.split(',').map(str::trim).filter(|p| !p.is_empty()).map(str::to_owned).collect()),
        _ => Err("expected a list: comma-separated text or an array".to_owned()),
    }
}

fn options(value: &ConfigValue) -> std::result::Result<Options, String> {
    let mut out = Options::default();
    match value {
        ConfigValue::Map(map) => {
            for (k, v) in map {
                out.insert(k.clone(), text(v).map_err(|_| format!("option {k:?}: expected a single value"))?);
            }
        }
        ConfigValue::Str(s) if s.trim_start().starts_with('{') => {
            let map: BTreeMap<String, ConfigValue> =
                serde_json::from_str(s).map_err(|e| format!("looks like a JSON object but does not parse: {e}"))?;
            return options(&ConfigValue::Map(map));
        }
        ConfigValue::Str(s) => {
            for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                let (k, v) = part.split_once('=').ok_or_else(|| {
                    format!("option {part:?} is not name=value (write e.g. pool_size=16,response_timeout=2s)")
                })?;
                out.insert(k.trim(), v.trim());
            }
        }
        _ => return Err("expected name=value pairs, a JSON object or a table".to_owned()),
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsString;

    #[test]
    fn defaults_match_flask_caching() {
        let c = Config::default();
        assert_eq!(c.cache_type, "SimpleCache");
        assert_eq!(c.default_timeout, Expiry::After(Duration::from_secs(300)));
        assert_eq!(c.threshold, 500);
        assert!(!c.ignore_errors);
    }

    #[test]
    fn every_key_is_settable() {
        for key in KEYS {
            let value: ConfigValue = match key.name {
                "CACHE_DEFAULT_TIMEOUT" | "CACHE_THRESHOLD" | "CACHE_REDIS_PORT" | "CACHE_REDIS_DB" => "1".into(),
                "CACHE_IGNORE_ERRORS" | "CACHE_NO_NULL_WARNING" | "CACHE_SOURCE_CHECK" => "true".into(),
                "CACHE_OPTIONS" => "a=1".into(),
                _ => "x".into(),
            };
            Config::default().set(key.name, value).unwrap_or_else(|e| panic!("{}: {e}", key.name));
        }
    }

    #[test]
    fn from_map_parses_every_kind() {
        let c = Config::from_map([
            ("CACHE_TYPE", "RedisSentinelCache"),
            ("CACHE_DEFAULT_TIMEOUT", "0"),
            ("CACHE_THRESHOLD", "42"),
            ("CACHE_IGNORE_ERRORS", "yes"),
            ("CACHE_REDIS_SENTINELS", "127.0.0.1:26379, 127.0.0.1:26380"),
            ("CACHE_REDIS_PORT", "6380"),
            ("CACHE_REDIS_DB", "3"),
            ("CACHE_ARGS", r#"["a", "b"]"#),
            ("CACHE_OPTIONS", r#"{"pool_size": 4, "tls": true}"#),
            ("CACHE_DIR", "/tmp/x"),
        ])
        .unwrap();
        assert_eq!(c.cache_type, "RedisSentinelCache");
        assert_eq!(c.default_timeout, Expiry::Never);
        assert_eq!(c.threshold, 42);
        assert!(c.ignore_errors);
        assert_eq!(c.redis_sentinels, vec!["127.0.0.1:26379", "127.0.0.1:26380"]);
        assert_eq!(c.redis_port, Some(6380));
        assert_eq!(c.redis_db, Some(3));
        assert_eq!(c.args, vec!["a", "b"]);
        assert_eq!(c.options.get("pool_size"), Some("4"));
        assert_eq!(c.options.get_bool("tls").unwrap(), Some(true));
        assert_eq!(c.dir, Some(PathBuf::from("/tmp/x")));
    }

    #[test]
    fn durations() {
        let c = Config::from_map([("CACHE_DEFAULT_TIMEOUT", "5m")]).unwrap();
        assert_eq!(c.default_timeout, Expiry::After(Duration::from_secs(300)));
        assert_eq!(parse_duration("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("2d"), Some(Duration::from_secs(172800)));
        assert_eq!(parse_duration("10"), Some(Duration::from_secs(10)));
        assert_eq!(parse_duration("ten"), None);
        assert_eq!(parse_duration("5 fortnights"), None);
    }

    #[test]
    fn old_names_and_import_paths_map_to_type_names() {
        for (old, new) in [
            ("simple", "SimpleCache"),
            ("redis", "RedisCache"),
            ("filesystem", "FileSystemCache"),
            ("saslmemcached", "SASLMemcachedCache"),
            ("flask_caching.backends.SimpleCache", "SimpleCache"),
            ("flask_caching.backends.rediscache.RedisCache", "RedisCache"),
            ("MyOwnCache", "MyOwnCache"),
        ] {
            assert_eq!(Config::from_map([("CACHE_TYPE", old)]).unwrap().cache_type, new);
        }
    }

    #[test]
    fn errors_name_key_value_and_nearest_choice() {
        let e = Config::from_map([("CACHE_DEFAULT_TIMOUT", "5")]).unwrap_err().to_string();
        assert!(e.contains("CACHE_DEFAULT_TIMOUT") && e.contains("did you mean"), "{e}");
        let e = Config::from_map([("CACHE_THRESHOLD", "lots")]).unwrap_err();
        match e {
            CacheError::Config { key, value, message } => {
                assert_eq!(key, "CACHE_THRESHOLD");
                assert_eq!(value, "lots");
                assert!(message.contains("integer"));
            }
            other => panic!("{other:?}"),
        }
        let e = Config::from_map([("CACHE_REDIS_PORT", "99999")]).unwrap_err().to_string();
        assert!(e.contains("CACHE_REDIS_PORT") && e.contains("99999"), "{e}");
        let e = Config::from_map([("CACHE_IGNORE_ERRORS", "maybe")]).unwrap_err().to_string();
        assert!(e.contains("true or false"), "{e}");
        let e = Config::from_map([("CACHE_OPTIONS", "pool_size")]).unwrap_err().to_string();
        assert!(e.contains("name=value"), "{e}");
        let e = Config::from_map([("CACHE_DEFAULT_TIMEOUT", "-3")]).unwrap_err().to_string();
        assert!(e.contains("CACHE_DEFAULT_TIMEOUT"), "{e}");
    }

    #[test]
    fn unknown_option_names_nearest() {
        let c = Config::from_map([("CACHE_OPTIONS", "pool_sise=3")]).unwrap();
        let e = c.options.reject_unknown("RedisCache", &["pool_size", "response_timeout"]).unwrap_err().to_string();
        assert!(e.contains("CACHE_OPTIONS.pool_sise") && e.contains("Did you mean pool_size?"), "{e}");
        let c = Config::from_map([("CACHE_OPTIONS", "pool_size=many")]).unwrap();
        assert!(c.options.get_u64("pool_size").is_err());
    }

    #[test]
    fn env_reads_only_cache_variables() {
        let vars = [("PATH", "/bin"), ("CACHE_TYPE", "null"), ("CACHE_KEY_PREFIX", "app:")]
            .map(|(k, v)| (OsString::from(k), OsString::from(v)));
        let c = Config::from_env_vars(vars).unwrap();
        assert_eq!(c.cache_type, "NullCache");
        assert_eq!(c.key_prefix, "app:");
    }

    fn env(vars: &[(&str, &str)]) -> Result<Config> {
        Config::from_env_vars(vars.iter().map(|(k, v)| (OsString::from(k), OsString::from(v))))
    }

    #[test]
    fn an_unknown_variable_in_the_environment_is_a_warning_but_an_error_in_a_map() {
        let (config, logged) = crate::test_log::capture(|| env(&[("CACHE_DEFAULT_TIMOUT", "60")]));
        assert_eq!(config.unwrap().default_timeout, Expiry::After(crate::DEFAULT_TIMEOUT));
        assert!(logged.contains("WARN") && logged.contains("CACHE_DEFAULT_TIMOUT"), "{logged}");
        assert!(logged.contains("did you mean CACHE_DEFAULT_TIMEOUT?"), "{logged}");
        assert!(Config::from_map([("CACHE_DEFAULT_TIMOUT", "60")]).is_err());
    }

    #[test]
    fn kubernetes_service_links_in_the_environment_are_skipped() {
        let links = [
            ("CACHE_PORT", "tcp://10.0.0.5:6379"),
            ("CACHE_PORT_6379_TCP", "tcp://10.0.0.5:6379"),
            ("CACHE_PORT_6379_TCP_ADDR", "10.0.0.5"),
            ("CACHE_PORT_6379_TCP_PORT", "6379"),
            ("CACHE_PORT_6379_TCP_PROTO", "tcp"),
            ("CACHE_SERVICE_HOST", "10.0.0.5"),
            ("CACHE_SERVICE_PORT", "6379"),
            ("CACHE_SERVICE_PORT_REDIS", "6379"),
            // a Service named cache-redis: its link collides with a key
            ("CACHE_REDIS_PORT", "tcp://10.0.0.6:6379"),
            ("CACHE_TYPE", "RedisCache"),
        ];
        let (config, logged) = crate::test_log::capture(|| env(&links));
        let config = config.unwrap();
        assert_eq!((config.cache_type.as_str(), config.redis_port), ("RedisCache", None));
        assert!(!logged.contains("WARN"), "service links are not warnings: {logged}");
        // A malformed value of a known key is still an error, from the environment too.
        assert!(env(&[("CACHE_REDIS_PORT", "sixty")]).is_err());
    }

    #[test]
    fn durations_may_be_compound() {
        let c = Config::from_map([("CACHE_DEFAULT_TIMEOUT", "1h30m")]).unwrap();
        assert_eq!(c.default_timeout, Expiry::After(Duration::from_secs(5400)));
        assert_eq!(parse_duration("1h 30m 15s"), Some(Duration::from_secs(5415)));
        assert_eq!(parse_duration("1w"), Some(Duration::from_secs(7 * 86400)));
        assert_eq!(parse_duration("1 month"), None, "months have no fixed length");
        assert_eq!(parse_duration("-1s"), None);
    }

    #[test]
    fn serde_toml_and_json() {
        let c: Config = toml::from_str(
            r#"
            CACHE_TYPE = "RedisClusterCache"
            CACHE_REDIS_CLUSTER = ["127.0.0.1:7000", "127.0.0.1:7001"]
            CACHE_DEFAULT_TIMEOUT = 60
            CACHE_IGNORE_ERRORS = true
            CACHE_OPTIONS = { pool_size = 8, response_timeout = "2s" }
            "#,
        )
        .unwrap();
        assert_eq!(c.redis_cluster.len(), 2);
        assert_eq!(c.default_timeout, Expiry::After(Duration::from_secs(60)));
        assert!(c.ignore_errors);
        assert_eq!(c.options.get_duration("response_timeout").unwrap(), Some(Duration::from_secs(2)));
        let c: Config = serde_json::from_str(r#"{"cache_type": "simple", "CACHE_THRESHOLD": 7}"#).unwrap();
        assert_eq!((c.cache_type.as_str(), c.threshold), ("SimpleCache", 7));
        let e = toml::from_str::<Config>("CACHE_THRESHHOLD = 3").unwrap_err().to_string();
        assert!(e.contains("CACHE_THRESHOLD"), "{e}");
    }

    #[test]
    fn debug_redacts_passwords() {
        let c = Config::from_map([
            ("CACHE_REDIS_PASSWORD", "hunter2"),
            ("CACHE_REDIS_URL", "redis://app:hunter2@host:6379/0"),
            ("CACHE_MEMCACHED_PASSWORD", "hunter2"),
        ])
        .unwrap();
        let shown = format!("{c:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("redis://app:<redacted>@host:6379/0"), "{shown}");
    }
}
