//! Reading and checking a [`Config`] for `UWSGICache`: `CACHE_UWSGI_NAME` and `CACHE_OPTIONS`.

use std::time::Duration;

use cachette_core::{CacheError, Config, Result};

use crate::TYPE_NAME;

/// The `CACHE_OPTIONS` names this backend understands.
pub(crate) const OPTIONS: &[&str] = &["connect_timeout", "response_timeout", "concurrency", "max_key_size", "stats"];

/// Default time to open a connection.
pub(crate) const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// Default time for one exchange (write the request, read the answer until the server closes).
pub(crate) const DEFAULT_RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);
/// Default connections at once for `get_many`, `set_many` and `delete_many`.
pub(crate) const DEFAULT_CONCURRENCY: usize = 8;
/// uWSGI's default `keysize` of a cache (`--cache2 ...,keysize=2048`).
pub(crate) const DEFAULT_MAX_KEY_SIZE: usize = 2048;

/// The form `CACHE_UWSGI_NAME` takes, for messages.
const FORM: &str = "cache@host:port (the name of a --cache2 cache and the address of the uWSGI server's \
                    --socket, e.g. mycache@127.0.0.1:3031; @host:port for the server's first cache)";

/// Everything a cache needs from the config, checked.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// The cache's name on the server; empty for the server's first cache.
    pub cache: String,
    /// `host:port` of the server's uwsgi socket.
    pub address: String,
    pub connect_timeout: Duration,
    pub response_timeout: Duration,
    pub concurrency: usize,
    pub max_key_size: usize,
    /// The address of the server's stats server (`--stats`), for `cachectl stats`: `host:port`,
    /// or the path of a unix socket.
    pub stats: Option<String>,
}

impl Settings {
    pub(crate) fn from_config(config: &Config) -> Result<Settings> {
        let options = &config.options;
        options.reject_unknown(TYPE_NAME, OPTIONS)?;
        let (cache, address) = parse_name(config.uwsgi_name.as_deref())?;
        let duration = |name: &str, default: Duration| -> Result<Duration> {
            Ok(options.get_positive_duration(name)?.unwrap_or(default))
        };
        let bounded = |name: &str, default: usize, max: u64, what: &str| -> Result<usize> {
            match options.get_u64(name)? {
                None => Ok(default),
                Some(n) if (1..=max).contains(&n) => Ok(n as usize),
                Some(n) => Err(CacheError::config(format!("CACHE_OPTIONS.{name}"), n.to_string(), what.to_owned())),
            }
        };
        Ok(Settings {
            cache,
            address,
            connect_timeout: duration("connect_timeout", DEFAULT_CONNECT_TIMEOUT)?,
            response_timeout: duration("response_timeout", DEFAULT_RESPONSE_TIMEOUT)?,
            concurrency: bounded("concurrency", DEFAULT_CONCURRENCY, 256, "expected 1 to 256 connections at once")?,
            max_key_size: bounded(
                "max_key_size",
                DEFAULT_MAX_KEY_SIZE,
                // The key and the other vars share the packet's 64 KiB.
                60_000,
                "expected 1 to 60000 bytes (the keysize of the server's --cache2)",
            )?,
            stats: options.get("stats").map(parse_stats).transpose()?,
        })
    }
}

/// `CACHE_OPTIONS.stats`: `host:port` or the absolute path of a unix socket, as uWSGI's `--stats`
/// takes them.
fn parse_stats(value: &str) -> Result<String> {
    let value = value.trim();
    if value.starts_with('/') || has_port(value) {
        return Ok(value.to_owned());
    }
    Err(CacheError::config(
        "CACHE_OPTIONS.stats",
        value,
        "expected the address of the uWSGI server's --stats: host:port (e.g. 127.0.0.1:9191) or the path of its unix \
         socket; it is read by cachectl stats for the cache's items, hits and misses",
    ))
}

/// Whether `address` is `host:port` with a port from 1 to 65535.
fn has_port(address: &str) -> bool {
    matches!(address.rsplit_once(':'), Some((host, port)) if !host.is_empty() && !host.contains('@')
        && port.parse::<u16>().is_ok_and(|p| p > 0))
}

/// `cache@host:port` into the cache name and the address.
fn parse_name(name: Option<&str>) -> Result<(String, String)> {
    let bad = |value: &str, message: String| CacheError::config("CACHE_UWSGI_NAME", value, message);
    let Some(value) = name.map(str::trim).filter(|v| !v.is_empty()) else {
        return Err(bad("", format!("UWSGICache needs the cache to use: set CACHE_UWSGI_NAME={FORM}")));
    };
    // uWSGI splits at the first @ (strchr), and so do we.
    let Some((cache, address)) = value.split_once('@') else {
        return Err(bad(
            value,
            format!(
                "a name without @host:port means \"this uWSGI process\" to Flask-Caching, and a Rust service \
                 does not run inside uWSGI: write {FORM}"
            ),
        ));
    };
    if !has_port(address) {
        return Err(bad(value, format!("{address:?} is not host:port with a port from 1 to 65535: write {FORM}")));
    }
    Ok((cache.to_owned(), address.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Result<Settings> {
        Settings::from_config(&Config::from_map(pairs.iter().copied())?)
    }

    #[test]
    fn the_name_is_split_into_cache_and_address() {
        let s = settings(&[("CACHE_UWSGI_NAME", "mycache@127.0.0.1:3031")]).unwrap();
        assert_eq!((s.cache.as_str(), s.address.as_str()), ("mycache", "127.0.0.1:3031"));
        let s = settings(&[("CACHE_UWSGI_NAME", "@[::1]:3031")]).unwrap();
        assert_eq!((s.cache.as_str(), s.address.as_str()), ("", "[::1]:3031"));
        assert_eq!(s.concurrency, DEFAULT_CONCURRENCY);
        assert_eq!(s.max_key_size, DEFAULT_MAX_KEY_SIZE);
    }

    #[test]
    fn a_missing_name_says_what_to_set() {
        let err = settings(&[]).unwrap_err().to_string();
        assert!(err.contains("CACHE_UWSGI_NAME") && err.contains("cache@host:port"), "{err}");
    }

    #[test]
    fn a_name_without_an_address_is_an_error_naming_the_form() {
        let err = settings(&[("CACHE_UWSGI_NAME", "mycache")]).unwrap_err().to_string();
        assert!(err.contains("CACHE_UWSGI_NAME") && err.contains("this uWSGI process"), "{err}");
        assert!(err.contains("cache@host:port"), "{err}");
    }

    #[test]
    fn a_bad_address_is_an_error() {
        for name in ["c@host", "c@:3031", "c@host:0", "c@host:99999", "c@host:port"] {
            let err = settings(&[("CACHE_UWSGI_NAME", name)]).unwrap_err().to_string();
            assert!(err.contains("CACHE_UWSGI_NAME") && err.contains("host:port"), "{name}: {err}");
        }
    }

    #[test]
    fn options_are_checked() {
        let name = ("CACHE_UWSGI_NAME", "c@127.0.0.1:1");
        let s = settings(&[name, ("CACHE_OPTIONS", "response_timeout=5s,concurrency=2,max_key_size=250")]).unwrap();
        assert_eq!((s.response_timeout, s.concurrency, s.max_key_size), (Duration::from_secs(5), 2, 250));
        let err = settings(&[name, ("CACHE_OPTIONS", "concurrency=0")]).unwrap_err().to_string();
        assert!(err.contains("CACHE_OPTIONS.concurrency"), "{err}");
        let err = settings(&[name, ("CACHE_OPTIONS", "pool_size=3")]).unwrap_err().to_string();
        assert!(err.contains("pool_size"), "{err}");
    }

    #[test]
    fn the_stats_address_is_host_and_port_or_a_socket_path() {
        let name = ("CACHE_UWSGI_NAME", "c@127.0.0.1:1");
        let s = settings(&[name, ("CACHE_OPTIONS", "stats=127.0.0.1:9191")]).unwrap();
        assert_eq!(s.stats.as_deref(), Some("127.0.0.1:9191"));
        let s = settings(&[name, ("CACHE_OPTIONS", "stats=/run/uwsgi/stats.sock")]).unwrap();
        assert_eq!(s.stats.as_deref(), Some("/run/uwsgi/stats.sock"));
        assert_eq!(settings(&[name]).unwrap().stats, None);
        for bad in ["9191", "host:", "host:0", "stats.sock"] {
            let err = settings(&[name, ("CACHE_OPTIONS", &format!("stats={bad}"))]).unwrap_err().to_string();
            assert!(err.contains("CACHE_OPTIONS.stats") && err.contains("--stats"), "{bad}: {err}");
        }
    }
}
