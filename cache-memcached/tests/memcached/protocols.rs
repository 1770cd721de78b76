//! The two protocols side by side: which one a cache speaks, that each reads what the other
//! wrote (so a fleet can move from binary to meta one process at a time), and a server that does
//! not speak the chosen one.

use std::time::Duration;

use cachette_conformance::harness::memcached::{self, MemcachedOptions, MemcachedServer};
use cachette_core::{BaseCache, CacheError, Ttl};
use cachette_memcached::MemcachedCache;

use crate::support::{MIB, b, big, config, unique_prefix};

fn cache_on(
    protocol: &str,
    prefix: &str,
    servers: &cachette_conformance::harness::memcached::MemcachedTarget,
) -> MemcachedCache {
    MemcachedCache::new(&config(servers, prefix, &format!("protocol={protocol}"))).unwrap()
}

#[test]
fn meta_is_the_default_and_credentials_choose_binary() {
    let plain = MemcachedCache::new(&config(&memcached::single(), "p:", "")).unwrap();
    assert_eq!(plain.protocol(), "meta");
    let sasl = MemcachedCache::new(&config(&memcached::sasl(), "p:", "")).unwrap();
    assert_eq!(sasl.protocol(), "binary");
    let err = MemcachedCache::new(&config(&memcached::sasl(), "p:", "protocol=meta")).unwrap_err();
    assert!(matches!(&err, CacheError::Config { key, .. } if key == "CACHE_OPTIONS.protocol"), "{err:?}");
}

#[tokio::test]
async fn each_protocol_reads_what_the_other_wrote() {
    let servers = memcached::pair();
    let prefix = unique_prefix("both");
    let (meta, binary) = (cache_on("meta", &prefix, &servers), cache_on("binary", &prefix, &servers));
    for (writer, reader) in [(&meta, &binary), (&binary, &meta)] {
        let large = big(3 * MIB, writer.protocol().len() as u64);
        writer.set("value", b(writer.protocol()), Ttl::Default).await.unwrap();
        writer.set("large", large.clone(), Ttl::Default).await.unwrap();
        assert_eq!(reader.get("value").await.unwrap(), Some(b(writer.protocol())));
        assert_eq!(reader.get("large").await.unwrap(), Some(large));
        writer.set("n", b("5"), Ttl::Default).await.unwrap();
        assert_eq!(reader.inc("n", 2).await.unwrap(), 7);
        assert_eq!(writer.inc("n", -10).await.unwrap(), -3);
        assert_eq!(reader.inc("n", 1).await.unwrap(), -2);
        assert!(reader.touch("large", Ttl::After(Duration::from_secs(60))).await.unwrap());
        assert_eq!(
            writer.get_many(&["value", "absent", "n"]).await.unwrap(),
            [Some(b(writer.protocol())), None, Some(b("-2"))]
        );
        writer.clear().await.unwrap();
        assert_eq!(reader.get_many(&["value", "large", "n"]).await.unwrap(), [None, None, None]);
    }
}

#[tokio::test]
async fn a_server_without_meta_commands_is_an_error_naming_the_protocol_option() {
    let server = MemcachedServer::start_with(MemcachedOptions::new().binary_only());
    let prefix = unique_prefix("binary-only");
    let fast = "protocol=meta,connect_timeout=1s,response_timeout=2s";
    let meta = MemcachedCache::new(&config(&server.target(), &prefix, fast)).unwrap();
    let started = std::time::Instant::now();
    let err = meta.set("k", b("v"), Ttl::Default).await.unwrap_err();
    assert!(err.to_string().contains("CACHE_OPTIONS.protocol=binary"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(2), "an answer, not a timeout: {:?}", started.elapsed());
    let binary = cache_on("binary", &prefix, &server.target());
    binary.set("k", b("v"), Ttl::Default).await.unwrap();
    assert_eq!(binary.get("k").await.unwrap(), Some(b("v")));
}
