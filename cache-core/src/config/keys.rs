//! What [`Config`](super::Config) knows of keys and backends: every `CACHE_*` key, the built-in
//! backends and their old names, and the environment variables that look like keys but are not.

use crate::suggest::did_you_mean;

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
    BuiltinBackend { type_name: "UWSGICache", old_names: &["uwsgi"], feature: "uwsgi" },
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
        /// Every key [`Config`](super::Config) understands (the README's configuration table is this list).
        pub const KEYS: &[KeyInfo] = &[$(KeyInfo { name: $name, kind: $kind, default: $default, doc: $doc }),*];
    };
}

keys! {
    "CACHE_TYPE", "backend name", "SimpleCache", "Which backend: NullCache, SimpleCache, FileSystemCache, RedisCache, RedisSentinelCache, RedisClusterCache, MemcachedCache, SASLMemcachedCache, SpreadSASLMemcachedCache, UWSGICache, or a name registered by the application. Old lowercase names (simple, redis, ...) work with a deprecation warning.";
    "CACHE_DEFAULT_TIMEOUT", "seconds or duration", "300", "Lifetime of entries written with Ttl::Default. 0 means never expire. Accepts 300, 90s, 5m, 1h, 1d.";
    "CACHE_KEY_PREFIX", "string", "(empty)", "Prefix of every key this cache writes; clear() removes only keys under it.";
    "CACHE_THRESHOLD", "integer", "500", "Most entries kept by SimpleCache and FileSystemCache before pruning (0: no bound).";
    "CACHE_DIR", "path", "(none)", "Directory of FileSystemCache (created with mode 0700 if missing).";
    "CACHE_IGNORE_ERRORS", "bool", "false", "Treat backend failures (server down, timeouts, undecodable entries) as misses, logged with tracing, so a cache outage never takes the site down.";
    "CACHE_NO_NULL_WARNING", "bool", "false", "Silence the warning NullCache logs when it is created.";
    "CACHE_ARGS", "list", "(empty)", "Positional arguments for a backend's factory (comma-separated or a JSON array).";
    "CACHE_OPTIONS", "map", "(empty)", "Backend options, e.g. pool_size=16,response_timeout=2s (or a JSON object / TOML table). Each backend documents its own; unknown names are errors.";
    "CACHE_SOURCE_CHECK", "bool", "false", "Include a hash of a memoized function's source in its cache keys, so editing the function invalidates its entries.";
    "CACHE_SERIALIZER", "postcard or json", "postcard", "Form of typed values that are not integers (integers are always decimal text): postcard (compact binary) or json (plain JSON, readable by redis-cli GET and other languages). Every form is read whatever this says, entries written by older versions (bincode) included.";
    "CACHE_COMPRESSION", "none or zstd", "none", "Compress typed values of CACHE_COMPRESSION_MIN_SIZE bytes or more with zstd (when that makes them smaller). Compressed JSON is no longer plain text.";
    "CACHE_COMPRESSION_MIN_SIZE", "bytes", "1024", "Smallest encoded value CACHE_COMPRESSION compresses.";
    "CACHE_REDIS_URL", "URL", "(none)", "redis://[user:password@]host:port/db, rediss:// for TLS, unix:///path.sock. Wins over HOST/PORT/USERNAME/PASSWORD/DB, which are then ignored with a warning: put them in the URL (a password percent-encoded).";
    "CACHE_REDIS_HOST", "host", "localhost", "Redis host when no URL is given.";
    "CACHE_REDIS_PORT", "port", "6379", "Redis port when no URL is given (1 to 65535).";
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
    "CACHE_UWSGI_NAME", "cache@host:port", "(none)", "UWSGICache: the named cache of a uWSGI server (--cache2 name=...) and the address of its uwsgi socket.";
    "CACHE_L1", "bool", "false", "Put a bounded in-process tier (cachette-tiered's TieredCache) in front of the backend: hits are served from memory, writes go through.";
    "CACHE_L1_THRESHOLD", "integer", "10000", "Most entries kept by the in-process tier (CACHE_L1).";
    "CACHE_L1_TIMEOUT", "seconds or duration", "10", "Longest an entry stays in the in-process tier (never past its expiry in the backend when written by this process): the bound on a stale read when no invalidation reaches this process. 0: no bound but the backend's expiry (only with client tracking or CACHE_L1_BUS_URL).";
    "CACHE_L1_BUS_URL", "URL", "(none)", "redis://... of the Redis server whose pub/sub carries invalidations of the in-process tier between processes, instead of client tracking. Unset: the Redis backends' client tracking (RESP3, broadcast on the prefix) keeps the tier coherent; over other backends CACHE_L1_TIMEOUT alone bounds staleness.";
}

/// ` did you mean CACHE_X?`, or the list of known keys when none is near.
pub(super) fn unknown_key_hint(name: &str) -> String {
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
pub(super) fn is_service_link(name: &str, value: &str) -> bool {
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
pub(super) fn normalize_type_name(name: &str) -> String {
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
