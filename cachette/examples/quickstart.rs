//! cachette in one screen: the backend comes from CACHE_* variables (SimpleCache, in-process, when
//! none are set), then set/get, a counter, a memoized function and the hit/miss counters.
//!
//!     cargo run -p cachette --example quickstart
//!     CACHE_DEFAULT_TIMEOUT=5m CACHE_KEY_PREFIX=demo: cargo run -p cachette --example quickstart

use std::time::{Duration, Instant};

use cachette::{Cache, Ttl};
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize)]
struct Weather {
    city: String,
    celsius: f32,
}

/// A slow function worth memoizing: 200 ms per call.
async fn fetch_weather(city: String) -> Result<Weather, std::io::Error> {
    tokio::time::sleep(Duration::from_millis(200)).await;
    Ok(Weather { celsius: 11.5 + city.len() as f32, city })
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt().with_env_filter("warn").init();
    if let Err(e) = run().await {
        eprintln!("error: {e}");
        std::process::exit(2);
    }
}

async fn run() -> Result<(), cachette::CacheError> {
    let cache = Cache::from_env()?;
    let config = cache.config();
    println!(
        "backend: {} (CACHE_DEFAULT_TIMEOUT {:?}, CACHE_KEY_PREFIX {:?})",
        cache.backend().type_name(),
        config.default_timeout,
        config.key_prefix
    );

    cache.set("greeting", "hello, cache", Ttl::Default).await?;
    println!("get greeting       -> {:?}", cache.get::<String>("greeting").await?);
    println!("get missing        -> {:?}", cache.get::<String>("missing").await?);

    cache.set("visits", &41, Ttl::Never).await?;
    println!("inc visits         -> {}", cache.inc("visits", 1).await?);

    let weather = cache.memoized("quickstart::fetch_weather", Ttl::After(Duration::from_secs(60)));
    for round in 1..=3 {
        let started = Instant::now();
        let w = weather.call(&"Lisbon", || fetch_weather("Lisbon".into())).await?;
        println!("memoized weather #{round} -> {w:?} in {:?}", started.elapsed());
    }
    weather.delete_all().await?;
    let started = Instant::now();
    weather.call(&"Lisbon", || fetch_weather("Lisbon".into())).await?;
    println!("after delete_all   -> reloaded in {:?}", started.elapsed());

    let stats = cache.stats();
    println!(
        "stats: {} hits, {} misses, {} loads, {} errors (hit ratio {:.0}%)",
        stats.hits,
        stats.misses,
        stats.loads,
        stats.errors,
        stats.hit_ratio() * 100.0
    );
    Ok(())
}
