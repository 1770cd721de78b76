//! [`Registry`]: backend type names to factories.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use crate::config::BUILTIN_BACKENDS;
use crate::suggest::did_you_mean;
use crate::{BaseCache, CacheError, Config, Result};

/// Builds a backend from a [`Config`].
///
/// Factories are synchronous and must not block: a backend that talks to a server connects lazily
/// (on first use, or through a pool), so a factory only checks settings and builds clients. That
/// keeps start-up fast and lets an application start while its cache server is down.
pub type Factory = Arc<dyn Fn(&Config) -> Result<Arc<dyn BaseCache>> + Send + Sync>;

/// Maps `CACHE_TYPE` names to factories: the backends linked into the program (see
/// [`Registry::linked`]) and an application's own, under names it chooses (Flask-Caching's
/// "import string" for custom backends).
///
/// ```
/// use std::sync::Arc;
/// use cachette_core::{BaseCache, Config, Registry};
/// # use cachette_core::{async_trait, Bytes, Result, Ttl};
/// # struct MyCache;
/// # #[async_trait]
/// # impl BaseCache for MyCache {
/// #     fn type_name(&self) -> &'static str { "MyCache" }
/// #     async fn get(&self, _: &str) -> Result<Option<Bytes>> { Ok(None) }
/// #     async fn set(&self, _: &str, _: Bytes, _: Ttl) -> Result<()> { Ok(()) }
/// #     async fn add(&self, _: &str, _: Bytes, _: Ttl) -> Result<bool> { Ok(true) }
/// #     async fn delete(&self, _: &str) -> Result<bool> { Ok(false) }
/// #     async fn inc(&self, _: &str, d: i64) -> Result<i64> { Ok(d) }
/// #     async fn touch(&self, _: &str, _: Ttl) -> Result<bool> { Ok(false) }
/// #     async fn clear(&self) -> Result<()> { Ok(()) }
/// # }
///
/// let mut registry = Registry::new();
/// registry.register("MyCache", |_config: &Config| Ok(Arc::new(MyCache) as Arc<dyn BaseCache>))?;
/// // A second registration of the same name is an error, not a silent replacement.
/// assert!(registry.register("MyCache", |_: &Config| Ok(Arc::new(MyCache) as Arc<dyn BaseCache>)).is_err());
///
/// let config = Config::from_map([("CACHE_TYPE", "MyCache")])?;
/// let backend = registry.build(&config)?;
/// assert_eq!(backend.type_name(), "MyCache");
///
/// let typo = Config::from_map([("CACHE_TYPE", "MyCashe")])?;
/// let err = registry.build(&typo).err().unwrap();
/// assert!(err.to_string().contains("Did you mean MyCache?"));
/// # Ok::<(), cachette_core::CacheError>(())
/// ```
#[derive(Clone, Default)]
pub struct Registry {
    factories: BTreeMap<String, Factory>,
    /// What builds the in-process tier over a backend when `CACHE_L1` is on (cachette-tiered
    /// puts it here when linked): core cannot name that crate, which sits above it.
    tier: Option<Wrapper>,
}

/// Wraps a built backend (the in-process tier of `CACHE_L1`).
pub type Wrapper = fn(Arc<dyn BaseCache>, &Config) -> Result<Arc<dyn BaseCache>>;

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry").field("names", &self.factories.keys().collect::<Vec<_>>()).finish()
    }
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every backend linked into this program: each backend crate adds itself with
    /// [`link_backend!`](crate::link_backend), so the `cachette` crate's cargo features (or a
    /// direct dependency on a backend crate) decide what is here. [`Cache::from_config`] and
    /// [`Cache::from_env`] build from this registry.
    ///
    /// A name registered twice (two crates claiming one `CACHE_TYPE`) keeps the first
    /// registration and logs a warning naming the name.
    ///
    /// [`Cache::from_config`]: crate::Cache::from_config
    /// [`Cache::from_env`]: crate::Cache::from_env
    pub fn linked() -> Self {
        let mut registry = Registry::new();
        for backend in inventory::iter::<LinkedBackend> {
            if let Err(e) = (backend.register)(&mut registry) {
                tracing::warn!(error = %e, "a linked cache backend could not register itself; the first registration of its name stays");
            }
        }
        registry
    }

    /// Registers `factory` under `name`.
    ///
    /// Errors if the name is taken, empty, contains whitespace, or is one of the old lowercase
    /// names (`simple`, `redis`, ...) that `Config` maps to built-in type names and so could never
    /// select this factory.
    pub fn register<F>(&mut self, name: impl Into<String>, factory: F) -> Result<()>
    where
        F: Fn(&Config) -> Result<Arc<dyn BaseCache>> + Send + Sync + 'static,
    {
        let name = name.into();
        let refuse = |message: String| Err(CacheError::config("CACHE_TYPE", &name, message));
        if name.is_empty() || name.chars().any(char::is_whitespace) {
            return refuse("a backend name must be non-empty and without whitespace".to_owned());
        }
        if let Some(b) = BUILTIN_BACKENDS.iter().find(|b| b.old_names.contains(&name.as_str())) {
            return refuse(format!(
                "{name:?} is reserved: it is the old name of {}, so CACHE_TYPE={name} always selects that backend; choose another name",
                b.type_name
            ));
        }
        if self.factories.contains_key(&name) {
            return refuse(format!(
                "a backend named {name:?} is already registered; register yours under another name"
            ));
        }
        self.factories.insert(name, Arc::new(factory));
        Ok(())
    }

    /// Sets what [`build`](Self::build) wraps every backend in when `CACHE_L1` is on: the
    /// cachette-tiered crate registers its `TieredCache::wrap` here when it is linked.
    pub fn set_tier(&mut self, wrap: Wrapper) {
        self.tier = Some(wrap);
    }

    /// True if `name` is registered.
    pub fn contains(&self, name: &str) -> bool {
        self.factories.contains_key(name)
    }

    /// The registered names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.factories.keys().map(String::as_str)
    }

    /// Builds the backend that `config.cache_type` names.
    ///
    /// With `CACHE_L1` on, the backend is wrapped in the in-process tier that cachette-tiered
    /// provides (the `tiered` feature of cachette); without that crate linked, it is an error
    /// naming the feature.
    pub fn build(&self, config: &Config) -> Result<Arc<dyn BaseCache>> {
        let name = config.cache_type.as_str();
        let backend = match self.factories.get(name) {
            Some(factory) => factory(config)?,
            None => return Err(self.unknown(name)),
        };
        match (config.l1, self.tier) {
            (false, _) => Ok(backend),
            (true, Some(wrap)) => wrap(backend, config),
            (true, None) => Err(CacheError::config(
                "CACHE_L1",
                "true",
                "the in-process tier is not compiled in: enable the \"tiered\" feature of cachette \
                 (cargo add cachette --features tiered), or set CACHE_L1=false",
            )),
        }
    }

    fn unknown(&self, name: &str) -> CacheError {
        if let Some(builtin) = BUILTIN_BACKENDS.iter().find(|b| b.type_name == name) {
            return CacheError::config(
                "CACHE_TYPE",
                name,
                format!(
                    "{name} is a built-in backend but it is not compiled in: enable the {:?} feature of cachette \
                     (cargo add cachette --features {})",
                    builtin.feature, builtin.feature
                ),
            );
        }
        let candidates = self.names().chain(BUILTIN_BACKENDS.iter().map(|b| b.type_name));
        let hint = did_you_mean(name, candidates);
        let registered = self.names().collect::<Vec<_>>().join(", ");
        CacheError::config(
            "CACHE_TYPE",
            name,
            format!(
                "no backend is registered under this name.{hint} Registered: {}. \
                 A backend of your own is added with Registry::register.",
                if registered.is_empty() { "none" } else { &registered }
            ),
        )
    }
}

/// A backend that adds itself to [`Registry::linked`] in every program it is linked into; made by
/// [`link_backend!`](crate::link_backend).
///
/// Why link-time registration (the `inventory` crate) rather than a list in the `cachette`
/// crate: [`crate::Cache`] lives here, below the crates that implement backends, so
/// `Cache::from_env()` cannot name them; each backend crate names itself instead.
#[derive(Debug)]
pub struct LinkedBackend {
    register: fn(&mut Registry) -> Result<()>,
}

impl LinkedBackend {
    /// A backend whose `register` adds its names to a registry.
    pub const fn new(register: fn(&mut Registry) -> Result<()>) -> Self {
        LinkedBackend { register }
    }
}

inventory::collect!(LinkedBackend);

/// Adds a backend to [`Registry::linked`] in every program this crate is linked into, so that
/// `Cache::from_env()` finds it by `CACHE_TYPE`. Give it a function that registers the backend's
/// names:
///
/// ```
/// use std::sync::Arc;
/// use cachette_core::{BaseCache, Config, Registry, Result};
/// # use cachette_core::{async_trait, Bytes, Ttl};
/// # struct MyCache;
/// # #[async_trait]
/// # impl BaseCache for MyCache {
/// #     fn type_name(&self) -> &'static str { "MyCache" }
/// #     async fn get(&self, _: &str) -> Result<Option<Bytes>> { Ok(None) }
/// #     async fn set(&self, _: &str, _: Bytes, _: Ttl) -> Result<()> { Ok(()) }
/// #     async fn add(&self, _: &str, _: Bytes, _: Ttl) -> Result<bool> { Ok(true) }
/// #     async fn delete(&self, _: &str) -> Result<bool> { Ok(false) }
/// #     async fn inc(&self, _: &str, d: i64) -> Result<i64> { Ok(d) }
/// #     async fn touch(&self, _: &str, _: Ttl) -> Result<bool> { Ok(false) }
/// #     async fn clear(&self) -> Result<()> { Ok(()) }
/// # }
///
/// pub fn register(registry: &mut Registry) -> Result<()> {
///     registry.register("MyCache", |_: &Config| Ok(Arc::new(MyCache) as Arc<dyn BaseCache>))
/// }
/// cachette_core::link_backend!(register);
///
/// assert!(Registry::linked().contains("MyCache"));
/// ```
#[macro_export]
macro_rules! link_backend {
    ($register:path) => {
        $crate::__inventory::submit! { $crate::LinkedBackend::new($register) }
    };
}
