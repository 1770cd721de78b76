//! Certificates for a TLS redis-server: a CA made for the server, and a certificate for
//! `localhost` and 127.0.0.1 signed by it, made with openssl.

use std::path::Path;
use std::process::Command;

use crate::harness::process::require_binary;

/// A CA and a server certificate for `localhost` / 127.0.0.1 signed by it, in `dir`.
pub(super) fn make_certificates(dir: &Path) {
    require_binary("openssl", "openssl");
    let run = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .unwrap_or_else(|e| panic!("cannot run openssl: {e}"));
        if !out.status.success() {
            panic!("openssl {} failed: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
        }
    };
    std::fs::write(dir.join("san.ext"), "subjectAltName=DNS:localhost,IP:127.0.0.1\n")
        .unwrap_or_else(|e| panic!("cannot write san.ext: {e}"));
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=cachette test CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
    ]);
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=localhost",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
    ]);
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "san.ext",
        "-out",
        "server.crt",
    ]);
}
