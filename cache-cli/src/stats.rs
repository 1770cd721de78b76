//! `stats`: the backend and its settings, a probe's latency, the breaker, this prefix's key
//! count and each server's own figures (where the backend's [`Admin`](cachette::BaseCache::admin)
//! offers them), and a running application's live counters (`--app`).

use std::time::{Duration, Instant, SystemTime};

use cachette::admin::{KeyCount, ServerInfo};
use cachette::observe::AppStats;
use cachette::{BreakerStats, Cache, CacheError, Config, Ttl};
use serde::Serialize;

use crate::app::{self, AppClient};
use crate::describe::{self, Setting};
use crate::output::{self, Out};
use crate::progress;

/// What `stats` prints (`--json`: this object).
#[derive(Serialize)]
struct StatsReport {
    backend: &'static str,
    settings: Vec<Setting>,
    probe: Probe,
    /// This cachectl's own breaker, after the probe (an application's is in `app.cache`).
    breaker: BreakerStats,
    /// This prefix's keys; absent with `--no-count`.
    #[serde(skip_serializing_if = "Option::is_none")]
    keys: Option<KeyCount>,
    /// What each server says about itself; empty where the backend offers nothing.
    servers: Vec<ServerInfo>,
    /// Why there are no servers, when there are none.
    #[serde(skip_serializing_if = "Option::is_none")]
    servers_note: Option<String>,
    /// The running application's stats, with `--app`.
    #[serde(skip_serializing_if = "Option::is_none")]
    app: Option<AppStats>,
}

/// The latency of one set, get and delete of a probe key, in microseconds.
#[derive(Serialize)]
struct Probe {
    set_us: f64,
    get_us: f64,
    delete_us: f64,
}

/// What `stats` was asked.
pub(crate) struct StatsRequest<'a> {
    pub(crate) app: Option<&'a str>,
    pub(crate) count_keys: bool,
}

/// Gathers and prints the stats.
pub(crate) async fn stats(
    cache: &Cache,
    config: &Config,
    request: StatsRequest<'_>,
    out: Out,
) -> Result<(), CacheError> {
    // A wrong --app is a usage error, found before any round trip.
    let app_client = request.app.map(|url| AppClient::new(url, "--app")).transpose()?;
    let backend = cache.backend().type_name();
    let probe = probe(cache).await?;
    let admin = cache.backend().admin();
    let keys = match (admin, request.count_keys) {
        (_, false) => None,
        (Some(admin), true) => {
            let spinner = progress::spinner("counted");
            let counted = admin.count_keys(&|so_far| spinner.set_position(so_far)).await;
            spinner.finish_and_clear();
            Some(counted?)
        }
        (None, true) => Some(KeyCount::Uncountable { reason: format!("{backend} offers no key count") }),
    };
    let servers = match admin {
        Some(admin) => admin.servers().await?,
        None => Vec::new(),
    };
    let servers_note = servers.is_empty().then(|| {
        admin
            .and_then(|admin| admin.no_servers_reason())
            .unwrap_or_else(|| format!("{backend} reports no server figures"))
    });
    let app = match app_client {
        Some(client) => Some(client.fetch().await?),
        None => None,
    };
    let report = StatsReport {
        backend,
        settings: describe::settings(config),
        probe,
        breaker: cache.stats().breaker,
        keys,
        servers,
        servers_note,
        app,
    };
    out.show(&report, |r| human(r, config));
    Ok(())
}

/// A set, get and delete of a probe key, timed; the value must read back.
async fn probe(cache: &Cache) -> Result<Probe, CacheError> {
    let nanos = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let key = format!("cachectl-probe:{}:{nanos}", std::process::id());
    let us = |t: Instant| t.elapsed().as_nanos() as f64 / 1e3;
    let t = Instant::now();
    cache.set(&key, "probe", Ttl::After(Duration::from_secs(60))).await?;
    let set_us = us(t);
    let t = Instant::now();
    let got = cache.get::<String>(&key).await?;
    let get_us = us(t);
    let t = Instant::now();
    cache.delete(&key).await?;
    let delete_us = us(t);
    if got.as_deref() != Some("probe") && cache.backend().type_name() != "NullCache" {
        return Err(CacheError::backend(
            "cachectl",
            format!("the probe value did not read back (got {got:?}): the backend is not storing values"),
            None,
        ));
    }
    Ok(Probe { set_us, get_us, delete_us })
}

fn human(r: &StatsReport, config: &Config) -> String {
    let us = |v: f64| output::latency(Duration::from_nanos((v * 1e3) as u64));
    let b = &r.breaker;
    let mut rows = vec![
        ("backend", r.backend.to_owned()),
        ("probe", format!("set {}, get {}, delete {}", us(r.probe.set_us), us(r.probe.get_us), us(r.probe.delete_us))),
        (
            "breaker",
            format!(
                "{} (opened {} times, {} calls rejected)",
                format!("{:?}", b.state).to_lowercase(),
                b.opened,
                b.rejected
            ),
        ),
    ];
    match &r.keys {
        Some(KeyCount::Counted { keys }) => {
            rows.push(("keys", format!("{keys} under the prefix {:?}", config.key_prefix)))
        }
        Some(KeyCount::Uncountable { reason }) => rows.push(("keys", format!("not counted: {reason}"))),
        Some(other) => rows.push(("keys", format!("{other:?}"))),
        None => {}
    }
    if let Some(note) = &r.servers_note {
        rows.push(("servers", note.clone()));
    }
    let mut text = output::fields(rows);
    if !r.servers.is_empty() {
        let mut table = output::table(
            &["SERVER", "VERSION", "MEMORY", "LIMIT", "DISK", "KEYS (ALL PREFIXES)", "EVICTIONS", "HIT RATIO"],
            2,
        );
        for s in &r.servers {
            let hit_ratio = match (s.hits, s.misses) {
                (Some(h), Some(m)) if h + m > 0 => Some(h as f64 / (h + m) as f64),
                _ => None,
            };
            table.add_row([
                s.address.clone(),
                s.version.clone().unwrap_or_else(|| "-".into()),
                output::or_dash(s.memory_used, output::bytes),
                output::or_dash(s.memory_limit, output::bytes),
                output::or_dash(s.disk_used, output::bytes),
                output::or_dash(s.keys, |k| k.to_string()),
                output::or_dash(s.evictions, |e| e.to_string()),
                output::percent(hit_ratio),
            ]);
        }
        text.push_str(&format!("\n\n{}", output::trimmed(&table)));
    }
    let settings = r.settings.iter().map(|s| (s.key, s.value.clone()));
    text.push_str(&format!("\n\nsettings\n{}", output::fields(settings)));
    if let Some(app) = &r.app {
        text.push_str(&format!("\n\napp\n{}\n\n{}", app::cache_line(app), app::table(&app::rows(app))));
    }
    text
}
