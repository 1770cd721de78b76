//! Opening the files of a cache directory without trusting what is at their paths.
//!
//! Every file FileSystemCache opens — the state file, an entry to read, a header to prune by, the
//! directory to fsync — is opened with `O_NOFOLLOW`, so a symbolic link planted at its path is
//! never followed: it cannot make FileSystemCache read another file as an entry or write the
//! state file's count into a file elsewhere. `O_NONBLOCK` is set too, because opening a FIFO
//! planted where an entry should be would otherwise wait for a writer forever; on regular files
//! it has no effect. What is opened is then checked to be a regular file.
//!
//! Writes never open an existing path: `tempfile` creates each new file with `O_CREAT | O_EXCL`
//! under a random name (a link already there is an error, and it tries another name), and
//! `rename(2)` puts it in place. A rename over a symbolic link replaces the link itself, never
//! the file it points to, so a write over a planted link is simply a write.

use std::cell::RefCell;
use std::fs::{File, Metadata, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// The flags added to every open (see the module docs).
const FLAGS: i32 = libc::O_NOFOLLOW | libc::O_NONBLOCK;

/// What is at a path opened for reading.
pub(crate) enum Opened {
    /// A regular file, and its metadata (from the open file, not the path).
    File(File, Metadata),
    /// Nothing.
    Missing,
    /// A symbolic link, a FIFO, a directory, a socket or a device: never an entry.
    NotAFile,
}

/// Opens `path` for reading without following a link or blocking on a FIFO.
pub(crate) fn open_for_read(path: &Path) -> io::Result<Opened> {
    match OpenOptions::new().read(true).custom_flags(FLAGS).open(path) {
        Ok(file) => {
            let meta = file.metadata()?;
            Ok(if meta.is_file() { Opened::File(file, meta) } else { Opened::NotAFile })
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Opened::Missing),
        // O_NOFOLLOW on a link fails with ELOOP on Linux and macOS, EMLINK on FreeBSD: ask the
        // path itself rather than match each system's error number.
        Err(_) if is_symlink(path) => Ok(Opened::NotAFile),
        Err(e) => Err(e),
    }
}

/// What is at an entry's path, read whole.
pub(crate) enum Content {
    /// The bytes of a regular file.
    Bytes(Vec<u8>),
    /// Nothing.
    Missing,
    /// Something that is not a regular file (see [`Opened::NotAFile`]).
    NotAFile,
}

/// The whole content of a regular file at `path`: one open, one fstat and reads to the end, as
/// `std::fs::read` does, but without following a link.
pub(crate) fn read(path: &Path) -> io::Result<Content> {
    match open_for_read(path)? {
        Opened::File(mut file, meta) => {
            let mut bytes = Vec::new();
            bytes.try_reserve_exact(usize::try_from(meta.len()).unwrap_or(0))?;
            file.read_to_end(&mut bytes)?;
            Ok(Content::Bytes(bytes))
        }
        Opened::Missing => Ok(Content::Missing),
        Opened::NotAFile => Ok(Content::NotAFile),
    }
}

/// The size of the per-thread buffer of [`read_quick`]: a file shorter than this is read with
/// one `read(2)`. Cached pages and values are mostly smaller; a thread that reads entries keeps
/// one such buffer for its life (the runtime's workers and its few blocking threads).
const QUICK_READ: usize = 32 * 1024;

thread_local! {
    static QUICK_BUFFER: RefCell<Box<[u8]>> = RefCell::new(vec![0; QUICK_READ].into_boxed_slice());
}

/// What [`read_quick`] found.
pub(crate) enum Quick<T> {
    /// A file shorter than the buffer: what the caller made of its bytes.
    Small(T),
    /// A longer regular file, read whole.
    Large(Vec<u8>),
    /// Nothing at the path.
    Missing,
    /// Something else (a link, a directory, a FIFO, an error): ask [`read`].
    Unsure,
}

/// The content of the file at `path` with the fewest system calls: `open`, one `read` into a
/// per-thread buffer, `close` — where [`read`] and `std::fs::read` make five (`open`, `fstat` for
/// the size, `read`, a second `read` to see the end, `close`). A read shorter than the buffer
/// is the whole file: entry files are never written in place (a write renames a new file over
/// the old one), so an open file does not grow. `small` sees the bytes of a short file in the
/// buffer, so a caller copies out only what it keeps. No `fstat` means no check that the path
/// is a regular file: a FIFO reads as empty, a directory fails — anything the caller does not
/// take for a valid entry it must read again through [`read`], which checks. A file that fills
/// the buffer is read to its end as [`read`] would, checked to be a regular file.
pub(crate) fn read_quick<T>(path: &Path, small: impl FnOnce(&[u8]) -> T) -> Quick<T> {
    let mut file = match OpenOptions::new().read(true).custom_flags(FLAGS).open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Quick::Missing,
        Err(_) => return Quick::Unsure,
    };
    QUICK_BUFFER.with_borrow_mut(|buffer| match file.read(buffer) {
        Ok(n) if n < buffer.len() => Quick::Small(small(&buffer[..n])),
        Ok(_) => read_rest(file, buffer).map_or(Quick::Unsure, Quick::Large),
        Err(_) => Quick::Unsure,
    })
}

/// The whole content of a regular file whose first bytes, `head`, were read already.
fn read_rest(mut file: File, head: &[u8]) -> Option<Vec<u8>> {
    let meta = file.metadata().ok().filter(Metadata::is_file)?;
    let mut bytes = Vec::new();
    bytes.try_reserve_exact(usize::try_from(meta.len()).unwrap_or(0).max(head.len())).ok()?;
    bytes.extend_from_slice(head);
    file.read_to_end(&mut bytes).ok()?;
    Some(bytes)
}

/// Opens (creating if missing, mode 0600) the state file for reading and writing, without
/// following a link.
pub(crate) fn open_state(path: &Path) -> io::Result<File> {
    OpenOptions::new().read(true).write(true).create(true).truncate(false).mode(0o600).custom_flags(FLAGS).open(path)
}

/// Opens a directory (to fsync it) without following a link.
pub(crate) fn open_dir(path: &Path) -> io::Result<File> {
    OpenOptions::new().read(true).custom_flags(FLAGS | libc::O_DIRECTORY).open(path)
}

/// Whether `path` itself is a symbolic link.
pub(crate) fn is_symlink(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
}

/// Whether a regular file (not a link, not anything else) is at `path`.
pub(crate) fn is_regular_file(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_file())
}
