//! Certificates for a TLS redis-server, copied into its directory from the harness's shared test
//! certificates ([`TestCertificates`]): the CA, the server certificate for `localhost` and
//! 127.0.0.1, and the client certificate redis-cli presents (the servers require one). Shared, so
//! that the nodes of a cluster trust each other.

use std::path::Path;

use crate::harness::tls::TestCertificates;

/// `ca.crt`, `server.crt`/`server.key` and `client.crt`/`client.key` in `dir`.
pub(super) fn make_certificates(dir: &Path) {
    let certs = TestCertificates::shared();
    for (from, to) in [
        (certs.ca_file(), "ca.crt"),
        (certs.server_cert_file(), "server.crt"),
        (certs.server_key_file(), "server.key"),
        (certs.client_cert_file(), "client.crt"),
        (certs.client_key_file(), "client.key"),
    ] {
        std::fs::copy(&from, dir.join(to)).unwrap_or_else(|e| panic!("cannot copy {}: {e}", from.display()));
    }
}
