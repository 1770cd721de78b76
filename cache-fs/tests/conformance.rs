//! FileSystemCache against the conformance suite, and what is specific to it: damaged files,
//! other programs' files, permissions, the entry bound.

use std::os::unix::fs::PermissionsExt;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use cachette_core::{BaseCache, Bytes, CacheError, Config, Ttl};
use cachette_fs::FileSystemCache;

/// One CACHE_DIR for the whole suite, as several applications would share one: each case's own
/// key prefix gives it its own subdirectory.
static ROOT: LazyLock<tempfile::TempDir> = LazyLock::new(|| tempfile::tempdir().unwrap());

cachette_conformance::conformance_suite!(filesystem, |mut config: Config| async move {
    config.dir = Some(ROOT.path().to_owned());
    config.threshold = 10_000;
    Ok(Arc::new(FileSystemCache::new(&config)?) as Arc<dyn BaseCache>)
});

fn cache_in(dir: &std::path::Path, extra: &[(&str, &str)]) -> FileSystemCache {
    let mut entries = vec![("CACHE_DIR", dir.to_str().unwrap())];
    entries.extend_from_slice(extra);
    FileSystemCache::new(&Config::from_map(entries).unwrap()).unwrap()
}

fn v(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

#[test]
fn cache_dir_is_required_and_named_in_the_error() {
    let err = FileSystemCache::new(&Config::default()).unwrap_err();
    assert!(matches!(&err, CacheError::Config { key, .. } if key == "CACHE_DIR"), "{err}");
}

#[test]
fn bad_options_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_str().unwrap();
    let err = FileSystemCache::new(&Config::from_map([("CACHE_DIR", path), ("CACHE_OPTIONS", "fsinc=true")]).unwrap())
        .unwrap_err()
        .to_string();
    assert!(err.contains("CACHE_OPTIONS.fsinc") && err.contains("Did you mean fsync?"), "{err}");
    let err = FileSystemCache::new(&Config::from_map([("CACHE_DIR", path), ("CACHE_OPTIONS", "mode=0400")]).unwrap())
        .unwrap_err()
        .to_string();
    assert!(err.contains("CACHE_OPTIONS.mode"), "{err}");
}

#[tokio::test]
async fn directory_is_created_0700_and_entries_are_0600_or_the_given_mode() {
    let parent = tempfile::tempdir().unwrap();
    let root = parent.path().join("new/cache");
    let cache = cache_in(&root, &[]);
    cache.set("k", v("v"), Ttl::Default).await.unwrap();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&root), 0o700);
    assert_eq!(mode(&cache.entries_dir()), 0o700);
    assert_eq!(mode(&cache.entry_path("k")), 0o600);

    let shared = cache_in(&root, &[("CACHE_KEY_PREFIX", "shared:"), ("CACHE_OPTIONS", "mode=0640")]);
    shared.set("k", v("v"), Ttl::Default).await.unwrap();
    assert_eq!(mode(&shared.entry_path("k")), 0o640);
}

#[tokio::test]
async fn damaged_files_are_misses_and_are_removed() {
    let dir = tempfile::tempdir().unwrap();
    let cache = cache_in(dir.path(), &[]);
    type Damage = Box<dyn Fn(Vec<u8>) -> Vec<u8>>;
    let cases: Vec<(&str, Damage)> = vec![
        ("truncated", Box::new(|b: Vec<u8>| b[..b.len() - 3].to_vec())),
        ("header only half", Box::new(|b: Vec<u8>| b[..10].to_vec())),
        ("empty", Box::new(|_| Vec::new())),
        (
            "other magic",
            Box::new(|mut b: Vec<u8>| {
                b[..4].copy_from_slice(b"GIF8");
                b
            }),
        ),
        (
            "unknown version",
            Box::new(|mut b: Vec<u8>| {
                b[4] = 200;
                b
            }),
        ),
        (
            "huge claimed length",
            Box::new(|mut b: Vec<u8>| {
                b[16..24].copy_from_slice(&u64::MAX.to_le_bytes());
                b
            }),
        ),
    ];
    for (name, damage) in cases {
        cache.set("k", v("a value of some length"), Ttl::Default).await.unwrap();
        let path = cache.entry_path("k");
        let damaged = damage(std::fs::read(&path).unwrap());
        std::fs::write(&path, damaged).unwrap();
        assert_eq!(cache.get("k").await.unwrap(), None, "{name}: a damaged file is a miss");
        assert!(!path.exists(), "{name}: the damaged file is removed");
        assert!(cache.add("k", v("fresh"), Ttl::Default).await.unwrap(), "{name}");
        assert_eq!(cache.get("k").await.unwrap(), Some(v("fresh")), "{name}");
        assert!(cache.delete("k").await.unwrap());
    }
    assert_eq!(cache.entry_count().await.unwrap(), 0, "the count survives damaged files");
}

#[tokio::test]
async fn values_of_every_size_around_the_read_buffer_read_back_whole() {
    // A read takes files shorter than its 32 KiB buffer in one `read`, and longer ones to their end.
    let dir = tempfile::tempdir().unwrap();
    let cache = cache_in(dir.path(), &[]);
    let around = |n: usize| [n - 25, n - 24, n - 23, n - 1, n, n + 1];
    let sizes = [0, 1, 1000].into_iter().chain(around(32 * 1024)).chain(around(64 * 1024)).chain([1 << 20]);
    for size in sizes {
        let value: Bytes = (0..size).map(|i| (i % 251) as u8).collect::<Vec<u8>>().into();
        cache.set("k", value.clone(), Ttl::Default).await.unwrap();
        assert_eq!(cache.get("k").await.unwrap(), Some(value), "a {size}-byte value");
    }
}

#[tokio::test]
async fn clear_leaves_other_files_alone() {
    let dir = tempfile::tempdir().unwrap();
    let cache = cache_in(dir.path(), &[]);
    let other_app = dir.path().join("other-app.sqlite");
    std::fs::write(&other_app, b"not ours").unwrap();
    let beside_entries = cache.entries_dir().join("notes.txt");
    std::fs::create_dir_all(cache.entries_dir()).unwrap();
    std::fs::write(&beside_entries, b"not ours either").unwrap();
    for i in 0..20 {
        cache.set(&format!("k{i}"), v("x"), Ttl::Default).await.unwrap();
    }
    cache.clear().await.unwrap();
    assert_eq!(std::fs::read(&other_app).unwrap(), b"not ours");
    assert_eq!(std::fs::read(&beside_entries).unwrap(), b"not ours either");
    assert_eq!(cache.get("k3").await.unwrap(), None);
    assert_eq!(cache.entry_count().await.unwrap(), 0);
}

#[tokio::test]
async fn threshold_bounds_entries_and_the_count_matches_the_files() {
    let dir = tempfile::tempdir().unwrap();
    let cache = Arc::new(cache_in(dir.path(), &[("CACHE_THRESHOLD", "100")]));
    let tasks: Vec<_> = (0..8)
        .map(|t| {
            let cache = cache.clone();
            tokio::spawn(async move {
                for i in 0..100 {
                    cache.set(&format!("t{t}-k{i}"), v("value"), Ttl::Default).await.unwrap();
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let files = entry_files(&cache);
    let count = cache.entry_count().await.unwrap();
    assert!(files <= 100, "CACHE_THRESHOLD=100 but {files} entry files remain");
    assert_eq!(count, files, "the kept count is exact");
    // The most recent writes survive pruning. Which of the eight writers wrote last depends on
    // the scheduler (a fresh-clone run under load pruned both t0-k99 and t7-k99): ten writes made
    // after them all are the most recent for sure, and a prune keeps the newest 90.
    for i in 0..10 {
        cache.set(&format!("last-{i}"), v("value"), Ttl::Default).await.unwrap();
    }
    for i in 0..10 {
        assert!(
            cache.get(&format!("last-{i}")).await.unwrap().is_some(),
            "last-{i}, written after all others, was pruned"
        );
    }
    assert!(entry_files(&cache) <= 100);
}

#[tokio::test]
async fn pruning_removes_expired_entries_before_live_ones() {
    let dir = tempfile::tempdir().unwrap();
    let cache = cache_in(dir.path(), &[("CACHE_THRESHOLD", "20")]);
    for i in 0..10 {
        cache.set(&format!("short{i}"), v("x"), Ttl::After(Duration::from_millis(50))).await.unwrap();
    }
    for i in 0..10 {
        cache.set(&format!("long{i}"), v("x"), Ttl::Never).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    cache.set("one-more", v("x"), Ttl::Never).await.unwrap(); // 21 > 20: prune to 18
    for i in 0..10 {
        assert!(cache.get(&format!("long{i}")).await.unwrap().is_some(), "live long{i} was pruned before expired ones");
    }
    assert_eq!(cache.entry_count().await.unwrap(), 11);
}

/// Entry files in a cache's directory.
fn entry_files(cache: &FileSystemCache) -> u64 {
    let names = std::fs::read_dir(cache.entries_dir()).unwrap().map(|e| e.unwrap().file_name());
    names.filter(|name| name.to_str().unwrap().ends_with(".entry")).count() as u64
}

/// Sets `prefix0` .. `prefix{n-1}`.
async fn set_keys(cache: &FileSystemCache, prefix: &str, n: usize) {
    for i in 0..n {
        cache.set(&format!("{prefix}{i}"), v("x"), Ttl::Never).await.unwrap();
    }
}

#[tokio::test]
async fn an_entry_written_again_is_pruned_as_recently_written() {
    let dir = tempfile::tempdir().unwrap();
    let cache = cache_in(dir.path(), &[("CACHE_THRESHOLD", "10")]);
    set_keys(&cache, "k", 10).await;
    cache.set("k0", v("again"), Ttl::Never).await.unwrap();
    cache.set("k10", v("x"), Ttl::Never).await.unwrap(); // 11 > 10: prune to 9
    assert_eq!(cache.get("k0").await.unwrap(), Some(v("again")), "written after k1..k9");
    assert_eq!((cache.get("k1").await.unwrap(), cache.get("k2").await.unwrap()), (None, None), "the oldest go");
    assert_eq!((cache.entry_count().await.unwrap(), entry_files(&cache)), (9, 9));
}

#[tokio::test]
async fn deleted_entries_do_not_count_towards_a_prune() {
    let dir = tempfile::tempdir().unwrap();
    let cache = cache_in(dir.path(), &[("CACHE_THRESHOLD", "10")]);
    set_keys(&cache, "k", 10).await;
    for i in 0..5 {
        cache.delete(&format!("k{i}")).await.unwrap();
    }
    set_keys(&cache, "new", 6).await; // 11 > 10: prune to 9, k5 and k6 go
    assert_eq!((cache.get("k6").await.unwrap(), cache.get("k7").await.unwrap()), (None, Some(v("x"))));
    assert_eq!((cache.entry_count().await.unwrap(), entry_files(&cache)), (9, 9));
}

#[tokio::test]
async fn entries_of_a_state_file_without_a_journal_are_pruned_all_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let cache = cache_in(dir.path(), &[("CACHE_THRESHOLD", "10")]);
    set_keys(&cache, "old", 10).await;
    // What a version of this crate before the journal leaves: the 8-byte count alone.
    let state = std::fs::OpenOptions::new().write(true).open(cache.entries_dir().join(".cachette-state")).unwrap();
    state.set_len(8).unwrap();
    set_keys(&cache, "new", 25).await;
    assert!(entry_files(&cache) <= 10, "{} files", entry_files(&cache));
    assert_eq!(cache.entry_count().await.unwrap(), entry_files(&cache));
    for i in 0..10 {
        assert_eq!(cache.get(&format!("old{i}")).await.unwrap(), None, "old{i} was written before every new key");
    }
    for i in 16..25 {
        assert_eq!(cache.get(&format!("new{i}")).await.unwrap(), Some(v("x")), "new{i} is among the newest");
    }
}

#[tokio::test]
async fn a_journal_length_the_state_file_does_not_hold_is_pruned_by_a_scan() {
    let dir = tempfile::tempdir().unwrap();
    let cache = cache_in(dir.path(), &[("CACHE_THRESHOLD", "10")]);
    set_keys(&cache, "old", 10).await;
    // A damaged head claiming 2^40 records (40 TiB of journal): never allocated, never trusted.
    let state = std::fs::OpenOptions::new().write(true).open(cache.entries_dir().join(".cachette-state")).unwrap();
    std::os::unix::fs::FileExt::write_all_at(&state, &(1u64 << 40).to_le_bytes(), 8).unwrap();
    set_keys(&cache, "new", 5).await;
    assert!(entry_files(&cache) <= 10, "{} files", entry_files(&cache));
    assert_eq!(cache.entry_count().await.unwrap(), entry_files(&cache));
    assert_eq!(cache.get("new4").await.unwrap(), Some(v("x")));
    let state = std::fs::metadata(cache.entries_dir().join(".cachette-state")).unwrap();
    assert!(state.len() <= 24 + 40 * 10, "state file of {} bytes", state.len());
}

#[tokio::test]
async fn writing_one_key_again_and_again_keeps_the_state_file_small() {
    let dir = tempfile::tempdir().unwrap();
    let cache = cache_in(dir.path(), &[("CACHE_THRESHOLD", "10")]);
    for _ in 0..1000 {
        cache.set("k", v("x"), Ttl::Never).await.unwrap();
    }
    let state = std::fs::metadata(cache.entries_dir().join(".cachette-state")).unwrap();
    assert!(state.len() <= 24 + 40 * (2 * 10 + 64 + 1), "state file of {} bytes", state.len());
    assert_eq!((cache.entry_count().await.unwrap(), entry_files(&cache)), (1, 1));
}

#[tokio::test]
async fn two_caches_on_one_directory_see_each_others_writes() {
    let dir = tempfile::tempdir().unwrap();
    let a = cache_in(dir.path(), &[("CACHE_KEY_PREFIX", "app:")]);
    let b = cache_in(dir.path(), &[("CACHE_KEY_PREFIX", "app:")]);
    a.set("k", v("from a"), Ttl::Default).await.unwrap();
    assert_eq!(b.get("k").await.unwrap(), Some(v("from a")));
    assert_eq!(b.inc("n", 2).await.unwrap(), 2);
    assert_eq!(a.inc("n", 3).await.unwrap(), 5);
}
