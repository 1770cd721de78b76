//! Registering the template function.

use std::sync::Arc;

use cachette_conformance::harness::redis;
use cachette_core::Cache;
use cachette_minijinja::{FragmentCache, make_template_fragment_key};
use minijinja::{Environment, context};

use crate::support;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fragment_cache_installed_under_another_name_works_beside_a_cache_variable() {
    let fragments = FragmentCache::new(support::simple("install-as"));
    let mut env = Environment::new();
    fragments.install_as(&mut env, "fragment");
    env.add_template("page.txt", r#"{{ cache }}: {% call fragment(60, "f", n) %}{{ n + 1 }}{% endcall %}"#).unwrap();
    let env = Arc::new(env);

    let page = cachette_minijinja::render(&env, "page.txt", context! { cache => "mine", n => 1 }).await.unwrap();
    assert_eq!(page, "mine: 2");
    let stored = fragments.cache().get::<String>(&make_template_fragment_key("f", &[1.into()])).await.unwrap();
    assert_eq!(stored.as_deref(), Some("2"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timeout_of_none_stores_the_fragment_for_the_caches_default_timeout() {
    let mut config = support::config("default-timeout");
    redis::standalone().apply(&mut config);
    let backend = cachette_redis::RedisCache::new(&config).unwrap();
    let stored_key = backend.stored_key(&make_template_fragment_key("d", &[]));
    let mut env = Environment::new();
    cachette_minijinja::install(&mut env, Cache::new(Arc::new(backend), config.clone()));
    let env = Arc::new(env);

    let out =
        cachette_minijinja::render_with(move || env.render_str(r#"{% call cache(none, "d") %}d{% endcall %}"#, ()))
            .await
            .unwrap();
    assert_eq!(out, "d");
    // The support config's CACHE_DEFAULT_TIMEOUT is 300 s (Redis answers -1 for no expiry).
    let port = config.redis_url.as_deref().unwrap().rsplit(':').next().unwrap().parse().unwrap();
    let ttl: i64 = redis::cli(port, None, &["PTTL", &stored_key]).trim().parse().unwrap();
    assert!((290_000..=300_000).contains(&ttl), "PTTL {ttl}");
}
