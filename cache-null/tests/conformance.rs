//! NullCache runs the conformance cases that apply to a cache that stores nothing: the universal
//! cases and the storeless ones. The storing cases (`cachette_conformance::STORING_CASES`) are skipped
//! because each reads back a value that was written, and a NullCache has none to read.

use std::sync::Arc;

use cachette_core::{BaseCache, Config};
use cachette_null::NullCache;

cachette_conformance::conformance_suite!(
    null,
    |config: Config| async move { Ok(Arc::new(NullCache::new(&config)) as Arc<dyn BaseCache>) },
    stores_nothing
);

#[test]
fn the_skipped_cases_are_exactly_the_storing_ones() {
    // Every case is either run here (universal, storeless) or listed as skipped (storing).
    let skipped = cachette_conformance::STORING_CASES;
    assert!(skipped.len() >= 40);
    for case in cachette_conformance::UNIVERSAL_CASES.iter().chain(cachette_conformance::STORELESS_CASES) {
        assert!(!skipped.contains(case), "{case} is both run and skipped");
    }
}
