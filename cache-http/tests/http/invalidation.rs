//! Invalidation from outside a request: tags on cached responses (`CacheTags`, `Cache-Tag`,
//! `Surrogate-Key`, the route's own), `delete_cached` of a view with every variant of it, and
//! several `Vary` variants of one URL, bounded.

use std::sync::Arc;

use axum::extract::Path;
use axum::routing::get;
use axum::{Extension, Router};
use cachette_conformance::harness::redis::RedisServer;
use cachette_core::{BaseCache, Cache};
use cachette_http::{CacheLayer, CacheTags, MAX_VARIANTS, ViewCache};
use http::header;

use crate::support::{Calls, Reply, Server, counted, counted_with, held_render, wait_until};

/// `GET path` with these `(name, value)` headers: its `X-Cache`.
async fn x_cache(server: &Server, path: &str, headers: &[(&str, &str)]) -> String {
    server.get_with(path, headers).await.x_cache().to_owned()
}

/// A handler that greets in the request's `Accept-Language` and says it varies on it.
fn greeting(calls: &Calls) -> axum::routing::MethodRouter {
    let calls = calls.clone();
    get(move |headers: http::HeaderMap| {
        calls.hit();
        let language = headers.get(header::ACCEPT_LANGUAGE).map_or("none", |v| v.to_str().unwrap()).to_owned();
        async move { ([(header::VARY, "Accept-Language")], format!("hello in {language}")) }
    })
}

async fn one_tag_invalidation_makes_every_entry_with_the_tag_miss_and_no_other(cache: Cache) {
    let (user, team, other) = (Calls::default(), Calls::default(), Calls::default());
    let layer = CacheLayer::new(cache.clone());
    let app = Router::new()
        .route("/users/42", counted_with(&user, |_| (Extension(CacheTags::new(["user:42"])), "Ada")))
        .route("/teams/7/members", counted_with(&team, |_| ([("cache-tag", "team:7, user:42")], "Ada, Grace")))
        .route("/teams/8/members", counted(&other, "Linus"))
        .layer(layer.clone());
    let server = Server::start(app).await;
    for path in ["/users/42", "/teams/7/members", "/teams/8/members"] {
        assert_eq!(x_cache(&server, path, &[]).await, "MISS", "{path}");
    }
    wait_until("the three entries are stored", || layer.stats().stored == 3).await;
    for path in ["/users/42", "/teams/7/members", "/teams/8/members"] {
        assert_eq!(x_cache(&server, path, &[]).await, "HIT", "{path}");
    }

    cache.invalidate_tag("user:42").await.unwrap();
    assert_eq!(x_cache(&server, "/users/42", &[]).await, "MISS");
    assert_eq!(x_cache(&server, "/teams/7/members", &[]).await, "MISS");
    assert_eq!(x_cache(&server, "/teams/8/members", &[]).await, "HIT", "an entry without the tag stays");
    assert_eq!((user.get(), team.get(), other.get()), (2, 2, 1));
}

async fn tag_headers_are_stripped_unless_the_layer_keeps_them(cache: Cache) {
    let tagged = || get(|| async { ([("cache-tag", "a,b"), ("surrogate-key", "c d")], "tagged") });
    let app = Router::new()
        .route("/stripped", tagged().layer(CacheLayer::new(cache.clone())))
        .route("/kept", tagged().layer(CacheLayer::new(cache.clone()).keep_tag_headers()));
    let server = Server::start(app).await;
    for x_cache in ["MISS", "HIT"] {
        let stripped = server.get("/stripped").await;
        assert_eq!(stripped.x_cache(), x_cache);
        assert_eq!((stripped.header("cache-tag"), stripped.header("surrogate-key")), ("", ""), "{x_cache}");
        let kept = server.get("/kept").await;
        assert_eq!(kept.x_cache(), x_cache);
        assert_eq!((kept.header("cache-tag"), kept.header("surrogate-key")), ("a,b", "c d"), "{x_cache}");
    }
    cache.invalidate_tag("c").await.unwrap();
    assert_eq!(server.get("/stripped").await.x_cache(), "MISS", "a stripped Surrogate-Key still tags the entry");
}

async fn a_handlers_tag_invalidated_during_its_render_keeps_the_render_out_of_the_cache(cache: Cache) {
    let (calls, gate) = (Calls::default(), Arc::new(tokio::sync::Semaphore::new(0)));
    // The first render has read its data, and waits.
    let slow = held_render(&calls, &gate, |n| n == 1, |n| ([("surrogate-key", "report")], format!("render {n}")));
    let server = Server::start(Router::new().route("/report", slow).layer(CacheLayer::new(cache.clone()))).await;
    let rendering = tokio::spawn(Reply::of(server.request(reqwest::Method::GET, "/report")));
    wait_until("the render has started", || calls.get() == 1).await;
    cache.invalidate_tag("report").await.unwrap(); // the data changed
    gate.add_permits(1);
    let first = rendering.await.unwrap();
    assert_eq!((first.x_cache(), first.text()), ("MISS", "render 1"));
    // At once: the first render may still be being stored.
    let next = server.get("/report").await;
    assert_eq!((next.x_cache(), next.text()), ("MISS", "render 2"), "the render from before the invalidation");
    // Renders that began within a second of the invalidation are not kept either (the clocks of
    // a fleet's processes may disagree by that much); a later one is.
    let mut later = server.get("/report").await;
    for _ in 0..250 {
        if later.x_cache() == "HIT" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        later = server.get("/report").await;
    }
    assert_eq!(later.x_cache(), "HIT", "a render begun after the invalidation is kept");
    assert_ne!(later.text(), "render 1");
}

async fn a_route_tags_all_its_entries(cache: Cache) {
    let layer = CacheLayer::new(cache.clone()).tags(["catalog"]);
    let app = Router::new().route("/items/{id}", get(|Path(id): Path<u32>| async move { format!("item {id}") }));
    let server = Server::start(app.layer(layer.clone())).await;
    for path in ["/items/1", "/items/2"] {
        server.get(path).await;
    }
    wait_until("both entries are stored", || layer.stats().stored == 2).await;
    assert_eq!(x_cache(&server, "/items/1", &[]).await, "HIT");
    cache.invalidate_tag("catalog").await.unwrap();
    assert_eq!(x_cache(&server, "/items/1", &[]).await, "MISS");
    assert_eq!(x_cache(&server, "/items/2", &[]).await, "MISS");
}

async fn delete_cached_removes_every_variant_user_and_method_of_a_url(cache: Cache) {
    let calls = Calls::default();
    let layer = CacheLayer::new(cache.clone())
        .per_user(|parts| parts.headers.get("x-user").and_then(|v| v.to_str().ok()).map(str::to_owned));
    let app = Router::new().route("/users/{id}", greeting(&calls)).layer(layer.clone());
    let server = Server::start(app).await;
    // The last is the entry the HEADs ask for, and no GET after the deletion.
    let requests: [(&str, &[(&str, &str)]); 5] = [
        ("/users/42", &[("accept-language", "fr"), ("x-user", "ada")]),
        ("/users/42", &[("accept-language", "de"), ("x-user", "ada")]),
        ("/users/42", &[("accept-language", "fr"), ("x-user", "bob")]),
        ("/users/43", &[("accept-language", "fr"), ("x-user", "ada")]),
        ("/users/42", &[("accept-language", "it"), ("x-user", "ada")]),
    ];
    for (stored, (path, headers)) in requests.iter().enumerate() {
        assert_eq!(x_cache(&server, path, headers).await, "MISS");
        wait_until("the entry is stored", || layer.stats().stored == stored as u64 + 1).await;
    }
    let head =
        || server.request(reqwest::Method::HEAD, "/users/42").header("accept-language", "it").header("x-user", "ada");
    assert_eq!(Reply::of(head()).await.x_cache(), "HIT", "a HEAD is served from the GET entry");
    for (path, headers) in &requests {
        assert_eq!(x_cache(&server, path, headers).await, "HIT", "{path} {headers:?}");
    }

    cache.delete_cached(&format!("{}/users/42", server.base)).await.unwrap();
    assert_eq!(Reply::of(head()).await.x_cache(), "MISS");
    for (path, headers) in &requests[..3] {
        assert_eq!(x_cache(&server, path, headers).await, "MISS", "{path} {headers:?}");
    }
    assert_eq!(x_cache(&server, "/users/43", requests[3].1).await, "HIT", "another URL stays");
}

async fn delete_cached_of_a_path_reaches_every_query_and_of_a_url_only_its_own(cache: Cache) {
    let layer = CacheLayer::new(cache.clone());
    let app = Router::new().route("/search", get(|| async { "results" })).layer(layer.clone());
    let server = Server::start(app).await;
    for path in ["/search", "/search?q=a", "/search?q=b&page=2"] {
        server.get(path).await;
    }
    wait_until("the three entries are stored", || layer.stats().stored == 3).await;
    cache.delete_cached(&format!("{}/search?page=2&q=b", server.base)).await.unwrap();
    assert_eq!(x_cache(&server, "/search?q=b&page=2", &[]).await, "MISS", "the query is normalised");
    assert_eq!(x_cache(&server, "/search?q=a", &[]).await, "HIT");
    assert_eq!(x_cache(&server, "/search", &[]).await, "HIT");
    cache.delete_cached(&format!("{}/search", server.base)).await.unwrap();
    assert_eq!(x_cache(&server, "/search?q=a", &[]).await, "MISS", "a path without a query: every query");
    assert_eq!(x_cache(&server, "/search", &[]).await, "MISS");
    assert!(cache.delete_cached("http://[bad").await.is_err(), "not a URL");
}

async fn requests_alternating_two_languages_hit_after_the_first_of_each(cache: Cache) {
    let calls = Calls::default();
    let layer = CacheLayer::new(cache);
    let server = Server::start(Router::new().route("/greeting", greeting(&calls)).layer(layer.clone())).await;
    let mut seen = Vec::new();
    for round in 0..3 {
        for language in ["fr", "de"] {
            let reply = server.get_with("/greeting", &[("accept-language", language)]).await;
            assert_eq!(reply.text(), format!("hello in {language}"));
            seen.push(reply.x_cache().to_owned());
            if round == 0 {
                wait_until("the variant is stored", || layer.stats().stored == seen.len() as u64).await;
            }
        }
    }
    assert_eq!(seen, ["MISS", "MISS", "HIT", "HIT", "HIT", "HIT"]);
    assert_eq!(calls.get(), 2);
}

async fn a_url_past_the_variant_bound_renders_new_variants_without_storing_them(cache: Cache) {
    let calls = Calls::default();
    let layer = CacheLayer::new(cache);
    let server = Server::start(Router::new().route("/greeting", greeting(&calls)).layer(layer.clone())).await;
    let languages: Vec<String> = (0..MAX_VARIANTS).map(|n| format!("l{n}")).collect();
    for (n, language) in languages.iter().enumerate() {
        assert_eq!(x_cache(&server, "/greeting", &[("accept-language", language)]).await, "MISS");
        wait_until("the variant is stored", || layer.stats().stored == n as u64 + 1).await;
    }
    for _ in 0..2 {
        assert_eq!(x_cache(&server, "/greeting", &[("accept-language", "one too many")]).await, "MISS");
    }
    assert_eq!(layer.stats().over_variant_limit, 2);
    assert_eq!(layer.stats().stored, MAX_VARIANTS as u64);
    for language in &languages {
        assert_eq!(x_cache(&server, "/greeting", &[("accept-language", language)]).await, "HIT", "{language}");
    }
    assert_eq!(calls.get(), MAX_VARIANTS + 2);
}

async fn a_view_deleted_during_its_render_is_not_served_from_that_render(cache: Cache) {
    let (calls, gate) = (Calls::default(), Arc::new(tokio::sync::Semaphore::new(0)));
    let slow = held_render(&calls, &gate, |_| true, |n| format!("render {n}"));
    let server = Server::start(Router::new().route("/report", slow).layer(CacheLayer::new(cache.clone()))).await;
    let rendering = tokio::spawn(Reply::of(server.request(reqwest::Method::GET, "/report")));
    wait_until("the render has started", || calls.get() == 1).await;
    cache.delete_cached(&format!("{}/report", server.base)).await.unwrap(); // the data changed
    gate.add_permits(2);
    let first = rendering.await.unwrap();
    assert_eq!((first.x_cache(), first.text()), ("MISS", "render 1"));
    let next = server.get("/report").await;
    assert_eq!(
        (next.x_cache(), next.text()),
        ("MISS", "render 2"),
        "the render from before the deletion is not served"
    );
    assert_eq!(server.get("/report").await.text(), "render 2");
}

on_every_backend!(
    a_view_deleted_during_its_render_is_not_served_from_that_render,
    one_tag_invalidation_makes_every_entry_with_the_tag_miss_and_no_other,
    tag_headers_are_stripped_unless_the_layer_keeps_them,
    a_handlers_tag_invalidated_during_its_render_keeps_the_render_out_of_the_cache,
    a_route_tags_all_its_entries,
    delete_cached_removes_every_variant_user_and_method_of_a_url,
    delete_cached_of_a_path_reaches_every_query_and_of_a_url_only_its_own,
    requests_alternating_two_languages_hit_after_the_first_of_each,
    a_url_past_the_variant_bound_renders_new_variants_without_storing_them,
);

/// The calls of each command in `INFO commandstats`, without `INFO`'s own.
fn command_calls(server: &RedisServer) -> Vec<(String, u64)> {
    let info = server.cli(&["INFO", "commandstats"]);
    let mut calls: Vec<(String, u64)> = info
        .lines()
        .filter_map(|line| {
            let (name, stats) = line.trim().strip_prefix("cmdstat_")?.split_once(':')?;
            let calls = stats.split(',').find_map(|s| s.strip_prefix("calls="))?.parse().ok()?;
            (name != "info").then(|| (name.to_owned(), calls))
        })
        .collect();
    calls.sort();
    calls
}

/// What `after` counts beyond `before`, per command.
fn difference(before: &[(String, u64)], after: &[(String, u64)]) -> Vec<(String, u64)> {
    after
        .iter()
        .map(|(name, n)| (name.clone(), n - before.iter().find(|(b, _)| b == name).map_or(0, |(_, m)| *m)))
        .filter(|(_, n)| *n > 0)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalidating_a_tag_of_a_hundred_entries_is_one_set_on_redis() {
    // A server of its own, so that no other test's commands are counted.
    let server = RedisServer::start();
    let mut config = cachette_core::Config::default();
    server.target().apply(&mut config);
    config.fail_safe.deadline = std::time::Duration::from_secs(5);
    let backend = cachette_redis::RedisCache::new(&config).unwrap();
    let cache = Cache::new(Arc::new(backend) as Arc<dyn BaseCache>, config);
    let layer = CacheLayer::new(cache.clone()).tags(["catalog"]);
    let app = Router::new().route("/items/{id}", get(|Path(id): Path<u32>| async move { format!("item {id}") }));
    let http = Server::start(app.layer(layer.clone())).await;
    for id in 0..100 {
        http.get(&format!("/items/{id}")).await;
    }
    wait_until("the hundred entries are stored", || layer.stats().stored == 100).await;
    assert_eq!(x_cache(&http, "/items/7", &[]).await, "HIT");

    let before = command_calls(&server);
    cache.invalidate_tag("catalog").await.unwrap();
    let invalidation = difference(&before, &command_calls(&server));
    eprintln!("INFO commandstats, invalidate_tag of 100 entries: {invalidation:?}");
    assert_eq!(invalidation, [("set".to_owned(), 1)], "one write");

    let before = command_calls(&server);
    cache.delete_cached(&format!("{}/items/8", http.base)).await.unwrap();
    let deletion = difference(&before, &command_calls(&server));
    eprintln!("INFO commandstats, delete_cached of a URL: {deletion:?}");
    assert_eq!(deletion, [("exec".to_owned(), 1), ("multi".to_owned(), 1), ("set".to_owned(), 2)], "one transaction");

    for id in 0..100 {
        assert_eq!(x_cache(&http, &format!("/items/{id}"), &[]).await, "MISS", "item {id}");
    }
}
