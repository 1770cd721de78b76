//! FileSystemCache shared by real processes: this test binary re-executes itself as workers
//! (`CACHE_FS_WORKER=<role>`), as several web-server workers sharing one CACHE_DIR would.
//!
//! * 4 processes x 500 `inc` of one key give exactly 2000;
//! * 4 processes racing `add` of one key: exactly one wins (20 rounds);
//! * a writer killed with SIGKILL in a tight `set` loop leaves every entry readable as an old or a
//!   new value, never torn (10 kills);
//! * 4 processes writing distinct keys past CACHE_THRESHOLD keep the count exact and bounded.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cachette_core::{BaseCache, Bytes, Config, Ttl};
use cachette_fs::FileSystemCache;

const WORKERS: usize = 4;

fn cache(dir: &Path, threshold: u64) -> FileSystemCache {
    let config = Config::from_map([
        ("CACHE_DIR", dir.to_str().unwrap().to_owned()),
        ("CACHE_KEY_PREFIX", "mp:".to_owned()),
        ("CACHE_THRESHOLD", threshold.to_string()),
    ])
    .unwrap();
    FileSystemCache::new(&config).unwrap()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

fn spawn_worker(role: &str, dir: &Path, extra: &[(&str, String)]) -> Child {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.env("CACHE_FS_WORKER", role).env("WORKER_DIR", dir).stdout(Stdio::piped()).stderr(Stdio::inherit());
    for (k, v) in extra {
        cmd.env(k, v);
    }
    cmd.spawn().expect("re-execute the test binary as a worker")
}

fn output(child: Child) -> String {
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "a worker failed: {:?}", out.status);
    String::from_utf8(out.stdout).unwrap()
}

/// Workers wait for this file so that they start their race together.
fn wait_for_start(dir: &Path) {
    let go = dir.join("go");
    while !go.exists() {
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// The value the killed writer writes in generation `g`: its length and every byte depend on `g`,
/// so a torn or mixed file cannot pass `check_value`.
fn value_for(generation: u64) -> Vec<u8> {
    let len = 4096 + (generation % 7) as usize * 1500;
    let mut v = generation.to_le_bytes().to_vec();
    v.resize(len, (generation % 251) as u8);
    v
}

fn check_value(bytes: &[u8]) -> Result<u64, String> {
    if bytes.len() < 8 {
        return Err(format!("{} bytes: too short", bytes.len()));
    }
    let generation = u64::from_le_bytes(bytes[..8].try_into().unwrap());
    if bytes != value_for(generation).as_slice() {
        return Err(format!("generation {generation}: content or length differs ({} bytes)", bytes.len()));
    }
    Ok(generation)
}

fn worker(role: &str) {
    let dir = PathBuf::from(std::env::var("WORKER_DIR").unwrap());
    let rt = runtime();
    match role {
        "inc" => rt.block_on(async {
            let cache = cache(&dir, 1000);
            wait_for_start(&dir);
            for _ in 0..500 {
                cache.inc("counter", 1).await.unwrap();
            }
        }),
        "add" => rt.block_on(async {
            let cache = cache(&dir, 1000);
            let round = std::env::var("ROUND").unwrap();
            let me = std::process::id().to_string();
            wait_for_start(&dir);
            let won = cache.add(&format!("lock-{round}"), Bytes::from(me), Ttl::Default).await.unwrap();
            println!("{won}");
        }),
        "writer" => rt.block_on(async {
            let cache = cache(&dir, 1000);
            let mut generation = std::env::var("FIRST_GENERATION").unwrap().parse::<u64>().unwrap();
            loop {
                let key = format!("k{}", generation % 50);
                cache.set(&key, Bytes::from(value_for(generation)), Ttl::Default).await.unwrap();
                if generation % 50 == 49 {
                    // Every key written once: the parent may kill us from now on.
                    std::fs::write(dir.join("written"), b"").unwrap();
                }
                generation += 1;
            }
        }),
        "fill" => rt.block_on(async {
            let cache = cache(&dir, 100);
            let id = std::env::var("WORKER_ID").unwrap();
            wait_for_start(&dir);
            for i in 0..200 {
                cache.set(&format!("w{id}-{i}"), Bytes::from_static(b"value"), Ttl::Default).await.unwrap();
            }
        }),
        other => panic!("unknown worker role {other}"),
    }
}

fn four_processes_increment_one_key() {
    let dir = tempfile::tempdir().unwrap();
    let workers: Vec<Child> = (0..WORKERS).map(|_| spawn_worker("inc", dir.path(), &[])).collect();
    std::fs::write(dir.path().join("go"), b"").unwrap();
    for w in workers {
        output(w);
    }
    let total = runtime().block_on(cache(dir.path(), 1000).get("counter")).unwrap();
    assert_eq!(total.as_deref(), Some(&b"2000"[..]), "4 processes x 500 inc");
    println!("ok: 4 processes x 500 inc of one key = 2000");
}

fn four_processes_race_add() {
    let dir = tempfile::tempdir().unwrap();
    for round in 0..20 {
        let go = dir.path().join("go");
        let _ = std::fs::remove_file(&go);
        let workers: Vec<Child> =
            (0..WORKERS).map(|_| spawn_worker("add", dir.path(), &[("ROUND", round.to_string())])).collect();
        std::thread::sleep(Duration::from_millis(50));
        std::fs::write(&go, b"").unwrap();
        let wins = workers.into_iter().map(output).filter(|o| o.trim() == "true").count();
        assert_eq!(wins, 1, "round {round}: exactly one of 4 racing adds must win, {wins} did");
    }
    println!("ok: 4 processes racing add, 20 rounds: exactly one winner each");
}

fn killed_writer_leaves_no_torn_values() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let reader = cache(dir.path(), 1000);
    let mut first_generation = 0u64;
    let mut checked = 0;
    for kill in 0..10 {
        let written = dir.path().join("written");
        let _ = std::fs::remove_file(&written);
        let mut child = spawn_worker("writer", dir.path(), &[("FIRST_GENERATION", first_generation.to_string())]);
        let started = Instant::now();
        while !written.exists() {
            assert!(started.elapsed() < Duration::from_secs(60), "the writer never finished a first pass");
            std::thread::sleep(Duration::from_millis(1));
        }
        // Let it run a varying while so that the kill lands at different points of a write.
        std::thread::sleep(Duration::from_millis(20 + 37 * kill));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let mut newest = first_generation;
        for k in 0..50 {
            let value = rt
                .block_on(reader.get(&format!("k{k}")))
                .unwrap_or_else(|e| panic!("kill {kill}: reading k{k} after the kill failed: {e}"));
            let value = value.unwrap_or_else(|| panic!("kill {kill}: k{k} was written before the kill but is gone"));
            let generation = check_value(&value).unwrap_or_else(|e| panic!("kill {kill}: k{k} is torn: {e}"));
            newest = newest.max(generation);
            checked += 1;
        }
        first_generation = newest + 1;
    }
    println!("ok: 10 SIGKILLs of a writer mid-loop, {checked} entries read back whole");
}

fn processes_filling_past_the_threshold_keep_the_count() {
    let dir = tempfile::tempdir().unwrap();
    let workers: Vec<Child> =
        (0..WORKERS).map(|i| spawn_worker("fill", dir.path(), &[("WORKER_ID", i.to_string())])).collect();
    std::fs::write(dir.path().join("go"), b"").unwrap();
    for w in workers {
        output(w);
    }
    let cache = cache(dir.path(), 100);
    let files = std::fs::read_dir(cache.entries_dir())
        .unwrap()
        .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().ends_with(".entry"))
        .count() as u64;
    let count = runtime().block_on(cache.entry_count()).unwrap();
    assert!(files <= 100, "threshold 100, {files} files");
    assert_eq!(count, files, "the shared count is exact across processes");
    println!("ok: 4 processes x 200 sets, threshold 100: {files} entries, count {count}");
}

fn main() {
    if let Ok(role) = std::env::var("CACHE_FS_WORKER") {
        worker(&role);
        return;
    }
    // libtest's arguments (e.g. --list from `cargo test -- --list`) are not ours to parse.
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    four_processes_increment_one_key();
    four_processes_race_add();
    killed_writer_leaves_no_torn_values();
    processes_filling_past_the_threshold_keep_the_count();
}
