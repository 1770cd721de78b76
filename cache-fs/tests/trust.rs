//! What FileSystemCache trusts in its directory: no link is followed, no file is opened that
//! another user could have planted, and a directory others can write to is refused or repaired.

use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::{Path, PathBuf};

use cachette_core::{BaseCache, Bytes, CacheError, Config, Ttl};
use cachette_fs::FileSystemCache;

/// The state file's name in a cache's directory (see the crate docs).
const STATE_FILE: &str = ".cachette-state";
const PRECIOUS: &[u8] = b"a file outside CACHE_DIR that must never change";

fn config(dir: &Path, prefix: &str) -> Config {
    Config::from_map([("CACHE_DIR", dir.to_str().unwrap()), ("CACHE_KEY_PREFIX", prefix)]).unwrap()
}

fn cache_in(dir: &Path, prefix: &str) -> FileSystemCache {
    FileSystemCache::new(&config(dir, prefix)).unwrap()
}

fn v(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

/// A file outside any cache directory, with known content.
fn outside_file() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("precious");
    std::fs::write(&path, PRECIOUS).unwrap();
    (dir, path)
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn is_link(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
}

fn entry_files(cache: &FileSystemCache) -> u64 {
    std::fs::read_dir(cache.entries_dir())
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_name().to_str().unwrap().ends_with(".entry") && e.file_type().unwrap().is_file())
        .count() as u64
}

fn config_message(err: &CacheError) -> String {
    match err {
        CacheError::Config { key, .. } => {
            assert_eq!(key, "CACHE_DIR", "{err}");
            err.to_string()
        }
        other => panic!("expected a CACHE_DIR configuration error, got {other}"),
    }
}

#[tokio::test]
async fn a_link_planted_at_the_state_file_is_refused_and_its_target_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let state = cache_in(dir.path(), "app:").entries_dir().join(STATE_FILE);
    let (_outside, precious) = outside_file();
    std::fs::remove_file(&state).unwrap();
    symlink(&precious, &state).unwrap();

    let opened = FileSystemCache::new(&config(dir.path(), "app:"));
    if let Ok(cache) = &opened {
        let _ = cache.set("k", v("value"), Ttl::Default).await;
    }
    assert_eq!(std::fs::read(&precious).unwrap(), PRECIOUS, "the file the link points to was written");
    let message = config_message(&opened.unwrap_err());
    assert!(message.contains(state.to_str().unwrap()) && message.contains("symbolic link"), "{message}");
}

#[tokio::test]
async fn a_hard_link_at_the_state_file_is_refused_and_its_target_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let state = cache_in(dir.path(), "app:").entries_dir().join(STATE_FILE);
    // A hard link needs the same file system: the outside file sits beside CACHE_DIR.
    let precious = tempfile::tempdir().unwrap().keep().join("precious");
    std::fs::write(&precious, PRECIOUS).unwrap();
    std::fs::remove_file(&state).unwrap();
    std::fs::hard_link(&precious, &state).unwrap();

    let opened = FileSystemCache::new(&config(dir.path(), "app:"));
    if let Ok(cache) = &opened {
        let _ = cache.set("k", v("value"), Ttl::Default).await;
    }
    assert_eq!(std::fs::read(&precious).unwrap(), PRECIOUS, "the file linked to was written");
    let message = config_message(&opened.unwrap_err());
    assert!(message.contains(state.to_str().unwrap()) && message.contains("link"), "{message}");
    std::fs::remove_dir_all(precious.parent().unwrap()).unwrap();
}

#[tokio::test]
async fn a_link_at_an_entry_is_never_followed_by_a_read() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (cache_in(dir.path(), "a:"), cache_in(dir.path(), "b:"));
    b.set("secret", v("b's value"), Ttl::Default).await.unwrap();
    // A link from one of a's keys to one of b's entries: following it serves b's value as a's.
    symlink(b.entry_path("secret"), a.entry_path("k")).unwrap();

    assert_eq!(a.get("k").await.unwrap(), None, "a link is not an entry");
    assert!(!is_link(&a.entry_path("k")), "the link is removed");
    assert_eq!(b.get("secret").await.unwrap(), Some(v("b's value")));
    assert_eq!(a.entry_count().await.unwrap(), 0, "the link never counted as an entry");
}

#[tokio::test]
async fn writes_replace_a_link_at_an_entry_and_leave_its_target_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let cache = cache_in(dir.path(), "app:");
    let (_outside, precious) = outside_file();
    let plant = |key: &str| symlink(&precious, cache.entry_path(key)).unwrap();

    // set, add and inc write a new file and rename it over the path: rename(2) replaces the link
    // itself, never what it points to.
    plant("set");
    cache.set("set", v("value"), Ttl::Default).await.unwrap();
    plant("add");
    assert!(cache.add("add", v("value"), Ttl::Default).await.unwrap());
    plant("inc");
    assert_eq!(cache.inc("inc", 1).await.unwrap(), 1);
    for key in ["set", "add", "inc"] {
        assert!(!is_link(&cache.entry_path(key)), "{key}: the link was replaced by an entry");
    }
    assert_eq!(cache.get("set").await.unwrap(), Some(v("value")));

    // delete and touch find no entry there.
    plant("delete");
    assert!(!cache.delete("delete").await.unwrap());
    assert!(!is_link(&cache.entry_path("delete")), "delete removes the link");
    plant("touch");
    assert!(!cache.touch("touch", Ttl::Never).await.unwrap());

    assert_eq!(std::fs::read(&precious).unwrap(), PRECIOUS);
    assert_eq!(cache.entry_count().await.unwrap(), entry_files(&cache), "links are never counted");
}

#[test]
fn a_fifo_at_an_entry_is_a_miss_not_a_hang() {
    let dir = tempfile::tempdir().unwrap();
    let cache = cache_in(dir.path(), "app:");
    let path = cache.entry_path("k");
    let c_path = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path; mkfifo has no other precondition.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0, "{}", std::io::Error::last_os_error());

    // A runtime of its own, shut down without waiting: a read stuck on the FIFO fails this test
    // instead of hanging it.
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let got = rt.block_on(async { tokio::time::timeout(std::time::Duration::from_secs(5), cache.get("k")).await });
    rt.shutdown_background();
    assert_eq!(got.expect("a read of a FIFO blocked").unwrap(), None);
    assert!(std::fs::symlink_metadata(&path).is_err(), "what is not an entry file is removed");
}

#[test]
fn a_cache_dir_writable_by_others_is_refused_with_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    chmod(dir.path(), 0o777);
    let message = config_message(&FileSystemCache::new(&config(dir.path(), "app:")).unwrap_err());
    let path = dir.path().to_str().unwrap();
    assert!(message.contains(path) && message.contains("0777") && message.contains("chmod go-w"), "{message}");
    assert_eq!(mode(dir.path()), 0o777, "CACHE_DIR is the user's: its mode is not changed");
}

#[test]
fn a_world_writable_cache_dir_with_the_sticky_bit_is_used_as_tmp_is() {
    let dir = tempfile::tempdir().unwrap();
    chmod(dir.path(), 0o1777);
    let cache = cache_in(dir.path(), "app:");
    assert_eq!(mode(&cache.entries_dir()), 0o700);
}

#[tokio::test]
async fn a_cache_directory_writable_by_others_is_repaired_and_emptied() {
    let dir = tempfile::tempdir().unwrap();
    let cache = cache_in(dir.path(), "app:");
    cache.set("ours", v("value"), Ttl::Default).await.unwrap();
    chmod(&cache.entries_dir(), 0o777);
    // While the directory was open to all, anyone could have planted, swapped or removed entries.
    std::fs::copy(cache.entry_path("ours"), cache.entry_path("planted")).unwrap();
    let notes = cache.entries_dir().join("notes.txt");
    std::fs::write(&notes, b"not an entry").unwrap();
    drop(cache);

    let cache = cache_in(dir.path(), "app:");
    assert_eq!(mode(&cache.entries_dir()), 0o755, "the group and other write bits are removed");
    assert_eq!(cache.get("planted").await.unwrap(), None, "entries are not trusted");
    assert_eq!(cache.get("ours").await.unwrap(), None, "entries are not trusted");
    assert_eq!(cache.entry_count().await.unwrap(), 0);
    assert_eq!(std::fs::read(&notes).unwrap(), b"not an entry", "other files stay");
    cache.set("ours", v("value"), Ttl::Default).await.unwrap();
    assert_eq!(cache.get("ours").await.unwrap(), Some(v("value")));
}

#[test]
fn a_cache_directory_that_is_a_link_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    // The cache directory's name is predictable: learn it from a cache of the same prefix.
    let name = cache_in(elsewhere.path(), "app:").entries_dir().file_name().unwrap().to_owned();
    symlink(elsewhere.path().join(&name), dir.path().join(&name)).unwrap();
    let message = config_message(&FileSystemCache::new(&config(dir.path(), "app:")).unwrap_err());
    assert!(message.contains(dir.path().join(&name).to_str().unwrap()) && message.contains("link"), "{message}");
}

/// Giving a directory to another user needs root; as any other user this test checks nothing,
/// and says so.
#[test]
fn directories_and_links_owned_by_another_user_are_refused() {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("not root: cannot give a directory to another user; ownership checks not exercised");
        return;
    }
    let nobody = 65534;
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::chown(dir.path(), Some(nobody), None).unwrap();
    let message = config_message(&FileSystemCache::new(&config(dir.path(), "app:")).unwrap_err());
    assert!(message.contains(dir.path().to_str().unwrap()) && message.contains("65534"), "{message}");

    // Another user created the cache directory first, under its predictable name.
    let dir = tempfile::tempdir().unwrap();
    let entries = cache_in(dir.path(), "app:").entries_dir();
    std::os::unix::fs::chown(&entries, Some(nobody), None).unwrap();
    let message = config_message(&FileSystemCache::new(&config(dir.path(), "app:")).unwrap_err());
    assert!(message.contains(entries.to_str().unwrap()) && message.contains("65534"), "{message}");
    assert_eq!(std::fs::metadata(&entries).unwrap().uid(), nobody);

    // A CACHE_DIR that is a link another user planted (in /tmp, say) to a directory of ours.
    let parent = tempfile::tempdir().unwrap();
    let ours = tempfile::tempdir().unwrap();
    let link = parent.path().join("cache");
    symlink(ours.path(), &link).unwrap();
    std::os::unix::fs::lchown(&link, Some(nobody), None).unwrap();
    let message = config_message(&FileSystemCache::new(&config(&link, "app:")).unwrap_err());
    assert!(message.contains(link.to_str().unwrap()) && message.contains("65534"), "{message}");
}
