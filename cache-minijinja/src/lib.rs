//! Template fragment caching for [minijinja](https://docs.rs/minijinja), on any cachette backend:
//! Flask-Caching's `{% cache %}` tag, `'del'` form and `make_template_fragment_key`.
//!
//! # Table of contents
//!
//! * [Quick start](#quick-start)
//! * [The template form: a call block](#the-template-form-a-call-block)
//! * [Keys, and deleting a fragment from code](#keys-and-deleting-a-fragment-from-code)
//! * [Timeouts](#timeouts)
//! * [A synchronous render over an asynchronous cache](#a-synchronous-render-over-an-asynchronous-cache)
//! * [When the cache fails](#when-the-cache-fails)
//! * [What it costs](#what-it-costs)
//!
//! # Quick start
//!
//! [`install`] registers the template function `cache` with an [`Environment`](minijinja::Environment);
//! [`render`] renders without blocking the runtime.
//!
//! ```
//! use std::sync::Arc;
//! use cachette_core::{Cache, Config};
//! use cachette_minijinja::make_template_fragment_key;
//! use minijinja::{Environment, context};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! // In an application: `cachette::Cache::from_env()?`, any backend.
//! let cache = Cache::new(Arc::new(cachette_simple::SimpleCache::new(&Config::default())?), Config::default());
//!
//! let mut env = Environment::new();
//! cachette_minijinja::install(&mut env, cache.clone());
//! env.add_template(
//!     "page.html",
//!     r#"<aside>{% call cache(300, "sidebar", user.id) %}{{ user.name }}'s sidebar{% endcall %}</aside>"#,
//! )?;
//! let env = Arc::new(env);
//!
//! let ann = context! { user => context! { id => 1, name => "Ann" } };
//! let page = cachette_minijinja::render(&env, "page.html", ann.clone()).await?;
//! assert_eq!(page, "<aside>Ann's sidebar</aside>");
//!
//! // Within 300 s the stored fragment is served: a renamed user still sees the old one...
//! let renamed = context! { user => context! { id => 1, name => "Anna" } };
//! assert_eq!(cachette_minijinja::render(&env, "page.html", renamed.clone()).await?, page);
//!
//! // ...until the application deletes it when the name changes.
//! cache.delete(&make_template_fragment_key("sidebar", &[1.into()])).await?;
//! let page = cachette_minijinja::render(&env, "page.html", renamed).await?;
//! assert_eq!(page, "<aside>Anna's sidebar</aside>");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! # The template form: a call block
//!
//! minijinja has no custom tags, so `{% cache 300, "sidebar", user.id %}...{% endcache %}` is
//! written as a call block of the function `cache`, with the same arguments:
//!
//! ```jinja
//! {% call cache(300, "sidebar", user.id) %}...{% endcall %}
//! {% call cache('del', "sidebar", user.id) %}...{% endcall %}   {# delete, render the body uncached #}
//! {{ cache('del', "sidebar", user.id) }}                        {# delete, output nothing #}
//! ```
//!
//! Why this form: it is the one that does not render the body on a hit. A `{% call %}` block
//! hands its body to the function as `caller`, unrendered; the function renders it only on a
//! miss. This is what Flask-Caching's tag is underneath — its extension compiles `{% cache %}`
//! into a Jinja2 call block (`nodes.CallBlock`) — so the behaviour is the same, written out. A
//! filter (`{% filter cache(...) %}`) would receive the body already rendered, saving nothing;
//! a lookup function (`{% if cached(...) %}`) would make every template spell out the miss.
//!
//! The function is registered as `cache` ([`FUNCTION_NAME`]); a template context with a
//! variable of that name hides it, so [`FragmentCache::install_as`] registers it under another.
//! The fragment name is required: Flask-Caching's default name (the template file and line)
//! needs a line number that minijinja does not give to functions.
//!
//! A fragment served from the cache is output as its body was: where the template auto-escapes
//! (`.html`), it is not escaped a second time.
//!
//! # Keys, and deleting a fragment from code
//!
//! A fragment is stored under [`make_template_fragment_key`]`(name, vary_on)`, Flask-Caching's
//! function and key shape — `_template_fragment_cache_sidebar_1` — with `_` and `%` escaped
//! inside the name and values (`%5F`, `%25`), so that `("ann_fr")` and `("ann", "fr")` cannot
//! share a key as they do in Flask-Caching. Code deletes a fragment with
//! `cache.delete(&make_template_fragment_key("sidebar", &[user.id.into()]))`. The cache's own
//! `CACHE_KEY_PREFIX` applies as to every key.
//!
//! Vary-on values are written as `{{ value }}` writes them (so `42` and `"42"` are the same
//! fragment, as in Flask-Caching). An *undefined* vary-on value is an error: it would format as
//! nothing, so a misspelt `usr.id` would show every user one user's fragment.
//!
//! # Timeouts
//!
//! The first argument, as in Flask-Caching: seconds (`300`, `0.5`); `0` never expires; `none` is
//! the cache's `CACHE_DEFAULT_TIMEOUT`; `'del'` deletes. Anything else is an error naming these.
//!
//! # A synchronous render over an asynchronous cache
//!
//! minijinja renders synchronously; cachette's backends are asynchronous. A fragment's lookup
//! runs its cache call to the end like this (cheapest first):
//!
//! 1. **It is polled once on the spot.** SimpleCache answers on that poll: its fragments never
//!    wait, hand over a thread or allocate a task, on any runtime, however the template is
//!    rendered.
//! 2. **Inside [`render`] / [`render_with`]** the render runs on tokio's blocking pool, and a
//!    lookup that has to wait for Redis or memcached waits there (`Handle::block_on`): no runtime
//!    worker is blocked, on a multi-thread or a current-thread runtime. The fragments' writes
//!    are awaited together after the render, before it returns, so the next render finds them.
//!    Cost: one hand-over to the blocking pool and back per page, plus one round trip per
//!    fragment lookup (fragments are looked up one after another, as the render reaches them).
//! 3. **`Template::render` called directly in async code on a multi-thread runtime** works: a
//!    lookup that has to wait calls `tokio::task::block_in_place`, which hands the worker's other
//!    tasks to another thread first, so nothing else stalls. It costs that hand-over per waiting
//!    lookup, and the worker is out of the pool meanwhile. Writes go to a task of the runtime
//!    and the render does not wait for them (a render right after may miss once more).
//! 4. **On a current-thread runtime, a direct render whose lookup has to wait** is an error
//!    naming [`render`]: waiting would stall every task of the runtime, and since that thread is
//!    also the one that drives the network, it would never end. (A render on a thread of your
//!    own `spawn_blocking` on that runtime gets the same error: use [`render_with`], which is
//!    that, with the waiting allowed.)
//!
//! Outside any tokio runtime a render with a fragment is an error: the cache's deadlines are
//! tokio timers.
//!
//! Why no in-process copy of the fragments in front of the backend: with one, deleting a
//! fragment (by its key or with `'del'`) would reach the backend and this process, while every
//! other process behind the load balancer kept serving the old fragment from its own copy. A
//! deleted fragment is gone everywhere at once here, as in Flask-Caching.
//!
//! Within one [`render`], a fragment used twice (a loop) is rendered once, and a `'del'` after a
//! store of the same fragment wins. Concurrent renders that miss the same fragment each render
//! it, as in Flask-Caching: to load expensive data once, use `Cache::get_or_set` in the view.
//!
//! # When the cache fails
//!
//! A cache is an optimisation: a backend that is down, slow past the `Cache`'s deadline, or
//! behind an open circuit breaker, and a stored value that is not a fragment, are logged
//! (`tracing`) and the fragment is rendered as on a miss; a failed `'del'` or store is logged and
//! the page goes on. Only a mistake about the fragment itself — a key or value the backend
//! refuses (a fragment over memcached's item size without `spread`) — is a template error.
//!
//! # What it costs
//!
//! Measured by `cargo bench -p cachette-minijinja --bench fragments` (see its docs for each
//! case): the range of the medians of three runs (two for the servers) on a 2-core machine
//! shared with other builds (load 4), so read them as magnitudes. One page, one fragment whose body is a 20-item list, loopback servers.
//!
//! | per fragment | SimpleCache | Redis | memcached |
//! |---|---|---|---|
//! | a hit, over a page without the fragment | 3–6 µs (of which 1.3–2.3 µs is minijinja's call block) | 55–75 µs (a round trip) | 40 µs |
//! | a miss, over rendering the body uncached | 9–21 µs (a read, a write) | 120–190 µs (a read, then the write awaited) | 70–105 µs |
//! | a hit, direct render in a task (`block_in_place`) | as above (no wait) | 55–70 µs | 30 µs |
//!
//! [`render`] adds one hand-over to the blocking pool and back per page: 6–15 µs. The body in
//! the bench costs 7–11 µs to render, so on SimpleCache a fragment pays off from a body of
//! that size; over the network, from a body that costs more than a round trip (a query, a
//! loop over a hundred items, a nested include). Each concurrent [`render`] holds one
//! blocking-pool thread while it runs (tokio's default limit is 512).

mod args;
mod bridge;
mod fragment_cache;
mod key;
mod render;
mod scope;

pub use fragment_cache::{FUNCTION_NAME, FragmentCache, install};
pub use key::{KEY_PREFIX, make_template_fragment_key};
pub use render::{render, render_with};
