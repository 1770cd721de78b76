//! RedisCache with each CACHE_SERIALIZER: the typed cases of the conformance suite (the whole
//! suite runs with the defaults in tests/redis.rs), and JSON entries as other tools see them.

use std::sync::Arc;

use cachette_conformance::harness::redis::{self, RedisServer};
use cachette_conformance::{Backend, BackendFactory};
use cachette_core::{BaseCache, Cache, Config, Ttl};
use cachette_redis::RedisCache;
use serde::{Deserialize, Serialize};

/// RedisCache on the shared server with the codec settings `settings`.
fn redis_with(settings: &'static [(&'static str, &'static str)]) -> impl BackendFactory {
    Backend::new(|mut config: Config| async move {
        redis::standalone().apply(&mut config);
        Ok(Arc::new(RedisCache::new(&config)?) as Arc<dyn BaseCache>)
    })
    .with_settings(settings)
}

cachette_conformance::typed_cases!(json, redis_with(&[("CACHE_SERIALIZER", "json")]));
cachette_conformance::typed_cases!(
    postcard_zstd,
    redis_with(&[("CACHE_COMPRESSION", "zstd"), ("CACHE_COMPRESSION_MIN_SIZE", "0")])
);

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Profile {
    id: u64,
    name: String,
    roles: Vec<String>,
    score: Option<f64>,
}

#[tokio::test]
async fn a_json_entry_read_with_redis_cli_get_is_json_that_serde_json_parses() {
    let server = RedisServer::start();
    let config = Config::from_map([
        ("CACHE_REDIS_URL", server.url().as_str()),
        ("CACHE_KEY_PREFIX", "app:"),
        ("CACHE_SERIALIZER", "json"),
    ])
    .unwrap();
    let cache = Cache::new(Arc::new(RedisCache::new(&config).unwrap()), config);
    let profile = Profile { id: 7, name: "Zoë".into(), roles: vec!["admin".into()], score: Some(0.5) };
    cache.set("profile:7", &profile, Ttl::Default).await.unwrap();
    cache.set("visits", &41u64, Ttl::Default).await.unwrap();
    assert_eq!(cache.inc("visits", 1).await.unwrap(), 42);

    // On the server, the key `k` of the prefix `app:` is `4:app:k` (see the crate docs).
    let shown = server.cli(&["GET", "4:app:profile:7"]);
    let parsed: serde_json::Value = serde_json::from_str(shown.trim()).unwrap();
    assert_eq!(parsed, serde_json::json!({"id": 7, "name": "Zoë", "roles": ["admin"], "score": 0.5}));
    assert_eq!(serde_json::from_str::<Profile>(shown.trim()).unwrap(), profile);
    assert_eq!(server.cli(&["GET", "4:app:visits"]).trim(), "42");

    // JSON another program wrote reads back as the type.
    server.cli(&["SET", "4:app:profile:8", r#"{"id":8,"name":"Ada","roles":[],"score":null}"#]);
    let written_by_another = cache.get::<Profile>("profile:8").await.unwrap().unwrap();
    assert_eq!(written_by_another, Profile { id: 8, name: "Ada".into(), roles: vec![], score: None });
}
