//! [`FragmentCache`]: the `cache` function a template calls, over a [`Cache`].

use std::borrow::Cow;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use cachette_core::{Cache, CacheError, Ttl};
use futures::FutureExt;
use minijinja::value::{Kwargs, Rest};
use minijinja::{AutoEscape, Environment, Error, ErrorKind, State, Value};

use crate::args::{Action, FragmentCall};
use crate::bridge::{Waiting, wait};
use crate::key::make_template_fragment_key;
use crate::scope::{self, PendingWrite};

/// The name [`FragmentCache::install`] gives the template function.
pub const FUNCTION_NAME: &str = "cache";

/// Template fragment caching over a [`Cache`]: registers the `cache` function with a minijinja
/// [`Environment`]. See the [crate docs](crate) for the template side.
///
/// Cheap to clone; clones are the same fragment cache.
#[derive(Debug, Clone)]
pub struct FragmentCache {
    cache: Cache,
    /// Tells this fragment cache's pending writes from another's within one render.
    id: u64,
}

/// Registers fragment caching over `cache` with `env` as the template function `cache`; the
/// returned handle is for code (its [`Cache`]).
///
/// Shorthand for `FragmentCache::new(cache)` then [`install`](FragmentCache::install).
pub fn install(env: &mut Environment<'_>, cache: Cache) -> FragmentCache {
    let fragments = FragmentCache::new(cache);
    fragments.install(env);
    fragments
}

impl FragmentCache {
    /// Fragment caching over `cache` (any backend).
    pub fn new(cache: Cache) -> FragmentCache {
        static IDS: AtomicU64 = AtomicU64::new(0);
        FragmentCache { cache, id: IDS.fetch_add(1, Relaxed) }
    }

    /// The cache the fragments are stored in: delete one with
    /// `cache().delete(&make_template_fragment_key(name, vary_on))`.
    pub fn cache(&self) -> &Cache {
        &self.cache
    }

    /// Registers the template function as `cache` ([`FUNCTION_NAME`]).
    pub fn install(&self, env: &mut Environment<'_>) {
        self.install_as(env, FUNCTION_NAME);
    }

    /// Registers the template function under another name, for a template whose context already
    /// has a `cache` variable (which would hide the function), or for a second fragment cache.
    pub fn install_as<'source>(&self, env: &mut Environment<'source>, name: impl Into<Cow<'source, str>>) {
        let this = self.clone();
        env.add_function(name, move |state: &State, args: Rest<Value>, kwargs: Kwargs| this.call(state, args, kwargs));
    }

    /// One call from a template: `{% call cache(timeout, name, *vary_on) %}body{% endcall %}`.
    fn call(&self, state: &State, args: Rest<Value>, kwargs: Kwargs) -> Result<Value, Error> {
        let body: Option<Value> = kwargs.get("caller")?;
        kwargs.assert_all_used()?;
        let call = FragmentCall::parse(args.0, body)?;
        let key = make_template_fragment_key(&call.name, &call.vary_on);
        let waiting = Waiting { fragment: &call.name, backend: self.cache.backend().type_name() };
        match call.action {
            Action::Delete => {
                self.delete(&key, waiting)?;
                match call.body {
                    Some(body) => body.call(state, &[]),
                    None => Ok(Value::from("")),
                }
            }
            Action::Cache(ttl) => {
                if let Some(hit) = self.lookup(&key, waiting)? {
                    return Ok(as_output(state, hit));
                }
                let body = call.body.expect("checked by FragmentCall::parse: caching has a body");
                let rendered = body.call(state, &[])?;
                self.store(key, rendered.to_string(), ttl, waiting)?;
                Ok(rendered)
            }
        }
    }

    /// The stored fragment, or `None`: a miss, and also a backend that failed or a stored value
    /// that is not a fragment — the page then renders the fragment, as for a miss.
    fn lookup(&self, key: &str, waiting: Waiting<'_>) -> Result<Option<String>, Error> {
        if let Some(value) = scope::pending_value(self.id, key) {
            return Ok(Some(value));
        }
        match wait(self.cache.get::<String>(key), waiting)? {
            Ok(found) => Ok(found),
            Err(e) if e.is_backend_failure() || matches!(e, CacheError::Codec { .. }) => {
                log_failure("read", key, &e, "fragment cache read failed; rendering the fragment");
                Ok(None)
            }
            Err(e) => Err(cache_error(&waiting, "read", e)),
        }
    }

    /// Stores a rendered fragment. A write that finishes at once is done here; one that waits on
    /// the network goes to the render scope (awaited before `render_with` returns) or, outside
    /// one, to a task of the runtime.
    fn store(&self, key: String, value: String, ttl: Ttl, waiting: Waiting<'_>) -> Result<(), Error> {
        let cache = self.cache.clone();
        let (k, v) = (key.clone(), value.clone());
        let mut write = async move { absorb_failure("write", &k, cache.set(&k, &v, ttl).await) }.boxed();
        // A runtime is there: the lookup before this checked it.
        if let Some(done) = (&mut write).now_or_never() {
            return done.map_err(|e| cache_error(&waiting, "write", e));
        }
        let pending = PendingWrite { owner: self.id, key, value, write };
        if let Err(PendingWrite { key, write, .. }) = scope::defer(pending) {
            let fragment = waiting.fragment.to_owned();
            tokio::spawn(async move {
                if let Err(e) = write.await {
                    tracing::warn!(fragment, key, error = %e, "a rendered fragment could not be stored");
                }
            });
        }
        Ok(())
    }

    /// Deletes a stored fragment, after any write of it this render still has pending.
    fn delete(&self, key: &str, waiting: Waiting<'_>) -> Result<(), Error> {
        let cache = self.cache.clone();
        let earlier = scope::take_pending(self.id, key);
        let deleted = wait(
            async move {
                for write in earlier {
                    // Its failure is no longer interesting: the fragment is being deleted.
                    let _ = write.write.await;
                }
                absorb_failure("delete", key, cache.delete(key).await.map(drop))
            },
            waiting,
        )?;
        deleted.map_err(|e| cache_error(&waiting, "delete", e))
    }
}

/// A stored fragment as the template outputs it: safe (not escaped again) where the template
/// auto-escapes, as the body's own output is.
fn as_output(state: &State, fragment: String) -> Value {
    if matches!(state.auto_escape(), AutoEscape::None) {
        Value::from(fragment)
    } else {
        Value::from_safe_string(fragment)
    }
}

/// A failed backend is the cache's problem, not the page's: logged, and the page goes on.
fn absorb_failure(op: &'static str, key: &str, r: cachette_core::Result<()>) -> cachette_core::Result<()> {
    match r {
        Err(e) if e.is_backend_failure() => {
            log_failure(op, key, &e, "fragment cache failed; the page is rendered without it");
            Ok(())
        }
        other => other,
    }
}

fn log_failure(op: &'static str, key: &str, e: &CacheError, what: &str) {
    // While the circuit breaker is open every call fails at once; the facade has logged the
    // transition, so each call is only a debug event.
    if matches!(e, CacheError::CircuitOpen { .. }) {
        tracing::debug!(op, key, error = %e, "{what}");
    } else {
        tracing::warn!(op, key, error = %e, "{what}");
    }
}

/// A mistake the cache reports about the fragment itself (a key or value it cannot take).
fn cache_error(waiting: &Waiting<'_>, op: &str, e: CacheError) -> Error {
    Error::new(
        ErrorKind::InvalidOperation,
        format!("the fragment cache could not {op} the fragment \"{}\": {e}", waiting.fragment),
    )
    .with_source(e)
}
