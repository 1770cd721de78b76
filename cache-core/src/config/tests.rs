//! Config's unit tests: parsing every kind of value, the errors, and the redaction of secrets.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use super::*;

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
            "CACHE_L1_THRESHOLD" | "CACHE_L1_TIMEOUT" => "1".into(),
            "CACHE_IGNORE_ERRORS" | "CACHE_NO_NULL_WARNING" | "CACHE_SOURCE_CHECK" | "CACHE_L1" => "true".into(),
            "CACHE_OPTIONS" => "a=1".into(),
            "CACHE_SERIALIZER" => "json".into(),
            "CACHE_COMPRESSION" => "zstd".into(),
            "CACHE_COMPRESSION_MIN_SIZE" => "1".into(),
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

/// A value no message may show.
const SECRET: &str = "S3CR3T-sentinel-value";

fn assert_hidden(what: &str, shown: &str) {
    assert!(!shown.contains(SECRET), "{what} shows the secret: {shown}");
}

fn assert_error_hidden(what: &str, err: &CacheError) {
    assert_hidden(what, &err.to_string());
    assert_hidden(what, &format!("{err:?}"));
}

#[test]
fn a_url_password_holding_slash_at_colon_or_a_query_is_hidden_from_debug_and_errors() {
    let urls = [
        format!("redis://user:pa/{SECRET}@host:6379/0"),
        format!("redis://user:{SECRET}/x@host:6379/0"),
        format!("redis://user:pa@{SECRET}@host:6379/0"),
        format!("redis://user:pa:{SECRET}@host:6379/0"),
        format!("redis://user:{SECRET}?x#y@host:6379/0"),
        format!("redis://:{SECRET}@host/0"),
        format!("redis://{SECRET}@host"),
        format!("unix:///run/redis.sock?db=1&pass={SECRET}"),
    ];
    for url in &urls {
        let config = Config::from_map([("CACHE_REDIS_URL", url.as_str())]).unwrap();
        assert_hidden(url, &format!("{config:?}"));
        assert_hidden(url, &redact_url(url));
        let err = Config::default().set("CACHE_REDIS_URL", vec![url.as_str(), url.as_str()]).unwrap_err();
        assert_error_hidden(url, &err);
    }
    // What is not secret stays, to find the server by.
    assert_eq!(redact_url("redis://app:p@ss:w%2Frd@host:6379/0"), "redis://app:<redacted>@host:6379/0");
    assert_eq!(redact_url("redis://app:pa/ss@host:6379/0"), "redis://<redacted>@host:6379/0");
    assert_eq!(redact_url("unix:///run/r.sock?db=2&pass=x"), "unix:///run/r.sock?db=2&pass=<redacted>");
}

#[test]
fn a_secret_given_as_a_list_or_a_map_is_not_echoed_in_the_error() {
    for key in ["CACHE_REDIS_PASSWORD", "CACHE_REDIS_SENTINEL_PASSWORD", "CACHE_MEMCACHED_PASSWORD"] {
        let list = ConfigValue::List(vec![SECRET.into()]);
        let map = ConfigValue::Map(BTreeMap::from([("p".to_owned(), SECRET.into())]));
        for value in [list, map] {
            let err = Config::default().set(key, value).unwrap_err();
            assert_error_hidden(key, &err);
            assert!(err.to_string().contains(key), "{err}");
        }
    }
}

#[test]
fn every_password_in_a_config_is_hidden_from_its_debug() {
    let config = Config::from_map([
        ("CACHE_REDIS_PASSWORD", SECRET.to_owned()),
        ("CACHE_REDIS_SENTINEL_PASSWORD", SECRET.to_owned()),
        ("CACHE_MEMCACHED_PASSWORD", SECRET.to_owned()),
        ("CACHE_REDIS_URL", format!("redis://app:{SECRET}@host/0")),
        ("CACHE_REDIS_CLUSTER", format!("redis://:{SECRET}@10.0.0.1:7000,10.0.0.2:7000")),
        ("CACHE_REDIS_SENTINELS", format!("redis://:{SECRET}@10.0.0.1:26379")),
        ("CACHE_ARGS", format!("redis://:{SECRET}@10.0.0.1")),
        ("CACHE_OPTIONS", format!("pool_size=4,password={SECRET},auth_token={SECRET},url=redis://:{SECRET}@h")),
    ])
    .unwrap();
    let shown = format!("{config:?}");
    assert_hidden("Config", &shown);
    assert!(shown.contains("10.0.0.2:7000") && shown.contains("\"pool_size\": \"4\""), "{shown}");
    assert_hidden("Options", &format!("{:?}", config.options));
}

#[test]
fn secret_looking_options_are_hidden_in_every_error() {
    let config =
        Config::from_map([("CACHE_OPTIONS", format!("pool_size=4,password={SECRET},auth_token={SECRET}"))]).unwrap();
    let err = config.options.reject_unknown("RedisCache", &["pool_size"]).unwrap_err();
    assert_error_hidden("reject_unknown", &err);
    let err = config.options.get_u64("password").unwrap_err();
    assert_error_hidden("get_u64", &err);
    let nested = BTreeMap::from([("password".to_owned(), SECRET.into())]);
    let malformed = [
        ConfigValue::from(format!("password:{SECRET}")),
        ConfigValue::from(format!("password=a,{SECRET}")),
        ConfigValue::from(format!(r#"{{"password": "{SECRET}", "pool_size": }}"#)),
        ConfigValue::Map(BTreeMap::from([("tls".to_owned(), ConfigValue::Map(nested))])),
        ConfigValue::List(vec![format!("password={SECRET}").into()]),
    ];
    for value in malformed {
        let err = Config::default().set("CACHE_OPTIONS", value.clone()).unwrap_err();
        assert_error_hidden(&format!("{value:?}"), &err);
    }
}

#[test]
fn secrets_in_json_toml_and_the_environment_are_hidden_in_their_errors() {
    let json = format!(r#"{{"CACHE_REDIS_PASSWORD": ["{SECRET}"]}}"#);
    assert_hidden("JSON", &serde_json::from_str::<Config>(&json).unwrap_err().to_string());
    let toml_text = format!("CACHE_OPTIONS = {{ password = \"{SECRET}\", pool_size = \"x\", deadline = \"soon\" }}\n");
    assert_hidden("TOML", &toml::from_str::<Config>(&toml_text).unwrap_err().to_string());
    let toml_text = format!("CACHE_MEMCACHED_PASSWORD = {{ p = \"{SECRET}\" }}\n");
    assert_hidden("TOML", &toml::from_str::<Config>(&toml_text).unwrap_err().to_string());
    let err = env(&[("CACHE_REDIS_PASSWORD", ""), ("CACHE_REDIS_DB", SECRET)]).unwrap_err();
    assert!(err.to_string().contains(SECRET), "a value that is not a secret is shown: {err}");
    let (result, logged) = crate::test_log::capture(|| env(&[("CACHE_REDIS_PASWORD", SECRET)]));
    assert!(result.is_ok());
    assert_hidden("the environment's warning", &logged);
}

#[test]
fn a_misspelled_secret_key_does_not_echo_its_value() {
    for key in ["CACHE_REDIS_PASWORD", "CACHE_MEMCACHED_PASSWROD", "CACHE_REDIS_SENTINEL_PASWORD", "CACHE_REDIS_TOKEN"]
    {
        let err = Config::from_map([(key, SECRET)]).unwrap_err();
        assert_error_hidden(key, &err);
        assert!(err.to_string().contains(key), "{err}");
    }
    let err = Config::from_map([("CACHE_DEFAULT_TIMOUT", "60")]).unwrap_err().to_string();
    assert!(err.contains("\"60\""), "other unknown keys keep their value: {err}");
}

#[test]
fn an_empty_boolean_is_an_error_naming_the_key() {
    for key in ["CACHE_IGNORE_ERRORS", "CACHE_NO_NULL_WARNING", "CACHE_SOURCE_CHECK"] {
        let err = Config::from_map([(key, "")]).unwrap_err().to_string();
        assert!(err.contains(key) && err.contains("true or false") && err.contains("empty"), "{err}");
    }
    let config = Config::from_map([("CACHE_OPTIONS", "tls=")]).unwrap();
    assert!(config.options.get_bool("tls").is_err(), "an empty boolean option is an error too");
}

#[test]
fn a_list_of_only_empty_items_is_an_error_not_the_default() {
    for empty in [",,", " , ", ","] {
        let err = Config::from_map([("CACHE_MEMCACHED_SERVERS", empty)]).unwrap_err().to_string();
        assert!(err.contains("CACHE_MEMCACHED_SERVERS") && err.contains("only empty items"), "{empty:?}: {err}");
    }
    assert!(Config::from_map([("CACHE_MEMCACHED_SERVERS", "")]).unwrap().memcached_servers.is_empty());
    let config = Config::from_map([("CACHE_MEMCACHED_SERVERS", "a:1,,b:2")]).unwrap();
    assert_eq!(config.memcached_servers, vec!["a:1", "b:2"]);
}

#[test]
fn port_0_is_an_error_naming_the_range() {
    for value in [ConfigValue::from("0"), ConfigValue::Int(0)] {
        let err = Config::default().set("CACHE_REDIS_PORT", value).unwrap_err().to_string();
        assert!(err.contains("CACHE_REDIS_PORT = \"0\"") && err.contains("1 to 65535"), "{err}");
    }
    assert_eq!(Config::from_map([("CACHE_REDIS_PORT", "65535")]).unwrap().redis_port, Some(65535));
}

#[test]
fn bracketed_ipv6_addresses_are_a_host_port_list_not_json() {
    let config = Config::from_map([("CACHE_MEMCACHED_SERVERS", "[::1]:11211,[::1]:11212")]).unwrap();
    assert_eq!(config.memcached_servers, vec!["[::1]:11211", "[::1]:11212"]);
    let config = Config::from_map([("CACHE_REDIS_SENTINELS", "[::1]:26379")]).unwrap();
    assert_eq!(config.redis_sentinels, vec!["[::1]:26379"]);
    let config = Config::from_map([("CACHE_REDIS_CLUSTER", r#"["10.0.0.1:7000", "10.0.0.2:7000"]"#)]).unwrap();
    assert_eq!(config.redis_cluster, vec!["10.0.0.1:7000", "10.0.0.2:7000"], "a JSON array is still one");
    let err = Config::from_map([("CACHE_REDIS_CLUSTER", r#"["10.0.0.1:7000", "#)]).unwrap_err().to_string();
    assert!(err.contains("JSON array"), "quoted items were meant as JSON: {err}");
}

#[test]
fn an_unknown_option_of_a_backend_without_options_reads_well() {
    let config = Config::from_map([("CACHE_OPTIONS", "pool_size=3")]).unwrap();
    let err = config.options.reject_unknown("NullCache", &[]).unwrap_err().to_string();
    assert!(err.contains("CACHE_OPTIONS.pool_size"), "{err}");
    assert!(
        err.contains(
            "NullCache has no options of its own, only those every backend takes: deadline, clear_deadline, \
             breaker_failures, breaker_cooldown, lease."
        ),
        "{err}"
    );
    let config = Config::from_map([("CACHE_OPTIONS", "deadlin=1s")]).unwrap();
    let err = config.options.reject_unknown("NullCache", &[]).unwrap_err().to_string();
    assert!(err.ends_with("Did you mean deadline?"), "{err}");
    let err = config.options.reject_unknown("RedisCache", &["pool_size"]).unwrap_err().to_string();
    assert!(err.contains("Its options are pool_size, and every backend takes deadline"), "{err}");
}

#[test]
fn the_codec_keys_choose_the_stored_form_and_bad_values_name_the_key_and_the_choices() {
    let c = Config::from_map([
        ("CACHE_SERIALIZER", "json"),
        ("CACHE_COMPRESSION", "zstd"),
        ("CACHE_COMPRESSION_MIN_SIZE", "4096"),
    ])
    .unwrap();
    assert_eq!(c.codec.serializer, crate::codec::Serializer::Json);
    assert_eq!(c.codec.compression, crate::codec::Compression::Zstd);
    assert_eq!(c.codec.compression_min_size, 4096);
    assert_eq!(Config::default().codec, crate::codec::Codec::default());
    let err = Config::from_map([("CACHE_SERIALIZER", "bincode")]).unwrap_err().to_string();
    assert!(err.contains("CACHE_SERIALIZER") && err.contains("RUSTSEC-2025-0141"), "{err}");
    let err = Config::from_map([("CACHE_COMPRESSION", "zstdd")]).unwrap_err().to_string();
    assert!(err.contains("CACHE_COMPRESSION") && err.contains("Did you mean zstd?"), "{err}");
    let err = Config::from_map([("CACHE_COMPRESSION_MIN_SIZE", "1k")]).unwrap_err().to_string();
    assert!(err.contains("CACHE_COMPRESSION_MIN_SIZE"), "{err}");
}
