//! Progress on stderr, drawn only when stderr is a terminal (indicatif hides its bars
//! otherwise), so that piped or redirected output and CI logs carry results, never redraws.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

/// A bar of `len` operations named `phase` (`set`, `get`).
pub(crate) fn bar(phase: &'static str, len: u64) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template("{prefix:>4} [{bar:40}] {pos}/{len} ops  {rate}  eta {eta}")
        .expect("a valid template")
        .with_key("rate", |state: &ProgressState, w: &mut dyn std::fmt::Write| {
            let _ = write!(w, "{:.0} ops/s", state.per_sec());
        })
        .progress_chars("=> ");
    bar.set_style(style);
    bar.set_prefix(phase);
    bar.enable_steady_tick(Duration::from_millis(100));
    bar
}

/// A spinner that counts keys (`counting`, `removing`) while a scan goes on.
pub(crate) fn spinner(what: &'static str) -> ProgressBar {
    let spinner = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template("{spinner} {prefix} {pos} keys  ({elapsed})").expect("a valid template");
    spinner.set_style(style);
    spinner.set_prefix(what);
    spinner.enable_steady_tick(Duration::from_millis(100));
    spinner
}
