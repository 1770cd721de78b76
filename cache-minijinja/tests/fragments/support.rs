//! Caches on real backends, and a page whose fragment bodies count their renders.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::{Duration, Instant};

use cachette_conformance::harness::{memcached, redis};
use cachette_core::{BaseCache, Cache, Config, Expiry};
use cachette_minijinja::FragmentCache;
use minijinja::{Environment, Value};

/// The templates every page has. `count()` outputs how many fragment bodies the page has
/// rendered so far, so an output says which render it came from.
pub(crate) const TEMPLATES: &[(&str, &str)] = &[
    (
        "sidebar.html",
        r#"<p>{% call cache(300, "sidebar", user) %}sidebar of {{ user }} #{{ count() }}{% endcall %}</p>"#,
    ),
    ("delete-sidebar.html", r#"{% call cache('del', "sidebar", user) %}deleted{% endcall %}"#),
    ("short.html", r#"{% call cache(2, "short") %}#{{ count() }}{% endcall %}"#),
];

pub(crate) fn config(case: &str) -> Config {
    let mut config = Config::default();
    config.key_prefix = format!("minijinja-test:{case}:{:08x}:", rand::random::<u32>());
    config.default_timeout = Expiry::After(Duration::from_secs(300));
    // The facade's default deadline (100 ms) turns a slow call into a miss, by design; on a
    // loaded 2-core test machine that would count fail-safe renders, not the fragment cache's.
    config.fail_safe.deadline = Duration::from_secs(5);
    config
}

/// A SimpleCache of its own.
pub(crate) fn simple(case: &str) -> Cache {
    let config = config(case);
    let backend = cachette_simple::SimpleCache::new(&config).unwrap();
    Cache::new(Arc::new(backend) as Arc<dyn BaseCache>, config)
}

/// A RedisCache on the shared redis-server of the harness (or `CACHETTE_TEST_REDIS_URL`).
pub(crate) fn redis(case: &str) -> Cache {
    let mut config = config(case);
    redis::standalone().apply(&mut config);
    let backend = cachette_redis::RedisCache::new(&config).unwrap();
    Cache::new(Arc::new(backend) as Arc<dyn BaseCache>, config)
}

/// A MemcachedCache on the shared memcached of the harness (or `CACHETTE_TEST_MEMCACHED_SERVERS`).
pub(crate) fn memcached(case: &str) -> Cache {
    let mut config = config(case);
    memcached::single().apply(&mut config);
    let backend = cachette_memcached::MemcachedCache::new(&config).unwrap();
    Cache::new(Arc::new(backend) as Arc<dyn BaseCache>, config)
}

/// An environment with fragment caching over one cache, [`TEMPLATES`] and `extra` templates.
pub(crate) struct Page {
    pub(crate) env: Arc<Environment<'static>>,
    pub(crate) fragments: FragmentCache,
    renders: Arc<AtomicUsize>,
}

impl Page {
    pub(crate) fn new(cache: Cache, extra: &[(&'static str, &'static str)]) -> Page {
        let mut env = Environment::new();
        let fragments = cachette_minijinja::install(&mut env, cache);
        let renders = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&renders);
        env.add_function("count", move || counter.fetch_add(1, SeqCst) + 1);
        for (name, source) in TEMPLATES.iter().chain(extra) {
            env.add_template(name, source).unwrap();
        }
        Page { env: Arc::new(env), fragments, renders }
    }

    /// Renders through `cachette_minijinja::render`.
    pub(crate) async fn render(&self, name: &str, ctx: Value) -> String {
        cachette_minijinja::render(&self.env, name, ctx).await.unwrap_or_else(|e| panic!("{name}: {e:#}"))
    }

    /// Fragment bodies rendered so far.
    pub(crate) fn renders(&self) -> usize {
        self.renders.load(SeqCst)
    }

    pub(crate) fn cache(&self) -> &Cache {
        self.fragments.cache()
    }
}

/// Waits (a bounded while) until `done` holds.
pub(crate) async fn eventually(what: &str, mut done: impl AsyncFnMut() -> bool) {
    let started = Instant::now();
    while !done().await {
        assert!(started.elapsed() < Duration::from_secs(10), "gave up waiting until {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
