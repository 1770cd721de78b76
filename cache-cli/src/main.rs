//! `cachectl`: get, set, delete, clear, inc/dec, touch, stats and a load benchmark against any
//! configured cachette backend.
//!
//! The backend comes from the same configuration an application uses: a TOML file (`--config`),
//! then `CACHE_*` environment variables, then `-o KEY=VALUE` overrides, in that order of precedence.
//!
//! ```text
//! CACHE_TYPE=RedisCache CACHE_REDIS_URL=redis://127.0.0.1:6379 CACHE_KEY_PREFIX=app: cachectl get user:7
//! cachectl -o CACHE_TYPE=MemcachedCache -o CACHE_MEMCACHED_SERVERS=127.0.0.1:11211 bench --ops 100000
//! ```
//!
//! - **Exit status**: 0 success; 1 a miss (`get`, `touch`, `has` found no value); 2 a mistake in
//!   the command or the configuration (a flag, a `CACHE_*` setting, a key or value the backend
//!   refuses); 3 a failure of the backend (unreachable, timed out, credentials refused).
//! - **CACHE_IGNORE_ERRORS** is ignored: cachectl builds its cache with it off, so that a dead
//!   server is exit status 3 and never a `(miss)`. Applications turn such failures into misses;
//!   a tool for looking at the cache must show them.
//! - **Secrets**: `stats` prints the configuration through its `Debug`, which redacts passwords;
//!   no error shows one (a TOML error says the line and column, not the line's text).
//! - **Warnings** of the library (a deprecated `CACHE_TYPE` name, settings ignored beside
//!   `CACHE_REDIS_URL`) go to stderr; `RUST_LOG` chooses more (`RUST_LOG=debug`).
//! - `--ttl 0` means never, as `CACHE_DEFAULT_TIMEOUT=0` does; `bench` refuses absurd sizes
//!   (over 64 MiB), counts (over 10 000 000 operations or 10 000 tasks, or 0) and `--ttl` over a
//!   hundred years, with exit status 2.

mod bench;
mod cli;
mod render;
mod settings;

use std::io::Write;
use std::process::ExitCode;

use cachette::{Bytes, Cache, CacheError, Config};
use clap::Parser;

use crate::bench::{Load, bench, stats};
use crate::cli::{Cli, Command};

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
            eprintln!("error: {e}");
            ExitCode::from(if e.is_backend_failure() { BACKEND_FAILED } else { MISTAKE })
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
    let config = settings::load_config(&cli)?;
    let result = execute(cli.command, &config).await;
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

async fn execute(command: Command, config: &Config) -> Result<ExitCode, CacheError> {
    // Failures are reported, never absorbed as misses (see the crate docs).
    let mut effective = config.clone();
    effective.ignore_errors = false;
    let cache = Cache::from_config(effective)?;
    let in_process = matches!(cache.backend().type_name(), "SimpleCache" | "NullCache");
    if in_process && !matches!(command, Command::Bench { .. } | Command::Stats) {
        eprintln!(
            "note: CACHE_TYPE={} lives inside this cachectl process, so it starts empty and is gone when \
             cachectl exits; set CACHE_TYPE to a shared backend (RedisCache, MemcachedCache, FileSystemCache, ...)",
            cache.backend().type_name()
        );
    }
    let miss = |key: &str| {
        eprintln!("(miss) no value under {key:?}");
        Ok(ExitCode::from(MISS))
    };
    match command {
        Command::Get { key, raw } => match cache.get_bytes(&key).await? {
            None => return miss(&key),
            Some(bytes) if raw => {
                std::io::stdout()
                    .write_all(&bytes)
                    .map_err(|e| CacheError::backend("cachectl", e.to_string(), None))?;
            }
            Some(bytes) => println!("{}", render::render(&bytes)),
        },
        Command::Set { key, value, ttl, raw } => {
            if raw {
                cache.set_bytes(&key, Bytes::from(value.into_bytes()), ttl).await?;
            } else if let Ok(n) = value.parse::<i64>() {
                cache.set(&key, &n, ttl).await?;
            } else {
                cache.set(&key, &value, ttl).await?;
            }
        }
        Command::Delete { keys } => {
            let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
            println!("{}", cache.delete_many(&refs).await?);
        }
        Command::Has { key } => {
            let live = cache.has(&key).await?;
            println!("{live}");
            if !live {
                return Ok(ExitCode::from(MISS));
            }
        }
        Command::Inc { key, delta } => println!("{}", cache.inc(&key, delta).await?),
        Command::Dec { key, delta } => println!("{}", cache.dec(&key, delta).await?),
        Command::Touch { key, ttl } => {
            if !cache.touch(&key, ttl).await? {
                return miss(&key);
            }
        }
        Command::Clear { yes } => {
            if !yes {
                return Err(CacheError::config(
                    "--yes",
                    "",
                    format!(
                        "clear removes every key under the prefix {:?} of this {}; repeat with --yes",
                        config.key_prefix,
                        cache.backend().type_name()
                    ),
                ));
            }
            cache.clear().await?;
            println!("cleared");
        }
        Command::Stats => stats(&cache, config).await?,
        Command::Bench { ops, concurrency, size } => bench(&cache, Load { ops, concurrency, size }).await?,
    }
    Ok(ExitCode::SUCCESS)
}
