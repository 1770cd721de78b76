//! Every case of the conformance suite, except the ones uWSGI's remote protocol cannot support,
//! each excluded by name with its reason ([`EXCLUDED`]); a test checks that the two lists cover
//! the whole suite, so a new case is never skipped silently.

use std::sync::Arc;
use std::time::Duration;

use cachette_conformance::harness::uwsgi;
use cachette_conformance::{Backend, BackendFactory, STORING_CASES, UNIVERSAL_CASES};
use cachette_core::{BaseCache, Config};
use cachette_uwsgi::UwsgiCache;

/// The cases not run, and why.
const EXCLUDED: &[(&str, &str)] = &[
    ("set_empty_value_roundtrips", "uWSGI refuses a zero-length value (cache_set2: !vallen); UWSGICache refuses it"),
    ("inc_creates_missing_key", NO_INC),
    ("inc_existing_counter", NO_INC),
    ("dec_goes_negative", NO_INC),
    ("inc_typed_integer_reads_back_typed", NO_INC),
    ("inc_non_integer_is_error_and_keeps_value", NO_INC),
    ("inc_overflow_is_error", NO_INC),
    ("inc_concurrent_is_atomic", NO_INC),
    ("inc_keeps_ttl", NO_INC),
    ("touch_missing_is_false", NO_TOUCH),
    ("touch_extends_live_key", NO_TOUCH),
    ("touch_shortens_live_key", NO_TOUCH),
    ("touch_never_removes_expiry", NO_TOUCH),
    ("key_with_spaces", ODD_KEYS),
    ("key_with_unicode", ODD_KEYS),
    ("key_of_300_bytes", ODD_KEYS),
    (
        "clear_leaves_other_prefix",
        "uWSGI clears a whole named cache (no command lists or removes keys by prefix): the cache, not the prefix, is the unit of isolation",
    ),
];

const ODD_KEYS: &str = "the case runs every operation on the key, touch and inc included (refused); get, set, has, add and \
                        delete on such keys are covered by the uWSGI tests' own odd_keys_work_for_every_supported_operation";
const NO_INC: &str = "uWSGI's cache has no atomic increment over the network; inc/dec are refused";
const NO_TOUCH: &str = "uWSGI's cache has no remote command that changes an expiry alone; touch is refused";

fn backend() -> impl BackendFactory {
    // uWSGI expires in whole seconds.
    Backend::new(|mut config: Config| async move {
        suite_server().apply(&mut config);
        Ok(Arc::new(UwsgiCache::new(&config)?) as Arc<dyn BaseCache>)
    })
    .with_ttl_resolution(Duration::from_secs(1))
}

/// A uWSGI of the suite's own: `clear` empties the whole named cache (not one prefix), so the
/// cases must not share it with the other uWSGI tests of this binary, nor run at the same time
/// as each other — run concurrently, one case's `clear` removed the keys another had just
/// written (`add` returned true, the `get` after it found nothing: seen under the test command's
/// 8 test threads).
fn suite_server() -> uwsgi::UwsgiTarget {
    uwsgi::for_suite()
}

/// One case at a time (see [`suite_server`]).
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

macro_rules! run {
    ($($case:ident),* $(,)?) => {
        /// The cases run.
        const RUN: &[&str] = &[$(stringify!($case)),*];
        $(#[test] fn $case() {
            let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            cachette_conformance::run_case(backend(), stringify!($case), cachette_conformance::cases::$case)
        })*
    };
}

run![
    get_missing_is_none,
    has_missing_is_false,
    delete_missing_is_false,
    delete_many_missing_counts_zero,
    get_many_of_misses_keeps_length,
    get_many_empty_is_empty,
    set_many_empty_is_ok,
    set_accepts_any_key_and_large_values,
    clear_empty_cache_is_ok,
    typed_get_missing_is_none,
    dec_by_i64_min_is_an_error,
    set_then_get_returns_value,
    set_overwrites_value,
    has_reports_live_key,
    delete_existing_returns_true,
    add_absent_key_stores,
    add_present_key_keeps_value,
    add_after_delete_stores,
    add_concurrent_exactly_one_wins,
    get_many_keeps_order_with_misses,
    get_many_duplicate_keys,
    set_many_then_get_many,
    set_many_hundred_keys,
    delete_many_counts_only_live_keys,
    ttl_after_expires,
    ttl_at_expires,
    ttl_never_outlives_default,
    ttl_default_uses_config_timeout,
    an_expiry_told_with_a_value_is_never_later_than_written,
    ttl_already_over_removes_value,
    expired_key_is_absent,
    clear_removes_own_keys,
    prefixes_isolate_keys,
    binary_values_roundtrip,
    value_of_1mib_roundtrips,
    similar_keys_are_distinct,
    typed_struct_roundtrip,
    typed_decode_wrong_type_is_error,
    typed_get_many_and_set_many,
    get_or_set_loads_once,
    get_or_set_failing_loader_stores_nothing,
    memoize_and_delete_memoized,
    invalidating_a_tag_misses_its_values_only,
    get_tagged_checks_the_tags_it_is_given,
    a_lost_tag_version_misses_its_values,
    a_tag_invalidated_through_one_cache_is_seen_through_another,
    loaded_values_carry_the_policys_tags,
    a_watch_turns_on_every_write_of_its_key,
];

#[test]
fn every_case_of_the_suite_is_run_or_excluded_with_a_reason() {
    for case in UNIVERSAL_CASES.iter().chain(STORING_CASES) {
        let run = RUN.contains(case);
        let excluded = EXCLUDED.iter().any(|(name, _)| name == case);
        assert!(run != excluded, "{case}: run {run}, excluded {excluded} (exactly one expected)");
    }
    assert_eq!(RUN.len() + EXCLUDED.len(), UNIVERSAL_CASES.len() + STORING_CASES.len());
}
