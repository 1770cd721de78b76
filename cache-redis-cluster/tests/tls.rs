//! RedisClusterCache on a cluster that speaks TLS only and requires client certificates
//! (`tls-auth-clients yes`, `tls-cluster yes`): the conformance suite, and a missing client
//! certificate as a quick error naming the setting.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use cachette_conformance::harness::redis::{ClusterTarget, ClusterTopology, RedisOptions};
use cachette_conformance::harness::tls::TestCertificates;
use cachette_core::{BaseCache, CacheError, Config};
use cachette_redis_cluster::RedisClusterCache;

/// One TLS cluster of 3 masters for this test binary.
fn cluster() -> ClusterTarget {
    static CLUSTER: OnceLock<ClusterTopology> = OnceLock::new();
    CLUSTER.get_or_init(|| ClusterTopology::start_with(3, 0, RedisOptions::new().tls()).cleaned_up_at_exit()).target()
}

fn with_options(mut config: Config, options: &str) -> Config {
    for (name, value) in options.split(',').filter_map(|kv| kv.split_once('=')) {
        config.options.insert(name, value);
    }
    config
}

cachette_conformance::conformance_suite!(mutual_tls_cluster, |mut config: Config| async move {
    cluster().apply(&mut config);
    let config = with_options(config, &TestCertificates::shared().client_options());
    Ok(Arc::new(RedisClusterCache::new(&config)?) as Arc<dyn BaseCache>)
});

#[tokio::test]
async fn a_missing_client_certificate_names_tls_cert_file() {
    let mut config = Config::default();
    cluster().apply(&mut config);
    let options = format!("tls_ca_file={},reconnect_retries=0", TestCertificates::shared().ca_file().display());
    let cache = RedisClusterCache::new(&with_options(config, &options)).unwrap();
    let started = Instant::now();
    let err = cache.get("k").await.expect_err("the handshake must fail");
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}: {err}", started.elapsed());
    match &err {
        CacheError::Authentication { setting, .. } => assert_eq!(*setting, "CACHE_OPTIONS.tls_cert_file", "{err}"),
        other => panic!("expected an authentication error naming a setting, got {other:?}"),
    }
}
