//! What a cached fragment does, on SimpleCache, Redis and memcached alike.

use cachette_core::Cache;
use cachette_minijinja::make_template_fragment_key;
use minijinja::context;

use crate::support::{Page, eventually};

/// One `#[tokio::test]` per scenario and backend: `caching::<backend>::<scenario>`.
macro_rules! on_every_backend {
    ($($scenario:ident),* $(,)?) => {
        on_every_backend!(@backend simple: $($scenario),*);
        on_every_backend!(@backend redis: $($scenario),*);
        on_every_backend!(@backend memcached: $($scenario),*);
    };
    (@backend $backend:ident: $($scenario:ident),*) => {
        mod $backend {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    super::$scenario(crate::support::$backend(stringify!($scenario))).await;
                }
            )*
        }
    };
}

on_every_backend!(
    a_cached_fragment_renders_its_body_once_within_its_timeout,
    the_fragment_is_stored_under_the_key_make_template_fragment_key_computes,
    deleting_the_computed_key_renders_the_fragment_again,
    the_del_form_deletes_the_fragment_and_renders_its_body,
    each_vary_on_value_has_a_fragment_of_its_own,
    a_fragment_expires_after_its_timeout,
    a_fragment_used_twice_in_one_render_is_rendered_once,
    a_delete_after_a_store_in_the_same_render_wins,
);

async fn a_cached_fragment_renders_its_body_once_within_its_timeout(cache: Cache) {
    let page = Page::new(cache, &[]);
    for _ in 0..3 {
        assert_eq!(page.render("sidebar.html", context! { user => "ann" }).await, "<p>sidebar of ann #1</p>");
    }
    assert_eq!(page.renders(), 1);
}

async fn the_fragment_is_stored_under_the_key_make_template_fragment_key_computes(cache: Cache) {
    let page = Page::new(cache, &[]);
    page.render("sidebar.html", context! { user => "ann" }).await;
    let key = make_template_fragment_key("sidebar", &["ann".into()]);
    assert_eq!(key, "_template_fragment_cache_sidebar_ann");
    assert_eq!(page.cache().get::<String>(&key).await.unwrap().as_deref(), Some("sidebar of ann #1"));
}

async fn deleting_the_computed_key_renders_the_fragment_again(cache: Cache) {
    let page = Page::new(cache, &[]);
    assert_eq!(page.render("sidebar.html", context! { user => "ann" }).await, "<p>sidebar of ann #1</p>");

    let key = make_template_fragment_key("sidebar", &["ann".into()]);
    assert!(page.cache().delete(&key).await.unwrap());

    assert_eq!(page.render("sidebar.html", context! { user => "ann" }).await, "<p>sidebar of ann #2</p>");
    assert_eq!(page.render("sidebar.html", context! { user => "ann" }).await, "<p>sidebar of ann #2</p>");
}

async fn the_del_form_deletes_the_fragment_and_renders_its_body(cache: Cache) {
    let page = Page::new(cache, &[]);
    page.render("sidebar.html", context! { user => "ann" }).await;
    page.render("sidebar.html", context! { user => "bob" }).await;

    // Flask-Caching's `{% cache 'del', ... %}`: the stored fragment goes, the body is output.
    assert_eq!(page.render("delete-sidebar.html", context! { user => "ann" }).await, "deleted");
    let key = make_template_fragment_key("sidebar", &["ann".into()]);
    assert_eq!(page.cache().get::<String>(&key).await.unwrap(), None);

    assert_eq!(page.render("sidebar.html", context! { user => "ann" }).await, "<p>sidebar of ann #3</p>");
    assert_eq!(page.render("sidebar.html", context! { user => "bob" }).await, "<p>sidebar of bob #2</p>");
}

async fn each_vary_on_value_has_a_fragment_of_its_own(cache: Cache) {
    let page = Page::new(cache, &[]);
    assert_eq!(page.render("sidebar.html", context! { user => "ann" }).await, "<p>sidebar of ann #1</p>");
    assert_eq!(page.render("sidebar.html", context! { user => "bob" }).await, "<p>sidebar of bob #2</p>");
    assert_eq!(page.render("sidebar.html", context! { user => "ann" }).await, "<p>sidebar of ann #1</p>");
    assert_eq!(page.render("sidebar.html", context! { user => "bob" }).await, "<p>sidebar of bob #2</p>");
    // A value with the separator in it is a fragment of its own too.
    assert_eq!(page.render("sidebar.html", context! { user => "ann_bob" }).await, "<p>sidebar of ann_bob #3</p>");
    assert_eq!(page.renders(), 3);
}

async fn a_fragment_expires_after_its_timeout(cache: Cache) {
    // 2 s, not 1: memcached counts expiry in whole seconds of its own clock, so a 1 s entry may
    // be gone a moment after it was written.
    let page = Page::new(cache, &[]);
    assert_eq!(page.render("short.html", context! {}).await, "#1");
    assert_eq!(page.render("short.html", context! {}).await, "#1");
    eventually("the 2 s fragment expired and rendered again", async || {
        page.render("short.html", context! {}).await == "#2"
    })
    .await;
}

async fn a_fragment_used_twice_in_one_render_is_rendered_once(cache: Cache) {
    let page = Page::new(
        cache,
        &[(
            "loop.html",
            r#"{% for i in range(3) %}{% call cache(300, "same") %}#{{ count() }}{% endcall %}{% endfor %}"#,
        )],
    );
    assert_eq!(page.render("loop.html", context! {}).await, "#1#1#1");
    assert_eq!(page.render("loop.html", context! {}).await, "#1#1#1");
}

async fn a_delete_after_a_store_in_the_same_render_wins(cache: Cache) {
    let page = Page::new(
        cache,
        &[("store-then-delete.html", r#"{% call cache(300, "x") %}x{% endcall %}{{ cache('del', "x") }}."#)],
    );
    assert_eq!(page.render("store-then-delete.html", context! {}).await, "x.");
    assert_eq!(page.cache().get::<String>(&make_template_fragment_key("x", &[])).await.unwrap(), None);
}
