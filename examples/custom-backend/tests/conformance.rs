//! The custom backend passes the same conformance suite as cachette's own backends: one macro call.

use std::sync::Arc;

use cachette::{BaseCache, Config};
use cachette_example_custom_backend::MapCache;

cachette_conformance::conformance_suite!(map_cache, |config: Config| async move {
    Ok(Arc::new(MapCache::new(&config)?) as Arc<dyn BaseCache>)
});
