//! The Grafana dashboard (`dashboards/cachette.json`) cannot drift from the code silently: every
//! metric it queries, every label it filters or groups by and every outcome value it names must
//! be written in the sources that record them (cachette-core's `observe`, cachette-http), and
//! every variable it uses must be defined.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

const DASHBOARD: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../dashboards/cachette.json");
/// Where the metrics are recorded.
const SOURCES: [&str; 2] = ["cache-core/src", "cache-http/src"];
/// Prometheus's own: the histogram bucket bound.
const PROMETHEUS_LABELS: [&str; 1] = ["le"];

fn dashboard() -> Value {
    serde_json::from_str(&std::fs::read_to_string(DASHBOARD).unwrap()).expect("the dashboard is JSON")
}

/// Every `.rs` file under `dir`, concatenated.
fn sources() -> String {
    fn walk(dir: &Path, out: &mut String) {
        for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push_str(&std::fs::read_to_string(&path).unwrap());
            }
        }
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut out = String::new();
    for dir in SOURCES {
        walk(&root.join(dir), &mut out);
    }
    out
}

/// Every PromQL query of the dashboard: panel targets and variable queries.
fn queries(dashboard: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().into_iter().flatten() {
            out.push(target["expr"].as_str().expect("each target has an expr").to_owned());
        }
    }
    for variable in dashboard["templating"]["list"].as_array().unwrap() {
        if let Some(query) = variable["query"]["query"].as_str() {
            out.push(query.to_owned());
        }
    }
    out
}

/// The `cachette_*` names in `query`, histogram series (`_bucket`, `_sum`, `_count`) as the
/// histogram's own name.
fn metric_names(query: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = query;
    while let Some(start) = rest.find("cachette_") {
        let tail = &rest[start..];
        let end = tail.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(tail.len());
        let name = &tail[..end];
        let base = ["_bucket", "_sum", "_count"].iter().find_map(|s| name.strip_suffix(s)).unwrap_or(name);
        names.insert(base.to_owned());
        rest = &tail[end..];
    }
    names
}

/// Label names in `{label=~"..."}` selectors and `by (a, b)` clauses, and the values matched in
/// selectors (`outcome=~"hit|stale"` gives `hit` and `stale`), variables left out.
fn labels_and_values(query: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let (mut labels, mut values) = (BTreeSet::new(), BTreeSet::new());
    for selector in query.split('{').skip(1).filter_map(|s| s.split('}').next()) {
        for matcher in selector.split(',') {
            let Some(op) = matcher.find(['=', '!']) else { continue };
            labels.insert(matcher[..op].trim().to_owned());
            let value = matcher[op..].trim_start_matches(['=', '!', '~']).trim().trim_matches('"');
            values.extend(value.split('|').filter(|v| !v.starts_with('$') && *v != ".*").map(str::to_owned));
        }
    }
    for clause in query.split("by (").skip(1).filter_map(|s| s.split(')').next()) {
        labels.extend(clause.split(',').map(|l| l.trim().to_owned()));
    }
    labels.retain(|l| !PROMETHEUS_LABELS.contains(&l.as_str()));
    (labels, values)
}

/// What in `dashboard` the code does not write, and the variables it uses without defining.
fn drift(dashboard: &Value, sources: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let text = dashboard.to_string();
    for query in queries(dashboard) {
        let (labels, values) = labels_and_values(&query);
        let names = metric_names(&query);
        for (kind, items) in [("metric", names), ("label", labels), ("label value", values)] {
            for item in items {
                if !sources.contains(&format!("\"{item}\"")) {
                    problems.push(format!("{kind} {item:?} (in `{query}`) is written nowhere in {SOURCES:?}"));
                }
            }
        }
    }
    let defined: BTreeSet<&str> = dashboard["templating"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .chain(["__rate_interval", "__all"])
        .collect();
    for used in text.split('$').skip(1) {
        let name: String =
            used.trim_start_matches('{').chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
        if !defined.contains(name.as_str()) {
            problems.push(format!("variable ${name} is used but not defined"));
        }
    }
    problems
}

#[test]
fn every_metric_label_and_value_the_dashboard_queries_is_written_in_the_code() {
    let dashboard = dashboard();
    let queried: BTreeSet<String> = queries(&dashboard).iter().flat_map(|q| metric_names(q)).collect();
    let expected = [
        "cachette_backend_operation_seconds",
        "cachette_backend_operations_total",
        "cachette_breaker_state",
        "cachette_http_errors_total",
        "cachette_http_render_seconds",
        "cachette_http_responses_total",
        "cachette_http_stored_total",
        "cachette_memoize_calls_total",
        "cachette_memoize_load_seconds",
        "cachette_reads_total",
    ];
    assert_eq!(queried.iter().map(String::as_str).collect::<Vec<_>>(), expected, "the dashboard covers every metric");
    let problems = drift(&dashboard, &sources());
    assert!(problems.is_empty(), "the dashboard has drifted from the code:\n{}", problems.join("\n"));
}

#[test]
fn a_misspelt_metric_label_or_variable_is_caught() {
    let mut dashboard = dashboard();
    let target = &mut dashboard["panels"][1]["targets"][0]["expr"];
    let expr = target.as_str().unwrap().replace("cachette_http_responses_total", "cachette_http_response_total");
    *target = Value::from(expr.replace("outcome", "outcom").replace("$route", "$rout"));
    let problems = drift(&dashboard, &sources()).join("\n");
    for expected in ["metric \"cachette_http_response_total\"", "label \"outcom\"", "variable $rout "] {
        assert!(problems.contains(expected), "{expected} not reported in:\n{problems}");
    }
}

#[test]
fn every_panel_queries_prometheus_through_the_datasource_variable() {
    let dashboard = dashboard();
    for panel in dashboard["panels"].as_array().unwrap().iter().filter(|p| p["type"] != "row") {
        let title = panel["title"].as_str().unwrap();
        let targets = panel["targets"].as_array().unwrap_or_else(|| panic!("{title}: no targets"));
        assert!(!targets.is_empty(), "{title}: no query");
        assert_eq!(panel["datasource"]["uid"], "${datasource}", "{title}");
        assert!(panel["description"].as_str().is_some_and(|d| !d.is_empty()), "{title}: say what it shows");
    }
}

/// Counters that only move when a backend fails: a healthy demo does not write them.
const ON_FAILURE_ONLY: [&str; 1] = ["cachette_http_errors_total"];

#[tokio::test]
async fn the_demos_metrics_endpoint_serves_every_series_the_dashboard_queries() {
    // The recorder first: the cache records its breaker's state when it is built.
    cachette_demo::prometheus().expect("the Prometheus recorder installs");
    let config = cachette::Config::from_map([("CACHE_TYPE", "SimpleCache")]).unwrap();
    let cache = cachette::Cache::from_config(config).unwrap();
    let delays = cachette_demo::Delays { slow: Duration::from_millis(50), greeting: Duration::from_millis(10) };
    let demo = cachette_demo::Demo::new(cache, delays);
    let base = demo.serve_on_loopback().await.unwrap();
    let client = reqwest::Client::new();
    for path in ["/daily", "/daily", "/slow", "/slow", "/hello/ada", "/hello/ada"] {
        client.get(format!("{base}{path}")).send().await.unwrap();
    }
    let text = client.get(format!("{base}/metrics")).send().await.unwrap().text().await.unwrap();
    let queried: BTreeSet<String> = queries(&dashboard()).iter().flat_map(|q| metric_names(q)).collect();
    for name in queried.iter().filter(|n| !ON_FAILURE_ONLY.contains(&n.as_str())) {
        // Histograms as buckets (what histogram_quantile reads), not as a summary.
        let series = if name.ends_with("_seconds") { format!("{name}_bucket{{") } else { format!("{name}{{") };
        assert!(text.contains(&series), "{series} is not in /metrics:\n{text}");
    }
    for label in ["route=\"/daily\"", "route=\"/slow\"", "function=\"demo::greeting\"", "backend=\"SimpleCache\""] {
        assert!(text.contains(label), "{label} is not in /metrics:\n{text}");
    }
}
