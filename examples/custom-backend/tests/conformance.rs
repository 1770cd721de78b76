//! The custom backend passes the same conformance suite as cachekit's own backends: one macro call.

use std::sync::Arc;

use cachekit::{BaseCache, Config};
use custom_backend::MapCache;

conformance_tests::conformance_suite!(map_cache, |config: Config| async move {
    Ok(Arc::new(MapCache::new(&config)?) as Arc<dyn BaseCache>)
});
