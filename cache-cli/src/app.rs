//! A running application's stats ([`AppStats`], the JSON the demo's `/stats` serves): fetched over
//! HTTP, and summarised per route and memoized function for `stats --app` and `watch`.

use std::time::Duration;

use cachette::CacheError;
use cachette::observe::{AppStats, Sample, Series};
use serde::Serialize;

use crate::output;

/// Seconds of history behind the "recent" hit ratio: long enough to be steady at a few requests
/// a second, short enough to show a change within one refresh or two.
const RECENT: usize = 10;

/// Reads the stats at `url`.
pub(crate) struct AppClient {
    http: reqwest::Client,
    url: reqwest::Url,
}

impl AppClient {
    /// A client for `url` (`http://host:port/stats`), checked here: a mistake is exit status 2.
    pub(crate) fn new(url: &str, flag: &'static str) -> Result<AppClient, CacheError> {
        let parsed = reqwest::Url::parse(url)
            .map_err(|e| CacheError::config(flag, url, format!("not a URL ({e}); e.g. http://127.0.0.1:3000/stats")))?;
        if parsed.scheme() != "http" {
            return Err(CacheError::config(
                flag,
                url,
                "cachectl reads an application's stats over plain http (https is not built in); \
                 e.g. http://127.0.0.1:3000/stats from the application's host or network",
            ));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(2))
            .timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| CacheError::backend("cachectl", format!("cannot start an HTTP client: {e}"), None))?;
        Ok(AppClient { http, url: parsed })
    }

    /// The stats now. Unreachable, an error status or JSON of another shape: a failure (exit 3).
    pub(crate) async fn fetch(&self) -> Result<AppStats, CacheError> {
        let fail =
            |what: String| CacheError::backend("cachectl", format!("the app's stats at {}: {what}", self.url), None);
        let response = self
            .http
            .get(self.url.clone())
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| fail(format!("cannot be read ({e})")))?;
        let status = response.status();
        if !status.is_success() {
            return Err(fail(format!("answered {status}")));
        }
        let body = response.bytes().await.map_err(|e| fail(format!("the body was cut ({e})")))?;
        serde_json::from_slice(&body).map_err(|e| {
            fail(format!("not cachette's stats JSON ({e}); the URL must be the endpoint serving observe::AppStats"))
        })
    }
}

/// One route or function as `stats --app` and `watch` show it.
#[derive(Debug, Serialize)]
pub(crate) struct Row {
    kind: &'static str,
    name: String,
    /// Calls in the last complete second.
    calls_per_second: u64,
    /// Hit ratio over the last 10 seconds (`None`: no calls).
    recent_hit_ratio: Option<f64>,
    /// Hit ratio since the application started.
    hit_ratio: Option<f64>,
    /// Latency of the last second with timed calls, in microseconds.
    p50_us: Option<u64>,
    p99_us: Option<u64>,
    hits: u64,
    stale: u64,
    misses: u64,
}

/// The rows of `stats`: routes, then memoized functions.
pub(crate) fn rows(stats: &AppStats) -> Vec<Row> {
    let routes = stats.routes.iter().map(|(name, s)| row("route", name, s));
    let functions = stats.functions.iter().map(|(name, s)| row("function", name, s));
    routes.chain(functions).collect()
}

fn row(kind: &'static str, name: &str, series: &Series) -> Row {
    let recent = &series.history[series.history.len().saturating_sub(RECENT)..];
    let mut sum = Sample::default();
    for sample in recent {
        sum.hits += sample.hits;
        sum.stale += sample.stale;
        sum.misses += sample.misses;
    }
    let last = series.history.last();
    let latency = series.history.iter().rev().find_map(|s| s.latency);
    Row {
        kind,
        name: name.to_owned(),
        calls_per_second: last.map_or(0, |s| s.hits + s.stale + s.misses),
        recent_hit_ratio: sum.hit_ratio(),
        hit_ratio: series.hit_ratio(),
        p50_us: latency.map(|l| l.p50_us),
        p99_us: latency.map(|l| l.p99_us),
        hits: series.hits,
        stale: series.stale,
        misses: series.misses,
    }
}

/// The rows as an aligned table.
pub(crate) fn table(rows: &[Row]) -> String {
    let mut table = output::table(
        &["ROUTE / FUNCTION", "CALLS/S", "HIT% 10S", "HIT% ALL", "P50", "P99", "HITS", "STALE", "MISSES"],
        1,
    );
    for r in rows {
        table.add_row([
            format!("{} {}", r.kind, r.name),
            r.calls_per_second.to_string(),
            output::percent(r.recent_hit_ratio),
            output::percent(r.hit_ratio),
            output::or_dash(r.p50_us, output::micros),
            output::or_dash(r.p99_us, output::micros),
            r.hits.to_string(),
            r.stale.to_string(),
            r.misses.to_string(),
        ]);
    }
    output::trimmed(&table)
}

/// The cache's own line: backend, reads, hit ratio, errors, breaker.
pub(crate) fn cache_line(stats: &AppStats) -> String {
    let c = &stats.cache;
    format!(
        "{}: {} reads, {} hits, {} errors, {} loads; breaker {} (opened {} times, {} calls rejected)",
        stats.backend,
        c.hits + c.misses,
        output::percent((c.hits + c.misses > 0).then(|| c.hit_ratio())),
        c.errors,
        c.loads,
        format!("{:?}", c.breaker.state).to_lowercase(),
        c.breaker.opened,
        c.breaker.rejected,
    )
}
