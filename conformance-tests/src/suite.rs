//! The list of cases, and the macros that turn it into one `#[test]` per case.

/// The single list of cases. Each group is a list of functions in [`cases`](crate::cases).
#[doc(hidden)]
#[macro_export]
macro_rules! __with_case_list {
    ($callback:ident ! ($($args:tt)*)) => {
        $crate::$callback! { $($args)*
            universal: [
                get_missing_is_none, has_missing_is_false, delete_missing_is_false,
                delete_many_missing_counts_zero, get_many_of_misses_keeps_length, get_many_empty_is_empty,
                set_many_empty_is_ok, set_accepts_any_key_and_large_values, touch_missing_is_false,
                clear_empty_cache_is_ok, typed_get_missing_is_none, dec_by_i64_min_is_an_error,
            ],
            storing: [
                set_then_get_returns_value, set_overwrites_value, set_empty_value_roundtrips,
                has_reports_live_key, delete_existing_returns_true, add_absent_key_stores,
                add_present_key_keeps_value, add_after_delete_stores, add_concurrent_exactly_one_wins,
                get_many_keeps_order_with_misses, get_many_duplicate_keys, set_many_then_get_many,
                set_many_hundred_keys, delete_many_counts_only_live_keys, inc_creates_missing_key,
                inc_existing_counter, dec_goes_negative, inc_typed_integer_reads_back_typed,
                inc_non_integer_is_error_and_keeps_value, inc_overflow_is_error, inc_concurrent_is_atomic,
                inc_keeps_ttl, ttl_after_expires, ttl_at_expires, ttl_never_outlives_default,
                an_expiry_told_with_a_value_is_never_later_than_written,
                ttl_default_uses_config_timeout, ttl_already_over_removes_value, expired_key_is_absent,
                touch_extends_live_key, touch_shortens_live_key, touch_never_removes_expiry,
                clear_removes_own_keys, clear_leaves_other_prefix, prefixes_isolate_keys,
                binary_values_roundtrip, value_of_1mib_roundtrips, key_with_spaces, key_with_unicode,
                key_of_300_bytes, similar_keys_are_distinct, typed_struct_roundtrip,
                typed_decode_wrong_type_is_error, typed_get_many_and_set_many, get_or_set_loads_once,
                get_or_set_failing_loader_stores_nothing, memoize_and_delete_memoized,
                invalidating_a_tag_misses_its_values_only, get_tagged_checks_the_tags_it_is_given,
                a_lost_tag_version_misses_its_values, a_tag_invalidated_through_one_cache_is_seen_through_another,
                loaded_values_carry_the_policys_tags,
                a_watch_turns_on_every_write_of_its_key,
            ],
            storeless: [
                storeless_get_after_set_is_none, storeless_add_reports_true, storeless_inc_returns_delta,
                storeless_get_or_set_loads_every_time,
            ],
        }
    };
}

/// Generates the tests; see [`conformance_suite!`](crate::conformance_suite!).
#[doc(hidden)]
#[macro_export]
macro_rules! __generate_suite {
    ($mode:ident, $module:ident, $factory:expr,
     universal: [$($u:ident),* $(,)?], storing: [$($s:ident),* $(,)?], storeless: [$($n:ident),* $(,)?] $(,)?) => {
        #[allow(unused_imports)]
        mod $module {
            use super::*;
            fn __factory() -> impl $crate::BackendFactory { $factory }
            $(#[test] fn $u() { $crate::run_case(__factory(), stringify!($u), $crate::cases::$u) })*
            $crate::__generate_suite!(@group $mode, $($s),* ; $($n),*);
        }
    };
    (@group all, $($s:ident),* ; $($n:ident),*) => {
        $(#[test] fn $s() { $crate::run_case(__factory(), stringify!($s), $crate::cases::$s) })*
    };
    (@group stores_nothing, $($s:ident),* ; $($n:ident),*) => {
        $(#[test] fn $n() { $crate::run_case(__factory(), stringify!($n), $crate::cases::$n) })*
    };
}

/// Lists the case names.
#[doc(hidden)]
#[macro_export]
macro_rules! __case_names {
    (universal: [$($u:ident),* $(,)?], storing: [$($s:ident),* $(,)?], storeless: [$($n:ident),* $(,)?] $(,)?) => {
        /// Cases every backend runs, including one that stores nothing.
        pub const UNIVERSAL_CASES: &[&str] = &[$(stringify!($u)),*];
        /// Cases that read back what was written: every backend that stores values runs them;
        /// a backend that stores nothing skips them (it has nothing to read back).
        pub const STORING_CASES: &[&str] = &[$(stringify!($s)),*];
        /// Cases only for a backend that stores nothing (NullCache's documented answers).
        pub const STORELESS_CASES: &[&str] = &[$(stringify!($n)),*];
    };
}

__with_case_list!(__case_names!());

/// Generates one `#[test]` per conformance case in a module named `$module`.
///
/// * `conformance_suite!(name, factory)` — a backend that stores values:
///   [`UNIVERSAL_CASES`](crate::UNIVERSAL_CASES) and [`STORING_CASES`](crate::STORING_CASES).
/// * `conformance_suite!(name, factory, stores_nothing)` — a backend that stores nothing:
///   [`UNIVERSAL_CASES`](crate::UNIVERSAL_CASES) and [`STORELESS_CASES`](crate::STORELESS_CASES);
///   the storing cases are skipped (listed in [`STORING_CASES`](crate::STORING_CASES), each needs
///   a value read back).
///
/// `factory` is an expression of a type implementing [`BackendFactory`](crate::BackendFactory) (a
/// closure `|config: Config| async move { ... }` or a [`Backend`](crate::Backend)); it is
/// evaluated once per case, inside a module that sees the caller's items through `use super::*`.
#[macro_export]
macro_rules! conformance_suite {
    ($module:ident, $factory:expr, stores_nothing $(,)?) => {
        $crate::__with_case_list!(__generate_suite!(stores_nothing, $module, $factory,));
    };
    ($module:ident, $factory:expr $(,)?) => {
        $crate::__with_case_list!(__generate_suite!(all, $module, $factory,));
    };
}

/// The cases that go through the typed facade ([`Cache`](cachette_core::Cache)'s encoding of
/// values): run them again with other `CACHE_SERIALIZER` / `CACHE_COMPRESSION` settings with
/// [`typed_cases!`](crate::typed_cases!).
#[doc(hidden)]
#[macro_export]
macro_rules! __with_typed_case_list {
    ($callback:ident ! ($($args:tt)*)) => {
        $crate::$callback! { $($args)*
            typed_get_missing_is_none, inc_typed_integer_reads_back_typed, typed_struct_roundtrip,
            typed_decode_wrong_type_is_error, typed_get_many_and_set_many, get_or_set_loads_once,
            get_or_set_failing_loader_stores_nothing, memoize_and_delete_memoized,
            invalidating_a_tag_misses_its_values_only, get_tagged_checks_the_tags_it_is_given,
            a_lost_tag_version_misses_its_values, a_tag_invalidated_through_one_cache_is_seen_through_another,
            loaded_values_carry_the_policys_tags,
        }
    };
}

/// Lists the typed case names.
#[doc(hidden)]
#[macro_export]
macro_rules! __typed_case_names {
    ($($case:ident),* $(,)?) => {
        /// The cases that encode values through the typed facade (each also in
        /// [`UNIVERSAL_CASES`](crate::UNIVERSAL_CASES) or [`STORING_CASES`](crate::STORING_CASES)):
        /// what [`typed_cases!`](crate::typed_cases!) runs.
        pub const TYPED_CASES: &[&str] = &[$(stringify!($case)),*];
    };
}

__with_typed_case_list!(__typed_case_names!());

/// Generates the tests of the module.
#[doc(hidden)]
#[macro_export]
macro_rules! __generate_typed {
    ($module:ident, $factory:expr, $($case:ident),* $(,)?) => {
        #[allow(unused_imports)]
        mod $module {
            use super::*;
            fn __factory() -> impl $crate::BackendFactory { $factory }
            $(#[test] fn $case() { $crate::run_case(__factory(), stringify!($case), $crate::cases::$case) })*
        }
    };
}

/// Generates one `#[test]` per case of [`TYPED_CASES`](crate::TYPED_CASES) in a module named
/// `$module`: the cases that encode values, for a factory whose
/// [`adjust_config`](crate::BackendFactory::adjust_config) picks another serializer or
/// compression, so the whole suite need not run once per setting.
///
/// ```ignore
/// cachette_conformance::typed_cases!(
///     json,
///     Backend::new(factory).with_config(|config| config.set("CACHE_SERIALIZER", "json").unwrap())
/// );
/// ```
#[macro_export]
macro_rules! typed_cases {
    ($module:ident, $factory:expr $(,)?) => {
        $crate::__with_typed_case_list!(__generate_typed!($module, $factory,));
    };
}
