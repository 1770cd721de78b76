//! The demo's views over real HTTP, on SimpleCache (the README's run command's default).

use std::time::Duration;

use cachette::Config;
use cachette_demo::{Delays, Demo};

async fn start() -> (String, reqwest::Client, axum::Router) {
    let cache = cachette::Cache::from_config(Config::from_map([("CACHE_TYPE", "SimpleCache")]).unwrap()).unwrap();
    let demo = Demo::new(cache, Delays { slow: Duration::from_millis(300), greeting: Duration::from_millis(100) });
    let base = demo.serve_on_loopback().await.unwrap();
    (base, reqwest::Client::new(), demo.router())
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

/// Waits for the current second to end: `/stats` shows closed seconds only.
async fn next_second() {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
    tokio::time::sleep(Duration::from_millis(1_020 - u64::from(now.subsec_millis()))).await;
}

#[tokio::test]
async fn stats_json_has_each_route_and_function_second_by_second() {
    let (base, client, _) = start().await;
    for path in ["/daily", "/daily", "/slow", "/slow", "/hello/ada", "/hello/ada", "/hello/grace"] {
        client.get(format!("{base}{path}")).send().await.unwrap();
    }
    next_second().await;
    let stats = json(client.get(format!("{base}/stats")).send().await.unwrap()).await;
    let app: cachette::observe::AppStats = serde_json::from_value(stats.clone()).expect("the JSON is an AppStats");
    let daily = &app.routes["/daily"];
    assert_eq!((daily.hits, daily.misses), (1, 1), "{stats}");
    assert_eq!(daily.counters["stored"], 1, "the layer's own counters are kept: {stats}");
    let greeting = &app.functions["demo::greeting"];
    assert_eq!((greeting.hits, greeting.misses), (1, 2), "ada's second call hit");
    let timed: u64 = greeting.history.iter().filter_map(|s| s.latency).map(|l| l.calls).sum();
    assert_eq!(timed, 3, "every call timed");
    let slow_latency = app.routes["/slow"].history.iter().filter_map(|s| s.latency).map(|l| l.max_us).max().unwrap();
    assert!(slow_latency >= 300_000, "the miss took the 300 ms render: {slow_latency} µs");
    assert!(stats["renders"]["greetings"].as_u64().is_some(), "the demo's own counts stay");
}

#[tokio::test]
async fn a_browser_gets_the_stats_page_and_other_clients_json() {
    let (base, client, _) = start().await;
    client.get(format!("{base}/daily")).send().await.unwrap();
    let browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
    let page = client.get(format!("{base}/stats")).header("accept", browser).send().await.unwrap();
    assert_eq!(header(&page, "content-type"), "text/html; charset=utf-8");
    assert_eq!(header(&page, "vary"), "accept");
    let html = page.text().await.unwrap();
    assert_eq!(html.matches("<svg class=\"chart ").count(), 4, "two charts for each cached route: {html}");
    assert!(html.contains("data-series=\"route &#x2f;daily\""), "names are HTML-escaped: {html}");
    for accept in [None, Some("*/*"), Some("application/json")] {
        let mut request = client.get(format!("{base}/stats"));
        if let Some(accept) = accept {
            request = request.header("accept", accept);
        }
        let response = request.send().await.unwrap();
        assert_eq!(header(&response, "content-type"), "application/json", "{accept:?}");
    }
}
