//! Logging in (binary protocol only): SASL credentials, wrong or missing, SASL over TLS, and the ASCII authentication this backend cannot speak.

use std::time::{Duration, Instant};

use cachette_conformance::harness::memcached::{self, MemcachedOptions, MemcachedServer};
use cachette_conformance::harness::tls::setting_of;
use cachette_core::{BaseCache, CacheError, Config, Ttl};
use cachette_memcached::MemcachedCache;

use super::support::{b, cache, config, unique_prefix};

#[tokio::test]
async fn a_wrong_sasl_password_is_a_quick_clear_error() {
    let mut target = memcached::sasl();
    target.password = Some("not-the-password".to_owned());
    let mut config = config(&target, &unique_prefix("sasl-wrong"), "");
    config.cache_type = "SASLMemcachedCache".to_owned();
    let cache = MemcachedCache::new(&config).unwrap();
    let started = Instant::now();
    let err = cache.get("k").await.unwrap_err();
    let elapsed = started.elapsed();
    match &err {
        CacheError::Authentication { setting, .. } => assert_eq!(*setting, "CACHE_MEMCACHED_PASSWORD"),
        other => panic!("expected an authentication error, got {other:?}"),
    }
    let message = err.to_string();
    assert!(message.contains("CACHE_MEMCACHED_PASSWORD"), "{message}");
    assert!(!message.contains("not-the-password"), "never show the password: {message}");
    // The issue asks for "quickly": well under the 30 s a default r2d2 pool would take.
    assert!(elapsed < Duration::from_secs(10), "took {elapsed:?}");
}

#[tokio::test]
async fn sasl_needs_credentials() {
    // A SASL server without credentials: the error says which settings to give.
    let mut target = memcached::sasl();
    target.username = None;
    target.password = None;
    let cache = cache(&target, &unique_prefix("sasl-none"), "");
    let err = cache.set("k", b("v"), Ttl::Default).await.unwrap_err();
    assert!(err.to_string().contains("CACHE_MEMCACHED_USERNAME"), "{err}");
    // SASLMemcachedCache refuses to start without them.
    let err = MemcachedCache::sasl(&Config::default()).unwrap_err();
    assert!(matches!(err, CacheError::Config { ref key, .. } if key == "CACHE_MEMCACHED_USERNAME"), "{err:?}");
    // Credentials for a server without SASL: told, not ignored.
    let mut plain = memcached::single();
    plain.username = Some("u".into());
    plain.password = Some("p".into());
    let err = self::cache(&plain, &unique_prefix("sasl-plain"), "").get("k").await.unwrap_err();
    assert!(err.to_string().contains("-S"), "{err}");
}

#[tokio::test]
async fn an_ascii_auth_server_is_an_error_not_a_hang() {
    // -Y forbids the binary protocol this backend speaks; the answer must be an error, in time.
    let server = MemcachedServer::start_with(MemcachedOptions::new().ascii_auth("u", "p"));
    let mut target = server.target();
    target.username = Some("u".into());
    target.password = Some("p".into());
    let cache = cache(&target, &unique_prefix("ascii-auth"), "connect_timeout=500ms,response_timeout=500ms");
    let err = cache.get("k").await.unwrap_err();
    assert!(err.is_backend_failure(), "{err:?}");
}

#[tokio::test]
async fn sasl_logs_in_over_tls_and_a_wrong_password_is_still_named() {
    let server = MemcachedServer::start_with(MemcachedOptions::new().sasl("app", "tls-secret").tls());
    let target = server.target();
    assert!(target.servers[0].starts_with("tls://"), "{target:?}");
    let mut config = config(&target, &unique_prefix("tls-sasl"), "");
    config.cache_type = "SASLMemcachedCache".to_owned();
    let cache = MemcachedCache::new(&config).unwrap();
    cache.set("k", b("v"), Ttl::Default).await.unwrap();
    assert_eq!(cache.get("k").await.unwrap(), Some(b("v")));
    config.memcached_password = Some("wrong".to_owned());
    let err = MemcachedCache::new(&config).unwrap().get("k").await.unwrap_err();
    assert_eq!(setting_of(&err), "CACHE_MEMCACHED_PASSWORD", "{err}");
}
