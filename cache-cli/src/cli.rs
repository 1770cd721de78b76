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

    /// Print the result as JSON on stdout (one object; `watch` prints one per line), and errors
    /// as a JSON object on stderr.
    #[arg(long, global = true)]
    pub(crate) json: bool,

    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Subcommand)]
pub(crate) enum Command {
    /// Print the value of KEY (decimal integers and text as they are, other values as hex).
    Get {
        /// The key, as the application writes it (without CACHE_KEY_PREFIX).
        key: String,
        /// Write the stored bytes to stdout unchanged.
        #[arg(long)]
        raw: bool,
    },
    /// Store VALUE under KEY: an integer as decimal text (so inc works), anything else as a string
    /// readable with `cache.get::<String>`.
    Set {
        /// The key, as the application writes it (without CACHE_KEY_PREFIX).
        key: String,
        /// The value: an integer, or text.
        value: String,
        /// default, never (or 0, as CACHE_DEFAULT_TIMEOUT=0), or a duration such as 30s, 5m, 1h.
        #[arg(long, default_value = "default", value_parser = parse_ttl)]
        ttl: Ttl,
        /// Store the value's bytes as they are, without the typed encoding.
        #[arg(long)]
        raw: bool,
    },
    /// Delete keys; prints how many were removed.
    Delete {
        /// The keys, as the application writes them (without CACHE_KEY_PREFIX).
        keys: Vec<String>,
    },
    /// Whether KEY holds a live value (exit status 1 if not).
    Has {
        /// The key, as the application writes it (without CACHE_KEY_PREFIX).
        key: String,
    },
    /// Add DELTA (default 1) to the integer under KEY; prints the new value.
    Inc {
        /// The key of the counter.
        key: String,
        /// How much to add (may be negative).
        #[arg(default_value_t = 1, allow_negative_numbers = true)]
        delta: i64,
    },
    /// Subtract DELTA (default 1) from the integer under KEY; prints the new value.
    Dec {
        /// The key of the counter.
        key: String,
        /// How much to subtract (may be negative).
        #[arg(default_value_t = 1, allow_negative_numbers = true)]
        delta: i64,
    },
    /// Give the live value under KEY a new expiry.
    Touch {
        /// The key, as the application writes it (without CACHE_KEY_PREFIX).
        key: String,
        /// default, never (or 0), or a duration such as 30s, 5m, 1h.
        #[arg(long, value_parser = parse_ttl)]
        ttl: Ttl,
    },
    /// Remove every key of this cache (its CACHE_KEY_PREFIX), showing progress and how many keys
    /// went (where the backend can count them). Asks for --yes.
    Clear {
        /// Yes, remove them: without it, clear only says what it would remove.
        #[arg(long)]
        yes: bool,
    },
    /// The backend and its settings (passwords hidden), a set/get/delete probe's latency, the
    /// breaker, this prefix's key count and each server's memory and keys (where the backend
    /// offers them), and with --app the live counters of a running application.
    Stats {
        /// Also read a running application's stats, e.g. http://127.0.0.1:3000/stats (the
        /// JSON of cachette's observe::AppStats, as the demo serves it).
        #[arg(long, value_name = "URL")]
        app: Option<String>,
        /// Skip counting this prefix's keys (a SCAN of the whole database on Redis).
        #[arg(long)]
        no_count: bool,
    },
    /// Load test: --ops sets then --ops gets of --size-byte values at --concurrency tasks, over
    /// a key space that fits the cache (so the gets measure hits), with latency percentiles and
    /// the hit rate. A progress bar is drawn on stderr when it is a terminal.
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
        /// Distinct keys, 1 to 10000000. Default: as many as --ops, at most 10000, and no more
        /// than the cache keeps (90% of CACHE_THRESHOLD for SimpleCache and FileSystemCache, a
        /// quarter of the server's memory limit in values where it reports one).
        #[arg(long, value_parser = |s: &str| count(s, "--keys", MAX_OPS))]
        keys: Option<usize>,
    },
    /// Follow a running application's hit ratio and latency, per route and memoized function,
    /// refreshed every --interval; URL is its stats endpoint, e.g. http://127.0.0.1:3000/stats.
    Watch {
        /// The application's stats endpoint.
        url: String,
        /// Time between refreshes, e.g. 1s, 500ms, 5s (at least 100ms).
        #[arg(long, default_value = "1s", value_parser = interval)]
        interval: Duration,
        /// Stop after this many refreshes (default: until interrupted).
        #[arg(long, value_parser = |s: &str| count(s, "--count", usize::MAX))]
        count: Option<usize>,
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

/// A refresh interval of `watch`: a duration of at least 100 ms.
fn interval(text: &str) -> Result<Duration, String> {
    match cachette::config::parse_duration(text.trim()) {
        Some(d) if d >= Duration::from_millis(100) => Ok(d),
        Some(_) => Err("--interval is at least 100ms".to_owned()),
        None => Err("--interval takes a duration such as 1s, 500ms, 5s".to_owned()),
    }
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

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    #[test]
    fn every_command_argument_and_option_has_help_text() {
        let cli = Cli::command();
        let mut missing = Vec::new();
        for command in std::iter::once(&cli).chain(cli.get_subcommands()) {
            if command.get_about().is_none() {
                missing.push(command.get_name().to_owned());
            }
            for arg in command.get_arguments() {
                if arg.get_help().is_none() && !matches!(arg.get_id().as_str(), "help" | "version") {
                    missing.push(format!("{} {}", command.get_name(), arg.get_id()));
                }
            }
        }
        assert!(missing.is_empty(), "without help text: {missing:?}");
    }
}
