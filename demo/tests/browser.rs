//! The stats page in a real browser: Debian's chromium, headless, loads the demo's `/stats` over
//! HTTP and dumps the DOM it built; each cached route and memoized function must have its two
//! charts with data points. Part of the test command (`./scripts/test`; `scripts/setup` installs
//! chromium). A missing chromium fails with the install command, never a silent skip.

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use cachette::Config;
use cachette_demo::{Delays, Demo};

/// How long chromium may take to load the page and dump it (it takes about a second).
const CHROMIUM_LIMIT: Duration = Duration::from_secs(60);

/// The browser: `CACHETTE_TEST_CHROMIUM`, or `chromium` on the PATH.
fn chromium() -> String {
    std::env::var("CACHETTE_TEST_CHROMIUM").unwrap_or_else(|_| "chromium".to_owned())
}

/// The DOM chromium built from `url`, run as this machine's CI runs it (root, no sandbox, no
/// background traffic: without those flags it waits on the closed network until killed).
fn dump_dom(url: &str) -> String {
    let profile = tempfile::tempdir().unwrap();
    let mut child = Command::new(chromium())
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        .args(["--disable-component-update", "--disable-sync", "--no-first-run"])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(["--dump-dom", url])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {} ({e}): install Debian's chromium with `apt-get install chromium` \
                 (./scripts/setup does), or point CACHETTE_TEST_CHROMIUM at a Chromium binary",
                chromium()
            )
        });
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > CHROMIUM_LIMIT {
            child.kill().unwrap();
            panic!("chromium did not dump {url} within {CHROMIUM_LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let Output { status, stdout, stderr } = child.wait_with_output().unwrap();
    let dom = String::from_utf8_lossy(&stdout).into_owned();
    assert!(status.success(), "chromium failed ({status}):\n{}", String::from_utf8_lossy(&stderr));
    eprintln!("headless chromium loaded and dumped the page in {:?}", started.elapsed());
    dom
}

/// The `<svg ...>...</svg>` elements of `dom` whose `data-series` is `series`.
fn charts<'a>(dom: &'a str, series: &str) -> Vec<&'a str> {
    let attribute = format!("data-series=\"{series}\"");
    dom.split("<svg ")
        .skip(1)
        .filter(|svg| svg.contains(&attribute))
        .map(|svg| svg.split("</svg>").next().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headless_chromium_shows_a_hit_ratio_and_a_latency_chart_with_points_per_route_and_function() {
    let cache = cachette::Cache::from_config(Config::from_map([("CACHE_TYPE", "SimpleCache")]).unwrap()).unwrap();
    let demo = Demo::new(cache, Delays { slow: Duration::from_millis(200), greeting: Duration::from_millis(50) });
    let base = demo.serve_on_loopback().await.unwrap();
    let client = reqwest::Client::new();
    for path in ["/daily", "/daily", "/daily", "/slow", "/slow", "/hello/ada", "/hello/ada", "/hello/grace"] {
        client.get(format!("{base}{path}")).send().await.unwrap();
    }
    // The page draws closed seconds: let this one end.
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    tokio::time::sleep(Duration::from_millis(1_020 - u64::from(now.subsec_millis()))).await;

    let url = format!("{base}/stats");
    let dom = tokio::task::spawn_blocking(move || dump_dom(&url)).await.unwrap();

    assert!(dom.contains("<h1>cachette demo: cache stats</h1>"), "chromium got the HTML page:\n{dom}");
    for series in ["route /daily", "route /slow", "function demo::greeting"] {
        let found = charts(&dom, series);
        assert_eq!(found.len(), 2, "{series}: a hit-ratio and a latency chart:\n{dom}");
        for chart in found {
            let kind = if chart.contains("hit-ratio") { "hit ratio" } else { "latency" };
            let points = chart.matches("class=\"point\"").count();
            assert!(points >= 1 && chart.contains("<polyline points=\""), "{series} {kind}: no data point:\n{chart}");
            assert!(chart.contains("<title>"), "{series} {kind}: points say what they show:\n{chart}");
        }
    }
    assert!(dom.contains("\"routes\""), "the JSON is on the page too");
}
