//! [`render`] and [`render_with`]: a synchronous render, awaited without blocking a runtime thread.

use std::sync::Arc;

use futures::future::join_all;
use minijinja::{Environment, Error, ErrorKind, Value};

use crate::scope;

/// Renders the template `name` of `env` with `ctx` on tokio's blocking pool, where the fragments'
/// cache reads may wait for the network without blocking a runtime thread; returns once the
/// fragments it rendered are stored, so the next render finds them.
///
/// Shorthand for [`render_with`]`(move || env.get_template(name)?.render(ctx))`.
///
/// ```
/// use std::sync::Arc;
/// use cachette_core::{BaseCache, Cache, Config};
/// use minijinja::{Environment, context};
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let cache = Cache::new(Arc::new(cachette_simple::SimpleCache::new(&Config::default())?), Config::default());
/// let mut env = Environment::new();
/// cachette_minijinja::install(&mut env, cache);
/// env.add_template("hello.txt", r#"{% call cache(60, "hello") %}Hello, {{ who }}!{% endcall %}"#)?;
/// let env = Arc::new(env);
///
/// let page = cachette_minijinja::render(&env, "hello.txt", context! { who => "world" }).await?;
/// assert_eq!(page, "Hello, world!");
/// // The fragment is stored for 60 s: another context renders the same fragment.
/// let page = cachette_minijinja::render(&env, "hello.txt", context! { who => "moon" }).await?;
/// assert_eq!(page, "Hello, world!");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
pub async fn render(env: &Arc<Environment<'static>>, name: &str, ctx: Value) -> Result<String, Error> {
    let (env, name) = (Arc::clone(env), name.to_owned());
    render_with(move || env.get_template(&name)?.render(ctx)).await
}

/// Runs `render` — any synchronous use of a minijinja environment — on tokio's blocking pool,
/// where fragment lookups wait with `Handle::block_on`, on a multi-thread or a current-thread
/// runtime alike; then awaits the writes of the fragments it rendered (concurrently), and
/// returns its result.
///
/// A write that fails because the backend did is logged and dropped, as the render is fine; one
/// the cache refuses (a fragment over the backend's value size limit) is the error returned. A
/// panic in `render` is resumed here.
///
/// ```
/// # use std::sync::Arc;
/// # use cachette_core::{Cache, Config};
/// # use minijinja::{Environment, context};
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// # let cache = Cache::new(Arc::new(cachette_simple::SimpleCache::new(&Config::default())?), Config::default());
/// let mut env = Environment::new();
/// cachette_minijinja::install(&mut env, cache);
/// let env = Arc::new(env);
///
/// let out = cachette_minijinja::render_with(move || {
///     env.render_str(r#"{% call cache(60, "n", n) %}{{ n * 2 }}{% endcall %}"#, context! { n => 21 })
/// })
/// .await?;
/// assert_eq!(out, "42");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
pub async fn render_with<F, R>(render: F) -> Result<R, Error>
where
    F: FnOnce() -> Result<R, Error> + Send + 'static,
    R: Send + 'static,
{
    if tokio::runtime::Handle::try_current().is_err() {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            "cachette_minijinja::render_with runs the render on tokio's blocking pool: await it inside a tokio runtime",
        ));
    }
    let (result, pending) = match tokio::task::spawn_blocking(move || scope::run(render)).await {
        Ok(done) => done,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                format!("the render was cancelled (the tokio runtime is shutting down): {e}"),
            ));
        }
    };
    // The fragments rendered before a failure are good: they are stored all the same.
    let writes = join_all(pending.into_iter().map(|pending| async move { (pending.key, pending.write.await) })).await;
    let value = result?;
    for (key, outcome) in writes {
        if let Err(e) = outcome {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                format!("the fragment cache could not store the fragment under {key:?}: {e}"),
            )
            .with_source(e));
        }
    }
    Ok(value)
}
