//! Flask-Caching under gunicorn, for the Flask ratio (`flask/app.py` says how it is set up).

use std::path::Path;

use crate::process::{Server, free_port};

/// gunicorn's sync workers: `gunicorn -w 2`, pinned with the Rust servers to the server core.
pub const WORKERS: &str = "2";

/// Starts `flask/app.py` under the venv's gunicorn with [`WORKERS`] workers on a free port.
pub fn start(venv: &Path, app_dir: &Path) -> Server {
    let gunicorn = venv.join("bin/gunicorn");
    assert!(gunicorn.exists(), "no {} : run ./run, which installs the venv", gunicorn.display());
    let port = free_port();
    let bind = format!("127.0.0.1:{port}");
    let args = ["-w", WORKERS, "-b", &bind, "--chdir", app_dir.to_str().unwrap(), "--log-level", "warning", "app:app"];
    Server::start(gunicorn.to_str().unwrap(), &args, Some(port))
}
