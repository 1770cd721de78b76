//! Which directories and files FileSystemCache trusts: the checks of `CACHE_DIR`, of the cache's
//! own subdirectory and of its state file, and the repair of a subdirectory others could write
//! to. The rules and why they are these are in the crate docs ("Other users").

use std::fs::{self, File, Metadata};
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use cachette_core::{CacheError, Result};

use crate::files;
use crate::store::io_error;

/// Mode bits that let the group or others create, rename or remove files in a directory.
const WRITABLE_BY_OTHERS: u32 = 0o022;
const STICKY: u32 = 0o1000;

/// What checking the cache's own subdirectory found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OwnDir {
    /// Safe as it was.
    Trusted,
    /// Was writable by others: its mode is repaired, and its entries must not be trusted.
    Repaired,
}

/// The effective user id of this process.
fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// A `CACHE_DIR` configuration error about `path`, saying what is wrong and what to do.
fn refuse(cache_dir: &Path, path: &Path, problem: &str, fix: &str) -> CacheError {
    CacheError::config(
        "CACHE_DIR",
        cache_dir.display().to_string(),
        format!("FileSystemCache will not use {}: it {problem}. {fix}", path.display()),
    )
}

fn not_ours(meta: &Metadata) -> String {
    format!("is owned by user {}, not by this process's user {}", meta.uid(), euid())
}

/// Checks `CACHE_DIR` (which exists): see the crate docs.
pub(crate) fn check_cache_dir(cache_dir: &Path) -> Result<()> {
    let link = fs::symlink_metadata(cache_dir).map_err(|e| io_error(cache_dir, e))?;
    if link.file_type().is_symlink() && link.uid() != euid() && link.uid() != 0 {
        return Err(refuse(
            cache_dir,
            cache_dir,
            &format!("is a symbolic link that user {} made, who could point it anywhere", link.uid()),
            "Set CACHE_DIR to the directory itself, or to a link of your own.",
        ));
    }
    let meta = fs::metadata(cache_dir).map_err(|e| io_error(cache_dir, e))?;
    if !meta.is_dir() {
        return Err(refuse(cache_dir, cache_dir, "is not a directory", "Set CACHE_DIR to a directory."));
    }
    if meta.uid() != euid() && meta.uid() != 0 {
        return Err(refuse(
            cache_dir,
            cache_dir,
            &format!("{}, who could plant, swap or remove entries", not_ours(&meta)),
            "Set CACHE_DIR to a directory of your own (a missing one is created with mode 0700).",
        ));
    }
    let mode = meta.permissions().mode();
    if mode & WRITABLE_BY_OTHERS != 0 && mode & STICKY == 0 {
        return Err(refuse(
            cache_dir,
            cache_dir,
            &format!(
                "is writable by other users (mode {:04o}), who could plant, swap or remove entries",
                mode & 0o7777
            ),
            &format!(
                "Run `chmod go-w {}` (and empty it if you do not trust what is in it), or set CACHE_DIR to a directory \
                 only you can write (a missing one is created with mode 0700).",
                cache_dir.display()
            ),
        ));
    }
    Ok(())
}

/// Checks the cache's own subdirectory (which exists), repairing its mode if others can write to
/// it: see the crate docs.
pub(crate) fn check_own_dir(cache_dir: &Path, dir: &Path) -> Result<OwnDir> {
    let meta = fs::symlink_metadata(dir).map_err(|e| io_error(dir, e))?;
    let remove_it = "Remove it; FileSystemCache creates this directory itself, with mode 0700.";
    if meta.file_type().is_symlink() {
        return Err(refuse(
            cache_dir,
            dir,
            "is a symbolic link, where FileSystemCache keeps its own directory",
            remove_it,
        ));
    }
    if !meta.is_dir() {
        return Err(refuse(cache_dir, dir, "is not a directory", remove_it));
    }
    if meta.uid() != euid() {
        return Err(refuse(cache_dir, dir, &format!("{}: someone created it first", not_ours(&meta)), remove_it));
    }
    let mode = meta.permissions().mode();
    if mode & WRITABLE_BY_OTHERS == 0 {
        return Ok(OwnDir::Trusted);
    }
    let repaired = mode & 0o7777 & !WRITABLE_BY_OTHERS;
    fs::set_permissions(dir, fs::Permissions::from_mode(repaired)).map_err(|e| io_error(dir, e))?;
    tracing::warn!(
        dir = %dir.display(),
        was = format_args!("{:04o}", mode & 0o7777),
        now = format_args!("{repaired:04o}"),
        "FileSystemCache's directory was writable by other users: its mode is repaired and its entries are removed, \
         since anyone could have planted, swapped or removed them"
    );
    Ok(OwnDir::Repaired)
}

/// Checks the open state file: a regular file of ours with no other name. A hard link would let
/// the count be written into the file it shares with.
pub(crate) fn check_state_file(cache_dir: &Path, path: &Path, file: &File) -> Result<()> {
    let meta = file.metadata().map_err(|e| io_error(path, e))?;
    let remove_it = "Remove it (and find out who made it); FileSystemCache creates its state file itself.";
    if !meta.is_file() {
        return Err(refuse(cache_dir, path, "is not a regular file, where FileSystemCache keeps its state", remove_it));
    }
    if meta.nlink() > 1 {
        return Err(refuse(
            cache_dir,
            path,
            &format!("has {} hard links: it is another file's name as well", meta.nlink()),
            remove_it,
        ));
    }
    if meta.uid() != euid() {
        return Err(refuse(cache_dir, path, &not_ours(&meta), remove_it));
    }
    Ok(())
}

/// Explains an error opening the state file: a symbolic link there is a refusal, not an I/O error.
pub(crate) fn state_open_error(cache_dir: &Path, path: &Path, error: io::Error) -> CacheError {
    if files::is_symlink(path) {
        return refuse(
            cache_dir,
            path,
            "is a symbolic link, where FileSystemCache keeps its state (a link is never followed, so that it \
             cannot make a write land elsewhere)",
            "Remove the link (and find out who made it); FileSystemCache creates its state file itself.",
        );
    }
    io_error(path, error)
}

/// In a directory being repaired: removes a state file that another user could have made (not a
/// regular file of ours with one name), so that a fresh one is created. Ours stays: other
/// processes of ours hold its lock.
pub(crate) fn remove_untrusted_state_file(path: &Path) -> Result<()> {
    let Ok(meta) = fs::symlink_metadata(path) else { return Ok(()) };
    if meta.file_type().is_file() && meta.nlink() == 1 && meta.uid() == euid() {
        return Ok(());
    }
    tracing::warn!(path = %path.display(), "removing a state file FileSystemCache did not make");
    fs::remove_file(path).map_err(|e| io_error(path, e))
}

/// Whether a file in the cache's directory is this process's user's.
pub(crate) fn is_ours(meta: &Metadata) -> bool {
    meta.uid() == euid()
}
