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
