//! cachectl as a user runs it: the real binary, configured by flags and CACHE_* variables.

mod support;

use std::process::{Command, Output};

use cachette::{Bytes, Cache, Config, Ttl};
use cachette_conformance::harness::memcached::MemcachedServer;
use cachette_conformance::harness::redis::RedisServer;
use support::{cachectl, field, filesystem_cache, stderr, stdout};

#[test]
fn a_misspelled_setting_names_the_right_one() {
    let out = cachectl(&["-o", "CACHE_DEFAULT_TIMOUT=3", "get", "k"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("did you mean CACHE_DEFAULT_TIMEOUT?"), "{}", stderr(&out));
}

#[test]
fn an_unknown_backend_names_the_nearest() {
    let out = cachectl(&["-o", "CACHE_TYPE=RedisCahce", "stats"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("Did you mean RedisCache?"), "{}", stderr(&out));
}

#[test]
fn a_bad_ttl_is_a_clear_error() {
    let out = cachectl(&["set", "k", "v", "--ttl", "soon"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--ttl") && stderr(&out).contains("30s"), "{}", stderr(&out));
}

#[test]
fn clear_asks_for_confirmation() {
    let out = cachectl(&["-o", "CACHE_KEY_PREFIX=app:", "clear"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--yes") && stderr(&out).contains("app:"), "{}", stderr(&out));
    let out = cachectl(&["clear", "--yes"]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn a_miss_exits_with_1_and_warns_that_an_in_process_cache_starts_empty() {
    let out = cachectl(&["get", "nothing-here"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("lives inside this cachectl process"), "{}", stderr(&out));
}

#[test]
fn stats_probes_the_backend_and_shows_settings_as_a_table() {
    let out = cachectl(&["-o", "CACHE_KEY_PREFIX=app:", "stats"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert_eq!(field(&text, "backend"), Some("SimpleCache"), "{text}");
    assert!(field(&text, "probe").is_some_and(|p| p.starts_with("set ")), "{text}");
    assert_eq!(field(&text, "breaker"), Some("closed (opened 0 times, 0 calls rejected)"), "{text}");
    assert_eq!(field(&text, "keys"), Some("not counted: SimpleCache offers no key count"), "{text}");
    assert_eq!(field(&text, "servers"), Some("SimpleCache reports no server figures"), "{text}");
    assert_eq!(field(&text, "CACHE_KEY_PREFIX"), Some("\"app:\""), "{text}");
    assert_eq!(field(&text, "CACHE_THRESHOLD"), None, "defaults are left out: {text}");
    assert!(!text.contains("Config {"), "no Debug dump: {text}");
}

/// `bench --json`, parsed.
fn bench_json(args: &[&str]) -> serde_json::Value {
    let out = cachectl(&[&["--json", "bench"][..], args].concat());
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout(&out)))
}

#[test]
fn bench_json_has_both_phases_with_percentiles_and_the_hit_rate() {
    let report = bench_json(&["--ops", "2000", "--concurrency", "8"]);
    assert_eq!(report["backend"], "SimpleCache");
    assert_eq!(report["concurrency"], 8);
    let phases = report["phases"].as_array().unwrap();
    assert_eq!(phases.iter().map(|p| p["operation"].as_str().unwrap()).collect::<Vec<_>>(), ["set", "get"]);
    for phase in phases {
        assert_eq!(phase["ops"], 2000);
        assert!(phase["ops_per_second"].as_f64().unwrap() > 0.0, "{phase}");
        let l = &phase["latency_us"];
        let p: Vec<f64> = ["p50", "p90", "p99", "p999", "max"].iter().map(|q| l[q].as_f64().unwrap()).collect();
        assert!(p[0] > 0.0 && p.is_sorted(), "percentiles rise: {l}");
    }
    assert_eq!(phases[1]["hits"], 2000, "every get finds its value");
    assert_eq!(phases[1]["hit_rate"], 1.0);
}

#[test]
fn bench_sizes_its_keys_to_what_a_bounded_cache_keeps_so_gets_are_hits() {
    // SimpleCache keeps CACHE_THRESHOLD (500) entries: 10 000 keys would make 95% of the gets misses.
    let report = bench_json(&["--ops", "20000"]);
    assert_eq!(report["keys"], 450, "{report}");
    assert_eq!(report["keys_sized_by"], "90% of CACHE_THRESHOLD=500");
    assert!(report["phases"][1]["hit_rate"].as_f64().unwrap() > 0.99, "{report}");
    let too_many = bench_json(&["--ops", "20000", "--keys", "10000"]);
    assert!(too_many["phases"][1]["hit_rate"].as_f64().unwrap() < 0.5, "too many keys miss: {too_many}");
}

/// cachectl under a pseudo-terminal (util-linux's `script`), as a person runs it: what the
/// terminal showed, stdout and stderr together.
fn on_a_terminal(args: &[&str]) -> String {
    let command =
        std::iter::once(env!("CARGO_BIN_EXE_cachectl")).chain(args.iter().copied()).collect::<Vec<_>>().join(" ");
    let out = Command::new("script")
        .args(["-q", "-e", "-c", &command, "/dev/null"])
        .env_remove("CACHE_TYPE")
        .output()
        .expect("script (util-linux) runs: install it with apt-get install bsdutils");
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out)
}

#[test]
fn the_progress_bar_is_drawn_on_a_terminal_and_not_when_output_is_piped() {
    let args = ["bench", "--ops", "300000", "--concurrency", "8"];
    let terminal = on_a_terminal(&args);
    assert!(terminal.contains("/300000 ops") && terminal.contains("ops/s"), "no bar on the terminal:\n{terminal}");
    assert!(terminal.contains("set [") && terminal.contains("get ["), "a bar per phase:\n{terminal}");
    let piped = cachectl(&args);
    assert!(piped.status.success());
    assert_eq!(stderr(&piped), "", "nothing but results when piped");
    assert!(stdout(&piped).contains("PHASE") && !stdout(&piped).contains("/300000 ops"), "{}", stdout(&piped));
}

#[test]
fn config_file_then_environment_then_flags() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cache.toml");
    std::fs::write(&file, "CACHE_TYPE = \"NullCache\"\nCACHE_NO_NULL_WARNING = true\nCACHE_KEY_PREFIX = \"file:\"\n")
        .unwrap();
    let path = file.to_str().unwrap();
    let out = cachectl(&["--config", path, "stats"]);
    assert_eq!(field(&stdout(&out), "backend"), Some("NullCache"), "{}", stdout(&out));
    let out = Command::new(env!("CARGO_BIN_EXE_cachectl"))
        .args(["--config", path, "stats"])
        .env("CACHE_KEY_PREFIX", "env:")
        .output()
        .unwrap();
    assert_eq!(field(&stdout(&out), "CACHE_KEY_PREFIX"), Some("\"env:\""), "{}", stdout(&out));
    let out = cachectl(&["--config", path, "-o", "CACHE_TYPE=SimpleCache", "stats"]);
    assert_eq!(field(&stdout(&out), "backend"), Some("SimpleCache"), "{}", stdout(&out));
}

#[test]
fn a_shared_backend_keeps_values_between_runs() {
    let dir = tempfile::tempdir().unwrap();
    let dir_setting = format!("CACHE_DIR={}", dir.path().display());
    let opts = |extra: &[&str]| {
        let mut args = vec!["-o", "CACHE_TYPE=FileSystemCache", "-o", dir_setting.as_str()];
        args.extend_from_slice(extra);
        cachectl(&args)
    };
    assert!(opts(&["set", "greeting", "hello world"]).status.success());
    assert!(opts(&["set", "n", "41", "--ttl", "1h"]).status.success());
    let got = opts(&["get", "greeting"]);
    assert_eq!(stdout(&got).trim(), "hello world", "{}", stderr(&got));
    assert!(!stderr(&got).contains("lives inside"), "a shared backend gets no in-process warning");
    assert_eq!(stdout(&opts(&["inc", "n"])).trim(), "42");
    assert_eq!(stdout(&opts(&["dec", "n", "2"])).trim(), "40");
    assert_eq!(stdout(&opts(&["delete", "greeting", "nothing"])).trim(), "1");
    assert_eq!(opts(&["has", "greeting"]).status.code(), Some(1));
    assert!(opts(&["clear", "--yes"]).status.success());
    assert_eq!(opts(&["get", "n"]).status.code(), Some(1));
}

#[test]
fn set_with_ttl_0_keeps_the_value_for_ever_as_timeout_0_does_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let out = filesystem_cache(&dir, &["set", "k", "kept", "--ttl", "0"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let got = filesystem_cache(&dir, &["get", "k"]);
    assert_eq!((got.status.code(), stdout(&got).trim()), (Some(0), "kept"), "{}", stderr(&got));
    assert!(filesystem_cache(&dir, &["touch", "k", "--ttl", "0s"]).status.success());
    assert_eq!(stdout(&filesystem_cache(&dir, &["get", "k"])).trim(), "kept");
}

#[test]
fn absurd_bench_sizes_counts_and_ttls_are_errors_with_exit_2() {
    for (args, named) in [
        (&["bench", "--size", "1000000000000"][..], "--size"),
        (&["bench", "--ops", "1000000000000"], "--ops"),
        (&["bench", "--concurrency", "0"], "--concurrency"),
        (&["bench", "--concurrency", "1000000000"], "--concurrency"),
        (&["bench", "--ops", "0"], "--ops"),
        (&["set", "k", "v", "--ttl", "100000000000000"], "--ttl"),
        (&["touch", "k", "--ttl", "1000000d"], "--ttl"),
    ] {
        let out = cachectl(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains(named) && (err.contains("at most") || err.contains("at least")), "{args:?}: {err}");
    }
}

/// A loopback port where nothing listens.
fn dead_port() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port().to_string()
}

#[test]
fn a_dead_server_is_a_failure_with_exit_3_not_a_miss_even_with_ignore_errors() {
    let url = format!("CACHE_REDIS_URL=redis://127.0.0.1:{}", dead_port());
    for ignore in ["false", "true"] {
        let ignore = format!("CACHE_IGNORE_ERRORS={ignore}");
        let base = ["-o", "CACHE_TYPE=RedisCache", "-o", url.as_str(), "-o", ignore.as_str()];
        for command in [&["get", "k"][..], &["has", "k"], &["touch", "k", "--ttl", "1m"], &["set", "k", "v"]] {
            let out = cachectl(&[&base[..], command].concat());
            assert_eq!(out.status.code(), Some(3), "{ignore} {command:?}: {}", stderr(&out));
            assert!(stderr(&out).contains("cannot connect") && !stderr(&out).contains("(miss)"), "{}", stderr(&out));
        }
    }
}

#[test]
fn help_documents_the_exit_codes() {
    let text = stdout(&cachectl(&["--help"]));
    for line in ["0 ", "1 ", "2 ", "3 "] {
        assert!(text.lines().any(|l| l.trim_start().starts_with(line)), "{line:?} missing in:\n{text}");
    }
    assert!(text.contains("CACHE_IGNORE_ERRORS"), "{text}");
}

/// cachectl on a Redis server, under `prefix`.
fn on_redis(server: &RedisServer, prefix: &str, args: &[&str]) -> Output {
    let url = format!("CACHE_REDIS_URL={}", server.url());
    let prefix = format!("CACHE_KEY_PREFIX={prefix}");
    cachectl(&[&["-o", "CACHE_TYPE=RedisCache", "-o", url.as_str(), "-o", prefix.as_str()][..], args].concat())
}

/// `count` keys written under `prefix` through the library, as an application would.
fn fill(server: &RedisServer, prefix: &str, count: usize) {
    let config = Config::from_map([
        ("CACHE_TYPE", "RedisCache".to_owned()),
        ("CACHE_REDIS_URL", server.url()),
        ("CACHE_KEY_PREFIX", prefix.to_owned()),
    ])
    .unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let cache = Cache::from_config(config).unwrap();
        let keys: Vec<String> = (0..count).map(|i| format!("k{i}")).collect();
        let items: Vec<(&str, Bytes)> = keys.iter().map(|k| (k.as_str(), Bytes::from_static(b"v"))).collect();
        cache.backend().set_many(&items, Ttl::Default).await.unwrap();
    });
}

#[test]
fn stats_on_redis_counts_this_prefixs_keys_and_shows_the_server() {
    let server = RedisServer::start();
    fill(&server, "app:", 1500);
    fill(&server, "other:", 10);
    let out = on_redis(&server, "app:", &["stats"]);
    let text = stdout(&out);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(field(&text, "keys"), Some("1500 under the prefix \"app:\""), "{text}");
    let server_line = text.lines().find(|l| l.starts_with("127.0.0.1:")).unwrap_or_else(|| panic!("{text}"));
    assert!(server_line.contains("redis 7") && server_line.contains(" 1510 "), "all prefixes' keys: {server_line}");

    let out = on_redis(&server, "app:", &["--json", "stats"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["keys"], serde_json::json!({ "kind": "counted", "keys": 1500 }));
    assert_eq!(json["servers"][0]["keys"], 1510);
    assert!(json["servers"][0]["memory_used"].as_u64().unwrap() > 0, "{json}");
    assert_eq!(json["breaker"]["state"], "closed");
}

#[test]
fn clear_on_redis_says_how_many_keys_it_removed_and_only_this_prefix() {
    let server = RedisServer::start();
    fill(&server, "app:", 2500);
    fill(&server, "other:", 10);
    let out = on_redis(&server, "app:", &["clear", "--yes"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "removed 2500 keys under the prefix \"app:\"");
    assert_eq!(server.cli(&["DBSIZE"]).trim(), "10");
    let out = on_redis(&server, "app:", &["--json", "clear", "--yes"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json, serde_json::json!({ "backend": "RedisCache", "prefix": "app:", "kind": "removed", "keys": 0 }));
    let refused = on_redis(&server, "", &["--json", "clear", "--yes"]);
    assert_eq!(refused.status.code(), Some(2), "a refused clear is a usage error");
    let error: serde_json::Value = serde_json::from_slice(&refused.stderr).unwrap();
    assert!(error["error"].as_str().unwrap().contains("CACHE_KEY_PREFIX"), "{error}");
}

#[test]
fn library_warnings_such_as_a_deprecated_backend_name_reach_stderr() {
    let out = cachectl(&["-o", "CACHE_TYPE=simple", "stats", "--no-count"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("CACHE_TYPE=\"simple\" is deprecated; use CACHE_TYPE=SimpleCache"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn watch_refuses_a_url_it_cannot_read_with_the_reason() {
    let https = cachectl(&["watch", "https://app.example/stats"]);
    assert_eq!(https.status.code(), Some(2));
    assert!(stderr(&https).contains("plain http"), "{}", stderr(&https));
    let dead = format!("http://127.0.0.1:{}/stats", dead_port());
    let out = cachectl(&["watch", &dead, "--count", "1"]);
    assert_eq!(out.status.code(), Some(3), "an app that does not answer is a failure");
    assert!(stderr(&out).contains("cannot be read"), "{}", stderr(&out));
}

#[test]
fn on_memcached_stats_shows_the_servers_figures_and_says_what_cannot_be_counted() {
    let server = MemcachedServer::start();
    let servers = format!("CACHE_MEMCACHED_SERVERS={}", server.address());
    let on_memcached = |args: &[&str]| {
        let base = ["-o", "CACHE_TYPE=MemcachedCache", "-o", servers.as_str(), "-o", "CACHE_KEY_PREFIX=app:"];
        cachectl(&[&base[..], args].concat())
    };
    assert!(on_memcached(&["set", "k", "v"]).status.success());
    let out = on_memcached(&["stats"]);
    let text = stdout(&out);
    assert!(out.status.success(), "{}", stderr(&out));
    let keys = field(&text, "keys").unwrap_or_else(|| panic!("{text}"));
    assert!(keys.starts_with("not counted: memcached cannot list or count keys"), "{keys}");
    let server_line = text.lines().find(|l| l.starts_with(&server.address())).unwrap_or_else(|| panic!("{text}"));
    assert!(server_line.contains("memcached 1."), "the server's own figures: {server_line}");
    let json: serde_json::Value = serde_json::from_slice(&on_memcached(&["--json", "stats"]).stdout).unwrap();
    assert!(json["servers"][0]["keys"].as_u64().unwrap() >= 1, "{json}");
    assert!(json["servers"][0]["memory_limit"].as_u64().unwrap() > 0, "{json}");
    let out = on_memcached(&["clear", "--yes"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let said = stdout(&out);
    assert!(said.starts_with("cleared the prefix \"app:\"; not counted: memcached's clear moves the prefix"), "{said}");
    assert_eq!(on_memcached(&["get", "k"]).status.code(), Some(1), "the key is gone");
    let json: serde_json::Value = serde_json::from_slice(&on_memcached(&["--json", "clear", "--yes"]).stdout).unwrap();
    assert_eq!(json["kind"], "uncounted", "{json}");
}
