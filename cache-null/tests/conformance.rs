//! NullCache runs the conformance cases that apply to a cache that stores nothing: the universal
//! cases and the storeless ones. The storing cases (`conformance_tests::STORING_CASES`) are skipped
//! because each reads back a value that was written, and a NullCache has none to read.

use std::sync::Arc;

use cache_core::{BaseCache, Config};
use cache_null::NullCache;

conformance_tests::conformance_suite!(
    null,
    |config: Config| async move { Ok(Arc::new(NullCache::new(&config)) as Arc<dyn BaseCache>) },
    stores_nothing
);

#[test]
fn the_skipped_cases_are_exactly_the_storing_ones() {
    // Every case is either run here (universal, storeless) or listed as skipped (storing).
    let skipped = conformance_tests::STORING_CASES;
    assert!(skipped.len() >= 40);
    for case in conformance_tests::UNIVERSAL_CASES.iter().chain(conformance_tests::STORELESS_CASES) {
        assert!(!skipped.contains(case), "{case} is both run and skipped");
    }
}
