//! `cargo run -p cachette-demo`: the demo app on http://127.0.0.1:3000 (`DEMO_ADDR` to change),
//! on an in-process SimpleCache unless CACHE_* variables say otherwise, e.g.
//! `CACHE_TYPE=RedisCache CACHE_REDIS_URL=redis://127.0.0.1:6379 cargo run -p cachette-demo`.

use std::time::Duration;

use cachette_demo::{Delays, Demo};

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    if let Err(e) = run().await {
        eprintln!("error: {e}");
        std::process::exit(2);
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    // First, so that the metrics recorded while the cache is built are kept; then drained every
    // few seconds, as the exporter asks, so that histograms do not grow between scrapes.
    if let Some(prometheus) = cachette_demo::prometheus() {
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(5)).await;
                prometheus.run_upkeep();
            }
        });
    }
    let cache = cachette::Cache::from_env()?;
    let demo = Demo::new(cache.clone(), Delays::default());
    let app = demo.router();

    let addr = std::env::var("DEMO_ADDR").unwrap_or_else(|_| "127.0.0.1:3000".into());
    let listener = tokio::net::TcpListener::bind(&addr).await.map_err(|e| {
        format!("cannot listen on {addr} ({e}): set DEMO_ADDR to a free address, e.g. DEMO_ADDR=127.0.0.1:3001")
    })?;
    let base = format!("http://{}", listener.local_addr()?);
    let refresher = Demo::refresher(app.clone(), &base, Duration::from_secs(25));
    println!("cachette demo on {base} — cache: {} (CACHE_TYPE)", cache.backend().type_name());
    println!("try:");
    println!("  curl -i {base}/daily                    # X-Cache: MISS, then HIT; note the ETag");
    println!("  curl -i {base}/daily -H 'If-None-Match: <the ETag>'   # 304 Not Modified");
    println!("  curl -i {base}/slow                     # 2 s once; fast HITs; STALE after 10 s, refreshed behind");
    println!("  curl {base}/hello/ada                   # 0.5 s, then instant (memoized per user)");
    println!("  curl -X POST {base}/hello/ada/forget");
    println!("  curl {base}/stats                       # hit ratio and latency per route and function (JSON)");
    println!("  open {base}/stats in a browser for the charts, or: cachectl watch {base}/stats");
    println!("  curl {base}/metrics                     # Prometheus metrics (dashboards/cachette.json)");
    println!("Ctrl-C stops it.");

    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    refresher.shutdown().await;
    println!("stopped");
    Ok(())
}
