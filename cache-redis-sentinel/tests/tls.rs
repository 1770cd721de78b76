//! RedisSentinelCache over TLS: sentinels that serve TLS only (`rediss://`) in front of a master
//! and a replica that serve TLS only, all requiring client certificates (the harness's
//! `SentinelTopology::start_tls`). The conformance suite on it, and each way a handshake fails
//! (a wrong CA, a missing or expired client certificate, a certificate for another name) as a
//! quick error naming the setting to fix. The failover over TLS is in `sentinel.rs`, beside the
//! one over plain TCP.

use std::sync::Arc;

use cachette_conformance::harness::redis::{self, SentinelTarget};
use cachette_conformance::harness::tls::{TestCertificates, handshake_error, setting_of};
use cachette_core::{BaseCache, CacheError, Config};
use cachette_redis_sentinel::RedisSentinelCache;

cachette_conformance::conformance_suite!(tls_sentinels, |mut config: Config| async move {
    redis::sentinel_tls().apply(&mut config);
    Ok(Arc::new(RedisSentinelCache::new(&config)?) as Arc<dyn BaseCache>)
});

/// A cache on `target` with its `tls_*` options replaced by `files` (and `extra` options).
fn cache_with(
    target: &SentinelTarget,
    files: &[(&str, std::path::PathBuf)],
    extra: &[(&str, &str)],
) -> RedisSentinelCache {
    let mut config = Config::from_map([("CACHE_KEY_PREFIX", "tls-errors:")]).unwrap();
    let target = SentinelTarget { options: Vec::new(), ..target.clone() };
    target.apply(&mut config);
    for (name, path) in files {
        config.options.insert(*name, path.display().to_string());
    }
    for (name, value) in extra {
        config.options.insert(*name, *value);
    }
    RedisSentinelCache::new(&config).unwrap()
}

async fn first_error(files: &[(&str, std::path::PathBuf)]) -> CacheError {
    handshake_error(&cache_with(&redis::sentinel_tls(), files, &[("connect_timeout", "3s")])).await
}

#[tokio::test]
async fn a_sentinel_certificate_from_another_ca_names_tls_ca_file() {
    let certs = TestCertificates::shared();
    let err = first_error(&[
        ("tls_ca_file", certs.other_ca_file()),
        ("tls_cert_file", certs.client_cert_file()),
        ("tls_key_file", certs.client_key_file()),
    ])
    .await;
    assert_eq!(setting_of(&err), "CACHE_OPTIONS.tls_ca_file", "{err}");
    assert!(err.to_string().contains("not trusted") && err.to_string().contains("sentinel"), "{err}");
}

#[tokio::test]
async fn a_missing_client_certificate_names_tls_cert_file() {
    let err = first_error(&[("tls_ca_file", TestCertificates::shared().ca_file())]).await;
    assert_eq!(setting_of(&err), "CACHE_OPTIONS.tls_cert_file", "{err}");
}

#[tokio::test]
async fn an_expired_client_certificate_names_tls_cert_file() {
    let certs = TestCertificates::shared();
    let err = first_error(&[
        ("tls_ca_file", certs.ca_file()),
        ("tls_cert_file", certs.expired_client_cert_file()),
        ("tls_key_file", certs.expired_client_key_file()),
    ])
    .await;
    assert_eq!(setting_of(&err), "CACHE_OPTIONS.tls_cert_file", "{err}");
}

#[tokio::test]
async fn a_sentinel_name_its_certificate_is_not_for_names_the_sentinels() {
    // The test certificates are for localhost and 127.0.0.1; 127.0.0.2 reaches the same sentinel.
    let target = redis::sentinel_tls();
    let renamed = SentinelTarget {
        sentinels: target.sentinels.iter().map(|s| s.replace("127.0.0.1", "127.0.0.2")).collect(),
        ..target.clone()
    };
    let certs = TestCertificates::shared();
    let files = [
        ("tls_ca_file", certs.ca_file()),
        ("tls_cert_file", certs.client_cert_file()),
        ("tls_key_file", certs.client_key_file()),
    ];
    let err = handshake_error(&cache_with(&renamed, &files, &[])).await;
    assert_eq!(setting_of(&err), "CACHE_REDIS_SENTINELS", "{err}");
    assert!(err.to_string().contains("not valid for the name"), "{err}");
}

#[tokio::test]
async fn plain_text_sentinel_entries_do_not_reach_tls_sentinels() {
    let target = redis::sentinel_tls();
    let plain = SentinelTarget {
        sentinels: target.sentinels.iter().map(|s| s.trim_start_matches("rediss://").to_owned()).collect(),
        options: Vec::new(),
        ..target
    };
    let err =
        cache_with(&plain, &[], &[("connect_timeout", "1s"), ("response_timeout", "1s")]).get("k").await.unwrap_err();
    assert!(err.is_backend_failure(), "{err:?}");
    assert!(err.to_string().contains("CACHE_REDIS_SENTINELS"), "{err}");
}
