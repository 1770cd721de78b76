//! The demo's views over real HTTP, on SimpleCache (the README's run command's default).

use std::time::Duration;

use cachette::Config;
use cachette_demo::{Delays, Demo};

async fn start() -> (String, reqwest::Client, axum::Router) {
    let cache = cachette::Cache::from_config(Config::from_map([("CACHE_TYPE", "SimpleCache")]).unwrap()).unwrap();
    let demo = Demo::new(cache, Delays { slow: Duration::from_millis(300), greeting: Duration::from_millis(100) });
    let app = demo.router();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let served = app.clone();
    tokio::spawn(async move { axum::serve(listener, served).await });
    (base, reqwest::Client::new(), app)
}

async fn json(r: reqwest::Response) -> serde_json::Value {
    serde_json::from_slice(&r.bytes().await.unwrap()).unwrap()
}

fn header(r: &reqwest::Response, name: &str) -> String {
    r.headers().get(name).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default()
}

#[tokio::test]
async fn daily_is_cached_until_midnight_with_etag_and_304() {
    let (base, client, _) = start().await;
    let first = client.get(format!("{base}/daily")).send().await.unwrap();
    assert_eq!(header(&first, "x-cache"), "MISS");
    let max_age: u64 = header(&first, "cache-control").strip_prefix("public, max-age=").unwrap().parse().unwrap();
    assert!((1..=86_400).contains(&max_age), "max-age is the time left until midnight: {max_age}");
    let etag = header(&first, "etag");
    let second = client.get(format!("{base}/daily")).send().await.unwrap();
    assert_eq!(header(&second, "x-cache"), "HIT");
    let revalidated = client.get(format!("{base}/daily")).header("if-none-match", &etag).send().await.unwrap();
    assert_eq!(revalidated.status(), 304);
}

#[tokio::test]
async fn slow_is_rendered_once_and_then_hit() {
    let (base, client, _) = start().await;
    let first = client.get(format!("{base}/slow")).send().await.unwrap();
    assert_eq!(header(&first, "x-cache"), "MISS");
    let text = first.text().await.unwrap();
    let second = client.get(format!("{base}/slow")).send().await.unwrap();
    assert_eq!(header(&second, "x-cache"), "HIT");
    assert_eq!(second.text().await.unwrap(), text);
}

#[tokio::test]
async fn greetings_are_memoized_per_user_and_forgotten() {
    let (base, client, _) = start().await;
    let get = |user: &str| client.get(format!("{base}/hello/{user}")).send();
    let stats = || async { json(client.get(format!("{base}/stats")).send().await.unwrap()).await };
    let first = get("ada").await.unwrap().text().await.unwrap();
    assert!(first.starts_with("Hello, ada!"), "{first}");
    get("ada").await.unwrap();
    get("grace").await.unwrap();
    assert_eq!(stats().await["renders"]["greetings"], 2, "ada once, grace once");
    let forgot = client.post(format!("{base}/hello/ada/forget")).send().await.unwrap().text().await.unwrap();
    assert_eq!(forgot, "forgot the greeting of ada\n");
    get("ada").await.unwrap();
    assert_eq!(stats().await["renders"]["greetings"], 3);
    client.post(format!("{base}/hello/forget-all")).send().await.unwrap();
    get("ada").await.unwrap();
    get("grace").await.unwrap();
    let stats = stats().await;
    assert_eq!(stats["renders"]["greetings"], 5, "forget-all forgot both");
    assert_eq!(stats["backend"], "SimpleCache");
    assert!(stats["cache"]["hits"].as_u64().unwrap() >= 1);
}

#[tokio::test]
async fn the_refresher_renders_slow_and_stops() {
    let (base, client, app) = start().await;
    let refresher = Demo::refresher(app, &base, Duration::from_millis(100));
    let renders = || async {
        let stats = json(client.get(format!("{base}/stats")).send().await.unwrap()).await;
        stats["renders"]["/slow"].as_u64().unwrap()
    };
    let started = std::time::Instant::now();
    while renders().await < 2 {
        assert!(started.elapsed() < Duration::from_secs(20), "the refresher did not render /slow twice");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    refresher.shutdown().await;
    let stopped_at = renders().await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(renders().await, stopped_at, "no render after shutdown");
    let hit = client.get(format!("{base}/slow")).send().await.unwrap();
    assert_eq!(header(&hit, "x-cache"), "HIT", "the refresher stored it");
}
