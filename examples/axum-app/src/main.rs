//! The README's axum example: one cached route on the configured backend.
//!
//!     cargo run                                                   # SimpleCache, in process
//!     CACHE_TYPE=RedisCache CACHE_REDIS_URL=redis://127.0.0.1:6379 cargo run

use std::time::Duration;

use axum::{Router, routing::get};
use cachette::http::{CacheControl, CacheLayer};
use cachette::{Cache, Ttl};

async fn report() -> &'static str {
    tokio::time::sleep(Duration::from_millis(200)).await; // the slow part
    "today's report\n"
}

async fn visits(cache: Cache) -> cachette::Result<String> {
    Ok(format!("visit #{}\n", cache.inc("visits", 1).await?)) // a cache failure is a 503
}

/// The app: `/report` cached for 60 s, `/visits` a counter in the cache.
fn app(cache: Cache) -> Router {
    let cached = CacheLayer::new(cache.clone())
        .fresh_for(Duration::from_secs(60))
        .cache_control(CacheControl::public().max_age_until_expiry());
    Router::new().route("/report", get(report).layer(cached)).route("/visits", get(move || visits(cache.clone())))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let cache = Cache::from_env()?; // CACHE_TYPE, CACHE_REDIS_URL, ... (SimpleCache when unset)
    cache.set("started", &true, Ttl::Never).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    axum::serve(listener, app(cache)).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_report_is_rendered_once_then_served_from_the_cache() {
        let cache = Cache::from_env().unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(axum::serve(listener, app(cache)).into_future());
        let client = reqwest::Client::new();
        let first = client.get(format!("{base}/report")).send().await.unwrap();
        assert_eq!(first.headers()["x-cache"], "MISS");
        let second = client.get(format!("{base}/report")).send().await.unwrap();
        assert_eq!(second.headers()["x-cache"], "HIT");
        assert_eq!(second.text().await.unwrap(), "today's report\n");
        let visit = client.get(format!("{base}/visits")).send().await.unwrap();
        assert_eq!(visit.text().await.unwrap(), "visit #1\n");
    }
}
