//! `cachectl stats --app` and `cachectl watch` against a running application: the demo, served
//! on a loopback port by this test, reading the same `observe::AppStats` type it writes.

use std::process::{Command, Output};
use std::time::Duration;

use cachette::Config;
use cachette_demo::{Delays, Demo};

/// The demo on a free port, with a few calls made; its `/stats` URL.
fn running_demo(runtime: &tokio::runtime::Runtime) -> String {
    runtime.block_on(async {
        let cache = cachette::Cache::from_config(Config::from_map([("CACHE_TYPE", "SimpleCache")]).unwrap()).unwrap();
        let demo = Demo::new(cache, Delays { slow: Duration::from_millis(100), greeting: Duration::from_millis(20) });
        let base = demo.serve_on_loopback().await.unwrap();
        let client = reqwest::Client::new();
        for path in ["/daily", "/daily", "/daily", "/daily", "/hello/ada", "/hello/ada"] {
            client.get(format!("{base}{path}")).send().await.unwrap();
        }
        format!("{base}/stats")
    })
}

fn cachectl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cachectl")).args(args).env_remove("CACHE_TYPE").output().unwrap()
}

#[test]
fn watch_json_prints_one_line_per_refresh_with_each_route_and_function() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let url = running_demo(&runtime);
    let out = cachectl(&["--json", "watch", &url, "--interval", "1200ms", "--count", "2"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<serde_json::Value> =
        String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 2, "one line per refresh");
    let last = &lines[1];
    assert_eq!(last["backend"], "SimpleCache");
    let rows = last["rows"].as_array().unwrap();
    let daily = rows.iter().find(|r| r["name"] == "/daily" && r["kind"] == "route").unwrap();
    assert_eq!((daily["hits"].as_u64(), daily["misses"].as_u64()), (Some(3), Some(1)), "{daily}");
    assert_eq!(daily["hit_ratio"], 0.75);
    assert_eq!(daily["recent_hit_ratio"], 0.75, "the calls were in the last 10 seconds");
    assert!(daily["p99_us"].as_u64().is_some(), "a latency, from the closed second of the calls: {daily}");
    let greeting = rows.iter().find(|r| r["name"] == "demo::greeting").unwrap();
    assert_eq!(greeting["kind"], "function");
    assert_eq!(greeting["hit_ratio"], 0.5);
}

#[test]
fn stats_app_adds_the_running_apps_counters_to_the_backends() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let url = running_demo(&runtime);
    let out = cachectl(&["stats", "--app", &url]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("\napp\nSimpleCache: "), "{text}");
    let daily = text.lines().find(|l| l.starts_with("route /daily")).unwrap_or_else(|| panic!("{text}"));
    assert!(daily.contains("75.0%"), "{daily}");
    assert!(text.lines().any(|l| l.starts_with("function demo::greeting")), "{text}");

    let out = cachectl(&["--json", "stats", "--app", &url]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["app"]["routes"]["/daily"]["hits"], 3);
    assert_eq!(json["app"]["routes"]["/daily"]["counters"]["stored"], 1);

    let wrong = cachectl(&["stats", "--app", &url.replace("/stats", "/daily")]);
    assert_eq!(wrong.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("not cachette's stats JSON"), "{wrong:?}");
}

#[test]
fn watch_on_a_terminal_redraws_the_table_in_place() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let url = running_demo(&runtime);
    let command = format!("{} watch {url} --interval 300ms --count 3", env!("CARGO_BIN_EXE_cachectl"));
    let out = Command::new("script")
        .args(["-q", "-e", "-c", &command, "/dev/null"])
        .output()
        .expect("script (util-linux) runs: install it with apt-get install bsdutils");
    let screen = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{screen}");
    assert_eq!(screen.matches("ROUTE / FUNCTION").count(), 3, "three refreshes:\n{screen}");
    // console's clear_last_lines: the cursor up over the 7 lines drawn (ESC [ 7 A), each erased
    // (ESC [ 2 K), then the new table from there.
    assert_eq!(screen.matches("\x1b[7A").count(), 4, "two erasures, each up and back:\n{screen:?}");
    assert!(screen.contains("\x1b[2K"), "the previous table is erased:\n{screen:?}");
    assert!(screen.contains("route /daily") && screen.contains("function demo::greeting"), "{screen}");
}
