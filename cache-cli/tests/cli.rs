//! cachectl as a user runs it: the real binary, configured by flags and CACHE_* variables.

use std::process::{Command, Output};

fn cachectl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cachectl")).args(args).env_remove("CACHE_TYPE").output().expect("cachectl runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

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
fn stats_probes_the_backend() {
    let out = cachectl(&["stats"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("backend: SimpleCache") && text.contains("probe:   set"), "{text}");
}

#[test]
fn bench_reports_throughput_of_both_phases() {
    let out = cachectl(&["bench", "--ops", "2000", "--concurrency", "8"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("set: 2000 ops at 8 tasks") && text.contains("get: 2000 ops"), "{text}");
}

#[test]
fn config_file_then_environment_then_flags() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cache.toml");
    std::fs::write(&file, "CACHE_TYPE = \"NullCache\"\nCACHE_NO_NULL_WARNING = true\nCACHE_KEY_PREFIX = \"file:\"\n")
        .unwrap();
    let path = file.to_str().unwrap();
    let out = cachectl(&["--config", path, "stats"]);
    assert!(stdout(&out).contains("backend: NullCache"), "{}", stdout(&out));
    let out = Command::new(env!("CARGO_BIN_EXE_cachectl"))
        .args(["--config", path, "stats"])
        .env("CACHE_KEY_PREFIX", "env:")
        .output()
        .unwrap();
    assert!(stdout(&out).contains("key_prefix: \"env:\""), "{}", stdout(&out));
    let out = cachectl(&["--config", path, "-o", "CACHE_TYPE=SimpleCache", "stats"]);
    assert!(stdout(&out).contains("backend: SimpleCache"), "{}", stdout(&out));
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

fn filesystem_cache(dir: &tempfile::TempDir, extra: &[&str]) -> Output {
    let dir_setting = format!("CACHE_DIR={}", dir.path().display());
    let mut args = vec!["-o", "CACHE_TYPE=FileSystemCache", "-o", dir_setting.as_str()];
    args.extend_from_slice(extra);
    cachectl(&args)
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
