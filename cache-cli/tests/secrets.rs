//! No password or token appears in any `Debug`, `Display` or error of the library or of cachectl:
//! a recognisable secret is set in every key and form that carries one, and everything shown is
//! scanned for it — the `Debug` of the config and of every backend built from it, parse errors,
//! connection errors against a port where nothing listens, authentication errors from real
//! password-protected servers (the conformance harness), and cachectl's stdout and stderr.

use std::process::{Command, Output};

use cachette::backends::{MemcachedCache, RedisCache, RedisClusterCache, RedisSentinelCache};
use cachette::{BaseCache, Cache, CacheError, Config, ConfigValue};
use cachette_conformance::harness::free_port;
use cachette_conformance::harness::memcached::{MemcachedOptions, MemcachedServer};
use cachette_conformance::harness::redis::{RedisOptions, RedisServer};

/// What must never be shown.
const SECRET: &str = "S3CR3T-sentinel-value";

/// Short limits, so that a refused login or a dead port fails fast.
const FAST: &str = "connect_timeout=1s,response_timeout=1s,reconnect_retries=0";

fn scan(what: &str, shown: &str) {
    assert!(!shown.contains(SECRET), "{what} shows the secret:\n{shown}");
}

fn scan_error(what: &str, err: &CacheError) {
    scan(what, &err.to_string());
    scan(what, &format!("{err:?}"));
}

fn config(pairs: &[(&str, String)]) -> Config {
    Config::from_map(pairs.iter().map(|(k, v)| (*k, v.clone()))).unwrap_or_else(|e| panic!("{e}"))
}

/// The secret in every form a standalone Redis takes it, against `port`.
fn redis_forms(port: u16) -> Vec<Config> {
    let url = |userinfo: &str| vec![("CACHE_REDIS_URL", format!("redis://{userinfo}@127.0.0.1:{port}/0"))];
    let mut forms = vec![
        url(&format!("app:{SECRET}")),
        url(&format!(":{SECRET}")),
        url(&format!("app:pa%2F{SECRET}")),
        url(&format!("app:p@ss:{SECRET}")),
        vec![
            ("CACHE_REDIS_HOST", "127.0.0.1".to_owned()),
            ("CACHE_REDIS_PORT", port.to_string()),
            ("CACHE_REDIS_USERNAME", "app".to_owned()),
            ("CACHE_REDIS_PASSWORD", SECRET.to_owned()),
        ],
    ];
    for form in &mut forms {
        form.push(("CACHE_OPTIONS", FAST.to_owned()));
    }
    forms.iter().map(|pairs| config(pairs)).collect()
}

fn sentinel_config(port: u16) -> Config {
    config(&[
        ("CACHE_REDIS_SENTINELS", format!("127.0.0.1:{port}")),
        ("CACHE_REDIS_SENTINEL_PASSWORD", SECRET.to_owned()),
        ("CACHE_REDIS_PASSWORD", SECRET.to_owned()),
        ("CACHE_OPTIONS", FAST.to_owned()),
    ])
}

fn cluster_config(port: u16) -> Config {
    config(&[
        ("CACHE_REDIS_CLUSTER", format!("127.0.0.1:{port}")),
        ("CACHE_REDIS_PASSWORD", SECRET.to_owned()),
        ("CACHE_OPTIONS", FAST.to_owned()),
    ])
}

fn memcached_config(address: &str, password: &str) -> Config {
    config(&[
        ("CACHE_TYPE", "SASLMemcachedCache".to_owned()),
        ("CACHE_MEMCACHED_SERVERS", address.to_owned()),
        ("CACHE_MEMCACHED_USERNAME", "cachette".to_owned()),
        ("CACHE_MEMCACHED_PASSWORD", password.to_owned()),
        ("CACHE_OPTIONS", "connect_timeout=1s,response_timeout=1s".to_owned()),
    ])
}

/// A backend and its `Debug` (both forms), taken before it connects.
fn built<B: BaseCache + std::fmt::Debug>(backend: B) -> (String, Box<dyn BaseCache>) {
    (format!("{backend:?} {backend:#?}"), Box::new(backend))
}

/// Builds each backend (no connection yet), scans its `Debug` and its config's, then scans the
/// error of a `get`.
async fn scan_backends_against(redis_port: u16, memcached: &str, memcached_password: &str) {
    let mut backends = Vec::new();
    for config in redis_forms(redis_port) {
        scan("Config", &format!("{config:?} {config:#?}"));
        backends.push(built(RedisCache::new(&config).unwrap()));
    }
    let sentinel = sentinel_config(redis_port);
    backends.push(built(RedisSentinelCache::new(&sentinel).unwrap()));
    let cluster = cluster_config(redis_port);
    backends.push(built(RedisClusterCache::new(&cluster).unwrap()));
    let memcached = memcached_config(memcached, memcached_password);
    backends.push(built(MemcachedCache::new(&memcached).unwrap()));
    for config in [&sentinel, &cluster, &memcached] {
        scan("Config", &format!("{config:?} {config:#?}"));
    }
    for (debug, backend) in backends {
        scan("a backend's Debug", &debug);
        let err = backend.get("k").await.expect_err("the credentials or the port are wrong");
        scan_error(&debug, &err);
    }
}

#[tokio::test]
async fn backends_and_their_connection_errors_against_a_dead_port_hide_the_secrets() {
    let dead = free_port();
    scan_backends_against(dead, &format!("127.0.0.1:{dead}"), SECRET).await;
}

#[tokio::test]
async fn authentication_errors_from_real_servers_hide_the_secrets() {
    let redis = RedisServer::start_with(RedisOptions::new().password("the-right-password"));
    let memcached = MemcachedServer::start_with(MemcachedOptions::new().sasl("cachette", "the-right-password"));
    for config in redis_forms(redis.port()) {
        let err = RedisCache::new(&config).unwrap().get("k").await.expect_err("a wrong password");
        assert!(matches!(err, CacheError::Authentication { .. }), "{err:?}");
        scan_error("a refused Redis login", &err);
    }
    let err = MemcachedCache::new(&memcached_config(&memcached.address(), SECRET)).unwrap().get("k").await;
    let err = err.expect_err("a wrong SASL password");
    assert!(matches!(err, CacheError::Authentication { .. }), "{err:?}");
    scan_error("a refused memcached login", &err);
    scan_backends_against(redis.port(), &memcached.address(), SECRET).await;
}

#[test]
fn parse_errors_of_every_form_hide_the_secrets() {
    let secret_keys = ["CACHE_REDIS_PASSWORD", "CACHE_REDIS_SENTINEL_PASSWORD", "CACHE_MEMCACHED_PASSWORD"];
    for key in secret_keys {
        for value in
            [ConfigValue::List(vec![SECRET.into()]), ConfigValue::Map([("password".to_owned(), SECRET.into())].into())]
        {
            scan_error(key, &Config::default().set(key, value).unwrap_err());
        }
        let json = format!(r#"{{"{key}": ["{SECRET}"]}}"#);
        scan(key, &serde_json::from_str::<Config>(&json).unwrap_err().to_string());
        let toml_text = format!("{key} = [\"{SECRET}\"]\n");
        scan(key, &toml::from_str::<Config>(&toml_text).unwrap_err().to_string());
        scan_error(key, &Config::from_map([(format!("{key}X"), SECRET)]).unwrap_err());
    }
    for url in [
        format!("redis://app:pa/{SECRET}@127.0.0.1:6379/0"),
        format!("redis://app:{SECRET}#x@127.0.0.1:6379/0"),
        format!("redis://app:{SECRET}?x@127.0.0.1:6379/0"),
        format!("rediss://app:{SECRET}@127.0.0.1:6379/x"),
    ] {
        let config = config(&[("CACHE_REDIS_URL", url.clone())]);
        scan(&url, &format!("{config:?}"));
        scan_error(&url, &RedisCache::new(&config).unwrap_err());
    }
    for options in [
        format!("password={SECRET}"),
        format!("auth_token={SECRET},pool_size=2"),
        format!(r#"{{"secret": "{SECRET}"}}"#),
        format!("password:{SECRET}"),
    ] {
        let result = Config::from_map([("CACHE_OPTIONS", options.as_str())]);
        let err = match result {
            Err(err) => err,
            Ok(config) => {
                scan(&options, &format!("{config:?}"));
                Cache::from_config(config.clone()).expect_err("no backend takes a password option")
            }
        };
        scan_error(&options, &err);
    }
    let toml_text = format!("CACHE_TYPE = \"RedisCache\"\nCACHE_OPTIONS = {{ password = \"{SECRET}\" }}\n");
    let config: Config = toml::from_str(&toml_text).unwrap();
    scan("TOML options", &format!("{config:?}"));
    scan_error("TOML options", &RedisCache::new(&config).unwrap_err());
}

fn cachectl(args: &[&str], env: &[(&str, String)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_cachectl"));
    command.args(args).env_remove("CACHE_TYPE");
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().expect("cachectl runs")
}

fn scan_output(what: &str, out: &Output) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    scan(what, &format!("{stdout}\n{stderr}"));
}

#[test]
fn cachectl_never_prints_the_secrets() {
    let redis = RedisServer::start_with(RedisOptions::new().password(SECRET));
    let memcached = MemcachedServer::start_with(MemcachedOptions::new().sasl("cachette", SECRET));
    let port = redis.port().to_string();
    let by_url = [
        ("CACHE_TYPE", "RedisCache".to_owned()),
        ("CACHE_REDIS_URL", format!("redis://:{SECRET}@127.0.0.1:{port}/0")),
        ("CACHE_KEY_PREFIX", "cachectl:".to_owned()),
    ];
    let by_parts = [
        ("CACHE_TYPE", "RedisCache".to_owned()),
        ("CACHE_REDIS_HOST", "127.0.0.1".to_owned()),
        ("CACHE_REDIS_PORT", port.clone()),
        ("CACHE_REDIS_PASSWORD", SECRET.to_owned()),
    ];
    let sasl = [
        ("CACHE_TYPE", "SASLMemcachedCache".to_owned()),
        ("CACHE_MEMCACHED_SERVERS", memcached.address()),
        ("CACHE_MEMCACHED_USERNAME", "cachette".to_owned()),
        ("CACHE_MEMCACHED_PASSWORD", SECRET.to_owned()),
    ];
    for env in [&by_url[..], &by_parts[..], &sasl[..]] {
        let out = cachectl(&["stats"], env);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(String::from_utf8_lossy(&out.stdout).contains("<redacted>"), "stats prints the redacted config");
        scan_output("stats", &out);
        for args in [&["set", "k", "v"][..], &["get", "k"], &["inc", "n"], &["delete", "k"]] {
            let out = cachectl(args, env);
            assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
            scan_output("a command", &out);
        }
    }
    let wrong = [
        ("CACHE_TYPE", "RedisCache".to_owned()),
        ("CACHE_REDIS_URL", format!("redis://:{SECRET}-but-wrong@127.0.0.1:{port}/0")),
        ("CACHE_IGNORE_ERRORS", "true".to_owned()),
    ];
    let out = cachectl(&["get", "k"], &wrong);
    assert!(!out.status.success());
    scan_output("a refused login", &out);
    let dead = free_port().to_string();
    for (k, v) in [
        ("CACHE_REDIS_URL", format!("redis://app:pa/{SECRET}@127.0.0.1:{dead}/0")),
        ("CACHE_REDIS_URL", format!("redis://app:{SECRET}@127.0.0.1:{dead}/0")),
        ("CACHE_OPTIONS", format!("password={SECRET}")),
        ("CACHE_REDIS_PASSWORD", format!("{SECRET},{SECRET}")),
        ("CACHE_REDIS_PASWORD", SECRET.to_owned()),
    ] {
        let env = [("CACHE_TYPE", "RedisCache".to_owned()), ("CACHE_REDIS_PORT", dead.clone()), (k, v)];
        let out = cachectl(&["get", "k"], &env);
        assert!(!out.status.success());
        scan_output(k, &out);
    }
    let out = cachectl(&["-o", &format!("CACHE_REDIS_PASSWORD:{SECRET}"), "get", "k"], &[]);
    assert_eq!(out.status.code(), Some(2));
    scan_output("-o", &out);
    let dir = tempfile::tempdir().unwrap();
    for text in [
        format!("CACHE_REDIS_PASSWORD = [\"{SECRET}\"]\n"),
        format!("CACHE_REDIS_PASSWORD = {SECRET}\n"),
        format!("CACHE_OPTIONS = {{ password = \"{SECRET}\" }}\nCACHE_TYPE = \"RedisCache\"\n"),
    ] {
        let file = dir.path().join("cache.toml");
        std::fs::write(&file, &text).unwrap();
        let out = cachectl(&["--config", file.to_str().unwrap(), "get", "k"], &[]);
        assert_eq!(out.status.code(), Some(2), "{text}");
        scan_output(&text, &out);
    }
}
