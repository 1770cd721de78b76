//! The command line: flags, subcommands, and the checks of their values (absurd sizes, counts
//! and durations are usage errors, exit status 2, before anything is allocated or sent).

use std::path::PathBuf;
use std::time::Duration;

use cachette::Ttl;
use clap::{Parser, Subcommand};

/// The exit statuses, for `--help`.
const EXIT_STATUS: &str = "\
Exit status:
  0  success
  1  a miss: get or touch found no value under the key, has found none
  2  the command or the configuration is wrong: a flag, a CACHE_* setting, a key or a value the
     backend refuses (too long, too large, not an integer)
  3  the backend failed: unreachable, timed out, refused the credentials, answered nonsense

A failing backend is never reported as a miss: cachectl builds its cache with CACHE_IGNORE_ERRORS
off, whatever the configuration says (an application treats those failures as misses; cachectl is
for finding them).";

#[derive(Parser)]
#[command(
    name = "cachectl",
    version,
    about = "Inspect and exercise a cachette cache configured by CACHE_* settings",
    after_help = EXIT_STATUS
)]
pub(crate) struct Cli {
    /// A TOML file of CACHE_* keys (read first; environment variables and -o override it).
    #[arg(long, global = true)]
    pub(crate) config: Option<PathBuf>,

    /// A CACHE_* setting, e.g. -o CACHE_TYPE=RedisCache (may be repeated; wins over everything).
    #[arg(short = 'o', long = "option", value_name = "KEY=VALUE", global = true)]
    pub(crate) options: Vec<String>,

    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Subcommand)]
pub(crate) enum Command {
    /// Print the value of KEY (decimal integers and text as they are, other values as hex).
    Get {
        key: String,
        /// Write the stored bytes to stdout unchanged.
        #[arg(long)]
        raw: bool,
    },
    /// Store VALUE under KEY: an integer as decimal text (so inc works), anything else as a string
    /// readable with `cache.get::<String>`.
    Set {
        key: String,
        value: String,
        /// default, never (or 0, as CACHE_DEFAULT_TIMEOUT=0), or a duration such as 30s, 5m, 1h.
        #[arg(long, default_value = "default", value_parser = parse_ttl)]
        ttl: Ttl,
        /// Store the value's bytes as they are, without the typed encoding.
        #[arg(long)]
        raw: bool,
    },
    /// Delete keys; prints how many were removed.
    Delete { keys: Vec<String> },
    /// Whether KEY holds a live value (exit status 1 if not).
    Has { key: String },
    /// Add DELTA (default 1) to the integer under KEY; prints the new value.
    Inc {
        key: String,
        #[arg(default_value_t = 1, allow_negative_numbers = true)]
        delta: i64,
    },
    /// Subtract DELTA (default 1) from the integer under KEY; prints the new value.
    Dec {
        key: String,
        #[arg(default_value_t = 1, allow_negative_numbers = true)]
        delta: i64,
    },
    /// Give the live value under KEY a new expiry.
    Touch {
        key: String,
        /// default, never (or 0), or a duration such as 30s, 5m, 1h.
        #[arg(long, value_parser = parse_ttl)]
        ttl: Ttl,
    },
    /// Remove every key of this cache (its CACHE_KEY_PREFIX). Asks for --yes.
    Clear {
        #[arg(long)]
        yes: bool,
    },
    /// Show the backend, its (redacted) configuration, and the latency of a set/get/delete probe.
    Stats,
    /// Load test: --ops sets then --ops gets of --size-byte values at --concurrency tasks.
    Bench {
        /// Operations per phase, 1 to 10000000.
        #[arg(long, default_value = "20000", value_parser = |s: &str| count(s, "--ops", MAX_OPS))]
        ops: usize,
        /// Concurrent tasks, 1 to 10000.
        #[arg(long, default_value = "50", value_parser = |s: &str| count(s, "--concurrency", MAX_CONCURRENCY))]
        concurrency: usize,
        /// Bytes per value, 0 to 67108864 (64 MiB).
        #[arg(long, default_value = "100", value_parser = size)]
        size: usize,
    },
}

/// Most operations per bench phase: each one's latency is kept for the percentiles.
pub(crate) const MAX_OPS: usize = 10_000_000;
/// Most bench tasks.
pub(crate) const MAX_CONCURRENCY: usize = 10_000;
/// Largest bench value (one copy is allocated and shared by every task).
pub(crate) const MAX_SIZE: usize = 64 << 20;
/// Longest expiry: past it, write `never`. A hundred years keeps every backend's arithmetic on
/// the clock (and memcached's absolute times, which end in 2106) in range.
const MAX_TTL: Duration = Duration::from_secs(100 * 365 * 86_400);

fn count(text: &str, flag: &str, max: usize) -> Result<usize, String> {
    let n: usize = text.trim().parse().map_err(|_| format!("{flag} takes a whole number from 1 to {max}"))?;
    match n {
        0 => Err(format!("{flag} must be at least 1")),
        n if n > max => Err(format!("{flag} is at most {max}")),
        n => Ok(n),
    }
}

fn size(text: &str) -> Result<usize, String> {
    let n: u64 = text.trim().parse().map_err(|_| format!("--size takes a number of bytes from 0 to {MAX_SIZE}"))?;
    usize::try_from(n).ok().filter(|n| *n <= MAX_SIZE).ok_or_else(|| {
        format!("--size is at most {MAX_SIZE} bytes (64 MiB): a value of {n} bytes would not fit in memory")
    })
}

/// `default`, `never`, `0` (never, as `CACHE_DEFAULT_TIMEOUT=0` and Flask-Caching's timeout 0),
/// or a duration of at most a hundred years.
pub(crate) fn parse_ttl(text: &str) -> Result<Ttl, String> {
    let expected = "--ttl takes default, never (or 0), or a duration such as 30s, 5m, 1h";
    match text.trim() {
        "default" => Ok(Ttl::Default),
        "never" => Ok(Ttl::Never),
        other => match cachette::config::parse_duration(other) {
            None => Err(expected.to_owned()),
            Some(d) if d.is_zero() => Ok(Ttl::Never),
            Some(d) if d > MAX_TTL => Err("--ttl is at most 100 years (36500d); for no expiry write never".to_owned()),
            Some(d) => Ok(Ttl::After(d)),
        },
    }
}
