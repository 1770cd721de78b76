//! RedisCache against real redis-server processes: the conformance suite, exact expiry mapping,
//! errors that name the setting, clear safety, round trips, and a server killed and restarted.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use cachette_conformance::harness::redis::{self, RedisOptions, RedisServer};
use cachette_core::admin::{Cleared, KeyCount};
use cachette_core::{BaseCache, Bytes, Cache, CacheError, Config, Ttl};
use cachette_redis::RedisCache;

cachette_conformance::conformance_suite!(standalone, |mut config: Config| async move {
    redis::standalone().apply(&mut config);
    Ok(Arc::new(RedisCache::new(&config)?) as Arc<dyn BaseCache>)
});

#[test]
fn any_two_prefixes_are_disjoint_on_one_server() {
    cachette_conformance::isolation::check("RedisCache", |prefix| {
        let mut config = Config::default();
        config.key_prefix = prefix.to_owned();
        redis::standalone().apply(&mut config);
        Arc::new(RedisCache::new(&config).unwrap())
    });
}

fn config_for(url: &str, prefix: &str) -> Config {
    Config::from_map([("CACHE_REDIS_URL", url), ("CACHE_KEY_PREFIX", prefix)]).unwrap()
}

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

#[tokio::test]
async fn expiry_maps_to_px_and_pxat_exactly() {
    let server = RedisServer::start();
    // On the server, the key `at` of the prefix `t:` is `2:t:at` (see the crate docs).
    let cache = RedisCache::new(&config_for(&server.url(), "t:")).unwrap();

    let deadline = SystemTime::now() + Duration::from_secs(3600);
    cache.set("at", b("v"), Ttl::At(deadline)).await.unwrap();
    let expected = deadline.duration_since(UNIX_EPOCH).unwrap().as_nanos().div_ceil(1_000_000) as i64;
    let stored: i64 = server.cli(&["PEXPIRETIME", "2:t:at"]).trim().parse().unwrap();
    assert_eq!(stored, expected, "Ttl::At is an absolute PXAT deadline, to the millisecond");

    cache.set("after", b("v"), Ttl::After(Duration::from_millis(90_500))).await.unwrap();
    let pttl: i64 = server.cli(&["PTTL", "2:t:after"]).trim().parse().unwrap();
    assert!((85_000..=90_500).contains(&pttl), "Ttl::After is PX in milliseconds, got {pttl}");

    cache.set("never", b("v"), Ttl::Never).await.unwrap();
    assert_eq!(server.cli(&["PTTL", "2:t:never"]).trim(), "-1");

    assert!(cache.touch("after", Ttl::Never).await.unwrap());
    assert_eq!(server.cli(&["PTTL", "2:t:after"]).trim(), "-1", "touch(Never) is PERSIST");
    assert!(cache.touch("never", Ttl::At(deadline)).await.unwrap());
    let stored: i64 = server.cli(&["PEXPIRETIME", "2:t:never"]).trim().parse().unwrap();
    assert_eq!(stored, expected, "touch(At) is PEXPIREAT");

    let default = RedisCache::new(
        &Config::from_map([("CACHE_REDIS_URL", server.url()), ("CACHE_DEFAULT_TIMEOUT", "0".into())]).unwrap(),
    )
    .unwrap();
    default.set("d", b("v"), Ttl::Default).await.unwrap();
    assert_eq!(server.cli(&["PTTL", "0:d"]).trim(), "-1", "CACHE_DEFAULT_TIMEOUT=0 means never");
}

#[tokio::test]
async fn get_many_and_set_many_of_100_keys_are_one_command_each() {
    let server = RedisServer::start();
    let cache = RedisCache::new(&config_for(&server.url(), "rt:")).unwrap();
    let keys: Vec<String> = (0..100).map(|i| format!("k{i}")).collect();
    let items: Vec<(&str, Bytes)> = keys.iter().map(|k| (k.as_str(), b(k))).collect();
    let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    cache.get("warm-up").await.unwrap(); // connect first, so the handshake is not counted
    server.cli(&["CONFIG", "RESETSTAT"]);

    cache.set_many(&items, Ttl::After(Duration::from_secs(60))).await.unwrap();
    let got = cache.get_many(&refs).await.unwrap();
    assert!(got.iter().zip(&keys).all(|(v, k)| v.as_deref() == Some(k.as_bytes())));

    let calls = |cmd: &str| {
        server
            .info_field("commandstats", &format!("cmdstat_{cmd}"))
            .and_then(|s| s.split(',').next()?.strip_prefix("calls=").map(|n| n.parse::<u64>().unwrap()))
            .unwrap_or(0)
    };
    assert_eq!(calls("mget"), 1, "get_many of 100 keys is one MGET");
    assert_eq!(calls("get"), 0);
    assert_eq!((calls("multi"), calls("exec"), calls("set")), (1, 1, 100), "set_many is one MULTI/EXEC transaction");
    assert_eq!(cache.delete_many(&refs).await.unwrap(), 100);
    assert_eq!(calls("unlink"), 1, "delete_many is one UNLINK");
}

/// On `server`: 2500 keys of the prefix `a*[x]:` (glob characters, three `SCAN` batches), one key
/// of the similar prefix `ab[x]:` and one unrelated key; the caches of both prefixes.
async fn neighbours(server: &RedisServer) -> (RedisCache, RedisCache) {
    let mine = RedisCache::new(&config_for(&server.url(), "a*[x]:")).unwrap();
    let similar = RedisCache::new(&config_for(&server.url(), "ab[x]:")).unwrap();
    for i in 0..2500 {
        mine.set(&format!("k{i}"), b("v"), Ttl::Default).await.unwrap();
    }
    similar.set("k0", b("theirs"), Ttl::Default).await.unwrap();
    server.cli(&["SET", "unrelated", "app"]);
    (mine, similar)
}

#[tokio::test]
async fn clear_removes_only_this_prefix_even_with_glob_characters() {
    let server = RedisServer::start();
    let (mine, similar) = neighbours(&server).await;
    mine.clear().await.unwrap();
    assert_eq!(server.cli(&["DBSIZE"]).trim(), "2", "only the other prefix's key and the unrelated key remain");
    assert_eq!(similar.get("k0").await.unwrap(), Some(b("theirs")));
}

#[tokio::test]
async fn clear_without_prefix_is_refused_and_flush_is_separate() {
    let server = RedisServer::start();
    let cache = RedisCache::new(&Config::from_map([("CACHE_REDIS_URL", server.url())]).unwrap()).unwrap();
    cache.set("k", b("v"), Ttl::Default).await.unwrap();
    let err = cache.clear().await.unwrap_err();
    assert!(matches!(&err, CacheError::Refused { .. }) && err.to_string().contains("CACHE_KEY_PREFIX"), "{err}");
    assert_eq!(cache.get("k").await.unwrap(), Some(b("v")), "a refused clear removes nothing");
    cache.flush_database().await.unwrap();
    assert_eq!(server.cli(&["DBSIZE"]).trim(), "0");
}

/// `progress`'s calls, for checking that a long scan reports as it goes.
fn recorded() -> (Arc<std::sync::Mutex<Vec<u64>>>, impl Fn(u64) + Send + Sync) {
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    (seen, move |n| log.lock().unwrap().push(n))
}

#[tokio::test]
async fn admin_counts_and_clears_only_this_prefix_in_batches_and_reads_the_servers_info() {
    let server = RedisServer::start();
    let (mine, similar) = neighbours(&server).await;
    let admin = mine.admin().expect("every Redis topology offers Admin");

    let (seen, progress) = recorded();
    assert_eq!(admin.count_keys(&progress).await.unwrap(), KeyCount::Counted { keys: 2500 });
    let seen = seen.lock().unwrap().clone();
    assert!(seen.len() > 1 && seen.is_sorted() && seen.last() == Some(&2500), "progress after each batch: {seen:?}");

    let servers = admin.servers().await.unwrap();
    assert_eq!(servers.len(), 1);
    let info = &servers[0];
    assert_eq!(info.address, format!("127.0.0.1:{}", server.port()), "CLIENT INFO's laddr names the server");
    assert!(info.version.as_deref().is_some_and(|v| v.starts_with("redis ")), "{info:?}");
    assert_eq!(info.keys, Some(2502), "DBSIZE: every prefix's keys");
    assert!(info.memory_used.is_some_and(|m| m > 0) && info.hits.is_some() && info.evictions == Some(0), "{info:?}");
    assert_eq!(info.memory_limit, None, "maxmemory 0 is no limit");

    let (seen, progress) = recorded();
    assert_eq!(admin.clear_counting(&progress).await.unwrap(), Cleared::Removed { keys: 2500 });
    assert_eq!(seen.lock().unwrap().last(), Some(&2500));
    assert_eq!(server.cli(&["DBSIZE"]).trim(), "2", "only the other prefix's key and the unrelated key remain");
    assert_eq!(similar.get("k0").await.unwrap(), Some(b("theirs")));

    let unscoped = RedisCache::new(&Config::from_map([("CACHE_REDIS_URL", server.url())]).unwrap()).unwrap();
    let err = unscoped.admin().unwrap().clear_counting(&|_| {}).await.unwrap_err();
    assert!(matches!(&err, CacheError::Refused { .. }) && err.to_string().contains("CACHE_KEY_PREFIX"), "{err}");
    assert_eq!(server.cli(&["DBSIZE"]).trim(), "2", "a refused clear removes nothing");
}

#[tokio::test]
async fn wrong_password_names_the_setting() {
    let server = RedisServer::start_with(RedisOptions::new().password("right"));
    let cache = RedisCache::new(&config_for(&format!("redis://:wrong@{}", server.address()), "p:")).unwrap();
    let err = cache.get("k").await.unwrap_err();
    assert!(matches!(&err, CacheError::Authentication { .. }), "{err:?}");
    assert!(err.to_string().contains("CACHE_REDIS_URL"), "{err}");
    assert!(!err.to_string().contains("wrong"), "the password must not appear in the message: {err}");

    let parts = Config::from_map([
        ("CACHE_REDIS_HOST", "127.0.0.1".to_owned()),
        ("CACHE_REDIS_PORT", server.port().to_string()),
        ("CACHE_REDIS_PASSWORD", "wrong".to_owned()),
    ])
    .unwrap();
    let err = RedisCache::new(&parts).unwrap().get("k").await.unwrap_err();
    assert!(
        matches!(&err, CacheError::Authentication { setting, .. } if setting.contains("CACHE_REDIS_PASSWORD")),
        "{err:?}"
    );

    let none = RedisCache::new(&config_for(&format!("redis://{}", server.address()), "p:")).unwrap();
    let err = none.get("k").await.unwrap_err();
    assert!(matches!(&err, CacheError::Authentication { .. }), "no password at all: {err:?}");
}

#[tokio::test]
async fn acl_user_by_url_and_by_separate_settings() {
    let server = RedisServer::start_with(RedisOptions::new().password("admin").acl_user("app", "apppass"));
    let by_url = RedisCache::new(&config_for(&format!("redis://app:apppass@{}", server.address()), "acl:")).unwrap();
    by_url.set("k", b("v"), Ttl::Default).await.unwrap();
    let by_parts = RedisCache::new(
        &Config::from_map([
            ("CACHE_REDIS_HOST", "127.0.0.1".to_owned()),
            ("CACHE_REDIS_PORT", server.port().to_string()),
            ("CACHE_REDIS_USERNAME", "app".to_owned()),
            ("CACHE_REDIS_PASSWORD", "apppass".to_owned()),
            ("CACHE_KEY_PREFIX", "acl:".to_owned()),
        ])
        .unwrap(),
    )
    .unwrap();
    assert_eq!(by_parts.get("k").await.unwrap(), Some(b("v")));
}

#[tokio::test]
async fn wrong_database_index_names_the_setting() {
    let server = RedisServer::start();
    let config = Config::from_map([
        ("CACHE_REDIS_HOST", "127.0.0.1".to_owned()),
        ("CACHE_REDIS_PORT", server.port().to_string()),
        ("CACHE_REDIS_DB", "99".to_owned()),
    ])
    .unwrap();
    let err = RedisCache::new(&config).unwrap().get("k").await.unwrap_err();
    assert!(matches!(&err, CacheError::Config { key, .. } if key == "CACHE_REDIS_DB"), "{err:?}");

    let db3 = RedisCache::new(&config_for(&format!("{}/3", server.url()), "")).unwrap();
    db3.set("in-db-3", b("v"), Ttl::Default).await.unwrap();
    assert_eq!(server.cli(&["-n", "3", "EXISTS", "0:in-db-3"]).trim(), "1");
}

#[tokio::test]
async fn unreachable_host_names_the_setting() {
    let port = cachette_conformance::harness::free_port(); // nothing listens there
    let cache = RedisCache::new(&config_for(&format!("redis://127.0.0.1:{port}"), "u:")).unwrap();
    let started = Instant::now();
    let err = cache.get("k").await.unwrap_err();
    assert!(matches!(&err, CacheError::Connection { .. }), "{err:?}");
    assert!(err.to_string().contains("CACHE_REDIS_URL") && err.to_string().contains(&port.to_string()), "{err}");
    println!("unreachable host reported after {:?}", started.elapsed());
}

#[test]
fn malformed_settings_are_config_errors() {
    let err = RedisCache::new(&config_for("http://localhost", "")).unwrap_err();
    assert!(matches!(&err, CacheError::Config { key, .. } if key == "CACHE_REDIS_URL"), "{err}");
    let err = RedisCache::new(&Config::from_map([("CACHE_OPTIONS", "pool_size=0")]).unwrap()).unwrap_err();
    assert!(err.to_string().contains("CACHE_OPTIONS.pool_size"), "{err}");
    let err = RedisCache::new(&Config::from_map([("CACHE_OPTIONS", "respone_timeout=1s")]).unwrap()).unwrap_err();
    assert!(err.to_string().contains("Did you mean response_timeout?"), "{err}");
}

#[test]
fn the_factory_does_not_connect() {
    // An application starts while its cache server is down: building the backend never connects.
    let port = cachette_conformance::harness::free_port();
    RedisCache::new(&config_for(&format!("redis://127.0.0.1:{port}"), "")).unwrap();
}

/// Polls `op` until it succeeds, returning how long that took.
async fn until_ok<F, Fut, T>(limit: Duration, mut op: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = cachette_core::Result<T>>,
{
    let started = Instant::now();
    loop {
        if op().await.is_ok() {
            return started.elapsed();
        }
        assert!(started.elapsed() < limit, "no success within {limit:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_server_is_reconnected_to() {
    let mut server = RedisServer::start();
    let config = config_for(&server.url(), "f:");
    let mut ignoring = config.clone();
    ignoring.ignore_errors = true;
    let strict = Cache::new(Arc::new(RedisCache::new(&config).unwrap()), config);
    let lenient = Cache::new(Arc::new(RedisCache::new(&ignoring).unwrap()), ignoring);
    strict.set("k", "before", Ttl::Default).await.unwrap();
    assert_eq!(lenient.get::<String>("k").await.unwrap().as_deref(), Some("before"));

    server.kill();
    for _ in 0..5 {
        let started = Instant::now();
        let err = strict.get::<String>("k").await.unwrap_err();
        assert!(err.is_backend_failure(), "{err:?}");
        assert!(started.elapsed() < Duration::from_secs(5), "a call during the outage took {:?}", started.elapsed());
        assert_eq!(lenient.get::<String>("k").await.unwrap(), None, "with CACHE_IGNORE_ERRORS an outage is a miss");
        lenient.set("k", "during", Ttl::Default).await.unwrap();
    }
    assert!(lenient.stats().errors >= 10);

    server.restart();
    let strict_back = until_ok(Duration::from_secs(2), || strict.set("k", "after", Ttl::Default)).await;
    let lenient_back = until_ok(Duration::from_secs(2), || async {
        lenient.get::<String>("k").await?.ok_or(CacheError::config("", "", "miss"))
    })
    .await;
    println!("calls succeeded again {strict_back:?} (strict) and {lenient_back:?} (ignoring errors) after the restart");
    assert_eq!(strict.get::<String>("k").await.unwrap().as_deref(), Some("after"));
}
