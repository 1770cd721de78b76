//! The `metrics` calls (the `metrics` feature): one function per metric of the table in
//! [`super`], so names and labels are written once.

use std::borrow::Cow;
use std::time::Duration;

use metrics::SharedString;

use crate::BreakerState;

pub(super) fn backend_operation(
    backend: &'static str,
    operation: &'static str,
    outcome: &'static str,
    elapsed: Duration,
) {
    metrics::counter!(super::BACKEND_OPERATIONS, "backend" => backend, "operation" => operation, "outcome" => outcome)
        .increment(1);
    metrics::histogram!(super::BACKEND_OPERATION_SECONDS, "backend" => backend, "operation" => operation)
        .record(elapsed.as_secs_f64());
}

pub(super) fn read(backend: &'static str, hit: bool) {
    let outcome = if hit { "hit" } else { "miss" };
    metrics::counter!(super::READS, "backend" => backend, "outcome" => outcome).increment(1);
}

pub(super) fn breaker_state(backend: &'static str, state: BreakerState) {
    let value = match state {
        BreakerState::Closed => 0.0,
        BreakerState::Open => 1.0,
        BreakerState::HalfOpen => 2.0,
    };
    metrics::gauge!(super::BREAKER_STATE, "backend" => backend).set(value);
}

/// The function's name as a label: borrowed for the names `#[memoize]` keeps in a `static`.
#[allow(clippy::ptr_arg, reason = "a borrowed name stays borrowed in the label, with no copy")]
fn function_label(function: &Cow<'static, str>) -> SharedString {
    match function {
        Cow::Borrowed(name) => SharedString::from(*name),
        Cow::Owned(name) => SharedString::from(name.clone()),
    }
}

#[allow(clippy::ptr_arg, reason = "a borrowed name stays borrowed in the label, with no copy")]
pub(super) fn memoize_call(function: &Cow<'static, str>, hit: bool) {
    let outcome = if hit { "hit" } else { "miss" };
    metrics::counter!(super::MEMOIZE_CALLS, "function" => function_label(function), "outcome" => outcome).increment(1);
}

#[allow(clippy::ptr_arg, reason = "a borrowed name stays borrowed in the label, with no copy")]
pub(super) fn memoize_load(function: &Cow<'static, str>, elapsed: Duration) {
    metrics::histogram!(super::MEMOIZE_LOAD_SECONDS, "function" => function_label(function))
        .record(elapsed.as_secs_f64());
}
