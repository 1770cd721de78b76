//! What a cached fragment costs: on a hit, and on a miss, on SimpleCache, Redis and memcached.
//!
//! `cargo bench -p cachette-minijinja --bench fragments` (the Redis and memcached servers are
//! started on loopback by cachette-conformance's harness).
//!
//! Each template is one page with one fragment whose body is a 20-item list:
//!
//! * `empty`: the page without the fragment — what rendering costs with nothing in it;
//! * `call-block`: a `{% call %}` block of a function that does not render its body, no cache —
//!   minijinja's own share of a hit;
//! * `uncached`: the page with the body inline, no cache — what the fragment saves on a hit;
//! * `hit`: the page with the fragment cached: hit − empty is the cost of one cached fragment;
//! * `miss`: a new fragment every iteration (it varies on a counter): miss − uncached is what a
//!   miss adds to rendering the body (one read, one write).
//!
//! `direct` renders with `Template::render` on the calling thread; `render` through
//! `cachette_minijinja::render` (the blocking pool, writes awaited before it returns);
//! `direct-in-task` with `Template::render` in a task on a runtime worker, where a lookup that
//! waits on the network goes through `block_in_place` (compare with `uncached-in-task`).
// criterion_group! defines a public function it cannot document.
#![allow(missing_docs)]

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use cachette_conformance::harness::{memcached, redis};
use cachette_core::{BaseCache, Cache, Config};
use criterion::{Criterion, criterion_group, criterion_main};
use minijinja::{Environment, Value, context};
use tokio::runtime::Runtime;

const BODY: &str = "{% for i in range(20) %}<li>{{ i }}: {{ user }}</li>{% endfor %}";

fn environment(cache: Cache) -> Arc<Environment<'static>> {
    let mut env = Environment::new();
    cachette_minijinja::install(&mut env, cache);
    // minijinja's own cost of a call block whose body is not rendered, without any cache.
    env.add_function("skip", |_caller: minijinja::value::Kwargs| "");
    env.add_template_owned("call-block.html", format!("<ul>{{% call skip() %}}{BODY}{{% endcall %}}</ul>")).unwrap();
    env.add_template_owned("empty.html", "<ul></ul>".to_owned()).unwrap();
    env.add_template_owned("uncached.html", format!("<ul>{BODY}</ul>")).unwrap();
    env.add_template_owned("hit.html", format!(r#"<ul>{{% call cache(0, "list", user) %}}{BODY}{{% endcall %}}</ul>"#))
        .unwrap();
    env.add_template_owned("miss.html", format!(r#"<ul>{{% call cache(60, "new", n) %}}{BODY}{{% endcall %}}</ul>"#))
        .unwrap();
    Arc::new(env)
}

fn cache(backend: &str) -> Cache {
    let mut config = Config::default();
    config.key_prefix = format!("minijinja-bench:{:08x}:", rand::random::<u32>());
    config.fail_safe.deadline = Duration::from_secs(5);
    let backend: Arc<dyn BaseCache> = match backend {
        "simple" => Arc::new(cachette_simple::SimpleCache::new(&config).unwrap()),
        "redis" => {
            redis::standalone().apply(&mut config);
            Arc::new(cachette_redis::RedisCache::new(&config).unwrap())
        }
        _ => {
            memcached::single().apply(&mut config);
            Arc::new(cachette_memcached::MemcachedCache::new(&config).unwrap())
        }
    };
    Cache::new(backend, config)
}

fn direct(env: &Environment<'static>, name: &str, ctx: Value) -> String {
    env.get_template(name).unwrap().render(ctx).unwrap()
}

fn bench_backend(c: &mut Criterion, runtime: &Runtime, backend: &str) {
    let env = runtime.block_on(async { environment(cache(backend)) });
    let user = || context! { user => "ann" };
    let counter = AtomicU64::new(0);
    let fresh = || context! { user => "ann", n => counter.fetch_add(1, Relaxed) };
    let mut group = c.benchmark_group(format!("fragments/{backend}"));
    // Warm the fragment the hits read.
    runtime.block_on(cachette_minijinja::render(&env, "hit.html", user())).unwrap();

    if backend == "simple" {
        // SimpleCache answers on the first poll: a direct render never waits.
        let _entered = runtime.enter();
        group.bench_function("empty/direct", |b| b.iter(|| black_box(direct(&env, "empty.html", user()))));
        group.bench_function("call-block/direct", |b| b.iter(|| black_box(direct(&env, "call-block.html", user()))));
        group.bench_function("uncached/direct", |b| b.iter(|| black_box(direct(&env, "uncached.html", user()))));
        group.bench_function("hit/direct", |b| b.iter(|| black_box(direct(&env, "hit.html", user()))));
        group.bench_function("miss/direct", |b| b.iter(|| black_box(direct(&env, "miss.html", fresh()))));
    } else {
        let in_task = |name: &'static str, make: fn() -> Value| {
            let env = Arc::clone(&env);
            async move { tokio::spawn(async move { direct(&env, name, make()) }).await.unwrap() }
        };
        group.bench_function("uncached-in-task", |b| {
            b.to_async(runtime).iter(|| in_task("uncached.html", || context! { user => "ann" }))
        });
        group.bench_function("hit/direct-in-task", |b| {
            b.to_async(runtime).iter(|| in_task("hit.html", || context! { user => "ann" }))
        });
    }
    group.bench_function("empty/render", |b| {
        b.to_async(runtime).iter(|| cachette_minijinja::render(&env, "empty.html", user()))
    });
    group.bench_function("uncached/render", |b| {
        b.to_async(runtime).iter(|| cachette_minijinja::render(&env, "uncached.html", user()))
    });
    group.bench_function("hit/render", |b| {
        b.to_async(runtime).iter(|| cachette_minijinja::render(&env, "hit.html", user()))
    });
    group.bench_function("miss/render", |b| {
        b.to_async(runtime).iter(|| cachette_minijinja::render(&env, "miss.html", fresh()))
    });
    group.finish();
}

fn fragments(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    for backend in ["simple", "redis", "memcached"] {
        bench_backend(c, &runtime, backend);
    }
}

criterion_group! {
    name = benches;
    // A shared 2-core machine: short runs, enough to tell microseconds from tens of them.
    config = Criterion::default().sample_size(30).warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2));
    targets = fragments
}
criterion_main!(benches);
