//! `watch`: a running application's hit ratio and latency, per route and memoized function,
//! redrawn in place every interval (on a terminal), or one JSON line per refresh (`--json`).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cachette::{CacheError, CacheStats};
use console::Term;
use serde::Serialize;

use crate::app::{self, AppClient, Row};
use crate::output::{Out, to_json};

/// One refresh, as `--json` prints it.
#[derive(Serialize)]
struct Refresh {
    /// Unix time of the refresh.
    time: u64,
    backend: String,
    cache: CacheStats,
    rows: Vec<Row>,
}

/// A refresh that failed after the first one succeeded (the app restarting, say): shown and
/// retried, not the end of the watch.
#[derive(Serialize)]
struct Failed {
    time: u64,
    error: String,
}

/// Follows `url` every `interval`, `count` times or until interrupted. The first read must
/// succeed (a wrong URL ends at once, exit status 3); later failures are shown and retried.
pub(crate) async fn watch(url: &str, interval: Duration, count: Option<usize>, out: Out) -> Result<(), CacheError> {
    let client = AppClient::new(url, "URL")?;
    let term = Term::stdout();
    let redraw = term.is_term() && !out.json;
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut drawn = 0;
    for refresh in 0..count.unwrap_or(usize::MAX) {
        ticker.tick().await;
        let time = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let text = match client.fetch().await {
            Ok(stats) if out.json => {
                to_json(&Refresh { time, backend: stats.backend.clone(), cache: stats.cache, rows: app::rows(&stats) })
            }
            Ok(stats) => format!(
                "cachectl watch {url}, every {interval:?}\n{}\n\n{}\n",
                app::cache_line(&stats),
                app::table(&app::rows(&stats))
            ),
            Err(e) if refresh == 0 => return Err(e),
            Err(e) if out.json => to_json(&Failed { time, error: e.to_string() }),
            Err(e) => format!("cachectl watch {url}, every {interval:?}\n{e}\n(retrying)\n"),
        };
        if redraw {
            // Redrawn in place: the previous refresh's lines are cleared first.
            term.clear_last_lines(drawn).map_err(|e| CacheError::backend("cachectl", e.to_string(), None))?;
            drawn = text.trim_end().lines().count();
        }
        println!("{}", text.trim_end());
    }
    Ok(())
}
