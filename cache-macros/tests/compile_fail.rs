//! What must not compile, and the messages users see (`ui/*.stderr`; regenerate them with
//! `TRYBUILD=overwrite cargo test -p cachette-macros --test compile_fail` and review the diff).

#[test]
fn misuses_of_memoize_fail_to_compile_with_a_message_saying_what_to_write() {
    trybuild::TestCases::new().compile_fail("tests/ui/*.rs");
}
