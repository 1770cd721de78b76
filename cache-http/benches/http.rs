//! Load driver: requests per second of a route cached by `CacheLayer` (SimpleCache, every request a
//! hit) against a plain route returning the same 1 KiB body, side by side in one run, measured by
//! wrk (Debian's `wrk` package) over HTTP/1.1 keep-alive at 50 connections. Five rounds, alternating
//! which route goes first; medians and the ratio are printed.
//!
//! `cargo bench -p cachette-http --bench http` (`BENCH_SECS=10` for longer rounds).
//!
//! The server runs on one tokio worker and wrk on one thread, so each has a core of a 2-core
//! machine and the ratio measures what the layer costs per request on the server.

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use cachette_core::{BaseCache, Cache, Config, Ttl};
use cachette_http::CacheLayer;

const ROUNDS: usize = 5;
const BODY: &[u8] = &[b'x'; 1024];

fn wrk(url: &str, secs: u64) -> f64 {
    let output = Command::new("wrk")
        .args(["-t1", "-c50", &format!("-d{secs}s"), url])
        .output()
        .unwrap_or_else(|e| panic!("cannot run wrk ({e}): install it with `apt-get install -y wrk` (./scripts/setup)"));
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(!text.contains("Non-2xx"), "wrk saw errors against {url}:\n{text}");
    text.lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no Requests/sec in wrk's output:\n{text}"))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let secs: u64 = std::env::var("BENCH_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(5);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let addr = runtime.block_on(async {
        let config = Config::default();
        let backend = cachette_simple::SimpleCache::new(&config).unwrap();
        let cache = Cache::new(Arc::new(backend) as Arc<dyn BaseCache>, config);
        let app = Router::new()
            .route("/cached", get(|| async { BODY }).layer(CacheLayer::new(cache.clone()).fresh_for(Ttl::Never)))
            .route("/plain", get(|| async { BODY }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        // Prime the entry and check that it serves hits.
        let client = reqwest::Client::new();
        for expected in ["MISS", "HIT"] {
            let r = client.get(format!("http://{addr}/cached")).send().await.unwrap();
            assert_eq!(r.headers()["x-cache"], expected);
            assert_eq!(&r.bytes().await.unwrap()[..], BODY);
        }
        addr
    });
    let (plain_url, cached_url) = (format!("http://{addr}/plain"), format!("http://{addr}/cached"));
    // Warm-up.
    wrk(&plain_url, 1);
    wrk(&cached_url, 1);

    let (mut plain, mut cached) = (Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        if round % 2 == 0 {
            plain.push(wrk(&plain_url, secs));
            cached.push(wrk(&cached_url, secs));
        } else {
            cached.push(wrk(&cached_url, secs));
            plain.push(wrk(&plain_url, secs));
        }
        println!("round {}: plain {:>9.0} req/s   cached {:>9.0} req/s", round + 1, plain[round], cached[round]);
        std::thread::sleep(Duration::from_millis(200));
    }
    let (p, c) = (median(plain), median(cached));
    println!();
    println!("{:<44} {:>12}", "route (1 KiB body, wrk -t1 -c50, medians)", "req/s");
    println!("{:<44} {:>12.0}", "plain handler, no layer", p);
    println!("{:<44} {:>12.0}", "CacheLayer hit (SimpleCache)", c);
    println!("cached / plain = {:.2}", c / p);
    runtime.shutdown_timeout(Duration::from_secs(1));
}
