//! SimpleCache against the whole conformance suite, plus what is specific to it.

use std::sync::Arc;
use std::time::Duration;

use cachette_core::{BaseCache, Bytes, Config, Ttl};
use cachette_simple::SimpleCache;

cachette_conformance::conformance_suite!(simple, |config: Config| async move {
    Ok(Arc::new(SimpleCache::new(&config)?) as Arc<dyn BaseCache>)
});

#[tokio::test]
async fn unknown_options_are_rejected() {
    let config = Config::from_map([("CACHE_OPTIONS", "max_size=3")]).unwrap();
    let err = SimpleCache::new(&config).unwrap_err().to_string();
    assert!(err.contains("CACHE_OPTIONS.max_size"), "{err}");
}

#[tokio::test]
async fn ttl_at_deadline_is_per_entry() {
    let cache = SimpleCache::new(&Config::default()).unwrap();
    let soon = std::time::SystemTime::now() + Duration::from_millis(200);
    cache.set("soon", Bytes::from_static(b"1"), Ttl::At(soon)).await.unwrap();
    cache.set("later", Bytes::from_static(b"2"), Ttl::After(Duration::from_secs(60))).await.unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(cache.get("soon").await.unwrap(), None);
    assert_eq!(cache.get("later").await.unwrap().as_deref(), Some(&b"2"[..]));
}
