//! What the cachectl tests share: the real binary, its output, and the fields of its human output.

#![allow(dead_code, unreachable_pub, reason = "each test binary uses a part; pub for its modules")]

use std::process::{Command, Output};

/// cachectl run with `args`, `CACHE_TYPE` of the environment left out.
pub fn cachectl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cachectl")).args(args).env_remove("CACHE_TYPE").output().expect("cachectl runs")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The value of `name` in the `name   value` lines of human output.
pub fn field<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    text.lines().find_map(|line| line.strip_prefix(name).filter(|rest| rest.starts_with("  ")).map(str::trim))
}

/// cachectl on a FileSystemCache in `dir`, with `extra` arguments.
pub fn filesystem_cache(dir: &tempfile::TempDir, extra: &[&str]) -> Output {
    let dir_setting = format!("CACHE_DIR={}", dir.path().display());
    let mut args = vec!["-o", "CACHE_TYPE=FileSystemCache", "-o", dir_setting.as_str()];
    args.extend_from_slice(extra);
    cachectl(&args)
}
