//! A synchronous render over an asynchronous cache, on every kind of runtime and thread.

use cachette_conformance::harness::redis::RedisServer;
use cachette_minijinja::make_template_fragment_key;
use minijinja::context;

use crate::support::{self, Page, eventually};

const SIDEBAR_OF_ANN: &str = "<p>sidebar of ann #1</p>";

fn direct(page: &Page) -> Result<String, minijinja::Error> {
    page.env.get_template("sidebar.html").unwrap().render(context! { user => "ann" })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_direct_render_on_a_multi_thread_runtime_waits_for_redis_in_block_in_place() {
    let page = Page::new(support::redis("direct-multi-thread"), &[]);
    assert_eq!(direct(&page).unwrap(), SIDEBAR_OF_ANN);
    // Outside render_with the write goes to a task of the runtime: wait until it is stored.
    let key = make_template_fragment_key("sidebar", &["ann".into()]);
    eventually("the fragment is stored", async || page.cache().has(&key).await.unwrap()).await;
    assert_eq!(direct(&page).unwrap(), SIDEBAR_OF_ANN);
    assert_eq!(page.renders(), 1);
}

#[tokio::test(flavor = "current_thread")]
async fn a_direct_render_that_must_wait_on_a_current_thread_runtime_is_an_error_not_a_hang() {
    let page = Page::new(support::redis("direct-current-thread"), &[]);
    let e = direct(&page).unwrap_err();
    let message = format!("{e:#}");
    assert!(message.contains("current-thread tokio runtime") && message.contains("render_with"), "{message}");
    assert!(message.contains("\"sidebar\"") && message.contains("RedisCache"), "{message}");
    assert_eq!(page.renders(), 0);
}

#[tokio::test(flavor = "current_thread")]
async fn render_waits_for_redis_on_the_blocking_pool_of_a_current_thread_runtime() {
    let page = Page::new(support::redis("render-current-thread"), &[]);
    assert_eq!(page.render("sidebar.html", context! { user => "ann" }).await, SIDEBAR_OF_ANN);
    assert_eq!(page.render("sidebar.html", context! { user => "ann" }).await, SIDEBAR_OF_ANN);
    assert_eq!(page.renders(), 1);
}

#[tokio::test(flavor = "current_thread")]
async fn an_in_process_cache_answers_a_direct_render_on_a_current_thread_runtime() {
    // SimpleCache answers on the first poll: nothing has to wait, so nothing is refused.
    let page = Page::new(support::simple("simple-current-thread"), &[]);
    assert_eq!(direct(&page).unwrap(), SIDEBAR_OF_ANN);
    assert_eq!(direct(&page).unwrap(), SIDEBAR_OF_ANN);
    assert_eq!(page.renders(), 1);
}

#[test]
fn a_render_outside_a_tokio_runtime_is_an_error_naming_the_fix() {
    let page = Page::new(support::simple("no-runtime"), &[]);
    let message = format!("{:#}", direct(&page).unwrap_err());
    assert!(message.contains("outside one") && message.contains("cachette_minijinja::render"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fragment_served_from_the_cache_is_escaped_once_as_its_body_was() {
    let page = Page::new(
        support::redis("escaping"),
        &[("escaped.html", r#"{% call cache(300, "e") %}{{ "<b>" }}{% endcall %}{{ "<i>" }}"#)],
    );
    let first = page.render("escaped.html", context! {}).await;
    assert_eq!(first, "&lt;b&gt;&lt;i&gt;");
    assert_eq!(page.render("escaped.html", context! {}).await, first);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_renders_its_fragments_without_a_cache_while_redis_is_down() {
    let mut server = RedisServer::start();
    let mut config = support::config("redis-down");
    server.target().apply(&mut config);
    let backend = cachette_redis::RedisCache::new(&config).unwrap();
    let page = Page::new(cachette_core::Cache::new(std::sync::Arc::new(backend), config), &[]);
    assert_eq!(page.render("sidebar.html", context! { user => "ann" }).await, SIDEBAR_OF_ANN);

    server.kill();
    // Each render renders the fragment: the page does not fail with its cache.
    assert_eq!(page.render("sidebar.html", context! { user => "bob" }).await, "<p>sidebar of bob #2</p>");
    assert_eq!(page.render("sidebar.html", context! { user => "bob" }).await, "<p>sidebar of bob #3</p>");
    assert_eq!(page.render("delete-sidebar.html", context! { user => "bob" }).await, "deleted");
    assert!(page.cache().stats().errors > 0);
}
