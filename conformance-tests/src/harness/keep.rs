//! Servers shared by every test of a process live in `static`s, which are never dropped: their
//! processes and temporary directories are cleaned up when the process exits, here.

use std::path::PathBuf;
use std::sync::{Mutex, Once, PoisonError};

/// A server process and its directory, to clean up at exit.
#[derive(Debug)]
pub(crate) struct Kept {
    /// The process id, if it runs.
    pub(crate) pid: Option<u32>,
    /// Its temporary directory.
    pub(crate) dir: PathBuf,
}

/// A server, or a topology of servers, that can be kept for the whole test process.
pub(crate) trait KeepForProcess: Sized {
    /// The processes and directories to clean up.
    fn kept(&self) -> Vec<Kept>;

    /// Has the servers killed and their directories removed when the process exits (a `static`
    /// is never dropped, so `Drop` cannot do it), and returns them for the `static`.
    fn keep_for_process(self) -> Self {
        clean_up_at_exit(self.kept());
        self
    }
}

static KEPT: Mutex<Vec<Kept>> = Mutex::new(Vec::new());

fn clean_up_at_exit(kept: Vec<Kept>) {
    static REGISTERED: Once = Once::new();
    REGISTERED.call_once(|| {
        // SAFETY: registers a plain `extern "C" fn` that only touches a static, its own children
        // and the file system.
        unsafe { libc::atexit(clean_up) };
    });
    KEPT.lock().unwrap_or_else(PoisonError::into_inner).extend(kept);
}

/// Kills the kept servers, then removes their directories (a running server could write into a
/// removed one). On Linux `PR_SET_PDEATHSIG` would kill them a moment later anyway; elsewhere this
/// is what stops them.
extern "C" fn clean_up() {
    let kept = KEPT.lock().unwrap_or_else(PoisonError::into_inner);
    for pid in kept.iter().filter_map(|k| k.pid) {
        let Ok(pid) = libc::pid_t::try_from(pid) else { continue };
        // SAFETY: `pid` is a child of this process that nothing reaped: a kept server sits in a
        // `static` that only lends it out shared, and reaping (`is_running`, `kill`) needs `&mut`.
        // An unreaped child's pid cannot be reused, so no other process is signalled.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
            libc::waitpid(pid, std::ptr::null_mut(), 0);
        }
    }
    for k in kept.iter() {
        let _ = std::fs::remove_dir_all(&k.dir);
    }
}
