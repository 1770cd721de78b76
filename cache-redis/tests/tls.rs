//! RedisCache over TLS against a real redis-server that requires client certificates
//! (`tls-auth-clients yes`): the conformance suite, and each way the handshake fails as a quick
//! error naming the setting to fix.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use cachette_conformance::harness::redis::{RedisOptions, RedisServer};
use cachette_conformance::harness::tls::{self, TestCertificates, setting_of};
use cachette_core::{BaseCache, Bytes, CacheError, Config, Ttl};
use cachette_redis::RedisCache;

/// One TLS server for this test binary.
fn server() -> &'static RedisServer {
    static SERVER: OnceLock<RedisServer> = OnceLock::new();
    // 127.0.0.2 too, which the certificate does not name (the name-mismatch test).
    SERVER.get_or_init(|| {
        RedisServer::start_with(RedisOptions::new().tls().conf("bind 127.0.0.1 127.0.0.2")).cleaned_up_at_exit()
    })
}

cachette_conformance::conformance_suite!(mutual_tls, |mut config: Config| async move {
    config.redis_url = Some(server().url());
    for (name, value) in tls_options(&TestCertificates::shared().client_options()) {
        config.options.insert(name, value);
    }
    Ok(Arc::new(RedisCache::new(&config)?) as Arc<dyn BaseCache>)
});

fn tls_options(options: &str) -> Vec<(String, String)> {
    options.split(',').filter_map(|kv| kv.split_once('=')).map(|(k, v)| (k.to_owned(), v.to_owned())).collect()
}

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

fn files(ca: PathBuf, client: Option<(PathBuf, PathBuf)>) -> String {
    let mut options = format!("tls_ca_file={}", ca.display());
    if let Some((cert, key)) = client {
        options.push_str(&format!(",tls_cert_file={},tls_key_file={}", cert.display(), key.display()));
    }
    options
}

/// The first call's error: a failed handshake, at once.
async fn first_error(url: &str, options: &str) -> CacheError {
    let config = Config::from_map([("CACHE_REDIS_URL", url), ("CACHE_OPTIONS", options)]).unwrap();
    tls::handshake_error(&RedisCache::new(&config).unwrap()).await
}

#[tokio::test]
async fn tls_with_a_private_ca() {
    let server = server();
    assert_eq!(server.cli(&["PING"]).trim(), "PONG");
    let certs = TestCertificates::shared();
    let ca = server.ca_file();
    let config = Config::from_map([
        ("CACHE_REDIS_URL", server.url()),
        ("CACHE_KEY_PREFIX", "tls:".to_owned()),
        ("CACHE_OPTIONS", files(ca, Some((certs.client_cert_file(), certs.client_key_file())))),
    ])
    .unwrap();
    let cache = RedisCache::new(&config).unwrap();
    cache.set("k", b("over TLS"), Ttl::Default).await.unwrap();
    assert_eq!(cache.get("k").await.unwrap(), Some(b("over TLS")));
    assert_eq!(server.cli(&["GET", "4:tls:k"]).trim(), "over TLS");

    // Without the CA the server's certificate is not trusted: a clear error, not a hang or panic.
    let untrusted = Config::from_map([("CACHE_REDIS_URL", server.url())]).unwrap();
    let err = RedisCache::new(&untrusted).unwrap().get("k").await.unwrap_err();
    assert!(err.is_backend_failure(), "{err:?}");
    let missing = Config::from_map([
        ("CACHE_REDIS_URL", server.url()),
        ("CACHE_OPTIONS", "tls_ca_file=/nonexistent.pem".to_owned()),
    ])
    .unwrap();
    let err = RedisCache::new(&missing).unwrap_err();
    assert!(err.to_string().contains("CACHE_OPTIONS.tls_ca_file"), "{err}");
}

#[tokio::test]
async fn a_server_certificate_from_another_ca_names_tls_ca_file() {
    let certs = TestCertificates::shared();
    let options = files(certs.other_ca_file(), Some((certs.client_cert_file(), certs.client_key_file())));
    let err = first_error(&server().url(), &options).await;
    assert_eq!(setting_of(&err), "CACHE_OPTIONS.tls_ca_file", "{err}");
}

#[tokio::test]
async fn a_missing_client_certificate_names_tls_cert_file() {
    let err = first_error(&server().url(), &files(TestCertificates::shared().ca_file(), None)).await;
    assert_eq!(setting_of(&err), "CACHE_OPTIONS.tls_cert_file", "{err}");
    assert!(err.to_string().contains("requires a client certificate"), "{err}");
}

#[tokio::test]
async fn an_expired_client_certificate_names_tls_cert_file() {
    let certs = TestCertificates::shared();
    let options = files(certs.ca_file(), Some((certs.expired_client_cert_file(), certs.expired_client_key_file())));
    let err = first_error(&server().url(), &options).await;
    assert_eq!(setting_of(&err), "CACHE_OPTIONS.tls_cert_file", "{err}");
    assert!(err.to_string().contains("refused the client certificate"), "{err}");
}

#[tokio::test]
async fn a_name_the_certificate_does_not_list_names_cache_redis_url() {
    let certs = TestCertificates::shared();
    let url = format!("rediss://127.0.0.2:{}", server().port());
    let err =
        first_error(&url, &files(certs.ca_file(), Some((certs.client_cert_file(), certs.client_key_file())))).await;
    assert_eq!(setting_of(&err), "CACHE_REDIS_URL", "{err}");
}

#[test]
fn a_certificate_without_its_key_is_refused_at_start() {
    let certs = TestCertificates::shared();
    let options = format!("tls_cert_file={}", certs.client_cert_file().display());
    let config = Config::from_map([("CACHE_REDIS_URL", server().url()), ("CACHE_OPTIONS", options)]).unwrap();
    let err = RedisCache::new(&config).unwrap_err();
    assert!(err.to_string().contains("CACHE_OPTIONS.tls_key_file"), "{err}");
}
