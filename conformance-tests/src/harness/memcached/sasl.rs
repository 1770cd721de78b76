//! The SASL database of a memcached started with `-S`.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::harness::process::require_binary;

/// Writes `sasl/memcached.conf` and a sasldb holding one user (PLAIN mechanism).
pub(super) fn write_sasl_db(dir: &Path, user: &str, password: &str) {
    let saslpasswd2 = require_binary("saslpasswd2", "sasl2-bin");
    let sasl_dir = dir.join("sasl");
    std::fs::create_dir_all(&sasl_dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", sasl_dir.display()));
    let db = sasl_dir.join("sasldb2");
    std::fs::write(sasl_dir.join("memcached.conf"), format!("mech_list: plain\nsasldb_path: {}\n", db.display()))
        .unwrap_or_else(|e| panic!("cannot write the SASL config for memcached: {e}"));
    // -p reads the password from stdin without a prompt; -a memcached is the application name
    // memcached uses, so the entry lands in memcached's realm (this host's name).
    let mut child = Command::new(saslpasswd2)
        .args(["-p", "-a", "memcached", "-c", "-f"])
        .arg(&db)
        .arg(user)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run saslpasswd2: {e}"));
    child
        .stdin
        .take()
        .expect("saslpasswd2's stdin is piped")
        .write_all(password.as_bytes())
        .unwrap_or_else(|e| panic!("cannot give saslpasswd2 the password: {e}"));
    let output = child.wait_with_output().unwrap_or_else(|e| panic!("saslpasswd2 did not finish: {e}"));
    if !output.status.success() {
        panic!(
            "saslpasswd2 failed ({}): {}. The SASL PLAIN mechanism needs the package libsasl2-modules.",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
}
