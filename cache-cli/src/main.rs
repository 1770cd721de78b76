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

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime};

use cachette::{Bytes, Cache, CacheError, Config, Ttl, codec};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cachectl", version, about = "Inspect and exercise a cachette cache configured by CACHE_* settings")]
struct Cli {
    /// A TOML file of CACHE_* keys (read first; environment variables and -o override it).
    #[arg(long, global = true)]
    config: Option<PathBuf>,

    /// A CACHE_* setting, e.g. -o CACHE_TYPE=RedisCache (may be repeated; wins over everything).
    #[arg(short = 'o', long = "option", value_name = "KEY=VALUE", global = true)]
    options: Vec<String>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
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
        /// default, never, or a duration such as 30s, 5m, 1h.
        #[arg(long, default_value = "default")]
        ttl: String,
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
        /// default, never, or a duration such as 30s, 5m, 1h.
        #[arg(long)]
        ttl: String,
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
        #[arg(long, default_value_t = 20_000)]
        ops: usize,
        #[arg(long, default_value_t = 50)]
        concurrency: usize,
        #[arg(long, default_value_t = 100)]
        size: usize,
    },
}

fn main() -> ExitCode {
    // Like other command-line tools, end quietly when stdout is closed (`cachectl get k | head`)
    // instead of panicking on the broken pipe.
    // SAFETY: setting a signal disposition to its default before any thread is started.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

/// File, then environment, then -o: each layer overrides the one before.
fn load_config(cli: &Cli) -> Result<Config, CacheError> {
    let mut config = match &cli.config {
        None => Config::default(),
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                CacheError::config("--config", path.display().to_string(), format!("cannot read the file: {e}"))
            })?;
            toml::from_str::<Config>(&text)
                .map_err(|e| CacheError::config("--config", path.display().to_string(), e.to_string()))?
        }
    };
    for (name, value) in std::env::vars() {
        if name.starts_with("CACHE_") {
            config.set(&name, value)?;
        }
    }
    for option in &cli.options {
        let (key, value) = option
            .split_once('=')
            .ok_or_else(|| CacheError::config("-o", option, "expected KEY=VALUE, e.g. -o CACHE_TYPE=RedisCache"))?;
        config.set(key, value)?;
    }
    Ok(config)
}

fn parse_ttl(text: &str) -> Result<Ttl, CacheError> {
    match text {
        "default" => Ok(Ttl::Default),
        "never" => Ok(Ttl::Never),
        other => cachette::config::parse_duration(other).map(Ttl::After).ok_or_else(|| {
            CacheError::config("--ttl", other, "expected default, never, or a duration such as 30s, 5m, 1h")
        }),
    }
}

/// How a stored value is shown: integers and text as they are, typed strings decoded, the rest as hex.
fn render(bytes: &[u8]) -> String {
    if let Ok(n) = codec::decode::<i128>("", bytes) {
        return n.to_string();
    }
    if let Ok(s) = codec::decode::<String>("", bytes) {
        return s;
    }
    if bytes.first() == Some(&codec::FORMAT_BINCODE2) {
        return format!("<typed value, {} bytes> {}", bytes.len(), hex(bytes));
    }
    match std::str::from_utf8(bytes) {
        Ok(text) if !text.chars().any(|c| c.is_control() && c != '\n' && c != '\t') => text.to_owned(),
        _ => format!("<{} bytes> {}", bytes.len(), hex(bytes)),
    }
}

fn hex(bytes: &[u8]) -> String {
    const SHOWN: usize = 64;
    let mut out: String = bytes.iter().take(SHOWN).map(|b| format!("{b:02x}")).collect();
    if bytes.len() > SHOWN {
        out.push_str("...");
    }
    out
}

async fn run(cli: Cli) -> Result<ExitCode, CacheError> {
    let config = load_config(&cli)?;
    let cache = Cache::from_config(config)?;
    let in_process = matches!(cache.backend().type_name(), "SimpleCache" | "NullCache");
    if in_process && !matches!(cli.command, Command::Bench { .. } | Command::Stats) {
        eprintln!(
            "note: CACHE_TYPE={} lives inside this cachectl process, so it starts empty and is gone when \
             cachectl exits; set CACHE_TYPE to a shared backend (RedisCache, MemcachedCache, FileSystemCache, ...)",
            cache.backend().type_name()
        );
    }
    match cli.command {
        Command::Get { key, raw } => match cache.get_bytes(&key).await? {
            None => {
                eprintln!("(miss) no value under {key:?}");
                return Ok(ExitCode::from(1));
            }
            Some(bytes) if raw => {
                std::io::stdout()
                    .write_all(&bytes)
                    .map_err(|e| CacheError::backend("cachectl", e.to_string(), None))?;
            }
            Some(bytes) => println!("{}", render(&bytes)),
        },
        Command::Set { key, value, ttl, raw } => {
            let ttl = parse_ttl(&ttl)?;
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
                return Ok(ExitCode::from(1));
            }
        }
        Command::Inc { key, delta } => println!("{}", cache.inc(&key, delta).await?),
        Command::Dec { key, delta } => println!("{}", cache.dec(&key, delta).await?),
        Command::Touch { key, ttl } => {
            if !cache.touch(&key, parse_ttl(&ttl)?).await? {
                eprintln!("(miss) no value under {key:?}");
                return Ok(ExitCode::from(1));
            }
        }
        Command::Clear { yes } => {
            if !yes {
                return Err(CacheError::config(
                    "--yes",
                    "",
                    format!(
                        "clear removes every key under the prefix {:?} of this {}; repeat with --yes",
                        cache.config().key_prefix,
                        cache.backend().type_name()
                    ),
                ));
            }
            cache.clear().await?;
            println!("cleared");
        }
        Command::Stats => stats(&cache).await?,
        Command::Bench { ops, concurrency, size } => bench(&cache, ops, concurrency.max(1), size).await?,
    }
    Ok(ExitCode::SUCCESS)
}

async fn stats(cache: &Cache) -> Result<(), CacheError> {
    println!("backend: {}", cache.backend().type_name());
    println!("config:  {:#?}", cache.config());
    let key = format!("cachectl-probe:{}:{}", std::process::id(), rand_suffix());
    let t = Instant::now();
    cache.set(&key, "probe", Ttl::After(Duration::from_secs(60))).await?;
    let set = t.elapsed();
    let t = Instant::now();
    let got = cache.get::<String>(&key).await?;
    let get = t.elapsed();
    let t = Instant::now();
    cache.delete(&key).await?;
    let delete = t.elapsed();
    if got.as_deref() != Some("probe") && cache.backend().type_name() != "NullCache" {
        return Err(CacheError::backend(
            "cachectl",
            format!("the probe value did not read back (got {got:?}): the backend is not storing values"),
            None,
        ));
    }
    println!("probe:   set {set:?}, get {get:?}, delete {delete:?}");
    Ok(())
}

fn rand_suffix() -> u64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0)
}

async fn bench(cache: &Cache, ops: usize, concurrency: usize, size: usize) -> Result<(), CacheError> {
    let run = rand_suffix();
    let keys: Vec<String> = (0..ops.min(10_000)).map(|i| format!("cachectl-bench:{run}:{i}")).collect();
    let value = Bytes::from(vec![b'x'; size]);
    for phase in ["set", "get"] {
        let started = Instant::now();
        let mut tasks = Vec::with_capacity(concurrency);
        for worker in 0..concurrency {
            let (cache, keys, value) = (cache.clone(), keys.clone(), value.clone());
            tasks.push(tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut i = worker;
                while i < ops {
                    let key = &keys[i % keys.len()];
                    let t = Instant::now();
                    if phase == "set" {
                        cache.set_bytes(key, value.clone(), Ttl::After(Duration::from_secs(300))).await?;
                    } else {
                        cache.get_bytes(key).await?;
                    }
                    latencies.push(t.elapsed());
                    i += concurrency;
                }
                Ok::<_, CacheError>(latencies)
            }));
        }
        let mut latencies = Vec::with_capacity(ops);
        for task in tasks {
            let part =
                task.await.map_err(|e| CacheError::backend("cachectl", format!("a bench task failed: {e}"), None))?;
            latencies.extend(part?);
        }
        let elapsed = started.elapsed();
        latencies.sort();
        let pct =
            |p: f64| latencies.get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)));
        println!(
            "{phase}: {ops} ops at {concurrency} tasks, {size}-byte values: {:.0} ops/s, p50 {:?}, p99 {:?}",
            ops as f64 / elapsed.as_secs_f64(),
            pct(0.50).copied().unwrap_or_default(),
            pct(0.99).copied().unwrap_or_default()
        );
    }
    let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    cache.delete_many(&refs).await?;
    Ok(())
}
