//! `cachectl`: get, set, delete, clear, inc/dec, touch, stats, a load benchmark against any
//! configured cachette backend, and `watch`, a live view of a running application's cache.
//!
//! The backend comes from the same configuration an application uses: a TOML file (`--config`),
//! then `CACHE_*` environment variables, then `-o KEY=VALUE` overrides, in that order of precedence.
//!
//! ```text
//! CACHE_TYPE=RedisCache CACHE_REDIS_URL=redis://127.0.0.1:6379 CACHE_KEY_PREFIX=app: cachectl get user:7
//! cachectl -o CACHE_TYPE=MemcachedCache -o CACHE_MEMCACHED_SERVERS=127.0.0.1:11211 bench --ops 100000
//! cachectl stats --app http://127.0.0.1:3000/stats
//! cachectl watch http://127.0.0.1:3000/stats
//! ```
//!
//! - **Output**: aligned tables and plain lines; `--json` (on every command) prints one JSON
//!   object on stdout instead (`watch`: one per refresh, a line each) and errors as a JSON object
//!   on stderr. Progress (bench's bars, the key scans of `stats` and `clear`) is drawn on stderr
//!   only when stderr is a terminal, so piped output carries results alone.
//! - **stats** shows the backend, the settings that differ from their defaults, a set/get/delete
//!   probe's latency and the breaker, then what the backend's `Admin` offers: this prefix's key
//!   count (Redis: `SCAN MATCH`, never `KEYS`) and each server's memory, keys, evictions and hit
//!   ratio (Redis `INFO`). A backend without it says so rather than print a number that means
//!   something else. `--app URL` adds a running application's counters (`observe::AppStats`).
//! - **bench** sizes its key space to what the cache keeps (90% of `CACHE_THRESHOLD` for
//!   SimpleCache and FileSystemCache, a quarter of a server's reported memory limit), so that its
//!   gets measure hits, and reports p50/p90/p99/p99.9 latencies (hdrhistogram) and the hit rate.
//! - **clear** reports how many keys it removed where the backend counts them (Redis), with a
//!   spinner meanwhile; otherwise it says that nothing was counted.
//! - **watch URL** redraws an application's hit ratio and latency per route and memoized
//!   function every `--interval` (1 s); the first read must succeed, later failures (the app
//!   restarting) are shown and retried. It reads plain `http://` only.
//! - **Exit status**: 0 success; 1 a miss (`get`, `touch`, `has` found no value); 2 a mistake in
//!   the command or the configuration (a flag, a `CACHE_*` setting, a key or value the backend
//!   refuses); 3 a failure of the backend (unreachable, timed out, credentials refused) or of the
//!   application `watch` reads.
//! - **CACHE_IGNORE_ERRORS** is ignored: cachectl builds its cache with it off, so that a dead
//!   server is exit status 3 and never a `(miss)`. Applications turn such failures into misses;
//!   a tool for looking at the cache must show them.
//! - **Secrets**: `stats` shows each setting through the library's `redact` (passwords, secret
//!   options and URL passwords hidden); no error shows one (a TOML error says the line and
//!   column, not the line's text).
//! - **Warnings** of the library (a deprecated `CACHE_TYPE` name, settings ignored beside
//!   `CACHE_REDIS_URL`) go to stderr through a tracing subscriber; `RUST_LOG` chooses more
//!   (`RUST_LOG=debug`).
//! - `--ttl 0` means never, as `CACHE_DEFAULT_TIMEOUT=0` does; `bench` refuses absurd sizes
//!   (over 64 MiB), counts (over 10 000 000 operations or 10 000 tasks, or 0) and `--ttl` over a
//!   hundred years, with exit status 2.

mod app;
mod bench;
mod clear;
mod cli;
mod describe;
mod output;
mod progress;
mod render;
mod settings;
mod stats;
mod watch;

use std::io::Write;
use std::process::ExitCode;

use cachette::{Bytes, Cache, CacheError, Config};
use clap::Parser;
use serde::Serialize;

use crate::bench::Load;
use crate::cli::{Cli, Command};
use crate::output::Out;
use crate::stats::StatsRequest;

/// Exit status 1: no value under the key.
const MISS: u8 = 1;
/// Exit status 2: a mistake in the command or the configuration.
const MISTAKE: u8 = 2;
/// Exit status 3: the backend failed.
const BACKEND_FAILED: u8 = 3;

fn main() -> ExitCode {
    // Like other command-line tools, end quietly when stdout is closed (`cachectl get k | head`)
    // instead of panicking on the broken pipe.
    // SAFETY: setting a signal disposition to its default before any thread is started.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    log_warnings_to_stderr();
    let out = Out { json: cli.json };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(MISTAKE);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            let status = if e.is_backend_failure() { BACKEND_FAILED } else { MISTAKE };
            if out.json {
                #[derive(Serialize)]
                struct Failure {
                    error: String,
                    exit_status: u8,
                }
                eprintln!("{}", output::to_json(&Failure { error: e.to_string(), exit_status: status }));
            } else {
                eprintln!("error: {e}");
            }
            ExitCode::from(status)
        }
    }
}

/// The library's warnings (and what `RUST_LOG` asks for) on stderr, where a user sees them.
fn log_warnings_to_stderr() {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .without_time()
        .init();
}

async fn run(cli: Cli) -> Result<ExitCode, CacheError> {
    let out = Out { json: cli.json };
    // `watch` reads an application, not a cache: it needs no CACHE_* settings.
    if let Command::Watch { url, interval, count } = &cli.command {
        watch::watch(url, *interval, *count, out).await?;
        return Ok(ExitCode::SUCCESS);
    }
    let config = settings::load_config(&cli)?;
    let result = execute(cli.command, &config, out).await;
    if let Err(e) = &result
        && e.is_backend_failure()
        && config.ignore_errors
    {
        eprintln!(
            "note: with CACHE_IGNORE_ERRORS an application would take this failure for a miss; cachectl reports it"
        );
    }
    result
}

/// The answer of a key command, as `--json` prints it.
#[derive(Serialize)]
struct KeyAnswer<'a, T: Serialize> {
    key: &'a str,
    #[serde(flatten)]
    answer: T,
}

async fn execute(command: Command, config: &Config, out: Out) -> Result<ExitCode, CacheError> {
    // Failures are reported, never absorbed as misses (see the crate docs).
    let mut effective = config.clone();
    effective.ignore_errors = false;
    let cache = Cache::from_config(effective)?;
    let in_process = matches!(cache.backend().type_name(), "SimpleCache" | "NullCache");
    if in_process && !matches!(command, Command::Bench { .. } | Command::Stats { .. }) {
        eprintln!(
            "note: CACHE_TYPE={} lives inside this cachectl process, so it starts empty and is gone when \
             cachectl exits; set CACHE_TYPE to a shared backend (RedisCache, MemcachedCache, FileSystemCache, ...)",
            cache.backend().type_name()
        );
    }
    let miss = |key: &str| {
        if out.json {
            println!("{}", output::to_json(&KeyAnswer { key, answer: serde_json::json!({ "found": false }) }));
        }
        eprintln!("(miss) no value under {key:?}");
        Ok(ExitCode::from(MISS))
    };
    match command {
        Command::Get { key, raw } => match cache.get_bytes(&key).await? {
            None => return miss(&key),
            Some(bytes) if raw && !out.json => {
                std::io::stdout()
                    .write_all(&bytes)
                    .map_err(|e| CacheError::backend("cachectl", e.to_string(), None))?;
            }
            Some(bytes) => {
                let value = render::render(&bytes);
                let answer = serde_json::json!({ "found": true, "bytes": bytes.len(), "value": value });
                out.show(&KeyAnswer { key: &key, answer }, |_| value.clone());
            }
        },
        Command::Set { key, value, ttl, raw } => {
            if raw {
                cache.set_bytes(&key, Bytes::from(value.into_bytes()), ttl).await?;
            } else if let Ok(n) = value.parse::<i64>() {
                cache.set(&key, &n, ttl).await?;
            } else {
                cache.set(&key, &value, ttl).await?;
            }
            out.show(&KeyAnswer { key: &key, answer: serde_json::json!({ "stored": true }) }, |_| String::new());
        }
        Command::Delete { keys } => {
            let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
            let removed = cache.delete_many(&refs).await?;
            out.show(&serde_json::json!({ "removed": removed }), |_| removed.to_string());
        }
        Command::Has { key } => {
            let live = cache.has(&key).await?;
            out.show(&KeyAnswer { key: &key, answer: serde_json::json!({ "live": live }) }, |_| live.to_string());
            if !live {
                return Ok(ExitCode::from(MISS));
            }
        }
        Command::Inc { key, delta } => {
            let value = cache.inc(&key, delta).await?;
            out.show(&KeyAnswer { key: &key, answer: serde_json::json!({ "value": value }) }, |_| value.to_string());
        }
        Command::Dec { key, delta } => {
            let value = cache.dec(&key, delta).await?;
            out.show(&KeyAnswer { key: &key, answer: serde_json::json!({ "value": value }) }, |_| value.to_string());
        }
        Command::Touch { key, ttl } => {
            if !cache.touch(&key, ttl).await? {
                return miss(&key);
            }
            out.show(&KeyAnswer { key: &key, answer: serde_json::json!({ "touched": true }) }, |_| String::new());
        }
        Command::Clear { yes } => clear::clear(&cache, config, yes, out).await?,
        Command::Stats { app, no_count } => {
            let request = StatsRequest { app: app.as_deref(), count_keys: !no_count };
            stats::stats(&cache, config, request, out).await?
        }
        Command::Bench { ops, concurrency, size, keys } => {
            bench::bench(&cache, config, Load { ops, concurrency, size, keys }, out).await?
        }
        Command::Watch { .. } => unreachable!("watch is run before a cache is built"),
    }
    Ok(ExitCode::SUCCESS)
}
