//! The configuration as `stats` shows it: the `CACHE_*` settings that differ from their
//! defaults, each value passed through the library's `redact` (which knows every secret key,
//! secret `CACHE_OPTIONS` entry and URL password), so no secret is shown.

use std::time::UNIX_EPOCH;

use cachette::config::redact;
use cachette::{Config, Expiry};
use serde::Serialize;

/// One setting as shown.
#[derive(Serialize)]
pub(crate) struct Setting {
    pub(crate) key: &'static str,
    pub(crate) value: String,
}

/// `CACHE_TYPE` and `CACHE_KEY_PREFIX` always, every other setting when it is not its default.
pub(crate) fn settings(config: &Config) -> Vec<Setting> {
    let default = Config::default();
    let list = |items: &[String]| items.join(",");
    let opt = |value: &Option<String>| value.clone().unwrap_or_default();
    // `Some(differs)`: shown when it differs from its default; `None`: shown when it holds
    // something (an address, a list, a password).
    let rows: Vec<(&'static str, String, Option<bool>)> = vec![
        ("CACHE_TYPE", config.cache_type.clone(), Some(true)),
        ("CACHE_KEY_PREFIX", format!("{:?}", config.key_prefix), Some(true)),
        (
            "CACHE_DEFAULT_TIMEOUT",
            expiry(config.default_timeout),
            Some(config.default_timeout != default.default_timeout),
        ),
        ("CACHE_THRESHOLD", config.threshold.to_string(), Some(config.threshold != default.threshold)),
        ("CACHE_DIR", config.dir.as_ref().map(|d| d.display().to_string()).unwrap_or_default(), None),
        ("CACHE_IGNORE_ERRORS", config.ignore_errors.to_string(), Some(config.ignore_errors)),
        ("CACHE_ARGS", list(&config.args), None),
        ("CACHE_OPTIONS", config.options.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(","), None),
        ("CACHE_SOURCE_CHECK", config.source_check.to_string(), Some(config.source_check)),
        (
            "CACHE_SERIALIZER",
            format!("{:?}", config.codec.serializer).to_lowercase(),
            Some(config.codec != default.codec),
        ),
        (
            "CACHE_COMPRESSION",
            format!("{:?}", config.codec.compression).to_lowercase(),
            Some(config.codec != default.codec),
        ),
        ("CACHE_REDIS_URL", opt(&config.redis_url), None),
        ("CACHE_REDIS_HOST", opt(&config.redis_host), None),
        ("CACHE_REDIS_PORT", config.redis_port.map(|p| p.to_string()).unwrap_or_default(), None),
        ("CACHE_REDIS_USERNAME", opt(&config.redis_username), None),
        ("CACHE_REDIS_PASSWORD", opt(&config.redis_password), None),
        ("CACHE_REDIS_DB", config.redis_db.map(|d| d.to_string()).unwrap_or_default(), None),
        ("CACHE_REDIS_SENTINELS", list(&config.redis_sentinels), None),
        ("CACHE_REDIS_SENTINEL_MASTER", opt(&config.redis_sentinel_master), None),
        ("CACHE_REDIS_SENTINEL_PASSWORD", opt(&config.redis_sentinel_password), None),
        ("CACHE_REDIS_CLUSTER", list(&config.redis_cluster), None),
        ("CACHE_MEMCACHED_SERVERS", list(&config.memcached_servers), None),
        ("CACHE_MEMCACHED_USERNAME", opt(&config.memcached_username), None),
        ("CACHE_MEMCACHED_PASSWORD", opt(&config.memcached_password), None),
        ("CACHE_UWSGI_NAME", opt(&config.uwsgi_name), None),
        ("CACHE_L1", config.l1.to_string(), Some(config.l1)),
        ("CACHE_L1_BUS_URL", opt(&config.l1_bus_url), None),
    ];
    rows.into_iter()
        .map(|(key, value, differs)| {
            let shown = differs.unwrap_or(!value.is_empty());
            (key, value, shown)
        })
        .filter(|(_, _, shown)| *shown)
        .map(|(key, value, _)| Setting { key, value: redact(key, &value) })
        .collect()
}

/// `300s`, `never`, or an absolute deadline in Unix seconds.
fn expiry(expiry: Expiry) -> String {
    match expiry {
        Expiry::Never => "never".to_owned(),
        Expiry::After(d) => format!("{}s", d.as_secs_f64()),
        Expiry::At(t) => format!("at unix time {}", t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        let config = Config::from_map(pairs.iter().copied()).unwrap();
        settings(&config).into_iter().map(|s| (s.key.to_owned(), s.value)).collect()
    }

    #[test]
    fn only_settings_that_differ_from_their_defaults_are_shown_and_secrets_never() {
        let rows = shown(&[
            ("CACHE_TYPE", "RedisCache"),
            ("CACHE_REDIS_URL", "redis://app:hunter2@10.0.0.5:6379/0"),
            ("CACHE_OPTIONS", "pool_size=4,password=hunter2"),
            ("CACHE_KEY_PREFIX", "app:"),
        ]);
        let text = format!("{rows:?}");
        assert!(!text.contains("hunter2"), "{text}");
        assert_eq!(rows[0], ("CACHE_TYPE".into(), "RedisCache".into()));
        assert_eq!(rows[1], ("CACHE_KEY_PREFIX".into(), "\"app:\"".into()));
        assert!(rows.contains(&("CACHE_REDIS_URL".into(), "redis://app:<redacted>@10.0.0.5:6379/0".into())));
        assert!(rows.contains(&("CACHE_OPTIONS".into(), "password=<redacted>,pool_size=4".into())), "{rows:?}");
        assert_eq!(rows.len(), 4, "defaults are not shown: {rows:?}");
    }
}
