//! `clear`: this cache's keys removed, with a progress spinner and the number removed where the
//! backend can count them (its [`Admin`](cachette::BaseCache::admin)); otherwise the backend's
//! own `clear`, saying that nothing was counted.

use cachette::admin::Cleared;
use cachette::{Cache, CacheError, Config};
use serde::Serialize;

use crate::output::Out;
use crate::progress;

/// What `clear` prints.
#[derive(Serialize)]
struct ClearReport {
    backend: &'static str,
    prefix: String,
    #[serde(flatten)]
    cleared: Cleared,
}

/// Clears, or with `yes` false explains what it would clear (a usage error).
pub(crate) async fn clear(cache: &Cache, config: &Config, yes: bool, out: Out) -> Result<(), CacheError> {
    let backend = cache.backend().type_name();
    if !yes {
        return Err(CacheError::config(
            "--yes",
            "",
            format!(
                "clear removes every key under the prefix {:?} of this {backend}; repeat with --yes",
                config.key_prefix
            ),
        ));
    }
    let cleared = match cache.backend().admin() {
        Some(admin) => {
            let spinner = progress::spinner("removed");
            let counted = admin.clear_counting(&|removed| spinner.set_position(removed)).await;
            spinner.finish_and_clear();
            counted?
        }
        None => {
            cache.clear().await?;
            Cleared::Uncounted { how: format!("{backend} removed its keys without counting them") }
        }
    };
    let report = ClearReport { backend, prefix: config.key_prefix.clone(), cleared };
    out.show(&report, |r| match &r.cleared {
        Cleared::Removed { keys } => format!("removed {keys} keys under the prefix {:?}", r.prefix),
        Cleared::Uncounted { how } => format!("cleared the prefix {:?}; not counted: {how}", r.prefix),
        other => format!("{other:?}"),
    });
    Ok(())
}
