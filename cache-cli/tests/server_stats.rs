//! `cachectl stats` and `clear` on the backends whose server is not a Redis or memcached server:
//! FileSystemCache (its directory) and UWSGICache (a real uWSGI with its stats server).

mod support;

use std::net::TcpStream;
use std::time::{Duration, Instant};

use cachette_conformance::harness::process::free_port;
use cachette_conformance::harness::uwsgi::{UwsgiOptions, UwsgiServer};
use support::{cachectl, field, filesystem_cache, stderr, stdout};

#[test]
fn on_the_file_system_stats_shows_the_prefixs_entries_and_disk_and_clear_counts_them() {
    let dir = tempfile::tempdir().unwrap();
    let on_fs = |prefix: &str, args: &[&str]| {
        let prefix = format!("CACHE_KEY_PREFIX={prefix}");
        filesystem_cache(&dir, &[&["-o", prefix.as_str()][..], args].concat())
    };
    for key in ["a", "b", "c"] {
        assert!(on_fs("app:", &["set", key, "value"]).status.success());
    }
    assert!(on_fs("other:", &["set", "a", "value"]).status.success());
    let out = on_fs("app:", &["stats"]);
    let text = stdout(&out);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(field(&text, "keys"), Some("3 under the prefix \"app:\""), "{text}");
    assert_eq!(field(&text, "servers"), None, "figures, not a note: {text}");
    let dir_line =
        text.lines().find(|l| l.starts_with(&dir.path().display().to_string())).unwrap_or_else(|| panic!("{text}"));
    assert!(dir_line.contains("/cachette-") && dir_line.contains(" 3 "), "the prefix's directory: {dir_line}");

    let json: serde_json::Value = serde_json::from_slice(&on_fs("app:", &["--json", "stats"]).stdout).unwrap();
    assert_eq!(json["keys"], serde_json::json!({ "kind": "counted", "keys": 3 }));
    assert_eq!(json["servers"][0]["keys"], 3, "{json}");
    assert!(json["servers"][0]["disk_used"].as_u64().unwrap() > 0, "{json}");
    assert!(json.get("servers_note").is_none(), "{json}");

    let out = on_fs("app:", &["clear", "--yes"]);
    assert_eq!(stdout(&out).trim(), "removed 3 keys under the prefix \"app:\"", "{}", stderr(&out));
    assert_eq!(stdout(&on_fs("other:", &["get", "a"])).trim(), "value", "another prefix keeps its entries");
}

/// A uWSGI server with its stats server on `stats` (`host:port`), both answering.
fn uwsgi_with_stats(stats: &str) -> UwsgiServer {
    let server = UwsgiServer::start_with(UwsgiOptions::new().arg("--stats").arg(stats));
    let started = Instant::now();
    while TcpStream::connect(stats).is_err() {
        assert!(started.elapsed() < Duration::from_secs(20), "uWSGI's stats server at {stats} does not answer");
        std::thread::sleep(Duration::from_millis(20));
    }
    server
}

#[test]
fn on_uwsgi_stats_shows_the_named_caches_figures_from_its_stats_server_and_says_how_without_it() {
    let stats = format!("127.0.0.1:{}", free_port());
    let server = uwsgi_with_stats(&stats);
    let name = format!("CACHE_UWSGI_NAME={}", server.target().name);
    let on_uwsgi = |options: &str, args: &[&str]| {
        let options = format!("CACHE_OPTIONS={options}");
        let base = ["-o", "CACHE_TYPE=UWSGICache", "-o", name.as_str(), "-o", options.as_str()];
        cachectl(&[&base[..], args].concat())
    };
    let with_stats = format!("stats={stats}");
    for key in ["a", "b"] {
        assert!(on_uwsgi(&with_stats, &["set", key, "value"]).status.success());
    }
    assert_eq!(on_uwsgi(&with_stats, &["get", "nothing"]).status.code(), Some(1));

    let out = on_uwsgi(&with_stats, &["stats"]);
    let text = stdout(&out);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(field(&text, "keys").is_some_and(|k| k.starts_with("not counted: uWSGI's cache protocol")), "{text}");
    let line = text.lines().find(|l| l.starts_with("cachette@127.0.0.1:")).unwrap_or_else(|| panic!("{text}"));
    assert!(line.contains("uWSGI 2.") && line.contains("32.0 MiB"), "version and size (8192 x 4 KiB): {line}");

    let json: serde_json::Value = serde_json::from_slice(&on_uwsgi(&with_stats, &["--json", "stats"]).stdout).unwrap();
    let figures = &json["servers"][0];
    // The probe of each stats run writes and deletes a key of its own: 2 items stay.
    assert_eq!(figures["keys"], 2, "{json}");
    assert!(figures["hits"].as_u64().unwrap() >= 2 && figures["misses"].as_u64().unwrap() >= 1, "{json}");
    assert_eq!(figures["memory_limit"], 8192 * 4096, "{json}");

    let out = on_uwsgi("", &["stats"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let note = field(&stdout(&out), "servers").map(str::to_owned).unwrap_or_else(|| panic!("{}", stdout(&out)));
    assert!(note.contains("set CACHE_OPTIONS.stats"), "not silently empty: {note}");

    let dead = format!("stats=127.0.0.1:{}", free_port());
    let out = on_uwsgi(&dead, &["stats"]);
    assert!(!out.status.success(), "a stats server that does not answer is a failure");
    assert!(stderr(&out).contains("CACHE_OPTIONS.stats"), "{}", stderr(&out));
}
