//! What the suite runs against: a factory of caches, with the backend's expiry resolution.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use cachette_core::{BaseCache, Config, Result};

/// A backend under test: builds caches from configs.
///
/// Implemented for every `Fn(Config) -> impl Future<Output = Result<Arc<dyn BaseCache>>>`, and by
/// [`Backend`] for closures that need a coarser expiry resolution.
#[async_trait::async_trait]
pub trait BackendFactory: Send + Sync + 'static {
    /// A cache for `config` (the suite sets the key prefix and default timeout).
    async fn build(&self, config: Config) -> Result<Arc<dyn BaseCache>>;

    /// The smallest expiry step of the backend (the expiry cases wait a few of these).
    fn ttl_resolution(&self) -> Duration {
        Duration::from_millis(50)
    }

    /// Changes the config of every case (the backend's and the typed facade's) after the suite
    /// set the prefix and default timeout: to run cases with other settings, e.g.
    /// `CACHE_SERIALIZER=json` (see [`Backend::with_config`]). Does nothing by default.
    fn adjust_config(&self, config: &mut Config) {
        let _ = config;
    }
}

#[async_trait::async_trait]
impl<F, Fut> BackendFactory for F
where
    F: Fn(Config) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Arc<dyn BaseCache>>> + Send,
{
    async fn build(&self, config: Config) -> Result<Arc<dyn BaseCache>> {
        self(config).await
    }
}

/// A factory closure with settings for the suite.
///
/// ```
/// use std::{sync::Arc, time::Duration};
/// use cachette_core::{BaseCache, Config};
/// use cachette_simple::SimpleCache;
/// use cachette_conformance::{Backend, BackendFactory};
///
/// // A backend that expires in whole seconds (as memcached does) says so:
/// let backend = Backend::new(|config: Config| async move {
///     Ok(Arc::new(SimpleCache::new(&config)?) as Arc<dyn BaseCache>)
/// })
/// .with_ttl_resolution(Duration::from_secs(1));
/// assert_eq!(backend.ttl_resolution(), Duration::from_secs(1));
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let cache = backend.build(Config::default()).await?;
/// assert_eq!(cache.type_name(), "SimpleCache");
/// # Ok::<(), cachette_core::CacheError>(())
/// # }).unwrap();
/// ```
pub struct Backend<F> {
    factory: F,
    ttl_resolution: Duration,
    adjust: Option<Arc<AdjustConfig>>,
}

/// A change to every case's config ([`Backend::with_config`]).
type AdjustConfig = dyn Fn(&mut Config) + Send + Sync;

impl<F> Backend<F> {
    /// Wraps a factory closure.
    pub fn new(factory: F) -> Self {
        Backend { factory, ttl_resolution: Duration::from_millis(50), adjust: None }
    }

    /// Changes every case's config with `adjust` (see [`BackendFactory::adjust_config`]).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use cachette_core::{BaseCache, Config, codec::Serializer};
    /// use cachette_simple::SimpleCache;
    /// use cachette_conformance::{Backend, BackendFactory};
    ///
    /// let backend = Backend::new(|config: Config| async move {
    ///     Ok(Arc::new(SimpleCache::new(&config)?) as Arc<dyn BaseCache>)
    /// })
    /// .with_config(|config| config.set("CACHE_SERIALIZER", "json").unwrap());
    /// let mut config = Config::default();
    /// backend.adjust_config(&mut config);
    /// assert_eq!(config.codec.serializer, Serializer::Json);
    /// ```
    pub fn with_config(mut self, adjust: impl Fn(&mut Config) + Send + Sync + 'static) -> Self {
        self.adjust = Some(Arc::new(adjust));
        self
    }

    /// Sets `settings` (`CACHE_*` keys and their values, as [`Config::set`](cachette_core::Config::set) takes them) in every
    /// case's config: the common use of [`with_config`](Self::with_config), e.g.
    /// `.with_settings(&[("CACHE_SERIALIZER", "json")])`. A key or value `Config` refuses
    /// fails the case with its error.
    pub fn with_settings(self, settings: &'static [(&'static str, &'static str)]) -> Self {
        self.with_config(move |config| {
            for (key, value) in settings {
                config.set(key, *value).unwrap_or_else(|e| panic!("the suite's setting {key}={value}: {e}"));
            }
        })
    }

    /// Sets the expiry resolution (default 50 ms).
    pub fn with_ttl_resolution(mut self, resolution: Duration) -> Self {
        self.ttl_resolution = resolution;
        self
    }
}

#[async_trait::async_trait]
impl<F, Fut> BackendFactory for Backend<F>
where
    F: Fn(Config) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Arc<dyn BaseCache>>> + Send,
{
    async fn build(&self, config: Config) -> Result<Arc<dyn BaseCache>> {
        (self.factory)(config).await
    }

    fn ttl_resolution(&self) -> Duration {
        self.ttl_resolution
    }

    fn adjust_config(&self, config: &mut Config) {
        if let Some(adjust) = &self.adjust {
            adjust(config);
        }
    }
}
